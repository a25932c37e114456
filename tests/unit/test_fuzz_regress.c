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
#include "../../fcgi/tus.h"

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

/*
 * fuzz_tus: tus_filename() dropped control bytes but looked for C1 and bidi
 * controls in the input, so "a" E2 01 80 AE "b" lost its 01 and kept the
 * right-to-left override U+202E that the remaining bytes spelled, in the
 * name that becomes a track's title (corpus: tus/regress-filename-joined-bidi).
 * The output is checked now.
 */
static void
test_filename_joined_controls(void **state)
{
	char out[TUS_NAME_MAX + 1];

	(void)state;
	tus_filename((const unsigned char *)"a\xe2\x01\x80\xae" "b", 6, out);
	assert_string_equal(out, "ab");
	tus_filename((const unsigned char *)"x\xc2\x7f\x85y", 5, out);
	assert_string_equal(out, "xy");
	tus_filename((const unsigned char *)"\xe2\xc2\x85\x81\xa6z", 6, out);
	assert_string_equal(out, "z");
	/* what was right stays right */
	tus_filename((const unsigned char *)"d/\xc3\x01\xa9t\xc3\xa9 .mp3", 13, out);
	assert_string_equal(out, "\xc3\xa9t\xc3\xa9 .mp3");
	tus_filename((const unsigned char *)"evil\xe2\x80\xaegpj.exe", 14, out);
	assert_string_equal(out, "evilgpj.exe");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_raw_nul),
		cmocka_unit_test(test_filename_joined_controls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
