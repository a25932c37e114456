/*
 * lclock.c - the listener's clock (true time, and the deliberately wrong
 * local clock of --clock-offset-ms / --clock-skew-ppm) and the server-time
 * estimator of one WebSocket connection (lclock.h). The estimator follows
 * web/js/sync-estimator.js in spirit (the fastest probes count, a line
 * follows the skew) but bounds each offset from both sides instead of
 * averaging the fastest samples (lest_bucket says why); listen.c probes 4
 * times a second at first, then twice.
 */
#include "lclock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define LEST_BUCKET_US   2000000	/* a fit once the window spans two of these */
#define LEST_BUCKETS     32	/* at most this many buckets (each a point of the fit) */
#define LEST_MAX_SKEW    500e-6	/* a steeper slope is not a clock */
#define LEST_MIN_UNC_US  50.0

void
lclock_init(struct lclock *c, int64_t offset_us, double ppm)
{
	int64_t r0, m, r1;

	r0 = clock_now_us();
	m = clock_mono_us();
	r1 = clock_now_us();
	c->mono_base = r0 + (r1 - r0) / 2 - m;
	c->t_start = m + c->mono_base;
	c->offset_us = offset_us;
	c->ppm = ppm;
}

int64_t
lclock_true_now(const struct lclock *c)
{
	return clock_mono_us() + c->mono_base;
}

int64_t
lclock_local_of_true(const struct lclock *c, int64_t t)
{
	return t + c->offset_us + (int64_t)llround((double)(t - c->t_start) * c->ppm * 1e-6);
}

int64_t
lclock_true_of_local(const struct lclock *c, int64_t l)
{
	/* l = t + off + (t - ts) k  =>  t - ts = (l - off - ts) / (1 + k) */
	double k = c->ppm * 1e-6;

	return c->t_start + (int64_t)llround((double)(l - c->offset_us - c->t_start) / (1.0 + k));
}

int64_t
lclock_local_now(const struct lclock *c)
{
	return lclock_local_of_true(c, lclock_true_now(c));
}

int64_t
lclock_mono_of_true(const struct lclock *c, int64_t t)
{
	return t - c->mono_base;
}

void
lest_init(struct lest *e)
{
	memset(e, 0, sizeof(*e));
}

/*
 * One bucket's estimate of the offset at time c, the slope being k: each
 * sample bounds the offset from both sides, by how much longer its round
 * trip was than the fastest (rtt0): server - local at t_i lies within
 * o_i -+ (rtt_i - rtt0) / 2 (up to the path's fixed asymmetry, which no
 * probe can see). The lower bound is off by the sample's extra delay on the
 * way back, the upper by its extra delay on the way out, so the tightest
 * bounds come from different samples and meet in the middle: the error is
 * half the difference of the smallest extra delays each way, which shrinks
 * as 1/n with the samples, not as 1/sqrt(n) like a min-round-trip average.
 * Returns the number of samples in [from, to).
 */
static int
lest_bucket(const struct lest_sample *s, int n, int64_t rtt0, double from, double to,
    double c, double k, double *mid, double *width)
{
	double lo = -INFINITY, hi = INFINITY, e, x;
	int i, used = 0;

	for (i = 0; i < n; i++) {
		if ((double)s[i].t_us < from || (double)s[i].t_us >= to)
			continue;
		e = (double)(s[i].rtt_us - rtt0) / 2;
		x = s[i].offset_us - k * ((double)s[i].t_us - c);
		lo = fmax(lo, x - e);
		hi = fmin(hi, x + e);
		used++;
	}
	if (used > 0) {
		*mid = (lo + hi) / 2;
		*width = fabs(hi - lo) / 2;
	}
	return used;
}

/*
 * The estimate from the samples (oldest first): the window is cut into up
 * to LEST_BUCKETS buckets of at least LEST_BUCKET_US; each gives a point
 * (its middle, its bounded offset) and a least-squares line through the
 * points gives offset and skew (three rounds, each detrending the buckets
 * with the slope of the one before). With a single bucket the offset is
 * flat (kind LEST_MEDIAN, the name kept from the browser's estimator).
 */
static void
lest_compute(struct lest *e)
{
	struct lest_sample all[LEST_WINDOW];
	struct lest_map *m = &e->map;
	double t0, t1, span, w, c[LEST_BUCKETS], y[LEST_BUCKETS], wid[LEST_BUCKETS];
	double k, tr, yr, sxx, sxy, width = 0;
	int64_t rtt0;
	int i, j, n = e->n, nb, kb, round;

	if (n <= 0)
		return;
	for (i = 0; i < n; i++)
		all[i] = e->s[(e->head + i) % LEST_WINDOW];
	for (rtt0 = all[0].rtt_us, i = 1; i < n; i++)
		if (all[i].rtt_us < rtt0)
			rtt0 = all[i].rtt_us;
	t0 = (double)all[0].t_us;
	t1 = (double)all[n - 1].t_us + 1;
	span = t1 - t0;
	kb = (int)(span / LEST_BUCKET_US);
	kb = kb < 1 ? 1 : kb > LEST_BUCKETS ? LEST_BUCKETS : kb;
	k = m->kind == LEST_FIT ? m->skew : 0;
	w = span / kb;
	for (round = 0; round < 3; round++) {
		for (nb = 0, j = 0; j < kb; j++) {
			c[nb] = t0 + (j + 0.5) * w;
			if (lest_bucket(all, n, rtt0, t0 + j * w, j == kb - 1 ? t1 : t0 + (j + 1) * w,
			    c[nb], kb > 1 ? k : 0, &y[nb], &wid[nb]) > 0)
				nb++;
		}
		for (tr = 0, yr = 0, j = 0; j < nb; j++) {
			tr += c[j] - t0;
			yr += y[j];
		}
		tr = t0 + tr / nb;
		yr /= nb;
		for (sxx = 0, sxy = 0, j = 0; j < nb; j++) {
			sxx += (c[j] - tr) * (c[j] - tr);
			sxy += (c[j] - tr) * (y[j] - yr);
		}
		if (nb < 2 || !(sxx > 0) || fabs(sxy / sxx) > LEST_MAX_SKEW) {
			/* flat: the newest bucket alone */
			m->kind = LEST_MEDIAN;
			m->t_ref = 0;
			m->skew = 0;
			m->offset_us = y[nb - 1];
			width = wid[nb - 1];
			break;
		}
		k = sxy / sxx;
		m->kind = LEST_FIT;
		m->t_ref = tr;
		m->offset_us = yr;
		m->skew = k;
		width = wid[nb - 1];
	}
	m->rtt_us = rtt0;
	m->samples = n;
	m->used = n;
	m->uncertainty_us = fmax(LEST_MIN_UNC_US, width);
}

int
lest_add(struct lest *e, int64_t t0, int64_t t1, int64_t t2, int64_t t3)
{
	struct lest_sample s;

	if (t3 < t0 || t2 < t1)
		return -1;
	s.rtt_us = (t3 - t0) - (t2 - t1);
	if (s.rtt_us < 0)
		return -1;
	s.t_us = t0 + (t3 - t0) / 2;
	s.offset_us = ((double)(t1 - t0) + (double)(t2 - t3)) / 2;
	if (e->n < LEST_WINDOW) {
		e->s[(e->head + e->n) % LEST_WINDOW] = s;
		e->n++;
	} else {
		e->s[e->head] = s;
		e->head = (e->head + 1) % LEST_WINDOW;
	}
	lest_compute(e);
	return 0;
}

int64_t
lest_server(const struct lest_map *m, int64_t l)
{
	if (m->kind == LEST_NONE)
		return l;
	return l + (int64_t)llround(m->offset_us + m->skew * ((double)l - m->t_ref));
}

int64_t
lest_local(const struct lest_map *m, int64_t s)
{
	/* s = l + off + k (l - tr)  =>  l = (s - off + k tr) / (1 + k) */
	double k;

	if (m->kind == LEST_NONE)
		return s;
	k = m->skew;
	return (int64_t)llround(((double)s - m->offset_us + k * m->t_ref) / (1 + k));
}
