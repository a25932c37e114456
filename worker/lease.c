/*
 * lease.c - the active/standby lease (see lease.h). One Lua script takes the
 * lease when it is free and renews it when it is ours, so taking and
 * renewing are the same compare-and-set; the monotonic clock bounds how
 * long a renewal stays good, so a worker that was paused or cut off stops
 * acting before anyone else may take over.
 */
#include "lease.h"
#include "apply.h"
#include "clock.h"
#include "log.h"
#include "publish.h"
#include "rkeys.h"
#include "rooms.h"
#include "store.h"
#include "worker.h"

#include <string.h>

#define LEASE_CLAIM_COUNT 1000	/* entries per XAUTOCLAIM */

/* KEYS[1] the lease, ARGV[1] our id, ARGV[2] lease_ms. Returns 1 when it
 * was ours and is renewed, 2 when it was free and is ours now, 0 when
 * another worker holds it. */
static const char lease_take_script[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end\n"
    "if v then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return 2\n";

/* KEYS[1] the lease, ARGV[1] our id: deletes it when it is ours. */
static const char lease_release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) end return 0";

int
lease_valid(const struct worker *w)
{
	const struct lease *l = &w->lease;

	return l->state == LEASE_ACTIVE && clock_mono_us() < l->valid_until;
}

/* Stops acting at once: the rooms' timers go, no entry is read or applied
 * any more (a blocking read in flight is cut off, so Redis delivers it
 * nothing new), and the liveness key goes when it is ours. */
static void
lease_stand_by(struct worker *w, const char *why)
{
	struct lease *l = &w->lease;

	if (l->state == LEASE_STANDBY)
		return;
	log_warn("lease: %s; standing by", why);
	l->state = LEASE_STANDBY;
	l->valid_until = 0;
	rooms_clear(&w->rooms);
	reader_rewind(w);
	if (w->reader.busy)
		rconn_kill(&w->rd);	/* its reply gets NULL; rd reconnects */
	if (w->wr.ready)
		publish_dead(w);
}

int
lease_check(struct worker *w)
{
	struct lease *l = &w->lease;

	if (l->state == LEASE_STANDBY)
		return 0;
	if (store_fenced(w->store)) {
		lease_stand_by(w, "another worker took the fencing token");
		return 0;
	}
	if (clock_mono_us() >= l->valid_until) {
		lease_stand_by(w, "the lease ran out before it could be renewed");
		return 0;
	}
	return l->state == LEASE_ACTIVE;
}

/* The claim is done: restores the rooms from SQLite, then reads. */
static void
lease_ready(struct worker *w)
{
	struct lease *l = &w->lease;

	l->state = LEASE_ACTIVE;
	if (store_fence_take(w->store, w->cfg.id, clock_now_us()) != 0) {
		lease_stand_by(w, "cannot take the fencing token in the database");
		return;
	}
	if (apply_restore(w) != 0) {
		lease_stand_by(w, "cannot read the rooms from the database");
		return;
	}
	apply_rebuild(w);
	publish_alive(w);
	reader_rewind(w);
	reader_kick(w);
	w->stats.takeovers++;
	log_info("lease: active, %zu pending entr%s claimed, set up in %lld ms", l->claimed,
	    l->claimed == 1 ? "y" : "ies", (long long)(clock_mono_us() - l->taken_us) / 1000);
}

static void lease_claim(struct worker *w);

/* hiredis callback of XAUTOCLAIM ... JUSTID: [cursor, [id ...], [deleted
 * id ...]]; the reply belongs to hiredis (NULL when the connection went:
 * lease_reconnected() starts over). privdata is the worker. */
static void
lease_on_claim(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct worker *w = privdata;
	struct lease *l = &w->lease;
	redisReply *r = reply;
	const redisReply *cur;

	(void)ac;
	if (r == NULL || l->state != LEASE_CLAIM || w->stopping)
		return;		/* lost, or from an activation given up */
	if (r->type == REDIS_REPLY_ERROR) {
		log_err("XAUTOCLAIM: %s", r->str);
		lease_stand_by(w, "cannot claim the pending entries");
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    (cur = r->element[0])->type != REDIS_REPLY_STRING || cur->len >= sizeof(l->cursor) ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		lease_stand_by(w, "XAUTOCLAIM: unexpected reply shape");
		return;
	}
	l->claimed += r->element[1]->elements;
	memcpy(l->cursor, cur->str, cur->len + 1);
	if (strcmp(l->cursor, "0-0") == 0)
		lease_ready(w);
	else
		lease_claim(w);
}

/* Claims the next batch of entries delivered to any consumer and never
 * acknowledged, whatever their idle time: while we hold the lease no other
 * worker acts on them. They become ours and the reader's pending phase
 * reads them in stream order before any new entry. */
static void
lease_claim(struct worker *w)
{
	struct lease *l = &w->lease;

	if (rconn_cmd(&w->wr, lease_on_claim, w, "XAUTOCLAIM " RKEY_CMD_STREAM " "
	    RKEY_CMD_GROUP " %s 0 %s COUNT %d JUSTID", w->cfg.id, l->cursor,
	    LEASE_CLAIM_COUNT) != 0)
		lease_stand_by(w, "Redis went away during the claim");
}

void
lease_group_ok(struct worker *w)
{
	struct lease *l = &w->lease;

	if (l->state != LEASE_GROUP)
		return;
	l->state = LEASE_CLAIM;
	l->claimed = 0;
	strcpy(l->cursor, "0-0");
	lease_claim(w);
}

/* The lease is ours from now on: sets up as the active worker. */
static void
lease_take(struct worker *w)
{
	struct lease *l = &w->lease;

	log_info("lease: taken by %s", w->cfg.id);
	l->state = LEASE_GROUP;
	l->taken_us = clock_mono_us();
	w->group_ok = 0;
	worker_group_create(w);
}

/* hiredis callback of the take-or-renew script; the reply belongs to
 * hiredis (NULL when the connection went). privdata is the worker. */
static void
lease_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct worker *w = privdata;
	struct lease *l = &w->lease;
	redisReply *r = reply;

	(void)ac;
	l->busy = 0;
	if (r == NULL || w->stopping)
		return;
	if (r->type != REDIS_REPLY_INTEGER) {
		log_err("lease: %s", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		(void)lease_check(w);
		return;
	}
	if (r->integer == 1 && l->state != LEASE_STANDBY) {
		l->valid_until = l->sent_us + w->cfg.lease_ms * 1000;
		return;
	}
	if (l->state != LEASE_STANDBY)
		lease_stand_by(w, r->integer == 0 ? "another worker holds the lease" :
		    "the lease was gone (Redis flushed or restarted?)");
	if (r->integer == 0)
		return;
	l->valid_until = l->sent_us + w->cfg.lease_ms * 1000;
	lease_take(w);
}

/* Sends the take-or-renew script (one at a time). */
static void
lease_send(struct worker *w)
{
	struct lease *l = &w->lease;
	int64_t now = clock_mono_us();

	if (w->stopping || l->busy || !w->wr.ready)
		return;
	if (rconn_cmd(&w->wr, lease_on_reply, w, "EVAL %s 1 " RKEY_WORKER_LEASE " %s %lld",
	    lease_take_script, w->cfg.id, (long long)w->cfg.lease_ms) != 0)
		return;
	l->busy = 1;
	l->sent_us = now;
}

/* libuv timer callback; t->data is the worker. */
static void
lease_on_timer(uv_timer_t *t)
{
	struct worker *w = t->data;

	(void)lease_check(w);
	lease_send(w);
}

void
lease_reconnected(struct worker *w)
{
	lease_stand_by(w, "reconnected to Redis, which may have lost everything");
	lease_send(w);
}

void
lease_release(struct worker *w)
{
	if (!w->wr.ready)
		return;
	if (rconn_cmd(&w->wr, NULL, NULL, "EVAL %s 1 " RKEY_WORKER_LEASE " %s",
	    lease_release_script, w->cfg.id) != 0)
		log_debug("lease release dropped: Redis is not connected");
	w->lease.state = LEASE_STANDBY;
}

int
lease_init(struct worker *w)
{
	memset(&w->lease, 0, sizeof(w->lease));
	w->lease.timer.data = w;
	return uv_timer_init(&w->loop, &w->lease.timer);
}

void
lease_start(struct worker *w)
{
	uint64_t ms = (uint64_t)w->cfg.lease_ms / 3;

	uv_timer_start(&w->lease.timer, lease_on_timer, ms, ms);
}

void
lease_close(struct worker *w)
{
	if (!uv_is_closing((uv_handle_t *)&w->lease.timer))
		uv_close((uv_handle_t *)&w->lease.timer, NULL);
}
