/*
 * test_cli_listen.c - the pure parts of `tutti listen`: the wrong clock of
 * --clock-offset-ms/--clock-skew-ppm (cli/lclock.c), the server-time
 * estimator fed synthetic probes with jitter and skew, the scheduler
 * (cli/lsched.c) driven by a simulated device: sample-accurate and late
 * starts, switches inside a buffer, pause, drift correction within 500 ppm,
 * hard resync only on two checks in a row, the predicted advance taken at
 * the item's end without the server's; and cache file names (lcache.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/lcache.h"
#include "../../cli/lclock.h"
#include "../../cli/lsched.h"

#define RATE 44100
#define FR_US (1e6 / RATE)
#define T0 1800000000000000LL	/* a server time in 2027 */

static void
test_clock_wrong(void **state)
{
	struct lclock c;
	int64_t t, l;

	(void)state;
	lclock_init(&c, 3000000, 100);
	t = c.t_start + 10000000;	/* 10 s on */
	l = lclock_local_of_true(&c, t);
	/* 3 s ahead, plus 100 ppm of 10 s */
	assert_true(llabs(l - (t + 3000000 + 1000)) <= 1);
	assert_true(llabs(lclock_true_of_local(&c, l) - t) <= 1);
	for (t = c.t_start - 5000000000LL; t < c.t_start + 5000000000LL; t += 123456789)
		assert_true(llabs(lclock_true_of_local(&c, lclock_local_of_true(&c, t)) - t) <= 1);
	lclock_init(&c, -2000000, -100);
	t = c.t_start + 20000000;
	assert_true(llabs(lclock_local_of_true(&c, t) - (t - 2000000 - 2000)) <= 1);
	assert_true(llabs(lclock_local_now(&c) - lclock_local_of_true(&c, lclock_true_now(&c)))
	    < 10000);
}

/* A uniform draw in [0, 1) from a small LCG (the test is deterministic). */
static double
urand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*s >> 11) / 9007199254740992.0;
}

/*
 * Feeds e probes every 250 ms for secs seconds over a path of delay_us each
 * way plus up to jitter_us, with a local clock off by off_us and ppm fast.
 * Returns the estimate's error (µs) at the end, 60 ms ahead.
 */
static double
probe_run(struct lest *e, double off_us, double ppm, double delay_us, double jitter_us,
    int secs, uint64_t seed)
{
	double k = ppm * 1e-6, t, up, dn, t1, t2, t3, now;
	int i;

	for (i = 0, t = (double)T0; i < secs * 4; i++, t += 250000) {
		up = delay_us + urand(&seed) * jitter_us;
		dn = delay_us + urand(&seed) * jitter_us;
		t1 = t + up;
		t2 = t1 + 30;
		t3 = t2 + dn;
		assert_int_equal(lest_add(e, llround(t + off_us + (t - T0) * k), llround(t1),
		    llround(t2), llround(t3 + off_us + (t3 - T0) * k)), 0);
	}
	now = t + 60000;
	return (double)lest_server(&e->map, llround(now + off_us + (now - T0) * k)) - now;
}

static void
test_estimator(void **state)
{
	struct lest e;
	double err, ppm[] = { 0, 100, -100 };
	size_t i;
	int s;

	(void)state;
	lest_init(&e);
	assert_int_equal(e.map.kind, LEST_NONE);
	assert_int_equal(lest_server(&e.map, 42), 42);
	/* impossible samples are refused */
	assert_int_equal(lest_add(&e, 100, 50, 40, 200), -1);
	assert_int_equal(lest_add(&e, 100, 50, 60, 90), -1);
	assert_int_equal(lest_add(&e, 100, 1000, 1200, 250), -1);	/* rtt < 0 */
	assert_int_equal(e.n, 0);
	/* one probe: a flat estimate, exact on a symmetric path */
	assert_int_equal(lest_add(&e, 1000, 501000, 501000, 2000), 0);
	assert_int_equal(e.map.kind, LEST_MEDIAN);
	assert_true(fabs(lest_server(&e.map, 1500) - 501000.0) <= 1);
	for (i = 0; i < sizeof(ppm) / sizeof(ppm[0]); i++)
		for (s = 1; s <= 3; s++) {
			lest_init(&e);
			err = probe_run(&e, 3000000.0 * s, ppm[i], 40000, 2000, 60,
			    (uint64_t)s * 7919 + i);
			assert_int_equal(e.map.kind, LEST_FIT);
			/* server - local runs at -ppm / (1 + ppm) */
			assert_true(fabs(e.map.skew * 1e6 + ppm[i]) < 10);
			assert_true(fabs(err) < 300);
			assert_true(e.map.rtt_us >= 79900 && e.map.rtt_us < 81000);
			/* the inverse mapping */
			assert_true(llabs(lest_local(&e.map, lest_server(&e.map, T0 + 123456789)) -
			    (T0 + 123456789)) <= 1);
		}
	/* no jitter: exact */
	lest_init(&e);
	err = probe_run(&e, -7500000, 50, 10000, 0, 30, 1);
	assert_true(fabs(err) < 5);
	assert_true(fabs(e.map.skew * 1e6 + 50) < 0.1);
	/* the window holds LEST_WINDOW samples */
	assert_int_equal(e.n, LEST_WINDOW < 120 ? LEST_WINDOW : 120);
}

/* The device of a scheduler test: frame w heard at server time t0 + w *
 * fr_us (a crystal (fr_us / FR_US - 1) off). */
struct dev {
	struct lsched s;
	double t0, fr_us;
	int64_t w;
	struct lsched_seg segs[LSCHED_MAX_SEGS];
	int nseg, first_new;
};

static void
dev_init(struct dev *d, double t0, double ppm)
{
	memset(d, 0, sizeof(*d));
	lsched_init(&d->s, RATE);
	d->t0 = t0;
	d->fr_us = FR_US / (1 + ppm * 1e-6);
}

static void
dev_round(struct dev *d, const struct lsched_anchor *a, int64_t frames, size_t n)
{
	size_t sum = 0;
	int i;

	d->nseg = lsched_plan(&d->s, a, frames, frames, llround(d->t0 + (double)d->w * d->fr_us),
	    d->fr_us, n, d->segs, &d->first_new);
	assert_true(d->nseg >= 1 && d->nseg <= LSCHED_MAX_SEGS);
	for (i = 0; i < d->nseg; i++)
		sum += d->segs[i].count;
	assert_int_equal(sum, n);
	d->w += (int64_t)n;
}

static void
test_sched_start(void **state)
{
	struct lsched_anchor a = { LSCHED_PLAYING, 7, 3, 0, T0 + 10300 };
	struct dev d;

	(void)state;
	/* nothing yet: silence */
	dev_init(&d, T0, 0);
	dev_round(&d, NULL, -1, 512);
	assert_int_equal(d.nseg, 1);
	assert_int_equal(d.segs[0].item_id, 0);
	/* starts 10.3 ms into the buffer: 454 frames of silence, then frame 0 */
	dev_round(&d, &a, 1000000, 512);	/* this buffer starts at T0 + 11.6 ms */
	dev_init(&d, T0, 0);
	dev_round(&d, &a, 1000000, 512);
	assert_int_equal(d.nseg, 2);
	assert_int_equal(d.first_new, 1);	/* the silence is the "old" anchor's */
	assert_int_equal(d.segs[0].item_id, 0);
	assert_int_equal(d.segs[0].count, 454);
	assert_int_equal(d.segs[1].item_id, 7);
	assert_int_equal(d.segs[1].frame, 0);
	assert_int_equal(d.segs[1].count, 58);
	/* the next buffer goes on where it stopped */
	dev_round(&d, &a, 1000000, 512);
	assert_int_equal(d.nseg, 1);
	assert_int_equal(d.segs[0].frame, 58);
	assert_int_equal(d.first_new, -1);
	assert_int_equal(d.s.starts, 1);
	/* a late join: at_us one second ago, from 2 s in: frame 3 s in */
	a.at_us = T0 - 1000000;
	a.position_us = 2000000;
	dev_init(&d, T0, 0);
	dev_round(&d, &a, 10000000, 512);
	assert_int_equal(d.nseg, 1);
	assert_int_equal(d.segs[0].frame, 3 * RATE);
	/* past the end of the track: silence */
	dev_init(&d, T0, 0);
	dev_round(&d, &a, 2 * RATE, 512);
	assert_int_equal(d.segs[0].item_id, 0);
	/* not loaded yet: silence, then it starts late, on time */
	dev_init(&d, T0, 0);
	dev_round(&d, &a, -1, 512);
	assert_int_equal(d.segs[0].item_id, 0);
	dev_round(&d, &a, 10000000, 512);
	assert_int_equal(d.segs[0].item_id, 7);
	assert_int_equal(d.segs[0].frame, 3 * RATE + 512);
}

static void
test_sched_switch(void **state)
{
	struct lsched_anchor a = { LSCHED_PLAYING, 1, 1, 0, T0 - 5000000 };
	struct lsched_anchor b = { LSCHED_PLAYING, 2, 2, 0, 0 };
	struct lsched_anchor p = { LSCHED_PAUSED, 2, 2, 1000000, 0 };
	struct dev d;
	int64_t f;

	(void)state;
	dev_init(&d, T0, 0);
	dev_round(&d, &a, 100 * RATE, 512);
	f = d.segs[0].frame + 512;
	/* the next item is due 100 frames into the next buffer */
	b.at_us = llround(T0 + (512 + 100) * FR_US);
	dev_round(&d, &b, 100 * RATE, 512);
	assert_int_equal(d.nseg, 2);
	assert_int_equal(d.first_new, 1);
	assert_int_equal(d.segs[0].item_id, 1);
	assert_int_equal(d.segs[0].frame, f);
	assert_int_equal(d.segs[0].count, 100);
	assert_int_equal(d.segs[1].item_id, 2);
	assert_int_equal(d.segs[1].frame, 0);
	assert_int_equal(d.segs[1].count, 412);
	/* a beacon (the same anchor) changes nothing */
	dev_round(&d, &b, 100 * RATE, 512);
	assert_int_equal(d.segs[0].frame, 412);
	assert_int_equal(d.first_new, -1);
	/* re-anchored on the same timeline within 1.5 ms: no restart */
	b.at_us += 2000000;
	b.position_us += 2000000 + 800;
	dev_round(&d, &b, 100 * RATE, 512);
	assert_int_equal(d.first_new, -1);
	assert_int_equal(d.segs[0].frame, 925);		/* 0.8 ms behind now: one dropped */
	assert_int_equal(d.s.dropped, 1);
	/* a pause that took effect before this buffer: silence at once */
	p.at_us = llround(T0 + (double)d.w * FR_US) - 30000;
	dev_round(&d, &p, 100 * RATE, 512);
	assert_int_equal(d.nseg, 1);
	assert_int_equal(d.first_new, 0);
	assert_int_equal(d.segs[0].item_id, 0);
	assert_int_equal(d.s.resyncs, 0);
}

static void
test_sched_drift(void **state)
{
	static const double ppms[] = { 100, -100, 450 };
	struct lsched_anchor a = { LSCHED_PLAYING, 1, 1, 0, T0 };
	struct dev d;
	double err, worst;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(ppms) / sizeof(ppms[0]); i++) {
		dev_init(&d, T0, ppms[i]);
		worst = 0;
		for (r = 0; r < 60 * RATE / 512; r++) {
			dev_round(&d, &a, 100 * RATE, 512);
			if (r > 10 * RATE / 512)
				worst = fmax(worst, fabs(d.s.last_err_us));
		}
		/* a fast device plays more frames than the track advances: inserts */
		assert_true(ppms[i] > 0 ? d.s.inserted > 0 && d.s.dropped == 0 :
		    d.s.dropped > 0 && d.s.inserted == 0);
		err = (double)(d.s.inserted + d.s.dropped) * 1e6 / (double)d.s.frames;
		assert_true(fabs(err - fabs(ppms[i])) < 30);
		assert_true(worst < 100);
		assert_int_equal(d.s.resyncs, 0);
	}
	/* beyond 500 ppm the correction cannot keep up: hard resyncs, rarely */
	dev_init(&d, T0, 2000);
	for (r = 0; r < 60 * RATE / 512; r++)
		dev_round(&d, &a, 100 * RATE, 512);
	assert_true(d.s.inserted * 1e6 / (double)d.s.frames <= 501);
	assert_true(d.s.resyncs >= 1 && d.s.resyncs <= 15);
}

static void
test_sched_resync(void **state)
{
	struct lsched_anchor a = { LSCHED_PLAYING, 1, 1, 0, T0 };
	struct dev d;
	int r;

	(void)state;
	/* a 5 ms step is corrected softly, within 500 ppm */
	dev_init(&d, T0, 0);
	dev_round(&d, &a, 100 * RATE, 512);
	d.t0 += 5000;
	for (r = 0; r < 30 * RATE / 512; r++)
		dev_round(&d, &a, 100 * RATE, 512);
	assert_int_equal(d.s.resyncs, 0);
	assert_true(d.s.dropped >= 215 && d.s.dropped <= 225);	/* 5 ms = 220.5 frames */
	assert_true(fabs(d.s.last_err_us) < 60);
	/* a 20 ms step: a hard resync, but only at the second check >= 100 ms on */
	dev_init(&d, T0, 0);
	dev_round(&d, &a, 100 * RATE, 512);
	d.t0 -= 20000;
	dev_round(&d, &a, 100 * RATE, 512);
	assert_int_equal(d.s.resyncs, 0);
	for (r = 0; r < 7; r++)		/* 81 ms on */
		dev_round(&d, &a, 100 * RATE, 512);
	assert_int_equal(d.s.resyncs, 0);
	dev_round(&d, &a, 100 * RATE, 512);
	dev_round(&d, &a, 100 * RATE, 512);
	assert_int_equal(d.s.resyncs, 1);
	dev_round(&d, &a, 100 * RATE, 512);
	assert_true(fabs(d.s.last_err_us) < FR_US);
	/* an underrun (the device restarted 8 ms late): realigned at once */
	dev_init(&d, T0, 0);
	dev_round(&d, &a, 100 * RATE, 512);
	d.t0 += 8000;
	lsched_realign(&d.s);
	dev_round(&d, &a, 100 * RATE, 512);
	dev_round(&d, &a, 100 * RATE, 512);
	assert_true(fabs(d.s.last_err_us) < FR_US);
	assert_int_equal(d.s.resyncs, 0);
	assert_int_equal(d.s.realigns, 1);
	assert_int_equal(d.s.starts, 1);
	assert_int_equal(d.s.dropped, 0);
	/* one check beyond 15 ms, then back: no resync */
	dev_init(&d, T0, 0);
	dev_round(&d, &a, 100 * RATE, 512);
	d.t0 -= 20000;
	dev_round(&d, &a, 100 * RATE, 512);
	d.t0 += 20000;
	for (r = 0; r < 20; r++)
		dev_round(&d, &a, 100 * RATE, 512);
	assert_int_equal(d.s.resyncs, 0);
}

/* dev_round with a predicted advance; act_frames is the active track's. */
static int
dev_round_ahead(struct dev *d, const struct lsched_anchor *a, int64_t a_frames,
    const struct lsched_anchor *next, int64_t next_frames, int64_t act_frames)
{
	size_t sum = 0;
	int i, used;

	d->nseg = lsched_plan_ahead(&d->s, a, a_frames, next, next_frames, act_frames,
	    llround(d->t0 + (double)d->w * d->fr_us), d->fr_us, 512, d->segs, &d->first_new,
	    &used);
	assert_true(d->nseg >= 1 && d->nseg <= LSCHED_MAX_SEGS);
	for (i = 0; i < d->nseg; i++)
		sum += d->segs[i].count;
	assert_int_equal(sum, 512);
	d->w += 512;
	return used;
}

/* The device frame (of the buffer just planned) at which item's frame 0
 * plays, or -1. */
static int64_t
dev_start_of(const struct dev *d, int64_t item)
{
	int64_t at = d->w - 512;
	int i;

	for (i = 0; i < d->nseg; i++) {
		if (d->segs[i].item_id == item && d->segs[i].frame == 0)
			return at;
		at += (int64_t)d->segs[i].count;
	}
	return -1;
}

static void
test_sched_predict(void **state)
{
	/* item 1 (6 s long) has played 5 s; the server will advance to item 2 */
	struct lsched_anchor a = { LSCHED_PLAYING, 1, 1, 0, T0 - 5000000 };
	struct lsched_anchor b = { LSCHED_PLAYING, 2, 2, 0, T0 + 1000000 };
	struct lsched_anchor c = { LSCHED_PLAYING, 3, 3, 0, T0 + 1000000 };
	struct lsched_anchor seek = { LSCHED_PLAYING, 1, 1, 0, 0 };
	int64_t due = llround(1000000 / FR_US), w2 = -1, f2 = 0;
	struct dev d;
	int r, used;

	(void)state;
	/* the switch lands on the frame nearest the item's end, no advance needed */
	dev_init(&d, T0, 0);
	for (r = 0; r < 200 && w2 < 0; r++) {
		used = dev_round_ahead(&d, &a, 6 * RATE, &b, 10 * RATE, 6 * RATE);
		if ((w2 = dev_start_of(&d, 2)) >= 0)
			assert_int_equal(used, 1);
	}
	assert_true(llabs(w2 - due) <= 1);
	assert_int_equal(d.s.predicted, 1);
	assert_int_equal(d.s.starts, 2);
	assert_int_equal(d.segs[d.first_new].item_id, 2);
	f2 = d.segs[d.nseg - 1].frame + (int64_t)d.segs[d.nseg - 1].count;
	/* a beacon repeating the old pair, even on a clock estimate stepped back a
	 * buffer and more: item 2 plays on */
	d.t0 -= 20000;
	assert_int_equal(dev_round_ahead(&d, &a, 6 * RATE, &b, 10 * RATE, 10 * RATE), 1);
	assert_int_equal(d.first_new, -1);
	assert_int_equal(d.segs[0].item_id, 2);
	assert_int_equal(d.segs[0].frame, f2);
	d.t0 += 20000;
	f2 += 512;
	/* the server's advance, late: the same timeline, nothing changes */
	assert_int_equal(dev_round_ahead(&d, &b, 10 * RATE, NULL, -1, 10 * RATE), 0);
	assert_int_equal(d.first_new, -1);
	assert_int_equal(d.segs[0].item_id, 2);
	assert_true(llabs(d.segs[0].frame - f2) <= 1);
	assert_int_equal(d.s.predicted, 1);
	assert_int_equal(d.s.starts, 2);
	assert_int_equal(d.s.resyncs, 0);

	/* an advance that differs (the playlist changed at the last moment) takes
	 * over at once, further in */
	dev_init(&d, T0, 0);
	for (r = 0; r < 100; r++)
		dev_round_ahead(&d, &a, 6 * RATE, &b, 10 * RATE, r < 90 ? 6 * RATE : 10 * RATE);
	assert_int_equal(d.s.predicted, 1);
	dev_round_ahead(&d, &c, 10 * RATE, NULL, -1, 10 * RATE);
	assert_int_equal(d.first_new, 0);
	assert_int_equal(d.segs[0].item_id, 3);
	assert_true(llabs(d.segs[0].frame - (100 * 512 - due)) <= 1);
	assert_int_equal(d.s.predicted, 1);

	/* the server's advance in time (before the end): taken as any anchor,
	 * nothing predicted */
	dev_init(&d, T0, 0);
	dev_round_ahead(&d, &a, 6 * RATE, &b, 10 * RATE, 6 * RATE);
	c.at_us = b.at_us + 10000000;	/* now what follows item 2 */
	for (r = 0, w2 = -1; r < 200 && w2 < 0; r++) {
		used = dev_round_ahead(&d, &b, 10 * RATE, &c, 10 * RATE, r == 0 ? 6 * RATE :
		    d.s.act.item_id == 2 ? 10 * RATE : 6 * RATE);
		assert_int_equal(used, 0);
		w2 = dev_start_of(&d, 2);
	}
	assert_true(llabs(w2 - due) <= 1);
	assert_int_equal(d.s.predicted, 0);

	/* without a prediction item 1 ends in silence until the advance comes */
	dev_init(&d, T0, 0);
	for (r = 0; r < 100; r++)
		dev_round_ahead(&d, &a, 6 * RATE, NULL, -1, 6 * RATE);
	assert_int_equal(d.nseg, 1);
	assert_int_equal(d.segs[0].item_id, 0);
	assert_int_equal(d.s.predicted, 0);

	/* a seek 8 ms before the end that is due inside the same buffer as the
	 * end: the advance still lands on its frame */
	dev_init(&d, T0, 0);
	dev_round_ahead(&d, &a, 6 * RATE, NULL, -1, 6 * RATE);
	seek.at_us = T0 + 13000;
	seek.position_us = 5992000;
	b.at_us = seek.at_us + 8000;
	assert_int_equal(dev_round_ahead(&d, &seek, 6 * RATE, &b, 10 * RATE, 6 * RATE), 1);
	assert_true(llabs(dev_start_of(&d, 2) - llround(21000 / FR_US)) <= 1);
	assert_int_equal(d.s.predicted, 1);
	/* one due a buffer before the end: taken first, then the advance */
	dev_init(&d, T0, 0);
	dev_round_ahead(&d, &a, 6 * RATE, NULL, -1, 6 * RATE);
	b.at_us = seek.at_us + 15000;
	assert_int_equal(dev_round_ahead(&d, &seek, 6 * RATE, &b, 10 * RATE, 6 * RATE), 0);
	assert_int_equal(d.s.act.position_us, seek.position_us);
	assert_int_equal(dev_round_ahead(&d, &seek, 6 * RATE, &b, 10 * RATE, 6 * RATE), 1);
	assert_true(llabs(dev_start_of(&d, 2) - llround(28000 / FR_US)) <= 1);
	assert_int_equal(d.s.predicted, 1);
}

static void
test_cache_name(void **state)
{
	char out[80], small[40];
	const char *h = "24bc265815f2f09750d52ab012a756deb9c920d7d4b97acacf42bcbf50df2b7f";
	char url[128];

	(void)state;
	snprintf(url, sizeof(url), "/media/24/%s.mp3", h);
	assert_int_equal(lcache_name(url, out, sizeof(out)), 1);
	assert_int_equal(strncmp(out, h, 64), 0);
	assert_string_equal(out + 64, ".mp3");
	assert_int_equal(lcache_name("/media/x/../../etc/passwd", out, sizeof(out)), 0);
	assert_int_equal(strncmp(out, "u-", 2), 0);
	assert_int_equal(strlen(out), 2 + 64 + 4);
	assert_null(strchr(out, '/'));
	snprintf(url, sizeof(url), "/media/24/%.63sG.mp3", h);	/* not hex */
	assert_int_equal(lcache_name(url, out, sizeof(out)), 0);
	assert_int_equal(lcache_name(url, small, sizeof(small)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock_wrong),
		cmocka_unit_test(test_estimator),
		cmocka_unit_test(test_sched_start),
		cmocka_unit_test(test_sched_switch),
		cmocka_unit_test(test_sched_drift),
		cmocka_unit_test(test_sched_resync),
		cmocka_unit_test(test_sched_predict),
		cmocka_unit_test(test_cache_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
