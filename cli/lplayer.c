/*
 * lplayer.c - the audio thread of `tutti listen` (lplayer.h). Each round:
 * wait until the device has room (a sound card blocks in out123_play; a file
 * or null module is paced here on the listener's clock), work out when the
 * next frame will be heard (device model + clock estimate), let lsched plan
 * the buffer (with the newest anchor, or the advance predicted after it once
 * that is due), copy the frames, write them, and log them in the report.
 * The device model: frame w is heard at local time l0 + w / rate (+ the
 * --latency-ms nudge), l0 being the local time the device started (paced),
 * or the earliest start that the returns of blocking writes allow (cards).
 */
#include "lplayer.h"

#include <errno.h>
#include <math.h>
#include <out123.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define LP_FRAMES   512		/* frames per buffer (11.6 ms at 44.1 kHz) */
#define LP_L0_WIN   256		/* writes the card model keeps */
#define LP_STATS_US 5000000	/* a "# stats" report line this often */
#define LP_FLUSH_US 200000	/* the report reaches its file this often */

struct lplayer {
	struct lplayer_conf conf;
	out123_handle *ao;
	FILE *report;
	int paced;
	pthread_t thread;
	int started;
	atomic_int stop;

	pthread_mutex_t mu;		/* guards the fields up to stats */
	struct lest_map map;
	struct lsched_anchor latest;
	int have_latest;
	struct ltrack *latest_track;
	struct lsched_anchor next;	/* the advance predicted after latest */
	int have_next;
	struct ltrack *next_track;
	struct lplayer_stats stats;

	/* the audio thread's own */
	struct lsched sched;
	struct ltrack *act_track;
	int64_t l0;			/* local µs when device frame 0 is heard (nudge aside) */
	int64_t w;			/* device frames written */
	int running;			/* the device clock runs (l0 valid) */
	double l0_win[LP_L0_WIN];	/* cards: candidates for l0 */
	int l0_n, l0_head;
	int16_t *buf;
	int64_t next_stats_us;
	int64_t next_flush_us;
};

static const char *const lp_paced_modules[] = {
	"test", "raw", "cdr", "wav", "au", "hex", "txt", NULL,
};

static int
lp_is_paced(const char *driver)
{
	int i;

	for (i = 0; driver != NULL && lp_paced_modules[i] != NULL; i++)
		if (strcmp(driver, lp_paced_modules[i]) == 0)
			return 1;
	return 0;
}

struct lplayer *
lplayer_open(const struct lplayer_conf *conf, char *why, size_t n)
{
	struct lplayer *p;
	const char *drv = conf->driver;
	char *name = NULL, *dev = NULL;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(why, n, "out of memory");
		return NULL;
	}
	p->conf = *conf;
	pthread_mutex_init(&p->mu, NULL);
	atomic_init(&p->stop, 0);
	lsched_init(&p->sched, conf->rate);
	if (drv != NULL && strcmp(drv, "null") == 0)
		drv = "test";
	if ((p->buf = malloc(LP_FRAMES * (size_t)conf->channels * sizeof(int16_t))) == NULL ||
	    (p->ao = out123_new()) == NULL) {
		snprintf(why, n, "out of memory");
		goto fail;
	}
	out123_param_int(p->ao, OUT123_FLAGS, OUT123_QUIET);
	out123_param_float(p->ao, OUT123_DEVICEBUFFER, conf->buffer_ms / 1000.0);
	out123_param_string(p->ao, OUT123_NAME, "tutti");
	if (out123_open(p->ao, drv, conf->device) != OUT123_OK) {
		snprintf(why, n, "cannot open the output %s%s%s: %s", drv ? drv : "(default)",
		    conf->device ? " " : "", conf->device ? conf->device : "",
		    out123_strerror(p->ao));
		goto fail;
	}
	if (out123_driver_info(p->ao, &name, &dev) == OUT123_OK)
		p->paced = lp_is_paced(name);
	if (out123_start(p->ao, conf->rate, conf->channels, MPG123_ENC_SIGNED_16) != OUT123_OK) {
		snprintf(why, n, "the output refuses %ld Hz, %d channels: %s", conf->rate,
		    conf->channels, out123_strerror(p->ao));
		goto fail;
	}
	if (conf->report != NULL) {
		if ((p->report = fopen(conf->report, "w")) == NULL) {
			snprintf(why, n, "%s: %s", conf->report, strerror(errno));
			goto fail;
		}
		setvbuf(p->report, NULL, _IOFBF, 1 << 16);
		fprintf(p->report, "# tutti listen report 1: true_us item_id frame frames end_true_us\n"
		    "# rate=%ld channels=%d module=%s paced=%d buffer_ms=%d latency_us=%lld "
		    "clock_offset_us=%lld clock_skew_ppm=%g clock_start_us=%lld\n", conf->rate,
		    conf->channels, name ? name : "?", p->paced, conf->buffer_ms,
		    (long long)conf->latency_us, (long long)conf->clock->offset_us, conf->clock->ppm,
		    (long long)conf->clock->t_start);
	}
	p->stats.paced = p->paced;
	return p;
fail:
	if (p->ao != NULL)
		out123_del(p->ao);
	pthread_mutex_destroy(&p->mu);
	free(p->buf);
	free(p);
	return NULL;
}

/* Sleeps until true time t, or until asked to stop (in slices). */
static void
lp_sleep_until(struct lplayer *p, int64_t t)
{
	const struct lclock *c = p->conf.clock;
	struct timespec ts;
	int64_t m, now;

	while (!atomic_load(&p->stop)) {
		now = lclock_true_now(c);
		if (now >= t)
			return;
		m = lclock_mono_of_true(c, t - now > 50000 ? now + 50000 : t);
		ts.tv_sec = m / 1000000;
		ts.tv_nsec = (m % 1000000) * 1000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
}

/* Local µs at which device frame w is heard, by the model. */
static double
lp_heard_local(const struct lplayer *p, int64_t w)
{
	return (double)p->l0 + (double)w * 1e6 / (double)p->conf.rate + (double)p->conf.latency_us;
}

/* Paced modules: waits until the simulated card has room for the next
 * buffer; restarts its clock after an underrun (the writer was late). */
static void
lp_pace(struct lplayer *p)
{
	const struct lclock *c = p->conf.clock;
	int64_t room_local, now_local, b = (int64_t)p->conf.buffer_ms * p->conf.rate / 1000;

	if (b < 2 * LP_FRAMES)
		b = 2 * LP_FRAMES;
	if (!p->running) {
		p->l0 = lclock_local_now(c);
		p->running = 1;
		return;
	}
	room_local = p->l0 + (int64_t)llround((double)(p->w + LP_FRAMES - b) * 1e6 /
	    (double)p->conf.rate);
	lp_sleep_until(p, lclock_true_of_local(c, room_local));
	now_local = lclock_local_now(c);
	if ((double)now_local > (double)p->l0 + (double)p->w * 1e6 / (double)p->conf.rate) {
		/* the card ran dry: it starts again with the next frame, now */
		p->l0 = now_local - (int64_t)llround((double)p->w * 1e6 / (double)p->conf.rate);
		lsched_realign(&p->sched);
		pthread_mutex_lock(&p->mu);
		p->stats.underruns++;
		pthread_mutex_unlock(&p->mu);
	}
}

/* Sound cards: after a write of frames up to w returned at local time now,
 * the card holds at most its buffer, so frame 0 was heard no later than
 * now - (w - buffer) / rate; the earliest such bound of recent writes is l0. */
static void
lp_card_model(struct lplayer *p)
{
	double b = (double)p->conf.buffer_ms * 1e3, cand, best;
	int64_t now = lclock_local_now(p->conf.clock);
	int i;

	cand = (double)now - (double)p->w * 1e6 / (double)p->conf.rate + b;
	p->l0_win[p->l0_head] = cand;
	p->l0_head = (p->l0_head + 1) % LP_L0_WIN;
	if (p->l0_n < LP_L0_WIN)
		p->l0_n++;
	best = cand;
	for (i = 0; i < p->l0_n; i++)
		best = fmin(best, p->l0_win[i]);
	p->l0 = (int64_t)llround(best);
}

/* Copies the planned segments into the buffer; items other than the new
 * anchor's (those before a switch) come from old. */
static void
lp_fill(struct lplayer *p, const struct lsched_seg *segs, int nseg, int first_new,
    struct ltrack *old, struct ltrack *cur)
{
	size_t ch = (size_t)p->conf.channels, at = 0;
	struct ltrack *t;
	int i;

	for (i = 0; i < nseg; i++) {
		t = first_new >= 0 && i >= first_new ? cur : old;
		if (segs[i].item_id == 0 || t == NULL || segs[i].frame < 0 ||
		    segs[i].frame + (int64_t)segs[i].count > t->frames)
			memset(p->buf + at * ch, 0, segs[i].count * ch * sizeof(int16_t));
		else
			memcpy(p->buf + at * ch, t->pcm + (size_t)segs[i].frame * ch,
			    segs[i].count * ch * sizeof(int16_t));
		at += segs[i].count;
	}
}

/* One report line per segment of track audio. */
static void
lp_report(struct lplayer *p, const struct lsched_seg *segs, int nseg)
{
	const struct lclock *c = p->conf.clock;
	int64_t at = p->w, t0, t1;
	int i;

	for (i = 0; i < nseg; i++) {
		if (segs[i].item_id != 0) {
			t0 = lclock_true_of_local(c, (int64_t)llround(lp_heard_local(p, at)));
			t1 = lclock_true_of_local(c, (int64_t)llround(lp_heard_local(p,
			    at + (int64_t)segs[i].count)));
			fprintf(p->report, "%lld %lld %lld %zu %lld\n", (long long)t0,
			    (long long)segs[i].item_id, (long long)segs[i].frame, segs[i].count,
			    (long long)t1);
		}
		at += (int64_t)segs[i].count;
	}
}

static void
lp_stats_line(struct lplayer *p, const struct lplayer_stats *st, const struct lest_map *m)
{
	if (p->report == NULL)
		return;
	fprintf(p->report, "# stats true_us=%lld frames=%llu track_frames=%llu inserted=%llu "
	    "dropped=%llu resyncs=%llu underruns=%llu starts=%llu predicted=%llu err_us=%.1f "
	    "est=%s offset_us=%.1f skew_ppm=%.3f rtt_us=%lld unc_us=%.1f samples=%d\n",
	    (long long)lclock_true_now(p->conf.clock), (unsigned long long)st->frames,
	    (unsigned long long)st->track_frames, (unsigned long long)st->inserted,
	    (unsigned long long)st->dropped, (unsigned long long)st->resyncs,
	    (unsigned long long)st->underruns, (unsigned long long)st->starts,
	    (unsigned long long)st->predicted, st->last_err_us,
	    m->kind == LEST_FIT ? "fit" : m->kind == LEST_MEDIAN ? "median" : "none",
	    m->offset_us + m->skew * ((double)lclock_local_now(p->conf.clock) - m->t_ref),
	    m->skew * 1e6, (long long)m->rtt_us, m->uncertainty_us, m->samples);
	fflush(p->report);
}

/* One buffer: plan, fill, write, report. Returns 0, or -1 when the output
 * failed. */
static int
lp_round(struct lplayer *p)
{
	struct lsched_seg segs[LSCHED_MAX_SEGS];
	struct lsched_anchor latest, next;
	const struct lsched_anchor *pa;
	struct lest_map map;
	struct ltrack *lt, *nt, *pt, *old;
	struct lplayer_stats st;
	int have_latest, have_next, nseg, first_new, swapped, used_next;
	int64_t t0, t1, now;
	size_t bytes, done;

	pthread_mutex_lock(&p->mu);
	map = p->map;
	latest = p->latest;
	have_latest = p->have_latest;
	lt = ltrack_ref(p->latest_track);
	next = p->next;
	have_next = p->have_next;
	nt = ltrack_ref(p->next_track);
	pthread_mutex_unlock(&p->mu);

	if (p->paced)
		lp_pace(p);
	else if (!p->running) {
		p->l0 = lclock_local_now(p->conf.clock) + (int64_t)p->conf.buffer_ms * 1000;
		p->running = 1;
	}
	t0 = lest_server(&map, (int64_t)llround(lp_heard_local(p, p->w)));
	t1 = lest_server(&map, (int64_t)llround(lp_heard_local(p, p->w + LP_FRAMES)));
	nseg = lsched_plan_ahead(&p->sched, have_latest ? &latest : NULL, lt ? lt->frames : -1,
	    have_next ? &next : NULL, nt ? nt->frames : -1,
	    p->act_track ? p->act_track->frames : -1, t0, (double)(t1 - t0) / LP_FRAMES,
	    LP_FRAMES, segs, &first_new, &used_next);
	/* the anchor planned with, and its track */
	pa = used_next ? &next : &latest;
	pt = used_next ? nt : lt;
	old = p->act_track;
	swapped = 0;
	if (first_new >= 0 || (p->act_track == NULL && pt != NULL && have_latest &&
	    p->sched.have_act && p->sched.act.item_id == pa->item_id &&
	    p->sched.act.track_id == pt->track_id)) {
		/* a switch, or the active item's track loaded since its switch */
		p->act_track = ltrack_ref(pt);
		swapped = 1;
	}
	lp_fill(p, segs, nseg, first_new, old, p->act_track);
	if (swapped)
		ltrack_unref(old);	/* after the fill: its frames were still copied */
	ltrack_unref(lt);
	ltrack_unref(nt);

	bytes = LP_FRAMES * (size_t)p->conf.channels * sizeof(int16_t);
	done = out123_play(p->ao, p->buf, bytes);
	if (done < bytes && out123_errcode(p->ao) != OUT123_OK) {
		log_err("output: %s", out123_strerror(p->ao));
		return -1;
	}
	if (p->report != NULL)
		lp_report(p, segs, nseg);
	p->w += LP_FRAMES;
	if (!p->paced)
		lp_card_model(p);

	pthread_mutex_lock(&p->mu);
	p->stats.frames = p->sched.frames;
	p->stats.track_frames = p->sched.track_frames;
	p->stats.inserted = p->sched.inserted;
	p->stats.dropped = p->sched.dropped;
	p->stats.resyncs = p->sched.resyncs;
	p->stats.starts = p->sched.starts;
	p->stats.predicted = p->sched.predicted;
	p->stats.last_err_us = p->sched.last_err_us;
	st = p->stats;
	pthread_mutex_unlock(&p->mu);
	now = lclock_true_now(p->conf.clock);
	if (now >= p->next_stats_us) {
		p->next_stats_us = now + LP_STATS_US;
		lp_stats_line(p, &st, &map);
	}
	if (p->report != NULL && now >= p->next_flush_us) {
		p->next_flush_us = now + LP_FLUSH_US;
		fflush(p->report);
	}
	return 0;
}

static void *
lp_thread(void *arg)
{
	struct lplayer *p = arg;
	int have_map;

	/* nothing to time against before the first estimate */
	for (;;) {
		if (atomic_load(&p->stop))
			return NULL;
		pthread_mutex_lock(&p->mu);
		have_map = p->map.kind != LEST_NONE;
		pthread_mutex_unlock(&p->mu);
		if (have_map)
			break;
		lp_sleep_until(p, lclock_true_now(p->conf.clock) + 10000);
	}
	while (!atomic_load(&p->stop))
		if (lp_round(p) != 0)
			break;
	return NULL;
}

int
lplayer_start(struct lplayer *p)
{
	if (pthread_create(&p->thread, NULL, lp_thread, p) != 0)
		return -1;
	p->started = 1;
	return 0;
}

void
lplayer_set_map(struct lplayer *p, const struct lest_map *m)
{
	pthread_mutex_lock(&p->mu);
	p->map = *m;
	pthread_mutex_unlock(&p->mu);
}

void
lplayer_set_anchor(struct lplayer *p, const struct lsched_anchor *a, struct ltrack *t,
    const struct lsched_anchor *next, struct ltrack *next_t)
{
	struct ltrack *old, *old_next;

	pthread_mutex_lock(&p->mu);
	p->latest = *a;
	p->have_latest = 1;
	old = p->latest_track;
	p->latest_track = ltrack_ref(t);
	p->have_next = next != NULL;
	if (next != NULL)
		p->next = *next;
	old_next = p->next_track;
	p->next_track = next != NULL ? ltrack_ref(next_t) : NULL;
	pthread_mutex_unlock(&p->mu);
	ltrack_unref(old);
	ltrack_unref(old_next);
}

void
lplayer_get_stats(struct lplayer *p, struct lplayer_stats *st)
{
	pthread_mutex_lock(&p->mu);
	*st = p->stats;
	pthread_mutex_unlock(&p->mu);
}

void
lplayer_note(struct lplayer *p, const char *line)
{
	if (p->report == NULL)
		return;
	pthread_mutex_lock(&p->mu);	/* the thread writes under no lock: stdio locks */
	fprintf(p->report, "# %s\n", line);
	pthread_mutex_unlock(&p->mu);
}

void
lplayer_close(struct lplayer *p)
{
	struct lplayer_stats st;
	struct lest_map map;

	if (p == NULL)
		return;
	atomic_store(&p->stop, 1);
	if (p->started)
		pthread_join(p->thread, NULL);
	out123_drop(p->ao);
	out123_del(p->ao);
	if (p->report != NULL) {
		lplayer_get_stats(p, &st);
		map = p->map;
		lp_stats_line(p, &st, &map);
		fprintf(p->report, "# end\n");
		fclose(p->report);
	}
	ltrack_unref(p->act_track);
	ltrack_unref(p->latest_track);
	ltrack_unref(p->next_track);
	pthread_mutex_destroy(&p->mu);
	free(p->buf);
	free(p);
}
