/*
 * test_sched.c - table-driven unit tests of worker/sched.c, the pure
 * playback state machine: each row is an anchor, a playlist, a command (or
 * the automatic advance), a time, and the anchor or refusal expected. Also
 * the saturating time arithmetic and the stream id order of worker/entry.c.
 * mode_rows add the room's repeat setting; the shuffle order is checked by
 * its properties (a permutation, stable, followed by every step), and the
 * next item (common/sched_order.c) against what the advance then does.
 * A row's arg is the seek position, the relative seek's offset, or the item
 * of a jump or a reload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../worker/entry.h"
#include "../../worker/sched.h"

#define S      INT64_C(1000000)
#define NOW    (INT64_C(1700000000) * S)
#define LEAD   INT64_C(250000)
#define A(st, item, track, pos, at) \
	{ ANCHOR_##st, (item), (track), (pos), (at) }
#define NONE   A(STOPPED, 0, 0, 0, 0)

static const struct sched_item pl3[] = {
	{ 11, 101, 180 * S }, { 12, 102, 200 * S }, { 13, 103, 2 * S },
};
static const struct sched_item pl1[] = { { 21, 201, 5 * S } };
static const struct sched_item plbig[] = {
	{ 31, 301, INT64_MAX }, { 32, 302, INT64_MAX },
};
static const struct sched_item plzero[] = { { 41, 401, 0 }, { 42, 402, 5 * S } };
static const struct sched_item plzero1[] = { { 41, 401, 0 } };
static const struct sched_item plzeros[] = { { 41, 401, 0 }, { 43, 403, -7 } };
static const struct sched_item pl8[] = {
	{ 51, 501, 10 * S }, { 52, 502, 20 * S }, { 53, 503, 30 * S }, { 54, 504, 40 * S },
	{ 55, 505, 50 * S }, { 56, 506, 60 * S }, { 57, 507, 70 * S }, { 58, 508, 80 * S },
};

#define PL(p) (p), sizeof(p) / sizeof((p)[0])
#define EMPTY NULL, 0

enum row_op { OP_PLAY = SCHED_PLAY, OP_PAUSE = SCHED_PAUSE, OP_STOP = SCHED_STOP,
	OP_NEXT = SCHED_NEXT, OP_PREV = SCHED_PREV, OP_SEEK = SCHED_SEEK,
	OP_RESUME = SCHED_RESUME, OP_JUMP = SCHED_JUMP, OP_RELOAD = SCHED_RELOAD,
	OP_ADVANCE, OP_SEEK_BY };

struct row {
	const char *name;
	struct anchor cur;
	const struct sched_item *pl;
	size_t n;
	enum row_op op;
	int64_t pos;		/* the argument: position, offset or item */
	int64_t now;
	int64_t lead;
	const char *refusal;	/* expected refusal title, or NULL */
	struct anchor want;
};

/* A row with the room's repeat setting (rows run with repeat off). */
struct mode_row {
	struct row r;
	enum sched_repeat repeat;
};

static const struct row rows[] = {
	/* play */
	{ "play from stopped, no item: first item at 0", NONE, PL(pl3), OP_PLAY, 0,
	    NOW, LEAD, NULL, A(PLAYING, 11, 101, 0, NOW + LEAD) },
	{ "play from stopped on an item: it, at 0", A(STOPPED, 12, 102, 0, NOW - S),
	    PL(pl3), OP_PLAY, 0, NOW, LEAD, NULL, A(PLAYING, 12, 102, 0, NOW + LEAD) },
	{ "play from paused: resumes at the paused position",
	    A(PAUSED, 12, 102, 42 * S, NOW - 9 * S), PL(pl3), OP_PLAY, 0, NOW, LEAD, NULL,
	    A(PLAYING, 12, 102, 42 * S, NOW + LEAD) },
	{ "play when playing: unchanged", A(PLAYING, 11, 101, 5 * S, NOW - 3 * S),
	    PL(pl3), OP_PLAY, 0, NOW, LEAD, NULL, A(PLAYING, 11, 101, 5 * S, NOW - 3 * S) },
	{ "play with no lead", NONE, PL(pl1), OP_PLAY, 0, NOW, 0, NULL,
	    A(PLAYING, 21, 201, 0, NOW) },
	/* pause */
	{ "pause when playing: position reached at now",
	    A(PLAYING, 11, 101, 10 * S, NOW - 5 * S), PL(pl3), OP_PAUSE, 0, NOW, LEAD, NULL,
	    A(PAUSED, 11, 101, 15 * S, NOW) },
	{ "pause before the start (now < at_us): position stays",
	    A(PLAYING, 11, 101, 3 * S, NOW + 100000), PL(pl3), OP_PAUSE, 0, NOW, LEAD, NULL,
	    A(PAUSED, 11, 101, 3 * S, NOW) },
	{ "pause exactly at the end", A(PLAYING, 13, 103, 0, NOW - 2 * S), PL(pl3),
	    OP_PAUSE, 0, NOW, LEAD, NULL, A(PAUSED, 13, 103, 2 * S, NOW) },
	{ "pause after the end: clamped to the duration",
	    A(PLAYING, 13, 103, 0, NOW - 10 * S), PL(pl3), OP_PAUSE, 0, NOW, LEAD, NULL,
	    A(PAUSED, 13, 103, 2 * S, NOW) },
	{ "pause when paused: unchanged", A(PAUSED, 12, 102, 7 * S, NOW - S), PL(pl3),
	    OP_PAUSE, 0, NOW, LEAD, NULL, A(PAUSED, 12, 102, 7 * S, NOW - S) },
	{ "pause when stopped: unchanged", A(STOPPED, 12, 102, 0, NOW - S), PL(pl3),
	    OP_PAUSE, 0, NOW, LEAD, NULL, A(STOPPED, 12, 102, 0, NOW - S) },
	/* stop */
	{ "stop when playing: position 0, item kept",
	    A(PLAYING, 12, 102, 10 * S, NOW - S), PL(pl3), OP_STOP, 0, NOW, LEAD, NULL,
	    A(STOPPED, 12, 102, 0, NOW) },
	{ "stop when paused", A(PAUSED, 13, 103, S, NOW - S), PL(pl3), OP_STOP, 0, NOW,
	    LEAD, NULL, A(STOPPED, 13, 103, 0, NOW) },
	{ "stop when stopped at 0: unchanged", A(STOPPED, 11, 101, 0, NOW - S), PL(pl3),
	    OP_STOP, 0, NOW, LEAD, NULL, A(STOPPED, 11, 101, 0, NOW - S) },
	/* next / prev */
	{ "next when playing: keeps playing", A(PLAYING, 11, 101, 9 * S, NOW - S),
	    PL(pl3), OP_NEXT, 0, NOW, LEAD, NULL, A(PLAYING, 12, 102, 0, NOW + LEAD) },
	{ "next when paused: stays paused", A(PAUSED, 11, 101, 9 * S, NOW - S), PL(pl3),
	    OP_NEXT, 0, NOW, LEAD, NULL, A(PAUSED, 12, 102, 0, NOW) },
	{ "next when stopped: stays stopped", A(STOPPED, 12, 102, 0, NOW - S), PL(pl3),
	    OP_NEXT, 0, NOW, LEAD, NULL, A(STOPPED, 13, 103, 0, NOW) },
	{ "next on the last item: refused", A(PLAYING, 13, 103, 0, NOW - S), PL(pl3),
	    OP_NEXT, 0, NOW, LEAD, "no next item", NONE },
	{ "next on a single item: refused", A(STOPPED, 21, 201, 0, NOW), PL(pl1),
	    OP_NEXT, 0, NOW, LEAD, "no next item", NONE },
	{ "prev on the first item: restarts it", A(PLAYING, 11, 101, 30 * S, NOW - S),
	    PL(pl3), OP_PREV, 0, NOW, LEAD, NULL, A(PLAYING, 11, 101, 0, NOW + LEAD) },
	{ "prev when paused", A(PAUSED, 12, 102, 30 * S, NOW - S), PL(pl3), OP_PREV, 0,
	    NOW, LEAD, NULL, A(PAUSED, 11, 101, 0, NOW) },
	/* seek */
	{ "seek while playing", A(PLAYING, 11, 101, 0, NOW - S), PL(pl3), OP_SEEK,
	    60 * S, NOW, LEAD, NULL, A(PLAYING, 11, 101, 60 * S, NOW + LEAD) },
	{ "seek past the end: clamped", A(PLAYING, 11, 101, 0, NOW - S), PL(pl3),
	    OP_SEEK, 999 * S, NOW, LEAD, NULL, A(PLAYING, 11, 101, 180 * S, NOW + LEAD) },
	{ "seek negative: 0", A(PAUSED, 12, 102, 5 * S, NOW - S), PL(pl3), OP_SEEK, -S,
	    NOW, LEAD, NULL, A(PAUSED, 12, 102, 0, NOW) },
	{ "seek when stopped: paused there", A(STOPPED, 12, 102, 0, NOW - S), PL(pl3),
	    OP_SEEK, 20 * S, NOW, LEAD, NULL, A(PAUSED, 12, 102, 20 * S, NOW) },
	{ "seek to INT64_MAX: the duration", A(PAUSED, 13, 103, 0, NOW), PL(pl3),
	    OP_SEEK, INT64_MAX, NOW, LEAD, NULL, A(PAUSED, 13, 103, 2 * S, NOW) },
	{ "seek to INT64_MIN: 0", A(PLAYING, 13, 103, S, NOW), PL(pl3), OP_SEEK,
	    INT64_MIN, NOW, LEAD, NULL, A(PLAYING, 13, 103, 0, NOW + LEAD) },
	/* resume */
	{ "resume when paused: from the paused position at now + lead",
	    A(PAUSED, 12, 102, 42 * S, NOW - 9 * S), PL(pl3), OP_RESUME, 0, NOW, LEAD, NULL,
	    A(PLAYING, 12, 102, 42 * S, NOW + LEAD) },
	{ "resume when paused at the very end", A(PAUSED, 13, 103, 2 * S, NOW - S),
	    PL(pl3), OP_RESUME, 0, NOW, LEAD, NULL, A(PLAYING, 13, 103, 2 * S, NOW + LEAD) },
	{ "resume when playing: the same anchor", A(PLAYING, 11, 101, 5 * S, NOW - 3 * S),
	    PL(pl3), OP_RESUME, 0, NOW, LEAD, NULL, A(PLAYING, 11, 101, 5 * S, NOW - 3 * S) },
	{ "resume when stopped: refused", A(STOPPED, 12, 102, 0, NOW - S), PL(pl3),
	    OP_RESUME, 0, NOW, LEAD, "nothing to resume", NONE },
	{ "resume with no item: refused", NONE, PL(pl3), OP_RESUME, 0, NOW, LEAD,
	    "nothing to resume", NONE },
	{ "resume, paused item gone: refused (stopped on the first)",
	    A(PAUSED, 99, 909, 5 * S, NOW - S), PL(pl3), OP_RESUME, 0, NOW, LEAD,
	    "nothing to resume", NONE },
	{ "resume, empty playlist: refused", A(PAUSED, 99, 909, 5 * S, NOW - S), EMPTY,
	    OP_RESUME, 0, NOW, LEAD, "empty playlist", NONE },
	{ "resume, now + lead overflows: saturates", A(PAUSED, 11, 101, S, 0), PL(pl3),
	    OP_RESUME, 0, INT64_MAX - 10, LEAD, NULL, A(PLAYING, 11, 101, S, INT64_MAX) },
	/* relative seek: from the position heard when the new anchor applies */
	{ "seek +10 s while playing: position at now + lead, plus 10 s",
	    A(PLAYING, 11, 101, 20 * S, NOW - 5 * S), PL(pl3), OP_SEEK_BY, 10 * S, NOW,
	    LEAD, NULL, A(PLAYING, 11, 101, 35 * S + LEAD, NOW + LEAD) },
	{ "seek -10 s while playing", A(PLAYING, 11, 101, 20 * S, NOW - 5 * S), PL(pl3),
	    OP_SEEK_BY, -10 * S, NOW, LEAD, NULL,
	    A(PLAYING, 11, 101, 15 * S + LEAD, NOW + LEAD) },
	{ "seek +0 while playing: the same position, re-anchored",
	    A(PLAYING, 11, 101, 0, NOW - S), PL(pl3), OP_SEEK_BY, 0, NOW, LEAD, NULL,
	    A(PLAYING, 11, 101, S + LEAD, NOW + LEAD) },
	{ "seek -10 s near the start: clamped to 0", A(PLAYING, 11, 101, 2 * S, NOW - S),
	    PL(pl3), OP_SEEK_BY, -10 * S, NOW, LEAD, NULL,
	    A(PLAYING, 11, 101, 0, NOW + LEAD) },
	{ "seek +10 s near the end: clamped to the duration",
	    A(PLAYING, 11, 101, 175 * S, NOW - S), PL(pl3), OP_SEEK_BY, 10 * S, NOW, LEAD,
	    NULL, A(PLAYING, 11, 101, 180 * S, NOW + LEAD) },
	{ "seek +10 s before the start (now + lead > at_us > now)",
	    A(PLAYING, 11, 101, 3 * S, NOW + 100000), PL(pl3), OP_SEEK_BY, 10 * S, NOW,
	    LEAD, NULL, A(PLAYING, 11, 101, 13 * S + LEAD - 100000, NOW + LEAD) },
	{ "seek +10 s, start further than the lead: the position waits",
	    A(PLAYING, 11, 101, 3 * S, NOW + 2 * S), PL(pl3), OP_SEEK_BY, 10 * S, NOW, LEAD,
	    NULL, A(PLAYING, 11, 101, 13 * S, NOW + LEAD) },
	{ "seek +10 s when paused: stays paused", A(PAUSED, 12, 102, 42 * S, NOW - 9 * S),
	    PL(pl3), OP_SEEK_BY, 10 * S, NOW, LEAD, NULL, A(PAUSED, 12, 102, 52 * S, NOW) },
	{ "seek -10 s when paused at 5 s: 0", A(PAUSED, 12, 102, 5 * S, NOW - S), PL(pl3),
	    OP_SEEK_BY, -10 * S, NOW, LEAD, NULL, A(PAUSED, 12, 102, 0, NOW) },
	{ "seek +10 s when paused at the end: the duration",
	    A(PAUSED, 13, 103, S, NOW - S), PL(pl3), OP_SEEK_BY, 10 * S, NOW, LEAD, NULL,
	    A(PAUSED, 13, 103, 2 * S, NOW) },
	{ "seek +10 s when stopped: paused at 10 s", A(STOPPED, 12, 102, 0, NOW - S),
	    PL(pl3), OP_SEEK_BY, 10 * S, NOW, LEAD, NULL, A(PAUSED, 12, 102, 10 * S, NOW) },
	{ "seek +10 s, item gone: paused on the first item",
	    A(PLAYING, 99, 909, 50 * S, NOW - S), PL(pl3), OP_SEEK_BY, 10 * S, NOW, LEAD,
	    NULL, A(PAUSED, 11, 101, 10 * S, NOW) },
	{ "seek +10 s, empty playlist: refused", A(PAUSED, 99, 909, 0, NOW), EMPTY,
	    OP_SEEK_BY, 10 * S, NOW, LEAD, "empty playlist", NONE },
	{ "seek by INT64_MAX near the top: saturates, clamped",
	    A(PLAYING, 31, 301, INT64_MAX - 5, NOW - S), PL(plbig), OP_SEEK_BY, INT64_MAX,
	    NOW, LEAD, NULL, A(PLAYING, 31, 301, INT64_MAX, NOW + LEAD) },
	{ "seek by INT64_MIN: saturates, 0", A(PAUSED, 31, 301, 5, NOW), PL(plbig),
	    OP_SEEK_BY, INT64_MIN, NOW, LEAD, NULL, A(PAUSED, 31, 301, 0, NOW) },
	{ "seek by INT64_MIN from a negative position: 0",
	    A(PAUSED, 31, 301, INT64_MIN, NOW), PL(plbig), OP_SEEK_BY, INT64_MIN, NOW, LEAD,
	    NULL, A(PAUSED, 31, 301, 0, NOW) },
	{ "seek +1 s, elapsed time overflows: saturates, clamped",
	    A(PLAYING, 31, 301, INT64_MAX - 5, INT64_MIN + 1), PL(plbig), OP_SEEK_BY, S,
	    NOW, LEAD, NULL, A(PLAYING, 31, 301, INT64_MAX, NOW + LEAD) },
	/* jump */
	{ "jump while playing another: it from 0 at now + lead",
	    A(PLAYING, 11, 101, 9 * S, NOW - S), PL(pl3), OP_JUMP, 13, NOW, LEAD, NULL,
	    A(PLAYING, 13, 103, 0, NOW + LEAD) },
	{ "jump when stopped: playing", A(STOPPED, 11, 101, 0, NOW - S), PL(pl3), OP_JUMP,
	    12, NOW, LEAD, NULL, A(PLAYING, 12, 102, 0, NOW + LEAD) },
	{ "jump when paused: playing", A(PAUSED, 11, 101, 7 * S, NOW - S), PL(pl3),
	    OP_JUMP, 11, NOW, LEAD, NULL, A(PLAYING, 11, 101, 0, NOW + LEAD) },
	{ "jump with no item", NONE, PL(pl1), OP_JUMP, 21, NOW, LEAD, NULL,
	    A(PLAYING, 21, 201, 0, NOW + LEAD) },
	{ "jump to the playing item: restarts it", A(PLAYING, 12, 102, 50 * S, NOW - S),
	    PL(pl3), OP_JUMP, 12, NOW, LEAD, NULL, A(PLAYING, 12, 102, 0, NOW + LEAD) },
	{ "jump, anchor's item gone: still fine", A(PLAYING, 99, 909, 5 * S, NOW - S),
	    PL(pl3), OP_JUMP, 13, NOW, LEAD, NULL, A(PLAYING, 13, 103, 0, NOW + LEAD) },
	{ "jump to an absent item: refused 404", A(PLAYING, 11, 101, 0, NOW - S), PL(pl3),
	    OP_JUMP, 99, NOW, LEAD, "no such item", NONE },
	{ "jump to item 0: refused 404", A(PLAYING, 11, 101, 0, NOW - S), PL(pl3),
	    OP_JUMP, 0, NOW, LEAD, "no such item", NONE },
	{ "jump, empty playlist: refused 404", NONE, EMPTY, OP_JUMP, 11, NOW, LEAD,
	    "no such item", NONE },
	/* reload: the anchor moves only when its item left the playlist */
	{ "reload, item still there: unchanged", A(PLAYING, 12, 102, 5 * S, NOW - S),
	    PL(pl3), OP_RELOAD, 13, NOW, LEAD, NULL, A(PLAYING, 12, 102, 5 * S, NOW - S) },
	{ "reload, no item: unchanged", NONE, PL(pl3), OP_RELOAD, 0, NOW, LEAD, NULL,
	    NONE },
	{ "reload, no item, empty playlist: unchanged", NONE, EMPTY, OP_RELOAD, 0, NOW,
	    LEAD, NULL, NONE },
	{ "reload, playing item gone: the given item at 0 at now + lead",
	    A(PLAYING, 99, 909, 50 * S, NOW - S), PL(pl3), OP_RELOAD, 12, NOW, LEAD, NULL,
	    A(PLAYING, 12, 102, 0, NOW + LEAD) },
	{ "reload, paused item gone: paused at 0 on the given item",
	    A(PAUSED, 99, 909, 50 * S, NOW - S), PL(pl3), OP_RELOAD, 12, NOW, LEAD, NULL,
	    A(PAUSED, 12, 102, 0, NOW) },
	{ "reload, stopped item gone: stopped on the given item",
	    A(STOPPED, 99, 909, 0, NOW - S), PL(pl3), OP_RELOAD, 13, NOW, LEAD, NULL,
	    A(STOPPED, 13, 103, 0, NOW) },
	{ "reload, item gone, no item given: stopped on the first",
	    A(PLAYING, 99, 909, 50 * S, NOW - S), PL(pl3), OP_RELOAD, 0, NOW, LEAD, NULL,
	    A(STOPPED, 11, 101, 0, NOW) },
	{ "reload, item gone, given item gone too: stopped on the first",
	    A(PAUSED, 99, 909, 50 * S, NOW - S), PL(pl3), OP_RELOAD, 98, NOW, LEAD, NULL,
	    A(STOPPED, 11, 101, 0, NOW) },
	{ "reload, item gone, playlist empty: stopped with no item",
	    A(PLAYING, 99, 909, 50 * S, NOW - S), EMPTY, OP_RELOAD, 12, NOW, LEAD, NULL,
	    A(STOPPED, 0, 0, 0, NOW) },
	/* empty playlist */
	{ "play, empty playlist: refused", NONE, EMPTY, OP_PLAY, 0, NOW, LEAD,
	    "empty playlist", NONE },
	{ "next, empty playlist: refused", NONE, EMPTY, OP_NEXT, 0, NOW, LEAD,
	    "empty playlist", NONE },
	{ "prev, empty playlist: refused", NONE, EMPTY, OP_PREV, 0, NOW, LEAD,
	    "empty playlist", NONE },
	{ "seek, empty playlist: refused", NONE, EMPTY, OP_SEEK, S, NOW, LEAD,
	    "empty playlist", NONE },
	{ "pause while playing, empty playlist: refused",
	    A(PLAYING, 11, 101, 0, NOW - S), EMPTY, OP_PAUSE, 0, NOW, LEAD,
	    "empty playlist", NONE },
	{ "pause when stopped, empty playlist: unchanged", NONE, EMPTY, OP_PAUSE, 0,
	    NOW, LEAD, NULL, NONE },
	{ "stop, empty playlist: stopped with no item", A(PLAYING, 11, 101, 0, NOW - S),
	    EMPTY, OP_STOP, 0, NOW, LEAD, NULL, A(STOPPED, 0, 0, 0, NOW) },
	/* the anchor's item left the playlist: the first item, as if stopped */
	{ "item gone, play: the first item from 0", A(PLAYING, 99, 909, 50 * S, NOW - S),
	    PL(pl3), OP_PLAY, 0, NOW, LEAD, NULL, A(PLAYING, 11, 101, 0, NOW + LEAD) },
	{ "item gone, pause: stopped on the first item",
	    A(PLAYING, 99, 909, 50 * S, NOW - S), PL(pl3), OP_PAUSE, 0, NOW, LEAD, NULL,
	    A(STOPPED, 11, 101, 0, NOW - S) },
	{ "item gone, next: the second item", A(PAUSED, 99, 909, 5 * S, NOW - S),
	    PL(pl3), OP_NEXT, 0, NOW, LEAD, NULL, A(STOPPED, 12, 102, 0, NOW) },
	{ "item gone, seek: paused on the first item", A(PLAYING, 99, 909, 0, NOW - S),
	    PL(pl3), OP_SEEK, 7 * S, NOW, LEAD, NULL, A(PAUSED, 11, 101, 7 * S, NOW) },
	/* the automatic advance */
	{ "advance: next item from the exact end", A(PLAYING, 11, 101, 0, NOW - 179 * S),
	    PL(pl3), OP_ADVANCE, 0, NOW, LEAD, NULL, A(PLAYING, 12, 102, 0, NOW + S) },
	{ "advance from a resumed position: end = at + duration - position",
	    A(PLAYING, 12, 102, 150 * S, NOW), PL(pl3), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(PLAYING, 13, 103, 0, NOW + 50 * S) },
	{ "advance decided late: at_us is still the exact end",
	    A(PLAYING, 11, 101, 0, NOW - 200 * S), PL(pl3), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(PLAYING, 12, 102, 0, NOW - 20 * S) },
	{ "advance on the last item: stopped on the first at the end",
	    A(PLAYING, 13, 103, 0, NOW - S), PL(pl3), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(STOPPED, 11, 101, 0, NOW + S) },
	{ "advance on a single item: stopped on it", A(PLAYING, 21, 201, S, NOW),
	    PL(pl1), OP_ADVANCE, 0, NOW, LEAD, NULL, A(STOPPED, 21, 201, 0, NOW + 4 * S) },
	{ "advance past a position beyond the duration: ends at at_us",
	    A(PLAYING, 11, 101, 500 * S, NOW), PL(pl3), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(PLAYING, 12, 102, 0, NOW) },
	{ "advance when paused: refused", A(PAUSED, 11, 101, 0, NOW), PL(pl3), OP_ADVANCE,
	    0, NOW, LEAD, "not playing", NONE },
	{ "advance, item gone: the first item from now + lead",
	    A(PLAYING, 99, 909, 0, NOW - S), PL(pl3), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(PLAYING, 11, 101, 0, NOW + LEAD) },
	{ "advance, playlist emptied: stopped with no item",
	    A(PLAYING, 99, 909, 0, NOW - S), EMPTY, OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(STOPPED, 0, 0, 0, NOW) },
	/* saturation at the int64_t range */
	{ "pause, elapsed time overflows: saturates, clamped to the duration",
	    A(PLAYING, 31, 301, INT64_MAX - 5, INT64_MIN + 1), PL(plbig), OP_PAUSE, 0, NOW,
	    LEAD, NULL, A(PAUSED, 31, 301, INT64_MAX, NOW) },
	{ "pause, negative position: clamped to 0",
	    A(PLAYING, 11, 101, INT64_MIN, NOW - S), PL(pl3), OP_PAUSE, 0, NOW, LEAD, NULL,
	    A(PAUSED, 11, 101, 0, NOW) },
	{ "play, now + lead overflows: saturates", NONE, PL(pl3), OP_PLAY, 0,
	    INT64_MAX - 10, LEAD, NULL, A(PLAYING, 11, 101, 0, INT64_MAX) },
	{ "advance, at + duration overflows: saturates",
	    A(PLAYING, 31, 301, 0, INT64_MAX - 5), PL(plbig), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(PLAYING, 32, 302, 0, INT64_MAX) },
	{ "advance, duration - INT64_MIN position overflows: saturates",
	    A(PLAYING, 31, 301, INT64_MIN, 10), PL(plbig), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(PLAYING, 32, 302, 0, INT64_MAX) },
};

static int
anchor_same(const struct anchor *a, const struct anchor *b)
{
	return sched_anchor_eq(a, b);
}

/* The status a refusal title comes with. */
static int
refusal_status(const char *title)
{
	return strcmp(title, "no such item") == 0 ? 404 : 409;
}

/* Builds the command of a row. */
static struct sched_cmd
row_cmd(const struct row *r)
{
	struct sched_cmd cmd = { .action = (enum sched_action)r->op };

	switch (r->op) {
	case OP_SEEK:
		cmd.position_us = r->pos;
		break;
	case OP_SEEK_BY:
		cmd.action = SCHED_SEEK;
		cmd.relative = 1;
		cmd.offset_us = r->pos;
		break;
	case OP_JUMP:
	case OP_RELOAD:
		cmd.item_id = r->pos;
		break;
	default:
		break;
	}
	return cmd;
}

/* Runs one row. Returns 0 when it behaves as expected, else prints why. */
static int
run_row(const struct row *r, enum sched_repeat repeat)
{
	struct sched_ctx ctx = { r->pl, r->n, r->now, r->lead, repeat, 0, 0 };
	struct sched_cmd cmd = row_cmd(r);
	struct sched_refusal why = { 0, NULL, NULL };
	struct anchor out = A(PAUSED, -1, -1, -1, -1);
	int rc, want;

	if (r->op == OP_ADVANCE)
		rc = sched_advance(&ctx, &r->cur, &out, &why);
	else
		rc = sched_apply(&ctx, &r->cur, &cmd, &out, &why);
	if (r->refusal != NULL) {
		want = refusal_status(r->refusal);
		if (rc == want && why.status == want && strcmp(why.title, r->refusal) == 0 &&
		    why.detail != NULL)
			return 0;
		print_error("row \"%s\": want refusal %d \"%s\", got rc %d \"%s\"\n",
		    r->name, want, r->refusal, rc, why.title ? why.title : "");
		return 1;
	}
	if (rc == 0 && anchor_same(&out, &r->want))
		return 0;
	print_error("row \"%s\": rc %d, got {%s %lld %lld pos %lld at %lld}, want "
	    "{%s %lld %lld pos %lld at %lld}\n", r->name, rc,
	    anchor_state_name(out.state), (long long)out.item_id, (long long)out.track_id,
	    (long long)out.position_us, (long long)out.at_us,
	    anchor_state_name(r->want.state), (long long)r->want.item_id,
	    (long long)r->want.track_id, (long long)r->want.position_us,
	    (long long)r->want.at_us);
	return 1;
}

static void
test_sched_table(void **state)
{
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		failed += run_row(&rows[i], SCHED_REPEAT_OFF);
	assert_int_equal(failed, 0);
}

#define OFF SCHED_REPEAT_OFF
#define ONE SCHED_REPEAT_ONE
#define ALL SCHED_REPEAT_ALL

/* The repeat setting, and the named cases. */
static const struct mode_row mode_rows[] = {
	{ { "repeat one: the item again from exactly its end",
	    A(PLAYING, 12, 102, 0, NOW - 199 * S), PL(pl3), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(PLAYING, 12, 102, 0, NOW + S) }, ONE },
	{ { "repeat one on the last item: the item again", A(PLAYING, 13, 103, 0, NOW - S),
	    PL(pl3), OP_ADVANCE, 0, NOW, LEAD, NULL, A(PLAYING, 13, 103, 0, NOW + S) }, ONE },
	{ { "repeat one, resumed mid-item: end = at + duration - position",
	    A(PLAYING, 11, 101, 100 * S, NOW), PL(pl3), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(PLAYING, 11, 101, 0, NOW + 80 * S) }, ONE },
	{ { "repeat one, an item of length 0 does not spin: the next item",
	    A(PLAYING, 41, 401, 0, NOW), PL(plzero), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(PLAYING, 42, 402, 0, NOW) }, ONE },
	{ { "repeat one, the only item lasts 0: stopped", A(PLAYING, 41, 401, 0, NOW),
	    PL(plzero1), OP_ADVANCE, 0, NOW, LEAD, NULL, A(STOPPED, 41, 401, 0, NOW) }, ONE },
	{ { "repeat one: next still skips", A(PLAYING, 11, 101, 9 * S, NOW - S), PL(pl3),
	    OP_NEXT, 0, NOW, LEAD, NULL, A(PLAYING, 12, 102, 0, NOW + LEAD) }, ONE },
	{ { "repeat all: after the last the first, gapless",
	    A(PLAYING, 13, 103, 0, NOW - S), PL(pl3), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(PLAYING, 11, 101, 0, NOW + S) }, ALL },
	{ { "repeat all, mid playlist: the next item", A(PLAYING, 11, 101, 0, NOW), PL(pl3),
	    OP_ADVANCE, 0, NOW, LEAD, NULL, A(PLAYING, 12, 102, 0, NOW + 180 * S) }, ALL },
	{ { "repeat all, a single item: itself again", A(PLAYING, 21, 201, 0, NOW), PL(pl1),
	    OP_ADVANCE, 0, NOW, LEAD, NULL, A(PLAYING, 21, 201, 0, NOW + 5 * S) }, ALL },
	{ { "repeat all, the playlist lasts 0: stopped, no spin",
	    A(PLAYING, 43, 403, 0, NOW), PL(plzeros), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(STOPPED, 41, 401, 0, NOW) }, ALL },
	{ { "next on the last item, repeat off: refused", A(PLAYING, 13, 103, 0, NOW - S),
	    PL(pl3), OP_NEXT, 0, NOW, LEAD, "no next item", NONE }, OFF },
	{ { "next on the last item, repeat one: refused", A(PLAYING, 13, 103, 0, NOW - S),
	    PL(pl3), OP_NEXT, 0, NOW, LEAD, "no next item", NONE }, ONE },
	{ { "next on the last item, repeat all: the first, playing at now + lead",
	    A(PLAYING, 13, 103, S, NOW - S), PL(pl3), OP_NEXT, 0, NOW, LEAD, NULL,
	    A(PLAYING, 11, 101, 0, NOW + LEAD) }, ALL },
	{ { "next on the last item when paused, repeat all: paused on the first",
	    A(PAUSED, 13, 103, S, NOW - S), PL(pl3), OP_NEXT, 0, NOW, LEAD, NULL,
	    A(PAUSED, 11, 101, 0, NOW) }, ALL },
	{ { "next on a single item, repeat all: restarts it", A(STOPPED, 21, 201, 0, NOW),
	    PL(pl1), OP_NEXT, 0, NOW, LEAD, NULL, A(STOPPED, 21, 201, 0, NOW) }, ALL },
	{ { "prev on the first item, repeat all: the last", A(PLAYING, 11, 101, 30 * S,
	    NOW - S), PL(pl3), OP_PREV, 0, NOW, LEAD, NULL,
	    A(PLAYING, 13, 103, 0, NOW + LEAD) }, ALL },
	{ { "prev on the first item, repeat one: restarts it",
	    A(PLAYING, 11, 101, 30 * S, NOW - S), PL(pl3), OP_PREV, 0, NOW, LEAD, NULL,
	    A(PLAYING, 11, 101, 0, NOW + LEAD) }, ONE },
	{ { "seek past the end, repeat one: clamped to the duration, no wrap",
	    A(PLAYING, 13, 103, 0, NOW), PL(pl3), OP_SEEK, 10 * S, NOW, LEAD, NULL,
	    A(PLAYING, 13, 103, 2 * S, NOW + LEAD) }, ONE },
	{ { "seek past the end when paused: paused at the duration",
	    A(PAUSED, 12, 102, 5 * S, NOW - S), PL(pl3), OP_SEEK, 201 * S, NOW, LEAD, NULL,
	    A(PAUSED, 12, 102, 200 * S, NOW) }, OFF },
	{ { "pause at the last sample (23 us before the end)",
	    A(PLAYING, 13, 103, 0, NOW - 2 * S + 23), PL(pl3), OP_PAUSE, 0, NOW, LEAD, NULL,
	    A(PAUSED, 13, 103, 2 * S - 23, NOW) }, ALL },
	{ { "pause 1 us before the end, resumed: 1 us left", A(PLAYING, 13, 103, S,
	    NOW - S + 1), PL(pl3), OP_PAUSE, 0, NOW, LEAD, NULL,
	    A(PAUSED, 13, 103, 2 * S - 1, NOW) }, OFF },
	{ { "repeat all, the end overflows: saturates", A(PLAYING, 32, 302, 0, NOW),
	    PL(plbig), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(PLAYING, 31, 301, 0, INT64_MAX) }, ALL },
	{ { "repeat one, a position that would overflow (INT64_MIN): saturates",
	    A(PLAYING, 31, 301, INT64_MIN, NOW), PL(plbig), OP_ADVANCE, 0, NOW, LEAD, NULL,
	    A(PLAYING, 31, 301, 0, INT64_MAX) }, ONE },
	{ { "repeat one, pause when the position would overflow: the duration",
	    A(PLAYING, 31, 301, INT64_MAX - 5, NOW - 10), PL(plbig), OP_PAUSE, 0, NOW, LEAD,
	    NULL, A(PAUSED, 31, 301, INT64_MAX, NOW) }, ONE },
	{ { "repeat one, relative seek that would overflow: the duration",
	    A(PLAYING, 13, 103, S, NOW - S), PL(pl3), OP_SEEK_BY, INT64_MAX, NOW, LEAD, NULL,
	    A(PLAYING, 13, 103, 2 * S, NOW + LEAD) }, ONE },
};

static void
test_sched_modes(void **state)
{
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(mode_rows) / sizeof(mode_rows[0]); i++)
		failed += run_row(&mode_rows[i].r, mode_rows[i].repeat);
	assert_int_equal(failed, 0);
}

/* With a repeat, the last item's end starts another item: it is applied
 * lead early; and a room that lay whole cycles behind skips them. */
static void
test_sched_modes_fire(void **state)
{
	struct sched_ctx ctx = { PL(pl3), NOW, LEAD, ONE, 0, 0 };
	struct anchor last = A(PLAYING, 13, 103, 0, NOW), a;

	(void)state;
	assert_true(sched_has_next(&ctx, &last));
	assert_int_equal(sched_fire_us(&ctx, &last), NOW + 2 * S - LEAD);
	ctx.repeat = ALL;
	assert_true(sched_has_next(&ctx, &last));
	ctx.repeat = OFF;
	assert_false(sched_has_next(&ctx, &last));
	assert_int_equal(sched_fire_us(&ctx, &last), NOW + 2 * S);
	/* Repeat one of a 2 s item, 7.5 s behind: 3 cycles skipped. */
	ctx.repeat = ONE;
	a = (struct anchor)A(PLAYING, 13, 103, 0, NOW - 7 * S - S / 2);
	assert_int_equal(sched_skip_cycles(&ctx, &a), 3);
	assert_int_equal(a.at_us, NOW - S - S / 2);
	assert_int_equal(sched_position_at(&a, NOW), S + S / 2);
	/* Repeat all: the cycle is the playlist, 382 s. */
	ctx.repeat = ALL;
	a = (struct anchor)A(PLAYING, 11, 101, 5 * S, NOW - 1000 * S);
	assert_int_equal(sched_skip_cycles(&ctx, &a), 2);
	assert_int_equal(a.at_us, NOW - 236 * S);
	/* Nothing to skip: repeat off, not playing, ahead, or length 0. */
	ctx.repeat = OFF;
	a = (struct anchor)A(PLAYING, 11, 101, 0, NOW - 1000 * S);
	assert_int_equal(sched_skip_cycles(&ctx, &a), 0);
	ctx.repeat = ONE;
	a = (struct anchor)A(PAUSED, 11, 101, 0, NOW - 1000 * S);
	assert_int_equal(sched_skip_cycles(&ctx, &a), 0);
	a = (struct anchor)A(PLAYING, 11, 101, 0, NOW + S);
	assert_int_equal(sched_skip_cycles(&ctx, &a), 0);
	ctx.items = plzero1;
	ctx.n = 1;
	a = (struct anchor)A(PLAYING, 41, 401, 0, INT64_MIN);
	assert_int_equal(sched_skip_cycles(&ctx, &a), 0);
	/* Far behind (at_us INT64_MIN): saturates, stays within a cycle. */
	ctx.items = pl3;
	ctx.n = 3;
	a = (struct anchor)A(PLAYING, 13, 103, 0, INT64_MIN);
	assert_true(sched_skip_cycles(&ctx, &a) > 0);
	assert_true(a.at_us <= NOW && a.at_us > NOW - 2 * S - 2 * S);
	assert_string_equal(sched_repeat_name(ALL), "all");
	assert_int_equal(sched_repeat_parse("one", &ctx.repeat), 0);
	assert_int_equal(ctx.repeat, ONE);
	assert_int_equal(sched_repeat_parse("ONE", &ctx.repeat), -1);
	assert_int_equal(sched_repeat_parse(NULL, &ctx.repeat), -1);
}

#define N8 (sizeof(pl8) / sizeof(pl8[0]))

/* Returns 1 when order is a permutation of 0..n-1. */
static int
is_permutation(const size_t *order, size_t n)
{
	int seen[N8] = { 0 };
	size_t i;

	for (i = 0; i < n; i++) {
		if (order[i] >= n || seen[order[i]])
			return 0;
		seen[order[i]] = 1;
	}
	return 1;
}

/* Checks that next, prev and the advance walk ctx's shuffle order. */
static void
check_walk(const struct sched_ctx *ctx, const size_t *order)
{
	struct sched_cmd next = { .action = SCHED_NEXT }, prev = { .action = SCHED_PREV };
	struct sched_cmd play = { .action = SCHED_PLAY };
	struct sched_refusal why;
	struct anchor a, out, none = NONE;
	size_t k;

	for (k = 0; k < N8; k++) {
		a = (struct anchor)A(PLAYING, pl8[order[k]].item_id, pl8[order[k]].track_id,
		    0, NOW - S);
		if (k + 1 < N8) {
			assert_int_equal(sched_apply(ctx, &a, &next, &out, &why), 0);
			assert_int_equal(out.item_id, pl8[order[k + 1]].item_id);
			assert_int_equal(sched_advance(ctx, &a, &out, &why), 0);
			assert_int_equal(out.item_id, pl8[order[k + 1]].item_id);
			assert_int_equal(out.state, ANCHOR_PLAYING);
		} else if (ctx->repeat == SCHED_REPEAT_ALL) {
			assert_int_equal(sched_apply(ctx, &a, &next, &out, &why), 0);
			assert_int_equal(out.item_id, pl8[order[0]].item_id);
		} else {
			assert_int_equal(sched_apply(ctx, &a, &next, &out, &why), 409);
			assert_int_equal(sched_advance(ctx, &a, &out, &why), 0);
			assert_int_equal(out.state, ANCHOR_STOPPED);
			assert_int_equal(out.item_id, pl8[order[0]].item_id);
		}
		assert_int_equal(sched_apply(ctx, &a, &prev, &out, &why), 0);
		if (k > 0)
			assert_int_equal(out.item_id, pl8[order[k - 1]].item_id);
		else		/* prev on the first: the last, or a restart */
			assert_int_equal(out.item_id, pl8[order[ctx->repeat ==
			    SCHED_REPEAT_ALL ? N8 - 1 : 0]].item_id);
	}
	assert_int_equal(sched_apply(ctx, &none, &play, &out, &why), 0);
	assert_int_equal(out.item_id, pl8[order[0]].item_id);
}

/* The shuffle order: a permutation, the same for the same seed and items
 * (whatever the time), followed by next, prev, the advance and play; an
 * item removed leaves the others' order; another seed, another order. */
static void
test_sched_shuffle(void **state)
{
	static const uint64_t seeds[] = { 1, 2, 42, UINT64_C(0xdeadbeef), UINT64_MAX };
	struct sched_ctx ctx = { PL(pl8), NOW, LEAD, OFF, 1, 0 };
	struct sched_item fewer[N8 - 1];
	size_t order[N8], again[N8], sub[N8 - 1], i, j, k, moved = 0, differ = 0;
	size_t first[N8];

	(void)state;
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		ctx.seed = seeds[i];
		ctx.now_us = NOW;
		sched_order(&ctx, order);
		assert_true(is_permutation(order, N8));
		ctx.now_us = NOW + 3600 * S;
		ctx.lead_us = 2 * S;
		sched_order(&ctx, again);
		assert_memory_equal(order, again, sizeof(order));
		ctx.repeat = OFF;
		check_walk(&ctx, order);
		ctx.repeat = ALL;
		check_walk(&ctx, order);
		for (k = 0; k < N8; k++)
			moved += order[k] != k;
		if (i == 0)
			memcpy(first, order, sizeof(first));
		else
			differ += memcmp(first, order, sizeof(first)) != 0;
		/* Remove the third item: the others keep their relative order. */
		for (j = k = 0; j < N8; j++)
			if (j != 2)
				fewer[k++] = pl8[j];
		ctx.items = fewer;
		ctx.n = N8 - 1;
		sched_order(&ctx, sub);
		for (j = k = 0; j < N8; j++) {
			if (order[j] == 2)
				continue;
			assert_int_equal(fewer[sub[k]].item_id, pl8[order[j]].item_id);
			k++;
		}
		ctx.items = pl8;
		ctx.n = N8;
	}
	assert_true(moved > 0);		/* some seed shuffles at all */
	assert_true(differ > 0);	/* and seeds differ */
	/* Shuffle off: the playlist order, whatever the seed. */
	ctx.shuffle = 0;
	sched_order(&ctx, order);
	for (k = 0; k < N8; k++)
		assert_int_equal(order[k], k);
	assert_int_equal(sched_shuffle_key(7, 51), sched_shuffle_key(7, 51));
	assert_true(sched_shuffle_key(7, 51) != sched_shuffle_key(8, 51));
}

/* A deterministic generator for the randomized playlists below. */
static uint64_t
next_rnd(uint64_t *g)
{
	uint64_t z = (*g += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 33)) * UINT64_C(0xff51afd7ed558ccd);
	return z ^ (z >> 33);
}

/* Fills v[0..n) with distinct item ids in a random playlist order and
 * random lengths, some of them 0 (all of them in some rounds). */
static void
random_playlist(uint64_t *g, struct sched_item *v, size_t n, int all_zero)
{
	size_t k;

	for (k = 0; k < n; k++) {
		v[k].item_id = (int64_t)(next_rnd(g) % 1000) * 16 + (int64_t)k + 1;
		v[k].track_id = (int64_t)(next_rnd(g) % 50) + 1;
		v[k].duration_us = all_zero || next_rnd(g) % 5 == 0 ? 0 :
		    (int64_t)(next_rnd(g) % 300 + 1) * S;
	}
}

/* The next item expected from the play order alone: repeat one repeats an
 * item that lasts, else the following in order, else the first with repeat
 * all over a playlist that lasts, else nothing (0). */
static int64_t
next_by_order(const struct sched_ctx *ctx, const size_t *order, size_t p)
{
	const struct sched_item *it = &ctx->items[order[p]];
	int64_t total = 0;
	size_t k;

	for (k = 0; k < ctx->n; k++)
		total += ctx->items[k].duration_us;
	if (ctx->repeat == SCHED_REPEAT_ONE && it->duration_us > 0)
		return it->item_id;
	if (p + 1 < ctx->n)
		return ctx->items[order[p + 1]].item_id;
	return ctx->repeat == SCHED_REPEAT_ALL && total > 0 ? ctx->items[order[0]].item_id : 0;
}

/* Checks sched_next_item() of a (playing) against what sched_advance()
 * then does, and the same item for a paused a, 0 for a stopped one.
 * Returns the next item. */
static int64_t
check_next(const struct sched_ctx *ctx, struct anchor a)
{
	struct sched_refusal why;
	struct anchor out;
	int64_t next = sched_next_item(ctx, &a);

	assert_int_equal(sched_advance(ctx, &a, &out, &why), 0);
	assert_int_equal(next, out.state == ANCHOR_PLAYING ? out.item_id : 0);
	if (out.state == ANCHOR_PLAYING)
		assert_true(sched_has_next(ctx, &a));
	a.state = ANCHOR_PAUSED;
	assert_int_equal(sched_next_item(ctx, &a), next);
	a.state = ANCHOR_STOPPED;
	assert_int_equal(sched_next_item(ctx, &a), 0);
	return next;
}

/* sched_next_item() (what events and beacons carry as next_item_id) names
 * exactly the item sched_advance() then starts, 0 when it stops the room,
 * and follows the play order: over many seeds and playlists, shuffle off
 * and on, each repeat mode, every item, and an item that left. */
static void
test_sched_next_item(void **state)
{
	static const enum sched_repeat modes[] = { SCHED_REPEAT_OFF, SCHED_REPEAT_ONE,
	    SCHED_REPEAT_ALL };
	struct sched_item v[12];
	struct sched_ctx ctx;
	struct anchor a;
	size_t order[12], n, p;
	uint64_t g = 7, seed;
	int round, m, shuffle, shuffled = 0, stops = 0, repeats = 0;
	int64_t next;

	(void)state;
	for (round = 0; round < 600; round++) {
		n = (size_t)round % 13;
		random_playlist(&g, v, n, round % 11 == 0);
		seed = next_rnd(&g);
		for (m = 0; m < 3; m++)
			for (shuffle = 0; shuffle < 2; shuffle++) {
				ctx = (struct sched_ctx){ v, n, NOW, LEAD, modes[m], shuffle,
				    seed };
				sched_order(&ctx, order);
				for (p = 0; p < n; p++) {
					shuffled += order[p] != p;
					a = (struct anchor)A(PLAYING, v[order[p]].item_id,
					    v[order[p]].track_id, 0, NOW - S);
					next = check_next(&ctx, a);
					assert_int_equal(next, next_by_order(&ctx, order, p));
					stops += next == 0;
					repeats += next == a.item_id;
				}
				/* An item that left: the first in play order plays. */
				a = (struct anchor)A(PLAYING, 99999, 1, 0, NOW - S);
				next = check_next(&ctx, a);
				assert_int_equal(next, n > 0 ? v[order[0]].item_id : 0);
			}
	}
	assert_true(shuffled > 0);	/* the rows did shuffle */
	assert_true(stops > 0);		/* and did reach the end */
	assert_true(repeats > 0);	/* and did repeat */
	/* A fixed row: shuffle with repeat one names the item itself. */
	ctx = (struct sched_ctx){ PL(pl8), NOW, LEAD, SCHED_REPEAT_ONE, 1, 42 };
	a = (struct anchor)A(PLAYING, pl8[3].item_id, pl8[3].track_id, 0, NOW);
	assert_int_equal(sched_next_item(&ctx, &a), pl8[3].item_id);
	ctx.n = 0;
	assert_int_equal(sched_next_item(&ctx, &a), 0);
}

/* In-place use (out aliasing cur) gives the same result. */
static void
test_sched_alias(void **state)
{
	struct sched_ctx ctx = { PL(pl3), NOW, LEAD, SCHED_REPEAT_OFF, 0, 0 };
	struct sched_cmd next = { .action = SCHED_NEXT };
	struct sched_refusal why;
	struct anchor a = A(PLAYING, 11, 101, 0, NOW - S), want = A(PLAYING, 12, 102, 0,
	    NOW + LEAD);

	(void)state;
	assert_int_equal(sched_apply(&ctx, &a, &next, &a, &why), 0);
	assert_true(sched_anchor_eq(&a, &want));
	assert_int_equal(sched_advance(&ctx, &a, &a, &why), 0);
	want = (struct anchor)A(PLAYING, 13, 103, 0, NOW + LEAD + 200 * S);
	assert_true(sched_anchor_eq(&a, &want));
}

struct arith_row {
	const char *name;
	struct anchor a;
	int64_t t;		/* sched_position_at */
	int64_t duration;	/* sched_end_us */
	int64_t want_pos;
	int64_t want_end;
};

static const struct arith_row arith_rows[] = {
	{ "playing, after the start", A(PLAYING, 1, 1, 10, 100), 150, 1000, 60, 1090 },
	{ "playing, before the start", A(PLAYING, 1, 1, 10, 100), 50, 1000, 10, 1090 },
	{ "paused does not move", A(PAUSED, 1, 1, 10, 100), 5000, 1000, 10, 1090 },
	{ "position past the duration: ends at at_us", A(PLAYING, 1, 1, 2000, 100), 100,
	    1000, 2000, 100 },
	{ "negative duration counts as 0", A(PLAYING, 1, 1, 0, 100), 100, -5, 0, 100 },
	{ "elapsed overflows", A(PLAYING, 1, 1, 0, INT64_MIN), INT64_MAX, 10, INT64_MAX,
	    INT64_MIN + 10 },
	{ "position + elapsed overflows", A(PLAYING, 1, 1, INT64_MAX - 1, 0), 10,
	    INT64_MAX, INT64_MAX, 1 },
	{ "end overflows", A(PLAYING, 1, 1, 0, INT64_MAX - 1), INT64_MAX, INT64_MAX,
	    1, INT64_MAX },
	{ "elapsed and duration - position overflow", A(PLAYING, 1, 1, INT64_MIN,
	    INT64_MIN), 0, INT64_MAX, -1, -1 },
};

static void
test_sched_arith(void **state)
{
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(arith_rows) / sizeof(arith_rows[0]); i++) {
		const struct arith_row *r = &arith_rows[i];
		int64_t pos = sched_position_at(&r->a, r->t);
		int64_t end = sched_end_us(&r->a, r->duration);

		if (pos != r->want_pos || end != r->want_end) {
			print_error("row \"%s\": position %lld end %lld, want %lld %lld\n",
			    r->name, (long long)pos, (long long)end,
			    (long long)r->want_pos, (long long)r->want_end);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* When to apply an item's end: lead early before another item, exactly at
 * the end before a stop. */
static void
test_sched_fire(void **state)
{
	struct sched_ctx ctx = { PL(pl3), NOW, LEAD, SCHED_REPEAT_OFF, 0, 0 };
	struct anchor mid = A(PLAYING, 11, 101, 0, NOW), last = A(PLAYING, 13, 103, 0, NOW);
	struct anchor gone = A(PLAYING, 99, 909, 0, NOW);

	(void)state;
	assert_int_equal(sched_fire_us(&ctx, &mid), NOW + 180 * S - LEAD);
	assert_int_equal(sched_fire_us(&ctx, &last), NOW + 2 * S);
	assert_int_equal(sched_fire_us(&ctx, &gone), NOW - LEAD);
	assert_true(sched_has_next(&ctx, &mid));
	assert_false(sched_has_next(&ctx, &last));
	assert_true(sched_has_next(&ctx, &gone));
	ctx.n = 0;
	assert_false(sched_has_next(&ctx, &gone));
}

static void
test_sched_names(void **state)
{
	enum sched_action a;

	(void)state;
	assert_int_equal(sched_action_parse("seek", &a), 0);
	assert_int_equal(a, SCHED_SEEK);
	assert_string_equal(sched_action_name(SCHED_PREV), "prev");
	assert_int_equal(sched_action_parse("Play", &a), -1);
	assert_int_equal(sched_action_parse("", &a), -1);
	assert_string_equal(sched_action_name((enum sched_action)42), "?");
	assert_int_equal(sched_action_parse("resume", &a), 0);
	assert_int_equal(a, SCHED_RESUME);
	assert_int_equal(sched_action_parse("jump", &a), 0);
	assert_int_equal(a, SCHED_JUMP);
	assert_int_equal(sched_action_parse("reload", &a), 0);
	assert_int_equal(a, SCHED_RELOAD);
	assert_string_equal(sched_action_name(SCHED_RELOAD), "reload");
}

/* sched_reload() says whether the anchor moved, and so whether the worker
 * publishes; the timers of an unchanged room are re-armed from
 * sched_fire_us() over the new playlist. */
static void
test_sched_reload(void **state)
{
	struct sched_ctx ctx = { PL(pl3), NOW, LEAD, SCHED_REPEAT_OFF, 0, 0 };
	struct anchor mid = A(PLAYING, 12, 102, 0, NOW), gone = A(PLAYING, 99, 909, 0, NOW);
	struct anchor none = NONE, out;

	(void)state;
	assert_int_equal(sched_reload(&ctx, &mid, 13, &out), 0);
	assert_true(sched_anchor_eq(&out, &mid));
	assert_int_equal(sched_reload(&ctx, &none, 11, &out), 0);
	assert_true(sched_anchor_eq(&out, &none));
	assert_int_equal(sched_reload(&ctx, &gone, 13, &out), 1);
	assert_int_equal(out.item_id, 13);
	assert_int_equal(sched_reload(&ctx, &gone, 0, &out), 1);
	assert_int_equal(out.state, ANCHOR_STOPPED);
	/* In place. */
	out = gone;
	assert_int_equal(sched_reload(&ctx, &out, 11, &out), 1);
	assert_int_equal(out.item_id, 11);
	assert_int_equal(out.at_us, NOW + LEAD);
	/* The item after 12 was removed: 12 is now the last, so its end
	 * stops the room and is applied exactly at the end, not lead early. */
	assert_int_equal(sched_fire_us(&ctx, &mid), NOW + 200 * S - LEAD);
	ctx.n = 2;
	assert_int_equal(sched_fire_us(&ctx, &mid), NOW + 200 * S);
}

struct id_row {
	const char *a;
	const char *b;
	int want;		/* sign of entry_id_cmp, or 9: a does not parse */
};

static const struct id_row id_rows[] = {
	{ "1-0", "1-0", 0 },
	{ "1-1", "1-0", 1 },
	{ "2-0", "10-0", -1 },		/* numeric, not lexicographic */
	{ "1700000000000-9", "1700000000000-10", -1 },
	{ "5", "5-0", 0 },
	{ "0-0", "1-0", -1 },
	{ "18446744073709551615-18446744073709551615", "0-0", 1 },
	{ "18446744073709551616-0", "0-0", 9 },
	{ "1-", "0-0", 9 },
	{ "-1", "0-0", 9 },
	{ "1-2-3", "0-0", 9 },
	{ "", "0-0", 9 },
	{ "a-1", "0-0", 9 },
};

static void
test_entry_ids(void **state)
{
	struct stream_id a, b;
	size_t i;
	int c;

	(void)state;
	for (i = 0; i < sizeof(id_rows) / sizeof(id_rows[0]); i++) {
		if (id_rows[i].want == 9) {
			assert_int_equal(entry_id_parse(id_rows[i].a, &a), -1);
			continue;
		}
		assert_int_equal(entry_id_parse(id_rows[i].a, &a), 0);
		assert_int_equal(entry_id_parse(id_rows[i].b, &b), 0);
		c = entry_id_cmp(&a, &b);
		assert_int_equal(c < 0 ? -1 : c > 0, id_rows[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sched_table),
		cmocka_unit_test(test_sched_modes),
		cmocka_unit_test(test_sched_modes_fire),
		cmocka_unit_test(test_sched_shuffle),
		cmocka_unit_test(test_sched_next_item),
		cmocka_unit_test(test_sched_alias),
		cmocka_unit_test(test_sched_arith),
		cmocka_unit_test(test_sched_fire),
		cmocka_unit_test(test_sched_names),
		cmocka_unit_test(test_sched_reload),
		cmocka_unit_test(test_entry_ids),
	};

	return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
