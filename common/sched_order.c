/*
 * sched_order.c - the play order of a room's playlist (see sched_order.h):
 * "first", "last", "following", "preceding" and what plays after an item's
 * natural end. With shuffle on the order is that of (sched_shuffle_key(seed,
 * item_id), item_id); it is walked with O(n) scans, never sorted, so nothing
 * here allocates. Linked by tutti-worker (worker/sched.c) and tutti-api.
 */
#include "sched_order.h"

#include <string.h>

static const char *const sched_repeat_names[] = { "off", "one", "all" };

#define SCHED_NREPEAT (sizeof(sched_repeat_names) / sizeof(sched_repeat_names[0]))

const char *
sched_repeat_name(enum sched_repeat r)
{
	return (unsigned)r < SCHED_NREPEAT ? sched_repeat_names[r] : "off";
}

int
sched_repeat_parse(const char *name, enum sched_repeat *r)
{
	size_t i;

	for (i = 0; name != NULL && i < SCHED_NREPEAT; i++)
		if (strcmp(name, sched_repeat_names[i]) == 0) {
			*r = (enum sched_repeat)i;
			return 0;
		}
	return -1;
}

/* The splitmix64 finalizer: a bijective 64-bit mix. */
static uint64_t
sched_mix(uint64_t z)
{
	z += UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

uint64_t
sched_shuffle_key(uint64_t seed, int64_t item_id)
{
	return sched_mix(seed ^ sched_mix((uint64_t)item_id));
}

int64_t
sched_duration(const struct sched_item *it)
{
	return it->duration_us > 0 ? it->duration_us : 0;
}

int64_t
sched_total_us(const struct sched_ctx *ctx)
{
	int64_t total = 0;
	size_t i;

	for (i = 0; i < ctx->n; i++)
		if (__builtin_add_overflow(total, sched_duration(&ctx->items[i]), &total))
			return INT64_MAX;	/* lengths are >= 0: only upwards */
	return total;
}

long
sched_find(const struct sched_ctx *ctx, int64_t item_id)
{
	size_t i;

	if (item_id == 0)
		return -1;
	for (i = 0; i < ctx->n; i++)
		if (ctx->items[i].item_id == item_id)
			return (long)i;
	return -1;
}

/* Returns 1 when item a plays before item b (indexes into ctx->items). */
static int
sched_before(const struct sched_ctx *ctx, size_t a, size_t b)
{
	uint64_t ka, kb;

	if (!ctx->shuffle)
		return a < b;
	ka = sched_shuffle_key(ctx->seed, ctx->items[a].item_id);
	kb = sched_shuffle_key(ctx->seed, ctx->items[b].item_id);
	if (ka != kb)
		return ka < kb;
	return ctx->items[a].item_id < ctx->items[b].item_id;
}

long
sched_edge(const struct sched_ctx *ctx, int want_last)
{
	size_t i, best = 0;

	if (ctx->n == 0)
		return -1;
	if (!ctx->shuffle)
		return want_last ? (long)ctx->n - 1 : 0;
	for (i = 1; i < ctx->n; i++)
		if (want_last ? sched_before(ctx, best, i) : sched_before(ctx, i, best))
			best = i;
	return (long)best;
}

long
sched_step(const struct sched_ctx *ctx, size_t idx, int back)
{
	long best = -1;
	size_t i;

	if (!ctx->shuffle) {
		if (back)
			return idx > 0 ? (long)idx - 1 : -1;
		return idx + 1 < ctx->n ? (long)idx + 1 : -1;
	}
	for (i = 0; i < ctx->n; i++) {
		if (back ? !sched_before(ctx, i, idx) : !sched_before(ctx, idx, i))
			continue;
		if (best < 0 || (back ? sched_before(ctx, (size_t)best, i) :
		    sched_before(ctx, i, (size_t)best)))
			best = (long)i;
	}
	return best;
}

long
sched_after(const struct sched_ctx *ctx, size_t idx)
{
	long to;

	if (ctx->repeat == SCHED_REPEAT_ONE && sched_duration(&ctx->items[idx]) > 0)
		return (long)idx;
	if ((to = sched_step(ctx, idx, 0)) >= 0)
		return to;
	if (ctx->repeat == SCHED_REPEAT_ALL && sched_total_us(ctx) > 0)
		return sched_edge(ctx, 0);
	return -1;
}

int64_t
sched_next_item(const struct sched_ctx *ctx, const struct anchor *cur)
{
	long idx;

	if (cur->state == ANCHOR_STOPPED || ctx->n == 0)
		return 0;
	if ((idx = sched_find(ctx, cur->item_id)) < 0)
		idx = sched_edge(ctx, 0);	/* the item left: the first plays */
	else if ((idx = sched_after(ctx, (size_t)idx)) < 0)
		return 0;
	return ctx->items[idx].item_id;
}

void
sched_order(const struct sched_ctx *ctx, size_t *order)
{
	long idx = sched_edge(ctx, 0);
	size_t k;

	for (k = 0; k < ctx->n && idx >= 0; k++) {
		order[k] = (size_t)idx;
		idx = sched_step(ctx, (size_t)idx, 0);
	}
}
