/*
 * wsclient.c - the CLI's WebSocket client on libuv (wsclient.h): resolve,
 * connect (each address in turn), upgrade, then frames both ways. The pure
 * parts (URL, handshake, frame reader) are in lwsp.c. One teardown path:
 * wsc_finish() closes the handles, and the last close callback reports
 * on_close and frees.
 */
#include "wsclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "lwsp.h"
#include "ws.h"

#define WSC_CONNECT_MS 10000	/* resolve + connect + upgrade */
#define WSC_CLOSE_MS   2000	/* our close frame to the end of the TCP connection */
#define WSC_IDLE_US    (75 * 1000000LL)	/* nothing read for this long: lost (the relay pings at 20 s) */
#define WSC_TICK_MS    5000

enum wsc_state { WSC_RESOLVING, WSC_CONNECTING, WSC_HANDSHAKE, WSC_OPEN, WSC_CLOSING };

struct wsc {
	uv_loop_t *loop;
	struct wsc_hooks h;
	void *arg;
	enum wsc_state state;
	char host[WSP_HOST_MAX], port[8];
	char key[WS_KEY_LEN + 1];
	char *path;
	uv_getaddrinfo_t gai;
	struct addrinfo *ai, *ai_next;	/* resolved addresses; the next to try */
	uv_connect_t conn;
	uv_tcp_t tcp;
	uv_timer_t timer;
	int resolving;		/* the getaddrinfo request is out */
	int tcp_open;		/* tcp is initialized (and must be closed) */
	int handles;		/* handles whose close callback is due */
	int finishing;
	int sent_close;
	int code;		/* for on_close */
	char reason[128];
	char *hs;		/* the upgrade answer so far */
	size_t hs_len;
	struct wsp_rx rx;
	int64_t last_rx_us;	/* monotonic: the last byte read */
};

struct wsc_write {
	uv_write_t req;
	size_t n;
	uint8_t data[];
};

static void wsc_try_connect(struct wsc *w);
static void wsc_next_address(struct wsc *w, int err);

static void
wsc_set_reason(struct wsc *w, int code, const char *reason)
{
	w->code = code;
	if (reason != w->reason)
		snprintf(w->reason, sizeof(w->reason), "%.127s", reason);
}

static void
wsc_free(struct wsc *w)
{
	if (w->ai != NULL)
		uv_freeaddrinfo(w->ai);
	wsp_rx_free(&w->rx);
	free(w->hs);
	free(w->path);
	free(w);
}

/* Reports on_close and frees once no handle and no request is left. */
static void
wsc_maybe_done(struct wsc *w)
{
	if (w->handles > 0 || w->resolving)
		return;
	if (w->h.on_close != NULL)
		w->h.on_close(w, w->code, w->reason, w->arg);
	wsc_free(w);
}

static void
wsc_handle_closed(uv_handle_t *hd)
{
	struct wsc *w = hd->data;

	w->handles--;
	wsc_maybe_done(w);
}

/* Ends the connection now with code and reason for on_close (the first
 * call's count: later ones only make sure the teardown runs). */
static void
wsc_finish(struct wsc *w, int code, const char *reason)
{
	if (w->finishing)
		return;
	w->finishing = 1;
	w->state = WSC_CLOSING;
	wsc_set_reason(w, code, reason);
	if (w->resolving)
		uv_cancel((uv_req_t *)&w->gai);
	uv_close((uv_handle_t *)&w->timer, wsc_handle_closed);
	if (w->tcp_open) {
		w->handles++;
		uv_close((uv_handle_t *)&w->tcp, wsc_handle_closed);
		w->tcp_open = 0;
	}
}

static void
wsc_write_done(uv_write_t *req, int status)
{
	struct wsc_write *wr = (struct wsc_write *)req;
	struct wsc *w = req->data;

	free(wr);
	if (status < 0 && status != UV_ECANCELED && !w->finishing)
		wsc_finish(w, 1006, uv_strerror(status));
}

/* Queues n bytes (copied into wr by the caller) on the socket. */
static int
wsc_write(struct wsc *w, struct wsc_write *wr)
{
	uv_buf_t b = uv_buf_init((char *)wr->data, (unsigned)wr->n);
	int rc;

	wr->req.data = w;
	if ((rc = uv_write(&wr->req, (uv_stream_t *)&w->tcp, &b, 1, wsc_write_done)) != 0) {
		free(wr);
		wsc_finish(w, 1006, uv_strerror(rc));
		return -1;
	}
	return 0;
}

/* Sends one masked frame. Returns 0 or -1. */
static int
wsc_send_frame(struct wsc *w, unsigned fin_op, const void *p, size_t n)
{
	struct wsc_write *wr;

	if (!w->tcp_open || w->finishing)
		return -1;
	if ((wr = malloc(sizeof(*wr) + WS_MAX_HEADER + n)) == NULL)
		return -1;
	if ((wr->n = wsp_frame(wr->data, fin_op, p, n)) == 0) {
		free(wr);
		return -1;
	}
	return wsc_write(w, wr);
}

static void
wsc_send_close(struct wsc *w, int code)
{
	uint8_t p[2] = { (uint8_t)(code >> 8), (uint8_t)code };

	if (w->sent_close)
		return;
	w->sent_close = 1;
	(void)wsc_send_frame(w, WS_FIN | WS_OP_CLOSE, p, code == 1005 ? 0 : 2);
}

static void
wsc_timer_cb(uv_timer_t *t)
{
	struct wsc *w = t->data;

	switch (w->state) {
	case WSC_OPEN:
		if (clock_mono_us() - w->last_rx_us > WSC_IDLE_US)
			wsc_finish(w, 1006, "no data from the server");
		break;
	case WSC_CLOSING:
		wsc_finish(w, w->code, w->reason);
		break;
	default:
		wsc_finish(w, 1006, "connection timed out");
		break;
	}
}

/* Handles the frames read so far; stops as soon as the connection ends. */
static void
wsc_frames(struct wsc *w)
{
	struct wsp_event ev;
	char why[64];

	while (!w->finishing) {
		switch (wsp_rx_next(&w->rx, &ev)) {
		case WSP_NONE:
			return;
		case WSP_TEXT:
			if (w->state == WSC_OPEN && w->h.on_text != NULL)
				w->h.on_text(w, ev.data, ev.len, w->arg);
			break;
		case WSP_PING:
			if (!w->sent_close)
				(void)wsc_send_frame(w, WS_FIN | WS_OP_PONG, ev.data, ev.len);
			break;
		case WSP_PONG:
			break;
		case WSP_CLOSE:
			/* echo it (unless we started), then wait for the server to
			 * drop the connection, as RFC 6455 7.1.1 wants */
			if (!w->sent_close)
				wsc_send_close(w, ev.code);
			snprintf(why, sizeof(why), "%.*s", (int)(ev.len < 60 ? ev.len : 60), ev.data);
			wsc_set_reason(w, ev.code, why);
			w->state = WSC_CLOSING;
			uv_timer_start(&w->timer, wsc_timer_cb, WSC_CLOSE_MS, 0);
			return;
		case WSP_ERROR:
			snprintf(why, sizeof(why), "bad frame from the server (%d)", ev.code);
			log_warn("%s:%s: %s", w->host, w->port, why);
			wsc_send_close(w, ev.code);
			wsc_set_reason(w, 1006, why);
			w->state = WSC_CLOSING;
			uv_timer_start(&w->timer, wsc_timer_cb, WSC_CLOSE_MS, 0);
			return;
		}
	}
}

/* The upgrade answer: collects it, checks it, then opens. */
static void
wsc_handshake(struct wsc *w, const char *p, size_t n)
{
	char why[64];
	size_t take = n, room;
	long hl;
	int status;
	char *nb;

	room = WSP_RESP_MAX - w->hs_len;
	if (take > room)
		take = room;
	if ((nb = realloc(w->hs, w->hs_len + take + 1)) == NULL) {
		wsc_finish(w, 1006, "out of memory");
		return;
	}
	w->hs = nb;
	memcpy(w->hs + w->hs_len, p, take);
	w->hs_len += take;
	w->hs[w->hs_len] = '\0';
	hl = wsp_response(w->hs, w->hs_len, w->key, &status);
	if (hl == 0)
		return;
	if (hl < 0) {
		if (status != 0 && status != 101)
			snprintf(why, sizeof(why), "upgrade refused: HTTP %d", status);
		else
			snprintf(why, sizeof(why), "bad upgrade answer");
		wsc_finish(w, 1006, why);
		return;
	}
	/* what follows the header block is already frames */
	if (wsp_rx_push(&w->rx, w->hs + hl, w->hs_len - (size_t)hl) != 0 ||
	    wsp_rx_push(&w->rx, p + take, n - take) != 0) {
		wsc_finish(w, 1006, "out of memory");
		return;
	}
	free(w->hs);
	w->hs = NULL;
	w->state = WSC_OPEN;
	uv_timer_start(&w->timer, wsc_timer_cb, WSC_TICK_MS, WSC_TICK_MS);
	if (w->h.on_open != NULL)
		w->h.on_open(w, w->arg);
	wsc_frames(w);
}

static void
wsc_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *b)
{
	(void)hd;
	b->base = malloc(suggested);
	b->len = b->base != NULL ? suggested : 0;
}

static void
wsc_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct wsc *w = s->data;

	if (n < 0) {
		free(b->base);
		if (w->state == WSC_CLOSING && w->sent_close)
			wsc_finish(w, w->code, w->reason);
		else
			wsc_finish(w, 1006, n == UV_EOF ? "connection closed by the server" :
			    uv_strerror((int)n));
		return;
	}
	if (n > 0 && !w->finishing) {
		w->last_rx_us = clock_mono_us();
		if (w->state == WSC_HANDSHAKE)
			wsc_handshake(w, b->base, (size_t)n);
		else if (wsp_rx_push(&w->rx, b->base, (size_t)n) != 0)
			wsc_finish(w, 1006, "out of memory");
		else
			wsc_frames(w);
	}
	free(b->base);
}

static void
wsc_connected(uv_connect_t *req, int status)
{
	struct wsc *w = req->data;
	struct wsc_write *wr;
	char *rq;
	size_t n;
	int rc;

	if (status == UV_ECANCELED || w->finishing)
		return;
	if (status < 0) {
		wsc_next_address(w, status);
		return;
	}
	uv_tcp_nodelay(&w->tcp, 1);
	if ((rq = wsp_request(w->host, w->port, w->path, w->key)) == NULL) {
		wsc_finish(w, 1006, "bad path");
		return;
	}
	n = strlen(rq);
	if ((wr = malloc(sizeof(*wr) + n)) == NULL) {
		free(rq);
		wsc_finish(w, 1006, "out of memory");
		return;
	}
	memcpy(wr->data, rq, n);
	wr->n = n;
	free(rq);
	if (wsc_write(w, wr) != 0)
		return;
	w->state = WSC_HANDSHAKE;
	w->last_rx_us = clock_mono_us();
	if ((rc = uv_read_start((uv_stream_t *)&w->tcp, wsc_alloc, wsc_read)) != 0)
		wsc_finish(w, 1006, uv_strerror(rc));
}

static void
wsc_try_connect(struct wsc *w)
{
	struct addrinfo *a = w->ai_next;
	int rc;

	w->ai_next = a->ai_next;
	if ((rc = uv_tcp_init(w->loop, &w->tcp)) != 0) {
		wsc_finish(w, 1006, uv_strerror(rc));
		return;
	}
	w->tcp.data = w;
	w->tcp_open = 1;
	w->conn.data = w;
	w->state = WSC_CONNECTING;
	if ((rc = uv_tcp_connect(&w->conn, &w->tcp, a->ai_addr, wsc_connected)) != 0)
		wsc_next_address(w, rc);
}

/* The socket is closed after a failed attempt: the next address, if any. */
static void
wsc_retry_closed(uv_handle_t *hd)
{
	struct wsc *w = hd->data;

	w->handles--;
	if (w->finishing) {
		wsc_maybe_done(w);
		return;
	}
	if (w->ai_next != NULL)
		wsc_try_connect(w);
	else
		wsc_finish(w, 1006, w->reason);
}

/* An attempt failed with err: closes its socket, then tries the next
 * address (uv_tcp_t cannot be reused before its close callback). */
static void
wsc_next_address(struct wsc *w, int err)
{
	char why[160];

	snprintf(why, sizeof(why), "%.64s port %s: %.64s", w->host, w->port, uv_strerror(err));
	wsc_set_reason(w, 1006, why);
	w->tcp_open = 0;
	w->handles++;
	uv_close((uv_handle_t *)&w->tcp, wsc_retry_closed);
}

static void
wsc_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct wsc *w = req->data;
	char why[160];

	w->resolving = 0;
	w->ai = res;
	w->ai_next = res;
	if (w->finishing) {
		wsc_maybe_done(w);
		return;
	}
	if (status < 0 || res == NULL) {
		snprintf(why, sizeof(why), "%.64s: %.64s", w->host, uv_strerror(status));
		wsc_finish(w, 1006, why);
		return;
	}
	wsc_try_connect(w);
}

struct wsc *
wsc_open(uv_loop_t *loop, const char *base_url, const char *path_and_query,
    const struct wsc_hooks *h, void *arg)
{
	struct addrinfo hints;
	struct wsc *w;
	char *probe;
	int rc;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if (wsp_parse_url(base_url, w->host, w->port) != 0 || wsp_make_key(w->key) != 0 ||
	    (w->path = strdup(path_and_query)) == NULL)
		goto fail;
	if ((probe = wsp_request(w->host, w->port, w->path, w->key)) == NULL)
		goto fail;
	free(probe);
	w->loop = loop;
	w->h = *h;
	w->arg = arg;
	wsp_rx_init(&w->rx, WSC_MSG_MAX);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	w->gai.data = w;
	if ((rc = uv_getaddrinfo(loop, &w->gai, wsc_resolved, w->host, w->port, &hints)) != 0)
		goto fail;
	w->resolving = 1;
	uv_timer_init(loop, &w->timer);
	w->timer.data = w;
	w->handles = 1;		/* the timer */
	w->tcp.data = w;
	uv_timer_start(&w->timer, wsc_timer_cb, WSC_CONNECT_MS, 0);
	return w;
fail:
	wsp_rx_free(&w->rx);
	free(w->path);
	free(w);
	return NULL;
}

int
wsc_send_text(struct wsc *w, const char *s, size_t n)
{
	if (w->state != WSC_OPEN || w->finishing)
		return -1;
	return wsc_send_frame(w, WS_FIN | WS_OP_TEXT, s, n);
}

void
wsc_close(struct wsc *w, int code)
{
	if (w->finishing)
		return;
	if (w->state != WSC_OPEN) {
		if (w->state != WSC_CLOSING)
			wsc_finish(w, 1006, "closed before it opened");
		return;
	}
	wsc_send_close(w, code);
	wsc_set_reason(w, code, "");
	w->state = WSC_CLOSING;
	uv_timer_start(&w->timer, wsc_timer_cb, WSC_CLOSE_MS, 0);
}
