/*
 * lead.h - the adaptive lead of each room: how far ahead of now the worker
 * schedules a start (ARCHITECTURE.md, "A play click"). The relays publish
 * the p95 round trip their listeners report per room (tutti:rtt:{relay},
 * docs/protocol.md); every second the worker reads them all and keeps, per
 * room, the largest p95 over relays. apply.c asks lead_room_us() when it
 * builds a room's sched_ctx. Lives on the loop thread.
 */
#ifndef TUTTI_LEAD_H
#define TUTTI_LEAD_H

#include "rconn.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define LEAD_MIN_MS_DEFAULT    250	/* -L: the lead with no (or low) RTTs */
#define LEAD_MARGIN_MS_DEFAULT 50	/* -M: added to twice the p95 */
#define LEAD_MAX_MS_DEFAULT    2000	/* -X: the cap */
#define LEAD_POLL_MS           1000	/* how often the relays' hashes are read */

struct lead_config {
	int64_t min_us;		/* >= 0 */
	int64_t margin_us;	/* >= 0 */
	int64_t max_us;		/* the cap; below min_us, min_us wins */
};

/* One room some relay reported. */
struct lead_room {
	struct lead_room *next;		/* hash chain */
	int64_t p95_us;			/* max over relays, last complete round */
	int64_t acc_us;			/* max so far in the round in progress */
	uint64_t round;			/* the last round that reported the room */
	char code[STORE_CODE_MAX];
};

struct lead {
	struct lead_config cfg;
	struct rconn *rc;		/* borrowed: the worker's write connection */
	struct lead_room **bucket;	/* hash table by code; NULL when closed */
	size_t nbucket;			/* a power of two */
	size_t count;
	uint64_t round;			/* the round in progress (or last one) */
	int pending;			/* replies of the round still to come */
	int failed;			/* a reply of the round was missing */
	uv_timer_t timer;
};

/* Returns the lead for a room whose listeners see p95_us of round trip:
 * max(min, 2 * p95 + margin), capped at max (but never below min).
 * p95_us <= 0 means unknown: min. Saturating; pure. */
int64_t lead_compute(const struct lead_config *cfg, int64_t p95_us);

/* Initializes l (memory owned by the caller, e.g. struct worker) with its
 * timer on loop, reading through rc (borrowed, must outlive l). Returns 0
 * or -1 (out of memory; logged). Either way lead_close() must follow. */
int lead_init(struct lead *l, uv_loop_t *loop, struct rconn *rc,
    const struct lead_config *cfg);

/* Starts the poll: every LEAD_POLL_MS, while rc is ready and no round is
 * in flight, SMEMBERS tutti:relays then HGETALL tutti:rtt:{id} of each. */
void lead_start(struct lead *l);

/* Closes the timer and frees the table; replies still in flight are then
 * ignored. Safe to call twice. */
void lead_close(struct lead *l);

/* Returns the lead for room code: lead_compute() of the largest p95 the
 * relays reported in the last complete round, or the minimum when none did.
 * l may be NULL (no adaptive lead): returns fallback_us. */
int64_t lead_room_us(const struct lead *l, const char *code, int64_t fallback_us);

/* Returns the p95 (µs) last reported for code, or 0 when none. */
int64_t lead_room_p95(const struct lead *l, const char *code);

/* Takes one relay's HGETALL reply into the round in progress (fields: room
 * code -> p95 µs as a decimal string; malformed pairs are skipped). Exposed
 * for the unit tests; the poll calls it. */
void lead_take(struct lead *l, const char *const *fields, size_t nfields);

/* Ends the round in progress: a room reported in it takes its new maximum;
 * one not reported is forgotten, unless a reply was missing (then the
 * round only raises values). Exposed for the unit tests. */
void lead_round_end(struct lead *l);

#endif
