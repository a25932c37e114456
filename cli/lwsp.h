/*
 * lwsp.h - the pure half of the CLI's WebSocket client (wsclient.c): the
 * base URL, the upgrade request and its answer, and a reader that turns the
 * server's bytes into whole messages and control frames. No I/O, so every
 * part is unit-tested byte by byte (tests/unit/test_cli_ws.c).
 */
#ifndef TUTTI_LWSP_H
#define TUTTI_LWSP_H

#include <stddef.h>
#include <stdint.h>

#define WSP_HOST_MAX 256
#define WSP_RESP_MAX 8192	/* the upgrade answer's status line and headers */

/*
 * Splits base ("http://host[:port]" or "ws://...", an optional trailing
 * "/", IPv6 literals in brackets) into host (without brackets) and port
 * (decimal; "80" when absent). Returns 0, or -1 for another scheme, a path,
 * userinfo, an empty or too long host, or a port outside 1..65535.
 */
int wsp_parse_url(const char *base, char host[WSP_HOST_MAX], char port[8]);

/* Fills key (WS_KEY_LEN + 1 bytes) with a fresh random Sec-WebSocket-Key
 * (base64 of 16 bytes from RAND_bytes). Returns 0, or -1 when the random
 * generator fails. */
int wsp_make_key(char *key);

/* Returns the upgrade request for path on host:port with key, malloc'd and
 * NUL-terminated (the caller frees), or NULL on OOM or when path does not
 * start with '/' or holds a control character or space. */
char *wsp_request(const char *host, const char *port, const char *path, const char *key);

/*
 * Checks the server's answer to the upgrade in buf (n bytes so far).
 * Returns 0 when the header block is not complete yet; -1 when it is
 * refused or malformed (not 101, a missing or wrong Upgrade, Connection or
 * Sec-WebSocket-Accept), or when WSP_RESP_MAX bytes hold no complete block;
 * else the length of the header block (the bytes after it are frames).
 * *status gets the HTTP status when the status line was read (else 0).
 */
long wsp_response(const char *buf, size_t n, const char *key, int *status);

enum wsp_ev {
	WSP_NONE,	/* more bytes are needed */
	WSP_TEXT,	/* a whole text message: data, len (NUL-terminated) */
	WSP_PING,	/* data, len: the payload to echo in a pong */
	WSP_PONG,
	WSP_CLOSE,	/* code (1005: none given), data, len: the reason */
	WSP_ERROR,	/* the server broke the protocol: close with code */
};

struct wsp_event {
	enum wsp_ev type;
	const char *data;	/* valid until the next wsp_rx_* call */
	size_t len;
	int code;
};

/* The reader: buffered input and the message being reassembled. */
struct wsp_rx {
	uint8_t *in;		/* received bytes; [off, len) not consumed yet */
	size_t off, len, cap;
	char *msg;		/* fragments so far of the current message */
	size_t msg_len, msg_cap;
	int msg_op;		/* 0: no fragmented message in progress */
	uint64_t max;		/* largest message accepted */
	int failed;		/* an error was returned: nothing more is read */
};

/* Starts a reader accepting messages of at most max bytes. */
void wsp_rx_init(struct wsp_rx *rx, uint64_t max);

/* Frees the reader's buffers (the struct itself is the caller's). */
void wsp_rx_free(struct wsp_rx *rx);

/* Appends n received bytes. Returns 0, or -1 on OOM. */
int wsp_rx_push(struct wsp_rx *rx, const void *p, size_t n);

/*
 * Takes the next event out of the bytes pushed so far and returns its type
 * (also in ev->type). WSP_NONE: wait for more bytes. WSP_ERROR: code is
 * 1002 (protocol), 1003 (a binary message: the protocol has none), 1007
 * (text or a close reason that is not UTF-8) or 1009 (too big); every later
 * call returns WSP_ERROR again. Binary messages are errors; pings, pongs
 * and closes may arrive between the fragments of a message.
 */
enum wsp_ev wsp_rx_next(struct wsp_rx *rx, struct wsp_event *ev);

/* Writes a whole masked frame (header, then payload masked with a fresh
 * random key) of first byte fin_op into out, which holds at least
 * WS_MAX_HEADER + n bytes. Returns the frame's length, or 0 when the random
 * generator fails. */
size_t wsp_frame(uint8_t *out, unsigned fin_op, const void *payload, size_t n);

#endif
