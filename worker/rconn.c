/*
 * rconn.c - a self-healing hiredis async connection (see rconn.h). hiredis
 * owns the redisAsyncContext: it frees it after the connect callback reports
 * a failure and after the disconnect callback, so rc->ac is cleared there.
 * With a password, AUTH is queued right after redisAsyncConnect (hiredis
 * sends commands in order, so it goes first) and the connection is ready
 * only after its reply.
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

/* Every second while authenticating or ready: an AUTH or PING unanswered
 * for timeout_ms kills the connection, else a new PING goes out. */
static void
rconn_on_watch(uv_timer_t *t)
{
	struct rconn *rc = t->data;
	int64_t now = clock_mono_us();

	if (!rc->ready && !rc->authing)
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

/* The connection is up (and authenticated, with a password): commands may
 * be issued; the watchdog starts and on_up runs. */
static void
rconn_ready(struct rconn *rc)
{
	log_info("%s: connected to %s", rc->name, rc->target);
	rc->ready = 1;
	rc->connects++;
	rc->refused_warned = 0;
	rc->backoff_ms = RCONN_BACKOFF_MIN_MS;
	rc->ping_sent = 0;
	uv_timer_start(&rc->watch, rconn_on_watch, RCONN_WATCH_MS, RCONN_WATCH_MS);
	if (rc->on_up != NULL)
		rc->on_up(rc, rc->arg);
}

/* hiredis callback for AUTH, the first command of every connection when
 * there is a password. privdata is the rconn, owned by the caller; the
 * reply belongs to hiredis. NULL: the context is being freed (a failed
 * connect, rconn_kill, rconn_close), which cleans up by itself. An error
 * reply closes ac with redisAsyncDisconnect, safe from its own callback
 * (nothing else is queued on it): rconn_on_disconnect then schedules the
 * retry. */
static void
rconn_on_auth(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rconn *rc = privdata;
	redisReply *rep = reply;

	if (rep == NULL || ac != rc->ac || !rc->authing)
		return;
	rc->authing = 0;
	rc->ping_sent = 0;
	if (rc->closing)
		return;		/* rconn_close() was called: stay down */
	if (rep->type != REDIS_REPLY_ERROR) {
		rconn_ready(rc);
		return;
	}
	if (!rc->refused_warned)
		log_err("%s: Redis at %s refused the password (%s); retrying with backoff",
		    rc->name, rc->target, rep->str);
	else
		log_debug("%s: Redis at %s refused the password again", rc->name, rc->target);
	rc->refused_warned = 1;
	rc->refused = 1;
	uv_timer_stop(&rc->watch);
	redisAsyncDisconnect(ac);
}

/* hiredis connect callback; ac is freed by hiredis after a failure. With a
 * password the AUTH reply is awaited (rconn_on_auth), watched by the
 * timer as a PING would be. */
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
	if (rc->password == NULL) {
		rconn_ready(rc);
		return;
	}
	rc->authing = 1;
	rc->ping_sent = clock_mono_us();
	uv_timer_start(&rc->watch, rconn_on_watch, RCONN_WATCH_MS, RCONN_WATCH_MS);
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
	else if (!rc->refused)
		log_info("%s: disconnected from %s", rc->name, rc->target);
	rc->ac = NULL;
	rc->ready = 0;
	rc->authing = 0;
	uv_timer_stop(&rc->watch);
	if (was_ready && rc->on_down != NULL)
		rc->on_down(rc, rc->arg);
	rconn_schedule(rc);
}

/* Queues AUTH as the first command of the new context ac when there is a
 * password. Returns 0, or -1 when hiredis refused to queue it. */
static int
rconn_login(struct rconn *rc, redisAsyncContext *ac)
{
	int rv;

	if (rc->password == NULL)
		return 0;
	if (rc->user != NULL)
		rv = redisAsyncCommand(ac, rconn_on_auth, rc, "AUTH %s %s", rc->user,
		    rc->password);
	else
		rv = redisAsyncCommand(ac, rconn_on_auth, rc, "AUTH %s", rc->password);
	return rv == REDIS_OK ? 0 : -1;
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
	rc->refused = 0;
	if (rconn_login(rc, ac) != 0) {
		log_err("%s: cannot queue AUTH", rc->name);
		goto fail;
	}
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
rconn_set_auth(struct rconn *rc, const char *user, const char *password)
{
	rc->password = password != NULL && *password != '\0' ? password : NULL;
	rc->user = rc->password != NULL && user != NULL && *user != '\0' ? user : NULL;
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
	if (rc->ready || rc->authing) {
		redisAsyncFree(ac);	/* connected: runs rconn_on_disconnect */
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
	if (!rc->ready) {	/* connecting or awaiting AUTH: nothing to wait for */
		rc->ac = NULL;
		redisAsyncFree(ac);
	} else if (force)
		redisAsyncFree(ac);
	else
		redisAsyncDisconnect(ac);
}
