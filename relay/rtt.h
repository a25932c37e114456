/*
 * rtt.h - the round trips a room's listeners report on one relay: a ring of
 * the last RTT_RING samples with their arrival times, and its p95. The relay
 * writes each room's p95 into tutti:rtt:{relay_id} every second
 * (relay/redis.c); the worker turns it into the room's lead (worker/lead.h).
 * Pure: no I/O, no clock, no allocation.
 */
#ifndef TUTTI_RTT_H
#define TUTTI_RTT_H

#include <stdint.h>

#define RTT_RING        128	/* samples kept per room */
#define RTT_AGE_MS      60000	/* older samples no longer count */
#define RTT_GAP_MS      500	/* a listener's samples count at most this often */

struct rtt_ring {
	uint32_t n;			/* samples held, up to RTT_RING */
	uint32_t head;			/* where the next one goes */
	uint32_t us[RTT_RING];
	uint64_t t_ms[RTT_RING];	/* arrival, on the relay's loop clock */
};

/* Adds a sample of us µs that arrived at now_ms, replacing the oldest
 * when the ring is full. */
void rtt_add(struct rtt_ring *r, uint32_t us, uint64_t now_ms);

/* Returns the 95th percentile (nearest rank) of the samples that arrived
 * within max_age_ms before now_ms, or 0 when there are none. */
int64_t rtt_p95(const struct rtt_ring *r, uint64_t now_ms, uint64_t max_age_ms);

#endif
