/*
 * tail.c - tutti tail: the room's events, one a line, as they happen.
 * A WebSocket (wsclient.h) on a libuv loop; after the relay's hello the
 * room is fetched over REST, so its seq is the baseline (docs/protocol.md).
 * Events arriving out of order are waited for a moment; a seq that never
 * comes, or events missed while disconnected, are reported as a gap.
 * Reconnects with a growing pause; SIGINT or SIGTERM ends it (status 0).
 */
#include "cli.h"

#include "cmd.h"
#include "config.h"
#include "http.h"
#include "wsclient.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define TAIL_MISSING_MAX 256		/* seqs waited for at once */
#define TAIL_GAP_MS 1500		/* how long a missing seq is waited for */
#define TAIL_BACKOFF_MIN_MS 500
#define TAIL_BACKOFF_MAX_MS 30000

struct tail {
	struct cli *c;
	struct cmd_room room;
	uv_loop_t *loop;
	struct wsc *ws;
	uv_timer_t retry, gap;
	uv_signal_t sigint, sigterm;
	int64_t seq;			/* the last seq accounted for; -1: none yet */
	int64_t missing[TAIL_MISSING_MAX];
	size_t nmissing;
	int64_t backoff_ms;
	int hello;			/* this connection got its hello */
	int unreachable;		/* said so already in this outage */
	int stopping;
	int all;			/* --all: hello, beacons and pongs too */
	int rc;
	json_t *items;			/* the playlist, for titles */
};

static void tail_connect(struct tail *t);

/* Starts the end: closes the socket (its on_close follows) or the handles. */
static void
tail_stop(struct tail *t, int rc)
{
	if (t->stopping)
		return;
	t->stopping = 1;
	t->rc = rc;
	if (t->ws != NULL)
		wsc_close(t->ws, 1000);
	uv_close((uv_handle_t *)&t->retry, NULL);
	uv_close((uv_handle_t *)&t->gap, NULL);
	uv_close((uv_handle_t *)&t->sigint, NULL);
	uv_close((uv_handle_t *)&t->sigterm, NULL);
}

/* Prints the local time that starts each human line. */
static void
tail_stamp(void)
{
	char buf[32];
	uv_timeval64_t tv;

	uv_gettimeofday(&tv);
	printf("%s ", out_clock(buf, sizeof(buf), (int64_t)tv.tv_sec * 1000000 + tv.tv_usec));
}

/* Prints a gap: seqs from..to were missed. */
static void
tail_gap(struct tail *t, int64_t from, int64_t to)
{
	if (t->c->json)
		out_json(json_pack("{s:s, s:s, s:I, s:I}", "type", "gap", "room", t->room.code,
		    "from", (json_int_t)from, "to", (json_int_t)to));
	else {
		tail_stamp();
		if (from == to)
			printf("-- missed event %lld; the room was fetched again\n", (long long)from);
		else
			printf("-- missed events %lld to %lld; the room was fetched again\n",
			    (long long)from, (long long)to);
	}
	fflush(stdout);
}

static int
tail_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Reports the seqs still awaited as gaps (contiguous ones as one range). */
static void
tail_flush_missing(struct tail *t)
{
	size_t i, j;

	qsort(t->missing, t->nmissing, sizeof(t->missing[0]), tail_cmp);
	for (i = 0; i < t->nmissing; i = j) {
		for (j = i + 1; j < t->nmissing && t->missing[j] == t->missing[j - 1] + 1; j++)
			;
		tail_gap(t, t->missing[i], t->missing[j - 1]);
	}
	t->nmissing = 0;
	uv_timer_stop(&t->gap);
}

/* Fetches the room: its seq (events missed since the last one seen, and
 * those still awaited, are reported as gaps) and playlist. Returns 0, or
 * -1 after stopping (token void, room gone). */
static int
tail_fetch(struct tail *t)
{
	json_t *room = NULL;
	int64_t seq;
	int rc;

	tail_flush_missing(t);
	if ((rc = cmd_api(t->c, &t->room, "GET", NULL, NULL, &room, "%s", "")) != CLI_OK) {
		if (rc == CLI_AUTH || rc == CLI_NOTFOUND) {
			tail_stop(t, rc);
			return -1;
		}
		return 0;	/* the events go on; the next fetch may work */
	}
	seq = cmd_int(room, "seq", 0);
	if (t->seq >= 0 && seq > t->seq)
		tail_gap(t, t->seq + 1, seq);
	if (seq > t->seq)
		t->seq = seq;
	json_decref(t->items);
	t->items = json_incref(json_object_get(room, "playlist"));
	json_decref(room);
	return 0;
}

/* The label of playlist item id: "[N/M] TITLE — ARTIST", into buf. */
static char *
tail_item(struct tail *t, int64_t id, char *buf, size_t n)
{
	char label[600];
	json_t *it;
	size_t i;

	json_array_foreach(t->items, i, it)
		if (cmd_int(it, "id", 0) == id) {
			snprintf(buf, n, "[%zu/%zu] %s", i + 1, json_array_size(t->items),
			    cmd_track_label(label, sizeof(label), json_object_get(it, "track")));
			return buf;
		}
	snprintf(buf, n, "item %lld", (long long)id);
	return buf;
}

/* Prints printf-style text without control characters. */
static void __attribute__((format(printf, 1, 2)))
tail_say(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s != NULL)
		out_clean(stdout, s);
	free(s);
}

static void
tail_human_playback(struct tail *t, json_t *e)
{
	const char *state = cmd_str(e, "state");
	char item[700], pos[32];

	tail_item(t, cmd_int(e, "item_id", 0), item, sizeof(item));
	out_dur(pos, sizeof(pos), cmd_int(e, "position_us", 0));
	if (!json_is_integer(json_object_get(e, "item_id")))
		tail_say("%s (the playlist is empty)", state);
	else if (strcmp(state, "playing") == 0)
		tail_say("playing %s from %s", item, pos);
	else if (strcmp(state, "paused") == 0)
		tail_say("paused %s at %s", item, pos);
	else
		tail_say("%s %s", state, item);
	tail_say(" (%s)", cmd_str(e, "cause"));
}

/* One event as a human line (the stamp is printed already). */
static void
tail_human(struct tail *t, const char *type, json_t *e)
{
	json_t *u = json_object_get(e, "user"), *m, *q, *s;
	char song[600];
	char *raw;

	if (strcmp(type, "playback") == 0 || strcmp(type, "beacon") == 0)
		tail_human_playback(t, e);
	else if (strcmp(type, "chat") == 0) {
		m = json_object_get(e, "message");
		if (strcmp(cmd_str(m, "kind"), "system") == 0)
			tail_say("* %s", cmd_str(m, "text"));
		else
			tail_say("<%s> %s", cmd_str(m, "name"), cmd_str(m, "text"));
	} else if (strcmp(type, "user_joined") == 0)
		tail_say("+ %s joined (id %lld)", cmd_str(u, "name"), (long long)cmd_int(u, "id", 0));
	else if (strcmp(type, "user_left") == 0)
		tail_say("- %s %s", cmd_str(u, "name"),
		    strcmp(cmd_str(e, "reason"), "removed") == 0 ? "was removed" : "left");
	else if (strcmp(type, "role_changed") == 0)
		tail_say("%s is now the admin (%s)", cmd_str(u, "name"), cmd_str(e, "reason"));
	else if (strcmp(type, "presence") == 0)
		tail_say("%s %s listening (%lld listening)", cmd_str(u, "name"),
		    json_is_true(json_object_get(e, "online")) ? "is" : "stopped",
		    (long long)cmd_int(e, "listeners", 0));
	else if (strcmp(type, "playlist") == 0)
		tail_say("playlist changed: %zu items (version %lld)",
		    json_array_size(json_object_get(e, "items")), (long long)cmd_int(e, "version", 0));
	else if (strcmp(type, "request") == 0) {
		q = json_object_get(e, "request");
		if (json_is_object(json_object_get(q, "track")))
			cmd_track_label(song, sizeof(song), json_object_get(q, "track"));
		else
			snprintf(song, sizeof(song), "%s", cmd_str(q, "text"));
		tail_say("request %lld %s: %s asks for %s", (long long)cmd_int(q, "id", 0),
		    cmd_str(e, "change"), cmd_str(json_object_get(q, "user"), "name"), song);
	} else if (strcmp(type, "room_updated") == 0) {
		s = json_object_get(e, "settings");
		tail_say("settings: \"%s\", %s, policy %s, repeat %s, shuffle %s", cmd_str(s, "name"),
		    json_is_true(json_object_get(s, "public")) ? "public" : "private",
		    cmd_str(s, "policy"), cmd_str(s, "repeat"),
		    json_is_true(json_object_get(s, "shuffle")) ? "on" : "off");
	} else if (strcmp(type, "room_closed") == 0)
		tail_say("room closed (%s)", cmd_str(e, "reason"));
	else {
		raw = json_dumps(e, JSON_COMPACT);
		tail_say("%s %s", type, raw != NULL ? raw : "");
		free(raw);
	}
}

/* Prints one event (JSON: the object as it came, on one line). */
static void
tail_print(struct tail *t, const char *type, json_t *e)
{
	if (t->c->json)
		out_json(json_incref(e));
	else {
		tail_stamp();
		tail_human(t, type, e);
		putchar('\n');
	}
	fflush(stdout);
}

/* Whether seq is awaited; if so it is no longer. */
static int
tail_take_missing(struct tail *t, int64_t seq)
{
	size_t i;

	for (i = 0; i < t->nmissing; i++)
		if (t->missing[i] == seq) {
			t->missing[i] = t->missing[--t->nmissing];
			return 1;
		}
	return 0;
}

static void
tail_gap_cb(uv_timer_t *h)
{
	struct tail *t = h->data;

	if (t->nmissing > 0)
		tail_fetch(t);	/* reports what is still missing, and refreshes */
}

/* Accounts for an event's seq. Returns 1 to print it, 0 for one seen
 * already (the snapshot after hello, a repeat). */
static int
tail_seq(struct tail *t, int64_t seq)
{
	int64_t s;

	if (t->seq < 0 || seq == t->seq + 1) {
		t->seq = seq;
		return 1;
	}
	if (seq <= t->seq)
		return tail_take_missing(t, seq);
	for (s = t->seq + 1; s < seq; s++) {
		if (t->nmissing == TAIL_MISSING_MAX) {
			tail_gap(t, s, seq - 1);
			break;
		}
		t->missing[t->nmissing++] = s;
	}
	t->seq = seq;
	if (t->nmissing > 0 && !uv_is_active((uv_handle_t *)&t->gap))
		uv_timer_start(&t->gap, tail_gap_cb, TAIL_GAP_MS, 0);
	return 1;
}

static void
tail_on_open(struct wsc *w, void *arg)
{
	struct tail *t = arg;

	(void)w;
	if (t->c->verbose)
		fprintf(stderr, "tutti: connected to room %s\n", t->room.code);
}

static void
tail_on_text(struct wsc *w, const char *msg, size_t len, void *arg)
{
	struct tail *t = arg;
	const char *type;
	json_t *e;

	(void)w;
	if (t->stopping || (e = json_loadb(msg, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return;
	type = cmd_str(e, "type");
	if (strcmp(type, "hello") == 0) {
		t->hello = 1;
		t->unreachable = 0;
		t->backoff_ms = TAIL_BACKOFF_MIN_MS;
		if (t->all)
			tail_print(t, type, e);
		tail_fetch(t);
	} else if (strcmp(type, "beacon") == 0 || strcmp(type, "pong") == 0) {
		if (t->all)
			tail_print(t, type, e);
	} else if (strcmp(type, "resync") == 0) {
		tail_print(t, type, e);
		tail_fetch(t);
	} else if (!json_is_integer(json_object_get(e, "seq")) ||
	    tail_seq(t, cmd_int(e, "seq", 0))) {
		if (strcmp(type, "playlist") == 0) {
			json_decref(t->items);
			t->items = json_incref(json_object_get(e, "items"));
		}
		tail_print(t, type, e);
		if (strcmp(type, "room_closed") == 0) {
			cfg_token_forget(t->c, t->room.code);
			tail_stop(t, CLI_OK);
		}
	}
	json_decref(e);
}

static void
tail_retry_cb(uv_timer_t *h)
{
	tail_connect(h->data);
}

/* After a connection that failed before its hello: is the token still
 * good? Returns 0 to retry, -1 after stopping. */
static int
tail_check(struct tail *t)
{
	struct http_req q;
	struct http_resp r;
	char path[64];
	int rc = 0;

	memset(&q, 0, sizeof(q));
	snprintf(path, sizeof(path), "/api/rooms/%s/users", t->room.code);
	q.method = "GET";
	q.path = path;
	q.token = t->room.token;
	q.fd = -1;
	q.timeout_s = 10;
	if (http_do(t->c, &q, &r) != 0) {
		if (!t->unreachable)
			fprintf(stderr, "tutti: cannot reach %s: %s; retrying\n", t->c->server, r.error);
		t->unreachable = 1;
	} else if (r.status == 401 || r.status == 404) {
		http_report(t->c, &r, path);
		cfg_token_forget(t->c, t->room.code);
		if (r.status == 404)
			fprintf(stderr, "tutti: room %s is closed; its token is forgotten\n",
			    t->room.code);
		else
			fprintf(stderr, "tutti: the token remembered for room %s is void; "
			    "forgotten. Join again: tutti join %s\n", t->room.code, t->room.code);
		tail_stop(t, http_exit_code(r.status));
		rc = -1;
	}
	http_resp_free(&r);
	return rc;
}

static void
tail_on_close(struct wsc *w, int code, const char *reason, void *arg)
{
	struct tail *t = arg;
	int64_t wait;

	(void)w;
	t->ws = NULL;
	if (t->stopping)
		return;
	if (!t->hello && tail_check(t) != 0)
		return;
	if (t->hello && !t->c->json)
		fprintf(stderr, "tutti: connection lost (%d%s%s); reconnecting\n", code,
		    *reason ? ": " : "", reason);
	wait = t->backoff_ms + (int64_t)(rand() % (int)(t->backoff_ms / 4 + 1));
	t->backoff_ms = t->backoff_ms * 2 > TAIL_BACKOFF_MAX_MS ? TAIL_BACKOFF_MAX_MS :
	    t->backoff_ms * 2;
	uv_timer_start(&t->retry, tail_retry_cb, (uint64_t)wait, 0);
}

static void
tail_connect(struct tail *t)
{
	static const struct wsc_hooks hooks = { tail_on_open, tail_on_text, tail_on_close };
	char *tok = http_escape(t->room.token), *path = NULL;

	t->hello = 0;
	if (tok == NULL || asprintf(&path, "/ws?room=%s&token=%s", t->room.code, tok) < 0)
		path = NULL;
	if (path == NULL || (t->ws = wsc_open(t->loop, t->c->server, path, &hooks, t)) == NULL) {
		fprintf(stderr, "tutti: cannot open a WebSocket to %s\n", t->c->server);
		tail_stop(t, CLI_FAIL);
	}
	free(tok);
	free(path);
}

static void
tail_signal_cb(uv_signal_t *h, int sig)
{
	(void)sig;
	tail_stop(h->data, CLI_OK);
}

static const struct cli_help tail_help = { "tail", "[--all]",
"     Prints the room's events as they happen, one a line, until SIGINT or\n"
"     SIGTERM (exit status 0) or the room closes: chat, joins and leaves,\n"
"     playback, the playlist, requests, settings, presence. Lost connections\n"
"     are reopened with growing pauses; events missed meanwhile, or that\n"
"     never arrived, are reported as a gap. tail counts as listening in the\n"
"     room's presence.\n"
"\n"
"     -a, --all  also the relay's hello, the beacons and pongs.\n"
"\n"
"     --json: each event as it came, one JSON object a line (NDJSON); a gap\n"
"     is {\"type\":\"gap\", \"room\", \"from\", \"to\"} (seqs missed).\n" };

int
cmd_tail(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct tail t;
	uv_loop_t loop;
	int opt, rc;

	memset(&t, 0, sizeof(t));
	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "ah", lo, NULL)) != -1) {
		switch (opt) {
		case 'a': t.all = 1; break;
		case 'h': return out_help(&tail_help);
		default: return out_badopt(&tail_help, argv, opt);
		}
	}
	if (optind != argc)
		return out_usage(&tail_help, "unexpected argument %s", argv[optind]);
	if (strncmp(c->server, "https:", 6) == 0) {
		fprintf(stderr, "tutti: tail speaks ws:// only; use an http:// server address\n");
		return CLI_USAGE;
	}
	if ((rc = cmd_room(c, &t.room)) != CLI_OK) {
		cmd_room_free(&t.room);
		return rc;
	}
	if (uv_loop_init(&loop) != 0) {
		cmd_room_free(&t.room);
		return CLI_FAIL;
	}
	t.c = c;
	t.loop = &loop;
	t.seq = -1;
	t.backoff_ms = TAIL_BACKOFF_MIN_MS;
	uv_timer_init(&loop, &t.retry);
	uv_timer_init(&loop, &t.gap);
	uv_signal_init(&loop, &t.sigint);
	uv_signal_init(&loop, &t.sigterm);
	t.retry.data = t.gap.data = t.sigint.data = t.sigterm.data = &t;
	uv_signal_start(&t.sigint, tail_signal_cb, SIGINT);
	uv_signal_start(&t.sigterm, tail_signal_cb, SIGTERM);
	srand((unsigned)uv_hrtime());
	tail_connect(&t);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	json_decref(t.items);
	cmd_room_free(&t.room);
	return t.rc;
}
