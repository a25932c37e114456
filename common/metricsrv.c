/*
 * metricsrv.c - the /metrics listener of tutti-relay and tutti-worker (see
 * metricsrv.h). A connection is read into a fixed buffer until http.c's
 * parser has a whole head, answered with one uv_write (the head of the
 * response and the body the caller rendered), shut down for writing, and
 * closed at the client's EOF: what it still sends is read and dropped, so
 * the answer is not lost to a reset. A one-second tick closes connections
 * older than METRICSRV_IDLE_MS whatever their state.
 */
#include "metricsrv.h"

#include "http.h"
#include "log.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICSRV_BACKLOG 64
#define METRICSRV_TICK_MS 1000
#define METRICSRV_STR_(x) #x
#define METRICSRV_STR(x) METRICSRV_STR_(x)

struct metricsrv_out {
	char *buf;
	size_t len, cap;
	int failed;
};

enum msconn_state {
	MS_READ,	/* reading the request head */
	MS_WRITE,	/* the answer is being written; input is dropped */
	MS_LINGER,	/* answered and shut down; waiting for EOF */
	MS_CLOSED	/* uv_close called; freed by its callback */
};

/* One scrape connection; owned by its metricsrv until uv_close, then by
 * the close callback, which frees it. */
struct msconn {
	uv_tcp_t tcp;			/* tcp.data: this conn */
	uv_write_t wr;
	uv_shutdown_t sd;
	struct metricsrv *ms;
	struct msconn *next, *prev;	/* in ms->conns */
	uint64_t t_start;		/* uv_now() at accept */
	enum msconn_state state;
	int eof;			/* the client shut down its side while MS_WRITE */
	size_t len;			/* bytes of the head in buf */
	struct metricsrv_out body;
	char head[512];			/* status line and fields, or a whole refusal */
	char buf[METRICSRV_HEAD_MAX];
};

int
metricsrv_printf(struct metricsrv_out *out, const char *fmt, ...)
{
	va_list ap;
	size_t cap;
	char *p;
	int n;

	if (out->failed)
		return -1;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(out->buf != NULL ? out->buf + out->len : NULL,
		    out->cap - out->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			break;
		if ((size_t)n < out->cap - out->len) {
			out->len += (size_t)n;
			return 0;
		}
		for (cap = out->cap ? out->cap : 4096; cap - out->len <= (size_t)n; cap *= 2)
			;
		if ((p = realloc(out->buf, cap)) == NULL)
			break;
		out->buf = p;
		out->cap = cap;
	}
	out->failed = 1;
	return -1;
}

/* libuv close callback of a connection: frees it. */
static void
msconn_on_close(uv_handle_t *h)
{
	struct msconn *c = h->data;

	free(c->body.buf);
	free(c);
}

/* Unlinks c and closes it (once). */
static void
msconn_close(struct msconn *c)
{
	struct metricsrv *ms = c->ms;

	if (c->state == MS_CLOSED)
		return;
	c->state = MS_CLOSED;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ms->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ms->nconns--;
	uv_close((uv_handle_t *)&c->tcp, msconn_on_close);
}

/* libuv shutdown callback: the answer is out; EOF (or the tick) closes. */
static void
msconn_on_shutdown(uv_shutdown_t *sd, int status)
{
	struct msconn *c = sd->data;

	if (status < 0)
		msconn_close(c);
}

/* libuv write callback of the answer (UV_ECANCELED after uv_close). */
static void
msconn_on_written(uv_write_t *wr, int status)
{
	struct msconn *c = wr->data;

	if (c->state == MS_CLOSED)
		return;
	if (status < 0 || c->eof) {
		msconn_close(c);	/* the answer is in the kernel: FIN follows it */
		return;
	}
	c->state = MS_LINGER;
	c->sd.data = c;
	if (uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp, msconn_on_shutdown) != 0)
		msconn_close(c);
}

/* Writes nhead bytes of c->head and, when with_body, the rendered body. */
static void
msconn_send(struct msconn *c, size_t nhead, int with_body)
{
	uv_buf_t b[2];
	unsigned n = 1;

	b[0] = uv_buf_init(c->head, (unsigned)nhead);
	if (with_body && c->body.len > 0)
		b[n++] = uv_buf_init(c->body.buf, (unsigned)c->body.len);
	c->state = MS_WRITE;
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, b, n, msconn_on_written) != 0)
		msconn_close(c);
}

/* Answers with a problem+json refusal (extra: header lines, or NULL). */
static void
msconn_refuse(struct msconn *c, int status, const char *detail, const char *extra)
{
	int n = http_problem(c->head, sizeof(c->head), status, detail, extra);

	if (n < 0) {
		msconn_close(c);
		return;
	}
	msconn_send(c, (size_t)n, 0);
}

/* Returns 1 when target (n bytes) names path, with or without a query. */
static int
msconn_path_is(const char *target, size_t n, const char *path)
{
	size_t pl = strlen(path), i;

	for (i = 0; i < n && target[i] != '?'; i++)
		;
	return i == pl && memcmp(target, path, pl) == 0;
}

/* The head is complete: answers it. */
static void
msconn_answer(struct msconn *c, const struct http_request *req)
{
	const struct metricsrv_hooks *hk = &c->ms->hooks;
	char detail[128];
	int get, head, n;

	get = req->method_len == 3 && memcmp(req->method, "GET", 3) == 0;
	head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
	if (!msconn_path_is(req->target, req->target_len, hk->path)) {
		snprintf(detail, sizeof(detail), "this port serves only GET %s", hk->path);
		msconn_refuse(c, 404, detail, NULL);
		return;
	}
	if (!get && !head) {
		snprintf(detail, sizeof(detail), "%s answers GET and HEAD only", hk->path);
		msconn_refuse(c, 405, detail, "Allow: GET, HEAD\r\n");
		return;
	}
	if (hk->render(&c->body, hk->arg) != 0 || c->body.failed) {
		log_err("%s: the response could not be produced", hk->path);
		msconn_refuse(c, 500, "the metrics could not be produced", NULL);
		return;
	}
	n = snprintf(c->head, sizeof(c->head), "HTTP/1.1 200 OK\r\nContent-Type: "
	    METRICSRV_CONTENT_TYPE "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	    c->body.len);
	msconn_send(c, (size_t)n, get);
}

/* libuv alloc callback: the rest of the head buffer while reading the
 * request, the whole buffer (dropped) after it. */
static void
msconn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct msconn *c = h->data;

	(void)suggested;
	if (c->state == MS_READ)
		*buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
	else
		*buf = uv_buf_init(c->buf, (unsigned)sizeof(c->buf));
}

/* libuv read callback (buf is c->buf). */
static void
msconn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct msconn *c = s->data;
	struct http_request req;
	int rc, status;

	(void)buf;
	if (c->state == MS_CLOSED)
		return;
	if (nread == UV_EOF && c->state == MS_WRITE) {
		c->eof = 1;		/* closed once the answer is written */
		uv_read_stop(s);
		return;
	}
	if (nread < 0) {
		msconn_close(c);
		return;
	}
	if (c->state != MS_READ || nread == 0)
		return;
	c->len += (size_t)nread;
	rc = http_parse_request(c->buf, c->len, &req, &status);
	if (rc > 0)
		msconn_answer(c, &req);
	else if (rc == -2 && c->len < sizeof(c->buf))
		return;
	else if (rc == -2 || status == 431)
		msconn_refuse(c, 431, "the request head is longer than "
		    METRICSRV_STR(METRICSRV_HEAD_MAX) " bytes or has too many fields", NULL);
	else
		msconn_refuse(c, 400, "malformed request head", NULL);
}

/* libuv listen callback; server->data is the metricsrv. At the limit the
 * oldest connection goes, so idle ones cannot lock a scraper out. */
static void
metricsrv_on_accept(uv_stream_t *server, int status)
{
	struct metricsrv *ms = server->data;
	struct msconn *c;

	if (status < 0)
		return;
	if (ms->nconns >= METRICSRV_CONNS_MAX) {
		for (c = ms->conns; c->next != NULL; c = c->next)
			;
		msconn_close(c);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_err("out of memory for a metrics connection");
		return;
	}
	c->ms = ms;
	c->t_start = uv_now(server->loop);
	uv_tcp_init(server->loop, &c->tcp);
	c->tcp.data = c;
	c->next = ms->conns;
	if (ms->conns != NULL)
		ms->conns->prev = c;
	ms->conns = c;
	ms->nconns++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, msconn_alloc, msconn_on_read) != 0)
		msconn_close(c);
}

/* libuv timer callback, every second; t->data is the metricsrv. */
static void
metricsrv_on_tick(uv_timer_t *t)
{
	struct metricsrv *ms = t->data;
	struct msconn *c, *next;
	uint64_t now = uv_now(t->loop);

	for (c = ms->conns; c != NULL; c = next) {
		next = c->next;
		if (now - c->t_start >= METRICSRV_IDLE_MS)
			msconn_close(c);
	}
}

/* Parses spec into *sa (see metricsrv_spec_check). Returns 0 or -1 with
 * the reason in why. */
static int
metricsrv_parse(const char *spec, struct sockaddr_storage *sa, char *why, size_t why_size)
{
	const char *colon = strrchr(spec, ':'), *h = spec;
	char host[INET6_ADDRSTRLEN + 32], *end;
	size_t hl;
	long port;

	if (colon == NULL || colon == spec || colon[1] == '\0') {
		snprintf(why, why_size, "use host:port, e.g. 127.0.0.1:9100");
		return -1;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] < '0' || colon[1] > '9' || port < 1 || port > 65535) {
		snprintf(why, why_size, "the port must be a number from 1 to 65535");
		return -1;
	}
	hl = (size_t)(colon - spec);
	if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
		h++;
		hl -= 2;
	} else if (memchr(spec, ':', hl) != NULL) {
		snprintf(why, why_size, "write an IPv6 address in brackets, e.g. [::1]:9100");
		return -1;
	}
	if (hl == 0 || hl >= sizeof(host)) {
		snprintf(why, why_size, "use host:port, e.g. 127.0.0.1:9100");
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (h == spec ? uv_ip4_addr(host, (int)port, (struct sockaddr_in *)sa) != 0 :
	    uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)sa) != 0) {
		snprintf(why, why_size, "%s is not a numeric %s address", host,
		    h == spec ? "IPv4" : "IPv6");
		return -1;
	}
	return 0;
}

int
metricsrv_spec_check(const char *spec, char *why, size_t why_size)
{
	struct sockaddr_storage sa;
	char dummy[1];

	if (why == NULL || why_size == 0) {
		why = dummy;
		why_size = sizeof(dummy);
	}
	return metricsrv_parse(spec, &sa, why, why_size);
}

int
metricsrv_listen(struct metricsrv *ms, uv_loop_t *loop, const char *spec,
    const struct metricsrv_hooks *hooks)
{
	struct sockaddr_storage sa;
	char why[128];
	int rc;

	if (metricsrv_parse(spec, &sa, why, sizeof(why)) != 0) {
		log_err("metrics address %s: %s", spec, why);
		return -2;
	}
	ms->hooks = *hooks;
	ms->conns = NULL;
	ms->nconns = 0;
	uv_tcp_init(loop, &ms->tcp);
	uv_timer_init(loop, &ms->tick);
	ms->tcp.data = ms;
	ms->tick.data = ms;
	ms->on = 1;
	if ((rc = uv_tcp_bind(&ms->tcp, (const struct sockaddr *)&sa, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&ms->tcp, METRICSRV_BACKLOG,
	    metricsrv_on_accept)) != 0) {
		log_err("metrics on %s: %s", spec, uv_strerror(rc));
		return -1;
	}
	uv_timer_start(&ms->tick, metricsrv_on_tick, METRICSRV_TICK_MS, METRICSRV_TICK_MS);
	uv_unref((uv_handle_t *)&ms->tick);	/* the listener keeps the loop alive */
	log_info("metrics on http://%s%s", spec, hooks->path);
	return 0;
}

void
metricsrv_close(struct metricsrv *ms)
{
	if (!ms->on)
		return;
	while (ms->conns != NULL)
		msconn_close(ms->conns);
	if (!uv_is_closing((uv_handle_t *)&ms->tcp))
		uv_close((uv_handle_t *)&ms->tcp, NULL);
	if (!uv_is_closing((uv_handle_t *)&ms->tick))
		uv_close((uv_handle_t *)&ms->tick, NULL);
}
