/*
 * apply.c - the three ways a room's timeline changes (see apply.h). The
 * stream id of every applied command is stored in rooms.last_cmd in the
 * same transaction as the anchor, so an entry delivered twice (a crash
 * between COMMIT and XACK) is answered again but applied once.
 */
#include "apply.h"
#include "clock.h"
#include "entry.h"
#include "lead.h"
#include "log.h"
#include "publish.h"
#include "roles.h"
#include "rooms.h"
#include "sched.h"
#include "stats.h"
#include "store.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>

#define APPLY_RETRY_MS 1000

/* What a command did, decided inside its transaction. */
struct apply_out {
	enum apply_kind kind;
	struct sched_refusal why;	/* APPLY_REFUSED */
	struct store_room room;
	struct anchor a;		/* the anchor in effect afterwards */
	int64_t seq;			/* the room's seq afterwards */
	int64_t fire_us;		/* APPLY_CHANGED: sched_fire_us() of a */
	int64_t next_item_id;		/* sched_next_item() of a (0: none) */
};

/* The adaptive lead table of the worker (lead.h), or NULL while the worker
 * runs without one: then every room gets the fixed lead, cfg.lead_us. */
static const struct lead *
apply_leads(const struct worker *w)
{
	return &w->lead;
}

/* Fills ctx with the playlist just loaded into w->pl, room's repeat and
 * shuffle settings, its lead and the time now. */
static void
apply_ctx(const struct worker *w, const struct store_room *room, struct sched_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->items = w->pl.v;
	ctx->n = w->pl.n;
	ctx->now_us = clock_now_us();
	ctx->lead_us = lead_room_us(apply_leads(w), room->code, w->cfg.lead_us);
	ctx->repeat = room->repeat;
	ctx->shuffle = room->shuffle;
	ctx->seed = room->seed;
}

/* Loads the open room of e into out inside the transaction. Returns 0; 1
 * when the command is refused (out->why set); -1 on a database error. */
static int
apply_room(struct worker *w, const struct entry *e, struct apply_out *out)
{
	int rc = store_room_by_code(w->store, e->room, &out->room);

	if (rc != 0 || !out->room.closed)
		return rc;
	out->why.status = 409;
	out->why.title = "room closed";
	out->why.detail = "the room has been closed";
	return 1;
}

/* Decides e and commits its effect. Returns 0 with *out filled, or -1 on a
 * database error (rolled back). */
static int
apply_decide(struct worker *w, const struct entry *e, struct apply_out *out)
{
	struct sched_ctx ctx;
	struct sched_cmd cmd;
	struct anchor cur;
	int rc;

	memset(out, 0, sizeof(*out));
	out->why = (struct sched_refusal){ 404, "no such room", "no room has this code" };
	if (store_begin(w->store, 1) != 0)
		return -1;
	if ((rc = apply_room(w, e, out)) != 0) {
		store_rollback(w->store);
		out->kind = APPLY_REFUSED;
		return rc < 0 ? -1 : 0;
	}
	if (store_anchor(w->store, out->room.id, &cur) != 0 ||
	    store_playlist(w->store, out->room.id, &w->pl) != 0)
		goto fail;
	out->a = cur;
	out->seq = out->room.seq;
	apply_ctx(w, &out->room, &ctx);
	if (entry_id_seen(e->id, out->room.last_cmd)) {
		store_rollback(w->store);
		out->kind = APPLY_SKIPPED;
		out->next_item_id = sched_next_item(&ctx, &out->a);
		return 0;
	}
	cmd = e->cmd;
	if (cmd.action == SCHED_RELOAD && cur.item_id != 0 && sched_find(&ctx, cur.item_id) < 0 &&
	    store_successor(w->store, cur.item_id, &cmd.item_id) != 0)
		goto fail;
	if (sched_apply(&ctx, &cur, &cmd, &out->a, &out->why) != 0) {
		store_rollback(w->store);
		out->kind = APPLY_REFUSED;
		return 0;
	}
	out->kind = sched_anchor_eq(&cur, &out->a) ? APPLY_SAME : APPLY_CHANGED;
	if (out->kind == APPLY_SAME) {
		out->a = cur;	/* the answer names the anchor in effect */
		rc = store_mark(w->store, out->room.id, e->id);
	} else if ((rc = store_write(w->store, out->room.id, &out->a)) == 0)
		rc = store_bump(w->store, out->room.id, e->id, &out->seq);
	if (rc != 0 || store_commit(w->store) != 0)
		goto fail;
	out->fire_us = sched_fire_us(&ctx, &out->a);
	out->next_item_id = sched_next_item(&ctx, &out->a);
	return 0;
fail:
	store_rollback(w->store);
	return -1;
}

/* Returns the cause of the events a command makes: its action name, or
 * "playlist" for a reload. */
static const char *
apply_cause(enum sched_action a)
{
	return a == SCHED_RELOAD ? "playlist" : sched_action_name(a);
}

/* The timers after a command that was refused or changed nothing: a
 * reload drops them when the room is closed and re-arms them otherwise (the
 * item after the current one may have changed: the record takes the new
 * next_item_id, which the room's next beacon carries); other commands keep
 * them. */
static void
apply_timers(struct worker *w, const struct entry *e, const struct apply_out *out)
{
	struct room_state st = { out->room.id, out->room.code, out->a, "playlist",
	    out->fire_us, out->next_item_id };
	struct room *rec;

	if (e->cmd.action != SCHED_RELOAD)
		return;
	if (out->kind == APPLY_REFUSED) {
		if (out->room.closed) {
			log_info("room %s is closed: its timers go", e->room);
			rooms_forget(w, out->room.id);
		}
		return;
	}
	if ((rec = rooms_get(&w->rooms, out->room.id)) != NULL)
		st.cause = rec->cause;
	rooms_update(w, &st);
}

/* Publishes what apply_decide() did and answers the command (when it has a
 * req). */
static void
apply_answer(struct worker *w, const struct entry *e, const struct apply_out *out)
{
	const char *act = sched_action_name(e->cmd.action);
	const char *cause = apply_cause(e->cmd.action);
	struct room_state st = { out->room.id, out->room.code, out->a, cause, out->fire_us,
	    out->next_item_id };

	switch (out->kind) {
	case APPLY_REFUSED:
		log_info("room %s: %s by user %lld refused: %s", e->room, act,
		    (long long)e->user, out->why.title);
		apply_timers(w, e, out);
		if (e->req[0] != '\0')
			publish_reply_err(w, e->req, out->why.status, out->why.title,
			    out->why.detail);
		return;
	case APPLY_SKIPPED:
		log_info("room %s: entry %s was applied before (last %s); answering again",
		    e->room, e->id, out->room.last_cmd);
		/* Its event may never have left a worker that died after COMMIT:
		 * when it was the last change to the room, publish it again (a
		 * listener that saw it ignores the repeated seq). */
		if (strcmp(e->id, out->room.last_cmd) == 0 &&
		    out->room.last_cmd_seq == out->room.seq)
			publish_playback(w, out->room.code, out->seq, &out->a,
			    out->next_item_id, act);
		break;
	case APPLY_SAME:
		log_debug("room %s: %s by user %lld (entry %s) changes nothing", e->room, act,
		    (long long)e->user, e->id);
		apply_timers(w, e, out);
		break;
	case APPLY_CHANGED:
		log_debug("room %s: %s by user %lld (entry %s): seq %lld, %s item %lld at "
		    "%lld us from %lld", e->room, act, (long long)e->user, e->id,
		    (long long)out->seq, anchor_state_name(out->a.state),
		    (long long)out->a.item_id, (long long)out->a.position_us,
		    (long long)out->a.at_us);
		publish_playback(w, out->room.code, out->seq, &out->a, out->next_item_id,
		    cause);
		rooms_update(w, &st);
		break;
	}
	if (e->req[0] != '\0')
		publish_reply_ok(w, e->req, out->seq, &out->a, out->next_item_id);
}

void
apply_entry(struct worker *w, const redisReply *r)
{
	struct apply_out out;
	struct entry e;
	const char *why;
	int rc = entry_parse(r, &e, &why);

	if (rc == -2) {
		log_err("an entry without a usable id cannot be acknowledged: %s", why);
		return;
	}
	if (rc != 0) {
		log_info("entry %s is malformed: %s", e.id, why);
		if (e.req[0] != '\0')
			publish_reply_err(w, e.req, 400, "malformed command", why);
	} else if (e.kind == ENTRY_PRESENCE)
		(void)roles_apply(w, &e);	/* logs its own failure */
	else if (apply_decide(w, &e, &out) != 0) {
		log_err("room %s: %s (entry %s) failed on the database", e.room,
		    sched_action_name(e.cmd.action), e.id);
		if (e.req[0] != '\0')
			publish_reply_err(w, e.req, 503, "database unavailable",
			    "the command could not be applied; try again");
	} else {
		apply_answer(w, &e, &out);
		stats_command(&w->stats, out.kind, e.id, clock_now_us());
	}
	publish_ack(w, e.id);
}

/* Loads a room's anchor and playlist for its advance timer inside the
 * transaction. Returns 0 (playing), 1 (closed, gone or not playing: the
 * timers must go) or -1 (database error). */
static int
apply_advance_load(struct worker *w, int64_t room_id, struct store_room *room,
    struct anchor *cur)
{
	int rc = store_room_by_id(w->store, room_id, room);

	if (rc != 0)
		return rc;
	if (store_anchor(w->store, room_id, cur) != 0 ||
	    store_playlist(w->store, room_id, &w->pl) != 0)
		return -1;
	return room->closed || cur->state != ANCHOR_PLAYING;
}

void
apply_advance(struct worker *w, int64_t room_id)
{
	struct room *rec = rooms_get(&w->rooms, room_id);
	struct room_state st = { room_id, "", { 0 }, rec ? rec->cause : "advance", 0, 0 };
	struct store_room room;
	struct sched_refusal why;
	struct sched_ctx ctx;
	struct anchor cur;
	int64_t seq;
	int rc;

	if (store_begin(w->store, 1) != 0)
		goto retry;
	if ((rc = apply_advance_load(w, room_id, &room, &cur)) != 0) {
		if (rc < 0)
			goto fail;
		store_rollback(w->store);
		rooms_update(w, &st);	/* st.a is stopped: drops the timers */
		return;
	}
	apply_ctx(w, &room, &ctx);
	st.code = room.code;
	st.a = cur;
	st.next_item_id = sched_next_item(&ctx, &cur);
	if (ctx.now_us < (st.fire_us = sched_fire_us(&ctx, &cur))) {
		store_rollback(w->store);	/* not due (yet): re-arm */
		rooms_update(w, &st);
		return;
	}
	if (sched_advance(&ctx, &cur, &st.a, &why) != 0 ||
	    store_write(w->store, room_id, &st.a) != 0 ||
	    store_bump(w->store, room_id, NULL, &seq) != 0 || store_commit(w->store) != 0)
		goto fail;
	log_debug("room %s: advance: seq %lld, %s item %lld at %lld us from %lld", room.code,
	    (long long)seq, anchor_state_name(st.a.state), (long long)st.a.item_id,
	    (long long)st.a.position_us, (long long)st.a.at_us);
	st.next_item_id = sched_next_item(&ctx, &st.a);
	publish_playback(w, room.code, seq, &st.a, st.next_item_id, "advance");
	w->stats.advances++;
	st.cause = "advance";
	st.fire_us = sched_fire_us(&ctx, &st.a);
	rooms_update(w, &st);
	return;
fail:
	store_rollback(w->store);
retry:
	log_err("room %lld: cannot apply the end of its item; retrying in %d ms",
	    (long long)room_id, APPLY_RETRY_MS);
	rooms_defer(w, room_id, APPLY_RETRY_MS);
}

/* Moves a playing anchor past every item that ended before ctx->now_us:
 * whole repeat cycles at once, then at most one pass over the playlist.
 * Returns the number of steps taken (a skip of cycles counts as one). */
static size_t
apply_catch_up(const struct sched_ctx *ctx, struct anchor *a)
{
	struct sched_refusal why;
	size_t steps, skipped = sched_skip_cycles(ctx, a) > 0;
	long idx;

	for (steps = skipped; a->state == ANCHOR_PLAYING && steps <= ctx->n + skipped;
	    steps++) {
		idx = sched_find(ctx, a->item_id);
		if (sched_end_us(a, idx >= 0 ? ctx->items[idx].duration_us : 0) > ctx->now_us)
			break;
		if (sched_advance(ctx, a, a, &why) != 0)
			break;
	}
	return steps;
}

/* Restores one open room: catches its anchor up and arms its timers. */
static void
apply_restore_room(struct worker *w, const struct store_room *r)
{
	struct room_state st = { r->id, r->code, { 0 }, "restore", 0, 0 };
	struct sched_ctx ctx;
	int64_t seq;
	size_t steps;

	if (store_begin(w->store, 1) != 0)
		goto fail;
	if (store_anchor(w->store, r->id, &st.a) != 0 ||
	    store_playlist(w->store, r->id, &w->pl) != 0)
		goto fail;
	apply_ctx(w, r, &ctx);
	if ((steps = apply_catch_up(&ctx, &st.a)) > 0) {
		if (store_write(w->store, r->id, &st.a) != 0 ||
		    store_bump(w->store, r->id, NULL, &seq) != 0)
			goto fail;
		st.cause = "advance";
		log_info("room %s: %zu item end(s) passed while no worker ran; now %s item "
		    "%lld (seq %lld)", r->code, steps, anchor_state_name(st.a.state),
		    (long long)st.a.item_id, (long long)seq);
	}
	if (store_commit(w->store) != 0)
		goto fail;
	st.next_item_id = sched_next_item(&ctx, &st.a);
	if (steps > 0) {
		publish_playback(w, r->code, seq, &st.a, st.next_item_id, "advance");
		w->stats.advances++;
	}
	st.fire_us = sched_fire_us(&ctx, &st.a);
	rooms_update(w, &st);
	return;
fail:
	store_rollback(w->store);
	log_err("room %s: cannot restore its timeline", r->code);
}

int
apply_restore(struct worker *w)
{
	struct store_room *rooms = NULL;
	size_t n, i;

	if (store_open_rooms(w->store, &rooms, &n) != 0)
		return -1;
	for (i = 0; i < n; i++)
		apply_restore_room(w, &rooms[i]);
	free(rooms);
	log_info("restored %zu open room(s), %zu playing", n, w->rooms.count);
	return 0;
}

void
apply_rebuild(struct worker *w)
{
	struct store_room *rooms = NULL, room;
	struct sched_ctx ctx;
	struct anchor a;
	size_t n, i, done = 0;

	if (store_open_rooms(w->store, &rooms, &n) != 0)
		return;
	for (i = 0; i < n; i++) {
		if (store_begin(w->store, 0) != 0)
			break;
		if (store_room_by_id(w->store, rooms[i].id, &room) == 0 &&
		    store_anchor(w->store, room.id, &a) == 0 &&
		    store_playlist(w->store, room.id, &w->pl) == 0) {
			apply_ctx(w, &room, &ctx);
			publish_restore(w, room.id, room.code, room.seq, &a,
			    sched_next_item(&ctx, &a));
			done++;
		}
		store_rollback(w->store);	/* ends the read transaction */
	}
	free(rooms);
	log_info("rebuilt the Redis keys of %zu of %zu open room(s)", done, n);
}
