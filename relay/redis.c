/*
 * redis.c - tutti-relay's two Redis connections (hiredis async on libuv):
 *   cmd  the upgrade lookups (EXISTS tutti:room:{code}, HGET
 *        tutti:sess:{sha256(token)} room, pipelined) and the watchdog probe;
 *   sub  SUBSCRIBE/UNSUBSCRIBE tutti:ev:{code} for the rooms with listeners.
 *
 * hiredis 0.14 has no timeouts, and its libuv adapter ignores a poll error
 * (libuv reports POLLERR as a status, which the adapter drops), so a broken
 * or refused connection can go unnoticed. Hence:
 *   - a watchdog (every 2 s) PUBLISHes a probe on tutti:relay:{id} through
 *     cmd and expects both the reply on cmd and the message on sub; a
 *     connection attempt or a probe unanswered for 5 s tears both down;
 *   - any loss frees both contexts (pending callbacks run with a NULL reply:
 *     lookups answer 503), and reconnects after 100 ms, doubling to 5 s;
 *   - once both are up again every room with listeners is subscribed again
 *     and its listeners get {"type":"resync","reason":"redis"}.
 * The sub connection stays subscribed to tutti:relay:{id} for its whole life:
 * with no channel left, hiredis 0.14 leaves subscribed mode on the last
 * UNSUBSCRIBE reply and then aborts on the reply of a SUBSCRIBE sent in the
 * meantime (an assert in redisProcessCallbacks).
 *
 * With a password (TUTTI_REDIS_PASSWORD, r->redis_password) AUTH is queued
 * on each context right after redisAsyncConnect, so hiredis sends it before
 * anything else; a context counts as connected only once AUTH is accepted.
 * A refusal is logged once per failure streak and the context is closed
 * (redisAsyncDisconnect), so the usual backoff retries.
 *
 * Ownership: a context is ours from redisAsyncConnect until we free it, or
 * until hiredis calls the connect callback with an error or the disconnect
 * callback; then hiredis frees it, so those callbacks only forget the
 * pointer. We never free a context from inside its own reply callbacks.
 */
#include "relay.h"

#include "log.h"
#include "presence.h"
#include "rkeys.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RDS_BACKOFF_MIN_MS 100
#define RDS_BACKOFF_MAX_MS 5000
#define RDS_WATCHDOG_MS    2000
#define RDS_CONNECT_MS     2000	/* connection attempt deadline */
#define RDS_DEADLINE_MS    5000	/* probe answer deadline */
#define RDS_CTL_PREFIX     RKEY_RELAY_PROBE

static void rds_connect(struct relay *r);
static void rds_register(struct relay *r);

static struct relay *
rds_relay(const redisAsyncContext *ac)
{
	return ac->data;
}

int
rds_init(struct relay *r, const char *spec)
{
	struct rds *d = &r->rds;
	const char *colon;
	char *end;
	long port;

	memset(d, 0, sizeof(*d));
	uv_timer_init(r->loop, &d->retry);
	uv_timer_init(r->loop, &d->watchdog);
	d->retry.data = d->watchdog.data = r;
	d->backoff_ms = RDS_BACKOFF_MIN_MS;
	if (strncmp(spec, "unix:", 5) == 0)
		spec += 5;
	colon = strrchr(spec, ':');
	if (strchr(spec, '/') != NULL || colon == NULL) {
		d->path = strdup(spec);
	} else {
		port = strtol(colon + 1, &end, 10);
		if (colon == spec || *end != '\0' || port < 1 || port > 65535)
			return -1;
		if (spec[0] == '[' && colon[-1] == ']' && colon - spec > 2)	/* [::1]:6379 */
			d->host = strndup(spec + 1, (size_t)(colon - spec - 2));
		else
			d->host = strndup(spec, (size_t)(colon - spec));
		d->port = (int)port;
	}
	if ((d->path == NULL || d->path[0] == '\0') && d->host == NULL) {
		free(d->path);
		d->path = NULL;
		return -1;
	}
	snprintf(d->ctl, sizeof(d->ctl), RDS_CTL_PREFIX "%s", r->id);
	return 0;
}

static void
rds_retry_cb(uv_timer_t *t)
{
	rds_connect(t->data);
}

/* Forgets and frees both contexts, fails what depended on them and
 * schedules the next attempt. Never called from a reply callback. */
static void
rds_fail(struct relay *r, const char *why)
{
	struct rds *d = &r->rds;
	redisAsyncContext *cmd = d->cmd, *sub = d->sub;
	int was_up = d->state == RDS_UP;

	if (!r->stopping) {
		if (was_up)
			log_warn("redis %s lost (%s); reconnecting", r->redis_spec, why);
		else if (!d->warned)
			log_warn("redis %s unreachable (%s); retrying", r->redis_spec, why);
		else
			log_debug("redis %s: %s; retry in %u ms", r->redis_spec, why, d->backoff_ms);
		d->warned = 1;
	}
	d->state = RDS_DOWN;
	d->cmd = d->sub = NULL;
	d->cmd_up = d->sub_up = 0;
	/* Pending lookups are called back with a NULL reply (503); our
	 * disconnect callback no longer recognizes these contexts. */
	if (cmd != NULL)
		redisAsyncFree(cmd);
	if (sub != NULL)
		redisAsyncFree(sub);
	room_redis_lost(r);
	if (r->stopping)
		return;
	uv_timer_start(&d->retry, rds_retry_cb, d->backoff_ms, 0);
	d->backoff_ms = d->backoff_ms * 2 > RDS_BACKOFF_MAX_MS ? RDS_BACKOFF_MAX_MS :
	    d->backoff_ms * 2;
}

static void
rds_up(struct relay *r)
{
	struct rds *d = &r->rds;

	d->state = RDS_UP;
	d->backoff_ms = RDS_BACKOFF_MIN_MS;
	d->t_cmd_ok = d->t_sub_ok = uv_now(r->loop);
	if (d->ever_up) {
		r->stats.redis_reconnects++;
		log_info("redis %s reconnected; resubscribing %zu rooms", r->redis_spec, r->nrooms);
	}
	else
		log_info("redis %s connected", r->redis_spec);
	d->ever_up = 1;
	d->warned = d->refused_warned = 0;
	rds_register(r);
	room_redis_up(r);
}

/* Every reply on the sub connection: subscription confirmations and
 * messages of tutti:ev:{code}, and the watchdog's probes. privdata: NULL
 * (rooms are found by channel name, so nothing here can dangle). A NULL reply
 * means the context is being freed. */
static void
rds_sub_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	static const size_t plen = sizeof(RKEY_EVENTS) - 1;
	struct relay *r = rds_relay(ac);
	redisReply *reply = rep, *kind, *chan;
	char code[CODE_LEN + 1];

	(void)priv;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
		return;
	kind = reply->element[0];
	chan = reply->element[1];
	if (kind->type != REDIS_REPLY_STRING || chan->type != REDIS_REPLY_STRING)
		return;
	r->rds.t_sub_ok = uv_now(r->loop);
	if (chan->len != plen + CODE_LEN || memcmp(chan->str, RKEY_EVENTS, plen) != 0)
		return;		/* the watchdog channel */
	memcpy(code, chan->str + plen, CODE_LEN);
	code[CODE_LEN] = '\0';
	if (strcmp(kind->str, "message") == 0) {
		if (reply->element[2]->type == REDIS_REPLY_STRING)
			room_on_message(r, code, reply->element[2]->str, reply->element[2]->len);
	} else if (strcmp(kind->str, "subscribe") == 0) {
		room_on_subscribed(r, code);
	} else if (strcmp(kind->str, "unsubscribe") == 0) {
		room_on_unsubscribed(r, code);
	}
}

/* ac (d->cmd or d->sub) is connected, and authenticated when there is a
 * password: marks it usable; the relay is up once both are. */
static void
rds_ready(struct relay *r, const redisAsyncContext *ac)
{
	struct rds *d = &r->rds;

	if (ac == d->cmd) {
		d->cmd_up = 1;
	} else {
		d->sub_up = 1;
		/* Stays subscribed for the connection's life (see the top). If
		 * this fails, the watchdog sees no probe and reconnects. */
		if (redisAsyncCommand(d->sub, rds_sub_cb, NULL, "SUBSCRIBE %s", d->ctl) != REDIS_OK)
			log_warn("redis: cannot subscribe to %s", d->ctl);
	}
	if (d->cmd_up && d->sub_up)
		rds_up(r);
}

/* hiredis frees ac right after a failed connect callback: forget it. Never
 * free ac from here (hiredis goes on using it after a successful one).
 * With a password the context waits for the AUTH reply (rds_login_cb). */
static void
rds_connect_cb(const redisAsyncContext *ac, int status)
{
	struct relay *r = rds_relay(ac);
	struct rds *d = &r->rds;

	if (ac != d->cmd && ac != d->sub)
		return;
	if (status != REDIS_OK) {
		if (ac == d->cmd)
			d->cmd = NULL;
		else
			d->sub = NULL;
		rds_fail(r, ac->errstr);
		return;
	}
	if (r->redis_password == NULL)
		rds_ready(r, ac);
}

/* The reply to AUTH, the first command of either context. privdata: NULL;
 * the reply belongs to hiredis. NULL means the context is being freed (a
 * failed connect, rds_fail): nothing to do. An error reply closes ac with
 * redisAsyncDisconnect, which is safe from its own callback (nothing else
 * is queued on it yet); the disconnect callback then runs rds_fail. */
static void
rds_login_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	struct relay *r = rds_relay(ac);
	struct rds *d = &r->rds;
	redisReply *reply = rep;

	(void)priv;
	if (reply == NULL || (ac != d->cmd && ac != d->sub))
		return;
	if (reply->type != REDIS_REPLY_ERROR) {
		rds_ready(r, ac);
		return;
	}
	if (!d->refused_warned)
		log_err("redis %s: Redis refused the password (%s); retrying with backoff",
		    r->redis_spec, reply->str);
	d->refused_warned = d->warned = 1;	/* rds_fail logs at debug level */
	d->refused = 1;
	redisAsyncDisconnect(ac);
}

/* Queues AUTH as the first command of ac when there is a password. Returns
 * 0, or -1 when hiredis refused to queue it. */
static int
rds_login(struct relay *r, redisAsyncContext *ac)
{
	if (r->redis_password == NULL)
		return 0;
	if (r->redis_user != NULL)
		return redisAsyncCommand(ac, rds_login_cb, NULL, "AUTH %s %s", r->redis_user,
		    r->redis_password) == REDIS_OK ? 0 : -1;
	return redisAsyncCommand(ac, rds_login_cb, NULL, "AUTH %s", r->redis_password) ==
	    REDIS_OK ? 0 : -1;
}

/* Called by hiredis as it frees ac (closed by Redis, an I/O error, or our
 * redisAsyncFree, which rds_fail made unrecognizable first). */
static void
rds_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct relay *r = rds_relay(ac);
	struct rds *d = &r->rds;

	if (ac == d->cmd)
		d->cmd = NULL;
	else if (ac == d->sub)
		d->sub = NULL;
	else
		return;
	rds_fail(r, d->refused ? "Redis refused the password" :
	    status == REDIS_OK ? "connection closed" : ac->errstr);
}

static redisAsyncContext *
rds_open(struct relay *r)
{
	struct rds *d = &r->rds;
	redisAsyncContext *ac;

	ac = d->path != NULL ? redisAsyncConnectUnix(d->path) : redisAsyncConnect(d->host, d->port);
	if (ac == NULL) {
		snprintf(d->err, sizeof(d->err), "out of memory");
		return NULL;
	}
	if (ac->err) {
		snprintf(d->err, sizeof(d->err), "%s", ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = r;
	if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
		snprintf(d->err, sizeof(d->err), "cannot attach to the event loop");
		redisAsyncFree(ac);
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, rds_connect_cb);
	redisAsyncSetDisconnectCallback(ac, rds_disconnect_cb);
	if (rds_login(r, ac) != 0) {
		snprintf(d->err, sizeof(d->err), "cannot queue AUTH");
		redisAsyncFree(ac);
		return NULL;
	}
	return ac;
}

static void
rds_connect(struct relay *r)
{
	struct rds *d = &r->rds;

	if (r->stopping)
		return;
	d->state = RDS_CONNECTING;
	d->refused = 0;
	d->t_connect = uv_now(r->loop);
	if ((d->cmd = rds_open(r)) == NULL || (d->sub = rds_open(r)) == NULL)
		rds_fail(r, d->err);
}

static void
rds_probe_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	struct relay *r = rds_relay(ac);

	(void)priv;
	if (rep != NULL && ac == r->rds.cmd)
		r->rds.t_cmd_ok = uv_now(r->loop);
}

static void
rds_watchdog_cb(uv_timer_t *t)
{
	struct relay *r = t->data;
	struct rds *d = &r->rds;
	uint64_t now = uv_now(r->loop);

	if (d->state == RDS_CONNECTING && now - d->t_connect >= RDS_CONNECT_MS) {
		rds_fail(r, "connect timeout");
	} else if (d->state == RDS_UP) {
		if (now - d->t_cmd_ok >= RDS_DEADLINE_MS || now - d->t_sub_ok >= RDS_DEADLINE_MS) {
			rds_fail(r, "no answer to the watchdog's probe");
			return;
		}
		redisAsyncCommand(d->cmd, rds_probe_cb, NULL, "PUBLISH %s %llu", d->ctl,
		    (unsigned long long)now);
	}
}

void
rds_start(struct relay *r)
{
	uv_timer_start(&r->rds.watchdog, rds_watchdog_cb, RDS_WATCHDOG_MS, RDS_WATCHDOG_MS);
	rds_connect(r);
}

/*
 * The lookup of an upgrade request. privdata of both callbacks: the conn,
 * with one reference taken for each callback, which drops it. hiredis calls
 * each callback exactly once, with a NULL reply when the context is freed
 * first. The conn may have been closed meanwhile (c->state then is no longer
 * C_AUTH): the reference keeps it allocated, and nothing is answered.
 * Replies arrive in order, so EXISTS is stored before HGET decides.
 */
static void
rds_exists_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	redisReply *reply = rep;
	struct conn *c = priv;

	(void)ac;
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
		c->room_exists = reply->integer > 0;
	else {
		c->room_exists = -1;
		if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
			log_warn("redis EXISTS: %s", reply->str);
	}
	conn_unref(c);
}

/* Returns 1 when the HMGET answer (room, user_id) names c's room, with
 * c->user_id set from it (0 when absent or malformed: then the listener is
 * not counted in presence). */
static int
rds_session_ok(const redisReply *reply, struct conn *c)
{
	const redisReply *room, *uid;
	char buf[24];

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
		return 0;
	room = reply->element[0];
	uid = reply->element[1];
	if (room->type != REDIS_REPLY_STRING || room->len != CODE_LEN ||
	    memcmp(room->str, c->code, CODE_LEN) != 0)
		return 0;
	c->user_id = 0;
	if (uid->type == REDIS_REPLY_STRING && uid->len > 0 && uid->len < sizeof(buf)) {
		memcpy(buf, uid->str, uid->len);
		buf[uid->len] = '\0';
		c->user_id = strtoll(buf, NULL, 10);
	}
	return 1;
}

static void
rds_session_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	struct relay *r = rds_relay(ac);
	redisReply *reply = rep;
	struct conn *c = priv;

	if (reply != NULL && ac == r->rds.cmd)
		r->rds.t_cmd_ok = uv_now(r->loop);
	if (c->state == C_AUTH) {
		if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
			log_warn("redis HGET: %s", reply->str);
		if (reply == NULL || reply->type == REDIS_REPLY_ERROR || c->room_exists < 0)
			conn_auth_done(c, 503, "Redis cannot be reached");
		else if (c->room_exists == 0)
			conn_auth_done(c, 404, "no open room has this code");
		else if (rds_session_ok(reply, c))
			conn_auth_done(c, 0, NULL);
		else
			conn_auth_done(c, 401, reply->type == REDIS_REPLY_ARRAY &&
			    reply->elements == 2 && reply->element[0]->type == REDIS_REPLY_NIL ?
			    "unknown token" : "the token belongs to another room");
	}
	conn_unref(c);
}

int
rds_auth(struct relay *r, struct conn *c, const char *token_hash)
{
	struct rds *d = &r->rds;

	if (d->state != RDS_UP)
		return -1;
	if (redisAsyncCommand(d->cmd, rds_exists_cb, c, "EXISTS " RKEY_ROOM "%s", c->code) != REDIS_OK)
		return -1;
	c->refs++;
	/* On failure the EXISTS callback still runs and drops its reference. */
	if (redisAsyncCommand(d->cmd, rds_session_cb, c, "HMGET " RKEY_SESSION "%s room "
	    "user_id", token_hash) != REDIS_OK)
		return -1;
	c->refs++;
	return 0;
}

int
rds_subscribe(struct relay *r, const char *code)
{
	struct rds *d = &r->rds;

	if (d->state != RDS_UP)
		return -1;
	return redisAsyncCommand(d->sub, rds_sub_cb, NULL, "SUBSCRIBE " RKEY_EVENTS "%s",
	    code) == REDIS_OK ? 0 : -1;
}

/* privdata: a malloc'd copy of the room code, freed here; hiredis calls
 * back exactly once (with NULL when the connection goes first). */
static void
rds_snapshot_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	struct relay *r = rds_relay(ac);
	redisReply *reply = rep;
	char *code = priv;

	if (reply != NULL && reply->type == REDIS_REPLY_STRING)
		room_on_snapshot(r, code, reply->str, reply->len);
	else
		room_on_snapshot(r, code, NULL, 0);
	free(code);
}

int
rds_snapshot(struct relay *r, const char *code)
{
	struct rds *d = &r->rds;
	char *copy;

	if (d->state != RDS_UP || (copy = strdup(code)) == NULL)
		return -1;
	if (redisAsyncCommand(d->cmd, rds_snapshot_cb, copy, "GET " RKEY_SNAPSHOT "%s",
	    code) != REDIS_OK) {
		free(copy);
		return -1;
	}
	return 0;
}

/* Logs an error reply of a fire-and-forget command; privdata: a static
 * string naming it. */
static void
rds_log_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	redisReply *reply = rep;

	(void)ac;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		log_warn("redis %s: %s", (const char *)priv, reply->str);
}

void
rds_presence(struct relay *r, const char *code, int64_t user_id, int delta)
{
	struct presence_args a;

	if (r->rds.state != RDS_UP || presence_args(&a, r->id, code, user_id, delta) != 0)
		return;
	redisAsyncCommandArgv(r->rds.cmd, rds_log_cb, (void *)"presence", PRESENCE_ARGC,
	    a.argv, a.argvlen);
}

/* The answer to EXISTS of the relay's conns hash, with listeners counted:
 * 0 means a worker took this relay for dead (a heartbeat came too late) and
 * removed its counts, so they are counted again. privdata: NULL. */
static void
rds_conns_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	struct relay *r = rds_relay(ac);
	redisReply *reply = rep;

	/* privdata: the recount generation when asked; a recount since (or one
	 * in flight) has counted everyone already. */
	if (r->rds.recounting || (uintptr_t)priv != r->rds.recount_gen)
		return;
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER && reply->integer == 0) {
		log_warn("presence counts of relay %s were removed; counting again",
		    rds_relay(ac)->id);
		conn_presence_all(rds_relay(ac));
	}
}

/* The heartbeat key, then the relay's entry in the set of relays (a
 * worker reads the set, then the keys). */
static void
rds_alive(struct relay *r)
{
	redisAsyncCommand(r->rds.cmd, rds_log_cb, (void *)"heartbeat", "SET "
	    RKEY_RELAY_ALIVE "%s 1 PX 3000", r->id);
	redisAsyncCommand(r->rds.cmd, rds_log_cb, (void *)"SADD relays", "SADD " RKEY_RELAYS
	    " %s", r->id);
}

void
rds_rtt_write(struct relay *r, const char **fields, size_t n)
{
	const char **argv;
	size_t *len, i;
	char key[sizeof(RKEY_RTT) + RELAY_ID_MAX];

	if (r->rds.state != RDS_UP)
		return;
	snprintf(key, sizeof(key), RKEY_RTT "%s", r->id);
	redisAsyncCommand(r->rds.cmd, rds_log_cb, (void *)"MULTI", "MULTI");
	redisAsyncCommand(r->rds.cmd, rds_log_cb, (void *)"DEL rtt", "DEL %s", key);
	if (n > 0) {
		argv = xmalloc((2 * n + 2) * sizeof(*argv));
		len = xmalloc((2 * n + 2) * sizeof(*len));
		argv[0] = "HSET";
		argv[1] = key;
		for (i = 0; i < 2 * n; i++)
			argv[i + 2] = fields[i];
		for (i = 0; i < 2 * n + 2; i++)
			len[i] = strlen(argv[i]);
		redisAsyncCommandArgv(r->rds.cmd, rds_log_cb, (void *)"HSET rtt",
		    (int)(2 * n + 2), argv, len);
		free(argv);
		free(len);
		redisAsyncCommand(r->rds.cmd, rds_log_cb, (void *)"PEXPIRE rtt",
		    "PEXPIRE %s 5000", key);
	}
	redisAsyncCommand(r->rds.cmd, rds_log_cb, (void *)"EXEC", "EXEC");
}

void
rds_heartbeat(struct relay *r)
{
	struct conn *c;

	if (r->rds.state != RDS_UP)
		return;
	rds_alive(r);
	room_rtt_report(r);
	for (c = r->open.head; c != NULL && !c->present; c = c->next)
		;
	if (c != NULL && !r->rds.recounting)
		redisAsyncCommand(r->rds.cmd, rds_conns_cb, (void *)r->rds.recount_gen,
		    "EXISTS " RKEY_RELAY_CONNS "%s", r->id);
}

/* The relay's old counts (HGETALL of its conns hash), after Redis came
 * back: each is taken back, then every open listener is counted again.
 * privdata: NULL. A NULL reply (the connection went again) does nothing;
 * the next rds_up() starts over. */
static void
rds_recount_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	struct relay *r = rds_relay(ac);
	redisReply *reply = rep;
	char code[CODE_LEN + 1];
	int64_t uid, n;
	size_t i;

	(void)priv;
	r->rds.recounting = 0;
	r->rds.recount_gen++;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
		return;
	for (i = 0; i + 1 < reply->elements; i += 2)
		if (presence_field_parse(reply->element[i]->str, reply->element[i]->len, code,
		    &uid) == 0 && (n = strtoll(reply->element[i + 1]->str, NULL, 10)) > 0)
			rds_presence(r, code, uid, (int)-n);
	conn_presence_all(r);
}

/* Registers the relay and its heartbeat, and recounts its listeners. */
static void
rds_register(struct relay *r)
{
	rds_alive(r);
	r->rds.recounting = 1;
	redisAsyncCommand(r->rds.cmd, rds_recount_cb, NULL, "HGETALL " RKEY_RELAY_CONNS "%s",
	    r->id);
}

int
rds_unsubscribe(struct relay *r, const char *code)
{
	struct rds *d = &r->rds;

	if (d->state != RDS_UP)
		return -1;
	return redisAsyncCommand(d->sub, NULL, NULL, "UNSUBSCRIBE " RKEY_EVENTS "%s",
	    code) == REDIS_OK ? 0 : -1;
}

/* At exit: frees both contexts (pending lookups are called back with NULL)
 * and closes the timers. r->stopping is set, so nothing reconnects. */
void
rds_stop(struct relay *r)
{
	struct rds *d = &r->rds;

	rds_fail(r, "stopping");
	uv_close((uv_handle_t *)&d->retry, NULL);
	uv_close((uv_handle_t *)&d->watchdog, NULL);
	free(d->path);
	free(d->host);
	d->path = d->host = NULL;
}
