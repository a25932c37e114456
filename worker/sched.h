/*
 * sched.h - the playback timeline of one room as a pure state machine.
 * Given a room's anchor (common/anchor.h), its playlist and a control command,
 * sched computes the next anchor or a refusal; no I/O, no clock, no allocation.
 * The worker feeds it from SQLite and the command stream (worker/apply.c).
 * The play order, the playlist types and what follows an item's end are in
 * common/sched_order.h, shared with tutti-api.
 */
#ifndef TUTTI_SCHED_H
#define TUTTI_SCHED_H

#include "anchor.h"
#include "sched_order.h"

#include <stddef.h>
#include <stdint.h>

enum sched_action {
	SCHED_PLAY, SCHED_PAUSE, SCHED_STOP, SCHED_NEXT, SCHED_PREV, SCHED_SEEK,
	SCHED_RESUME, SCHED_JUMP, SCHED_RELOAD
};

struct sched_cmd {
	enum sched_action action;
	int64_t position_us;	/* SCHED_SEEK, absolute */
	int64_t offset_us;	/* SCHED_SEEK when relative: added to the position */
	int relative;		/* SCHED_SEEK: offset_us applies, not position_us */
	int64_t item_id;	/* SCHED_JUMP: the item; SCHED_RELOAD: where to go
				 * when the anchor's item left (0: nowhere), which
				 * apply.c looks up itself (store_successor) */
};

/* Why a command cannot apply. The strings are static. */
struct sched_refusal {
	int status;		/* HTTP-like: 409, or 404 for an item gone */
	const char *title;
	const char *detail;
};

/* Returns the wire name of an action ("play", ...), or "?" when out of range. */
const char *sched_action_name(enum sched_action a);

/* Parses a wire action name. Returns 0 and sets *a, or -1 when unknown. */
int sched_action_parse(const char *name, enum sched_action *a);

/* Returns the position of a's item at server time t_us: position_us while not
 * playing or before at_us, else position_us + (t_us - at_us), saturating at
 * INT64_MAX/INT64_MIN instead of overflowing. Not clamped to the duration. */
int64_t sched_position_at(const struct anchor *a, int64_t t_us);

/* Returns the server time at which a's item (lasting duration_us) ends if it
 * plays from the anchor: at_us + max(0, duration_us - position_us), saturated.
 * Meaningful for playing anchors; for others it is the end if resumed at at_us. */
int64_t sched_end_us(const struct anchor *a, int64_t duration_us);

/* Applies cmd to the anchor cur (see the rules in sched.c). Returns 0 and
 * stores the new anchor in *out (possibly identical to *cur: a no-op), or
 * returns the refusal status (409, or 404 for a jump to an item that is not
 * in the playlist) with *why filled and *out untouched. SCHED_RELOAD is
 * sched_reload() and is never refused. out may alias cur. */
int sched_apply(const struct sched_ctx *ctx, const struct anchor *cur,
    const struct sched_cmd *cmd, struct anchor *out, struct sched_refusal *why);

/* The decision after the playlist changed (a "reload" command): when cur's
 * item is still listed, or cur has no item, *out = *cur and 0 is returned.
 * Otherwise *out moves and 1 is returned: to item_id at position 0 in cur's
 * state (playing starts at now + lead, the others hold from now) when
 * item_id is listed, else stopped at 0 on the first item, or on no item when
 * the playlist is empty. out may alias cur. */
int sched_reload(const struct sched_ctx *ctx, const struct anchor *cur, int64_t item_id,
    struct anchor *out);

/* The automatic step at the end of cur's item (cur must be playing): the next
 * item in play order at position 0, playing from exactly the end of the
 * current one (gapless); with repeat one the same item again (unless it
 * lasts 0), with repeat all the first after the last (unless the whole
 * playlist lasts 0); otherwise, after the last item, stopped on the first
 * item at position 0 with at_us = that end. When cur's item left the
 * playlist, the first item plays from now + lead (or the room stops with no
 * item if the playlist is empty). Returns 0 with *out set, or 409 with *why
 * when cur is not playing. out may alias cur. */
int sched_advance(const struct sched_ctx *ctx, const struct anchor *cur,
    struct anchor *out, struct sched_refusal *why);

/* Returns 1 when sched_advance(ctx, cur) would start an item playing (there
 * is an item after cur's in play order, a repeat applies, or cur's item left
 * a non-empty playlist), 0 when it would stop the room. The worker
 * schedules the first case lead_us early and the second exactly at the end. */
int sched_has_next(const struct sched_ctx *ctx, const struct anchor *cur);

/* Returns the server time at which the end of a's item (a playing) should be
 * applied: lead_us before the end when sched_advance would start another
 * item, so clients learn its at_us before it starts; exactly at the end when
 * it stops the room. Saturating. */
int64_t sched_fire_us(const struct sched_ctx *ctx, const struct anchor *a);

/* For a playing anchor that repeats (repeat one, or repeat all) and lies
 * whole cycles behind ctx->now_us (a worker was down for long): moves at_us
 * forward by as many whole cycles (the item's length, or the playlist's) as
 * fit, which leaves the timeline as heard unchanged, so that at most n + 1
 * sched_advance() steps remain. Returns the number of cycles skipped (0: a
 * untouched). Saturating. */
int64_t sched_skip_cycles(const struct sched_ctx *ctx, struct anchor *a);

/* Returns 1 when a and b are the same anchor, else 0: all fields equal,
 * except at_us, which only counts while playing (a paused or stopped anchor
 * taken at another instant sounds the same). */
int sched_anchor_eq(const struct anchor *a, const struct anchor *b);

#endif
