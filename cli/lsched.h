/*
 * lsched.h - what `tutti listen` writes into each output buffer: the pure
 * scheduling of lplayer.c. Given when the buffer's first frame will be heard
 * (in server time, through the clock estimate and the device model) and the
 * room's newest anchor, it plans the buffer as segments of track frames and
 * silence: a sample-accurate start at the anchor's at_us (or further in when
 * late), switches at a new anchor's at_us, drift correction by one inserted
 * or dropped sample at a time (at most max_ppm), and a hard resync only after
 * two checks beyond hard_us in a row. lsched_plan_ahead also takes the
 * advance the server will make at the end of the item (predicted by
 * listen.c) and switches to it at its at_us without waiting for the server's
 * own. Tested in tests/unit/test_cli_listen.c.
 */
#ifndef TUTTI_LSCHED_H
#define TUTTI_LSCHED_H

#include <stddef.h>
#include <stdint.h>

enum lsched_state { LSCHED_STOPPED, LSCHED_PLAYING, LSCHED_PAUSED };

/* A playback anchor (docs/protocol.md): at server time at_us, item item_id
 * is at position_us; it advances only while playing. */
struct lsched_anchor {
	enum lsched_state state;
	int64_t item_id, track_id;
	int64_t position_us, at_us;
};

/* A piece of a planned buffer: count frames of silence (item_id 0) or of
 * the track of item_id from frame `frame` on. */
struct lsched_seg {
	int64_t item_id;
	int64_t frame;
	size_t count;
};

#define LSCHED_MAX_SEGS 6

/* Tuning; lsched_init sets the defaults in brackets. */
struct lsched_conf {
	double max_ppm;		/* corrections at most this often (500) */
	double start_us;	/* start correcting beyond this error (60) */
	double stop_us;		/* and go on until under this one (12) */
	double hard_us;		/* a hard resync beyond this error ... (15000) */
	int64_t hard_gap_us;	/* ... on two checks at least this far apart (100000) */
	double same_us;		/* a new anchor within this of the timeline playing is
				   the same timeline, not a restart (1500) */
};

struct lsched {
	struct lsched_conf conf;
	long rate;			/* frames a second */
	struct lsched_anchor act;	/* the anchor being played (or held) */
	int have_act;
	int64_t cursor;			/* the next track frame; -1: start afresh */
	double budget;			/* corrections allowed now */
	int correcting;
	int strikes;			/* checks beyond hard_us in a row */
	int64_t strike_us;		/* server time of the last one */
	double last_err_us;		/* the error at the last check (>0: early) */
	/* statistics */
	uint64_t frames, track_frames, inserted, dropped, resyncs, starts, realigns;
	uint64_t predicted;		/* switches to a predicted advance (lsched_plan_ahead) */
};

/* Sets up s for a device of rate frames a second, with the default tuning
 * (change s->conf after, if needed). */
void lsched_init(struct lsched *s, long rate);

/* The output's clock stepped (an underrun: the device restarted late): the
 * track playing starts afresh at the frame due with the next buffer, as a
 * hard resync would, instead of being corrected slowly. Counted apart. */
void lsched_realign(struct lsched *s);

/*
 * Plans the next n device frames. The first is heard at server time t0_us
 * and each lasts frame_us of server time. latest is the room's newest
 * anchor (NULL: none yet); its track has latest_frames frames (-1: not
 * loaded yet: played as silence, and started late once loaded). The active
 * item's track has act_frames frames (-1: not loaded). Fills segs (at most
 * LSCHED_MAX_SEGS, together n frames) and returns how many. *first_new is
 * -1, or, when latest became the active anchor in this buffer, the index of
 * the first segment that plays it (segments before it play the previous
 * anchor's track; the caller takes latest's track from then on).
 */
int lsched_plan(struct lsched *s, const struct lsched_anchor *latest, int64_t latest_frames,
    int64_t act_frames, int64_t t0_us, double frame_us, size_t n, struct lsched_seg *segs,
    int *first_new);

/*
 * lsched_plan with a predicted advance: next (NULL: none) is the anchor the
 * server will advance to when latest's item ends (playing, position 0, at_us
 * that end), its track next_frames frames. The buffer is planned with next
 * in latest's place once it reaches next->at_us (t0_us + n * frame_us >=
 * next->at_us), and from then on while next is the timeline playing; so the
 * switch lands on the frame nearest next->at_us, and the server's advance,
 * the same timeline, changes nothing when it comes; a latest that differs
 * takes over at once. Returns as lsched_plan; *used_next says which anchor was
 * planned with (1: next; the caller takes its track at *first_new). A switch
 * to next counts s->predicted.
 */
int lsched_plan_ahead(struct lsched *s, const struct lsched_anchor *latest,
    int64_t latest_frames, const struct lsched_anchor *next, int64_t next_frames,
    int64_t act_frames, int64_t t0_us, double frame_us, size_t n, struct lsched_seg *segs,
    int *first_new, int *used_next);

#endif
