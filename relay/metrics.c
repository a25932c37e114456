/*
 * metrics.c - the relay's /metrics endpoint (Prometheus text format 0.0.4)
 * on its own local port (-m), apart from the WebSocket listener: open
 * connections, rooms, frames and bytes written to listeners, slow listeners
 * dropped, refusals and Redis reconnects. One request per connection; the
 * request head is read by the relay's own parser (http.c) and the answer
 * written with one uv_write.
 */
#include "relay.h"

#include "http.h"
#include "log.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_HEAD_MAX 2048

/* One scrape connection. */
struct mconn {
	uv_tcp_t tcp;
	uv_write_t wr;
	char buf[METRICS_HEAD_MAX];
	size_t len;
	char *out;		/* the response, freed after the write */
};

static void
metrics_close_cb(uv_handle_t *h)
{
	struct mconn *m = h->data;

	free(m->out);
	free(m);
}

static void
metrics_written(uv_write_t *w, int status)
{
	(void)status;
	uv_close((uv_handle_t *)w->handle, metrics_close_cb);
}

/* Formats the counters into a malloc'd string. Returns NULL on overflow. */
static char *
metrics_text(const struct relay *r, int *n)
{
	const struct relay_stats *s = &r->stats;
	char *body = xmalloc(2048), *out;
	int bn, hn;

	bn = snprintf(body, 2048,
	    "# HELP tutti_relay_connections Open WebSocket listeners.\n"
	    "# TYPE tutti_relay_connections gauge\n"
	    "tutti_relay_connections{relay=\"%s\"} %zu\n"
	    "# HELP tutti_relay_pending Connections in the handshake or waiting for Redis.\n"
	    "# TYPE tutti_relay_pending gauge\n"
	    "tutti_relay_pending{relay=\"%s\"} %zu\n"
	    "# HELP tutti_relay_rooms Rooms with a subscription or listeners on this relay.\n"
	    "# TYPE tutti_relay_rooms gauge\n"
	    "tutti_relay_rooms{relay=\"%s\"} %zu\n"
	    "# TYPE tutti_relay_accepted_total counter\n"
	    "tutti_relay_accepted_total{relay=\"%s\"} %llu\n"
	    "# TYPE tutti_relay_refused_total counter\n"
	    "tutti_relay_refused_total{relay=\"%s\"} %llu\n"
	    "# HELP tutti_relay_frames_out_total Frames queued to listeners.\n"
	    "# TYPE tutti_relay_frames_out_total counter\n"
	    "tutti_relay_frames_out_total{relay=\"%s\"} %llu\n"
	    "# TYPE tutti_relay_bytes_out_total counter\n"
	    "tutti_relay_bytes_out_total{relay=\"%s\"} %llu\n"
	    "# HELP tutti_relay_slow_dropped_total Listeners closed for not reading.\n"
	    "# TYPE tutti_relay_slow_dropped_total counter\n"
	    "tutti_relay_slow_dropped_total{relay=\"%s\"} %llu\n"
	    "# TYPE tutti_relay_redis_reconnects_total counter\n"
	    "tutti_relay_redis_reconnects_total{relay=\"%s\"} %llu\n",
	    r->id, r->open.n, r->id, r->pending.n, r->id, r->nrooms,
	    r->id, (unsigned long long)s->accepted, r->id, (unsigned long long)s->refused,
	    r->id, (unsigned long long)s->frames_out, r->id, (unsigned long long)s->bytes_out,
	    r->id, (unsigned long long)s->slow_dropped,
	    r->id, (unsigned long long)s->redis_reconnects);
	if (bn < 0 || bn >= 2048) {
		free(body);
		return NULL;
	}
	out = xmalloc((size_t)bn + 160);
	hn = snprintf(out, 160, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
	    "charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", bn);
	memcpy(out + hn, body, (size_t)bn);
	free(body);
	*n = hn + bn;
	return out;
}

static void
metrics_answer(struct mconn *m, struct relay *r, const struct http_request *req)
{
	static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n";
	uv_buf_t b;
	int n = 0;

	uv_read_stop((uv_stream_t *)&m->tcp);
	if (req != NULL && req->target_len == 8 && memcmp(req->target, "/metrics", 8) == 0)
		m->out = metrics_text(r, &n);
	if (m->out == NULL) {
		m->out = xmalloc(sizeof(nf));
		memcpy(m->out, nf, sizeof(nf));
		n = (int)sizeof(nf) - 1;
	}
	b = uv_buf_init(m->out, (unsigned)n);
	if (uv_write(&m->wr, (uv_stream_t *)&m->tcp, &b, 1, metrics_written) != 0)
		uv_close((uv_handle_t *)&m->tcp, metrics_close_cb);
}

static void
metrics_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct mconn *m = h->data;

	(void)suggested;
	*buf = uv_buf_init(m->buf + m->len, (unsigned)(sizeof(m->buf) - m->len));
}

static void
metrics_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct mconn *m = s->data;
	struct relay *r = s->loop->data;
	struct http_request req;
	int rc, status;

	(void)buf;
	if (nread < 0) {
		uv_close((uv_handle_t *)s, metrics_close_cb);
		return;
	}
	m->len += (size_t)nread;
	rc = http_parse_request(m->buf, m->len, &req, &status);
	if (rc == -2 && m->len < sizeof(m->buf))
		return;
	metrics_answer(m, r, rc > 0 ? &req : NULL);
}

static void
metrics_accept(uv_stream_t *server, int status)
{
	struct mconn *m;

	if (status < 0)
		return;
	m = xcalloc(1, sizeof(*m));
	uv_tcp_init(server->loop, &m->tcp);
	m->tcp.data = m;
	if (uv_accept(server, (uv_stream_t *)&m->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&m->tcp, metrics_alloc, metrics_read) != 0)
		uv_close((uv_handle_t *)&m->tcp, metrics_close_cb);
}

int
metrics_listen(struct relay *r, const char *spec)
{
	struct addrinfo hints, *ai = NULL;
	const char *colon = strrchr(spec, ':');
	char host[64];
	size_t hl;
	int rc;

	hl = colon != NULL ? (size_t)(colon - spec) : 0;
	if (colon == NULL || hl == 0 || hl >= sizeof(host) || colon[1] == '\0') {
		log_err("-m %s: use host:port (a local address)", spec);
		return -1;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0) {
		log_err("-m %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	uv_tcp_init(r->loop, &r->metrics);
	rc = uv_tcp_bind(&r->metrics, ai->ai_addr, 0);
	freeaddrinfo(ai);
	if (rc != 0 ||
	    (rc = uv_listen((uv_stream_t *)&r->metrics, 64, metrics_accept)) != 0) {
		log_err("metrics on %s: %s", spec, uv_strerror(rc));
		return -1;
	}
	r->metrics_on = 1;
	log_info("metrics on http://%s/metrics", spec);
	return 0;
}
