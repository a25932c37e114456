/*
 * conn.c - one client connection of tutti-relay, from accept to close:
 * the HTTP upgrade request and its checks (docs/protocol.md, "WebSocket"),
 * RFC 6455 frames in and out, pongs for time-sync probes, the shared-buffer
 * write path, and the deadlines (handshake, keepalive, linger).
 *
 * Reads: every read lands in the relay's one read buffer (one thread, and
 * libuv calls read_cb right after alloc_cb for the same stream); alloc_cb
 * first copies there what the connection left unconsumed, so the parsers see
 * contiguous bytes. Only an incomplete request head or frame is kept per
 * connection, in c->rbuf, which is freed when empty.
 *
 * Closing: conn_linger() queues the last bytes (a refusal or a close frame),
 * half-closes with uv_shutdown and waits for the peer's EOF, at most
 * RELAY_LINGER_MS; conn_abort() closes the handle now. Buffers are freed in
 * the close callback, so a conn closed inside a parser loop stays readable
 * until the loop returns.
 */
#include "relay.h"

#include "clock.h"
#include "http.h"
#include "log.h"
#include "msg.h"
#include "origin.h"
#include "query.h"
#include "text.h"
#include "token.h"
#include "ws.h"

#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A write of shared buffers to one socket: one, or the room events corked
 * for it during one loop iteration, written with one writev. */
#define WREQ_BUFS 16
struct wreq {
	uv_write_t req;		/* first: the callback casts back */
	struct wreq *next;	/* in the free pool */
	uint32_t n;
	struct outbuf *b[WREQ_BUFS];
};

#define WREQ_POOL_MAX 4096

static void conn_abort(struct conn *c);
static void conn_close_code(struct conn *c, unsigned code);

/* The idle handle only keeps the poll from blocking while writes are
 * corked, so the check phase (conn_flush_all) comes right after. */
static void
relay_kick_cb(uv_idle_t *h)
{
	(void)h;
}

static struct relay *
conn_relay(const struct conn *c)
{
	return c->u.h.loop->data;
}

/* ---- shared output buffers ---- */

struct outbuf *
outbuf_new(size_t len)
{
	struct outbuf *b = xmalloc(sizeof(*b) + len);

	b->refs = 1;
	b->len = (uint32_t)len;
	return b;
}

struct outbuf *
outbuf_frame(unsigned op, const void *payload, size_t len)
{
	uint8_t hdr[10];
	size_t h = ws_header_encode(hdr, WS_FIN | op, len);
	struct outbuf *b = outbuf_new(h + len);

	memcpy(b->data, hdr, h);
	if (len > 0)
		memcpy(b->data + h, payload, len);
	return b;
}

void
outbuf_unref(struct outbuf *b)
{
	if (b != NULL && --b->refs == 0)
		free(b);
}

/* ---- lists by state ---- */

static struct conn_list *
conn_list_of(struct relay *r, const struct conn *c)
{
	switch (c->state) {
	case C_HANDSHAKE:
	case C_AUTH:
	case C_SUBWAIT:
		return &r->pending;
	case C_OPEN:
		return &r->open;
	case C_CLOSING:
		return &r->closing;
	default:
		return NULL;
	}
}

static void
conn_list_push(struct conn_list *l, struct conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->n++;
}

static void
conn_list_remove(struct conn_list *l, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->next = c->prev = NULL;
	l->n--;
}

/* Moves c to the list of state s; t_state restarts when the list changes. */
static void
conn_set_state(struct relay *r, struct conn *c, enum conn_state s)
{
	struct conn_list *from = conn_list_of(r, c), *to;

	c->state = (uint8_t)s;
	to = conn_list_of(r, c);
	if (from == to)
		return;
	if (from != NULL)
		conn_list_remove(from, c);
	if (to != NULL) {
		conn_list_push(to, c);
		c->t_state = uv_now(r->loop);
	}
}

/* ---- writes ---- */

static struct wreq *
wreq_get(struct relay *r)
{
	struct wreq *w = r->wfree;

	if (w == NULL)
		return xmalloc(sizeof(*w));
	r->wfree = w->next;
	r->nwfree--;
	return w;
}

static void
wreq_put(struct relay *r, struct wreq *w)
{
	if (r->nwfree >= WREQ_POOL_MAX) {
		free(w);
		return;
	}
	w->next = r->wfree;
	r->wfree = w;
	r->nwfree++;
}

void
conn_pool_free(struct relay *r)
{
	struct wreq *w;

	while ((w = r->wfree) != NULL) {
		r->wfree = w->next;
		free(w);
	}
	r->nwfree = 0;
}

/* Ownership: w (from the pool) and its references on w->b[] were taken by
 * conn_write or conn_cork and are given back here. libuv calls back every write of a
 * handle, cancelled ones too, before the handle's close callback, so c is
 * still allocated. */
static void
conn_write_cb(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct conn *c = req->handle->data;
	uint32_t i;

	for (i = 0; i < w->n; i++)
		outbuf_unref(w->b[i]);
	wreq_put(conn_relay(c), w);
	if (status < 0 && status != UV_ECANCELED && c->state != C_CLOSED) {
		log_debug("write to %s: %s", c->from, uv_strerror(status));
		conn_abort(c);
	}
}

/* Queues b (one more reference) on c. Returns 0, or -1 after aborting c. */
static int
conn_write(struct conn *c, struct outbuf *b)
{
	struct relay *r = conn_relay(c);
	struct wreq *w = wreq_get(r);
	uv_buf_t ub = uv_buf_init((char *)b->data, b->len);
	int rc;

	w->b[0] = b;
	w->n = 1;
	b->refs++;
	if ((rc = uv_write(&w->req, &c->u.s, &ub, 1, conn_write_cb)) != 0) {
		log_debug("write to %s: %s", c->from, uv_strerror(rc));
		outbuf_unref(b);
		wreq_put(r, w);
		conn_abort(c);
		return -1;
	}
	return 0;
}

/* Drops what is corked on c (its references, and the request). */
static void
conn_cork_drop(struct conn *c)
{
	struct wreq *w = c->cork;
	uint32_t i;

	c->cork = NULL;
	for (i = 0; w != NULL && i < w->n; i++)
		outbuf_unref(w->b[i]);
	if (w != NULL)
		wreq_put(conn_relay(c), w);
}

/* Writes what is corked on c with one uv_write (one writev); a listener that
 * leaves more than RELAY_WQ_MAX bytes unsent (a slow reader, or a client that
 * sends pings but does not read) is closed with 1008. */
static void
conn_uncork(struct conn *c)
{
	struct relay *r = conn_relay(c);
	struct wreq *w = c->cork;
	uv_buf_t ub[WREQ_BUFS];
	uint32_t i;
	int rc;

	if (w == NULL)
		return;
	if (c->state != C_OPEN) {
		conn_cork_drop(c);
		return;
	}
	c->cork = NULL;
	for (i = 0; i < w->n; i++)
		ub[i] = uv_buf_init((char *)w->b[i]->data, w->b[i]->len);
	if ((rc = uv_write(&w->req, &c->u.s, ub, w->n, conn_write_cb)) != 0) {
		log_debug("write to %s: %s", c->from, uv_strerror(rc));
		for (i = 0; i < w->n; i++)
			outbuf_unref(w->b[i]);
		wreq_put(r, w);
		conn_abort(c);
		return;
	}
	if (uv_stream_get_write_queue_size(&c->u.s) > RELAY_WQ_MAX) {
		r->stats.slow_dropped++;
		log_info("dropping %s from room %s: more than %d bytes unsent", c->from,
		    c->code, RELAY_WQ_MAX);
		conn_close_code(c, WS_CLOSE_POLICY);
	}
}

void
conn_cork(struct conn *c, struct outbuf *b)
{
	struct relay *r = conn_relay(c);

	if (c->state != C_OPEN)
		return;
	if (c->cork == NULL) {
		c->cork = wreq_get(r);
		c->cork->n = 0;
		if (!c->corked) {	/* listed once, with a reference, until the flush */
			c->corked = 1;
			c->refs++;
			c->cnext = r->corked;
			if (r->corked == NULL)
				uv_idle_start(&r->kick, relay_kick_cb);
			r->corked = c;
		}
	}
	b->refs++;
	c->cork->b[c->cork->n++] = b;
	r->stats.frames_out++;
	r->stats.bytes_out += b->len;
	if (c->cork->n == WREQ_BUFS)
		conn_uncork(c);
}

void
conn_flush_all(struct relay *r)
{
	struct conn *c;

	while ((c = r->corked) != NULL) {
		r->corked = c->cnext;
		c->cnext = NULL;
		c->corked = 0;
		conn_uncork(c);
		conn_unref(c);
	}
	uv_idle_stop(&r->kick);
}

/* ---- closing ---- */

/* The handle is closed: libuv no longer refers to c. Frees the input
 * buffers and drops the handle's reference; Redis callbacks in flight may
 * still hold theirs. */
static void
conn_close_cb(uv_handle_t *h)
{
	struct conn *c = h->data;

	free(c->rbuf);
	free(c->msg);
	c->rbuf = c->msg = NULL;
	c->rlen = c->rcap = c->msg_len = 0;
	conn_unref(c);
}

void
conn_unref(struct conn *c)
{
	if (--c->refs == 0)
		free(c);
}

static void
conn_abort(struct conn *c)
{
	struct relay *r = conn_relay(c);

	if (c->state == C_CLOSED)
		return;
	if (c->room != NULL)
		room_leave(r, c);
	conn_set_state(r, c, C_CLOSED);
	uv_close(&c->u.h, conn_close_cb);
	if (r->stopping)
		relay_maybe_done(r);
}

/* Ownership: req was allocated by conn_linger and is freed here. Called
 * before the close callback, with UV_ECANCELED when the handle closed first. */
static void
conn_shutdown_cb(uv_shutdown_t *req, int status)
{
	struct conn *c = req->handle->data;

	free(req);
	if (status < 0 && status != UV_ECANCELED && c->state != C_CLOSED)
		conn_abort(c);
}

/* After the last bytes are queued: FIN once they are written, then wait for
 * the peer's EOF (read_cb) or the linger deadline (conn_tick). */
static void
conn_linger(struct conn *c)
{
	struct relay *r = conn_relay(c);
	uv_shutdown_t *req;

	if (c->room != NULL)
		room_leave(r, c);
	conn_set_state(r, c, C_CLOSING);
	req = xmalloc(sizeof(*req));
	if (uv_shutdown(req, &c->u.s, conn_shutdown_cb) != 0) {
		free(req);
		conn_abort(c);
	}
}

/* Sends the close frame b to a listener and starts closing. */
static void
conn_close_with(struct conn *c, struct outbuf *b)
{
	if (c->state != C_OPEN)
		return;
	conn_uncork(c);		/* the events before the close frame */
	if (c->state != C_OPEN)
		return;
	if (conn_write(c, b) == 0)
		conn_linger(c);
}

/* Closes a listener with code (0: a close frame without a status). */
static void
conn_close_code(struct conn *c, unsigned code)
{
	uint8_t pl[2] = { (uint8_t)(code >> 8), (uint8_t)code };
	struct outbuf *b = outbuf_frame(WS_OP_CLOSE, pl, code != 0 ? 2 : 0);

	conn_close_with(c, b);
	outbuf_unref(b);
}

void
conn_end(struct conn *c, unsigned code)
{
	log_debug("closing %s (room %s) with %u: the session ended", c->from, c->code, code);
	conn_close_code(c, code);
}

static void
conn_fail(struct conn *c, unsigned code, const char *why)
{
	log_debug("closing %s (room %s) with %u: %s", c->from, c->code, code, why);
	conn_close_code(c, code);
}

void
conn_refuse(struct conn *c, int status, const char *detail)
{
	const char *extra = status == 426 ? "Sec-WebSocket-Version: 13\r\n" :
	    status == 503 ? "Retry-After: 1\r\n" : NULL;
	struct outbuf *b;
	char buf[1024];
	int n;

	if (c->state != C_HANDSHAKE && c->state != C_AUTH && c->state != C_SUBWAIT)
		return;
	conn_relay(c)->stats.refused++;
	log_info("refused %d to %s%s%s: %s", status, c->from, c->code[0] ? " room " : "",
	    c->code, detail);
	if ((n = http_problem(buf, sizeof(buf), status, detail, extra)) < 0) {
		conn_abort(c);
		return;
	}
	b = outbuf_new((size_t)n);
	memcpy(b->data, buf, (size_t)n);
	if (conn_write(c, b) == 0)
		conn_linger(c);
	outbuf_unref(b);
}

/* ---- frames ---- */

/* Queues b on a listener; one that leaves more than RELAY_WQ_MAX bytes
 * unsent (a slow reader, or a client that sends pings but does not read) is
 * closed with 1008. */
void
conn_send(struct conn *c, struct outbuf *b)
{
	struct relay *r = conn_relay(c);

	if (c->state != C_OPEN || conn_write(c, b) != 0)
		return;
	r->stats.frames_out++;
	r->stats.bytes_out += b->len;
	if (uv_stream_get_write_queue_size(&c->u.s) > RELAY_WQ_MAX) {
		r->stats.slow_dropped++;
		log_info("dropping %s from room %s: more than %d bytes unsent", c->from,
		    c->code, RELAY_WQ_MAX);
		conn_close_code(c, WS_CLOSE_POLICY);
	}
}

static void
conn_message(struct conn *c, const uint8_t *s, size_t n, int64_t t1)
{
	struct msg_ping p;
	struct outbuf *b;
	char *pong;
	size_t len = 0;
	int k;

	if (text_utf8_len((const char *)s, n) < 0) {
		conn_fail(c, WS_CLOSE_BAD_DATA, "text is not UTF-8");
		return;
	}
	if ((k = msg_parse((const char *)s, n, &p)) < 0) {
		conn_fail(c, WS_CLOSE_POLICY, "message is not a JSON object");
		return;
	}
	if (k == 0)
		return;		/* no other client message needs an answer */
	if (p.rtt_us >= 0)
		room_rtt(conn_relay(c), c, p.rtt_us);
	pong = msg_pong(&p, t1, clock_now_us(), &len);
	msg_ping_clear(&p);
	if (pong == NULL)
		return;
	b = outbuf_frame(WS_OP_TEXT, pong, len);
	free(pong);
	conn_send(c, b);
	outbuf_unref(b);
}

/* A close frame from the client: echo its code, or answer 1002/1007. */
static void
conn_peer_close(struct conn *c, const uint8_t *pl, size_t n)
{
	unsigned code;

	if (n == 0) {
		conn_close_code(c, 0);
		return;
	}
	if (n == 1) {
		conn_fail(c, WS_CLOSE_PROTOCOL, "close frame of 1 byte");
		return;
	}
	code = (unsigned)pl[0] << 8 | pl[1];
	if (!ws_close_code_valid(code)) {
		conn_fail(c, WS_CLOSE_PROTOCOL, "invalid close code");
		return;
	}
	if (text_utf8_len((const char *)pl + 2, n - 2) < 0) {
		conn_fail(c, WS_CLOSE_BAD_DATA, "close reason is not UTF-8");
		return;
	}
	log_debug("%s (room %s) closed with %u", c->from, c->code, code);
	conn_close_code(c, code);
}

static void
conn_frame(struct conn *c, const struct ws_frame *f, uint8_t *pl, int64_t t1)
{
	size_t n = (size_t)f->len;
	struct outbuf *b;
	uint8_t *m;

	switch (f->opcode) {
	case WS_OP_TEXT:
		if (c->msg != NULL) {
			conn_fail(c, WS_CLOSE_PROTOCOL, "text frame inside a fragmented message");
			return;
		}
		if (f->fin) {
			conn_message(c, pl, n, t1);
			return;
		}
		c->msg = xmalloc(RELAY_MSG_MAX);
		memcpy(c->msg, pl, n);
		c->msg_len = (uint32_t)n;
		return;
	case WS_OP_CONT:
		if (c->msg == NULL) {
			conn_fail(c, WS_CLOSE_PROTOCOL, "continuation frame without a message");
			return;
		}
		if (n > RELAY_MSG_MAX - c->msg_len) {
			conn_fail(c, WS_CLOSE_TOO_BIG, "message longer than 4096 bytes");
			return;
		}
		memcpy(c->msg + c->msg_len, pl, n);
		c->msg_len += (uint32_t)n;
		if (!f->fin)
			return;
		m = c->msg;
		c->msg = NULL;
		conn_message(c, m, c->msg_len, t1);
		free(m);
		return;
	case WS_OP_BINARY:
		if (c->msg != NULL)	/* RFC 6455 5.4: no new message amid fragments */
			conn_fail(c, WS_CLOSE_PROTOCOL, "binary frame inside a fragmented message");
		else
			conn_fail(c, WS_CLOSE_UNSUPPORTED, "binary message");
		return;
	case WS_OP_CLOSE:
		conn_peer_close(c, pl, n);
		return;
	case WS_OP_PING:
		b = outbuf_frame(WS_OP_PONG, pl, n);
		conn_send(c, b);
		outbuf_unref(b);
		return;
	default:		/* WS_OP_PONG: its arrival is all that counts */
		return;
	}
}

/* Handles the complete frames at p (n bytes). Returns the bytes consumed; a
 * trailing incomplete frame is left. Stops when c is no longer open. */
static size_t
conn_frames(struct conn *c, uint8_t *p, size_t n, int64_t t1)
{
	struct ws_frame f;
	size_t off = 0;
	int h, code;

	while (off < n && c->state == C_OPEN) {
		h = ws_parse_header(p + off, n - off, WS_FROM_CLIENT, RELAY_MSG_MAX, &f, &code);
		if (h == -2)
			break;
		if (h < 0) {
			conn_fail(c, (unsigned)code, "invalid frame header");
			return n;
		}
		if (n - off - (size_t)h < f.len)
			break;
		ws_unmask(p + off + h, (size_t)f.len, f.mask);
		conn_frame(c, &f, p + off + h, t1);
		off += (size_t)h + (size_t)f.len;
	}
	return c->state == C_OPEN ? off : n;
}

/* Frames that arrived before the upgrade completed. */
static void
conn_drain(struct conn *c)
{
	size_t used;

	if (c->rlen == 0)
		return;
	used = conn_frames(c, c->rbuf, c->rlen, clock_now_us());
	if (c->state != C_OPEN)
		return;
	memmove(c->rbuf, c->rbuf + used, c->rlen - used);
	c->rlen -= (uint32_t)used;
}

/* ---- the upgrade request ---- */

/* Returns 1 when one of the fields named name lists tok. */
static int
conn_header_has(const struct http_request *req, const char *name, const char *tok)
{
	size_t i, len = strlen(name);

	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (h->name_len == len && strncasecmp(h->name, name, len) == 0 &&
		    http_token_list_has(h->value, h->value_len, tok))
			return 1;
	}
	return 0;
}

/* The client address for the log: the last X-Forwarded-For hop (added by
 * nginx, so trusted), else the peer address set at accept. */
static void
conn_from_xff(struct conn *c, const struct http_request *req)
{
	const struct http_header *h = http_header_find(req, "X-Forwarded-For", NULL);
	size_t i, start, o = 0;
	char tmp[sizeof(c->from)];

	if (h == NULL)
		return;
	for (start = h->value_len; start > 0 && h->value[start - 1] != ','; start--)
		;
	for (i = start; i < h->value_len && o + 1 < sizeof(tmp); i++) {
		char ch = h->value[i];

		if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		    (ch >= 'A' && ch <= 'F') || ch == '.' || ch == ':')
			tmp[o++] = ch;
	}
	if (o > 0) {
		tmp[o] = '\0';
		memcpy(c->from, tmp, o + 1);
	}
}

/* Checks that req is a WebSocket upgrade of /ws (docs/protocol.md: 400, 404,
 * 426) and stores its Sec-WebSocket-Accept. Returns 0 and the query string
 * in *q, *qlen; or -1 after refusing c. */
static int
conn_check_upgrade(struct conn *c, const struct http_request *req, const char **q, size_t *qlen)
{
	const struct http_header *key, *ver, *len, *host, *origin;
	const char *mark;
	size_t nhost, nkey, nver, norigin, plen;
	struct relay *r = conn_relay(c);

	mark = memchr(req->target, '?', req->target_len);
	plen = mark != NULL ? (size_t)(mark - req->target) : req->target_len;
	*q = mark != NULL ? mark + 1 : "";
	*qlen = mark != NULL ? req->target_len - plen - 1 : 0;
	host = http_header_find(req, "Host", &nhost);
	origin = http_header_find(req, "Origin", &norigin);
	len = http_header_find(req, "Content-Length", NULL);
	key = http_header_find(req, "Sec-WebSocket-Key", &nkey);
	ver = http_header_find(req, "Sec-WebSocket-Version", &nver);
	if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0)
		conn_refuse(c, 400, "the method must be GET");
	else if (req->minor < 1)
		conn_refuse(c, 400, "HTTP/1.1 is required");
	else if (plen != 3 || memcmp(req->target, "/ws", 3) != 0)
		conn_refuse(c, 404, "no such resource: the WebSocket is at /ws");
	else if (nhost != 1)
		conn_refuse(c, 400, "exactly one Host field is required");
	else if (http_header_find(req, "Transfer-Encoding", NULL) != NULL ||
	    (len != NULL && (len->value_len != 1 || len->value[0] != '0')))
		conn_refuse(c, 400, "the request may not have a body");
	else if (!conn_header_has(req, "Upgrade", "websocket"))
		conn_refuse(c, 400, "Upgrade: websocket is required");
	else if (!conn_header_has(req, "Connection", "upgrade"))
		conn_refuse(c, 400, "Connection: Upgrade is required");
	else if (nkey != 1 || !ws_key_valid(key->value, key->value_len))
		conn_refuse(c, 400, "Sec-WebSocket-Key is missing or invalid");
	else if (nver != 1 || ver->value_len != 2 || memcmp(ver->value, "13", 2) != 0)
		conn_refuse(c, 426, "only WebSocket version 13 is supported");
	else if (norigin > 1 || !origin_allowed(origin ? origin->value : NULL,
	    origin ? origin->value_len : 0, host->value, host->value_len,
	    (const char *const *)r->origins, r->norigins))
		conn_refuse(c, 403, "this page's origin may not connect (it is not the host "
		    "itself nor on the relay's -O list)");
	else if (ws_accept_key(key->value, key->value_len, c->accept) != 0)
		conn_refuse(c, 500, "cannot compute Sec-WebSocket-Accept");
	else
		return 0;
	return -1;
}

/* Checks the room and token parameters of the query q (qlen bytes): 400 when
 * missing, 404 for a code that cannot exist, 401 for a token that cannot.
 * Returns 0 with c->code set and the token's hash in hash (TOKEN_HASH_LEN +
 * 1 bytes); or -1 after refusing c. The token is wiped from the stack. */
static int
conn_check_params(struct conn *c, const char *q, size_t qlen, char *hash)
{
	char room[64], token[128];
	int rc, rt;

	rc = query_get(q, qlen, "room", room, sizeof(room));
	rt = query_get(q, qlen, "token", token, sizeof(token));
	if (rc < 0 || rt < 0) {
		explicit_bzero(token, sizeof(token));
		conn_refuse(c, 400, rc == -1 ? "the room parameter is missing" :
		    rc < 0 ? "the room parameter is malformed or repeated" :
		    rt == -1 ? "the token parameter is missing" :
		    "the token parameter is malformed or repeated");
		return -1;
	}
	if (!code_valid(room)) {
		explicit_bzero(token, sizeof(token));
		conn_refuse(c, 404, "no open room has this code");
		return -1;
	}
	memcpy(c->code, room, CODE_LEN + 1);
	rc = token_valid(token, (size_t)rt) ? token_hash(token, (size_t)rt, hash) : 1;
	explicit_bzero(token, sizeof(token));
	if (rc != 0) {
		conn_refuse(c, rc > 0 ? 401 : 500, rc > 0 ? "unknown token" : "cannot hash the token");
		return -1;
	}
	return 0;
}

/* Checks a complete request head, then starts the Redis lookup. */
static void
conn_request(struct conn *c, const struct http_request *req)
{
	char hash[TOKEN_HASH_LEN + 1];
	const char *q;
	size_t qlen;

	conn_from_xff(c, req);
	if (conn_check_upgrade(c, req, &q, &qlen) != 0 || conn_check_params(c, q, qlen, hash) != 0)
		return;
	conn_set_state(conn_relay(c), c, C_AUTH);
	if (rds_auth(conn_relay(c), c, hash) != 0)
		conn_refuse(c, 503, "Redis cannot be reached");
}

/* Reads the request head. Returns the bytes consumed. */
static size_t
conn_handshake(struct conn *c, uint8_t *data, size_t len)
{
	struct http_request req;
	int n, status;

	n = http_parse_request((const char *)data, len, &req, &status);
	if (n == -2)
		return 0;
	if (n < 0) {
		conn_refuse(c, status, status == 431 ? "the request head is too large" :
		    "malformed HTTP request");
		return len;
	}
	conn_request(c, &req);
	return (size_t)n;
}

void
conn_auth_done(struct conn *c, int status, const char *detail)
{
	int rc;

	if (c->state != C_AUTH)
		return;
	if (status != 0) {
		conn_refuse(c, status, detail);
		return;
	}
	conn_set_state(conn_relay(c), c, C_SUBWAIT);
	if ((rc = room_join(conn_relay(c), c)) < 0)
		conn_refuse(c, 503, "Redis cannot be reached");
	else if (rc > 0)
		conn_upgrade(c);
}

void
conn_upgrade(struct conn *c)
{
	struct relay *r = conn_relay(c);
	struct outbuf *b;
	char head[192], *hello;
	json_t *j;
	size_t hl, ml, fh;

	if (c->state != C_SUBWAIT)
		return;
	j = json_pack("{s:s, s:s, s:I}", "type", "hello", "relay", r->id,
	    "now_us", (json_int_t)clock_now_us());
	hello = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (hello == NULL) {
		conn_refuse(c, 500, "out of memory");
		return;
	}
	hl = (size_t)snprintf(head, sizeof(head),
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n"
	    "\r\n", c->accept);
	ml = strlen(hello);
	b = outbuf_new(hl + 10 + ml);	/* the 101 and the hello frame: one write */
	memcpy(b->data, head, hl);
	fh = ws_header_encode(b->data + hl, WS_FIN | WS_OP_TEXT, ml);
	memcpy(b->data + hl + fh, hello, ml);
	b->len = (uint32_t)(hl + fh + ml);
	free(hello);
	conn_set_state(r, c, C_OPEN);
	c->t_ping = uv_now(r->loop);
	if (c->user_id > 0) {
		c->present = 1;
		rds_presence(r, c->code, c->user_id, 1);
	}
	log_debug("%s joined room %s", c->from, c->code);
	if (conn_write(c, b) == 0) {
		room_send_snapshot(r, c);
		conn_drain(c);
	}
	outbuf_unref(b);
}

/* ---- reading ---- */

/* Lends the relay's read buffer, valid until conn_read_cb returns (libuv
 * calls it right after, for the same handle), with c's unconsumed bytes
 * copied in front. */
static void
conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct relay *r = h->loop->data;
	struct conn *c = h->data;

	(void)suggested;
	if (c->rlen > 0)
		memcpy(r->rdbuf, c->rbuf, c->rlen);
	buf->base = (char *)r->rdbuf + c->rlen;
	buf->len = sizeof(r->rdbuf) - c->rlen;
}

/* Keeps the n unconsumed bytes at p for the next read. */
static void
conn_keep(struct conn *c, const uint8_t *p, size_t n)
{
	if (n == 0) {
		free(c->rbuf);
		c->rbuf = NULL;
		c->rcap = 0;
	} else {
		if (c->rcap < n) {
			free(c->rbuf);
			c->rcap = n < 512 ? 512 : (uint32_t)n;
			c->rbuf = xmalloc(c->rcap);
		}
		memmove(c->rbuf, p, n);
	}
	c->rlen = (uint32_t)n;
}

/* buf lies in r->rdbuf, after the c->rlen bytes conn_alloc_cb copied there:
 * all of it is consumed or copied to c->rbuf before returning. The time of
 * the read is t1_us of the pongs it causes. */
static void
conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	struct relay *r = conn_relay(c);
	int64_t t1 = clock_now_us();
	uint8_t *data = r->rdbuf;
	size_t len, used = 0;

	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (nread != UV_EOF)
			log_debug("read from %s: %s", c->from, uv_strerror((int)nread));
		conn_abort(c);
		return;
	}
	c->t_rx = uv_now(r->loop);
	len = c->rlen + (size_t)nread;	/* alloc_cb put c->rbuf before the new bytes */
	c->rlen = 0;
	if (c->state == C_CLOSING || c->state == C_CLOSED)
		return;
	if (c->state == C_HANDSHAKE)
		used = conn_handshake(c, data, len);
	if (c->state == C_OPEN)
		used += conn_frames(c, data + used, len - used, t1);
	if (c->state == C_CLOSING || c->state == C_CLOSED)
		return;
	if (len - used > RELAY_RBUF_MAX) {
		log_debug("%s sent too much before its upgrade", c->from);
		conn_abort(c);
		return;
	}
	conn_keep(c, data + used, len - used);
}

static void
conn_peer(struct relay *r, struct conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	strcpy(c->from, r->lsn_unix ? "unix" : "?");
	if (r->lsn_unix || uv_tcp_getpeername(&c->u.tcp, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET)
		uv_ip4_name((struct sockaddr_in *)&ss, c->from, sizeof(c->from));
	else if (ss.ss_family == AF_INET6)
		uv_ip6_name((struct sockaddr_in6 *)&ss, c->from, sizeof(c->from));
}

/* The listener's callback: a new conn with one reference, its handle's. */
void
conn_on_accept(uv_stream_t *server, int status)
{
	struct relay *r = server->loop->data;
	struct conn *c;

	if (status < 0) {
		log_warn("accept: %s", uv_strerror(status));
		return;
	}
	c = xcalloc(1, sizeof(*c));
	if (r->lsn_unix)
		uv_pipe_init(r->loop, &c->u.pipe, 0);
	else
		uv_tcp_init(r->loop, &c->u.tcp);
	c->u.h.data = c;
	c->refs = 1;
	c->room_exists = -1;
	c->state = C_CLOSED;		/* in no list yet */
	if (uv_accept(server, &c->u.s) != 0) {
		uv_close(&c->u.h, conn_close_cb);
		return;
	}
	if (!r->lsn_unix)
		uv_tcp_nodelay(&c->u.tcp, 1);
	conn_peer(r, c);
	r->stats.accepted++;
	c->t_rx = uv_now(r->loop);
	conn_set_state(r, c, C_HANDSHAKE);
	if (uv_read_start(&c->u.s, conn_alloc_cb, conn_read_cb) != 0)
		conn_abort(c);
}

/* ---- timers and shutdown ---- */

void
conn_presence_all(struct relay *r)
{
	struct conn *c;

	for (c = r->open.head; c != NULL; c = c->next)
		if (c->present)
			rds_presence(r, c->code, c->user_id, 1);
}

void
conn_tick(struct relay *r)
{
	uint64_t now = uv_now(r->loop);
	struct conn *c;

	while ((c = r->pending.head) != NULL && now - c->t_state >= RELAY_HANDSHAKE_MS) {
		log_debug("%s: no upgrade within %d ms", c->from, RELAY_HANDSHAKE_MS);
		conn_abort(c);
	}
	while ((c = r->closing.head) != NULL && now - c->t_state >= RELAY_LINGER_MS)
		conn_abort(c);
}

void
conn_keepalive(struct relay *r)
{
	uint64_t now = uv_now(r->loop);
	struct conn *c, *next;

	for (c = r->open.head; c != NULL; c = next) {
		next = c->next;
		if (now - c->t_rx >= RELAY_IDLE_MS) {
			log_debug("%s (room %s): nothing received for %d ms", c->from, c->code,
			    RELAY_IDLE_MS);
			conn_abort(c);
		} else if (now - c->t_rx >= RELAY_PING_MS && now - c->t_ping >= RELAY_PING_MS) {
			c->t_ping = now;
			conn_send(c, r->ping_frame);
		}
	}
}

void
conn_stop_all(struct relay *r)
{
	struct conn *c;

	while ((c = r->pending.head) != NULL)
		conn_abort(c);
	while ((c = r->open.head) != NULL)
		conn_close_with(c, r->bye_frame);
}

void
conn_abort_all(struct relay *r)
{
	struct conn *c;

	while ((c = r->pending.head) != NULL)
		conn_abort(c);
	while ((c = r->open.head) != NULL)
		conn_abort(c);
	while ((c = r->closing.head) != NULL)
		conn_abort(c);
}
