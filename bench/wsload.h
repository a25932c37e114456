/*
 * wsload.h - the WebSocket client side shared by the bench load generators,
 * bench/loadgen.c (relay_bench.sh) and bench/mixload.c (mixed_load.sh): the
 * "CODE TOKEN" files and address options, libuv connects and writes of owned
 * bytes, the upgrade request and its answer, masked client frames, server
 * frame headers, unparsed input kept between reads, histogram buckets.
 */
#ifndef TUTTI_WSLOAD_H
#define TUTTI_WSLOAD_H

#include <uv.h>

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#define WL_CODE_MAX   16
#define WL_TOKEN_MAX  64
#define WL_SRC_MAX    64	/* source addresses of -s */
#define WL_KEEP_MAX   (1 << 20)	/* unparsed input kept per connection */

/*
 * Histograms in µs, log-linear: exact below 1024 µs, then 512 sub-buckets
 * per power of two (0.2 % resolution) up to 2^41 µs.
 */
#define WL_HIST_LIN  1024
#define WL_HIST_SUB  512
#define WL_HIST_EXP  32
#define WL_HIST_N    (WL_HIST_LIN + WL_HIST_EXP * WL_HIST_SUB)

/* wl_upgrade_answer(): a refusal, and no head within 8 KiB. */
#define WL_ANSWER_BAD   (-1)
#define WL_ANSWER_LONG  (-2)

/* The lines of a rooms or listeners file, in file order. */
struct wl_lines {
	char (*code)[WL_CODE_MAX];
	char (*token)[WL_TOKEN_MAX];	/* "" where a line has no token */
	int n;
};

/* The unparsed bytes of a connection's last read. */
struct wl_keep {
	uint8_t *b;
	uint32_t n;
};

/* A server frame as wl_frame_next() found it. */
struct wl_frame {
	unsigned op;		/* WS_OP_* of common/ws.h */
	size_t head;		/* header bytes; the payload follows */
	uint64_t len;		/* payload bytes */
};

/* The bucket of v µs. */
unsigned wl_hist_index(uint64_t v);

/* The upper bound (µs) of the values in bucket idx (< WL_HIST_N). */
uint64_t wl_hist_value(unsigned idx);

/* CLOCK_MONOTONIC in seconds, for durations. */
double wl_mono(void);

/* Raises the soft RLIMIT_NOFILE to the hard one. Returns the hard limit,
 * or RLIM_INFINITY when it cannot be read. */
rlim_t wl_nofile_raise(void);

/*
 * Parses "ipv4:port" into *sa; host (hostsz bytes) and port get the two
 * parts when not NULL. Returns 0, or -1 on anything else (no colon, a host
 * of 64 bytes or more, a port outside 1..65535).
 */
int wl_parse_addr(const char *spec, struct sockaddr_in *sa, char *host, size_t hostsz,
    int *port);

/*
 * Appends the addresses of "a.b.c.d-e.f.g.h" (or one address) to src, which
 * holds *nsrc of WL_SRC_MAX. Returns 0, or -1 on a malformed or reversed
 * range or one that does not fit (src is then unchanged).
 */
int wl_parse_sources(const char *spec, struct sockaddr_in *src, int *nsrc);

/*
 * Reads "CODE TOKEN" lines of path into l (zeroed by the caller): lines
 * with fewer than `fields` words (1 or 2) are skipped, the first `first` of
 * the others too, then at most count (< 0: all) are kept.
 * Returns 0 (l->n may stay 0), or -1 with errno when path cannot be opened.
 * Aborts when out of memory. Free with wl_lines_free().
 */
int wl_lines_load(struct wl_lines *l, const char *path, long first, long count, int fields);

/* Frees what wl_lines_load() allocated; l is empty afterwards. */
void wl_lines_free(struct wl_lines *l);

/* Writes a copy of the n bytes at b to s (freed once written). Returns 0 or
 * a libuv error. */
int wl_write(uv_stream_t *s, const void *b, size_t n);

/* Writes a masked client frame of opcode op (FIN set, a fresh random mask)
 * around the n bytes at pl, cut to 125. Returns 0 or a libuv error. */
int wl_send_masked(uv_stream_t *s, unsigned op, const uint8_t *pl, size_t n);

/*
 * Connects tcp (initialised by the caller) to dst with TCP_NODELAY, bound
 * first to src when not NULL (its port chosen at connect, per source and
 * destination pair: IP_BIND_ADDRESS_NO_PORT); cb gets req. Returns 0, or a
 * libuv error with *step "bind" or "connect"; the caller closes tcp.
 */
int wl_connect(uv_tcp_t *tcp, uv_connect_t *req, const struct sockaddr_in *src,
    const struct sockaddr_in *dst, uv_connect_cb cb, const char **step);

/*
 * Writes to s the upgrade request of target (a path and query) for host,
 * with a fresh Sec-WebSocket-Key, and puts the Sec-WebSocket-Accept the
 * answer must carry into accept (WS_ACCEPT_LEN + 1 bytes). Returns 0, or -1
 * (no random bytes, a request over 1 KiB) or a libuv error.
 */
int wl_upgrade_send(uv_stream_t *s, const char *target, const char *host, char *accept);

/*
 * Reads the answer to an upgrade request at b (n bytes). Returns the
 * length of its head when it is "HTTP/1.1 101" with the Sec-WebSocket-Accept
 * accept; 0 when the head is not complete yet; WL_ANSWER_BAD (why gets
 * "upgrade refused: " and the status line, cut to 60 bytes, or "wrong or
 * missing Sec-WebSocket-Accept") or WL_ANSWER_LONG (no end of the head in
 * more than 8 KiB: why gets "an upgrade response over 8 KiB"). why should
 * hold 80 bytes.
 */
ssize_t wl_upgrade_answer(const uint8_t *b, size_t n, const char *accept, char *why,
    size_t whysz);

/*
 * Reads the server frame at b (n bytes). Returns 1 with *f filled when the
 * whole frame is there; 0 when more bytes are needed; -1, as soon as the
 * first two bytes show it, on a masked frame and, when whole_only, on a
 * fragment (FIN unset). Lengths are not checked against any limit.
 */
int wl_frame_next(const uint8_t *b, size_t n, int whole_only, struct wl_frame *f);

/* Points buf at rd (cap bytes) after a copy of the bytes k keeps: the
 * alloc callback of a connection whose reads all go to rd. */
void wl_keep_alloc(const struct wl_keep *k, uint8_t *rd, size_t cap, uv_buf_t *buf);

/* Keeps a copy of the n bytes at b (n may be 0) in place of what k kept.
 * Returns 0, or -1 when out of memory (k is then empty). */
int wl_keep_set(struct wl_keep *k, const uint8_t *b, size_t n);

/* Frees what k keeps; k is empty afterwards. */
void wl_keep_free(struct wl_keep *k);

#endif
