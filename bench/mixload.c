/*
 * mixload.c - the WebSocket listeners of the mixed-load bench (issue 8; run by
 * bench/mixed_load.py). Holds a slice of the listeners through nginx as real
 * clients do (time-sync pings, a new connection after a close), tracks each
 * one's seq gaps, newest anchor and last beacon; answers S (counters), R
 * (histograms reset), D PREFIX (connections, histograms to files), Q on stdin.
 */
#include "clock.h"
#include "log.h"
#include "ws.h"
#include "wsload.h"

#include <jansson.h>
#include <uv.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ML_TICK_MS    100
#define ML_ERR_LINES  20	/* E lines printed at most */

/* Histograms of wsload.h's buckets, dumped sparse, each bucket by its upper
 * bound, so the driver merges processes by value. */
struct ml_hist {
	uint64_t n[WL_HIST_N];
};

/* beacon_delivery: arrival - now_us; anchor_margin: at_us - arrival of a
 * playing anchor that came in time, anchor_late: arrival - at_us of one that
 * came late; ping_rtt: pong arrival - t0; upgrade: connect to the 101. */
enum { H_BEACON, H_MARGIN, H_LATE, H_RTT, H_UPGRADE, H_COUNT };
static const char *const hist_names[H_COUNT] = {
	"beacon_delivery", "anchor_margin", "anchor_late", "ping_rtt", "upgrade"
};

enum { CS_IDLE, CS_CONNECTING, CS_HANDSHAKE, CS_OPEN, CS_CLOSING, CS_WAIT };

/* A playback anchor; item and track are -1 when null. */
struct ml_anchor {
	int64_t seq, item, track, pos, at;
	char state[8];
};

struct ml_proc;

struct ml_conn {
	uv_tcp_t tcp;
	uv_connect_t creq;
	struct ml_proc *p;
	struct wl_keep keep;		/* unparsed bytes of the last read */
	uint32_t idx;			/* the line of the listeners file */
	uint8_t state, hello, snapped;
	char accept[WS_ACCEPT_LEN + 1];	/* the Sec-WebSocket-Accept expected */
	int64_t due_ms;			/* CS_WAIT: reconnect; CS_OPEN: next ping */
	int64_t t_start_us;		/* when the connect began */
	int64_t last_seq;		/* highest seq of an event (0: none yet) */
	uint64_t missing;		/* bit i: seq last_seq - 1 - i not seen yet */
	uint32_t lost, reordered, dup, opens, closes, fails;
	struct ml_anchor anc;
	int64_t beacon_ms;		/* loop time of the last beacon, 0 none */
	uint32_t beacons, events, pings, pongs, ping_id;
	int64_t rtt_us;
};

struct ml_counters {
	uint64_t msgs, beacons, playbacks, events, chats, playlists, presences;
	uint64_t lost, reordered, dup, resyncs, closed_rooms, late_anchors;
	uint64_t pings, pongs, opened, closes, fails, server_closes, bad_frames;
};

struct ml_proc {
	uv_loop_t loop;
	uv_pipe_t in;
	uv_timer_t tick;
	struct sockaddr_in dst;
	char target[64];
	struct sockaddr_in src[WL_SRC_MAX];
	int nsrc;
	int conc, ping_ms, reconnect_ms;
	int n, next, inflight, open, ever, ready_sent, quitting, err_lines;
	int64_t t0_ms;
	struct wl_lines ls;		/* the listeners' room codes and tokens */
	struct ml_conn *conns;
	struct ml_counters k;
	struct ml_hist h[H_COUNT];
	char ibuf[4096];
	size_t ilen;
	uint8_t rdbuf[65536];
};

static void proc_start_more(struct ml_proc *p);

/* ---- small helpers ---- */

static void
hist_add(struct ml_proc *p, int which, int64_t v)
{
	p->h[which].n[wl_hist_index(v < 0 ? 0 : (uint64_t)v)]++;
}

/* Prints one E line (at most ML_ERR_LINES of them): the driver shows them. */
static void
proc_note(struct ml_proc *p, const struct ml_conn *c, const char *what, const char *detail)
{
	if (p->err_lines >= ML_ERR_LINES)
		return;
	p->err_lines++;
	printf("E conn %u room %s: %s%s%s\n", c->idx, p->ls.code[c->idx], what,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	fflush(stdout);
}

/* ---- one connection ---- */

static void
conn_closed_cb(uv_handle_t *h)
{
	struct ml_conn *c = h->data;
	struct ml_proc *p = c->p;

	wl_keep_free(&c->keep);
	c->state = CS_WAIT;
	c->due_ms = (int64_t)uv_now(&p->loop) + p->reconnect_ms;
}

/* Ends c; it connects again after -r ms. A connection that was open counts
 * as a close, one that never opened as a failure. */
static void
conn_end(struct ml_conn *c)
{
	struct ml_proc *p = c->p;

	if (c->state == CS_CLOSING || c->state == CS_WAIT || c->state == CS_IDLE)
		return;
	if (c->state == CS_OPEN) {
		p->open--;
		c->closes++;
		p->k.closes++;
		/* Gaps still open are lost with the connection. */
		c->lost += (uint32_t)__builtin_popcountll(c->missing);
		p->k.lost += (uint64_t)__builtin_popcountll(c->missing);
		c->missing = 0;
	} else {
		p->inflight--;
		c->fails++;
		p->k.fails++;
	}
	c->state = CS_CLOSING;
	uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
	if (!p->quitting)
		proc_start_more(p);
}

/* A masked client frame of opcode op around the n bytes at pl (n <= 125). */
static void
conn_send_masked(struct ml_conn *c, unsigned op, const uint8_t *pl, size_t n)
{
	if (wl_send_masked((uv_stream_t *)&c->tcp, op, pl, n) != 0)
		conn_end(c);
}

/* The time-sync probe of docs/protocol.md, with the last round trip. */
static void
conn_ping(struct ml_conn *c)
{
	char msg[128];
	int n;

	c->ping_id++;
	if (c->rtt_us > 0)
		n = snprintf(msg, sizeof(msg), "{\"type\":\"ping\",\"id\":%u,\"t0\":%" PRId64
		    ",\"rtt_us\":%" PRId64 "}", c->ping_id, clock_now_us(), c->rtt_us);
	else
		n = snprintf(msg, sizeof(msg), "{\"type\":\"ping\",\"id\":%u,\"t0\":%" PRId64 "}",
		    c->ping_id, clock_now_us());
	c->pings++;
	c->p->k.pings++;
	conn_send_masked(c, WS_OP_TEXT, (const uint8_t *)msg, (size_t)n);
}

/* Notes that seq s of a room event arrived. Events may arrive a little out
 * of order (docs/protocol.md); a gap counts as lost only once 64 later seqs
 * passed without it, or when the connection ends. */
static void
conn_seq(struct ml_conn *c, int64_t s)
{
	struct ml_proc *p = c->p;
	uint64_t d, out, i;

	if (s <= 0)
		return;
	if (c->last_seq == 0) {
		c->last_seq = s;
		c->missing = 0;
		return;
	}
	if (s > c->last_seq) {
		d = (uint64_t)(s - c->last_seq);
		if (d >= 64) {
			out = (uint64_t)__builtin_popcountll(c->missing) + (d - 1 > 64 ? d - 65 : 0);
			c->missing = d - 1 >= 64 ? ~0ULL : (1ULL << (d - 1)) - 1;
		} else {
			out = (uint64_t)__builtin_popcountll(c->missing >> (64 - d));
			c->missing = (c->missing << d) | ((1ULL << (d - 1)) - 1);
		}
		c->lost += (uint32_t)out;
		p->k.lost += out;
		c->last_seq = s;
		return;
	}
	i = (uint64_t)(c->last_seq - 1 - s);
	if (s < c->last_seq && i < 64 && (c->missing >> i) & 1) {
		c->missing &= ~(1ULL << i);
		c->reordered++;
		p->k.reordered++;
	} else {
		c->dup++;
		p->k.dup++;
	}
}

static int64_t
json_int_or(json_t *j, const char *key, int64_t dflt)
{
	json_t *v = json_object_get(j, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* Keeps the anchor of a playback event or beacon j unless the one kept is
 * newer (a snapshot may come after a live event). */
static void
conn_anchor(struct ml_conn *c, json_t *j, int64_t seq)
{
	const char *st = json_string_value(json_object_get(j, "state"));

	if (c->anc.seq > seq)
		return;
	c->anc.seq = seq;
	snprintf(c->anc.state, sizeof(c->anc.state), "%s", st != NULL ? st : "?");
	c->anc.item = json_int_or(j, "item_id", -1);
	c->anc.track = json_int_or(j, "track_id", -1);
	c->anc.pos = json_int_or(j, "position_us", -1);
	c->anc.at = json_int_or(j, "at_us", -1);
}

static void
conn_text(struct ml_conn *c, const uint8_t *b, size_t n)
{
	struct ml_proc *p = c->p;
	json_t *j = json_loadb((const char *)b, n, JSON_REJECT_DUPLICATES, NULL);
	const char *type = json_string_value(json_object_get(j, "type")), *st;
	int64_t now = clock_now_us(), seq = json_int_or(j, "seq", 0), t;

	p->k.msgs++;
	if (type == NULL) {
		p->k.bad_frames++;
		proc_note(p, c, "a message without a type", NULL);
	} else if (strcmp(type, "beacon") == 0) {
		c->beacons++;
		p->k.beacons++;
		c->beacon_ms = (int64_t)uv_now(&p->loop);
		if ((t = json_int_or(j, "now_us", 0)) > 0)
			hist_add(p, H_BEACON, now - t);
		conn_anchor(c, j, seq);
	} else if (strcmp(type, "pong") == 0) {
		c->pongs++;
		p->k.pongs++;
		if ((t = json_int_or(j, "t0", 0)) > 0) {
			c->rtt_us = now - t;
			hist_add(p, H_RTT, c->rtt_us);
		}
	} else if (strcmp(type, "hello") == 0) {
		c->hello = 1;
	} else if (strcmp(type, "resync") == 0) {
		p->k.resyncs++;
		proc_note(p, c, "resync", NULL);
	} else if (strcmp(type, "playback") == 0 && c->hello && !c->snapped) {
		/* The snapshot after hello: an anchor, and no new event. Its seq
		 * may be older than the room's, so it sets no baseline; after
		 * live events it may fill a gap (it is that playback event). */
		c->snapped = 1;
		conn_anchor(c, j, seq);
		if (c->last_seq > 0 && seq < c->last_seq)
			conn_seq(c, seq);
	} else {
		c->events++;
		p->k.events++;
		conn_seq(c, seq);
		if (strcmp(type, "playback") == 0) {
			p->k.playbacks++;
			conn_anchor(c, j, seq);
			/* How long before its start a new playing anchor arrived. */
			st = json_string_value(json_object_get(j, "state"));
			if (st != NULL && strcmp(st, "playing") == 0 &&
			    (t = json_int_or(j, "at_us", 0)) > 0) {
				if (t < now) {
					p->k.late_anchors++;
					hist_add(p, H_LATE, now - t);
				} else
					hist_add(p, H_MARGIN, t - now);
			}
		} else if (strcmp(type, "chat") == 0)
			p->k.chats++;
		else if (strcmp(type, "playlist") == 0)
			p->k.playlists++;
		else if (strcmp(type, "presence") == 0)
			p->k.presences++;
		else if (strcmp(type, "room_closed") == 0) {
			p->k.closed_rooms++;
			proc_note(p, c, "room_closed", NULL);
		}
	}
	json_decref(j);
}

/* Handles the complete server frames at b; returns the bytes consumed, or
 * (size_t)-1 when c was ended. */
static size_t
conn_frames(struct ml_conn *c, const uint8_t *b, size_t n)
{
	struct ml_proc *p = c->p;
	struct wl_frame f;
	const uint8_t *pl;
	size_t off = 0;
	char why[64];
	int r;

	while ((r = wl_frame_next(b + off, n - off, 1, &f)) == 1) {
		pl = b + off + f.head;
		if (f.op == WS_OP_TEXT)
			conn_text(c, pl, (size_t)f.len);
		else if (f.op == WS_OP_PING)
			conn_send_masked(c, WS_OP_PONG, pl, (size_t)f.len);
		else if (f.op == WS_OP_CLOSE) {
			snprintf(why, sizeof(why), "code %u",
			    f.len >= 2 ? (unsigned)pl[0] << 8 | pl[1] : 0);
			p->k.server_closes++;
			proc_note(p, c, "the server closed the WebSocket", why);
			conn_send_masked(c, WS_OP_CLOSE, pl, f.len >= 2 ? 2 : 0);
			conn_end(c);
			return (size_t)-1;
		} else if (f.op != WS_OP_PONG) {
			p->k.bad_frames++;
			proc_note(p, c, "an unexpected opcode", NULL);
		}
		if (c->state != CS_OPEN)
			return (size_t)-1;
		off += f.head + (size_t)f.len;
	}
	if (r < 0) {
		p->k.bad_frames++;
		proc_note(p, c, "a masked or fragmented frame from the server", NULL);
		conn_end(c);
		return (size_t)-1;
	}
	return off;
}

/* The response to the upgrade request; returns the bytes consumed, 0 when
 * incomplete, (size_t)-1 when c was ended. */
static size_t
conn_response(struct ml_conn *c, const uint8_t *b, size_t n)
{
	struct ml_proc *p = c->p;
	char why[96];
	ssize_t hl = wl_upgrade_answer(b, n, c->accept, why, sizeof(why));

	if (hl == 0)
		return 0;
	if (hl < 0) {
		proc_note(p, c, why, NULL);
		conn_end(c);
		return (size_t)-1;
	}
	c->state = CS_OPEN;
	c->hello = c->snapped = 0;
	c->last_seq = 0;
	c->missing = 0;
	c->opens++;
	if (c->opens == 1)
		p->ever++;
	p->k.opened++;
	p->inflight--;
	p->open++;
	hist_add(p, H_UPGRADE, clock_now_us() - c->t_start_us);
	if (p->ping_ms > 0)
		c->due_ms = (int64_t)uv_now(&p->loop) + (int64_t)(c->idx * 7919u % (unsigned)p->ping_ms);
	proc_start_more(p);
	return (size_t)hl;
}

static void
conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct ml_conn *c = h->data;

	(void)suggested;
	wl_keep_alloc(&c->keep, c->p->rdbuf, sizeof(c->p->rdbuf), buf);
}

static void
conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ml_conn *c = s->data;
	struct ml_proc *p = c->p;
	size_t len, used = 0, u;

	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0) {
		proc_note(p, c, c->state == CS_OPEN ? "connection lost" :
		    "connection lost before the upgrade", uv_strerror((int)nread));
		conn_end(c);
		return;
	}
	len = c->keep.n + (size_t)nread;
	if (c->state == CS_HANDSHAKE) {
		if ((u = conn_response(c, p->rdbuf, len)) == (size_t)-1)
			return;
		used = u;
	}
	if (c->state == CS_OPEN) {
		if ((u = conn_frames(c, p->rdbuf + used, len - used)) == (size_t)-1)
			return;
		used += u;
	}
	len -= used;
	if (len > WL_KEEP_MAX) {
		proc_note(p, c, "a frame over 1 MiB", NULL);
		conn_end(c);
		return;
	}
	if (wl_keep_set(&c->keep, p->rdbuf + used, len) != 0)
		conn_end(c);
}

/* Writes the upgrade request of c, with a fresh key. Returns 0 or -1. */
static int
conn_request(struct ml_conn *c)
{
	struct ml_proc *p = c->p;
	char target[160];

	snprintf(target, sizeof(target), "/ws?room=%s&token=%s", p->ls.code[c->idx],
	    p->ls.token[c->idx]);
	return wl_upgrade_send((uv_stream_t *)&c->tcp, target, p->target, c->accept) == 0 ? 0 : -1;
}

static void
conn_connect_cb(uv_connect_t *req, int status)
{
	struct ml_conn *c = req->data;

	if (c->state != CS_CONNECTING)
		return;
	if (status != 0) {
		proc_note(c->p, c, "connect", uv_strerror(status));
		conn_end(c);
		return;
	}
	c->state = CS_HANDSHAKE;
	if (conn_request(c) != 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb) != 0) {
		proc_note(c->p, c, "cannot send the upgrade request", NULL);
		conn_end(c);
	}
}

static void
conn_start(struct ml_conn *c)
{
	struct ml_proc *p = c->p;
	const char *step;
	int rc;

	c->tcp.data = c;
	c->creq.data = c;
	if ((rc = uv_tcp_init_ex(&p->loop, &c->tcp, AF_INET)) != 0) {
		proc_note(p, c, "socket", uv_strerror(rc));
		c->state = CS_WAIT;
		c->due_ms = (int64_t)uv_now(&p->loop) + p->reconnect_ms;
		c->fails++;
		p->k.fails++;
		return;
	}
	c->state = CS_CONNECTING;
	c->t_start_us = clock_now_us();
	p->inflight++;
	rc = wl_connect(&c->tcp, &c->creq, p->nsrc > 0 ? &p->src[c->idx % (uint32_t)p->nsrc] :
	    NULL, &p->dst, conn_connect_cb, &step);
	if (rc != 0) {
		proc_note(p, c, step, uv_strerror(rc));
		conn_end(c);
	}
}

/* ---- the process ---- */

/* Starts first connections, then due reconnections, while fewer than -C
 * upgrades are in flight; prints READY once every connection opened. */
static void
proc_start_more(struct ml_proc *p)
{
	while (p->next < p->n && p->inflight < p->conc)
		conn_start(&p->conns[p->next++]);
	if (!p->ready_sent && p->ever == p->n) {
		p->ready_sent = 1;
		printf("READY %.3f\n", (double)((int64_t)uv_now(&p->loop) - p->t0_ms) / 1000);
		fflush(stdout);
	}
}

static void
proc_tick_cb(uv_timer_t *t)
{
	struct ml_proc *p = t->data;
	int64_t now = (int64_t)uv_now(&p->loop);
	struct ml_conn *c;
	int i;

	for (i = 0; i < p->next; i++) {
		c = &p->conns[i];
		if (c->state == CS_OPEN && p->ping_ms > 0 && now >= c->due_ms) {
			c->due_ms = now + p->ping_ms;
			conn_ping(c);
		} else if (c->state == CS_WAIT && now >= c->due_ms && p->inflight < p->conc &&
		    !p->quitting)
			conn_start(c);
	}
	proc_start_more(p);
}

static void
proc_counters(struct ml_proc *p)
{
	const struct ml_counters *k = &p->k;
	uint64_t pending = 0;
	int i, waiting = 0;

	for (i = 0; i < p->n; i++) {
		pending += (uint64_t)__builtin_popcountll(p->conns[i].missing);
		waiting += p->conns[i].state == CS_WAIT || p->conns[i].state == CS_CLOSING;
	}
	printf("S n=%d open=%d inflight=%d waiting=%d ever=%d opened=%" PRIu64 " closes=%" PRIu64
	    " fails=%" PRIu64 " server_closes=%" PRIu64 " msgs=%" PRIu64 " beacons=%" PRIu64
	    " events=%" PRIu64 " playbacks=%" PRIu64 " chats=%" PRIu64 " playlists=%" PRIu64
	    " presences=%" PRIu64 " lost=%" PRIu64 " pending=%" PRIu64 " reordered=%" PRIu64
	    " dup=%" PRIu64 " resyncs=%" PRIu64 " room_closed=%" PRIu64 " late_anchors=%" PRIu64
	    " pings=%" PRIu64 " pongs=%" PRIu64 " bad_frames=%" PRIu64 "\n", p->n, p->open,
	    p->inflight, waiting, p->ever, k->opened, k->closes, k->fails, k->server_closes,
	    k->msgs, k->beacons, k->events, k->playbacks, k->chats, k->playlists, k->presences,
	    k->lost, pending, k->reordered, k->dup, k->resyncs, k->closed_rooms, k->late_anchors,
	    k->pings, k->pongs, k->bad_frames);
	fflush(stdout);
}

static const char *const state_names[] = {
	"idle", "connecting", "handshake", "open", "closing", "wait"
};

/* Writes PREFIX.conns.tsv (one line a connection) and PREFIX.hist.tsv (the
 * non-empty buckets). Returns 0 or -1 (reported on stdout). */
static int
proc_dump(struct ml_proc *p, const char *prefix)
{
	int64_t now = (int64_t)uv_now(&p->loop);
	char path[4096];
	const struct ml_conn *c;
	FILE *f;
	unsigned i;
	int w;

	snprintf(path, sizeof(path), "%s.conns.tsv", prefix);
	if ((f = fopen(path, "w")) == NULL)
		goto fail;
	fputs("idx\troom\tstate\topens\tcloses\tfails\tlast_seq\tlost\tpending\treordered\tdup\t"
	    "anc_seq\tanc_state\titem_id\ttrack_id\tposition_us\tat_us\tbeacons\t"
	    "beacon_age_ms\tevents\tpings\tpongs\trtt_us\n", f);
	for (w = 0; w < p->n; w++) {
		c = &p->conns[w];
		fprintf(f, "%u\t%s\t%s\t%u\t%u\t%u\t%" PRId64 "\t%u\t%d\t%u\t%u\t%" PRId64 "\t%s\t%"
		    PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%u\t%" PRId64 "\t%u\t%u\t%u\t%"
		    PRId64 "\n", c->idx, p->ls.code[c->idx], state_names[c->state], c->opens,
		    c->closes, c->fails, c->last_seq, c->lost, __builtin_popcountll(c->missing),
		    c->reordered, c->dup, c->anc.seq, c->anc.state[0] ? c->anc.state : "-",
		    c->anc.item, c->anc.track, c->anc.pos, c->anc.at, c->beacons,
		    c->beacon_ms > 0 ? now - c->beacon_ms : -1, c->events, c->pings, c->pongs,
		    c->rtt_us);
	}
	if (fclose(f) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s.hist.tsv", prefix);
	if ((f = fopen(path, "w")) == NULL)
		goto fail;
	for (w = 0; w < H_COUNT; w++)
		for (i = 0; i < WL_HIST_N; i++)
			if (p->h[w].n[i] > 0)
				fprintf(f, "%s\t%" PRIu64 "\t%" PRIu64 "\n", hist_names[w],
				    wl_hist_value(i), p->h[w].n[i]);
	if (fclose(f) != 0)
		goto fail;
	printf("D ok\n");
	fflush(stdout);
	return 0;
fail:
	printf("D error %s: %s\n", path, strerror(errno));
	fflush(stdout);
	return -1;
}

static void
proc_quit(struct ml_proc *p)
{
	int i;

	if (p->quitting)
		return;
	p->quitting = 1;
	for (i = 0; i < p->next; i++) {
		struct ml_conn *c = &p->conns[i];

		if (c->state != CS_CLOSING && c->state != CS_WAIT && c->state != CS_IDLE) {
			c->state = CS_CLOSING;
			uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
		}
	}
	uv_close((uv_handle_t *)&p->tick, NULL);
	uv_close((uv_handle_t *)&p->in, NULL);
}

static void
proc_command(struct ml_proc *p, char *line)
{
	if (strcmp(line, "S") == 0)
		proc_counters(p);
	else if (strcmp(line, "R") == 0) {
		/* The upgrade times stay: they are the ramp's. */
		memset(p->h, 0, H_UPGRADE * sizeof(p->h[0]));
		printf("R ok\n");
		fflush(stdout);
	}
	else if (strncmp(line, "D ", 2) == 0)
		proc_dump(p, line + 2);
	else if (strcmp(line, "Q") == 0)
		proc_quit(p);
	else if (line[0] != '\0') {
		printf("? %s\n", line);
		fflush(stdout);
	}
}

static void
proc_in_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct ml_proc *p = h->data;

	(void)suggested;
	buf->base = p->ibuf + p->ilen;
	buf->len = sizeof(p->ibuf) - p->ilen - 1;
}

static void
proc_in_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ml_proc *p = s->data;
	char *line, *nl;

	(void)buf;
	if (nread < 0) {		/* the driver is gone */
		proc_quit(p);
		return;
	}
	p->ilen += (size_t)nread;
	p->ibuf[p->ilen] = '\0';
	for (line = p->ibuf; !p->quitting && (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = '\0';
		proc_command(p, line);
	}
	if (p->quitting)
		return;
	p->ilen -= (size_t)(line - p->ibuf);
	memmove(p->ibuf, line, p->ilen);
	if (p->ilen == sizeof(p->ibuf) - 1)
		p->ilen = 0;		/* a line too long: dropped */
}

/* ---- options ---- */

static void
usage(FILE *f)
{
	fputs(
"usage: mixload -c host:port -f listeners_file [-k first] [-n count]\n"
"               [-s first_ip-last_ip] [-C conc] [-p ping_ms] [-r reconnect_ms]\n"
"  -c  where the WebSocket clients connect (nginx)\n"
"  -f  listeners: one \"CODE TOKEN\" a line; this process holds lines\n"
"      first .. first+count-1 (-k, -n; default: all)\n"
"  -s  bind clients to these source addresses in turn, e.g. 127.0.0.2-127.0.0.9\n"
"  -C  upgrades in flight (default 100)\n"
"  -p  a time-sync ping per connection every ping_ms (default 2000; 0: none)\n"
"  -r  a closed connection connects again after reconnect_ms (default 1000)\n"
"stdin, one command a line: S (counters), R (reset the histograms but upgrade),\n"
"D PREFIX (PREFIX.conns.tsv and PREFIX.hist.tsv), Q (quit).\n"
"stdout: READY secs, S ..., R ok, D ok, E (errors).\n", f);
}

/* Reads lines first .. first+count-1 of path (count < 0: to the end) into
 * p->ls, and allocates the connections. Returns 0 or -1. */
static int
load_listeners(struct ml_proc *p, const char *path, long first, long count)
{
	long ln;

	if (wl_lines_load(&p->ls, path, first, count, 2) != 0) {
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if ((p->n = p->ls.n) == 0) {
		log_err("%s: no listener in lines %ld..", path, first);
		return -1;
	}
	if ((p->conns = calloc((size_t)p->n, sizeof(*p->conns))) == NULL)
		return -1;
	for (ln = 0; ln < p->n; ln++) {
		p->conns[ln].p = p;
		p->conns[ln].idx = (uint32_t)ln;
		p->conns[ln].anc.seq = -1;
	}
	return 0;
}

static int
parse_opts(struct ml_proc *p, int argc, char **argv)
{
	const char *file = NULL;
	long first = 0, count = -1;
	int opt;

	p->conc = 100;
	p->ping_ms = 2000;
	p->reconnect_ms = 1000;
	while ((opt = getopt(argc, argv, "c:f:k:n:s:C:p:r:h")) != -1) {
		switch (opt) {
		case 'c':
			snprintf(p->target, sizeof(p->target), "%s", optarg);
			if (wl_parse_addr(optarg, &p->dst, NULL, 0, NULL) != 0)
				return -1;
			break;
		case 'f': file = optarg; break;
		case 'k': first = atol(optarg); break;
		case 'n': count = atol(optarg); break;
		case 's':
			if (wl_parse_sources(optarg, p->src, &p->nsrc) != 0)
				return -1;
			break;
		case 'C': p->conc = atoi(optarg); break;
		case 'p': p->ping_ms = atoi(optarg); break;
		case 'r': p->reconnect_ms = atoi(optarg); break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc || p->target[0] == '\0' || file == NULL || first < 0 ||
	    p->conc < 1 || p->ping_ms < 0 || p->reconnect_ms < 0)
		return -1;
	return load_listeners(p, file, first, count);
}

int
main(int argc, char **argv)
{
	static struct ml_proc proc;
	struct ml_proc *p = &proc;
	rlim_t nofile;

	log_init("mixload", LOG_INFO);
	if (parse_opts(p, argc, argv) != 0) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((rlim_t)p->n + 64 > (nofile = wl_nofile_raise()))
		log_warn("%d connections, but RLIMIT_NOFILE is %llu: split over more processes",
		    p->n, (unsigned long long)nofile);
	uv_loop_init(&p->loop);
	uv_pipe_init(&p->loop, &p->in, 0);
	if (uv_pipe_open(&p->in, 0) != 0) {
		log_err("stdin is not a pipe");
		return 1;
	}
	p->in.data = p;
	uv_read_start((uv_stream_t *)&p->in, proc_in_alloc, proc_in_read);
	uv_timer_init(&p->loop, &p->tick);
	p->tick.data = p;
	uv_timer_start(&p->tick, proc_tick_cb, ML_TICK_MS, ML_TICK_MS);
	p->t0_ms = (int64_t)uv_now(&p->loop);
	proc_start_more(p);
	uv_run(&p->loop, UV_RUN_DEFAULT);
	uv_loop_close(&p->loop);
	printf("Q ok\n");
	fflush(stdout);
	free(p->conns);
	wl_lines_free(&p->ls);
	return 0;
}
