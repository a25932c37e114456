/*
 * rconn.h - one hiredis async connection on the libuv loop that keeps itself
 * alive: it reconnects with exponential backoff when the connection drops or
 * fails, and a PING watchdog detects a dead peer that the libuv adapter of
 * hiredis 0.14 would not notice (no async timeouts there). With a password
 * (rconn_set_auth) every connection sends AUTH first and becomes ready only
 * once Redis accepted it.
 */
#ifndef TUTTI_RCONN_H
#define TUTTI_RCONN_H

#include <hiredis/async.h>
#include <stdint.h>
#include <uv.h>

struct rconn;

/* Called on the loop thread when the connection becomes usable (after every
 * (re)connect) and when a usable connection is lost. rc and arg stay owned
 * by the caller; commands may be issued from on_up. */
typedef void rconn_event_fn(struct rconn *rc, void *arg);

struct rconn {
	uv_loop_t *loop;		/* borrowed */
	const char *name;		/* for log lines; borrowed, static */
	const char *target;		/* unix socket path or HOST:PORT; borrowed */
	char host[256];			/* parsed from target; "" for a unix socket */
	int port;
	redisAsyncContext *ac;		/* NULL while down; freed by hiredis */
	const char *user;		/* AUTH user, or NULL (default user); borrowed */
	const char *password;		/* AUTH password, or NULL: no AUTH; borrowed */
	int authing;			/* connected, AUTH reply awaited */
	int refused;			/* this connection's AUTH was refused */
	int refused_warned;		/* logged once per streak of refusals */
	int ready;			/* connected: commands may be issued */
	int closing;			/* rconn_close() was called: no reconnect */
	int64_t timeout_ms;		/* a PING unanswered this long kills ac */
	int64_t backoff_ms;		/* delay before the next connect attempt */
	int64_t ping_sent;		/* clock_mono_us() of the PING in flight, or 0 */
	uint64_t connects;		/* times it became ready (for /metrics) */
	uv_timer_t retry;		/* one-shot: the next connect attempt */
	uv_timer_t watch;		/* every second while ready: PING watchdog */
	rconn_event_fn *on_up;
	rconn_event_fn *on_down;
	void *arg;
};

/* Initializes rc (its memory stays owned by the caller and must outlive the
 * loop's close callbacks) without connecting. name and target are borrowed;
 * a target with a '/' or without ':' is a unix socket path, else HOST:PORT.
 * Returns 0, or -1 for a malformed target (logged); either way rc must be
 * closed with rconn_close() before the loop ends. */
int rconn_init(struct rconn *rc, uv_loop_t *loop, const char *name,
    const char *target, int64_t timeout_ms, rconn_event_fn *on_up,
    rconn_event_fn *on_down, void *arg);

/* Makes every connection of rc authenticate with AUTH [user] password as
 * its first command; call before rconn_start(). Both strings are borrowed
 * and must outlive rc; a NULL or empty password means no AUTH (the
 * default), a NULL or empty user the default user. A refused AUTH is
 * logged (never the password) and retried with backoff like a failed
 * connect; the AUTH reply is awaited at most timeout_ms. */
void rconn_set_auth(struct rconn *rc, const char *user, const char *password);

/* Starts connecting; failures are retried with backoff forever. */
void rconn_start(struct rconn *rc);

/* Queues a command (hiredis format). fn is called once with the reply, or
 * with a NULL reply when the connection is lost first; the reply belongs to
 * hiredis and is freed when fn returns. Returns 0, or -1 when rc is not
 * ready (fn is then never called). fn may be NULL. */
int rconn_cmd(struct rconn *rc, redisCallbackFn *fn, void *privdata, const char *fmt, ...);

/* The same with an argument vector (binary safe; argv and argvlen are
 * copied before the call returns). Returns 0 or -1 as rconn_cmd(). */
int rconn_cmd_argv(struct rconn *rc, redisCallbackFn *fn, void *privdata, int argc,
    const char **argv, const size_t *argvlen);

/* Drops the connection now: pending callbacks get NULL replies, on_down
 * runs, and a reconnect follows (unless closing). For a dead peer. */
void rconn_kill(struct rconn *rc);

/* Stops for good: closes the timers and disconnects; with force == 0 the
 * replies already queued are awaited first (graceful), else pending
 * callbacks get NULL at once (as always for a connection not yet ready,
 * e.g. still awaiting its AUTH reply). Safe to call again (e.g. graceful, then
 * forced on a deadline). The loop ends once everything is closed. */
void rconn_close(struct rconn *rc, int force);

#endif
