/*
 * test_worker_roles.c - table-driven unit tests of roles_decide()
 * (worker/roles.c), the decision of presence to roles: each row is a room's
 * present users after one user's transition, the marks before, and the
 * marks expected after (admin_lost_us starts the promotion grace period,
 * empty_since_us the idle time before the close).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../worker/roles.h"

#define NOW 1700000000000000LL	/* the decision's now_us */
#define T0  1699999999000000LL	/* a mark set earlier */
#define U   ROLES_UNSET

struct rrow {
	const char *name;
	const char *users;	/* present users after the change: A/a admin, M/m
				 * member; upper case online */
	int admin;		/* the user who changed is an admin */
	int online;		/* and is now online (1) or offline (0) */
	struct roles_marks cur;
	struct roles_marks want;
};

static const struct rrow rrows[] = {
	/* The admin goes offline. */
	{ "admin offline, alone: grace and idle start", "a", 1, 0, { U, U }, { NOW, NOW } },
	{ "admin offline, a member listens: grace starts", "aM", 1, 0, { U, U },
	    { NOW, U } },
	{ "admin offline, grace already running: kept", "aM", 1, 0, { T0, U },
	    { T0, U } },
	{ "admin offline, idle already running: kept", "am", 1, 0, { U, T0 },
	    { NOW, T0 } },
	{ "one of two admins offline, the other online: no grace", "aAm", 1, 0, { U, U },
	    { U, U } },
	/* The admin comes back: a page reload within the grace period. */
	{ "admin online again: grace and idle end", "Am", 1, 1, { T0, T0 }, { U, U } },
	{ "admin online, nothing was running", "AM", 1, 1, { U, U }, { U, U } },
	/* Members. */
	{ "member offline, admin online: nothing", "Am", 0, 0, { U, U }, { U, U } },
	{ "member offline, another listens, admin REST only: nothing", "amM", 0, 0,
	    { U, U }, { U, U } },
	{ "last listener offline, admin REST only: idle, no grace", "amm", 0, 0,
	    { U, U }, { U, NOW } },
	{ "member online, admin REST only: no grace", "aM", 0, 1, { U, U }, { U, U } },
	{ "member online ends the idle time", "aM", 0, 1, { U, T0 }, { U, U } },
	{ "member online, admin gone: grace goes on", "mM", 0, 1, { T0, U }, { T0, U } },
	{ "member online, admin offline: grace goes on", "aM", 0, 1, { T0, T0 },
	    { T0, U } },
	{ "member offline, admin left before: grace goes on, idle starts", "m", 0, 0,
	    { T0, U }, { T0, NOW } },
	{ "member offline, idle already running: kept", "mm", 0, 0, { T0, T0 },
	    { T0, T0 } },
	{ "member online while an admin is online: grace ends", "AM", 0, 1, { T0, U },
	    { U, U } },
};

/* Runs one row. Returns 0 when it behaves as expected, else prints why. */
static int
rrow_run(const struct rrow *r)
{
	struct roles_tally t;
	struct roles_marks out = { -1, -1 };
	const char *p;
	int changed, want_changed;

	memset(&t, 0, sizeof(t));
	for (p = r->users; *p != '\0'; p++)
		roles_tally_add(&t, *p == 'a' || *p == 'A', *p == 'A' || *p == 'M');
	changed = roles_decide(&t, r->admin, r->online, &r->cur, NOW, &out);
	want_changed = r->want.admin_lost_us != r->cur.admin_lost_us ||
	    r->want.empty_since_us != r->cur.empty_since_us;
	if (out.admin_lost_us == r->want.admin_lost_us &&
	    out.empty_since_us == r->want.empty_since_us && changed == want_changed)
		return 0;
	print_error("row \"%s\": admin_lost %lld empty_since %lld changed %d\n", r->name,
	    (long long)out.admin_lost_us, (long long)out.empty_since_us, changed);
	return 1;
}

static void
test_roles_table(void **state)
{
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(rrows) / sizeof(rrows[0]); i++)
		failed += rrow_run(&rrows[i]);
	assert_int_equal(failed, 0);
}

/* A page reload: offline then online within the grace period leaves the
 * room as it was, so the sweep finds nothing to promote. */
static void
test_roles_reload(void **state)
{
	struct roles_tally off = { 2, 1, 0 }, on = { 2, 2, 1 };
	struct roles_marks m0 = { U, U }, m1, m2;

	(void)state;
	assert_int_equal(roles_decide(&off, 1, 0, &m0, NOW, &m1), 1);
	assert_true(m1.admin_lost_us == NOW && m1.empty_since_us == U);
	assert_int_equal(roles_decide(&on, 1, 1, &m1, NOW + 300000, &m2), 1);
	assert_true(m2.admin_lost_us == U && m2.empty_since_us == U);
}

static void
test_roles_tally(void **state)
{
	struct roles_tally t;

	(void)state;
	memset(&t, 0, sizeof(t));
	roles_tally_add(&t, 1, 0);
	roles_tally_add(&t, 1, 1);
	roles_tally_add(&t, 0, 1);
	roles_tally_add(&t, 0, 0);
	assert_int_equal(t.present, 4);
	assert_int_equal(t.online, 2);
	assert_int_equal(t.admins_online, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles_table),
		cmocka_unit_test(test_roles_reload),
		cmocka_unit_test(test_roles_tally),
	};

	return cmocka_run_group_tests_name("worker_roles", tests, NULL, NULL);
}
