/*
 * lsched.c - the scheduling arithmetic of `tutti listen` (lsched.h): one
 * call per output buffer turns "this buffer is heard from server time t0"
 * and the newest anchor (and the advance predicted after it) into segments
 * of track frames and silence. No I/O, no clock reads: lplayer.c supplies
 * the times, test_cli_listen.c fakes them.
 */
#include "lsched.h"

#include <math.h>
#include <string.h>

void
lsched_init(struct lsched *s, long rate)
{
	memset(s, 0, sizeof(*s));
	s->rate = rate;
	s->cursor = -1;
	s->conf.max_ppm = 500;
	s->conf.start_us = 60;
	s->conf.stop_us = 12;
	s->conf.hard_us = 15000;
	s->conf.hard_gap_us = 100000;
	s->conf.same_us = 1500;
}

/* Appends count frames to the plan, merging with the segment before. */
static void
lsched_emit(struct lsched_seg *segs, int *nseg, int64_t item, int64_t frame, size_t count)
{
	struct lsched_seg *last = *nseg > 0 ? &segs[*nseg - 1] : NULL;

	if (count == 0)
		return;
	if (last != NULL && last->item_id == item &&
	    (item == 0 || last->frame + (int64_t)last->count == frame)) {
		last->count += count;
		return;
	}
	if (*nseg == LSCHED_MAX_SEGS) {		/* cannot happen: at most 5 pieces */
		last->count += count;
		return;
	}
	segs[*nseg].item_id = item;
	segs[*nseg].frame = item == 0 ? 0 : frame;
	segs[*nseg].count = count;
	(*nseg)++;
}

/* Whether a is b, or the same timeline (playing the same item with sample 0
 * at nearly the same server time). */
static int
lsched_same(const struct lsched *s, const struct lsched_anchor *a, const struct lsched_anchor *b)
{
	if (a->state != b->state || a->item_id != b->item_id || a->track_id != b->track_id)
		return 0;
	if (a->state != LSCHED_PLAYING)
		return a->position_us == b->position_us;
	return fabs((double)((a->at_us - a->position_us) - (b->at_us - b->position_us))) <=
	    s->conf.same_us;
}

/* The hard-resync and drift checks at server time t for a cursor whose
 * error is err frames (> 0: ahead, heard early). Returns the correction to
 * make now: +1 insert a frame, -1 drop one, 0 none; 2 for a hard resync. */
static int
lsched_check(struct lsched *s, double err, int64_t t)
{
	double err_us = err * 1e6 / (double)s->rate;

	s->last_err_us = err_us;
	if (fabs(err_us) > s->conf.hard_us) {
		if (s->strikes == 0 || t - s->strike_us >= s->conf.hard_gap_us) {
			s->strikes++;
			s->strike_us = t;
		}
		if (s->strikes >= 2) {
			s->strikes = 0;
			s->correcting = 0;
			return 2;
		}
		return 0;
	}
	s->strikes = 0;
	if (fabs(err_us) > s->conf.start_us)
		s->correcting = 1;
	else if (fabs(err_us) < s->conf.stop_us)
		s->correcting = 0;
	if (!s->correcting || s->budget < 1 || fabs(err) < 0.5)
		return 0;
	s->budget -= 1;
	return err > 0 ? 1 : -1;
}

/* Plans frames [from, to) of the buffer with the active anchor, whose track
 * has frames frames (-1: not loaded). */
static void
lsched_fill(struct lsched *s, int64_t frames, int64_t t0, double frame_us, size_t from,
    size_t to, struct lsched_seg *segs, int *nseg)
{
	int64_t base, item = s->act.item_id, t = t0 + (int64_t)llround((double)from * frame_us);
	size_t left = to - from, m;
	double target;
	int fix;

	if (left == 0)
		return;
	if (!s->have_act || s->act.state != LSCHED_PLAYING || frames < 0) {
		s->cursor = -1;
		lsched_emit(segs, nseg, 0, 0, left);
		return;
	}
	base = s->act.at_us - s->act.position_us;
	target = (double)(t - base) * (double)s->rate / 1e6;
	if (s->cursor < 0) {
		/* a start: the frame due now, or silence until frame 0 is due */
		if (target < 0) {
			m = (size_t)llround(-target);
			if (m >= left) {
				lsched_emit(segs, nseg, 0, 0, left);
				return;
			}
			lsched_emit(segs, nseg, 0, 0, m);
			left -= m;
			s->cursor = 0;
		} else {
			s->cursor = llround(target);
		}
		s->starts++;
		s->strikes = 0;
		s->correcting = 0;
	} else if (s->cursor < frames) {
		fix = lsched_check(s, (double)s->cursor - target, t);
		if (fix == 2) {
			s->cursor = llround(target);
			s->resyncs++;
		} else if (fix == 1) {
			/* insert: the frame before the cursor once more */
			lsched_emit(segs, nseg, item, s->cursor > 0 ? s->cursor - 1 : 0, 1);
			s->inserted++;
			left--;
		} else if (fix == -1) {
			s->cursor++;
			s->dropped++;
		}
	}
	if (s->cursor < frames && left > 0) {
		m = (size_t)(frames - s->cursor) < left ? (size_t)(frames - s->cursor) : left;
		lsched_emit(segs, nseg, item, s->cursor, m);
		s->track_frames += m;
		s->cursor += (int64_t)m;
		left -= m;
	}
	/* past the end: silence, the cursor keeping time */
	lsched_emit(segs, nseg, 0, 0, left);
	s->cursor += (int64_t)left;
}

int
lsched_plan(struct lsched *s, const struct lsched_anchor *latest, int64_t latest_frames,
    int64_t act_frames, int64_t t0_us, double frame_us, size_t n, struct lsched_seg *segs,
    int *first_new)
{
	size_t k = n;
	double ks;
	int nseg = 0;

	*first_new = -1;
	s->budget += (double)n * s->conf.max_ppm * 1e-6;
	if (s->budget > 2)
		s->budget = 2;
	if (latest != NULL && s->have_act && lsched_same(s, &s->act, latest)) {
		s->act = *latest;		/* a beacon, or the same timeline re-anchored */
	} else if (latest != NULL) {
		/* a new anchor takes over at the frame nearest its at_us (at once
		 * when that passed) */
		ks = round((double)(latest->at_us - t0_us) / frame_us);
		k = ks <= 0 ? 0 : ks >= (double)n ? n : (size_t)ks;
	}
	lsched_fill(s, act_frames, t0_us, frame_us, 0, k, segs, &nseg);
	if (k < n) {
		s->act = *latest;
		s->have_act = 1;
		s->cursor = -1;
		*first_new = nseg;
		lsched_fill(s, latest_frames, t0_us, frame_us, k, n, segs, &nseg);
	}
	s->frames += n;
	return nseg;
}

void
lsched_realign(struct lsched *s)
{
	if (s->cursor < 0)
		return;
	s->cursor = -1;
	s->starts--;		/* the fresh start that follows is not a new track */
	s->realigns++;
}

int
lsched_plan_ahead(struct lsched *s, const struct lsched_anchor *latest,
    int64_t latest_frames, const struct lsched_anchor *next, int64_t next_frames,
    int64_t act_frames, int64_t t0_us, double frame_us, size_t n, struct lsched_seg *segs,
    int *first_new, int *used_next)
{
	int nseg;

	/* next once the buffer reaches its at_us, and for good once it plays
	 * (a clock estimate stepping back must not bring latest back) */
	*used_next = next != NULL && latest != NULL &&
	    ((s->have_act && lsched_same(s, &s->act, next)) ||
	    (double)t0_us + (double)n * frame_us >= (double)next->at_us);
	if (!*used_next)
		return lsched_plan(s, latest, latest_frames, act_frames, t0_us, frame_us, n, segs,
		    first_new);
	nseg = lsched_plan(s, next, next_frames, act_frames, t0_us, frame_us, n, segs,
	    first_new);
	if (*first_new >= 0)
		s->predicted++;
	return nseg;
}
