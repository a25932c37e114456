/*
 * rtt.c - a room's reported round trips and their p95 (see rtt.h). The
 * p95 is taken once a second per room over at most RTT_RING samples: a
 * copy and a qsort, cheaper than keeping an order on every sample.
 */
#include "rtt.h"

#include <stdlib.h>

void
rtt_add(struct rtt_ring *r, uint32_t us, uint64_t now_ms)
{
	r->us[r->head] = us;
	r->t_ms[r->head] = now_ms;
	r->head = (r->head + 1) % RTT_RING;
	if (r->n < RTT_RING)
		r->n++;
}

static int
rtt_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

int64_t
rtt_p95(const struct rtt_ring *r, uint64_t now_ms, uint64_t max_age_ms)
{
	uint32_t v[RTT_RING];
	size_t i, k = 0;

	for (i = 0; i < r->n; i++)
		if (now_ms - r->t_ms[i] <= max_age_ms || r->t_ms[i] > now_ms)
			v[k++] = r->us[i];
	if (k == 0)
		return 0;
	qsort(v, k, sizeof(v[0]), rtt_cmp);
	/* nearest rank: the ceil(0.95 k)-th smallest */
	return v[(k * 95 + 99) / 100 - 1];
}
