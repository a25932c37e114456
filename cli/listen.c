/*
 * listen.c - tutti listen CODE: plays the room through the speakers in
 * sync with everyone else. The libuv loop here holds the WebSocket
 * (wsclient.c), the clock probes (lclock.c), the room's state (anchor, seq,
 * playlist; refetched over REST on a gap or a reconnect) and the track
 * loads (lcache.c, on libuv's worker threads); the audio thread of
 * lplayer.c turns anchor and estimate into samples. docs/cli.md, "tutti
 * listen", has the user's side; the design is in the header of each file.
 */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <curl/curl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cmd.h"
#include "config.h"
#include "http.h"
#include "lcache.h"
#include "lclock.h"
#include "log.h"
#include "lplayer.h"
#include "lsched.h"
#include "out.h"
#include "wsclient.h"

#define LIS_SLOTS        4	/* decoded tracks kept: the current, the next, two spare */
#define LIS_BURST        8	/* probes at once on a new connection ... */
#define LIS_BURST_MS     40	/* ... this far apart */
#define LIS_FAST_MS      250	/* then one this often ... */
#define LIS_FAST_FOR_US  30000000	/* ... for this long */
#define LIS_SLOW_MS      500	/* then this often */
#define LIS_RETRY_MIN_MS 250	/* reconnect backoff */
#define LIS_RETRY_MAX_MS 8000
#define LIS_LOAD_RETRY_US 5000000	/* a failed track load is tried again after this */
#define LIS_HANDOVER_US  30000000	/* a new connection's estimate takes over by then */
#define LIS_TIME_MAX     (1LL << 53)

static const struct cli_help listen_help = { "listen",
"[CODE] [--name NAME] [--output MODULE] [--device DEV] [--cache DIR]\n"
"       [--latency-ms MS] [--buffer-ms MS] [--rate HZ] [--report FILE]\n"
"       [--clock-offset-ms MS] [--clock-skew-ppm PPM]",
"     Plays room CODE (default: the room last joined) through libout123, in\n"
"     sync with every other listener: each track starts at its scheduled\n"
"     server time, sample-accurately, and stays there (drift is corrected\n"
"     by inserting or dropping single samples, at most 500 per million).\n"
"     Follows play, pause, seek and next; reconnects by itself. Joins the\n"
"     room first when no token is remembered for it. Ends on SIGINT/SIGTERM.\n"
"\n"
"     --name NAME           the name to join with (default: the login name)\n"
"     --output MODULE       the libout123 module: alsa, pulse, ... on a machine\n"
"                           with sound; null (nothing heard) or the file modules\n"
"                           wav, au, cdr, raw (to --device FILE) without: these\n"
"                           are paced like a sound card. Default: libout123's\n"
"     --device DEV          the module's device, or the file to write\n"
"     --cache DIR           the track cache (default $XDG_CACHE_HOME/tutti)\n"
"     --latency-ms MS       these speakers are heard MS later than the output\n"
"                           reports (may be negative; -2000 to 2000)\n"
"     --buffer-ms MS        the output buffer (default 60; 20 to 1000)\n"
"     --rate HZ             the output rate (default 44100; tracks are resampled)\n"
"     --report FILE         one line per output buffer: when its first sample is\n"
"                           heard (true time, µs) - see docs/cli.md\n"
"     --clock-offset-ms MS  for measurements: run on a clock MS off ...\n"
"     --clock-skew-ppm PPM  ... and PPM fast (-1000 to 1000), the output too\n"
};

struct lis_slot {
	int64_t track_id;	/* 0: free */
	struct ltrack *t;	/* NULL until decoded */
	int loading;
	int64_t failed_us;	/* true time of the last failed load, 0: none */
};

struct lis;

struct lis_job {
	uv_work_t req;
	struct lis *l;
	int64_t track_id;
	char *url;
	struct ltrack *t;	/* the result */
	char why[256];
};

struct lis {
	struct cli *c;
	uv_loop_t *loop;
	struct cmd_room room;	/* code, token, name */
	int64_t my_id;
	char *cache_dir;
	long rate;
	int channels;
	struct lclock clock;
	struct lplayer *player;
	atomic_int stop;
	int stopping;
	int exit_code;

	/* the connection */
	struct wsc *ws;
	int open;
	int conn_no;
	int64_t conn_true_us;	/* when it opened */
	int probes;		/* sent on this connection */
	int64_t last_rtt_us;	/* -1: none yet */
	struct lest est[2];	/* [conn_no % 2]: this connection's; the other: the last one's */
	int use;		/* which of them the player follows (-1: none) */
	int retry_ms;
	uv_timer_t probe_timer, retry_timer, tick_timer;
	uv_signal_t sigint, sigterm;

	/* the room */
	int64_t seq;
	json_t *playlist;	/* the items, in playlist order */
	struct lsched_anchor anchor;
	int have_anchor;
	int64_t next_item;	/* the anchor's next_item_id: 0 none, -1 not sent */
	struct lis_slot slots[LIS_SLOTS];
	int jobs;		/* loads in flight */
	int64_t shown_item;	/* what the last status line said */
	int shown_state;
	int ticks;
	int curl_init;
};

static void lis_connect(struct lis *l);
static void lis_load(struct lis *l, int64_t track_id);

/* ---- ending ---- */

static void
lis_handle_closed(uv_handle_t *h)
{
	(void)h;
}

/* Ends the run with exit status rc: closes the connection and every
 * handle; the loop then runs out (loads in flight see the stop flag). */
static void
lis_stop(struct lis *l, int rc)
{
	if (l->stopping)
		return;
	l->stopping = 1;
	l->exit_code = rc;
	atomic_store(&l->stop, 1);
	if (l->loop == NULL)
		return;		/* before the loop: nothing to close */
	if (l->ws != NULL)
		wsc_close(l->ws, 1000);
	uv_close((uv_handle_t *)&l->probe_timer, lis_handle_closed);
	uv_close((uv_handle_t *)&l->retry_timer, lis_handle_closed);
	uv_close((uv_handle_t *)&l->tick_timer, lis_handle_closed);
	uv_close((uv_handle_t *)&l->sigint, lis_handle_closed);
	uv_close((uv_handle_t *)&l->sigterm, lis_handle_closed);
}

static void
lis_signal(uv_signal_t *s, int signum)
{
	struct lis *l = s->data;

	if (l->c->verbose)
		log_info("signal %d: stopping", signum);
	lis_stop(l, CLI_OK);
}

/* ---- tracks ---- */

static struct lis_slot *
lis_slot_find(struct lis *l, int64_t track_id)
{
	int i;

	for (i = 0; i < LIS_SLOTS; i++)
		if (l->slots[i].track_id == track_id)
			return &l->slots[i];
	return NULL;
}

/* The track URL of track_id: from the playlist, else from the library. */
static char *
lis_track_url(struct lis *l, int64_t track_id)
{
	json_t *it, *tr, *ans = NULL;
	char path[64], *url = NULL;
	size_t i;

	json_array_foreach(l->playlist, i, it) {
		tr = json_object_get(it, "track");
		if (cmd_int(tr, "id", 0) == track_id && *cmd_str(tr, "url") == '/')
			return strdup(cmd_str(tr, "url"));
	}
	snprintf(path, sizeof(path), "/api/tracks/%lld", (long long)track_id);
	if (http_json(l->c, "GET", path, NULL, NULL, &ans, NULL) == CLI_OK &&
	    *cmd_str(ans, "url") == '/')
		url = strdup(cmd_str(ans, "url"));
	json_decref(ans);
	return url;
}

/* The track ids the listener needs now: the anchor's, and the item the
 * server advances to after it (prefetched for a gapless advance): the
 * anchor's next_item_id (shuffle and repeat included; null: none), else,
 * from a server that does not send it or naming an item not in our
 * playlist yet, the item after it in playlist order. */
static void
lis_wanted(struct lis *l, int64_t *cur, int64_t *next)
{
	json_t *it;
	size_t i, n = json_array_size(l->playlist);

	*cur = l->have_anchor ? l->anchor.track_id : 0;
	*next = 0;
	if (!l->have_anchor || l->anchor.item_id == 0 || l->next_item == 0)
		return;
	json_array_foreach(l->playlist, i, it)
		if (l->next_item > 0 && cmd_int(it, "id", 0) == l->next_item) {
			*next = cmd_int(json_object_get(it, "track"), "id", 0);
			return;
		}
	for (i = 0; i < n; i++) {
		it = json_array_get(l->playlist, i);
		if (cmd_int(it, "id", 0) == l->anchor.item_id) {
			it = json_array_get(l->playlist, i + 1 < n ? i + 1 : 0);
			*next = cmd_int(json_object_get(it, "track"), "id", 0);
			return;
		}
	}
}

/* A free slot, evicting a decoded track that is not wanted. */
static struct lis_slot *
lis_slot_new(struct lis *l, int64_t track_id)
{
	int64_t cur, next;
	int i;

	lis_wanted(l, &cur, &next);
	for (i = 0; i < LIS_SLOTS; i++)
		if (l->slots[i].track_id == 0)
			goto take;
	for (i = 0; i < LIS_SLOTS; i++)
		if (!l->slots[i].loading && l->slots[i].track_id != cur &&
		    l->slots[i].track_id != next)
			goto take;
	return NULL;
take:
	ltrack_unref(l->slots[i].t);
	memset(&l->slots[i], 0, sizeof(l->slots[i]));
	l->slots[i].track_id = track_id;
	return &l->slots[i];
}

static void
lis_job_work(uv_work_t *req)
{
	struct lis_job *j = req->data;
	char *path;

	path = lcache_fetch(j->l->c->server, j->url, j->l->cache_dir, &j->l->stop, j->why,
	    sizeof(j->why));
	if (path != NULL)
		j->t = lcache_decode(path, j->track_id, j->l->rate, j->l->channels, &j->l->stop,
		    j->why, sizeof(j->why));
	free(path);
}

/* The playlist item item_id, or NULL. */
static json_t *
lis_item(struct lis *l, int64_t item_id)
{
	json_t *it;
	size_t i;

	json_array_foreach(l->playlist, i, it)
		if (cmd_int(it, "id", 0) == item_id)
			return it;
	return NULL;
}

/*
 * The anchor the worker will advance to at the end of the anchor's item
 * (worker/sched.c, sched_advance): next_item_id at position 0, at the
 * item's end by its track's duration_us. Returns its decoded track, or NULL
 * when there is no such prediction: not playing, nothing follows (or the
 * server did not say), the item or the next one not in our playlist, no
 * duration, or the next track not decoded yet.
 */
static struct ltrack *
lis_predict(struct lis *l, struct lsched_anchor *next)
{
	const struct lsched_anchor *a = &l->anchor;
	json_t *cur, *nit;
	struct lis_slot *s;
	int64_t dur, left;

	if (!l->have_anchor || a->state != LSCHED_PLAYING || l->next_item <= 0 ||
	    (cur = lis_item(l, a->item_id)) == NULL || (nit = lis_item(l, l->next_item)) == NULL)
		return NULL;
	dur = cmd_int(json_object_get(cur, "track"), "duration_us", 0);
	next->track_id = cmd_int(json_object_get(nit, "track"), "id", 0);
	if (dur <= 0 || dur > LIS_TIME_MAX || next->track_id <= 0 ||
	    (s = lis_slot_find(l, next->track_id)) == NULL || s->t == NULL)
		return NULL;
	left = dur - a->position_us;
	next->state = LSCHED_PLAYING;
	next->item_id = l->next_item;
	next->position_us = 0;
	next->at_us = a->at_us + (left > 0 ? left : 0);
	return s->t;
}

/* Gives the player the anchor with its track when it is decoded, and the
 * advance predicted after it (lis_predict). Called again whenever any of
 * them may have changed: a new anchor, a playlist, a track decoded. */
static void
lis_push_anchor(struct lis *l)
{
	struct lsched_anchor next;
	struct lis_slot *s;
	struct ltrack *nt;

	if (!l->have_anchor || l->player == NULL)
		return;
	s = l->anchor.track_id ? lis_slot_find(l, l->anchor.track_id) : NULL;
	nt = lis_predict(l, &next);
	lplayer_set_anchor(l->player, &l->anchor, s != NULL ? s->t : NULL,
	    nt != NULL ? &next : NULL, nt);
}

static void
lis_job_done(uv_work_t *req, int status)
{
	struct lis_job *j = req->data;
	struct lis *l = j->l;
	struct lis_slot *s = lis_slot_find(l, j->track_id);
	int64_t cur, next;

	l->jobs--;
	if (s != NULL)
		s->loading = 0;
	if (j->t == NULL && status != UV_ECANCELED && !l->stopping) {
		log_warn("track %lld: %s", (long long)j->track_id, j->why);
		if (s != NULL)
			s->failed_us = lclock_true_now(&l->clock);
	} else if (j->t != NULL && s != NULL && !l->stopping) {
		s->t = j->t;
		j->t = NULL;
		if (l->c->verbose)
			log_info("track %lld ready: %lld frames", (long long)s->track_id,
			    (long long)s->t->frames);
		lis_wanted(l, &cur, &next);
		if (s->track_id == cur || s->track_id == next)
			lis_push_anchor(l);	/* the anchor's, or the predicted advance's */
	}
	ltrack_unref(j->t);
	free(j->url);
	free(j);
}

/* Starts loading track_id unless it is loaded, loading, or failed lately. */
static void
lis_load(struct lis *l, int64_t track_id)
{
	struct lis_slot *s;
	struct lis_job *j;

	if (track_id <= 0 || l->stopping || l->loop == NULL)
		return;
	if ((s = lis_slot_find(l, track_id)) != NULL) {
		if (s->t != NULL || s->loading || (s->failed_us != 0 &&
		    lclock_true_now(&l->clock) - s->failed_us < LIS_LOAD_RETRY_US))
			return;
	} else if ((s = lis_slot_new(l, track_id)) == NULL) {
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return;
	j->l = l;
	j->track_id = track_id;
	if ((j->url = lis_track_url(l, track_id)) == NULL) {
		log_warn("track %lld: no URL for it", (long long)track_id);
		s->failed_us = lclock_true_now(&l->clock);
		free(j);
		return;
	}
	j->req.data = j;
	if (uv_queue_work(l->loop, &j->req, lis_job_work, lis_job_done) != 0) {
		free(j->url);
		free(j);
		return;
	}
	s->loading = 1;
	l->jobs++;
}

/* Loads what is wanted now (the current track first). */
static void
lis_load_wanted(struct lis *l)
{
	int64_t cur, next;

	lis_wanted(l, &cur, &next);
	lis_load(l, cur);
	if (next != cur)
		lis_load(l, next);
}

/* ---- the room ---- */

static int
lis_parse_anchor(json_t *o, struct lsched_anchor *a)
{
	const char *st = json_string_value(json_object_get(o, "state"));

	if (st == NULL || !json_is_integer(json_object_get(o, "at_us")))
		return -1;
	if (strcmp(st, "playing") == 0)
		a->state = LSCHED_PLAYING;
	else if (strcmp(st, "paused") == 0)
		a->state = LSCHED_PAUSED;
	else if (strcmp(st, "stopped") == 0)
		a->state = LSCHED_STOPPED;
	else
		return -1;
	a->item_id = cmd_int(o, "item_id", 0);
	a->track_id = cmd_int(o, "track_id", 0);
	a->position_us = cmd_int(o, "position_us", 0);
	a->at_us = cmd_int(o, "at_us", 0);
	/* times the arithmetic can take: up to 2^53 µs (year 2255) */
	if (a->position_us < 0 || a->position_us > LIS_TIME_MAX || a->at_us < 0 ||
	    a->at_us > LIS_TIME_MAX || a->item_id < 0 || a->track_id < 0)
		return -1;
	if (a->state == LSCHED_PLAYING && (a->item_id <= 0 || a->track_id <= 0))
		a->state = LSCHED_STOPPED;
	return 0;
}

/* The next_item_id of an anchor object: the item id, 0 for null (nothing
 * follows), -1 when absent or not an id (then playlist order decides). */
static int64_t
lis_parse_next(json_t *o)
{
	json_t *v = json_object_get(o, "next_item_id");

	if (json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) > 0)
		return json_integer_value(v);
	return -1;
}

/* One line on stdout when what plays changes (not for --json). */
static void
lis_show(struct lis *l)
{
	char label[256] = "", pos[32];
	json_t *it;
	size_t i;

	if (l->c->json || (l->shown_item == l->anchor.item_id &&
	    l->shown_state == (int)l->anchor.state))
		return;
	l->shown_item = l->anchor.item_id;
	l->shown_state = (int)l->anchor.state;
	json_array_foreach(l->playlist, i, it)
		if (cmd_int(it, "id", 0) == l->anchor.item_id)
			cmd_track_label(label, sizeof(label), json_object_get(it, "track"));
	out_dur(pos, sizeof(pos), l->anchor.position_us);
	printf("%s", l->anchor.state == LSCHED_PLAYING ? "playing" :
	    l->anchor.state == LSCHED_PAUSED ? "paused" : "stopped");
	if (l->anchor.item_id != 0) {
		printf(" (item %lld, from %s): ", (long long)l->anchor.item_id, pos);
		out_clean(stdout, label[0] ? label : "?");
	}
	putchar('\n');
	fflush(stdout);
}

static void
lis_set_anchor(struct lis *l, json_t *o)
{
	struct lsched_anchor a;

	char note[200];

	if (lis_parse_anchor(o, &a) != 0)
		return;
	if (!l->have_anchor || a.state != l->anchor.state || a.item_id != l->anchor.item_id ||
	    a.position_us != l->anchor.position_us || a.at_us != l->anchor.at_us) {
		snprintf(note, sizeof(note), "anchor state=%s item_id=%lld track_id=%lld "
		    "position_us=%lld at_us=%lld", a.state == LSCHED_PLAYING ? "playing" :
		    a.state == LSCHED_PAUSED ? "paused" : "stopped", (long long)a.item_id,
		    (long long)a.track_id, (long long)a.position_us, (long long)a.at_us);
		lplayer_note(l->player, note);
	}
	l->anchor = a;
	l->have_anchor = 1;
	l->next_item = lis_parse_next(o);
	lis_load_wanted(l);
	lis_push_anchor(l);
	lis_show(l);
}

/* GET /api/rooms/CODE and take seq, playlist and anchor from it. A void
 * token or a closed room ends the run; other failures wait for the next
 * reconnect. */
static void
lis_refetch(struct lis *l)
{
	json_t *ans = NULL, *pl;
	int rc;

	rc = cmd_api(l->c, &l->room, "GET", NULL, NULL, &ans, "%s", "");
	if (rc == CLI_AUTH || rc == CLI_NOTFOUND) {
		lis_stop(l, rc);
		goto done;
	}
	if (rc != CLI_OK)
		goto done;
	l->seq = cmd_int(ans, "seq", l->seq);
	l->my_id = cmd_int(json_object_get(ans, "you"), "id", l->my_id);
	if (json_is_array(pl = json_object_get(ans, "playlist"))) {
		json_decref(l->playlist);
		l->playlist = json_incref(pl);
	}
	lis_set_anchor(l, json_object_get(ans, "playback"));
done:
	json_decref(ans);
}

/* ---- the clock ---- */

/* Sends one probe on the open connection. */
static void
lis_probe(struct lis *l)
{
	char msg[160];
	int n;

	if (l->ws == NULL || !l->open)
		return;
	if (l->last_rtt_us >= 0)
		n = snprintf(msg, sizeof(msg), "{\"type\":\"ping\",\"id\":%lld,\"t0\":%lld,"
		    "\"rtt_us\":%lld}", (long long)l->conn_no * 1000000 + l->probes,
		    (long long)lclock_local_now(&l->clock), (long long)l->last_rtt_us);
	else
		n = snprintf(msg, sizeof(msg), "{\"type\":\"ping\",\"id\":%lld,\"t0\":%lld}",
		    (long long)l->conn_no * 1000000 + l->probes,
		    (long long)lclock_local_now(&l->clock));
	if (wsc_send_text(l->ws, msg, (size_t)n) == 0)
		l->probes++;
}

static void
lis_probe_timer(uv_timer_t *t)
{
	struct lis *l = t->data;
	uint64_t next;

	lis_probe(l);
	if (l->probes < LIS_BURST)
		next = LIS_BURST_MS;
	else if (lclock_true_now(&l->clock) - l->conn_true_us < LIS_FAST_FOR_US)
		next = LIS_FAST_MS;
	else
		next = LIS_SLOW_MS;
	uv_timer_start(&l->probe_timer, lis_probe_timer, next, 0);
}

/* Which estimate the player follows: this connection's once it has 3
 * samples and the last connection's has no line fit, or once it has run for
 * LIS_HANDOVER_US (a young fit's slope is worse than an old one's, which
 * extrapolated over that time is off by a few tens of µs). */
static void
lis_pick_estimate(struct lis *l)
{
	struct lest *cur = &l->est[l->conn_no % 2], *prev = &l->est[(l->conn_no + 1) % 2];
	int c = l->conn_no % 2;

	if (cur->map.samples >= 3 && (prev->map.kind != LEST_FIT ||
	    lclock_true_now(&l->clock) - l->conn_true_us >= LIS_HANDOVER_US))
		l->use = c;
	else if (prev->map.kind != LEST_NONE)
		l->use = 1 - c;
	if (l->use >= 0)
		lplayer_set_map(l->player, &l->est[l->use].map);
}

static void
lis_pong(struct lis *l, json_t *m, int64_t t3)
{
	json_t *id = json_object_get(m, "id"), *t0 = json_object_get(m, "t0");
	json_t *t1 = json_object_get(m, "t1_us"), *t2 = json_object_get(m, "t2_us");
	struct lest *e = &l->est[l->conn_no % 2];
	char note[200];

	if (!json_is_integer(id) || !json_is_integer(t0) || !json_is_integer(t1) ||
	    !json_is_integer(t2) || json_integer_value(id) / 1000000 != l->conn_no)
		return;
	if (lest_add(e, json_integer_value(t0), json_integer_value(t1), json_integer_value(t2),
	    t3) != 0)
		return;
	l->last_rtt_us = (t3 - json_integer_value(t0)) -
	    (json_integer_value(t2) - json_integer_value(t1));
	snprintf(note, sizeof(note), "probe conn=%d t0=%lld t1=%lld t2=%lld t3=%lld",
	    l->conn_no, (long long)json_integer_value(t0), (long long)json_integer_value(t1),
	    (long long)json_integer_value(t2), (long long)t3);
	lplayer_note(l->player, note);
	lis_pick_estimate(l);
}

/* ---- the connection ---- */

static void
lis_on_open(struct wsc *w, void *arg)
{
	struct lis *l = arg;

	(void)w;
	l->open = 1;
	l->retry_ms = LIS_RETRY_MIN_MS;
	l->conn_true_us = lclock_true_now(&l->clock);
	l->probes = 0;
	l->last_rtt_us = -1;
	if (l->c->verbose)
		log_info("connected (connection %d)", l->conn_no);
	lplayer_note(l->player, "connected");
	uv_timer_start(&l->probe_timer, lis_probe_timer, 0, 0);
}

/* The seq of an event: a gap (or the first event after a reconnect that
 * came before the room was fetched) means a refetch. Returns 1 when the
 * event is current and may be applied, 0 when it is older than the room. */
static int
lis_seq(struct lis *l, json_t *m)
{
	json_t *v = json_object_get(m, "seq");
	int64_t s;

	if (!json_is_integer(v))
		return 1;
	s = json_integer_value(v);
	if (s > l->seq + 1) {
		if (l->c->verbose)
			log_info("seq %lld after %lld: fetching the room", (long long)s,
			    (long long)l->seq);
		lis_refetch(l);
		return s >= l->seq;
	}
	if (s < l->seq)
		return 0;
	l->seq = s;
	return 1;
}

static void
lis_on_text(struct wsc *w, const char *msg, size_t len, void *arg)
{
	struct lis *l = arg;
	int64_t t3 = lclock_local_now(&l->clock);
	const char *type;
	json_error_t err;
	json_t *m, *user;

	(void)w;
	if ((m = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &err)) == NULL)
		return;
	type = json_string_value(json_object_get(m, "type"));
	if (type == NULL)
		goto done;
	if (strcmp(type, "pong") == 0) {
		lis_pong(l, m, t3);
	} else if (strcmp(type, "hello") == 0) {
		lis_refetch(l);		/* subscribed: the room now misses nothing */
	} else if (strcmp(type, "resync") == 0) {
		lis_refetch(l);
	} else if (strcmp(type, "playback") == 0) {
		if (lis_seq(l, m))
			lis_set_anchor(l, m);
	} else if (strcmp(type, "beacon") == 0) {
		/* the current anchor again; a seq ahead of ours: something was missed */
		if (cmd_int(m, "seq", 0) > l->seq)
			lis_refetch(l);
		else if (cmd_int(m, "seq", 0) == l->seq)
			lis_set_anchor(l, m);
	} else if (strcmp(type, "playlist") == 0) {
		if (lis_seq(l, m) && json_is_array(json_object_get(m, "items"))) {
			json_decref(l->playlist);
			l->playlist = json_incref(json_object_get(m, "items"));
			lis_load_wanted(l);
			lis_push_anchor(l);	/* the predicted advance may change */
		}
	} else if (strcmp(type, "room_closed") == 0) {
		if (!l->c->json)
			printf("the room closed\n");
		cfg_token_forget(l->c, l->room.code);
		lis_stop(l, CLI_OK);
	} else if (strcmp(type, "user_left") == 0) {
		user = json_object_get(m, "user");
		if (lis_seq(l, m) && cmd_int(user, "id", -1) == l->my_id) {
			fprintf(stderr, "tutti: you are no longer in room %s\n", l->room.code);
			cfg_token_forget(l->c, l->room.code);
			lis_stop(l, CLI_AUTH);
		}
	} else {
		(void)lis_seq(l, m);
	}
done:
	json_decref(m);
}

static void
lis_retry_timer(uv_timer_t *t)
{
	lis_connect(t->data);
}

static void
lis_on_close(struct wsc *w, int code, const char *reason, void *arg)
{
	struct lis *l = arg;
	char note[200];
	int ms;

	(void)w;
	l->ws = NULL;
	l->open = 0;
	if (l->stopping)
		return;
	uv_timer_stop(&l->probe_timer);
	snprintf(note, sizeof(note), "disconnected: %d %.120s", code, reason);
	lplayer_note(l->player, note);
	if (l->c->verbose || code != 1006 || strstr(reason, "HTTP") != NULL)
		log_warn("connection %d ended: %d %s", l->conn_no, code, reason);
	if (strstr(reason, "HTTP 401") != NULL || strstr(reason, "HTTP 404") != NULL) {
		lis_refetch(l);		/* says why and ends the run when the token is void */
		if (l->stopping)
			return;
	}
	/* the backoff, with a quarter of jitter either way */
	ms = l->retry_ms * 3 / 4 + (int)(random() % (l->retry_ms / 2 + 1));
	l->retry_ms = l->retry_ms * 2 > LIS_RETRY_MAX_MS ? LIS_RETRY_MAX_MS : l->retry_ms * 2;
	uv_timer_start(&l->retry_timer, lis_retry_timer, (uint64_t)ms, 0);
}

static void
lis_connect(struct lis *l)
{
	static const struct wsc_hooks hooks = { lis_on_open, lis_on_text, lis_on_close };
	char *path = NULL;

	if (l->stopping || l->ws != NULL)
		return;
	l->conn_no++;
	lest_init(&l->est[l->conn_no % 2]);
	if (l->use == l->conn_no % 2)
		l->use = -1;
	if (asprintf(&path, "/ws?room=%s&token=%s", l->room.code, l->room.token) < 0)
		return;
	if ((l->ws = wsc_open(l->loop, l->c->server, path, &hooks, l)) == NULL) {
		fprintf(stderr, "tutti: cannot listen through %s (only http:// servers)\n",
		    l->c->server);
		lis_stop(l, CLI_USAGE);
	}
	free(path);
}

/* Every second: retry failed loads; with -v, the state of things. */
static void
lis_tick(uv_timer_t *t)
{
	struct lis *l = t->data;
	struct lplayer_stats st;
	const struct lest_map *m;

	lis_load_wanted(l);
	if (!l->c->verbose || ++l->ticks % 10 != 0 || l->use < 0)
		return;
	lplayer_get_stats(l->player, &st);
	m = &l->est[l->use].map;
	log_info("estimate %s: rtt %lld us, skew %.2f ppm, +-%.0f us; error %.0f us; "
	    "inserted %llu dropped %llu resyncs %llu underruns %llu",
	    m->kind == LEST_FIT ? "fit" : "median", (long long)m->rtt_us, m->skew * 1e6,
	    m->uncertainty_us, st.last_err_us, (unsigned long long)st.inserted,
	    (unsigned long long)st.dropped, (unsigned long long)st.resyncs,
	    (unsigned long long)st.underruns);
}

/* ---- the command ---- */

struct lis_opts {
	const char *name, *output, *device, *cache, *report, *code;
	double latency_ms, offset_ms, ppm;
	long buffer_ms, rate;
};

/* Parses a number within [lo, hi]. Returns 0 or -1. */
static int
lis_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	v = strtod(s, &end);
	if (end == s || *end != '\0' || !isfinite(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
lis_parse(int argc, char **argv, struct lis_opts *o, int *rc)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "device", required_argument, NULL, 'd' },
		{ "cache", required_argument, NULL, 'C' },
		{ "report", required_argument, NULL, 'r' },
		{ "latency-ms", required_argument, NULL, 'L' },
		{ "buffer-ms", required_argument, NULL, 'B' },
		{ "rate", required_argument, NULL, 'R' },
		{ "clock-offset-ms", required_argument, NULL, 'O' },
		{ "clock-skew-ppm", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	double v;
	int opt, bad_opt = 0;

	memset(o, 0, sizeof(*o));
	o->buffer_ms = 60;
	o->rate = 44100;
	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "n:o:d:h", lo, NULL)) != -1) {
		bad_opt = opt;
		switch (opt) {
		case 'n': o->name = optarg; break;
		case 'o': o->output = optarg; break;
		case 'd': o->device = optarg; break;
		case 'C': o->cache = optarg; break;
		case 'r': o->report = optarg; break;
		case 'L':
			if (lis_num(optarg, -2000, 2000, &o->latency_ms) != 0)
				goto bad;
			break;
		case 'B':
			if (lis_num(optarg, 20, 1000, &v) != 0)
				goto bad;
			o->buffer_ms = lround(v);
			break;
		case 'R':
			if (lis_num(optarg, 8000, 192000, &v) != 0 || v != floor(v))
				goto bad;
			o->rate = lround(v);
			break;
		case 'O':
			if (lis_num(optarg, -86400000.0, 86400000.0, &o->offset_ms) != 0)
				goto bad;
			break;
		case 'P':
			if (lis_num(optarg, -1000, 1000, &o->ppm) != 0)
				goto bad;
			break;
		case 'h': *rc = out_help(&listen_help); return -1;
		default: *rc = out_badopt(&listen_help, argv, opt); return -1;
		}
	}
	if (argc - optind > 1) {
		*rc = out_usage(&listen_help, "unexpected argument %s", argv[optind + 1]);
		return -1;
	}
	o->code = optind < argc ? argv[optind] : NULL;
	return 0;
bad:
	for (opt = 0; lo[opt].name != NULL && lo[opt].val != bad_opt; opt++)
		;
	*rc = out_usage(&listen_help, "--%s %s: out of range (see tutti listen --help)",
	    lo[opt].name != NULL ? lo[opt].name : "?", optarg);
	return -1;
}

/* The token for the room: remembered, else joined now. Returns an exit status. */
static int
lis_token(struct lis *l, const char *name_opt)
{
	char path[64], *name = NULL;
	json_t *ans = NULL;
	int rc;

	if (cfg_token_get(l->c, l->room.code, &l->room.token, &l->room.name) == 0)
		return CLI_OK;
	name = name_opt != NULL ? strdup(name_opt) : cfg_default_name(l->c);
	if (name == NULL || cmd_text_ok(&listen_help, "the name", name, 1, 32, 0) != 0) {
		free(name);
		return CLI_USAGE;
	}
	snprintf(path, sizeof(path), "/api/rooms/%s/join", l->room.code);
	rc = http_json(l->c, "POST", path, NULL, json_pack("{s:s}", "name", name), &ans, NULL);
	if (rc == CLI_OK) {
		l->room.token = strdup(cmd_str(ans, "token"));
		l->room.name = strdup(cmd_str(json_object_get(ans, "user"), "name"));
		if (l->room.token == NULL || l->room.token[0] == '\0' || l->room.name == NULL)
			rc = CLI_FAIL;
		else if (cfg_token_put(l->c, l->room.code, l->room.token, l->room.name) != 0)
			fprintf(stderr, "tutti: joined, but the token could not be remembered\n");
		if (rc == CLI_OK && !l->c->json)
			printf("joined room %s as %s\n", l->room.code, l->room.name);
	}
	json_decref(ans);
	free(name);
	return rc;
}

static void
lis_summary(struct lis *l)
{
	struct lplayer_stats st;
	const struct lest_map *m = l->use >= 0 ? &l->est[l->use].map : NULL;

	lplayer_get_stats(l->player, &st);
	if (!l->c->json)
		return;
	out_json(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:f, s:f, "
	    "s:i}", "room", l->room.code, "frames", (json_int_t)st.frames,
	    "track_frames", (json_int_t)st.track_frames, "inserted", (json_int_t)st.inserted,
	    "dropped", (json_int_t)st.dropped, "resyncs", (json_int_t)st.resyncs,
	    "underruns", (json_int_t)st.underruns, "starts", (json_int_t)st.starts,
	    "predicted", (json_int_t)st.predicted, "error_us", st.last_err_us,
	    "rtt_us", (json_int_t)(m ? m->rtt_us : 0),
	    "offset_us", m ? m->offset_us : 0.0, "skew_ppm", m ? m->skew * 1e6 : 0.0,
	    "connections", l->conn_no));
}

int
cmd_listen(struct cli *c, int argc, char **argv)
{
	struct lplayer_conf pc;
	struct lis_opts o;
	struct lis *l;
	uv_loop_t loop;
	char why[256];
	const char *code;
	int rc = CLI_FAIL, i, loop_ok = 0;

	if (lis_parse(argc, argv, &o, &rc) != 0)
		return rc;
	if ((code = o.code != NULL ? o.code : c->room) == NULL)
		return out_usage(&listen_help, "which room? give its code");
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return CLI_FAIL;
	l->c = c;
	l->use = -1;
	l->last_rtt_us = -1;
	l->retry_ms = LIS_RETRY_MIN_MS;
	l->shown_state = -1;
	l->rate = o.rate;
	l->channels = 2;
	atomic_init(&l->stop, 0);
	if (cmd_code(code, l->room.code) != 0) {
		rc = out_usage(&listen_help, "%s is not a room code (5 characters of "
		    "23456789ABCDEFGHJKMNPQRSTUVWXYZ)", code);
		goto done;
	}
	l->cache_dir = o.cache != NULL ? strdup(o.cache) : lcache_default_dir();
	if (l->cache_dir == NULL) {
		fprintf(stderr, "tutti: no cache directory: give --cache DIR\n");
		goto done;
	}
	lclock_init(&l->clock, (int64_t)llround(o.offset_ms * 1000), o.ppm);
	srandom((unsigned)lclock_true_now(&l->clock));
	l->curl_init = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	memset(&pc, 0, sizeof(pc));
	pc.driver = o.output;
	pc.device = o.device;
	pc.rate = o.rate;
	pc.channels = l->channels;
	pc.buffer_ms = (int)o.buffer_ms;
	pc.latency_us = (int64_t)llround(o.latency_ms * 1000);
	pc.report = o.report;
	pc.clock = &l->clock;
	if ((l->player = lplayer_open(&pc, why, sizeof(why))) == NULL) {
		fprintf(stderr, "tutti: %s\n", why);
		goto done;
	}
	if ((rc = lis_token(l, o.name)) != CLI_OK)
		goto done;
	lis_refetch(l);
	if (l->stopping) {
		rc = l->exit_code;
		goto done;
	}
	if (uv_loop_init(&loop) != 0 || lplayer_start(l->player) != 0) {
		rc = CLI_FAIL;
		goto done;
	}
	loop_ok = 1;
	l->loop = &loop;
	uv_timer_init(&loop, &l->probe_timer);
	uv_timer_init(&loop, &l->retry_timer);
	uv_timer_init(&loop, &l->tick_timer);
	uv_signal_init(&loop, &l->sigint);
	uv_signal_init(&loop, &l->sigterm);
	l->probe_timer.data = l->retry_timer.data = l->tick_timer.data = l;
	l->sigint.data = l->sigterm.data = l;
	uv_signal_start(&l->sigint, lis_signal, SIGINT);
	uv_signal_start(&l->sigterm, lis_signal, SIGTERM);
	uv_timer_start(&l->tick_timer, lis_tick, 1000, 1000);
	lis_load_wanted(l);
	lis_push_anchor(l);
	lis_connect(l);
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = l->exit_code;
	lis_summary(l);
done:
	lplayer_close(l->player);
	if (loop_ok && uv_loop_close(&loop) != 0)
		log_warn("the event loop still had handles");
	for (i = 0; i < LIS_SLOTS; i++)
		ltrack_unref(l->slots[i].t);
	json_decref(l->playlist);
	free(l->cache_dir);
	free(l->room.token);
	free(l->room.name);
	if (l->curl_init)
		curl_global_cleanup();
	free(l);
	return rc;
}
