/*
 * lead.c - the adaptive lead (see lead.h). A poll round is one SMEMBERS of
 * the relay set and one HGETALL per relay on the write connection; each
 * room's values are folded into acc_us, and the round's end makes them
 * current, so a reader never sees a half-read round. Rooms are found in a
 * chained hash table by code, as apply.c asks once per decision.
 */
#include "lead.h"
#include "log.h"
#include "rkeys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LEAD_MIN_BUCKETS 64
#define LEAD_P95_MAX     INT64_C(60000000)	/* a larger report is ignored */

int64_t
lead_compute(const struct lead_config *cfg, int64_t p95_us)
{
	int64_t min = cfg->min_us > 0 ? cfg->min_us : 0, v;

	if (p95_us <= 0)
		return min;
	if (__builtin_mul_overflow(p95_us, 2, &v) ||
	    __builtin_add_overflow(v, cfg->margin_us > 0 ? cfg->margin_us : 0, &v))
		v = INT64_MAX;
	if (v > cfg->max_us)
		v = cfg->max_us;
	return v > min ? v : min;
}

static size_t
lead_slot(size_t nbucket, const char *code)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	while (*code != '\0')
		h = (h ^ (unsigned char)*code++) * 16777619u;
	return h & (nbucket - 1);
}

static struct lead_room *
lead_find(const struct lead *l, const char *code)
{
	struct lead_room *r;

	if (l == NULL || l->bucket == NULL)
		return NULL;
	for (r = l->bucket[lead_slot(l->nbucket, code)]; r != NULL; r = r->next)
		if (strcmp(r->code, code) == 0)
			return r;
	return NULL;
}

/* Doubles the table when it is full; on failure the chains just get longer. */
static void
lead_grow(struct lead *l)
{
	size_t n = l->nbucket * 2, i;
	struct lead_room **b, *r, *next;

	if (l->count < l->nbucket || (b = calloc(n, sizeof(*b))) == NULL)
		return;
	for (i = 0; i < l->nbucket; i++)
		for (r = l->bucket[i]; r != NULL; r = next) {
			next = r->next;
			r->next = b[lead_slot(n, r->code)];
			b[lead_slot(n, r->code)] = r;
		}
	free(l->bucket);
	l->bucket = b;
	l->nbucket = n;
}

/* Returns the record of code, created (p95 0) when absent, or NULL when out
 * of memory. */
static struct lead_room *
lead_get(struct lead *l, const char *code)
{
	struct lead_room *r = lead_find(l, code);
	size_t slot;

	if (r != NULL || l->bucket == NULL)
		return r;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	memcpy(r->code, code, strlen(code) + 1);
	lead_grow(l);
	slot = lead_slot(l->nbucket, code);
	r->next = l->bucket[slot];
	l->bucket[slot] = r;
	l->count++;
	return r;
}

/* Parses a p95 field value: decimal µs in [0, LEAD_P95_MAX]. Returns 0 or
 * -1. */
static int
lead_parse_us(const char *s, int64_t *v)
{
	char *end;
	long long x;

	errno = 0;
	x = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || x < 0 || x > LEAD_P95_MAX)
		return -1;
	*v = x;
	return 0;
}

void
lead_take(struct lead *l, const char *const *fields, size_t nfields)
{
	struct lead_room *r;
	int64_t v;
	size_t i;

	for (i = 0; i + 1 < nfields; i += 2) {
		if (strlen(fields[i]) >= STORE_CODE_MAX || fields[i][0] == '\0' ||
		    lead_parse_us(fields[i + 1], &v) != 0 ||
		    (r = lead_get(l, fields[i])) == NULL)
			continue;
		if (r->round != l->round) {
			r->round = l->round;
			r->acc_us = v;
		} else if (v > r->acc_us)
			r->acc_us = v;
	}
}

void
lead_round_end(struct lead *l)
{
	struct lead_room **p, *r;
	size_t i;

	for (i = 0; l->bucket != NULL && i < l->nbucket; i++)
		for (p = &l->bucket[i]; (r = *p) != NULL;) {
			if (r->round == l->round) {
				r->p95_us = l->failed && r->acc_us < r->p95_us ? r->p95_us :
				    r->acc_us;
			} else if (!l->failed) {
				*p = r->next;
				free(r);
				l->count--;
				continue;
			}
			p = &r->next;
		}
}

int64_t
lead_room_p95(const struct lead *l, const char *code)
{
	const struct lead_room *r = lead_find(l, code);

	return r != NULL ? r->p95_us : 0;
}

int64_t
lead_room_us(const struct lead *l, const char *code, int64_t fallback_us)
{
	if (l == NULL)
		return fallback_us;
	return lead_compute(&l->cfg, lead_room_p95(l, code));
}

/* One reply of the round came (or was lost: reply NULL or not an array). */
static void
lead_reply_done(struct lead *l, int ok)
{
	if (!ok)
		l->failed = 1;
	if (--l->pending == 0 && l->bucket != NULL)
		lead_round_end(l);
}

/* hiredis callback of HGETALL tutti:rtt:{id}; privdata is the lead. The
 * reply belongs to hiredis. */
static void
lead_on_hash(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct lead *l = privdata;
	redisReply *r = reply;
	const char *f[2];
	size_t i;

	(void)ac;
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && l->bucket != NULL)
		for (i = 0; i + 1 < r->elements; i += 2) {
			if (r->element[i]->type != REDIS_REPLY_STRING ||
			    r->element[i + 1]->type != REDIS_REPLY_STRING)
				continue;
			f[0] = r->element[i]->str;
			f[1] = r->element[i + 1]->str;
			lead_take(l, f, 2);
		}
	lead_reply_done(l, r != NULL && r->type == REDIS_REPLY_ARRAY);
}

/* hiredis callback of SMEMBERS tutti:relays; privdata is the lead. */
static void
lead_on_relays(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct lead *l = privdata;
	redisReply *r = reply;
	size_t i;

	(void)ac;
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && l->bucket != NULL)
		for (i = 0; i < r->elements; i++) {
			if (r->element[i]->type != REDIS_REPLY_STRING)
				continue;
			if (rconn_cmd(l->rc, lead_on_hash, l, "HGETALL " RKEY_RTT "%s",
			    r->element[i]->str) == 0)
				l->pending++;
			else
				l->failed = 1;
		}
	lead_reply_done(l, r != NULL && r->type == REDIS_REPLY_ARRAY);
}

/* libuv timer callback; t->data is the lead. */
static void
lead_on_timer(uv_timer_t *t)
{
	struct lead *l = t->data;

	if (l->pending > 0 || !l->rc->ready)
		return;		/* the round in flight ends first */
	l->round++;
	l->failed = 0;
	if (rconn_cmd(l->rc, lead_on_relays, l, "SMEMBERS " RKEY_RELAYS) == 0)
		l->pending = 1;
	else
		log_debug("lead: the relays' round trips wait for Redis");
}

int
lead_init(struct lead *l, uv_loop_t *loop, struct rconn *rc, const struct lead_config *cfg)
{
	memset(l, 0, sizeof(*l));
	l->cfg = *cfg;
	l->rc = rc;
	uv_timer_init(loop, &l->timer);
	l->timer.data = l;
	l->nbucket = LEAD_MIN_BUCKETS;
	if ((l->bucket = calloc(l->nbucket, sizeof(*l->bucket))) == NULL) {
		log_err("lead: out of memory");
		l->nbucket = 0;
		return -1;
	}
	return 0;
}

void
lead_start(struct lead *l)
{
	uv_timer_start(&l->timer, lead_on_timer, LEAD_POLL_MS, LEAD_POLL_MS);
}

void
lead_close(struct lead *l)
{
	struct lead_room *r, *next;
	size_t i;

	if (!uv_is_closing((uv_handle_t *)&l->timer))
		uv_close((uv_handle_t *)&l->timer, NULL);
	for (i = 0; l->bucket != NULL && i < l->nbucket; i++)
		for (r = l->bucket[i]; r != NULL; r = next) {
			next = r->next;
			free(r);
		}
	free(l->bucket);
	l->bucket = NULL;
	l->nbucket = l->count = 0;
}
