/*
 * worker_bench.c - the measurer of the worker benchmark (issue 5,
 * "Benchmark"; driven by bench/worker_bench.sh, not part of make test).
 * A sender thread starts every room playing, then XADDs control commands to
 * tutti:cmd at a fixed rate (synchronous hiredis, stamped right before each
 * XADD); the main thread PSUBSCRIBEs tutti:ev:* on a libuv loop and stamps
 * every event it receives. At the end it prints beacon due-time lateness,
 * auto-advance lateness, command latency and the worker's CPU and RSS.
 * Due times are defined in docs/benchmarks.md (the worker section).
 */
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>
#include <jansson.h>
#include <uv.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define WB_ALPHA     "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#define WB_CODE_BASE (31 * 31 * 31 * 31)	/* room i has the code of i + 31^4 */
#define WB_LOST_US   2000000		/* a command unanswered this long is lost */

enum wb_state { WB_STOPPED, WB_PLAYING, WB_PAUSED };

struct wb_opts {
	const char *redis;	/* unix socket path or HOST:PORT */
	int rooms;
	int rate;		/* commands per second in the window */
	int start_rate;		/* plays per second at start */
	int warm_s, dur_s;
	int beacon_ms, lead_ms;
	int burst_us;		/* gap that separates two timer bursts */
	int pause_pct;		/* share of commands that pause a playing room */
	long worker_pid, redis_pid;
};

/* One room; the atomics are shared by both threads, the rest is the
 * subscriber's. */
struct wb_room {
	_Atomic int64_t sent_us;	/* stamp of the command in flight, 0: none */
	_Atomic int state;		/* enum wb_state, from the events */
	int epoch;			/* bumped when the room stops playing */
	int64_t last_ev;		/* receipt of its last playback event */
};

struct wb_beacon {
	int64_t now_us, recv_us;
	int32_t room, epoch;
};

struct wb_vec {
	void *v;
	size_t n, cap, size;
};

struct wb_proc {
	double cpu_s;
	long rss_kb, hwm_kb;
};

struct wb {
	struct wb_opts o;
	struct wb_room *room;
	uv_loop_t *loop;
	redisAsyncContext *sub;
	uv_timer_t tick;
	_Atomic int64_t win_start, win_end;	/* the measured window (realtime µs) */
	_Atomic int stop;
	struct wb_vec beacons;		/* struct wb_beacon, from warm-up on */
	struct wb_vec adv, adv_seek;	/* int64_t lateness µs */
	struct wb_vec cmd;		/* int64_t latency µs */
	struct wb_vec hop;		/* beacon recv - now_us */
	_Atomic long sent, skipped, lost, xadd_err;
	long events, bad;
	struct wb_proc w0, w1, r0, r1;
	double self0, self1;
	int64_t win_real;		/* µs between the two /proc readings */
	int got0, got1;			/* the readings are taken */
};

static int64_t
wb_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
wb_push(struct wb_vec *v, const void *x)
{
	void *p;

	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 4096;
		if ((p = realloc(v->v, v->cap * v->size)) == NULL) {
			fprintf(stderr, "worker_bench: out of memory\n");
			exit(1);
		}
		v->v = p;
	}
	memcpy((char *)v->v + v->n++ * v->size, x, v->size);
	return 0;
}

static void
wb_push_i64(struct wb_vec *v, int64_t x)
{
	wb_push(v, &x);
}

/* Returns the index of a room code, or -1. */
static int
wb_code_index(const char *code, int rooms)
{
	const char *p;
	long n = 0;

	if (code == NULL || strlen(code) != 5)
		return -1;
	for (; *code; code++) {
		if ((p = strchr(WB_ALPHA, *code)) == NULL)
			return -1;
		n = n * 31 + (p - WB_ALPHA);
	}
	n -= WB_CODE_BASE;
	return n >= 0 && n < rooms ? (int)n : -1;
}

static void
wb_code(int i, char *out)
{
	long n = i + WB_CODE_BASE;
	int k;

	for (k = 4; k >= 0; k--) {
		out[k] = WB_ALPHA[n % 31];
		n /= 31;
	}
	out[5] = '\0';
}

/* Reads utime+stime and the RSS of pid from /proc. Returns 0 or -1. */
static int
wb_proc_read(long pid, struct wb_proc *p)
{
	char path[64], buf[2048], *s;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (pid <= 0 || (f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((s = strrchr(buf, ')')) == NULL ||
	    sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	p->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		sscanf(buf, "VmRSS: %ld", &p->rss_kb);
		sscanf(buf, "VmHWM: %ld", &p->hwm_kb);
	}
	fclose(f);
	return 0;
}

static double
wb_self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ---- the sender thread ---- */

static int
wb_in_window(const struct wb *b, int64_t t)
{
	return t >= atomic_load(&b->win_start) && t < atomic_load(&b->win_end);
}

/* Connects a synchronous context to o->redis. Returns it or NULL. */
static redisContext *
wb_connect(const char *addr)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	redisContext *c;

	if (strchr(addr, '/') != NULL || colon == NULL)
		c = redisConnectUnix(addr);
	else {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
		c = redisConnect(host, atoi(colon + 1));
	}
	if (c == NULL || c->err) {
		fprintf(stderr, "worker_bench: Redis %s: %s\n", addr, c ? c->errstr : "no memory");
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	return c;
}

/* XADDs one command for room i, stamping it first. Returns 0 or -1. */
static int
wb_xadd(struct wb *b, redisContext *c, int i, const char *action, int64_t offset_us)
{
	char code[8], req[32], off[32];
	redisReply *r;
	static _Atomic long reqn;

	wb_code(i, code);
	snprintf(req, sizeof(req), "wb%ld", atomic_fetch_add(&reqn, 1));
	atomic_store(&b->room[i].sent_us, wb_now_us());
	if (offset_us != 0) {
		snprintf(off, sizeof(off), "%" PRId64, offset_us);
		r = redisCommand(c, "XADD tutti:cmd MAXLEN ~ 100000 * req %s room %s user 1 "
		    "action %s offset_us %s", req, code, action, off);
	} else
		r = redisCommand(c, "XADD tutti:cmd MAXLEN ~ 100000 * req %s room %s user 1 "
		    "action %s", req, code, action);
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		atomic_fetch_add(&b->xadd_err, 1);
		atomic_store(&b->room[i].sent_us, 0);
		if (r == NULL)
			return -1;
	}
	freeReplyObject(r);
	return 0;
}

/* Sleeps until the absolute monotonic time *next, then moves it by step_ns. */
static void
wb_pace(struct timespec *next, long step_ns)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL) == EINTR)
		;
	next->tv_nsec += step_ns;
	while (next->tv_nsec >= 1000000000L) {
		next->tv_nsec -= 1000000000L;
		next->tv_sec++;
	}
}

/* Picks the next room without a command in flight (a command unanswered for
 * WB_LOST_US is counted lost). Returns its index, or -1 when all are busy. */
static int
wb_pick(struct wb *b, int *cursor)
{
	int64_t now = wb_now_us(), sent;
	int k, i;

	for (k = 0; k < b->o.rooms; k++) {
		i = *cursor;
		*cursor = (*cursor + 1) % b->o.rooms;
		sent = atomic_load(&b->room[i].sent_us);
		if (sent == 0)
			return i;
		if (now - sent > WB_LOST_US && atomic_compare_exchange_strong(
		    &b->room[i].sent_us, &sent, 0)) {
			atomic_fetch_add(&b->lost, 1);
			return i;
		}
		atomic_fetch_add(&b->skipped, 1);
	}
	return -1;
}

/* One command for a room, chosen from its state: a relative seek (mostly
 * backwards, so items still end on their own) or a pause while playing, a
 * resume while paused, a play while stopped. */
static int
wb_command(struct wb *b, redisContext *c, int i, unsigned *seed)
{
	int st = atomic_load(&b->room[i].state);
	int64_t off;

	if (st == WB_PAUSED)
		return wb_xadd(b, c, i, "resume", 0);
	if (st == WB_STOPPED)
		return wb_xadd(b, c, i, "play", 0);
	if ((int)(rand_r(seed) % 100) < b->o.pause_pct)
		return wb_xadd(b, c, i, "pause", 0);
	off = -1500000 + (int64_t)(rand_r(seed) % 2000) * 1000;
	return wb_xadd(b, c, i, "seek", off == 0 ? 1000 : off);
}

static void *
wb_sender(void *arg)
{
	struct wb *b = arg;
	struct timespec next;
	redisContext *c = wb_connect(b->o.redis);
	unsigned seed = 12345;
	int64_t t;
	int i, cursor = 0;

	if (c == NULL) {
		atomic_store(&b->stop, 1);
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (i = 0; i < b->o.rooms && !atomic_load(&b->stop); i++) {
		wb_pace(&next, 1000000000L / b->o.start_rate);
		if (wb_xadd(b, c, i, "play", 0) != 0)
			goto out;
	}
	while (!atomic_load(&b->stop)) {
		wb_pace(&next, 1000000000L / b->o.rate);
		if ((i = wb_pick(b, &cursor)) < 0)
			continue;
		t = wb_now_us();
		if (wb_command(b, c, i, &seed) != 0)
			break;
		if (wb_in_window(b, t))
			atomic_fetch_add(&b->sent, 1);
	}
out:
	redisFree(c);
	return NULL;
}

/* ---- the subscriber (loop thread) ---- */

static int64_t
wb_int(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *
wb_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* A playback event: the command it answers, its auto-advance lateness, and
 * the room's state. */
static void
wb_on_playback(struct wb *b, int i, json_t *ev, int64_t recv)
{
	struct wb_room *r = &b->room[i];
	const char *cause = wb_str(ev, "cause"), *state = wb_str(ev, "state");
	int64_t sent, due;
	int st = strcmp(state, "playing") == 0 ? WB_PLAYING :
	    strcmp(state, "paused") == 0 ? WB_PAUSED : WB_STOPPED;

	if (strcmp(cause, "advance") == 0) {
		/* the worker fires lead_ms before the next item starts, or at the
		 * end itself when the playlist is over (worker/sched.c) */
		due = wb_int(ev, "at_us") - (st == WB_PLAYING ? (int64_t)b->o.lead_ms * 1000 : 0);
		if (wb_in_window(b, recv))	/* due already passed: a seek's doing */
			wb_push_i64(due <= r->last_ev ? &b->adv_seek : &b->adv, recv - due);
	} else if ((sent = atomic_exchange(&r->sent_us, 0)) != 0 && wb_in_window(b, sent))
		wb_push_i64(&b->cmd, recv - sent);
	if (st != WB_PLAYING)
		r->epoch++;
	r->last_ev = recv;
	atomic_store(&r->state, st);
}

static void
wb_on_event(struct wb *b, const char *s, size_t len, int64_t recv)
{
	json_error_t err;
	json_t *ev = json_loadb(s, len, 0, &err);
	struct wb_beacon bc;
	const char *type;
	int i;

	b->events++;
	if (ev == NULL || (i = wb_code_index(wb_str(ev, "room"), b->o.rooms)) < 0) {
		b->bad++;
		json_decref(ev);
		return;
	}
	type = wb_str(ev, "type");
	if (strcmp(type, "beacon") == 0) {
		bc = (struct wb_beacon){ wb_int(ev, "now_us"), recv, i, b->room[i].epoch };
		if (recv >= atomic_load(&b->win_start) - 3000000 && recv < atomic_load(&b->win_end))
			wb_push(&b->beacons, &bc);
	} else if (strcmp(type, "playback") == 0)
		wb_on_playback(b, i, ev, recv);
	json_decref(ev);
}

/* hiredis callback of PSUBSCRIBE; reply owned by hiredis, privdata the bench. */
static void
wb_on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
	int64_t recv = wb_now_us();
	redisReply *r = reply;

	(void)ac;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
	    strcmp(r->element[0]->str, "pmessage") != 0)
		return;
	wb_on_event(privdata, r->element[3]->str, r->element[3]->len, recv);
}

/* libuv timer, every 100 ms: takes the /proc readings at the window's ends. */
static void
wb_on_tick(uv_timer_t *t)
{
	struct wb *b = t->data;
	int64_t now = wb_now_us();

	if (!b->got0 && now >= atomic_load(&b->win_start)) {
		b->got0 = 1;
		wb_proc_read(b->o.worker_pid, &b->w0);
		wb_proc_read(b->o.redis_pid, &b->r0);
		b->self0 = wb_self_cpu();
		atomic_store(&b->win_start, now);
		atomic_store(&b->win_end, now + (int64_t)b->o.dur_s * 1000000);
	}
	if (b->got0 && !b->got1 && now >= atomic_load(&b->win_end)) {
		b->got1 = 1;
		wb_proc_read(b->o.worker_pid, &b->w1);
		wb_proc_read(b->o.redis_pid, &b->r1);
		b->self1 = wb_self_cpu();
		b->win_real = now - atomic_load(&b->win_start);
	}
	if (b->got1 && now >= atomic_load(&b->win_end) + 500000) {
		atomic_store(&b->stop, 1);
		uv_timer_stop(t);
		redisAsyncDisconnect(b->sub);
	}
	if (atomic_load(&b->stop) && uv_is_active((uv_handle_t *)t)) {
		uv_timer_stop(t);	/* the sender gave up */
		redisAsyncDisconnect(b->sub);
	}
}

/* ---- the figures ---- */

static int
wb_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double
wb_pct(const int64_t *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return (double)v[k] / 1000.0;
}

/* Prints one line of percentiles (ms) of the n samples at v (sorted here). */
static void
wb_line(const char *name, int64_t *v, size_t n, double goal_ms)
{
	size_t over = 0, k;

	qsort(v, n, sizeof(*v), wb_cmp_i64);
	for (k = 0; k < n; k++)
		if (goal_ms > 0 && (double)v[k] / 1000.0 > goal_ms)
			over++;
	printf("%-34s %7zu %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f", name, n,
	    wb_pct(v, n, 0), wb_pct(v, n, 50), wb_pct(v, n, 99), wb_pct(v, n, 99.9),
	    n ? (double)v[n - 1] / 1000.0 : 0, n ? 100.0 * (double)over / (double)n : 0);
	if (goal_ms > 0)
		printf("   p99 %s %.0f ms", wb_pct(v, n, 99) <= goal_ms ? "<=" : "> ", goal_ms);
	printf("\n");
}

static int
wb_cmp_now(const void *a, const void *b)
{
	const struct wb_beacon *x = a, *y = b;

	return x->now_us < y->now_us ? -1 : x->now_us > y->now_us;
}

static int
wb_cmp_room(const void *a, const void *b)
{
	const struct wb_beacon *x = a, *y = b;

	if (x->room != y->room)
		return x->room < y->room ? -1 : 1;
	return x->now_us < y->now_us ? -1 : x->now_us > y->now_us;
}

/* Beacon figures. Sorted by now_us first, each beacon learns the start of
 * its timer burst (the first now_us of a run of beacons less than burst_us
 * apart: one libuv timer phase), kept in recv_us's place as burst; then per
 * room the lateness of each beacon against the previous one's burst start
 * plus the period (libuv re-arms a repeating timer from the loop time). */
static void
wb_beacons(struct wb *b)
{
	struct wb_beacon *v = b->beacons.v;
	size_t n = b->beacons.n, k, nb = 0, maxb = 0, run = 0;
	int64_t start = 0, P = (int64_t)b->o.beacon_ms * 1000;
	struct wb_vec late = { .size = 8 }, cad = { .size = 8 }, wcad = { .size = 8 };
	struct wb_vec inb = { .size = 8 };
	struct { struct wb_beacon bc; int64_t burst; } *x = calloc(n ? n : 1, sizeof(*x));

	qsort(v, n, sizeof(*v), wb_cmp_now);
	for (k = 0; k < n; k++) {
		if (k == 0 || v[k].now_us - v[k - 1].now_us >= b->o.burst_us) {
			start = v[k].now_us;
			nb++;
			run = 0;
		}
		if (++run > maxb)
			maxb = run;
		x[k].bc = v[k];
		x[k].burst = start;
		if (wb_in_window(b, v[k].recv_us))
			wb_push_i64(&inb, v[k].now_us - start);
	}
	qsort(x, n, sizeof(*x), wb_cmp_room);
	for (k = 1; k < n; k++) {
		if (x[k].bc.room != x[k - 1].bc.room || x[k].bc.epoch != x[k - 1].bc.epoch ||
		    !wb_in_window(b, x[k].bc.recv_us))
			continue;
		wb_push_i64(&late, x[k].bc.recv_us - (x[k - 1].burst + P));
		wb_push_i64(&cad, x[k].bc.recv_us - x[k - 1].bc.recv_us - P);
		wb_push_i64(&wcad, x[k].bc.now_us - x[k - 1].bc.now_us - P);
		wb_push_i64(&b->hop, x[k].bc.recv_us - x[k].bc.now_us);
	}
	wb_line("beacon: recv - (burst(k-1) + P)", late.v, late.n, 2);
	wb_line("beacon: recv(k) - recv(k-1) - P", cad.v, cad.n, 0);
	wb_line("beacon: now_us(k) - now_us(k-1) - P", wcad.v, wcad.n, 0);
	wb_line("beacon: now_us - burst start", inb.v, inb.n, 0);
	wb_line("beacon: recv - now_us (hop)", b->hop.v, b->hop.n, 0);
	printf("beacon bursts (gap >= %d us): %zu, largest %zu beacons\n", b->o.burst_us,
	    nb, maxb);
	free(late.v);
	free(cad.v);
	free(wcad.v);
	free(inb.v);
	free(x);
}

static void
wb_report(struct wb *b)
{
	double win = (double)b->win_real / 1e6;

	printf("window %.1f s, %d rooms, beacon %d ms, lead %d ms, %d commands/s asked: "
	    "%ld sent (%.0f/s), %ld lost, %ld XADD errors, %ld busy-room skips; "
	    "%ld events (%ld unparsed)\n", win, b->o.rooms, b->o.beacon_ms, b->o.lead_ms,
	    b->o.rate, atomic_load(&b->sent), (double)atomic_load(&b->sent) / win,
	    atomic_load(&b->lost), atomic_load(&b->xadd_err), atomic_load(&b->skipped),
	    b->events, b->bad);
	printf("%-34s %7s %8s %8s %8s %8s %8s %8s\n", "lateness / latency (ms)", "n", "min",
	    "p50", "p99", "p99.9", "max", "%>goal");
	wb_beacons(b);
	wb_line("advance: recv - (at_us - lead)", b->adv.v, b->adv.n, 2);
	wb_line("advance right after a seek past end", b->adv_seek.v, b->adv_seek.n, 0);
	wb_line("command: XADD -> playback event", b->cmd.v, b->cmd.n, 5);
	printf("worker pid %ld: CPU %.2f s in %.1f s = %.1f %% of one core; RSS %ld kB "
	    "(peak %ld kB)\n", b->o.worker_pid, b->w1.cpu_s - b->w0.cpu_s, win,
	    100.0 * (b->w1.cpu_s - b->w0.cpu_s) / win, b->w1.rss_kb, b->w1.hwm_kb);
	printf("redis pid %ld: CPU %.1f %% of one core; measurer: CPU %.1f %% of one core\n",
	    b->o.redis_pid, 100.0 * (b->r1.cpu_s - b->r0.cpu_s) / win,
	    100.0 * (b->self1 - b->self0) / win);
}

/* ---- start-up ---- */

static void
wb_usage(void)
{
	fprintf(stderr, "usage: worker_bench -R redis -p worker_pid [-q redis_pid] "
	    "[-n rooms] [-r rate] [-s start_rate] [-w warm_s] [-d dur_s] [-b beacon_ms] "
	    "[-L lead_ms] [-g burst_gap_us] [-P pause_pct]\n");
	exit(2);
}

static void
wb_options(int argc, char **argv, struct wb_opts *o)
{
	int c;

	*o = (struct wb_opts){ NULL, 1000, 1000, 500, 10, 60, 1000, 250, 300, 2, 0, 0 };
	while ((c = getopt(argc, argv, "R:p:q:n:r:s:w:d:b:L:g:P:")) != -1) {
		switch (c) {
		case 'R': o->redis = optarg; break;
		case 'p': o->worker_pid = atol(optarg); break;
		case 'q': o->redis_pid = atol(optarg); break;
		case 'n': o->rooms = atoi(optarg); break;
		case 'r': o->rate = atoi(optarg); break;
		case 's': o->start_rate = atoi(optarg); break;
		case 'w': o->warm_s = atoi(optarg); break;
		case 'd': o->dur_s = atoi(optarg); break;
		case 'b': o->beacon_ms = atoi(optarg); break;
		case 'L': o->lead_ms = atoi(optarg); break;
		case 'g': o->burst_us = atoi(optarg); break;
		case 'P': o->pause_pct = atoi(optarg); break;
		default: wb_usage();
		}
	}
	if (o->redis == NULL || o->worker_pid <= 0 || o->rooms < 1 || o->rate < 1 ||
	    o->start_rate < 1 || o->dur_s < 1 || o->warm_s < 0 || o->beacon_ms < 1)
		wb_usage();
}

/* Connects the subscriber on the loop. Returns 0 or -1. */
static int
wb_subscribe(struct wb *b)
{
	const char *colon = strrchr(b->o.redis, ':');
	char host[256];

	if (strchr(b->o.redis, '/') != NULL || colon == NULL)
		b->sub = redisAsyncConnectUnix(b->o.redis);
	else {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - b->o.redis), b->o.redis);
		b->sub = redisAsyncConnect(host, atoi(colon + 1));
	}
	if (b->sub == NULL || b->sub->err || redisLibuvAttach(b->sub, b->loop) != REDIS_OK) {
		fprintf(stderr, "worker_bench: cannot connect the subscriber\n");
		return -1;
	}
	return redisAsyncCommand(b->sub, wb_on_message, b, "PSUBSCRIBE tutti:ev:*") ==
	    REDIS_OK ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static struct wb b;
	pthread_t th;
	int64_t t0;

	wb_options(argc, argv, &b.o);
	b.beacons.size = sizeof(struct wb_beacon);
	b.adv.size = b.adv_seek.size = b.cmd.size = b.hop.size = sizeof(int64_t);
	if ((b.room = calloc((size_t)b.o.rooms, sizeof(*b.room))) == NULL)
		return 1;
	b.loop = uv_default_loop();
	if (wb_subscribe(&b) != 0)
		return 1;
	t0 = wb_now_us() + 300000;	/* the subscription is in place by then */
	atomic_store(&b.win_start, t0 + (int64_t)b.o.rooms * 1000000 / b.o.start_rate +
	    (int64_t)b.o.warm_s * 1000000);
	atomic_store(&b.win_end, INT64_MAX);
	uv_timer_init(b.loop, &b.tick);
	b.tick.data = &b;
	uv_timer_start(&b.tick, wb_on_tick, 100, 100);
	usleep(300000);
	if (pthread_create(&th, NULL, wb_sender, &b) != 0)
		return 1;
	uv_run(b.loop, UV_RUN_DEFAULT);
	atomic_store(&b.stop, 1);
	pthread_join(th, NULL);
	if (b.w0.cpu_s == 0) {
		fprintf(stderr, "worker_bench: stopped before the window\n");
		return 1;
	}
	wb_proc_read(b.o.worker_pid, &b.w1);
	wb_proc_read(b.o.redis_pid, &b.r1);
	b.self1 = wb_self_cpu();
	wb_report(&b);
	return 0;
}
