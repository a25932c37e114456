/*
 * lease.h - standby workers (ARCHITECTURE.md, "Scaling"): of the workers
 * that run, exactly one is active, the one holding the Redis lease
 * tutti:worker:lease (its id, PX lease_ms). The holder renews it every
 * lease_ms/3, a standby tries to take it as often; on taking it a worker
 * re-creates the consumer group, claims the pending entries of every other
 * consumer, takes the fencing token in SQLite (store_fence_take: a stalled
 * predecessor's writes are refused from then on), restores the playing
 * rooms' timers and rebuilds the rooms' Redis keys from SQLite, and only
 * then reads the stream.
 */
#ifndef TUTTI_LEASE_H
#define TUTTI_LEASE_H

#include "entry.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct worker;

enum lease_state {
	LEASE_STANDBY,		/* not holding the lease: nothing is acted on */
	LEASE_GROUP,		/* taken; the consumer group is being created */
	LEASE_CLAIM,		/* taken; XAUTOCLAIM of the pending entries */
	LEASE_ACTIVE		/* taken and set up: reads, applies, times rooms */
};

struct lease {
	enum lease_state state;
	uv_timer_t timer;		/* every lease_ms/3: renew or try to take */
	int busy;			/* the lease script is in flight */
	int64_t sent_us;		/* clock_mono_us() when it was sent */
	int64_t valid_until;		/* clock_mono_us() up to which it is surely ours */
	int64_t taken_us;		/* clock_mono_us() when it was taken */
	size_t claimed;			/* entries claimed during this activation */
	char cursor[ENTRY_ID_MAX];	/* LEASE_CLAIM: where XAUTOCLAIM goes on */
};

/* Initializes the lease's timer (the loop must be initialized). Returns 0
 * or -1. */
int lease_init(struct worker *w);

/* Starts the timer: every cfg.lease_ms/3 a renewal (holder) or an attempt
 * to take the lease (standby). */
void lease_start(struct worker *w);

/* Closes the timer; safe to call more than once. */
void lease_close(struct worker *w);

/* Called once the write connection is (re)connected: Redis may have lost
 * everything meanwhile, so a holder stands by and then every worker tries
 * to take the lease at once (a holder whose key survived gets it back and
 * sets everything up again). */
void lease_reconnected(struct worker *w);

/* Called when XGROUP CREATE has succeeded: during an activation, goes on
 * with the claim of the pending entries. */
void lease_group_ok(struct worker *w);

/* Returns 1 while this worker may act: it is set up as the active worker,
 * the lease it last renewed has not run out by the monotonic clock (which,
 * after a pause, may be before the renewal timer notices) and no write found
 * the fencing token taken by another worker (store_fenced). When a taken
 * lease has run out or is fenced it stands by first, dropping the rooms' timers:
 * do not touch a room record after a 0 from a timer callback. Returns 0
 * otherwise. */
int lease_check(struct worker *w);

/* Returns 1 when the worker is set up as active and its lease is still
 * valid by the monotonic clock, else 0. Does not change anything. */
int lease_valid(const struct worker *w);

/* On a graceful stop: deletes tutti:worker:lease when it still holds this
 * worker's id, so a standby takes over at its next attempt. */
void lease_release(struct worker *w);

#endif
