/*
 * metrics.c - GET /metrics in the Prometheus text format (0.0.4): requests
 * by route and status, a latency histogram per route, and upload bytes.
 * Counters are shared by every request thread and updated with relaxed
 * atomic adds; a scrape reads them without a lock (each value is exact,
 * the set is not one instant). nginx limits /metrics to local addresses.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>

/* The statuses counted by name; anything else is counted as "other". */
static const int api_statuses[] = {
	200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 410, 412, 413, 415, 423,
	428, 429, 460, 500, 501, 503, 507
};
#define API_NSTATUS (sizeof(api_statuses) / sizeof(api_statuses[0]) + 1)

/* Upper bounds of the latency buckets, in microseconds (le, in seconds). */
static const int64_t api_buckets_us[] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000
};
#define API_NBUCKET (sizeof(api_buckets_us) / sizeof(api_buckets_us[0]))

struct api_metrics {
	uint64_t requests[ROUTE_COUNT][API_NSTATUS];
	uint64_t buckets[ROUTE_COUNT][API_NBUCKET];	/* not cumulative; summed on output */
	uint64_t count[ROUTE_COUNT];
	uint64_t sum_us[ROUTE_COUNT];
	uint64_t upload_bytes;
};

struct api_metrics *
api_metrics_new(void)
{
	return calloc(1, sizeof(struct api_metrics));
}

void
api_metrics_free(struct api_metrics *m)
{
	free(m);
}

static size_t
api_status_index(int status)
{
	size_t i;

	for (i = 0; i < API_NSTATUS - 1; i++)
		if (api_statuses[i] == status)
			return i;
	return API_NSTATUS - 1;
}

void
api_metrics_count(struct api_metrics *m, enum api_route_id route, int status,
    int64_t duration_us)
{
	size_t b;

	if (m == NULL || route < 0 || route >= ROUTE_COUNT)
		return;
	__atomic_fetch_add(&m->requests[route][api_status_index(status)], 1,
	    __ATOMIC_RELAXED);
	for (b = 0; b < API_NBUCKET && duration_us > api_buckets_us[b]; b++)
		;
	if (b < API_NBUCKET)
		__atomic_fetch_add(&m->buckets[route][b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->count[route], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->sum_us[route], duration_us > 0 ? (uint64_t)duration_us : 0,
	    __ATOMIC_RELAXED);
}

void
api_metrics_upload_bytes(struct api_metrics *m, int64_t n)
{
	if (m != NULL && n > 0)
		__atomic_fetch_add(&m->upload_bytes, (uint64_t)n, __ATOMIC_RELAXED);
}

static uint64_t
api_load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void
api_metrics_requests(FCGX_Stream *out, const struct api_metrics *m)
{
	size_t rt, s;
	uint64_t v;

	FCGX_PutS("# HELP tutti_api_requests_total Requests answered, by route and status.\n"
	    "# TYPE tutti_api_requests_total counter\n", out);
	for (rt = 0; rt < ROUTE_COUNT; rt++)
		for (s = 0; s < API_NSTATUS; s++) {
			if ((v = api_load(&m->requests[rt][s])) == 0)
				continue;
			if (s < API_NSTATUS - 1)
				FCGX_FPrintF(out, "tutti_api_requests_total{route=\"%s\","
				    "status=\"%d\"} %llu\n", api_route_name(rt), api_statuses[s],
				    (unsigned long long)v);
			else
				FCGX_FPrintF(out, "tutti_api_requests_total{route=\"%s\","
				    "status=\"other\"} %llu\n", api_route_name(rt),
				    (unsigned long long)v);
		}
}

static void
api_metrics_latency(FCGX_Stream *out, const struct api_metrics *m)
{
	uint64_t cum, n;
	size_t rt, b;

	FCGX_PutS("# HELP tutti_api_request_duration_seconds Time from accepting a "
	    "request to its last byte, by route.\n"
	    "# TYPE tutti_api_request_duration_seconds histogram\n", out);
	for (rt = 0; rt < ROUTE_COUNT; rt++) {
		if ((n = api_load(&m->count[rt])) == 0)
			continue;
		for (b = 0, cum = 0; b < API_NBUCKET; b++) {
			cum += api_load(&m->buckets[rt][b]);
			FCGX_FPrintF(out, "tutti_api_request_duration_seconds_bucket{route="
			    "\"%s\",le=\"%g\"} %llu\n", api_route_name(rt),
			    api_buckets_us[b] / 1e6, (unsigned long long)cum);
		}
		FCGX_FPrintF(out, "tutti_api_request_duration_seconds_bucket{route=\"%s\","
		    "le=\"+Inf\"} %llu\n", api_route_name(rt), (unsigned long long)n);
		FCGX_FPrintF(out, "tutti_api_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
		    api_route_name(rt), api_load(&m->sum_us[rt]) / 1e6);
		FCGX_FPrintF(out, "tutti_api_request_duration_seconds_count{route=\"%s\"} "
		    "%llu\n", api_route_name(rt), (unsigned long long)n);
	}
}

void
api_metrics(struct api_req *r)
{
	FCGX_Stream *out = r->fcgi->out;
	const struct api_metrics *m = r->t->cfg->metrics;

	r->status = 200;
	FCGX_PutS("Status: 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
	    "charset=utf-8\r\nCache-Control: no-store\r\n\r\n", out);
	api_metrics_requests(out, m);
	api_metrics_latency(out, m);
	FCGX_FPrintF(out, "# HELP tutti_api_upload_bytes_total Bytes of upload bodies "
	    "received (including chunks later refused).\n# TYPE tutti_api_upload_bytes_total counter\n"
	    "tutti_api_upload_bytes_total %llu\n",
	    (unsigned long long)api_load(&m->upload_bytes));
}
