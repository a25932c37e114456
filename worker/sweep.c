/*
 * sweep.c - admin promotion, idle close and the purge of rooms closed
 * longer than the retention (see sweep.h). The API records
 * when a room lost its admin (rooms.admin_lost_us) and when it became empty
 * (rooms.empty_since_us); the worker acts once the grace period or the idle
 * time has passed. Every transaction re-checks its condition, since the API
 * may have changed the room after the candidate query.
 */
#include "sweep.h"
#include "clock.h"
#include "log.h"
#include "publish.h"
#include "relays.h"
#include "rooms.h"
#include "store.h"
#include "worker.h"

#include <stdio.h>

#define SWEEP_BATCH 32		/* rooms of one kind per pass */

/* Returns t - d, saturating at INT64_MIN. */
static int64_t
sweep_before(int64_t t, int64_t d)
{
	int64_t r;

	return __builtin_sub_overflow(t, d, &r) ? INT64_MIN : r;
}

/* Promotes the longest-present user of a room whose admin has been gone
 * (left, or offline) since due_us or earlier: one who is online if any,
 * else the longest-present member; an admin who is present but offline
 * becomes a member. Returns 0, or -1 on a database error (logged). */
static int
sweep_promote(struct worker *w, int64_t room_id, int64_t due_us, int64_t now_us)
{
	struct store *st = w->store;
	struct store_room room;
	struct store_user u, prev;
	int64_t seq_role, seq_chat, chat_id;
	char text[STORE_NAME_MAX + 32];
	int rc, demoted;

	if (store_begin(st, 1) != 0)
		return -1;
	if ((rc = store_room_admin_due(st, room_id, due_us, &room)) != 0 ||
	    (rc = store_eldest(st, room_id, &u)) != 0 || (u.admin && !u.online)) {
		/* Not due any more, nobody present, or only the offline admin:
		 * the mark stays, and a later pass promotes whoever joins. */
		store_rollback(st);
		return rc < 0 ? -1 : 0;
	}
	if (u.admin) {
		/* An admin is present and online after all: only the mark goes. */
		if (store_make_admin(st, room_id, 0) != 0 || store_commit(st) != 0)
			goto fail;
		return 0;
	}
	snprintf(text, sizeof(text), "%s is now the admin", u.name);
	if ((demoted = store_demote(st, room_id, u.id, &prev)) < 0 ||
	    store_make_admin(st, room_id, u.id) != 0 ||
	    store_bump(st, room_id, NULL, &seq_role) != 0 ||
	    store_chat_system(st, room_id, text, now_us, &chat_id) != 0 ||
	    store_bump(st, room_id, NULL, &seq_chat) != 0 || store_commit(st) != 0)
		goto fail;
	log_info("room %s: user %lld (%s, %s) promoted to admin (seq %lld)%s", room.code,
	    (long long)u.id, u.name, u.online ? "online" : "offline", (long long)seq_role,
	    demoted ? "; the offline admin is a member now" : "");
	if (demoted)
		publish_session_role(w, prev.token_hash, "member");
	publish_session_role(w, u.token_hash, "admin");
	publish_promoted(w, room.code, seq_role, &u, demoted ? &prev : NULL);
	publish_chat_system(w, room.code, seq_chat, chat_id, text, now_us);
	w->stats.promotions++;
	return 0;
fail:
	store_rollback(st);
	return -1;
}

/* Closes a room empty since due_us or earlier. Returns 0, or -1 on a
 * database error (logged). */
static int
sweep_close_idle(struct worker *w, int64_t room_id, int64_t due_us, int64_t now_us)
{
	struct store *st = w->store;
	struct store_room room;
	int rc;

	if (store_begin(st, 1) != 0)
		return -1;
	if ((rc = store_close_idle(st, room_id, due_us, now_us, &room)) != 0) {
		store_rollback(st);
		return rc < 0 ? -1 : 0;
	}
	if (store_commit(st) != 0)
		return -1;
	log_info("room %s: closed, empty for longer than %lld s (seq %lld)", room.code,
	    (long long)(w->cfg.idle_us / 1000000), (long long)room.seq);
	rooms_forget(w, room_id);
	publish_room_closed(w, room.code, room.seq, "idle");
	w->stats.closed_idle++;
	return 0;
}

/* Deletes a room closed at due_us or earlier with all its rows. Returns 0,
 * or -1 on a database error (logged). */
static int
sweep_purge(struct worker *w, int64_t room_id, int64_t due_us, int64_t now_us)
{
	struct store *st = w->store;
	char code[16];
	int64_t rows;
	int rc;

	(void)now_us;
	if (store_begin(st, 1) != 0)
		return -1;
	if ((rc = store_purge_room(st, room_id, due_us, code, sizeof(code), &rows)) != 0) {
		store_rollback(st);
		return rc < 0 ? -1 : 0;
	}
	if (store_commit(st) != 0)
		return -1;
	log_info("room %s: purged, closed for longer than %lld s (%lld rows)", code,
	    (long long)(w->cfg.retain_us / 1000000), (long long)rows);
	w->stats.purged++;
	return 0;
}

typedef int sweep_fn(struct worker *w, int64_t room_id, int64_t due_us, int64_t now_us);

/* One batch of one kind from *cur on (store_due() moves it). */
static void
sweep_kind(struct worker *w, enum store_due_kind kind, int64_t due_us, int64_t now_us,
    struct store_cursor *cur, sweep_fn *fn)
{
	int64_t ids[SWEEP_BATCH];
	size_t n, i;

	if (store_due(w->store, kind, due_us, cur, ids, SWEEP_BATCH, &n) != 0)
		return;
	for (i = 0; i < n; i++)
		if (fn(w, ids[i], due_us, now_us) != 0)
			log_err("room %lld: sweep failed on the database; a later pass retries",
			    (long long)ids[i]);
}

void
sweep_run(struct worker *w, int64_t now_us)
{
	struct sweep *sw = &w->sweep;

	if (!worker_active(w))
		return;
	sweep_kind(w, STORE_DUE_ADMIN, sweep_before(now_us, w->cfg.grace_us), now_us,
	    &sw->admin, sweep_promote);
	sweep_kind(w, STORE_DUE_IDLE, sweep_before(now_us, w->cfg.idle_us), now_us,
	    &sw->idle, sweep_close_idle);
	if (w->cfg.retain_us > 0)
		sweep_kind(w, STORE_DUE_PURGE, sweep_before(now_us, w->cfg.retain_us), now_us,
		    &sw->purge, sweep_purge);
	relays_check(w);
}

/* libuv timer callback; t->data is the worker. */
static void
sweep_on_timer(uv_timer_t *t)
{
	struct worker *w = t->data;

	sweep_run(w, clock_now_us());
}

int
sweep_init(struct worker *w)
{
	w->sweep.admin = (struct store_cursor){ INT64_MIN, 0 };
	w->sweep.idle = (struct store_cursor){ INT64_MIN, 0 };
	w->sweep.purge = (struct store_cursor){ INT64_MIN, 0 };
	w->sweep.timer.data = w;
	return uv_timer_init(&w->loop, &w->sweep.timer);
}

void
sweep_start(struct worker *w)
{
	uv_timer_start(&w->sweep.timer, sweep_on_timer, (uint64_t)w->cfg.sweep_ms,
	    (uint64_t)w->cfg.sweep_ms);
}

void
sweep_close(struct worker *w)
{
	if (!uv_is_closing((uv_handle_t *)&w->sweep.timer))
		uv_close((uv_handle_t *)&w->sweep.timer, NULL);
}
