/*
 * ckpt.c - passive WAL checkpoints on libuv's thread pool (see ckpt.h).
 * Ownership: c->db belongs to the job while c->busy is set, to the loop
 * thread otherwise; ckpt_done runs on the loop thread.
 */
#include "ckpt.h"
#include "db.h"
#include "log.h"

#define CKPT_MS 1000

/* Thread pool: opens the connection the first time, then checkpoints as
 * much as readers allow, without waiting for them. */
static void
ckpt_work(uv_work_t *req)
{
	struct ckpt *c = req->data;
	int log_pages = 0, done = 0;

	if (c->db == NULL && (c->db = db_open(c->path)) == NULL)
		return;
	if (sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages,
	    &done) != SQLITE_OK && sqlite3_errcode(c->db) != SQLITE_BUSY)
		log_warn("checkpoint: %s", sqlite3_errmsg(c->db));
}

/* Loop thread: the job is over. */
static void
ckpt_done(uv_work_t *req, int status)
{
	struct ckpt *c = req->data;

	(void)status;
	c->busy = 0;
	if (c->closing) {
		sqlite3_close(c->db);
		c->db = NULL;
	}
}

static void
ckpt_on_timer(uv_timer_t *t)
{
	struct ckpt *c = t->data;

	if (c->busy || c->closing)
		return;
	c->work.data = c;
	if (uv_queue_work(c->loop, &c->work, ckpt_work, ckpt_done) == 0)
		c->busy = 1;
}

int
ckpt_init(struct ckpt *c, uv_loop_t *loop, sqlite3 *db, const char *path)
{
	c->loop = loop;
	c->path = path;
	c->db = NULL;
	c->busy = c->closing = 0;
	if (sqlite3_wal_autocheckpoint(db, 0) != SQLITE_OK) {
		log_err("cannot turn automatic checkpoints off: %s", sqlite3_errmsg(db));
		return -1;
	}
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	return 0;
}

void
ckpt_start(struct ckpt *c)
{
	uv_timer_start(&c->timer, ckpt_on_timer, CKPT_MS, CKPT_MS);
}

void
ckpt_close(struct ckpt *c)
{
	if (c->loop == NULL)	/* never initialized */
		return;
	c->closing = 1;
	if (!uv_is_closing((uv_handle_t *)&c->timer))
		uv_close((uv_handle_t *)&c->timer, NULL);
	if (!c->busy) {
		sqlite3_close(c->db);
		c->db = NULL;
	}
}
