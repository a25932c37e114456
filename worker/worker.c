/*
 * worker.c - the life of tutti-worker (see worker.h): start-up, the reactions
 * to the Redis connections coming and going, the liveness key, and the
 * graceful stop on SIGTERM/SIGINT (finish the batch in hand, give the lease
 * back, flush the queued writes, close every handle so the loop ends on
 * its own). Becoming active or standing by is lease.c's.
 */
#include "worker.h"
#include "log.h"
#include "publish.h"
#include "rkeys.h"

#include <signal.h>
#include <string.h>

#define WORKER_ALIVE_MS     1000
#define WORKER_STOP_MS      3000
#define WORKER_RD_TIMEOUT   5000	/* BLOCK 1000 plus a margin */
#define WORKER_WR_TIMEOUT   5000

/* hiredis callback of XGROUP CREATE; the reply belongs to hiredis (freed
 * on return; NULL when the connection was lost); privdata is the worker. */
static void
worker_on_group(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct worker *w = privdata;
	redisReply *r = reply;

	(void)ac;
	if (r == NULL)
		return;		/* connection lost: wr's on_up asks again */
	if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0) {
		log_err("XGROUP CREATE: %s", r->str);
		reader_retry(w);	/* creates the group again in a second */
		return;
	}
	w->group_ok = 1;
	lease_group_ok(w);
	reader_kick(w);
}

void
worker_group_create(struct worker *w)
{
	if (rconn_cmd(&w->wr, worker_on_group, w, "XGROUP CREATE " RKEY_CMD_STREAM " "
	    RKEY_CMD_GROUP " 0 MKSTREAM") != 0)
		log_debug("XGROUP CREATE waits for the connection");
}

/* rconn callbacks (loop thread); arg is the worker, rc one of its members. */
static void
worker_on_rd_up(struct rconn *rc, void *arg)
{
	struct worker *w = arg;

	(void)rc;
	reader_rewind(w);
	reader_kick(w);
}

static void
worker_on_rd_down(struct rconn *rc, void *arg)
{
	struct worker *w = arg;

	(void)rc;
	w->reader.busy = 0;
}

static void
worker_on_wr_up(struct rconn *rc, void *arg)
{
	struct worker *w = arg;

	(void)rc;
	reader_rewind(w);	/* replies or XACKs may have been lost */
	lease_reconnected(w);	/* sets everything up again once active */
}

int
worker_active(const struct worker *w)
{
	return w->rd.ready && w->wr.ready && w->group_ok && !w->stopping && lease_valid(w);
}

/* libuv timer callback, every second; t->data is the worker. */
static void
worker_on_alive(uv_timer_t *t)
{
	struct worker *w = t->data;

	if (worker_active(w))
		publish_alive(w);
}

/* libuv signal callback; h->data is the worker (owned by main). */
static void
worker_on_signal(uv_signal_t *h, int signum)
{
	log_info("signal %d", signum);
	worker_stop(h->data);
}

/* Closes h unless it is closing already. */
static void
worker_close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* The stop deadline, or a second signal: drops both connections now. */
static void
worker_force(struct worker *w)
{
	w->reader.busy = 0;
	worker_stop_continue(w);
	rconn_close(&w->rd, 1);
	rconn_close(&w->wr, 1);
	worker_close_handle((uv_handle_t *)&w->deadline);
}

/* libuv timer callback, WORKER_STOP_MS after the first signal; t->data is
 * the worker. */
static void
worker_on_deadline(uv_timer_t *t)
{
	log_warn("Redis did not finish within %d ms; closing now", WORKER_STOP_MS);
	worker_force(t->data);
}

void
worker_stop(struct worker *w)
{
	if (w->stopping) {
		log_warn("stopping now");
		worker_force(w);
		return;
	}
	w->stopping = 1;
	log_info("stopping: finishing the entries in hand");
	uv_timer_start(&w->deadline, worker_on_deadline, WORKER_STOP_MS, 0);
	uv_unref((uv_handle_t *)&w->deadline);	/* the loop may end before it */
	if (!w->reader.busy)
		worker_stop_continue(w);
}

/* Tells every handle to close but the deadline and the signal handles,
 * which only stop keeping the loop alive: a second signal during a slow
 * graceful close still forces it. worker_free() closes them. */
static void
worker_close_all(struct worker *w, int force)
{
	w->closed = 1;
	rooms_close(&w->rooms);
	reader_close(w);
	lease_close(w);
	sweep_close(w);
	lead_close(&w->lead);
	ckpt_close(&w->ckpt);
	worker_close_handle((uv_handle_t *)&w->alive);
	metricsrv_close(&w->metrics);
	uv_unref((uv_handle_t *)&w->sig_term);
	uv_unref((uv_handle_t *)&w->sig_int);
	rconn_close(&w->rd, force);
	rconn_close(&w->wr, force);
}

void
worker_stop_continue(struct worker *w)
{
	if (w->closed)
		return;
	if (w->wr.ready) {
		lease_release(w);
		publish_dead(w);
	}
	worker_close_all(w, 0);
}

/* Initializes every libuv handle of w, so that worker_free() can close them
 * all whatever fails later. Returns 0 or -1. */
static int
worker_handles(struct worker *w)
{
	int rc = 0;

	if (rconn_init(&w->rd, &w->loop, "reader", w->cfg.redis, WORKER_RD_TIMEOUT,
	    worker_on_rd_up, worker_on_rd_down, w) != 0)
		rc = -1;
	if (rconn_init(&w->wr, &w->loop, "writer", w->cfg.redis, WORKER_WR_TIMEOUT,
	    worker_on_wr_up, NULL, w) != 0)
		rc = -1;
	rconn_set_auth(&w->rd, w->cfg.redis_user, w->cfg.redis_password);
	rconn_set_auth(&w->wr, w->cfg.redis_user, w->cfg.redis_password);
	uv_timer_init(&w->loop, &w->alive);
	uv_timer_init(&w->loop, &w->deadline);
	w->alive.data = w;
	w->deadline.data = w;
	w->sig_term.data = w;
	w->sig_int.data = w;
	if (lead_init(&w->lead, &w->loop, &w->wr, &(struct lead_config){ w->cfg.lead_us,
	    w->cfg.lead_margin_us, w->cfg.lead_max_us }) != 0)
		rc = -1;
	if (sweep_init(w) != 0 || lease_init(w) != 0)
		rc = -1;
	if (reader_init(w) != 0 || uv_signal_init(&w->loop, &w->sig_term) != 0 ||
	    uv_signal_init(&w->loop, &w->sig_int) != 0) {
		log_err("cannot set up the event loop");
		rc = -1;
	}
	return rc;
}

int
worker_init(struct worker *w, const struct worker_config *cfg)
{
	memset(w, 0, sizeof(*w));
	w->cfg = *cfg;
	if (uv_loop_init(&w->loop) != 0) {
		log_err("cannot create the event loop");
		return -1;
	}
	w->loop.data = w;	/* marks the loop as initialized for worker_free */
	if (worker_handles(w) != 0 || rooms_init(&w->rooms) != 0 ||
	    (w->store = store_open(cfg->db_path)) == NULL ||
	    ckpt_init(&w->ckpt, &w->loop, store_db(w->store), cfg->db_path) != 0 ||
	    (cfg->metrics != NULL && stats_listen(w) != 0))
		return -1;
	if (uv_signal_start(&w->sig_term, worker_on_signal, SIGTERM) != 0 ||
	    uv_signal_start(&w->sig_int, worker_on_signal, SIGINT) != 0) {
		log_err("cannot catch SIGTERM/SIGINT");
		return -1;
	}
	uv_timer_start(&w->alive, worker_on_alive, WORKER_ALIVE_MS, WORKER_ALIVE_MS);
	sweep_start(w);
	lead_start(&w->lead);
	ckpt_start(&w->ckpt);
	lease_start(w);
	return 0;
}

int
worker_run(struct worker *w)
{
	log_info("worker %s: lead %lld ms, beacons every %lld ms, sweep every %lld ms "
	    "(grace %lld ms, idle %lld s, retention %lld s), lease %lld ms", w->cfg.id,
	    (long long)w->cfg.lead_us / 1000, (long long)w->cfg.beacon_ms,
	    (long long)w->cfg.sweep_ms, (long long)w->cfg.grace_us / 1000,
	    (long long)w->cfg.idle_us / 1000000, (long long)w->cfg.retain_us / 1000000,
	    (long long)w->cfg.lease_ms);
	rconn_start(&w->rd);
	rconn_start(&w->wr);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	log_info("stopped");
	return 0;
}

/* uv_walk callback at exit: names a handle still open (a bug). */
static void
worker_log_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	log_err("still open at exit: %s handle %p%s", uv_handle_type_name(h->type), (void *)h,
	    uv_is_closing(h) ? " (closing)" : "");
}

void
worker_free(struct worker *w)
{
	if (w->loop.data == NULL)
		return;
	if (!w->closed)
		worker_close_all(w, 1);
	worker_close_handle((uv_handle_t *)&w->deadline);
	worker_close_handle((uv_handle_t *)&w->sig_term);
	worker_close_handle((uv_handle_t *)&w->sig_int);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	if (w->rd.ac != NULL || w->wr.ac != NULL) {
		/* A connection reset while closing gracefully (Redis went away
		 * with our commands unread): libuv stopped its poll on POLLERR
		 * and hiredis's adapter dropped the error, so the loop ended with
		 * the context open. Nothing more can arrive on it: drop it. */
		log_warn("Redis went away during the graceful close");
		rconn_close(&w->rd, 1);
		rconn_close(&w->wr, 1);
		uv_run(&w->loop, UV_RUN_DEFAULT);
	}
	if (uv_loop_close(&w->loop) != 0) {
		log_err("handles left open at exit");
		uv_walk(&w->loop, worker_log_handle, NULL);
	}
	store_list_free(&w->pl);
	store_close(w->store);
	w->loop.data = NULL;
}
