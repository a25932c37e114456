/*
 * stats.c - the worker's /metrics (see stats.h): the lag histogram of the
 * commands and the rendering of every counter and gauge, each family with
 * its HELP and TYPE lines. Rendered on the loop thread when a scrape
 * arrives, so the values are one instant of the worker.
 */
#include "stats.h"

#include "entry.h"
#include "metricsrv.h"
#include "store.h"
#include "worker.h"

/* Upper bounds of the lag buckets, in microseconds (le, in seconds). */
static const int64_t stats_lag_us[STATS_LAG_BUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000
};

/* The result label of each decision. */
static const char *const stats_results[APPLY_KINDS] = {
	[APPLY_CHANGED] = "changed",
	[APPLY_SAME] = "same",
	[APPLY_SKIPPED] = "skipped",
	[APPLY_REFUSED] = "refused",
};

void
stats_command(struct worker_stats *s, enum apply_kind kind, const char *id, int64_t now_us)
{
	struct stream_id sid;
	int64_t lag;
	size_t b;

	if ((unsigned)kind < APPLY_KINDS)
		s->commands[kind]++;
	if (entry_id_parse(id, &sid) != 0 || sid.ms > (uint64_t)INT64_MAX / 1000)
		return;
	lag = now_us - (int64_t)sid.ms * 1000;
	if (lag < 0)
		lag = 0;
	for (b = 0; b < STATS_LAG_BUCKETS && lag > stats_lag_us[b]; b++)
		;
	if (b < STATS_LAG_BUCKETS)
		s->lag[b]++;
	s->lag_count++;
	s->lag_sum_us += (uint64_t)lag;
}

/* Connections regained after the first one, over both Redis connections. */
static uint64_t
stats_reconnects(const struct worker *w)
{
	return (w->rd.connects > 0 ? w->rd.connects - 1 : 0) +
	    (w->wr.connects > 0 ? w->wr.connects - 1 : 0);
}

/* One family with a single unlabelled sample. */
static int
stats_one(struct metricsrv_out *out, const char *name, const char *type, const char *help,
    unsigned long long v)
{
	return metricsrv_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name,
	    type, name, v);
}

static int
stats_commands(struct metricsrv_out *out, const struct worker_stats *s)
{
	size_t k;

	if (metricsrv_printf(out, "# HELP tutti_worker_commands_total Control commands "
	    "decided, by result (changed, same: changed nothing, refused, skipped: "
	    "applied before).\n# TYPE tutti_worker_commands_total counter\n") != 0)
		return -1;
	for (k = 0; k < APPLY_KINDS; k++)
		if (metricsrv_printf(out, "tutti_worker_commands_total{result=\"%s\"} %llu\n",
		    stats_results[k], (unsigned long long)s->commands[k]) != 0)
			return -1;
	return 0;
}

static int
stats_lag(struct metricsrv_out *out, const struct worker_stats *s)
{
	uint64_t cum = 0;
	size_t b;

	if (metricsrv_printf(out, "# HELP tutti_worker_command_lag_seconds Time from a "
	    "command's stream id (when Redis took it) to the publication of its decision.\n"
	    "# TYPE tutti_worker_command_lag_seconds histogram\n") != 0)
		return -1;
	for (b = 0; b < STATS_LAG_BUCKETS; b++) {
		cum += s->lag[b];
		if (metricsrv_printf(out, "tutti_worker_command_lag_seconds_bucket{le=\"%g\"} "
		    "%llu\n", stats_lag_us[b] / 1e6, (unsigned long long)cum) != 0)
			return -1;
	}
	return metricsrv_printf(out, "tutti_worker_command_lag_seconds_bucket{le=\"+Inf\"} "
	    "%llu\ntutti_worker_command_lag_seconds_sum %.6f\n"
	    "tutti_worker_command_lag_seconds_count %llu\n",
	    (unsigned long long)s->lag_count, s->lag_sum_us / 1e6,
	    (unsigned long long)s->lag_count);
}

/* metricsrv_render_fn; arg is the worker. */
static int
stats_render(struct metricsrv_out *out, void *arg)
{
	const struct worker *w = arg;
	const struct worker_stats *s = &w->stats;
	int64_t epoch = w->store != NULL ? store_fence_epoch(w->store) : 0;

	if (stats_one(out, "tutti_worker_active", "gauge", "1 while this worker holds the "
	    "lease, is set up and applies commands, else 0 (standby).",
	    (unsigned long long)worker_active(w)) != 0 ||
	    stats_one(out, "tutti_worker_fence_epoch", "gauge", "The epoch of the fencing "
	    "token this worker last took in SQLite (0: never).",
	    (unsigned long long)(epoch > 0 ? epoch : 0)) != 0 ||
	    stats_one(out, "tutti_worker_lease_takeovers_total", "counter", "Times this "
	    "worker took the lease and became the active worker.",
	    (unsigned long long)s->takeovers) != 0 ||
	    stats_one(out, "tutti_worker_rooms", "gauge", "Playing rooms timed by this "
	    "worker (beacons, advances).", (unsigned long long)w->rooms.count) != 0 ||
	    stats_commands(out, s) != 0 || stats_lag(out, s) != 0 ||
	    stats_one(out, "tutti_worker_beacons_total", "counter", "Sync beacons "
	    "published.", (unsigned long long)s->beacons) != 0 ||
	    stats_one(out, "tutti_worker_advances_total", "counter", "Advances at an item's "
	    "end published (on time, or caught up on taking the lease).",
	    (unsigned long long)s->advances) != 0 ||
	    stats_one(out, "tutti_worker_rooms_closed_idle_total", "counter", "Rooms closed "
	    "for staying empty longer than the idle time.",
	    (unsigned long long)s->closed_idle) != 0 ||
	    stats_one(out, "tutti_worker_rooms_purged_total", "counter", "Closed rooms "
	    "deleted after the retention time.", (unsigned long long)s->purged) != 0 ||
	    stats_one(out, "tutti_worker_admin_promotions_total", "counter", "Users promoted "
	    "to admin after the admin was gone for the grace period.",
	    (unsigned long long)s->promotions) != 0 ||
	    stats_one(out, "tutti_worker_redis_reconnects_total", "counter", "Redis "
	    "connections (reader, writer) made again after their first.",
	    (unsigned long long)stats_reconnects(w)) != 0)
		return -1;
	return 0;
}

int
stats_listen(struct worker *w)
{
	const struct metricsrv_hooks hooks = { "/metrics", stats_render, w };

	return metricsrv_listen(&w->metrics, &w->loop, w->cfg.metrics, &hooks) == 0 ? 0 : -1;
}
