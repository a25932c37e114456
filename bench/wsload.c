/*
 * wsload.c - the WebSocket client side shared by the bench load generators
 * (bench/loadgen.c, bench/mixload.c; not part of make): options and files,
 * libuv connects and writes, the upgrade, client frames out and server
 * frame headers in. Framing and the accept key come from common/ws.c.
 */
#include "wsload.h"
#include "ws.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* ---- numbers and options ---- */

unsigned
wl_hist_index(uint64_t v)
{
	unsigned msb, shift, idx;

	if (v < WL_HIST_LIN)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - 9;
	idx = WL_HIST_LIN + (shift - 1) * WL_HIST_SUB + (unsigned)(v >> shift) - WL_HIST_SUB;
	return idx < WL_HIST_N ? idx : WL_HIST_N - 1;
}

uint64_t
wl_hist_value(unsigned idx)
{
	unsigned shift, sub;

	if (idx < WL_HIST_LIN)
		return idx;
	shift = (idx - WL_HIST_LIN) / WL_HIST_SUB + 1;
	sub = (idx - WL_HIST_LIN) % WL_HIST_SUB + WL_HIST_SUB;
	return (((uint64_t)sub + 1) << shift) - 1;
}

double
wl_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

rlim_t
wl_nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return RLIM_INFINITY;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_max;
}

int
wl_parse_addr(const char *spec, struct sockaddr_in *sa, char *host, size_t hostsz, int *port)
{
	const char *colon = strrchr(spec, ':');
	char h[64], *end;
	long p;

	if (colon == NULL || (size_t)(colon - spec) >= sizeof(h))
		return -1;
	memcpy(h, spec, (size_t)(colon - spec));
	h[colon - spec] = '\0';
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535 || uv_ip4_addr(h, (int)p, sa) != 0)
		return -1;
	if (host != NULL)
		snprintf(host, hostsz, "%s", h);
	if (port != NULL)
		*port = (int)p;
	return 0;
}

int
wl_parse_sources(const char *spec, struct sockaddr_in *src, int *nsrc)
{
	char a[32], b[32];
	struct in_addr x, y;
	uint32_t i, lo, hi;

	if (sscanf(spec, "%31[0-9.]-%31[0-9.]", a, b) != 2) {
		snprintf(a, sizeof(a), "%s", spec);
		snprintf(b, sizeof(b), "%s", spec);
	}
	if (inet_pton(AF_INET, a, &x) != 1 || inet_pton(AF_INET, b, &y) != 1)
		return -1;
	lo = ntohl(x.s_addr);
	hi = ntohl(y.s_addr);
	if (hi < lo || hi - lo >= (uint32_t)(WL_SRC_MAX - *nsrc))
		return -1;
	for (i = lo; i <= hi; i++) {
		struct sockaddr_in *s = &src[(*nsrc)++];

		memset(s, 0, sizeof(*s));
		s->sin_family = AF_INET;
		s->sin_addr.s_addr = htonl(i);
	}
	return 0;
}

int
wl_lines_load(struct wl_lines *l, const char *path, long first, long count, int fields)
{
	char line[256], code[WL_CODE_MAX], tok[WL_TOKEN_MAX];
	FILE *f = fopen(path, "r");
	long ln = 0;
	int cap = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL && (count < 0 || l->n < count)) {
		tok[0] = '\0';
		if (sscanf(line, "%15s %63s", code, tok) < fields || ln++ < first)
			continue;
		if (l->n == cap) {
			cap = cap ? cap * 2 : 1024;
			l->code = realloc(l->code, (size_t)cap * sizeof(*l->code));
			l->token = realloc(l->token, (size_t)cap * sizeof(*l->token));
			if (l->code == NULL || l->token == NULL)
				abort();
		}
		memcpy(l->code[l->n], code, sizeof(code));
		memcpy(l->token[l->n], tok, sizeof(tok));
		l->n++;
	}
	fclose(f);
	return 0;
}

void
wl_lines_free(struct wl_lines *l)
{
	free(l->code);
	free(l->token);
	memset(l, 0, sizeof(*l));
}

/* ---- libuv: writes of owned bytes, connects ---- */

struct wl_wreq {
	uv_write_t req;
	char data[];
};

static void
wl_write_cb(uv_write_t *req, int status)
{
	(void)status;
	free(req);
}

int
wl_write(uv_stream_t *s, const void *b, size_t n)
{
	struct wl_wreq *w;
	uv_buf_t buf;
	int rc;

	if ((w = malloc(sizeof(*w) + n)) == NULL)
		return UV_ENOMEM;
	memcpy(w->data, b, n);
	buf = uv_buf_init(w->data, (unsigned)n);
	if ((rc = uv_write(&w->req, s, &buf, 1, wl_write_cb)) != 0)
		free(w);
	return rc;
}

int
wl_connect(uv_tcp_t *tcp, uv_connect_t *req, const struct sockaddr_in *src,
    const struct sockaddr_in *dst, uv_connect_cb cb, const char **step)
{
	uv_os_fd_t fd;
	int one = 1, rc;

	uv_tcp_nodelay(tcp, 1);
	if (src != NULL) {
		if (uv_fileno((uv_handle_t *)tcp, &fd) == 0)
			setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		*step = "bind";
		if ((rc = uv_tcp_bind(tcp, (const struct sockaddr *)src, 0)) != 0)
			return rc;
	}
	*step = "connect";
	return uv_tcp_connect(req, tcp, (const struct sockaddr *)dst, cb);
}

/* ---- the WebSocket client ---- */

int
wl_send_masked(uv_stream_t *s, unsigned op, const uint8_t *pl, size_t n)
{
	uint8_t f[WS_MAX_HEADER + WS_MAX_CONTROL], mask[4];
	size_t h;

	if (n > WS_MAX_CONTROL)
		n = WS_MAX_CONTROL;
	if (RAND_bytes(mask, sizeof(mask)) != 1)
		memset(mask, 0x5a, sizeof(mask));
	h = ws_header_encode_masked(f, WS_FIN | op, n, mask);
	memcpy(f + h, pl, n);
	ws_unmask(f + h, n, mask);
	return wl_write(s, f, h + n);
}

int
wl_upgrade_send(uv_stream_t *s, const char *target, const char *host, char *accept)
{
	unsigned char raw[16];
	char key[WS_KEY_LEN + 1], req[1024];
	int n;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
	if (ws_accept_key(key, WS_KEY_LEN, accept) != 0)
		return -1;
	n = snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "\r\n", target, host, key);
	if (n < 0 || (size_t)n >= sizeof(req))
		return -1;
	return wl_write(s, req, (size_t)n);
}

ssize_t
wl_upgrade_answer(const uint8_t *b, size_t n, const char *accept, char *why, size_t whysz)
{
	const uint8_t *end = memmem(b, n, "\r\n\r\n", 4);
	const char *acc;
	size_t hl, sl;

	if (end == NULL) {
		if (n <= 8192)
			return 0;
		snprintf(why, whysz, "an upgrade response over 8 KiB");
		return WL_ANSWER_LONG;
	}
	hl = (size_t)(end - b) + 4;
	if (hl < 12 || memcmp(b, "HTTP/1.1 101", 12) != 0) {
		for (sl = 0; sl < 60 && b[sl] != '\r' && b[sl] != '\n'; sl++)
			;
		snprintf(why, whysz, "upgrade refused: %.*s", (int)sl, (const char *)b);
		return WL_ANSWER_BAD;
	}
	acc = memmem(b, hl, "Sec-WebSocket-Accept: ", 22);
	if (acc == NULL)
		acc = memmem(b, hl, "sec-websocket-accept: ", 22);
	/* A value cut by the end of the head is wrong too: it holds a CR. */
	if (acc == NULL || (const uint8_t *)acc + 22 + WS_ACCEPT_LEN > b + hl ||
	    memcmp(acc + 22, accept, WS_ACCEPT_LEN) != 0) {
		snprintf(why, whysz, "wrong or missing Sec-WebSocket-Accept");
		return WL_ANSWER_BAD;
	}
	return (ssize_t)hl;
}

int
wl_frame_next(const uint8_t *b, size_t n, int whole_only, struct wl_frame *f)
{
	uint64_t len;
	size_t h = 2;

	if (n < 2)
		return 0;
	if ((b[1] & 0x80) || (whole_only && !(b[0] & WS_FIN)))
		return -1;
	len = b[1] & 0x7f;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (uint64_t)b[2] << 8 | b[3];
		h = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		for (len = 0; h < 10; h++)
			len = len << 8 | b[h];
	}
	if (n - h < len)
		return 0;
	f->op = b[0] & 0x0f;
	f->head = h;
	f->len = len;
	return 1;
}

/* ---- unparsed input ---- */

void
wl_keep_alloc(const struct wl_keep *k, uint8_t *rd, size_t cap, uv_buf_t *buf)
{
	if (k->n > 0)
		memcpy(rd, k->b, k->n);
	buf->base = (char *)rd + k->n;
	buf->len = cap - k->n;
}

int
wl_keep_set(struct wl_keep *k, const uint8_t *b, size_t n)
{
	wl_keep_free(k);
	if (n == 0)
		return 0;
	if ((k->b = malloc(n)) == NULL)
		return -1;
	memcpy(k->b, b, n);
	k->n = (uint32_t)n;
	return 0;
}

void
wl_keep_free(struct wl_keep *k)
{
	free(k->b);
	k->b = NULL;
	k->n = 0;
}
