/*
 * worker.h - tutti-worker, the process that owns the playback timeline of
 * every room (ARCHITECTURE.md): it reads control commands from the Redis
 * stream, applies them through sched, persists anchors in SQLite, publishes
 * events, beacons and auto-advances, applies the relays' presence entries
 * (roles.h), and sweeps rooms for admin promotion, idle close and the
 * listeners of dead relays. Several may run; only the holder of the lease
 * (lease.h) acts, the others stand by. One thread, one libuv loop, and one
 * explicit context, struct worker, passed to every module; with -m it also
 * serves its counters (stats.h) on GET /metrics.
 */
#ifndef TUTTI_WORKER_H
#define TUTTI_WORKER_H

#include "entry.h"
#include "ckpt.h"
#include "lead.h"
#include "lease.h"
#include "metricsrv.h"
#include "rconn.h"
#include "rooms.h"
#include "stats.h"
#include "store.h"
#include "sweep.h"

#include <stdint.h>
#include <uv.h>

struct worker_config {
	const char *db_path;	/* DATADIR/tutti.db; borrowed */
	const char *redis;	/* unix socket path or HOST:PORT; borrowed */
	const char *redis_user;	/* TUTTI_REDIS_USER, or NULL; borrowed */
	const char *redis_password;	/* TUTTI_REDIS_PASSWORD, or NULL: no AUTH; borrowed */
	const char *id;		/* consumer name and liveness value; borrowed */
	const char *metrics;	/* -m host:port of GET /metrics, or NULL; borrowed */
	int64_t lead_us;	/* the minimum lead: how far ahead starts are scheduled */
	int64_t lead_margin_us;	/* adaptive lead: added to 2 x the room's p95 RTT */
	int64_t lead_max_us;	/* adaptive lead: the cap */
	int64_t beacon_ms;	/* beacon period of a playing room */
	int64_t grace_us;	/* admin gone this long: promote someone */
	int64_t idle_us;	/* room empty this long: close it */
	int64_t retain_us;	/* room closed this long: purge it (0: never) */
	int64_t sweep_ms;	/* period of the sweep (promotions, idle closes) */
	int64_t lease_ms;	/* expiry of the lease; renewed every third of it */
};

enum reader_phase {
	READER_PENDING,		/* re-reading this consumer's unacknowledged entries */
	READER_NEW		/* blocking on new entries (">") */
};

/* The command stream reader (worker/reader.c). */
struct reader {
	enum reader_phase phase;
	char cursor[ENTRY_ID_MAX];	/* READER_PENDING: read after this id */
	int busy;			/* an XREADGROUP is in flight */
	int rewind;			/* restart from the pending entries */
	uv_timer_t retry;		/* delay after an error reply */
};

struct worker {
	struct worker_config cfg;
	uv_loop_t loop;
	struct store *store;
	struct store_list pl;		/* playlist buffer reused by every apply */
	struct rconn rd;		/* dedicated to the blocking XREADGROUP */
	struct rconn wr;		/* every other command */
	struct reader reader;
	struct rooms rooms;		/* the playing rooms and their timers */
	struct lead lead;		/* per-room adaptive lead (lead.h) */
	struct ckpt ckpt;		/* WAL checkpoints off the loop (ckpt.h) */
	struct sweep sweep;		/* promotions and idle closes */
	struct lease lease;		/* active or standby */
	struct worker_stats stats;	/* counters for /metrics (stats.h) */
	struct metricsrv metrics;	/* the -m listener (off unless cfg.metrics) */
	uv_timer_t alive;		/* SET tutti:worker:alive every second */
	uv_timer_t deadline;		/* bounds a graceful stop */
	uv_signal_t sig_term;
	uv_signal_t sig_int;
	int group_ok;			/* the consumer group exists */
	int stopping;			/* SIGTERM/SIGINT received */
	int closed;			/* everything has been told to close */
};

/* Opens the database and prepares the loop, the Redis connections, the
 * lease, the signal handlers and, with cfg->metrics, the /metrics
 * listener; the rooms' timelines are restored once the worker takes the
 * lease (lease.h). w is the caller's memory. Returns 0, or -1 after logging
 * why (then call worker_free()). */
int worker_init(struct worker *w, const struct worker_config *cfg);

/* Runs the loop until SIGTERM/SIGINT has stopped the worker. Returns 0. */
int worker_run(struct worker *w);

/* Frees everything worker_init() set up (safe after a failed init). */
void worker_free(struct worker *w);

/* Starts a graceful stop: no new entries are read, the entries in hand are
 * finished, queued Redis writes are flushed, then the loop ends. A second
 * call (another signal) or a 3 s deadline forces it. */
void worker_stop(struct worker *w);

/* Returns 1 when this worker is the one that acts (reads and applies
 * entries, liveness key, sweep): both Redis connections up, the group
 * there, not stopping, and the lease held, set up and not run out
 * (lease_valid()); else 0. */
int worker_active(const struct worker *w);

/* Called by the reader once the batch in flight during a stop is done. */
void worker_stop_continue(struct worker *w);

/* Issues XGROUP CREATE tutti:cmd workers 0 MKSTREAM (BUSYGROUP is fine) on
 * the write connection; once it is answered an activation goes on
 * (lease_group_ok()) and the reader starts when the worker is active. */
void worker_group_create(struct worker *w);

/* worker/reader.c: (re)starts the blocking read when everything it needs is
 * up (worker_active()) and nothing is in flight. */
void reader_kick(struct worker *w);

/* worker/reader.c: the next read starts over from this consumer's pending
 * entries (id 0): after a reconnect entries may be delivered but unacked. */
void reader_rewind(struct worker *w);

/* worker/reader.c: tries again in a second: the group creation when it has
 * failed, else the read. Does nothing while stopping. */
void reader_retry(struct worker *w);

/* worker/reader.c: initializes the reader's timer. Returns 0 or -1. */
int reader_init(struct worker *w);

/* worker/reader.c: closes the reader's timer. */
void reader_close(struct worker *w);

#endif
