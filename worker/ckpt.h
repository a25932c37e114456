/*
 * ckpt.h - WAL checkpoints of the worker's database, off the event loop.
 * The worker's own connection never checkpoints (its fdatasync calls would
 * stall beacons and advances by milliseconds, docs/benchmarks.md); a second
 * connection, used only on libuv's thread pool and one job at a time, runs
 * a passive checkpoint every second.
 */
#ifndef TUTTI_CKPT_H
#define TUTTI_CKPT_H

#include <sqlite3.h>
#include <uv.h>

struct ckpt {
	uv_loop_t *loop;
	uv_timer_t timer;
	uv_work_t work;
	const char *path;	/* borrowed: the worker's config */
	sqlite3 *db;		/* opened by the first job, used only by jobs */
	int busy;		/* a job is queued or running */
	int closing;
};

/* Turns automatic checkpoints off on the loop's connection db and prepares
 * the timer. Returns 0, or -1 (logged). */
int ckpt_init(struct ckpt *c, uv_loop_t *loop, sqlite3 *db, const char *path);

/* Starts the checkpoints (every CKPT_MS). */
void ckpt_start(struct ckpt *c);

/* Stops them; the connection is closed when no job runs (now, or when the
 * last job ends). */
void ckpt_close(struct ckpt *c);

#endif
