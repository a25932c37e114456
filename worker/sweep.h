/*
 * sweep.h - the worker's periodic housekeeping over SQLite, on a libuv
 * timer: the promotion of a new admin once a room's admin has been gone for
 * the grace period, the close of rooms that stayed empty for the idle
 * time, and the removal of the listeners of dead relays (relays.h). Only the active worker sweeps (worker_active()); each pass finds its
 * candidates with one query per kind and handles each room in its own short
 * write transaction, publishing the events after COMMIT in seq order.
 */
#ifndef TUTTI_SWEEP_H
#define TUTTI_SWEEP_H

#include "store.h"

#include <stdint.h>
#include <uv.h>

struct worker;

/* The sweep's timer and where its next pass resumes. */
struct sweep {
	uv_timer_t timer;
	struct store_cursor admin;	/* where the promotions resume */
	struct store_cursor idle;	/* where the idle closes resume */
	struct store_cursor purge;	/* where the purges resume */
	int relays_busy;		/* commands of the dead relay check in flight */
};

/* Initializes the timer (the loop must be initialized). Returns 0 or -1. */
int sweep_init(struct worker *w);

/* Starts sweeping every cfg.sweep_ms. */
void sweep_start(struct worker *w);

/* Closes the timer; safe to call more than once. */
void sweep_close(struct worker *w);

/* One pass at server time now_us, whatever the timer: promotes where
 * admin_lost_us <= now_us - grace and closes where empty_since_us <= now_us
 * - idle, at most SWEEP_BATCH rooms of each kind (the next pass goes on
 * after the last room found), and starts a dead relay check
 * (relays_check()). Does nothing unless worker_active(w). */
void sweep_run(struct worker *w, int64_t now_us);

#endif
