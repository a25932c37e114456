/*
 * lwsp.c - the pure half of the CLI's WebSocket client: URL, upgrade
 * request and answer (RFC 6455, 4.1), and the frame reader over
 * common/ws.c's header parser. wsclient.c does the I/O around it.
 */
#include "lwsp.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "text.h"
#include "ws.h"

int
wsp_parse_url(const char *base, char host[WSP_HOST_MAX], char port[8])
{
	const char *p, *h, *he, *e;
	size_t hl;
	long v;
	char *end;

	if (strncmp(base, "http://", 7) == 0)
		p = base + 7;
	else if (strncmp(base, "ws://", 5) == 0)
		p = base + 5;
	else
		return -1;
	e = p + strlen(p);
	if (e > p && e[-1] == '/')
		e--;
	if (memchr(p, '/', (size_t)(e - p)) != NULL || memchr(p, '@', (size_t)(e - p)) != NULL)
		return -1;
	if (*p == '[') {
		h = p + 1;
		he = memchr(h, ']', (size_t)(e - h));
		if (he == NULL)
			return -1;
		p = he + 1;
	} else {
		h = p;
		he = memchr(h, ':', (size_t)(e - h));
		if (he == NULL)
			he = e;
		p = he;
	}
	hl = (size_t)(he - h);
	if (hl == 0 || hl >= WSP_HOST_MAX)
		return -1;
	for (size_t i = 0; i < hl; i++)
		if ((unsigned char)h[i] <= ' ' || h[i] == 0x7f)
			return -1;
	if (p == e) {
		strcpy(port, "80");
	} else {
		if (*p != ':' || p + 1 == e || e - (p + 1) > 5)
			return -1;
		for (const char *q = p + 1; q < e; q++)
			if (*q < '0' || *q > '9')
				return -1;
		v = strtol(p + 1, &end, 10);
		if (v < 1 || v > 65535)
			return -1;
		snprintf(port, 8, "%ld", v);
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	return 0;
}

int
wsp_make_key(char *key)
{
	unsigned char raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	return EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw)) == WS_KEY_LEN ? 0 : -1;
}

char *
wsp_request(const char *host, const char *port, const char *path, const char *key)
{
	const char *fmt = "GET %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
	    "User-Agent: tutti\r\n\r\n";
	int v6 = strchr(host, ':') != NULL, n;
	const char *colon = strcmp(port, "80") == 0 ? "" : ":";
	const char *pt = *colon ? port : "";
	char *out;

	if (path[0] != '/')
		return NULL;
	for (const char *q = path; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return NULL;
	n = snprintf(NULL, 0, fmt, path, v6 ? "[" : "", host, v6 ? "]" : "", colon, pt, key);
	if (n < 0 || (out = malloc((size_t)n + 1)) == NULL)
		return NULL;
	snprintf(out, (size_t)n + 1, fmt, path, v6 ? "[" : "", host, v6 ? "]" : "", colon, pt, key);
	return out;
}

/* Returns 1 when the comma-separated header value v (n bytes) holds token
 * tok (case-insensitive), else 0. */
static int
wsp_has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0, s, e;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
			return 1;
	}
	return 0;
}

long
wsp_response(const char *buf, size_t n, const char *key, int *status)
{
	char want[WS_ACCEPT_LEN + 1];
	const char *end = NULL, *line, *eol, *colon, *v, *ve;
	int up = 0, conn = 0, acc = 0;
	size_t i;

	*status = 0;
	for (i = 3; i < n && i < WSP_RESP_MAX; i++)
		if (buf[i - 3] == '\r' && buf[i - 2] == '\n' && buf[i - 1] == '\r' && buf[i] == '\n') {
			end = buf + i + 1;
			break;
		}
	/* the status line alone is enough to report a refusal's status */
	if (n >= 12 && memcmp(buf, "HTTP/1.1 ", 9) == 0 &&
	    buf[9] >= '1' && buf[9] <= '5' && buf[10] >= '0' && buf[10] <= '9' &&
	    buf[11] >= '0' && buf[11] <= '9')
		*status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (end == NULL)
		return n >= WSP_RESP_MAX ? -1 : 0;
	if (*status != 101 || ws_accept_key(key, strlen(key), want) != 0)
		return -1;
	line = (const char *)memchr(buf, '\n', (size_t)(end - buf)) + 1;
	while (line < end - 2) {
		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL || eol == line || eol[-1] != '\r')
			return -1;
		colon = memchr(line, ':', (size_t)(eol - line));
		if (colon == NULL)
			return -1;
		v = colon + 1;
		ve = eol - 1;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
#define WSP_IS(name) ((size_t)(colon - line) == sizeof(name) - 1 && \
	    strncasecmp(line, name, sizeof(name) - 1) == 0)
		if (WSP_IS("Upgrade"))
			up += ve - v == 9 && strncasecmp(v, "websocket", 9) == 0;
		else if (WSP_IS("Connection"))
			conn += wsp_has_token(v, (size_t)(ve - v), "upgrade");
		else if (WSP_IS("Sec-WebSocket-Accept"))
			acc += ve - v == WS_ACCEPT_LEN && memcmp(v, want, WS_ACCEPT_LEN) == 0 ? 1 : 100;
		else if (WSP_IS("Sec-WebSocket-Extensions") || WSP_IS("Sec-WebSocket-Protocol"))
			return -1;	/* none was asked for */
#undef WSP_IS
		line = eol + 1;
	}
	if (up < 1 || conn < 1 || acc != 1)
		return -1;
	return (long)(end - buf);
}

void
wsp_rx_init(struct wsp_rx *rx, uint64_t max)
{
	memset(rx, 0, sizeof(*rx));
	rx->max = max;
}

void
wsp_rx_free(struct wsp_rx *rx)
{
	free(rx->in);
	free(rx->msg);
	memset(rx, 0, sizeof(*rx));
}

int
wsp_rx_push(struct wsp_rx *rx, const void *p, size_t n)
{
	size_t need, cap;
	uint8_t *nb;

	if (rx->off > 0) {
		memmove(rx->in, rx->in + rx->off, rx->len - rx->off);
		rx->len -= rx->off;
		rx->off = 0;
	}
	need = rx->len + n;
	if (need > rx->cap) {
		for (cap = rx->cap ? rx->cap : 4096; cap < need; cap *= 2)
			;
		if ((nb = realloc(rx->in, cap)) == NULL)
			return -1;
		rx->in = nb;
		rx->cap = cap;
	}
	if (n > 0)
		memcpy(rx->in + rx->len, p, n);
	rx->len += n;
	return 0;
}

static enum wsp_ev
wsp_fail(struct wsp_rx *rx, struct wsp_event *ev, int code)
{
	rx->failed = code;
	ev->type = WSP_ERROR;
	ev->code = code;
	ev->data = "";
	ev->len = 0;
	return WSP_ERROR;
}

/* Appends a data frame's payload to the message; 0, or -1 on OOM. */
static int
wsp_msg_add(struct wsp_rx *rx, const uint8_t *p, size_t n)
{
	size_t need = rx->msg_len + n + 1, cap;
	char *nb;

	if (need > rx->msg_cap) {
		for (cap = rx->msg_cap ? rx->msg_cap : 1024; cap < need; cap *= 2)
			;
		if ((nb = realloc(rx->msg, cap)) == NULL)
			return -1;
		rx->msg = nb;
		rx->msg_cap = cap;
	}
	memcpy(rx->msg + rx->msg_len, p, n);
	rx->msg_len += n;
	rx->msg[rx->msg_len] = '\0';
	return 0;
}

/* A control frame's event; its payload p (n bytes) stays in the buffer. */
static enum wsp_ev
wsp_control(struct wsp_rx *rx, struct wsp_event *ev, unsigned op, const uint8_t *p, size_t n)
{
	unsigned code;

	ev->data = (const char *)p;
	ev->len = n;
	ev->code = 0;
	if (op == WS_OP_PING)
		return ev->type = WSP_PING;
	if (op == WS_OP_PONG)
		return ev->type = WSP_PONG;
	if (n == 0) {
		ev->code = 1005;
		ev->data = "";
		return ev->type = WSP_CLOSE;
	}
	if (n == 1)
		return wsp_fail(rx, ev, WS_CLOSE_PROTOCOL);
	code = (unsigned)p[0] << 8 | p[1];
	if (!ws_close_code_valid(code))
		return wsp_fail(rx, ev, WS_CLOSE_PROTOCOL);
	if (text_utf8_len((const char *)p + 2, n - 2) < 0)
		return wsp_fail(rx, ev, WS_CLOSE_BAD_DATA);
	ev->code = (int)code;
	ev->data = (const char *)p + 2;
	ev->len = n - 2;
	return ev->type = WSP_CLOSE;
}

enum wsp_ev
wsp_rx_next(struct wsp_rx *rx, struct wsp_event *ev)
{
	struct ws_frame f;
	const uint8_t *p;
	size_t avail, total;
	int hl, code;

	for (;;) {
		if (rx->failed)
			return wsp_fail(rx, ev, rx->failed);
		ev->type = WSP_NONE;
		p = rx->in + rx->off;
		avail = rx->len - rx->off;
		hl = ws_parse_header(p, avail, WS_FROM_SERVER, rx->max, &f, &code);
		if (hl == -2)
			return WSP_NONE;
		if (hl < 0)
			return wsp_fail(rx, ev, code);
		if (f.len > avail - (size_t)hl)
			return WSP_NONE;
		total = (size_t)hl + (size_t)f.len;
		rx->off += total;
		if (f.opcode & 0x08)
			return wsp_control(rx, ev, f.opcode, p + hl, (size_t)f.len);
		if (f.opcode == WS_OP_BINARY)
			return wsp_fail(rx, ev, WS_CLOSE_UNSUPPORTED);
		if ((f.opcode == WS_OP_CONT) != (rx->msg_op != 0))
			return wsp_fail(rx, ev, WS_CLOSE_PROTOCOL);
		if (f.opcode == WS_OP_TEXT) {
			rx->msg_op = WS_OP_TEXT;
			rx->msg_len = 0;
		}
		if (f.len > rx->max - rx->msg_len)
			return wsp_fail(rx, ev, WS_CLOSE_TOO_BIG);
		if (wsp_msg_add(rx, p + hl, (size_t)f.len) != 0)
			return wsp_fail(rx, ev, WS_CLOSE_TOO_BIG);
		if (!f.fin)
			continue;
		rx->msg_op = 0;
		if (text_utf8_len(rx->msg, rx->msg_len) < 0)
			return wsp_fail(rx, ev, WS_CLOSE_BAD_DATA);
		ev->data = rx->msg;
		ev->len = rx->msg_len;
		ev->code = 0;
		return ev->type = WSP_TEXT;
	}
}

size_t
wsp_frame(uint8_t *out, unsigned fin_op, const void *payload, size_t n)
{
	uint8_t mask[4];
	size_t h;

	if (RAND_bytes(mask, sizeof(mask)) != 1)
		return 0;
	h = ws_header_encode_masked(out, fin_op, n, mask);
	if (n > 0)
		memcpy(out + h, payload, n);
	ws_unmask(out + h, n, mask);
	return h + n;
}
