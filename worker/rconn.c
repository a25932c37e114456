/*
 * rconn.c - a self-healing hiredis async connection (see rconn.h). hiredis
 * owns the redisAsyncContext: it frees it after the connect callback reports
 * a failure and after the disconnect callback, so rc->ac is cleared there.
 */
#include "rconn.h"
#include "clock.h"
#include "log.h"

#include <hiredis/adapters/libuv.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define RCONN_BACKOFF_MIN_MS 100
#define RCONN_BACKOFF_MAX_MS 5000
#define RCONN_WATCH_MS       1000

static void rconn_connect(struct rconn *rc);

/* libuv timer callbacks; t->data is the rconn, owned by its caller. */
static void
rconn_on_retry(uv_timer_t *t)
{
	rconn_connect(t->data);
}

/* Arms the next connect attempt and doubles the backoff. */
static void
rconn_schedule(struct rconn *rc)
{
	if (rc->closing)
		return;
	uv_timer_start(&rc->retry, rconn_on_retry, (uint64_t)rc->backoff_ms, 0);
	rc->backoff_ms *= 2;
	if (rc->backoff_ms > RCONN_BACKOFF_MAX_MS)
		rc->backoff_ms = RCONN_BACKOFF_MAX_MS;
}

/* hiredis callback for PING: the reply (owned by hiredis) proves the peer
 * answers; NULL means the connection went away. privdata is the rconn. */
static void
rconn_on_pong(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rconn *rc = privdata;

	(void)ac;
	if (reply != NULL)
		rc->ping_sent = 0;
}

static void
rconn_on_watch(uv_timer_t *t)
{
	struct rconn *rc = t->data;
	int64_t now = clock_mono_us();

	if (!rc->ready)
		return;
	if (rc->ping_sent != 0 && now - rc->ping_sent > rc->timeout_ms * 1000) {
		log_err("%s: no answer from %s for %lld ms; reconnecting", rc->name,
		    rc->target, (long long)(now - rc->ping_sent) / 1000);
		rconn_kill(rc);
		return;
	}
	if (rc->ping_sent == 0 && rconn_cmd(rc, rconn_on_pong, rc, "PING") == 0)
		rc->ping_sent = now;
}

/* hiredis connect callback; ac is freed by hiredis after a failure. */
static void
rconn_on_connect(const redisAsyncContext *ac, int status)
{
	struct rconn *rc = ac->data;

	if (status != REDIS_OK) {
		log_warn("%s: cannot connect to %s: %s", rc->name, rc->target, ac->errstr);
		rc->ac = NULL;
		rconn_schedule(rc);
		return;
	}
	log_info("%s: connected to %s", rc->name, rc->target);
	rc->ready = 1;
	rc->backoff_ms = RCONN_BACKOFF_MIN_MS;
	rc->ping_sent = 0;
	uv_timer_start(&rc->watch, rconn_on_watch, RCONN_WATCH_MS, RCONN_WATCH_MS);
	if (rc->on_up != NULL)
		rc->on_up(rc, rc->arg);
}

/* hiredis disconnect callback, after every pending callback got its reply
 * or NULL; ac is freed by hiredis when it returns. */
static void
rconn_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct rconn *rc = ac->data;
	int was_ready = rc->ready;

	if (status != REDIS_OK)
		log_err("%s: connection to %s lost: %s", rc->name, rc->target, ac->errstr);
	else
		log_info("%s: disconnected from %s", rc->name, rc->target);
	rc->ac = NULL;
	rc->ready = 0;
	uv_timer_stop(&rc->watch);
	if (was_ready && rc->on_down != NULL)
		rc->on_down(rc, rc->arg);
	rconn_schedule(rc);
}

static void
rconn_connect(struct rconn *rc)
{
	redisAsyncContext *ac;

	ac = rc->port ? redisAsyncConnect(rc->host, rc->port) :
	    redisAsyncConnectUnix(rc->target);
	if (ac == NULL || ac->err) {
		log_warn("%s: cannot connect to %s: %s", rc->name, rc->target,
		    ac ? ac->errstr : "out of memory");
		goto fail;
	}
	ac->data = rc;
	if (redisLibuvAttach(ac, rc->loop) != REDIS_OK) {
		log_err("%s: cannot attach to the event loop", rc->name);
		goto fail;
	}
	redisAsyncSetConnectCallback(ac, rconn_on_connect);
	redisAsyncSetDisconnectCallback(ac, rconn_on_disconnect);
	rc->ac = ac;
	return;
fail:
	if (ac != NULL)
		redisAsyncFree(ac);
	rconn_schedule(rc);
}

/* Splits rc->target into host and port when it is HOST:PORT. */
static int
rconn_parse_target(struct rconn *rc)
{
	const char *colon = strrchr(rc->target, ':');
	char *end;
	long port;

	if (strchr(rc->target, '/') != NULL || colon == NULL)
		return 0;
	port = strtol(colon + 1, &end, 10);
	if (colon == rc->target || (size_t)(colon - rc->target) >= sizeof(rc->host) ||
	    *end != '\0' || end == colon + 1 || port < 1 || port > 65535) {
		log_err("%s: %s is neither a socket path nor HOST:PORT", rc->name, rc->target);
		return -1;
	}
	memcpy(rc->host, rc->target, (size_t)(colon - rc->target));
	rc->host[colon - rc->target] = '\0';
	rc->port = (int)port;
	return 0;
}

int
rconn_init(struct rconn *rc, uv_loop_t *loop, const char *name, const char *target,
    int64_t timeout_ms, rconn_event_fn *on_up, rconn_event_fn *on_down, void *arg)
{
	memset(rc, 0, sizeof(*rc));
	rc->loop = loop;
	rc->name = name;
	rc->target = target;
	rc->timeout_ms = timeout_ms;
	rc->backoff_ms = RCONN_BACKOFF_MIN_MS;
	rc->on_up = on_up;
	rc->on_down = on_down;
	rc->arg = arg;
	/* Timers first: rconn_close() may then always be called. */
	uv_timer_init(loop, &rc->retry);
	uv_timer_init(loop, &rc->watch);
	rc->retry.data = rc;
	rc->watch.data = rc;
	return rconn_parse_target(rc);
}

void
rconn_start(struct rconn *rc)
{
	rconn_connect(rc);
}

int
rconn_cmd(struct rconn *rc, redisCallbackFn *fn, void *privdata, const char *fmt, ...)
{
	va_list ap;
	int rv;

	if (!rc->ready || rc->ac == NULL)
		return -1;
	va_start(ap, fmt);
	rv = redisvAsyncCommand(rc->ac, fn, privdata, fmt, ap);
	va_end(ap);
	return rv == REDIS_OK ? 0 : -1;
}

int
rconn_cmd_argv(struct rconn *rc, redisCallbackFn *fn, void *privdata, int argc,
    const char **argv, const size_t *argvlen)
{
	if (!rc->ready || rc->ac == NULL)
		return -1;
	return redisAsyncCommandArgv(rc->ac, fn, privdata, argc, argv, argvlen) == REDIS_OK ?
	    0 : -1;
}

void
rconn_kill(struct rconn *rc)
{
	redisAsyncContext *ac = rc->ac;

	if (ac == NULL)
		return;
	if (rc->ready) {
		redisAsyncFree(ac);	/* runs rconn_on_disconnect */
		return;
	}
	rc->ac = NULL;		/* still connecting: no callback will run */
	redisAsyncFree(ac);
	rconn_schedule(rc);
}

void
rconn_close(struct rconn *rc, int force)
{
	redisAsyncContext *ac = rc->ac;

	rc->closing = 1;
	if (!uv_is_closing((uv_handle_t *)&rc->retry)) {
		uv_close((uv_handle_t *)&rc->retry, NULL);
		uv_close((uv_handle_t *)&rc->watch, NULL);
	}
	if (ac == NULL)
		return;
	if (!rc->ready) {
		rc->ac = NULL;
		redisAsyncFree(ac);
	} else if (force)
		redisAsyncFree(ac);
	else
		redisAsyncDisconnect(ac);
}
