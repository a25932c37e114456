/*
 * metrics.c - the relay's /metrics endpoint (Prometheus text format 0.0.4)
 * on its own local port (-m), apart from the WebSocket listener: open
 * connections, rooms, frames and bytes written to listeners, slow listeners
 * dropped, refusals and Redis reconnects. The listener itself is
 * common/metricsrv.c; this file renders the relay's counters.
 */
#include "relay.h"

#include "metricsrv.h"

/* metricsrv_render_fn: the counters of the relay (arg). */
static int
metrics_render(struct metricsrv_out *out, void *arg)
{
	const struct relay *r = arg;
	const struct relay_stats *s = &r->stats;

	return metricsrv_printf(out,
	    "# HELP tutti_relay_connections Open WebSocket listeners.\n"
	    "# TYPE tutti_relay_connections gauge\n"
	    "tutti_relay_connections{relay=\"%s\"} %zu\n"
	    "# HELP tutti_relay_pending Connections in the handshake or waiting for Redis.\n"
	    "# TYPE tutti_relay_pending gauge\n"
	    "tutti_relay_pending{relay=\"%s\"} %zu\n"
	    "# HELP tutti_relay_rooms Rooms with a subscription or listeners on this relay.\n"
	    "# TYPE tutti_relay_rooms gauge\n"
	    "tutti_relay_rooms{relay=\"%s\"} %zu\n"
	    "# TYPE tutti_relay_accepted_total counter\n"
	    "tutti_relay_accepted_total{relay=\"%s\"} %llu\n"
	    "# TYPE tutti_relay_refused_total counter\n"
	    "tutti_relay_refused_total{relay=\"%s\"} %llu\n"
	    "# HELP tutti_relay_frames_out_total Frames queued to listeners.\n"
	    "# TYPE tutti_relay_frames_out_total counter\n"
	    "tutti_relay_frames_out_total{relay=\"%s\"} %llu\n"
	    "# TYPE tutti_relay_bytes_out_total counter\n"
	    "tutti_relay_bytes_out_total{relay=\"%s\"} %llu\n"
	    "# HELP tutti_relay_slow_dropped_total Listeners closed for not reading.\n"
	    "# TYPE tutti_relay_slow_dropped_total counter\n"
	    "tutti_relay_slow_dropped_total{relay=\"%s\"} %llu\n"
	    "# TYPE tutti_relay_redis_reconnects_total counter\n"
	    "tutti_relay_redis_reconnects_total{relay=\"%s\"} %llu\n",
	    r->id, r->open.n, r->id, r->pending.n, r->id, r->nrooms,
	    r->id, (unsigned long long)s->accepted, r->id, (unsigned long long)s->refused,
	    r->id, (unsigned long long)s->frames_out, r->id, (unsigned long long)s->bytes_out,
	    r->id, (unsigned long long)s->slow_dropped,
	    r->id, (unsigned long long)s->redis_reconnects);
}

int
metrics_listen(struct relay *r, const char *spec)
{
	const struct metricsrv_hooks hooks = { "/metrics", metrics_render, r };

	return metricsrv_listen(&r->metrics, r->loop, spec, &hooks) == 0 ? 0 : -1;
}
