/*
 * lclock.h - time for `tutti listen`: the listener's own clock (deliberately
 * wrong with --clock-offset-ms and --clock-skew-ppm, as a device's crystal
 * would be) and the estimate of server time from the ping/pong probes of
 * docs/protocol.md (after web/js/sync-estimator.js: offsets bounded by the
 * fastest round trips, then a line whose slope follows the skew between the
 * two clocks; lclock.c says how). Pure apart from lclock_*_now().
 */
#ifndef TUTTI_LCLOCK_H
#define TUTTI_LCLOCK_H

#include <stdint.h>

/*
 * The clocks. "True" time is CLOCK_MONOTONIC moved onto CLOCK_REALTIME once
 * at start (so it is server time on the same machine, but never steps).
 * The local clock, which everything in the listener uses, is
 *   local = true + offset_us + (true - t_start) * ppm / 1e6.
 */
struct lclock {
	int64_t mono_base;	/* true = CLOCK_MONOTONIC µs + mono_base */
	int64_t t_start;	/* true time when the clock was set up */
	int64_t offset_us;
	double ppm;
};

/* Sets up c with the given error (0, 0: the true clock). */
void lclock_init(struct lclock *c, int64_t offset_us, double ppm);

/* True time now (µs since the epoch). */
int64_t lclock_true_now(const struct lclock *c);

/* The local clock now. */
int64_t lclock_local_now(const struct lclock *c);

/* Local time at true time t, and back. */
int64_t lclock_local_of_true(const struct lclock *c, int64_t t);
int64_t lclock_true_of_local(const struct lclock *c, int64_t l);

/* CLOCK_MONOTONIC µs at true time t (for clock_nanosleep). */
int64_t lclock_mono_of_true(const struct lclock *c, int64_t t);

/* ---- the server-time estimate of one connection ---- */

#define LEST_WINDOW 512		/* samples kept (two to four minutes of probes) */

enum lest_kind { LEST_NONE, LEST_MEDIAN, LEST_FIT };

struct lest_sample {
	int64_t t_us;		/* local time halfway through the probe */
	double offset_us;	/* server - local then */
	int64_t rtt_us;
};

/* The mapping in use: server = local + offset_us + skew * (local - t_ref). */
struct lest_map {
	enum lest_kind kind;
	double t_ref, offset_us, skew;
	int64_t rtt_us;		/* the lowest round trip kept */
	double uncertainty_us;	/* see lest_add */
	int used;		/* samples behind the estimate */
	int samples;		/* samples kept */
};

struct lest {
	struct lest_sample s[LEST_WINDOW];	/* a ring, oldest at head when full */
	int n, head;
	struct lest_map map;
};

/* Empties e. */
void lest_init(struct lest *e);

/*
 * Adds the probe sent at local t0, read by the server at t1 and answered
 * at t2 (server µs), whose answer arrived at local t3, and recomputes the
 * estimate. Returns 0, or -1 when the sample is impossible (negative round
 * trip, t3 before t0) and was ignored. uncertainty_us is half the width of
 * the band the newest bucket's samples leave for the offset (at least 50 µs).
 */
int lest_add(struct lest *e, int64_t t0, int64_t t1, int64_t t2, int64_t t3);

/* Server time at local time l through m (l itself when m has no estimate). */
int64_t lest_server(const struct lest_map *m, int64_t l);

/* Local time at server time s through m (the inverse of lest_server). */
int64_t lest_local(const struct lest_map *m, int64_t s);

#endif
