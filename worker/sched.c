/*
 * sched.c - the playback state machine of a room (see sched.h). Every start
 * is scheduled lead_us ahead so every client hears it at the same instant;
 * every hold (pause, stop, a move while not playing) takes effect at now.
 * All time arithmetic saturates at the int64_t range instead of overflowing.
 *
 * Rules, with "the item" being the anchor's item, or the first item of the
 * playlist when the anchor has none or its item left the playlist (the room
 * then counts as stopped at position 0 of that first item):
 *   play   stopped: the item from 0; paused: from the paused position;
 *          playing: unchanged. Starts at now + lead.
 *   pause  playing: paused at the position reached at now (clamped to
 *          [0, duration]; before at_us the position has not moved yet);
 *          paused or stopped: unchanged.
 *   stop   stopped at position 0 of the item (unchanged if already so).
 *   next   the following item at 0 in the same state; on the last, the
 *          first with repeat all, else refused (repeat one only repeats
 *          at an item's natural end: next still skips).
 *   prev   the preceding item at 0 in the same state; on the first, the
 *          last with repeat all, else it restarts.
 *   seek   the position clamped to [0, duration]; playing keeps playing,
 *          paused or stopped becomes paused there. A relative seek moves
 *          by offset_us from the position the item would have when the
 *          new anchor takes effect (now + lead when playing, now else).
 *   resume paused: from the paused position at now + lead; playing:
 *          unchanged; stopped: refused ("nothing to resume").
 *   jump   the given item from 0, playing, at now + lead; refused with 404
 *          when it is not in the playlist.
 *   reload see sched_reload(): moves only when the anchor's item left.
 * With an empty playlist only stop (to no item), a pause that changes
 * nothing and reload apply; jump is refused with 404, the rest with 409.
 *
 * "Following", "preceding", "first" and "last" are in play order: the
 * playlist's, or with shuffle on the order of (sched_shuffle_key(seed,
 * item_id), item_id). The order, and what follows an item's natural end,
 * live in common/sched_order.c (shared with tutti-api); they walk it with
 * O(n) scans, never sorted, so sched still allocates nothing.
 */
#include "sched.h"

#include <string.h>

static const char *const sched_names[] = {
	"play", "pause", "stop", "next", "prev", "seek", "resume", "jump", "reload"
};

#define SCHED_NACTIONS (sizeof(sched_names) / sizeof(sched_names[0]))

const char *
sched_action_name(enum sched_action a)
{
	return (unsigned)a < SCHED_NACTIONS ? sched_names[a] : "?";
}

int
sched_action_parse(const char *name, enum sched_action *a)
{
	size_t i;

	for (i = 0; i < SCHED_NACTIONS; i++)
		if (strcmp(name, sched_names[i]) == 0) {
			*a = (enum sched_action)i;
			return 0;
		}
	return -1;
}

static int64_t
sched_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t
sched_sub(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t
sched_clamp(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

int64_t
sched_position_at(const struct anchor *a, int64_t t_us)
{
	if (a->state != ANCHOR_PLAYING || t_us <= a->at_us)
		return a->position_us;
	return sched_add(a->position_us, sched_sub(t_us, a->at_us));
}

int64_t
sched_end_us(const struct anchor *a, int64_t duration_us)
{
	int64_t left = sched_sub(duration_us > 0 ? duration_us : 0, a->position_us);

	return sched_add(a->at_us, left > 0 ? left : 0);
}

int
sched_anchor_eq(const struct anchor *a, const struct anchor *b)
{
	/* A paused or stopped anchor holds still: when it was taken does not
	 * change what anyone hears, so it does not make a change. */
	return a->state == b->state && a->item_id == b->item_id &&
	    a->track_id == b->track_id && a->position_us == b->position_us &&
	    (a->state != ANCHOR_PLAYING || a->at_us == b->at_us);
}

static int
sched_refuse_as(struct sched_refusal *why, int status, const char *title,
    const char *detail)
{
	why->status = status;
	why->title = title;
	why->detail = detail;
	return why->status;
}

static int
sched_refuse(struct sched_refusal *why, const char *title, const char *detail)
{
	return sched_refuse_as(why, 409, title, detail);
}

/* Returns when an anchor in state st takes effect: now + lead for a
 * playing one, now for any other. */
static int64_t
sched_effect_us(const struct sched_ctx *ctx, enum anchor_state st)
{
	int64_t lead = ctx->lead_us > 0 ? ctx->lead_us : 0;

	return st == ANCHOR_PLAYING ? sched_add(ctx->now_us, lead) : ctx->now_us;
}

/* Puts item idx at pos (clamped to its duration) in state st: a playing
 * anchor starts at now + lead, any other holds from now. */
static void
sched_place(const struct sched_ctx *ctx, size_t idx, enum anchor_state st,
    int64_t pos, struct anchor *out)
{
	const struct sched_item *it = &ctx->items[idx];

	out->state = st;
	out->item_id = it->item_id;
	out->track_id = it->track_id;
	out->position_us = sched_clamp(pos, 0, sched_duration(it));
	out->at_us = sched_effect_us(ctx, st);
}

/* Stops the room on the first item (in play order) at 0, or on no item when the playlist
 * is empty, from now. */
static void
sched_stop_first(const struct sched_ctx *ctx, struct anchor *out)
{
	if (ctx->n > 0) {
		sched_place(ctx, (size_t)sched_edge(ctx, 0), ANCHOR_STOPPED, 0, out);
		return;
	}
	memset(out, 0, sizeof(*out));
	out->state = ANCHOR_STOPPED;
	out->at_us = ctx->now_us;
}

/* Resolves cur against a non-empty playlist. Returns the index of the item
 * and stores in *base the anchor the command applies to: cur itself, or a
 * stopped anchor at 0 on the first item (in play order) when cur's item is
 * not listed. */
static size_t
sched_base(const struct sched_ctx *ctx, const struct anchor *cur, struct anchor *base)
{
	long idx = sched_find(ctx, cur->item_id);

	*base = *cur;
	if (idx >= 0) {
		base->track_id = ctx->items[idx].track_id;
		return (size_t)idx;
	}
	idx = sched_edge(ctx, 0);
	base->state = ANCHOR_STOPPED;
	base->item_id = ctx->items[idx].item_id;
	base->track_id = ctx->items[idx].track_id;
	base->position_us = 0;
	return (size_t)idx;
}

/* next (back 0) or prev (back 1) from base, item idx: see the rules at
 * the top. */
static int
sched_skip(const struct sched_ctx *ctx, size_t idx, const struct anchor *base, int back,
    struct anchor *out, struct sched_refusal *why)
{
	long to = sched_step(ctx, idx, back);

	if (to < 0 && ctx->repeat == SCHED_REPEAT_ALL)
		to = sched_edge(ctx, back);
	if (to < 0 && back)
		to = (long)idx;		/* prev on the first restarts it */
	if (to < 0)
		return sched_refuse(why, "no next item", "the current item is the last of "
		    "the playlist and repeat is not \"all\"");
	sched_place(ctx, (size_t)to, base->state, 0, out);
	return 0;
}

static int
sched_apply_empty(const struct sched_ctx *ctx, const struct anchor *cur,
    const struct sched_cmd *cmd, struct anchor *out, struct sched_refusal *why)
{
	if (cmd->action == SCHED_STOP) {
		sched_stop_first(ctx, out);
		return 0;
	}
	if (cmd->action == SCHED_PAUSE && cur->state != ANCHOR_PLAYING) {
		*out = *cur;
		return 0;
	}
	return sched_refuse(why, "empty playlist", "the room's playlist has no items");
}

/* A seek of base (item idx): to cmd's absolute position, or by its offset
 * from the position heard when the new anchor takes effect. */
static void
sched_seek(const struct sched_ctx *ctx, size_t idx, const struct anchor *base,
    const struct sched_cmd *cmd, struct anchor *out)
{
	enum anchor_state st = base->state == ANCHOR_PLAYING ? ANCHOR_PLAYING :
	    ANCHOR_PAUSED;
	int64_t pos = cmd->position_us;

	if (cmd->relative)
		pos = sched_add(sched_position_at(base, sched_effect_us(ctx, st)),
		    cmd->offset_us);
	sched_place(ctx, idx, st, pos, out);
}

/* resume of base (item idx): see the rules at the top. */
static int
sched_resume(const struct sched_ctx *ctx, size_t idx, const struct anchor *base,
    struct anchor *out, struct sched_refusal *why)
{
	if (base->state == ANCHOR_STOPPED)
		return sched_refuse(why, "nothing to resume",
		    "the room is stopped, not paused; play starts it");
	if (base->state == ANCHOR_PLAYING)
		*out = *base;
	else
		sched_place(ctx, idx, ANCHOR_PLAYING, base->position_us, out);
	return 0;
}

/* jump to item_id from 0, playing; 404 when it is not listed. */
static int
sched_jump(const struct sched_ctx *ctx, int64_t item_id, struct anchor *out,
    struct sched_refusal *why)
{
	long idx = sched_find(ctx, item_id);

	if (idx < 0)
		return sched_refuse_as(why, 404, "no such item",
		    "the item is gone from the playlist");
	sched_place(ctx, (size_t)idx, ANCHOR_PLAYING, 0, out);
	return 0;
}

int
sched_reload(const struct sched_ctx *ctx, const struct anchor *cur, int64_t item_id,
    struct anchor *out)
{
	long idx;

	if (cur->item_id == 0 || sched_find(ctx, cur->item_id) >= 0) {
		*out = *cur;
		return 0;
	}
	if ((idx = sched_find(ctx, item_id)) >= 0)
		sched_place(ctx, (size_t)idx, cur->state, 0, out);
	else
		sched_stop_first(ctx, out);
	return 1;
}

int
sched_apply(const struct sched_ctx *ctx, const struct anchor *cur,
    const struct sched_cmd *cmd, struct anchor *out, struct sched_refusal *why)
{
	struct anchor base;
	size_t idx;

	if (cmd->action == SCHED_RELOAD) {
		(void)sched_reload(ctx, cur, cmd->item_id, out);
		return 0;
	}
	if (cmd->action == SCHED_JUMP)
		return sched_jump(ctx, cmd->item_id, out, why);
	if (ctx->n == 0)
		return sched_apply_empty(ctx, cur, cmd, out, why);
	idx = sched_base(ctx, cur, &base);
	switch (cmd->action) {
	case SCHED_PLAY:
		if (base.state == ANCHOR_PLAYING)
			*out = base;
		else
			sched_place(ctx, idx, ANCHOR_PLAYING,
			    base.state == ANCHOR_PAUSED ? base.position_us : 0, out);
		return 0;
	case SCHED_PAUSE:
		if (base.state != ANCHOR_PLAYING)
			*out = base;
		else
			sched_place(ctx, idx, ANCHOR_PAUSED,
			    sched_position_at(&base, ctx->now_us), out);
		return 0;
	case SCHED_STOP:
		if (base.state == ANCHOR_STOPPED && base.position_us == 0)
			*out = base;
		else
			sched_place(ctx, idx, ANCHOR_STOPPED, 0, out);
		return 0;
	case SCHED_NEXT:
	case SCHED_PREV:
		return sched_skip(ctx, idx, &base, cmd->action == SCHED_PREV, out, why);
	case SCHED_SEEK:
		sched_seek(ctx, idx, &base, cmd, out);
		return 0;
	case SCHED_RESUME:
		return sched_resume(ctx, idx, &base, out, why);
	case SCHED_JUMP:
	case SCHED_RELOAD:
		break;		/* handled above */
	}
	return sched_refuse(why, "unknown action", "the action is not one sched knows");
}

int
sched_has_next(const struct sched_ctx *ctx, const struct anchor *cur)
{
	long idx = sched_find(ctx, cur->item_id);

	if (idx < 0)
		return ctx->n > 0;
	return sched_after(ctx, (size_t)idx) >= 0;
}

int
sched_advance(const struct sched_ctx *ctx, const struct anchor *cur,
    struct anchor *out, struct sched_refusal *why)
{
	long idx = sched_find(ctx, cur->item_id), to;
	int64_t end;

	if (cur->state != ANCHOR_PLAYING)
		return sched_refuse(why, "not playing", "only a playing item can end");
	if (idx < 0) {
		if (ctx->n > 0)
			sched_place(ctx, (size_t)sched_edge(ctx, 0), ANCHOR_PLAYING, 0, out);
		else
			sched_stop_first(ctx, out);
		return 0;
	}
	end = sched_end_us(cur, ctx->items[idx].duration_us);
	to = sched_after(ctx, (size_t)idx);
	out->state = to >= 0 ? ANCHOR_PLAYING : ANCHOR_STOPPED;
	if (to < 0)
		to = sched_edge(ctx, 0);
	out->item_id = ctx->items[to].item_id;
	out->track_id = ctx->items[to].track_id;
	out->position_us = 0;
	out->at_us = end;
	return 0;
}

int64_t
sched_skip_cycles(const struct sched_ctx *ctx, struct anchor *a)
{
	long idx = sched_find(ctx, a->item_id);
	uint64_t behind, k;
	int64_t cycle;

	if (a->state != ANCHOR_PLAYING || idx < 0 || ctx->repeat == SCHED_REPEAT_OFF)
		return 0;
	cycle = ctx->repeat == SCHED_REPEAT_ONE ? sched_duration(&ctx->items[idx]) :
	    sched_total_us(ctx);
	if (cycle <= 0 || ctx->now_us <= a->at_us)
		return 0;
	/* Unsigned: now - at_us is exact below 2^64, and at_us + k * cycle
	 * lands in (now - cycle, now], inside the int64_t range. */
	behind = (uint64_t)ctx->now_us - (uint64_t)a->at_us;
	k = behind / (uint64_t)cycle;
	a->at_us = (int64_t)((uint64_t)a->at_us + k * (uint64_t)cycle);
	return k > INT64_MAX ? INT64_MAX : (int64_t)k;
}

int64_t
sched_fire_us(const struct sched_ctx *ctx, const struct anchor *a)
{
	long idx = sched_find(ctx, a->item_id);
	int64_t end = sched_end_us(a, idx >= 0 ? ctx->items[idx].duration_us : 0);

	if (!sched_has_next(ctx, a))
		return end;
	return sched_sub(end, ctx->lead_us > 0 ? ctx->lead_us : 0);
}
