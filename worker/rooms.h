/*
 * rooms.h - the playing rooms of the worker and their two timers each: the
 * sync beacon every BEACON_MS, and the auto-advance at the end of the item
 * (lead_us early when another item follows, so clients can start it
 * gaplessly). Only playing rooms have a record, so the cost of the timers is
 * proportional to the rooms that play. Lives on the loop thread.
 */
#ifndef TUTTI_ROOMS_H
#define TUTTI_ROOMS_H

#include "anchor.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct worker;

/* One playing room. Owned by struct rooms; freed once libuv has closed both
 * timers after the room stops playing or the worker stops. */
struct room {
	struct worker *w;		/* borrowed back pointer */
	struct room *next;		/* hash chain */
	int64_t id;
	char code[STORE_CODE_MAX];
	struct anchor a;		/* the anchor in effect (playing) */
	const char *cause;		/* static: cause of the anchor's event */
	int64_t next_item_id;		/* sched_next_item() of a (0: none), for
					 * beacons; kept current by reloads */
	int64_t fire_us;		/* when to apply the item's end */
	int open_handles;		/* timers not yet closed by libuv */
	uv_timer_t beacon;
	uv_timer_t advance;
};

/* The committed timeline of one room, as rooms_update() takes it. */
struct room_state {
	int64_t id;
	const char *code;		/* borrowed for the call */
	struct anchor a;
	const char *cause;		/* static string */
	int64_t fire_us;		/* sched_fire_us() of a */
	int64_t next_item_id;		/* sched_next_item() of a (0: none) */
};

/* Hash table of the playing rooms by id. */
struct rooms {
	struct room **bucket;
	size_t nbucket;			/* a power of two */
	size_t count;
};

/* Initializes an empty table. Returns 0 or -1 (out of memory). */
int rooms_init(struct rooms *rs);

/* Records the anchor just committed for a room (with its next item, which
 * the beacons repeat): when it plays, creates or updates the room's record
 * and (re)arms its advance timer (its beacon keeps its cadence); otherwise
 * drops the record and its timers. Returns 0, or -1
 * when a record cannot be created (logged; the room then gets no timers). */
int rooms_update(struct worker *w, const struct room_state *st);

/* Drops the record and timers of a room that is no longer playing or has
 * closed (nothing when it has none). */
void rooms_forget(struct worker *w, int64_t room_id);

/* Re-arms the advance timer of a playing room to fire after delay_ms (after
 * a database error, for a retry). Does nothing for a room that is not playing. */
void rooms_defer(struct worker *w, int64_t room_id, uint64_t delay_ms);

/* Returns the record of a playing room, or NULL. Borrowed: valid until the
 * next rooms_update() or rooms_close(). */
struct room *rooms_get(struct rooms *rs, int64_t room_id);

/* Drops every record and its timers but keeps the (empty) table, when the
 * worker stops being the active one (lease.h); records are freed by libuv
 * close callbacks. */
void rooms_clear(struct rooms *rs);

/* Drops every record (their memory is freed by libuv close callbacks, so the
 * loop must run once more) and the table itself. */
void rooms_close(struct rooms *rs);

#endif
