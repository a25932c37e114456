/*
 * test_lead.c - the adaptive lead: the pure lead function of worker/lead.c
 * (table-driven), the per-room maximum over relays across poll rounds, the
 * relay's ring of reported round trips and its p95 (relay/rtt.c), and the
 * optional rtt_us of a ping (relay/msg.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../relay/msg.h"
#include "../../relay/rtt.h"
#include "../../worker/lead.h"

#define MS INT64_C(1000)

static const struct lead_config defaults = { 250 * MS, 50 * MS, 2000 * MS };

struct lead_row {
	const char *name;
	struct lead_config cfg;
	int64_t p95;
	int64_t want;
};

static const struct lead_row lead_rows[] = {
	{ "no report: the minimum", { 250 * MS, 50 * MS, 2000 * MS }, 0, 250 * MS },
	{ "negative p95 is unknown: the minimum", { 250 * MS, 50 * MS, 2000 * MS }, -5,
	    250 * MS },
	{ "small RTT: the minimum", { 250 * MS, 50 * MS, 2000 * MS }, 20 * MS, 250 * MS },
	{ "exactly the minimum", { 250 * MS, 50 * MS, 2000 * MS }, 100 * MS, 250 * MS },
	{ "just above", { 250 * MS, 50 * MS, 2000 * MS }, 100 * MS + 1, 250 * MS + 2 },
	{ "400 ms: 2 x 400 + 50", { 250 * MS, 50 * MS, 2000 * MS }, 400 * MS, 850 * MS },
	{ "capped", { 250 * MS, 50 * MS, 2000 * MS }, 1500 * MS, 2000 * MS },
	{ "a cap below the minimum: the minimum wins", { 250 * MS, 50 * MS, 100 * MS },
	    400 * MS, 250 * MS },
	{ "no margin", { 0, 0, 5000 * MS }, 300 * MS, 600 * MS },
	{ "negative settings count as 0", { -1, -1, 5000 * MS }, 300 * MS, 600 * MS },
	{ "2 x p95 overflows: the cap", { 250 * MS, 50 * MS, 2000 * MS }, INT64_MAX,
	    2000 * MS },
	{ "+ margin overflows: the cap", { 250 * MS, INT64_MAX, INT64_MAX }, 1, INT64_MAX },
};

static void
test_lead_compute(void **state)
{
	size_t i;
	int failed = 0;
	int64_t got;

	(void)state;
	for (i = 0; i < sizeof(lead_rows) / sizeof(lead_rows[0]); i++) {
		got = lead_compute(&lead_rows[i].cfg, lead_rows[i].p95);
		if (got != lead_rows[i].want) {
			print_error("row \"%s\": %lld, want %lld\n", lead_rows[i].name,
			    (long long)got, (long long)lead_rows[i].want);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* Starts a round as the poll does. */
static void
round_begin(struct lead *l)
{
	l->round++;
	l->failed = 0;
}

/* Rounds of relay reports: the max over relays becomes current at the
 * round's end; a room nobody reports is forgotten, unless a reply was
 * missing; junk fields are skipped. */
static void
test_lead_rounds(void **state)
{
	static const char *const relay_a[] = { "ABCDEF", "400000", "QWERTY", "10000",
		"", "5", "TOOLONGCODE_TOOLONG", "5", "JUNK01", "12x", "JUNK02", "-1",
		"JUNK03", "60000001" };
	static const char *const relay_b[] = { "ABCDEF", "120000", "ZZZZZZ", "300000" };
	static const char *const relay_c[] = { "ABCDEF", "90000" };
	struct lead l;
	uv_loop_t loop;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(lead_init(&l, &loop, NULL, &defaults), 0);
	assert_int_equal(lead_room_us(&l, "ABCDEF", 0), 250 * MS);
	round_begin(&l);
	lead_take(&l, relay_a, sizeof(relay_a) / sizeof(relay_a[0]));
	lead_take(&l, relay_b, sizeof(relay_b) / sizeof(relay_b[0]));
	/* Nothing changes before the round ends. */
	assert_int_equal(lead_room_p95(&l, "ABCDEF"), 0);
	lead_round_end(&l);
	assert_int_equal(lead_room_p95(&l, "ABCDEF"), 400000);
	assert_int_equal(lead_room_us(&l, "ABCDEF", 0), 850 * MS);
	assert_int_equal(lead_room_us(&l, "ZZZZZZ", 0), 650 * MS);
	assert_int_equal(lead_room_us(&l, "QWERTY", 0), 250 * MS);
	assert_int_equal(lead_room_p95(&l, "JUNK01"), 0);
	assert_int_equal(lead_room_p95(&l, "JUNK02"), 0);
	assert_int_equal(lead_room_p95(&l, "JUNK03"), 0);
	/* The next round: lower values replace, absent rooms go. */
	round_begin(&l);
	lead_take(&l, relay_c, 2);
	lead_round_end(&l);
	assert_int_equal(lead_room_p95(&l, "ABCDEF"), 90000);
	assert_int_equal(lead_room_p95(&l, "ZZZZZZ"), 0);
	assert_int_equal(l.count, 1);
	/* A round with a missing reply only raises. */
	round_begin(&l);
	l.failed = 1;
	lead_take(&l, relay_b, 2);
	lead_round_end(&l);
	assert_int_equal(lead_room_p95(&l, "ABCDEF"), 120000);
	round_begin(&l);
	l.failed = 1;
	lead_take(&l, relay_c, 2);
	lead_round_end(&l);
	assert_int_equal(lead_room_p95(&l, "ABCDEF"), 120000);
	/* No table: the fallback. */
	assert_int_equal(lead_room_us(NULL, "ABCDEF", 123), 123);
	lead_close(&l);
	lead_close(&l);
	assert_int_equal(lead_room_us(&l, "ABCDEF", 0), 250 * MS);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Many rooms: the table grows and finds every one. */
static void
test_lead_many(void **state)
{
	const char *f[2];
	char code[8], val[16];
	struct lead l;
	uv_loop_t loop;
	int i;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(lead_init(&l, &loop, NULL, &defaults), 0);
	round_begin(&l);
	for (i = 0; i < 1000; i++) {
		snprintf(code, sizeof(code), "R%05d", i);
		snprintf(val, sizeof(val), "%d", i * 1000);
		f[0] = code;
		f[1] = val;
		lead_take(&l, f, 2);
	}
	lead_round_end(&l);
	assert_int_equal(l.count, 1000);
	for (i = 0; i < 1000; i++) {
		snprintf(code, sizeof(code), "R%05d", i);
		assert_int_equal(lead_room_p95(&l, code), i * 1000);
	}
	lead_close(&l);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void
test_rtt_ring(void **state)
{
	struct rtt_ring r;
	uint32_t i;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(rtt_p95(&r, 1000, RTT_AGE_MS), 0);
	rtt_add(&r, 7000, 1000);
	assert_int_equal(rtt_p95(&r, 1000, RTT_AGE_MS), 7000);
	/* 1..100 ms: the p95 by nearest rank is 95 ms. */
	memset(&r, 0, sizeof(r));
	for (i = 100; i >= 1; i--)
		rtt_add(&r, i * 1000, 5000);
	assert_int_equal(rtt_p95(&r, 5000, RTT_AGE_MS), 95000);
	/* The ring keeps the last RTT_RING: 200 more at 400 ms push them out. */
	for (i = 0; i < 200; i++)
		rtt_add(&r, 400000, 6000);
	assert_int_equal(r.n, RTT_RING);
	assert_int_equal(rtt_p95(&r, 6000, RTT_AGE_MS), 400000);
	/* Old samples stop counting. */
	assert_int_equal(rtt_p95(&r, 6000 + RTT_AGE_MS + 1, RTT_AGE_MS), 0);
	assert_int_equal(rtt_p95(&r, 6000 + RTT_AGE_MS, RTT_AGE_MS), 400000);
	/* One outlier among 128 is above the p95. */
	memset(&r, 0, sizeof(r));
	for (i = 0; i < RTT_RING - 1; i++)
		rtt_add(&r, 30000, 1);
	rtt_add(&r, 2000000, 1);
	assert_int_equal(rtt_p95(&r, 1, RTT_AGE_MS), 30000);
}

struct ping_row {
	const char *text;
	int want_kind;		/* msg_parse's result */
	int64_t want_rtt;
};

static const struct ping_row ping_rows[] = {
	{ "{\"type\":\"ping\",\"id\":1,\"t0\":5}", 1, -1 },
	{ "{\"type\":\"ping\",\"id\":1,\"t0\":5,\"rtt_us\":400000}", 1, 400000 },
	{ "{\"type\":\"ping\",\"id\":1,\"t0\":5,\"rtt_us\":0}", 1, 0 },
	{ "{\"type\":\"ping\",\"id\":1,\"t0\":5,\"rtt_us\":60000000}", 1, 60000000 },
	{ "{\"type\":\"ping\",\"id\":1,\"t0\":5,\"rtt_us\":60000001}", 1, -1 },
	{ "{\"type\":\"ping\",\"id\":1,\"t0\":5,\"rtt_us\":-1}", 1, -1 },
	{ "{\"type\":\"ping\",\"id\":1,\"t0\":5,\"rtt_us\":1.5}", 1, -1 },
	{ "{\"type\":\"ping\",\"id\":1,\"t0\":5,\"rtt_us\":\"400000\"}", 1, -1 },
	{ "{\"type\":\"ping\",\"id\":1,\"t0\":5,\"rtt_us\":null}", 1, -1 },
	{ "{\"type\":\"ping\",\"id\":1,\"t0\":5,\"rtt_us\":99999999999999999999}", -1, -1 },
	{ "{\"type\":\"ping\",\"id\":1,\"t0\":5,\"rtt_us\":1,\"rtt_us\":2}", -1, -1 },
	{ "{\"type\":\"chat\",\"rtt_us\":400000}", 0, -1 },
};

static void
test_ping_rtt(void **state)
{
	struct msg_ping p;
	size_t i, len;
	char *pong;
	int k;

	(void)state;
	for (i = 0; i < sizeof(ping_rows) / sizeof(ping_rows[0]); i++) {
		k = msg_parse(ping_rows[i].text, strlen(ping_rows[i].text), &p);
		assert_int_equal(k, ping_rows[i].want_kind);
		if (k != 1)
			continue;
		assert_int_equal(p.rtt_us, ping_rows[i].want_rtt);
		/* The pong does not echo it. */
		pong = msg_pong(&p, 10, 11, &len);
		assert_non_null(pong);
		assert_null(strstr(pong, "rtt"));
		free(pong);
		msg_ping_clear(&p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lead_compute),
		cmocka_unit_test(test_lead_rounds),
		cmocka_unit_test(test_lead_many),
		cmocka_unit_test(test_rtt_ring),
		cmocka_unit_test(test_ping_rtt),
	};

	return cmocka_run_group_tests_name("lead", tests, NULL, NULL);
}
