/*
 * test_fuzz_regress.c - unit tests for bugs the fuzzers (tests/fuzz) found,
 * one test per bug, each with its input kept in tests/fuzz/corpus too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "query.h"

/*
 * fuzz_route: a raw NUL in a query was copied into the decoded value, so the
 * returned length disagreed with the C string and "room\0x" matched the key
 * "room" (corpus: route/regress-query-raw-nul). A NUL is refused, escaped or
 * raw.
 */
static void
test_query_raw_nul(void **state)
{
	static const char q[] = "q=a\0b&room\0x=K7Q2M&token=t";
	char out[64];

	(void)state;
	assert_int_equal(query_decode("a\0b", 3, out, sizeof(out)), -1);
	assert_int_equal(query_decode("a%00b", 5, out, sizeof(out)), -1);
	assert_int_equal(query_decode("a+b%41", 6, out, sizeof(out)), 4);
	assert_string_equal(out, "a bA");
	assert_int_equal(query_get(q, sizeof(q) - 1, "q", out, sizeof(out)), -2);
	assert_int_equal(query_get(q, sizeof(q) - 1, "room", out, sizeof(out)), -2);
	assert_int_equal(query_get("room=K7Q2M", 10, "room", out, sizeof(out)), 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_raw_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
