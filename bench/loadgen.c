/*
 * loadgen.c - the load generator of the relay benchmark (issue 4,
 * "Benchmarks"; driven by bench/relay_bench.sh, not part of make test).
 * Holds N WebSocket connections to tutti-relay (straight or through nginx)
 * or to nchan, spread over M rooms and over several source addresses,
 * publishes timestamped events at a fixed rate (Redis PUBLISH for tutti,
 * HTTP POST for nchan) and reports connections held, the servers' RSS and
 * CPU, publish-to-delivery latency percentiles and deliveries per second.
 *
 * One parent process publishes and measures; -j child processes hold the
 * connections (one libuv loop each; a process is bound by RLIMIT_NOFILE) and
 * answer the parent's commands on a socketpair: R resets their statistics,
 * D dumps them (text lines, merged by the parent), Q quits.
 */
#include "clock.h"
#include "log.h"
#include "ws.h"
#include "wsload.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>
#include <uv.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define LG_PID_MAX    16
#define LG_PROC_MAX   16
#define LG_HTTP_CONNS 4		/* keep-alive connections of the HTTP publisher */
#define LG_PUB_MAXQ   20000	/* unanswered publishes before the publisher waits */

/* The latency histogram: wsload.h's buckets, with their total. */
struct lg_hist {
	uint64_t n[WL_HIST_N];
	uint64_t count, sum, max;
};

struct lg_pid {
	char name[32];
	pid_t pid;
	long rss_base, rss_held, rss_idle;	/* kB */
	double cpu0, cpu1;			/* seconds */
};

struct lg_opts {
	char target[64];		/* host:port, also the Host field */
	struct sockaddr_in dst;
	struct sockaddr_in src[WL_SRC_MAX];
	int nsrc;
	int nconns, procs, conc;
	struct wl_lines rooms;		/* codes and tokens; connection i joins i mod n */
	const char *tmpl;
	int pub_kind;			/* PUB_NONE, PUB_REDIS, PUB_HTTP */
	struct sockaddr_in pub_addr;
	char pub_host[64];
	int pub_port;
	double rate, warm, dur, idle, ctimeout;
	struct lg_pid pids[LG_PID_MAX];
	int npids;
};

enum { PUB_NONE, PUB_REDIS, PUB_HTTP };

/* ---- small helpers ---- */

static void
hist_add(struct lg_hist *h, int64_t v)
{
	uint64_t u = v < 0 ? 0 : (uint64_t)v;

	h->n[wl_hist_index(u)]++;
	h->count++;
	h->sum += u;
	if (u > h->max)
		h->max = u;
}

/* The q quantile (0..1) in µs; 0 for an empty histogram. */
static double
hist_quantile(const struct lg_hist *h, double q)
{
	uint64_t want, seen = 0;
	unsigned i;

	if (h->count == 0)
		return 0;
	want = (uint64_t)(q * (double)h->count);
	if (want >= h->count)
		want = h->count - 1;
	for (i = 0; i < WL_HIST_N; i++) {
		seen += h->n[i];
		if (seen > want)
			return (double)wl_hist_value(i);
	}
	return (double)h->max;
}

/* Parses the decimal digits after "name": in p (n bytes). Returns 0 and *v,
 * or -1 when the field is missing. */
static int
json_field_u64(const uint8_t *p, size_t n, const char *name, uint64_t *v)
{
	size_t nl = strlen(name);
	const uint8_t *f = memmem(p, n, name, nl), *end = p + n;

	if (f == NULL)
		return -1;
	f += nl;
	if (f >= end || *f < '0' || *f > '9')
		return -1;
	for (*v = 0; f < end && *f >= '0' && *f <= '9'; f++)
		*v = *v * 10 + (uint64_t)(*f - '0');
	return 0;
}

static long
proc_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* utime + stime of pid in seconds, or -1. */
static double
proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ==== the subscriber processes ==== */

enum { CS_IDLE, CS_CONNECTING, CS_HANDSHAKE, CS_OPEN, CS_CLOSED };

struct lg_child;

struct lg_conn {
	uv_tcp_t tcp;
	uv_connect_t creq;
	struct lg_child *ch;
	struct wl_keep keep;		/* unparsed bytes of the last read */
	uint32_t gid;			/* the connection's global number */
	uint32_t last_seq;		/* the highest seq seen */
	uint8_t state;
	char accept[WS_ACCEPT_LEN + 1];	/* the Sec-WebSocket-Accept expected */
};

struct lg_child {
	uv_loop_t loop;
	const struct lg_opts *o;
	int k;				/* this child's number */
	struct lg_conn *conns;
	int n, next, inflight, held, failed, closed, ready_sent;
	uint64_t recv, lost, other, reordered;
	struct lg_hist h;
	uv_pipe_t ctl;
	uv_timer_t ramp;
	double t_start;
	char cbuf[64];
	size_t clen;
	char err[160];
	uint8_t rdbuf[65536];
};

static void child_start_more(struct lg_child *ch);

static void
child_note_err(struct lg_child *ch, const char *fmt, const char *detail)
{
	if (ch->err[0] == '\0')
		snprintf(ch->err, sizeof(ch->err), fmt, detail);
}

static void
conn_closed_cb(uv_handle_t *h)
{
	struct lg_conn *c = h->data;

	wl_keep_free(&c->keep);
}

/* Ends c: a connection that never opened counts as failed. */
static void
conn_end(struct lg_conn *c)
{
	struct lg_child *ch = c->ch;

	if (c->state == CS_CLOSED)
		return;
	if (c->state == CS_OPEN) {
		ch->held--;
		ch->closed++;
	} else {
		ch->inflight--;
		ch->failed++;
	}
	c->state = CS_CLOSED;
	uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
	child_start_more(ch);
}

/* A masked client frame of opcode op around the n bytes at pl (n <= 125). */
static void
conn_send_masked(struct lg_conn *c, unsigned op, const uint8_t *pl, size_t n)
{
	if (wl_send_masked((uv_stream_t *)&c->tcp, op, pl, n) != 0)
		conn_end(c);
}

static void
conn_text(struct lg_conn *c, const uint8_t *p, size_t n, int64_t now)
{
	struct lg_child *ch = c->ch;
	uint64_t seq, t;

	if (memmem(p, n, "\"bench\"", 7) == NULL || json_field_u64(p, n, "\"seq\":", &seq) != 0 ||
	    json_field_u64(p, n, "\"t_us\":", &t) != 0) {
		ch->other++;
		return;
	}
	ch->recv++;
	hist_add(&ch->h, now - (int64_t)t);
	/* A gap counts as lost until a late message fills it. */
	if (c->last_seq == 0 || seq > (uint64_t)c->last_seq) {
		if (c->last_seq != 0)
			ch->lost += seq - c->last_seq - 1;
		c->last_seq = (uint32_t)seq;
	} else if (seq < (uint64_t)c->last_seq) {
		ch->reordered++;
		if (ch->lost > 0)
			ch->lost--;
	}
}

/* Handles the complete server frames at p; returns the bytes consumed, or
 * (size_t)-1 when c was ended. */
static size_t
conn_frames(struct lg_conn *c, const uint8_t *p, size_t n, int64_t now)
{
	struct wl_frame f;
	const uint8_t *pl;
	size_t off = 0;
	int r;

	while ((r = wl_frame_next(p + off, n - off, 0, &f)) == 1) {
		pl = p + off + f.head;
		if (f.op == WS_OP_TEXT)
			conn_text(c, pl, (size_t)f.len, now);
		else if (f.op == WS_OP_PING)
			conn_send_masked(c, WS_OP_PONG, pl, (size_t)f.len);
		else if (f.op == WS_OP_CLOSE) {
			child_note_err(c->ch, "%s", "the server sent a close frame");
			conn_send_masked(c, WS_OP_CLOSE, pl, f.len >= 2 ? 2 : 0);
			conn_end(c);
			return (size_t)-1;
		}
		if (c->state == CS_CLOSED)
			return (size_t)-1;
		off += f.head + (size_t)f.len;
	}
	if (r < 0) {
		child_note_err(c->ch, "%s", "a masked frame from the server");
		conn_end(c);
		return (size_t)-1;
	}
	return off;
}

/* The response to the upgrade request; returns the bytes consumed, 0 when
 * incomplete, (size_t)-1 when c was ended. */
static size_t
conn_response(struct lg_conn *c, const uint8_t *p, size_t n)
{
	char why[96];
	ssize_t hl = wl_upgrade_answer(p, n, c->accept, why, sizeof(why));

	if (hl == 0)
		return 0;
	if (hl < 0) {
		if (hl != WL_ANSWER_LONG)
			child_note_err(c->ch, "%s", why);
		conn_end(c);
		return (size_t)-1;
	}
	c->state = CS_OPEN;
	c->ch->inflight--;
	c->ch->held++;
	child_start_more(c->ch);
	return (size_t)hl;
}

static void
conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct lg_conn *c = h->data;

	(void)suggested;
	wl_keep_alloc(&c->keep, c->ch->rdbuf, sizeof(c->ch->rdbuf), buf);
}

static void
conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct lg_conn *c = s->data;
	struct lg_child *ch = c->ch;
	int64_t now = clock_now_us();
	size_t len, used = 0, u;

	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (c->state != CS_OPEN)
			child_note_err(ch, "read before the upgrade: %s", uv_strerror((int)nread));
		conn_end(c);
		return;
	}
	len = c->keep.n + (size_t)nread;
	if (c->state == CS_HANDSHAKE) {
		if ((u = conn_response(c, ch->rdbuf, len)) == (size_t)-1)
			return;
		used = u;
	}
	if (c->state == CS_OPEN) {
		if ((u = conn_frames(c, ch->rdbuf + used, len - used, now)) == (size_t)-1)
			return;
		used += u;
	}
	len -= used;
	if (len > WL_KEEP_MAX) {
		conn_end(c);
		return;
	}
	/* Out of memory, the bytes are dropped and the connection goes on. */
	wl_keep_set(&c->keep, ch->rdbuf + used, len);
}

/* Writes the upgrade request of c, with a fresh key. Returns 0, -1 or a
 * libuv error. */
static int
conn_request(struct lg_conn *c)
{
	const struct lg_opts *o = c->ch->o;
	char target[512];
	const char *t;
	size_t tl = 0;
	int room = (int)(c->gid % (uint32_t)o->rooms.n);

	for (t = o->tmpl; *t != '\0' && tl + WL_TOKEN_MAX + 1 < sizeof(target); ) {
		if (strncmp(t, "{code}", 6) == 0) {
			tl += (size_t)snprintf(target + tl, sizeof(target) - tl, "%s",
			    o->rooms.code[room]);
			t += 6;
		} else if (strncmp(t, "{token}", 7) == 0) {
			tl += (size_t)snprintf(target + tl, sizeof(target) - tl, "%s",
			    o->rooms.token[room]);
			t += 7;
		} else
			target[tl++] = *t++;
	}
	target[tl] = '\0';
	return wl_upgrade_send((uv_stream_t *)&c->tcp, target, o->target, c->accept);
}

static void
conn_connect_cb(uv_connect_t *req, int status)
{
	struct lg_conn *c = req->data;

	if (c->state == CS_CLOSED)
		return;
	if (status < 0) {
		child_note_err(c->ch, "connect: %s", uv_strerror(status));
		conn_end(c);
		return;
	}
	c->state = CS_HANDSHAKE;
	if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb) != 0 ||
	    conn_request(c) != 0) {
		child_note_err(c->ch, "%s", "cannot send the upgrade request");
		conn_end(c);
	}
}

static void
conn_start(struct lg_child *ch, struct lg_conn *c)
{
	const struct lg_opts *o = ch->o;
	const char *step;
	char why[96];
	int rc;

	c->ch = ch;
	c->tcp.data = c;
	c->creq.data = c;
	if ((rc = uv_tcp_init_ex(&ch->loop, &c->tcp, AF_INET)) != 0) {
		child_note_err(ch, "socket: %s", uv_strerror(rc));
		ch->failed++;
		c->state = CS_CLOSED;
		return;
	}
	c->state = CS_CONNECTING;
	ch->inflight++;
	rc = wl_connect(&c->tcp, &c->creq, o->nsrc > 0 ? &o->src[c->gid % (uint32_t)o->nsrc] :
	    NULL, &o->dst, conn_connect_cb, &step);
	if (rc != 0) {
		snprintf(why, sizeof(why), "%s: %s", step, uv_strerror(rc));
		child_note_err(ch, "%s", why);
		conn_end(c);
	}
}

static void
child_report(struct lg_child *ch, const char *what)
{
	char line[256];
	int n;

	n = snprintf(line, sizeof(line), "%s %d %d %d %d %" PRIu64 " %" PRIu64 " %" PRIu64 " %.3f %"
	    PRIu64 "\n", what, ch->held, ch->failed, ch->closed, ch->inflight, ch->recv, ch->lost,
	    ch->other, wl_mono() - ch->t_start, ch->reordered);
	wl_write((uv_stream_t *)&ch->ctl, line, (size_t)n);
	if (ch->err[0] != '\0') {
		n = snprintf(line, sizeof(line), "X %s\n", ch->err);
		wl_write((uv_stream_t *)&ch->ctl, line, (size_t)n);
		ch->err[0] = '\0';
	}
}

/* Starts connections while fewer than -C are in flight; says READY to the
 * parent when every connection has been tried. */
static void
child_start_more(struct lg_child *ch)
{
	while (ch->next < ch->n && ch->inflight < ch->o->conc)
		conn_start(ch, &ch->conns[ch->next++]);
	if (!ch->ready_sent && ch->next == ch->n && ch->inflight == 0) {
		ch->ready_sent = 1;
		child_report(ch, "READY");
	}
}

static void
child_ramp_cb(uv_timer_t *t)
{
	struct lg_child *ch = t->data;

	if (!ch->ready_sent && wl_mono() - ch->t_start > ch->o->ctimeout) {
		ch->ready_sent = 1;
		child_note_err(ch, "%s", "connect timeout: some handshakes did not finish");
		child_report(ch, "READY");
	}
	child_start_more(ch);
}

/* Sends the histogram's non-empty buckets, then the counters. */
static void
child_dump(struct lg_child *ch)
{
	char *out = NULL, line[128];
	size_t len = 0, cap = 0;
	unsigned i;
	int n;

	for (i = 0; i < WL_HIST_N; i++) {
		if (ch->h.n[i] == 0)
			continue;
		if (cap - len < 64) {
			cap = cap ? cap * 2 : 65536;
			if ((out = realloc(out, cap)) == NULL)
				abort();
		}
		n = snprintf(out + len, cap - len, "H %u %" PRIu64 "\n", i, ch->h.n[i]);
		len += (size_t)n;
	}
	if (len > 0)
		wl_write((uv_stream_t *)&ch->ctl, out, len);
	free(out);
	n = snprintf(line, sizeof(line), "M %" PRIu64 " %" PRIu64 "\n", ch->h.sum, ch->h.max);
	wl_write((uv_stream_t *)&ch->ctl, line, (size_t)n);
	child_report(ch, "DONE");
}

static void
child_close_all(struct lg_child *ch)
{
	int i;

	for (i = 0; i < ch->next; i++)
		if (ch->conns[i].state != CS_CLOSED) {
			ch->conns[i].state = CS_CLOSED;
			uv_close((uv_handle_t *)&ch->conns[i].tcp, conn_closed_cb);
		}
	uv_close((uv_handle_t *)&ch->ramp, NULL);
	uv_close((uv_handle_t *)&ch->ctl, NULL);
}

static void
child_ctl_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct lg_child *ch = h->data;

	(void)suggested;
	buf->base = ch->cbuf + ch->clen;
	buf->len = sizeof(ch->cbuf) - ch->clen;
}

static void
child_ctl_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct lg_child *ch = s->data;
	size_t i;

	(void)buf;
	if (nread < 0) {		/* the parent is gone */
		child_close_all(ch);
		return;
	}
	ch->clen += (size_t)nread;
	for (i = 0; i < ch->clen; i++) {
		switch (ch->cbuf[i]) {
		case 'R':
			ch->recv = ch->lost = ch->other = ch->reordered = 0;
			memset(&ch->h, 0, sizeof(ch->h));
			ch->t_start = wl_mono();
			break;
		case 'D':
			child_dump(ch);
			break;
		case 'Q':
			child_close_all(ch);
			ch->clen = 0;
			return;
		default:
			break;
		}
	}
	ch->clen = 0;
}

/* A subscriber process: holds connections gid = k, k + procs, ... */
static int
child_main(const struct lg_opts *o, int k, int fd)
{
	struct lg_child *ch = calloc(1, sizeof(*ch));
	int i;

	if (ch == NULL || uv_loop_init(&ch->loop) != 0)
		return 1;
	ch->o = o;
	ch->k = k;
	ch->n = (o->nconns - k + o->procs - 1) / o->procs;
	if ((ch->conns = calloc((size_t)(ch->n > 0 ? ch->n : 1), sizeof(*ch->conns))) == NULL)
		return 1;
	for (i = 0; i < ch->n; i++)
		ch->conns[i].gid = (uint32_t)(k + i * o->procs);
	ch->t_start = wl_mono();
	uv_pipe_init(&ch->loop, &ch->ctl, 0);
	uv_pipe_open(&ch->ctl, fd);
	ch->ctl.data = ch;
	uv_read_start((uv_stream_t *)&ch->ctl, child_ctl_alloc, child_ctl_read);
	uv_timer_init(&ch->loop, &ch->ramp);
	ch->ramp.data = ch;
	uv_timer_start(&ch->ramp, child_ramp_cb, 100, 100);
	child_start_more(ch);
	uv_run(&ch->loop, UV_RUN_DEFAULT);
	uv_loop_close(&ch->loop);
	free(ch->conns);
	free(ch);
	return 0;
}

/* ==== the parent: publisher and measurements ==== */

enum { P_CONNECT, P_IDLE, P_WARM, P_MEASURE, P_COLLECT, P_DONE };

struct lg_kid {
	uv_pipe_t pipe;
	pid_t pid;
	char buf[8192];
	size_t len;
	int ready, done;
	int held, failed, closed, inflight;
	uint64_t recv, lost, other, reordered;
	double secs;
	struct lg_main *m;
};

struct lg_http {
	uv_tcp_t tcp;
	uv_connect_t creq;
	struct lg_main *m;
	int up;
	uint64_t outstanding;
	char *in;
	size_t inlen, incap;
};

struct lg_main {
	uv_loop_t loop;
	struct lg_opts *o;
	struct lg_kid kids[LG_PROC_MAX];
	int phase;
	uv_timer_t phase_timer, pub_timer;
	/* publisher */
	redisAsyncContext *rc;
	struct lg_http http[LG_HTTP_CONNS];
	int pub_on;
	double pub_t0;
	uint64_t published, answered, pub_errs, pub_recipients, stalls;
	uint64_t pub_at_reset, pub_at_dump;
	double t_reset, t_dump;
	struct lg_hist h;
	uint64_t hsum, hmax;
	char errs[LG_PROC_MAX][160];
	double self_cpu0, self_cpu1;
};

static void main_phase(struct lg_main *m);

static void
main_sample_rss(struct lg_main *m, int which)
{
	int i;

	for (i = 0; i < m->o->npids; i++) {
		long kb = proc_rss_kb(m->o->pids[i].pid);

		if (which == 0)
			m->o->pids[i].rss_base = kb;
		else if (which == 1)
			m->o->pids[i].rss_held = kb;
		else
			m->o->pids[i].rss_idle = kb;
	}
}

static double
main_lg_cpu(struct lg_main *m)
{
	double s = proc_cpu_s(getpid());
	int i;

	for (i = 0; i < m->o->procs; i++)
		s += proc_cpu_s(m->kids[i].pid);
	return s;
}

static void
main_sample_cpu(struct lg_main *m, int end)
{
	int i;

	for (i = 0; i < m->o->npids; i++) {
		if (end)
			m->o->pids[i].cpu1 = proc_cpu_s(m->o->pids[i].pid);
		else
			m->o->pids[i].cpu0 = proc_cpu_s(m->o->pids[i].pid);
	}
	if (end)
		m->self_cpu1 = main_lg_cpu(m);
	else
		m->self_cpu0 = main_lg_cpu(m);
}

static void
main_tell(struct lg_main *m, const char *cmd)
{
	int i;

	for (i = 0; i < m->o->procs; i++)
		if (!uv_is_closing((uv_handle_t *)&m->kids[i].pipe))
			wl_write((uv_stream_t *)&m->kids[i].pipe, cmd, 1);
}

/* -- the Redis publisher -- */

static void
pub_redis_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	struct lg_main *m = ac->data;
	redisReply *r = rep;

	(void)priv;
	m->answered++;
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		m->pub_errs++;
	else
		m->pub_recipients += (uint64_t)r->integer;
}

static void
pub_redis_connect_cb(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK)
		log_err("redis: %s", ac->errstr);
}

static void
pub_redis_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct lg_main *m = ac->data;

	(void)status;
	m->rc = NULL;
}

static int
pub_redis_open(struct lg_main *m)
{
	redisAsyncContext *ac = redisAsyncConnect(m->o->pub_host, m->o->pub_port);

	if (ac == NULL || ac->err) {
		log_err("redis %s:%d: %s", m->o->pub_host, m->o->pub_port,
		    ac != NULL ? ac->errstr : "out of memory");
		return -1;
	}
	ac->data = m;
	redisLibuvAttach(ac, &m->loop);
	redisAsyncSetConnectCallback(ac, pub_redis_connect_cb);
	redisAsyncSetDisconnectCallback(ac, pub_redis_disconnect_cb);
	m->rc = ac;
	return 0;
}

/* -- the HTTP publisher (nchan's publisher location) -- */

static void
http_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct lg_http *c = h->data;

	(void)suggested;
	if (c->incap - c->inlen < 16384) {
		c->incap = c->incap ? c->incap * 2 : 65536;
		if ((c->in = realloc(c->in, c->incap)) == NULL)
			abort();
	}
	buf->base = c->in + c->inlen;
	buf->len = c->incap - c->inlen;
}

/* Consumes the complete responses in c->in. */
static void
http_responses(struct lg_http *c)
{
	struct lg_main *m = c->m;
	size_t off = 0, hl, body;
	char *end, *cl;
	int status;

	while (c->inlen - off > 12) {
		end = memmem(c->in + off, c->inlen - off, "\r\n\r\n", 4);
		if (end == NULL)
			break;
		hl = (size_t)(end - (c->in + off)) + 4;
		*end = '\0';
		cl = strcasestr(c->in + off, "\r\nContent-Length:");
		body = cl != NULL ? strtoul(cl + 17, NULL, 10) : 0;
		*end = '\r';
		if (c->inlen - off - hl < body)
			break;
		status = atoi(c->in + off + 9);
		if (status < 200 || status > 299) {
			if (m->pub_errs++ == 0)
				log_warn("publish answered %d", status);
		}
		m->answered++;
		c->outstanding--;
		off += hl + body;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
}

static void
http_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct lg_http *c = s->data;

	(void)buf;
	if (nread < 0) {
		log_warn("publisher connection: %s", uv_strerror((int)nread));
		c->up = 0;
		uv_read_stop(s);
		return;
	}
	c->inlen += (size_t)nread;
	http_responses(c);
}

static void
http_connect_cb(uv_connect_t *req, int status)
{
	struct lg_http *c = req->data;

	if (status < 0) {
		log_err("publisher connect: %s", uv_strerror(status));
		return;
	}
	c->up = 1;
	uv_read_start((uv_stream_t *)&c->tcp, http_alloc, http_read);
}

static void
pub_http_open(struct lg_main *m)
{
	int i;

	for (i = 0; i < LG_HTTP_CONNS; i++) {
		struct lg_http *c = &m->http[i];

		c->m = m;
		uv_tcp_init(&m->loop, &c->tcp);
		uv_tcp_nodelay(&c->tcp, 1);
		c->tcp.data = c;
		c->creq.data = c;
		uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&m->o->pub_addr,
		    http_connect_cb);
	}
}

/* Publishes message number n (room n % M, that room's seq n / M + 1). */
static int
pub_one(struct lg_main *m, uint64_t n)
{
	const struct lg_opts *o = m->o;
	int room = (int)(n % (uint64_t)o->rooms.n);
	uint64_t seq = n / (uint64_t)o->rooms.n + 1;
	char body[160], req[512];
	struct lg_http *c;
	int bl, rl;

	bl = snprintf(body, sizeof(body),
	    "{\"type\":\"bench\",\"room\":\"%s\",\"seq\":%" PRIu64 ",\"t_us\":%" PRId64 "}",
	    o->rooms.code[room], seq, clock_now_us());
	if (o->pub_kind == PUB_REDIS) {
		if (m->rc == NULL)
			return -1;
		return redisAsyncCommand(m->rc, pub_redis_cb, NULL, "PUBLISH tutti:ev:%s %b",
		    o->rooms.code[room], body, (size_t)bl) == REDIS_OK ? 0 : -1;
	}
	/* A room's messages all go through one connection, in order. */
	c = &m->http[room % LG_HTTP_CONNS];
	if (!c->up)
		return -1;
	rl = snprintf(req, sizeof(req),
	    "POST /pub/%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
	    "Accept: text/json\r\nContent-Length: %d\r\n\r\n%s", o->rooms.code[room], o->target, bl,
	    body);
	if (wl_write((uv_stream_t *)&c->tcp, req, (size_t)rl) != 0)
		return -1;
	c->outstanding++;
	return 0;
}

static void
pub_tick(uv_timer_t *t)
{
	struct lg_main *m = t->data;
	uint64_t due = (uint64_t)(m->o->rate * (wl_mono() - m->pub_t0));

	while (m->published < due) {
		if (m->published - m->answered >= LG_PUB_MAXQ) {
			m->stalls++;
			break;
		}
		if (pub_one(m, m->published) != 0) {
			m->pub_errs++;
			break;
		}
		m->published++;
	}
}

/* -- the children's reports -- */

static void
kid_line(struct lg_kid *k, char *line)
{
	struct lg_main *m = k->m;
	unsigned idx;
	uint64_t cnt, sum, max;

	if (line[0] == 'H' && sscanf(line + 2, "%u %" SCNu64, &idx, &cnt) == 2 && idx < WL_HIST_N) {
		m->h.n[idx] += cnt;
		m->h.count += cnt;
	} else if (line[0] == 'M' && sscanf(line + 2, "%" SCNu64 " %" SCNu64, &sum, &max) == 2) {
		m->hsum += sum;
		if (max > m->hmax)
			m->hmax = max;
	} else if (line[0] == 'X') {
		snprintf(m->errs[k - m->kids], sizeof(m->errs[0]), "%s", line + 2);
	} else if (strncmp(line, "READY ", 6) == 0 || strncmp(line, "DONE ", 5) == 0) {
		char *p = strchr(line, ' ') + 1;

		sscanf(p, "%d %d %d %d %" SCNu64 " %" SCNu64 " %" SCNu64 " %lf %" SCNu64, &k->held,
		    &k->failed, &k->closed, &k->inflight, &k->recv, &k->lost, &k->other, &k->secs,
		    &k->reordered);
		if (line[0] == 'R')
			k->ready = 1;
		else
			k->done = 1;
		main_phase(m);
	}
}

static void
kid_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct lg_kid *k = h->data;

	(void)suggested;
	buf->base = k->buf + k->len;
	buf->len = sizeof(k->buf) - k->len - 1;
}

static void
kid_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct lg_kid *k = s->data;
	char *p, *nl;

	(void)buf;
	if (nread < 0) {
		uv_close((uv_handle_t *)s, NULL);
		if (!k->done) {
			k->ready = k->done = 1;
			log_warn("subscriber process %d is gone", (int)k->pid);
			main_phase(k->m);
		}
		return;
	}
	k->len += (size_t)nread;
	k->buf[k->len] = '\0';
	for (p = k->buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		kid_line(k, p);
	}
	k->len -= (size_t)(p - k->buf);
	memmove(k->buf, p, k->len);
}

/* -- the report -- */

/* The group of a measured process: its name without trailing digits
 * (nginx1, nginx2: nginx). */
static size_t
pid_group_len(const char *name)
{
	size_t n = strlen(name);

	while (n > 1 && name[n - 1] >= '0' && name[n - 1] <= '9')
		n--;
	return n;
}

/* Prints and appends to res the RSS growth per connection and the CPU of
 * each group of measured processes. */
static size_t
main_groups(const struct lg_opts *o, int held, double win, uint64_t recv, char *res, size_t rl,
    size_t cap)
{
	int i, j, n;
	size_t gl;
	long grow;
	double cpu;

	for (i = 0; i < o->npids; i++) {
		gl = pid_group_len(o->pids[i].name);
		for (j = 0; j < i; j++)
			if (pid_group_len(o->pids[j].name) == gl &&
			    strncmp(o->pids[j].name, o->pids[i].name, gl) == 0)
				break;
		if (j < i)
			continue;	/* printed with its first member */
		grow = 0;
		cpu = 0;
		n = 0;
		for (j = i; j < o->npids; j++)
			if (pid_group_len(o->pids[j].name) == gl &&
			    strncmp(o->pids[j].name, o->pids[i].name, gl) == 0) {
				grow += o->pids[j].rss_idle - o->pids[j].rss_base;
				cpu += o->pids[j].cpu1 - o->pids[j].cpu0;
				n++;
			}
		printf("group        %.*s (%d process%s): RSS %+.0f bytes per connection", (int)gl,
		    o->pids[i].name, n, n > 1 ? "es" : "", held > 0 ? grow * 1024.0 / held : 0);
		rl += (size_t)snprintf(res + rl, cap - rl, " rss_%.*s_per_conn=%.0f", (int)gl,
		    o->pids[i].name, held > 0 ? grow * 1024.0 / held : 0);
		if (win > 0) {
			printf(", CPU %.2f s (%.0f %% of a core), %.3f s per million deliveries, "
			    "%.0f deliveries per CPU second", cpu, 100 * cpu / win,
			    recv ? cpu * 1e6 / (double)recv : 0, cpu > 0 ? (double)recv / cpu : 0);
			rl += (size_t)snprintf(res + rl, cap - rl, " cpu_%.*s=%.3f", (int)gl,
			    o->pids[i].name, cpu);
		}
		printf("\n");
	}
	return rl;
}

static void
main_report(struct lg_main *m)
{
	const struct lg_opts *o = m->o;
	int i, held = 0, failed = 0, closed = 0, inflight = 0;
	uint64_t recv = 0, lost = 0, reord = 0;
	double win = m->t_dump - m->t_reset, cpu_all = 0, lg_cpu;
	char res[1024];
	size_t rl;

	for (i = 0; i < o->procs; i++) {
		held += m->kids[i].held;
		failed += m->kids[i].failed;
		closed += m->kids[i].closed;
		inflight += m->kids[i].inflight;
		recv += m->kids[i].recv;
		lost += m->kids[i].lost;
		reord += m->kids[i].reordered;
	}
	printf("connections  requested %d, held %d, failed %d, closed by the server %d, "
	    "unfinished %d\n", o->nconns, held, failed, closed, inflight);
	for (i = 0; i < o->procs; i++)
		if (m->errs[i][0] != '\0')
			printf("             process %d, first error: %s\n", i, m->errs[i]);
	for (i = 0; i < o->npids; i++) {
		const struct lg_pid *p = &o->pids[i];

		printf("rss          %-8s base %.1f MiB, all connected %.1f MiB, after the idle "
		    "hold %.1f MiB\n", p->name, p->rss_base / 1024.0, p->rss_held / 1024.0,
		    p->rss_idle / 1024.0);
		cpu_all += p->cpu1 - p->cpu0;
	}
	rl = (size_t)snprintf(res, sizeof(res), "RESULT held=%d failed=%d", held, failed);
	if (o->pub_kind == PUB_NONE || win <= 0) {
		main_groups(o, held, 0, 0, res, rl, sizeof(res));
		printf("%s\n", res);
		fflush(stdout);
		return;
	}
	printf("publish      %.0f messages/s asked over %d rooms (%.0f listeners each): "
	    "%" PRIu64 " published in the window, %" PRIu64 " errors, %" PRIu64 " stalls\n",
	    o->rate, o->rooms.n, (double)held / o->rooms.n, m->pub_at_dump - m->pub_at_reset,
	    m->pub_errs, m->stalls);
	printf("deliveries   %" PRIu64 " in %.2f s: %.0f/s (offered %.0f/s), %" PRIu64 " lost, %"
	    PRIu64 " out of order\n", recv, win, (double)recv / win,
	    (double)(m->pub_at_dump - m->pub_at_reset) * held / o->rooms.n / win, lost, reord);
	printf("latency      p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms, mean %.3f ms\n",
	    hist_quantile(&m->h, 0.5) / 1000, hist_quantile(&m->h, 0.99) / 1000,
	    hist_quantile(&m->h, 0.999) / 1000, (double)m->hmax / 1000,
	    m->h.count ? (double)m->hsum / (double)m->h.count / 1000 : 0);
	rl = main_groups(o, held, win, recv, res, rl, sizeof(res));
	lg_cpu = m->self_cpu1 - m->self_cpu0;
	printf("cpu          all measured %.2f s: %.3f s per million deliveries; load generator "
	    "%.2f s (%.0f %% of a core)\n", cpu_all, recv ? cpu_all * 1e6 / (double)recv : 0,
	    lg_cpu, 100 * lg_cpu / win);
	printf("%s window=%.2f deliveries=%" PRIu64 " dps=%.0f lost=%" PRIu64 " p50_ms=%.3f"
	    " p99_ms=%.3f p999_ms=%.3f max_ms=%.3f cpu_all=%.3f cpu_per_million=%.3f"
	    " cpu_loadgen=%.3f\n", res, win, recv, (double)recv / win, lost,
	    hist_quantile(&m->h, 0.5) / 1000, hist_quantile(&m->h, 0.99) / 1000,
	    hist_quantile(&m->h, 0.999) / 1000, (double)m->hmax / 1000, cpu_all,
	    recv ? cpu_all * 1e6 / (double)recv : 0, lg_cpu);
	fflush(stdout);
}

/* -- phases -- */

static void
main_phase_cb(uv_timer_t *t)
{
	struct lg_main *m = t->data;

	m->phase++;
	main_phase(m);
}

static void
main_finish(struct lg_main *m)
{
	int i;

	m->phase = P_DONE;
	main_report(m);
	main_tell(m, "Q");
	uv_timer_stop(&m->pub_timer);
	uv_close((uv_handle_t *)&m->pub_timer, NULL);
	uv_close((uv_handle_t *)&m->phase_timer, NULL);
	for (i = 0; i < m->o->procs; i++)
		if (!uv_is_closing((uv_handle_t *)&m->kids[i].pipe))
			uv_close((uv_handle_t *)&m->kids[i].pipe, NULL);
	if (m->rc != NULL)
		redisAsyncDisconnect(m->rc);
	if (m->o->pub_kind == PUB_HTTP)
		for (i = 0; i < LG_HTTP_CONNS; i++)
			uv_close((uv_handle_t *)&m->http[i].tcp, NULL);
}

/*
 * The run: P_CONNECT until every child is ready (RSS "all connected"),
 * P_IDLE for -i seconds (RSS "after the idle hold"), P_WARM publishing for
 * -w seconds, P_MEASURE for -d seconds between a reset and a dump of the
 * children's statistics, P_COLLECT until every dump is in.
 */
static void
main_phase(struct lg_main *m)
{
	int i, all = 1;

	switch (m->phase) {
	case P_CONNECT:
		for (i = 0; i < m->o->procs; i++)
			all &= m->kids[i].ready;
		if (!all)
			return;
		main_sample_rss(m, 1);
		m->phase = P_IDLE;
		uv_timer_start(&m->phase_timer, main_phase_cb, (uint64_t)(m->o->idle * 1000), 0);
		return;
	case P_IDLE:
		return;
	case P_WARM:
		main_sample_rss(m, 2);
		if (m->o->pub_kind == PUB_NONE) {
			m->phase = P_COLLECT;
			main_tell(m, "D");
			return;
		}
		m->pub_t0 = wl_mono();
		uv_timer_start(&m->pub_timer, pub_tick, 1, 1);
		uv_timer_start(&m->phase_timer, main_phase_cb, (uint64_t)(m->o->warm * 1000), 0);
		return;
	case P_MEASURE:
		if (m->t_reset == 0) {
			main_tell(m, "R");
			main_sample_cpu(m, 0);
			m->t_reset = wl_mono();
			m->pub_at_reset = m->published;
			uv_timer_start(&m->phase_timer, main_phase_cb, (uint64_t)(m->o->dur * 1000), 0);
		}
		return;
	case P_COLLECT:
		if (m->t_dump == 0 && m->o->pub_kind != PUB_NONE) {
			main_tell(m, "D");
			main_sample_cpu(m, 1);
			m->t_dump = wl_mono();
			m->pub_at_dump = m->published;
			uv_timer_stop(&m->pub_timer);
		}
		for (i = 0; i < m->o->procs; i++)
			all &= m->kids[i].done;
		if (all)
			main_finish(m);
		return;
	default:
		return;
	}
}

/* ==== options ==== */

static void
usage(FILE *f)
{
	fputs(
"usage: loadgen -c host:port -f rooms_file [-n conns] [-j procs] [-C conc]\n"
"               [-s first_ip-last_ip] [-m rooms] [-u target_template]\n"
"               [-P redis:host:port | http:host:port] [-r rate] [-w warm_s]\n"
"               [-d secs] [-i idle_s] [-T connect_timeout_s] [-p name=pid]...\n"
"  -c  where the WebSocket clients connect (tutti-relay, or nginx)\n"
"  -f  rooms: one \"CODE TOKEN\" a line; connection i joins room i mod M\n"
"  -m  use only the first M rooms of the file (default: all)\n"
"  -u  the request target; {code} and {token} are replaced\n"
"      (default /ws?room={code}&token={token}; nchan: /sub/{code})\n"
"  -n  connections (default 1000); -j subscriber processes (default 1)\n"
"  -C  upgrade handshakes in flight per process (default 200)\n"
"  -s  bind clients to these source addresses in turn, e.g. 127.0.0.2-127.0.0.9\n"
"  -P  publisher: redis: PUBLISH tutti:ev:CODE; http: POST /pub/CODE (nchan)\n"
"  -r  messages per second over all rooms (0: hold idle connections only)\n"
"  -i  idle hold after connecting, RSS sampled at its end (default 2 s)\n"
"  -w  publishing before the window (default 3 s); -d the window (default 10 s)\n"
"  -p  a server process to measure (RSS, CPU), e.g. relay=1234; repeatable\n", f);
}

/* Reads the first max rooms of path (max <= 0: all; a token is optional).
 * Returns 0, or -1 when there is none. */
static int
load_rooms(struct lg_opts *o, const char *path, int max)
{
	if (wl_lines_load(&o->rooms, path, 0, max > 0 ? max : -1, 1) != 0) {
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	return o->rooms.n > 0 ? 0 : -1;
}

static int
parse_opts(struct lg_opts *o, int argc, char **argv)
{
	const char *rooms = NULL;
	int opt, maxrooms = 0;
	char *eq;

	o->nconns = 1000;
	o->procs = 1;
	o->conc = 200;
	o->tmpl = "/ws?room={code}&token={token}";
	o->warm = 3;
	o->dur = 10;
	o->idle = 2;
	o->ctimeout = 120;
	while ((opt = getopt(argc, argv, "c:f:m:u:n:j:C:s:P:r:i:w:d:T:p:h")) != -1) {
		switch (opt) {
		case 'c':
			snprintf(o->target, sizeof(o->target), "%s", optarg);
			if (wl_parse_addr(optarg, &o->dst, NULL, 0, NULL) != 0)
				return -1;
			break;
		case 'f': rooms = optarg; break;
		case 'm': maxrooms = atoi(optarg); break;
		case 'u': o->tmpl = optarg; break;
		case 'n': o->nconns = atoi(optarg); break;
		case 'j': o->procs = atoi(optarg); break;
		case 'C': o->conc = atoi(optarg); break;
		case 's':
			if (wl_parse_sources(optarg, o->src, &o->nsrc) != 0)
				return -1;
			break;
		case 'P':
			if (strncmp(optarg, "redis:", 6) == 0)
				o->pub_kind = PUB_REDIS;
			else if (strncmp(optarg, "http:", 5) == 0)
				o->pub_kind = PUB_HTTP;
			else
				return -1;
			if (wl_parse_addr(strchr(optarg, ':') + 1, &o->pub_addr, o->pub_host,
			    sizeof(o->pub_host), &o->pub_port) != 0)
				return -1;
			break;
		case 'r': o->rate = atof(optarg); break;
		case 'i': o->idle = atof(optarg); break;
		case 'w': o->warm = atof(optarg); break;
		case 'd': o->dur = atof(optarg); break;
		case 'T': o->ctimeout = atof(optarg); break;
		case 'p':
			if (o->npids == LG_PID_MAX || (eq = strchr(optarg, '=')) == NULL)
				return -1;
			snprintf(o->pids[o->npids].name, sizeof(o->pids[0].name), "%.*s",
			    (int)(eq - optarg), optarg);
			o->pids[o->npids++].pid = (pid_t)atoi(eq + 1);
			break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc || o->target[0] == '\0' || rooms == NULL || o->nconns < 0 ||
	    o->procs < 1 || o->procs > LG_PROC_MAX || o->conc < 1 ||
	    (o->rate > 0 && o->pub_kind == PUB_NONE))
		return -1;
	if (o->rate <= 0)
		o->pub_kind = PUB_NONE;
	return load_rooms(o, rooms, maxrooms);
}

/* Forks the subscriber processes, each with its end of a socketpair. */
static int
spawn_kids(struct lg_opts *o, int *fds)
{
	int i, sv[2], j;
	pid_t pid;

	for (i = 0; i < o->procs; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
			return -1;
		fflush(NULL);
		if ((pid = fork()) < 0)
			return -1;
		if (pid == 0) {
			close(sv[0]);
			for (j = 0; j < i; j++)
				close(fds[j]);
			_exit(child_main(o, i, sv[1]));
		}
		close(sv[1]);
		fds[i] = sv[0];
		fds[LG_PROC_MAX + i] = (int)pid;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct lg_opts opts;
	static struct lg_main main_state;
	struct lg_main *m = &main_state;
	int fds[2 * LG_PROC_MAX], i, status;
	rlim_t nofile;

	log_init("loadgen", LOG_INFO);
	if (parse_opts(&opts, argc, argv) != 0) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((rlim_t)(opts.nconns / opts.procs + 64) > (nofile = wl_nofile_raise()))
		log_warn("%d connections per process, but RLIMIT_NOFILE is %llu: use more -j",
		    (opts.nconns + opts.procs - 1) / opts.procs, (unsigned long long)nofile);
	m->o = &opts;
	main_sample_rss(m, 0);
	if (spawn_kids(&opts, fds) != 0) {
		log_err("fork: %s", strerror(errno));
		return 1;
	}
	uv_loop_init(&m->loop);
	uv_timer_init(&m->loop, &m->phase_timer);
	uv_timer_init(&m->loop, &m->pub_timer);
	m->phase_timer.data = m->pub_timer.data = m;
	for (i = 0; i < opts.procs; i++) {
		struct lg_kid *k = &m->kids[i];

		k->m = m;
		k->pid = (pid_t)fds[LG_PROC_MAX + i];
		uv_pipe_init(&m->loop, &k->pipe, 0);
		uv_pipe_open(&k->pipe, fds[i]);
		k->pipe.data = k;
		uv_read_start((uv_stream_t *)&k->pipe, kid_alloc, kid_read);
	}
	if (opts.pub_kind == PUB_REDIS && pub_redis_open(m) != 0)
		return 1;
	if (opts.pub_kind == PUB_HTTP)
		pub_http_open(m);
	uv_run(&m->loop, UV_RUN_DEFAULT);
	for (i = 0; i < opts.procs; i++)
		waitpid(m->kids[i].pid, &status, 0);
	for (i = 0; i < LG_HTTP_CONNS; i++)
		free(m->http[i].in);
	uv_loop_close(&m->loop);
	wl_lines_free(&opts.rooms);
	return 0;
}
