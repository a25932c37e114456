/*
 * test_worker_fence.c - the active worker's fencing token (worker/store.c,
 * sql/008_worker_fence.sql) on a real migrated SQLite file: two stores on
 * one database play two workers; once the second takes the fence, every
 * write transaction of the first is refused and it says it is fenced, while
 * its reads go on; taking the fence again gives it back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "../../common/db.h"
#include "../../worker/store.h"

struct fx {
	char dir[32];
	char path[64];
	struct store *a, *b;
};

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	sqlite3 *db;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tutti-fence-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	assert_non_null(db = db_open(f->path));
	assert_true(db_migrate(db, "sql") >= 8);
	sqlite3_close(db);
	assert_non_null(f->a = store_open(f->path));
	assert_non_null(f->b = store_open(f->path));
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;
	char p[80];

	store_close(f->a);
	store_close(f->b);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A write transaction begun and rolled back: 0, or what store_begin said. */
static int
try_write(struct store *st)
{
	if (store_begin(st, 1) != 0)
		return -1;
	store_rollback(st);
	return 0;
}

static void
test_fence_unfenced(void **state)
{
	struct fx *f = *state;

	/* before any fence is taken (tools, tests): writes as before */
	assert_int_equal(try_write(f->a), 0);
	assert_int_equal(store_fenced(f->a), 0);
}

static void
test_fence_takeover(void **state)
{
	struct fx *f = *state;
	struct store_room r;

	assert_int_equal(store_fence_take(f->a, "worker-1", 1), 0);
	assert_int_equal(try_write(f->a), 0);
	assert_int_equal(try_write(f->a), 0);
	/* worker-2 takes over while worker-1 is stalled */
	assert_int_equal(store_fence_take(f->b, "worker-2", 2), 0);
	assert_int_equal(try_write(f->b), 0);
	assert_int_equal(store_fenced(f->a), 0);	/* not known before it writes */
	assert_int_equal(try_write(f->a), -1);
	assert_int_equal(store_fenced(f->a), 1);
	assert_int_equal(try_write(f->a), -1);		/* and stays so */
	/* no transaction was left open: a read still works */
	assert_int_equal(store_begin(f->a, 0), 0);
	assert_int_equal(store_room_by_code(f->a, "NOONE", &r), 1);
	store_rollback(f->a);
	assert_int_equal(try_write(f->b), 0);
	/* worker-1 takes the lease again later: the fence is back with it */
	assert_int_equal(store_fence_take(f->a, "worker-1", 3), 0);
	assert_int_equal(store_fenced(f->a), 0);
	assert_int_equal(try_write(f->a), 0);
	assert_int_equal(try_write(f->b), -1);
	assert_int_equal(store_fenced(f->b), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fence_unfenced, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fence_takeover, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
