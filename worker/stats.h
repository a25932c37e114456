/*
 * stats.h - the worker's counters and its /metrics endpoint (tutti-worker
 * -m host:port; Prometheus text format 0.0.4, served by common/metricsrv.c):
 * whether it is the active worker, its fencing epoch, lease takeovers, the
 * playing rooms, commands by decision and their lag from the stream,
 * beacons, advances, idle closes, purges, promotions and Redis reconnects.
 * The counters live in struct worker (no globals) and only grow; the
 * modules that do the work bump them on the loop thread.
 */
#ifndef TUTTI_STATS_H
#define TUTTI_STATS_H

#include "apply.h"

#include <stdint.h>

#define STATS_LAG_BUCKETS 11	/* upper bounds 1 ms to 2.5 s, then +Inf */

struct worker;

struct worker_stats {
	uint64_t takeovers;		/* times the lease was taken and set up */
	uint64_t commands[APPLY_KINDS];	/* command entries by decision */
	uint64_t lag[STATS_LAG_BUCKETS];	/* not cumulative; summed on output */
	uint64_t lag_count;		/* every lag observed (the +Inf bucket) */
	uint64_t lag_sum_us;
	uint64_t beacons;		/* beacons published */
	uint64_t advances;		/* advances at an item's end published */
	uint64_t closed_idle;		/* rooms the sweep closed as idle */
	uint64_t purged;		/* closed rooms the sweep deleted */
	uint64_t promotions;		/* admins the sweep promoted */
};

/* Counts a command entry decided as kind whose stream id is id ("ms-seq"),
 * its decision published at server time now_us: the lag is now_us minus
 * the id's ms part (0 when the id is later, e.g. Redis's clock is ahead;
 * not observed when id is not a stream id). */
void stats_command(struct worker_stats *s, enum apply_kind kind, const char *id,
    int64_t now_us);

/* Serves GET /metrics on w->cfg.metrics (see metricsrv_listen()) from
 * w->metrics. Returns 0, or -1 (logged). w->metrics is closed by
 * worker_free() whatever this returned. */
int stats_listen(struct worker *w);

#endif
