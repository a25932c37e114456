/*
 * metricsrv.h - a tiny HTTP listener on a libuv loop that serves one text
 * resource, Prometheus's GET /metrics, for the programs that have no HTTP
 * server of their own (tutti-relay -m, tutti-worker -m). Each connection
 * carries one request: its head is read with http.h's parser (at most
 * METRICSRV_HEAD_MAX bytes), the answer is written, the connection closed.
 */
#ifndef TUTTI_METRICSRV_H
#define TUTTI_METRICSRV_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define METRICSRV_HEAD_MAX  2048	/* a longer request head gets 431 */
#define METRICSRV_CONNS_MAX 16		/* open at once; a new one closes the oldest */
#define METRICSRV_IDLE_MS   5000	/* a connection lives at most this long */
#define METRICSRV_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The body of a response being built (opaque; metricsrv.c). */
struct metricsrv_out;

/*
 * Writes the whole body of one GET into out with metricsrv_printf(), on the
 * loop thread, while the request is answered: the caller's state cannot
 * change underneath it. arg is hooks.arg. Returns 0, or -1 when the body
 * cannot be produced (the client gets 500). out belongs to metricsrv and
 * is valid only during the call.
 */
typedef int metricsrv_render_fn(struct metricsrv_out *out, void *arg);

/* What the listener serves. Copied by metricsrv_listen(); path and arg are
 * borrowed and must stay valid until metricsrv_close(). */
struct metricsrv_hooks {
	const char *path;		/* the one target answered, e.g. "/metrics" */
	metricsrv_render_fn *render;
	void *arg;			/* passed to render */
};

struct msconn;

/*
 * One listener. The memory is the caller's (e.g. a member of its context)
 * and must stay valid until the loop has run the close callbacks that
 * metricsrv_close() starts; metricsrv owns every handle and connection in
 * it. Zero it (or call nothing but metricsrv_close()) before
 * metricsrv_listen().
 */
struct metricsrv {
	struct metricsrv_hooks hooks;
	uv_tcp_t tcp;			/* the listening socket */
	uv_timer_t tick;		/* closes connections past METRICSRV_IDLE_MS */
	struct msconn *conns;		/* open connections, newest first */
	size_t nconns;
	int on;				/* tcp and tick are initialized */
};

/*
 * Checks a listen address: host:port with a numeric host (IPv4, or IPv6 in
 * brackets: [::1]:9100) and a port from 1 to 65535. Returns 0, or -1 with
 * the reason written into why (why_size bytes; why may be NULL).
 */
int metricsrv_spec_check(const char *spec, char *why, size_t why_size);

/*
 * Serves hooks->path on spec (see metricsrv_spec_check; give a local
 * address: nothing guards it) on loop. GET (and HEAD) of the path is
 * answered 200 with Content-Type METRICSRV_CONTENT_TYPE and the body
 * hooks->render writes; another path 404, another method 405, a malformed
 * head 400, a head over METRICSRV_HEAD_MAX bytes 431 (problem+json bodies,
 * http_problem()). Returns 0; -2 when spec is malformed, -1 when the socket
 * cannot be bound or listened on (both logged). Whatever it returns, call
 * metricsrv_close() before the loop ends.
 */
int metricsrv_listen(struct metricsrv *ms, uv_loop_t *loop, const char *spec,
    const struct metricsrv_hooks *hooks);

/* Closes the listener and every open connection (their memory is freed by
 * libuv close callbacks: run the loop once more). Safe on a zeroed
 * struct, after a failed metricsrv_listen() and when called again. */
void metricsrv_close(struct metricsrv *ms);

/* Appends printf-style text to the body. Returns 0, or -1 when memory runs
 * out (later calls then do nothing and the request gets 500). */
int metricsrv_printf(struct metricsrv_out *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
