/*
 * lplayer.h - the audio side of `tutti listen`: one thread that writes
 * buffers to a libout123 output, planned by lsched.c against a model of the
 * device's clock. A sound card (alsa, pulse, ...) paces the writes itself;
 * the file and null modules (raw, cdr, wav, au, hex, txt, test = "null")
 * would take samples as fast as they come, so the player paces them like a
 * sound card whose crystal is the listener's own (possibly skewed) clock.
 * listen.c feeds it the clock estimate and the anchors (the newest, and the
 * advance predicted at its item's end); --report lines come from here
 * (format in docs/cli.md, "tutti listen").
 */
#ifndef TUTTI_LPLAYER_H
#define TUTTI_LPLAYER_H

#include <stdint.h>

#include "lcache.h"
#include "lclock.h"
#include "lsched.h"

struct lplayer_conf {
	const char *driver;	/* out123 module; NULL: its default; "null": "test" */
	const char *device;	/* the module's device (a file name for file modules) */
	long rate;		/* frames a second */
	int channels;		/* 1 or 2 */
	int buffer_ms;		/* the device buffer: simulated, or asked of the device */
	int64_t latency_us;	/* --latency-ms: heard this much later than modelled */
	const char *report;	/* --report FILE, or NULL */
	const struct lclock *clock;	/* the listener's clock (outlives the player) */
};

struct lplayer_stats {
	uint64_t frames;	/* device frames written */
	uint64_t track_frames;	/* of them, track audio */
	uint64_t inserted, dropped;	/* drift corrections */
	uint64_t resyncs;	/* hard resyncs (starts and switches not counted) */
	uint64_t underruns;	/* the writer fell behind the device (paced modules) */
	uint64_t starts;	/* tracks started (anchor switches included) */
	uint64_t predicted;	/* of them, advances taken on the predicted anchor */
	double last_err_us;	/* the schedule error at the last check (>0: early) */
	int paced;		/* the player paces a file or null module */
};

struct lplayer;

/*
 * Opens the output (so a wrong module or device fails before anything else)
 * and the report file. Returns the player, or NULL with the reason in why
 * (n bytes). Nothing plays before lplayer_start.
 */
struct lplayer *lplayer_open(const struct lplayer_conf *conf, char *why, size_t n);

/* Starts the audio thread. Returns 0, or -1. */
int lplayer_start(struct lplayer *p);

/* Gives the player the current server-time estimate (copied). */
void lplayer_set_map(struct lplayer *p, const struct lest_map *m);

/*
 * Gives the player the room's newest anchor a and its item's decoded track
 * t (NULL while not loaded), with the advance predicted at the end of a's
 * item: next, the anchor the server will advance to (NULL: none known), and
 * its decoded track next_t. The player switches to next at its at_us by
 * itself, without waiting for the server's advance (lsched_plan_ahead); give
 * the pair again whenever either changes: a pair without next forgets it.
 * Copies the anchors; takes its own references to the tracks.
 */
void lplayer_set_anchor(struct lplayer *p, const struct lsched_anchor *a, struct ltrack *t,
    const struct lsched_anchor *next, struct ltrack *next_t);

/* Copies the statistics so far. */
void lplayer_get_stats(struct lplayer *p, struct lplayer_stats *st);

/* Writes one "# ..." line into the report (no-op without one). */
void lplayer_note(struct lplayer *p, const char *line);

/* Stops the thread, drops what the device still holds, closes the output
 * and the report (with a final "# stats" line) and frees everything. */
void lplayer_close(struct lplayer *p);

#endif
