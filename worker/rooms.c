/*
 * rooms.c - the playing rooms: a hash table by room id of records that each
 * own a beacon timer and an advance timer (see rooms.h). A record goes away
 * when its room stops or pauses, or when the worker stands by (lease.h);
 * libuv frees it after closing both timers. A timer acts only while the
 * worker holds the lease.
 */
#include "rooms.h"
#include "apply.h"
#include "clock.h"
#include "lease.h"
#include "log.h"
#include "publish.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOMS_MIN_BUCKETS  64
#define ROOMS_MAX_DELAY_MS (3600 * 1000)	/* a far end is re-checked hourly */

static size_t
rooms_slot(size_t nbucket, int64_t id)
{
	uint64_t h = (uint64_t)id * UINT64_C(0x9e3779b97f4a7c15);

	return (size_t)(h >> 32) & (nbucket - 1);
}

int
rooms_init(struct rooms *rs)
{
	rs->count = 0;
	rs->nbucket = ROOMS_MIN_BUCKETS;
	rs->bucket = calloc(rs->nbucket, sizeof(*rs->bucket));
	return rs->bucket ? 0 : -1;
}

struct room *
rooms_get(struct rooms *rs, int64_t room_id)
{
	struct room *r;

	if (rs->bucket == NULL)
		return NULL;
	for (r = rs->bucket[rooms_slot(rs->nbucket, room_id)]; r != NULL; r = r->next)
		if (r->id == room_id)
			return r;
	return NULL;
}

/* Doubles the table when it is full; on failure the chains just get longer. */
static void
rooms_grow(struct rooms *rs)
{
	size_t n = rs->nbucket * 2, i;
	struct room **b, *r, *next;

	if (rs->count < rs->nbucket || (b = calloc(n, sizeof(*b))) == NULL)
		return;
	for (i = 0; i < rs->nbucket; i++)
		for (r = rs->bucket[i]; r != NULL; r = next) {
			next = r->next;
			r->next = b[rooms_slot(n, r->id)];
			b[rooms_slot(n, r->id)] = r;
		}
	free(rs->bucket);
	rs->bucket = b;
	rs->nbucket = n;
}

/* libuv close callback of both timers: the second one frees the record. */
static void
rooms_on_close(uv_handle_t *h)
{
	struct room *r = h->data;

	if (--r->open_handles == 0)
		free(r);
}

static void
rooms_drop(struct rooms *rs, struct room *r)
{
	struct room **p = &rs->bucket[rooms_slot(rs->nbucket, r->id)];

	while (*p != r)
		p = &(*p)->next;
	*p = r->next;
	rs->count--;
	uv_close((uv_handle_t *)&r->beacon, rooms_on_close);
	uv_close((uv_handle_t *)&r->advance, rooms_on_close);
}

static struct room *
rooms_create(struct worker *w, int64_t id)
{
	struct rooms *rs = &w->rooms;
	struct room *r;
	size_t slot;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_err("room %lld: out of memory", (long long)id);
		return NULL;
	}
	r->w = w;
	r->id = id;
	uv_timer_init(&w->loop, &r->beacon);
	uv_timer_init(&w->loop, &r->advance);
	r->beacon.data = r;
	r->advance.data = r;
	r->open_handles = 2;
	rooms_grow(rs);
	slot = rooms_slot(rs->nbucket, id);
	r->next = rs->bucket[slot];
	rs->bucket[slot] = r;
	rs->count++;
	return r;
}

/* libuv timer callbacks; t->data is the room record, owned by the table
 * until rooms_drop() hands it to rooms_on_close(). */
static void
rooms_on_beacon(uv_timer_t *t)
{
	struct room *r = t->data;
	int64_t seq;

	if (!lease_check(r->w))
		return;		/* no longer active: r may be gone */
	if (r->w->wr.ready && store_room_seq(r->w->store, r->id, &seq) == 0) {
		publish_beacon(r->w, r, seq, clock_now_us());
		r->w->stats.beacons++;
	}
}

static void
rooms_on_advance(uv_timer_t *t)
{
	struct room *r = t->data;

	if (lease_check(r->w))		/* else no longer active: r may be gone */
		apply_advance(r->w, r->id);	/* may drop r */
}

/* Arms the advance timer for r->fire_us, rounding the delay up to whole ms. */
static void
rooms_arm(struct room *r)
{
	int64_t now = clock_now_us(), left;
	uint64_t ms = 0;

	if (r->fire_us > now) {
		left = r->fire_us - now;	/* now > 0: cannot overflow */
		ms = left >= (int64_t)ROOMS_MAX_DELAY_MS * 1000 ? ROOMS_MAX_DELAY_MS :
		    (uint64_t)(left + 999) / 1000;
	}
	uv_timer_start(&r->advance, rooms_on_advance, ms, 0);
}

int
rooms_update(struct worker *w, const struct room_state *st)
{
	struct room *r = rooms_get(&w->rooms, st->id);

	if (st->a.state != ANCHOR_PLAYING) {
		rooms_forget(w, st->id);
		return 0;
	}
	if (r == NULL && (r = rooms_create(w, st->id)) == NULL)
		return -1;
	snprintf(r->code, sizeof(r->code), "%s", st->code);
	r->a = st->a;
	r->cause = st->cause;
	r->next_item_id = st->next_item_id;
	r->fire_us = st->fire_us;
	rooms_arm(r);
	if (!uv_is_active((uv_handle_t *)&r->beacon))
		uv_timer_start(&r->beacon, rooms_on_beacon, (uint64_t)w->cfg.beacon_ms,
		    (uint64_t)w->cfg.beacon_ms);
	return 0;
}

void
rooms_forget(struct worker *w, int64_t room_id)
{
	struct room *r = rooms_get(&w->rooms, room_id);

	if (r != NULL)
		rooms_drop(&w->rooms, r);
}

void
rooms_defer(struct worker *w, int64_t room_id, uint64_t delay_ms)
{
	struct room *r = rooms_get(&w->rooms, room_id);

	if (r != NULL)
		uv_timer_start(&r->advance, rooms_on_advance, delay_ms, 0);
}

void
rooms_clear(struct rooms *rs)
{
	size_t i;

	for (i = 0; rs->bucket != NULL && i < rs->nbucket; i++)
		while (rs->bucket[i] != NULL)
			rooms_drop(rs, rs->bucket[i]);
}

void
rooms_close(struct rooms *rs)
{
	rooms_clear(rs);
	free(rs->bucket);
	rs->bucket = NULL;
	rs->nbucket = 0;
}
