/*
 * sched_order.h - the play order of a room's playlist: playlist order, or
 * with shuffle on the order of a seeded 64-bit key, and which item follows
 * another at an item's natural end (repeat off, one, all). The half of the
 * playback state machine that tutti-api needs too: the worker's transitions
 * (worker/sched.h) and the API's room JSON both use this one implementation,
 * so next_item_id is the same wherever it is computed. Pure: no I/O, no
 * clock, no allocation.
 */
#ifndef TUTTI_SCHED_ORDER_H
#define TUTTI_SCHED_ORDER_H

#include "anchor.h"

#include <stddef.h>
#include <stdint.h>

/* The room's repeat setting (rooms.repeat_mode, sql/006_modes.sql). */
enum sched_repeat {
	SCHED_REPEAT_OFF,	/* after the last item the room stops */
	SCHED_REPEAT_ONE,	/* an item that ends starts again from 0 */
	SCHED_REPEAT_ALL	/* after the last item the first plays */
};

/* One playlist entry, in playlist order. */
struct sched_item {
	int64_t item_id;	/* playlist_items.id */
	int64_t track_id;
	int64_t duration_us;	/* tracks.duration_us; negative is read as 0 */
};

/* Everything about the room and the moment that a transition depends on.
 * The fields after lead_us may be left zero: repeat off, no shuffle. The
 * order functions below read only items, n, repeat, shuffle and seed. */
struct sched_ctx {
	const struct sched_item *items;	/* borrowed; may be NULL when n == 0 */
	size_t n;
	int64_t now_us;		/* server time of the decision */
	int64_t lead_us;	/* how far ahead a start is scheduled (>= 0); the
				 * room's adaptive lead (worker/lead.h) */
	enum sched_repeat repeat;
	int shuffle;		/* play in the order of sched_shuffle_key() */
	uint64_t seed;		/* rooms.shuffle_seed */
};

/* Returns the wire name of a repeat mode ("off", "one", "all"). */
const char *sched_repeat_name(enum sched_repeat r);

/* Parses a repeat mode name. Returns 0 and sets *r, or -1 when unknown
 * (NULL included). */
int sched_repeat_parse(const char *name, enum sched_repeat *r);

/* Returns the shuffle key of an item: a 64-bit mix of seed and item_id.
 * With shuffle on, the play order is the order of (key, item_id): stable
 * while the seed and the items stay, and an item added or removed does not
 * move the others relative to each other. */
uint64_t sched_shuffle_key(uint64_t seed, int64_t item_id);

/* Returns an item's length: its duration_us, or 0 when that is negative. */
int64_t sched_duration(const struct sched_item *it);

/* Returns the sum of the playlist's lengths, saturated at INT64_MAX. */
int64_t sched_total_us(const struct sched_ctx *ctx);

/* Returns the index of item_id in ctx's playlist, or -1 when it is absent
 * (item_id 0 is never present). */
long sched_find(const struct sched_ctx *ctx, int64_t item_id);

/* Returns the index of the item that plays first in play order (the last
 * when want_last), or -1 for an empty playlist. O(n). */
long sched_edge(const struct sched_ctx *ctx, int want_last);

/* Returns the index of the item that plays right after item idx in play
 * order (right before it when back), or -1 when idx is the last (the
 * first). No repeat applies. O(n). */
long sched_step(const struct sched_ctx *ctx, size_t idx, int back);

/* Returns the index of the item that plays when item idx ends on its own:
 * itself with repeat one (when it lasts), the next in play order, the first
 * after the last with repeat all (when the playlist lasts), or -1: the room
 * stops. A repeat over nothing that lasts would spin, so it stops instead. */
long sched_after(const struct sched_ctx *ctx, size_t idx);

/* Returns the item_id that the automatic advance (sched_advance() in
 * worker/sched.h) starts when cur's item ends, were cur playing: the item
 * of sched_after(), the first item in play order when cur's item is not in
 * a non-empty playlist, and 0 when the room would stop there, when the
 * playlist is empty, or when cur is stopped (nothing ends). */
int64_t sched_next_item(const struct sched_ctx *ctx, const struct anchor *cur);

/* Stores in order[0..n) the playlist indexes in play order (playlist order,
 * or by shuffle key when ctx->shuffle). For tests and diagnostics: sched
 * itself walks the order without allocating. */
void sched_order(const struct sched_ctx *ctx, size_t *order);

#endif
