/*
 * test_presence.c - unit tests of common/presence.c: the EVAL argument
 * vector of the presence script (the relays and the worker build it the
 * same way), the relay id check, and the parser of the relay hash's fields.
 * The script itself runs against a real Redis in
 * tests/integration/test_presence.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "presence.h"
#include "rkeys.h"

/* Asserts that argument i of a is exactly s. */
static void
arg_is(const struct presence_args *a, int i, const char *s)
{
	assert_int_equal(a->argvlen[i], strlen(s));
	assert_memory_equal(a->argv[i], s, strlen(s));
}

static void
test_presence_args(void **state)
{
	struct presence_args a;

	(void)state;
	assert_int_equal(presence_args(&a, "r1", "ABCDE", 42, -3), 0);
	arg_is(&a, 0, "EVAL");
	arg_is(&a, 1, presence_script);
	arg_is(&a, 2, "3");
	arg_is(&a, 3, RKEY_PRESENCE "ABCDE");
	arg_is(&a, 4, RKEY_RELAY_CONNS "r1");
	arg_is(&a, 5, RKEY_CMD_STREAM);
	arg_is(&a, 6, "ABCDE");
	arg_is(&a, 7, "42");
	arg_is(&a, 8, "-3");
	assert_int_equal(presence_args(&a, "relay-2.example_x", "ZZZZZ",
	    INT64_MAX, INT64_MIN), 0);
	arg_is(&a, 4, RKEY_RELAY_CONNS "relay-2.example_x");
	arg_is(&a, 7, "9223372036854775807");
	arg_is(&a, 8, "-9223372036854775808");
	/* A relay id of the longest length fits its key. */
	assert_int_equal(presence_args(&a, "0123456789abcdef0123456789abcdef", "ABCDE", 1,
	    1), 0);
	arg_is(&a, 4, RKEY_RELAY_CONNS "0123456789abcdef0123456789abcdef");
}

static void
test_presence_args_refused(void **state)
{
	struct presence_args a;

	(void)state;
	assert_int_equal(presence_args(&a, "r1", "ABCDE", 0, 1), -1);
	assert_int_equal(presence_args(&a, "r1", "ABCDE", -5, 1), -1);
	assert_int_equal(presence_args(&a, "r1", "ABCDE", 5, 0), -1);
	assert_int_equal(presence_args(&a, "r1", "abcde", 5, 1), -1);
	assert_int_equal(presence_args(&a, "r1", "ABCD", 5, 1), -1);
	assert_int_equal(presence_args(&a, "r1", "ABCDEF", 5, 1), -1);
	assert_int_equal(presence_args(&a, "r1", "ABC1E", 5, 1), -1);	/* 1 is not in it */
	assert_int_equal(presence_args(&a, "", "ABCDE", 5, 1), -1);
	assert_int_equal(presence_args(&a, "r 1", "ABCDE", 5, 1), -1);
	assert_int_equal(presence_args(&a, "r:1", "ABCDE", 5, 1), -1);
	assert_int_equal(presence_args(&a, "0123456789abcdef0123456789abcdefX", "ABCDE", 5,
	    1), -1);
}

static void
test_presence_relay_valid(void **state)
{
	(void)state;
	assert_int_equal(presence_relay_valid("r1", 2), 1);
	assert_int_equal(presence_relay_valid("A.b_c-9", 7), 1);
	assert_int_equal(presence_relay_valid("r1\0x", 4), 0);
	assert_int_equal(presence_relay_valid("r1", 0), 0);
	assert_int_equal(presence_relay_valid("r/1", 3), 0);
	assert_int_equal(presence_relay_valid("\xc3\xa9", 2), 0);
}

struct frow {
	const char *f;
	int ok;
	const char *code;
	int64_t user;
};

static const struct frow frows[] = {
	{ "ABCDE:1", 1, "ABCDE", 1 },
	{ "ZZZZZ:9223372036854775807", 1, "ZZZZZ", INT64_MAX },
	{ "ABCDE:42", 1, "ABCDE", 42 },
	{ "ABCDE:9223372036854775808", 0, NULL, 0 },
	{ "ABCDE:0", 0, NULL, 0 },
	{ "ABCDE:042", 0, NULL, 0 },
	{ "ABCDE:-1", 0, NULL, 0 },
	{ "ABCDE:", 0, NULL, 0 },
	{ "ABCDE", 0, NULL, 0 },
	{ "ABCDE:1x", 0, NULL, 0 },
	{ "ABCDE:1:2", 0, NULL, 0 },
	{ "ABCD:12", 0, NULL, 0 },
	{ "abcde:12", 0, NULL, 0 },
	{ "ABCDEF:12", 0, NULL, 0 },
	{ "", 0, NULL, 0 },
};

static void
test_presence_field(void **state)
{
	char code[CODE_LEN + 1], buf[64];
	int64_t user;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(frows) / sizeof(frows[0]); i++) {
		user = 0;
		n = strlen(frows[i].f);
		/* Not NUL-terminated: a '9' follows, which must not be read. */
		memcpy(buf, frows[i].f, n);
		buf[n] = '9';
		if (presence_field_parse(buf, n, code, &user) != (frows[i].ok ? 0 : -1)) {
			print_error("field \"%s\": want %s\n", frows[i].f, frows[i].ok ? "ok" :
			    "refused");
			fail();
		}
		if (frows[i].ok) {
			assert_string_equal(code, frows[i].code);
			assert_true(user == frows[i].user);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_presence_args),
		cmocka_unit_test(test_presence_args_refused),
		cmocka_unit_test(test_presence_relay_valid),
		cmocka_unit_test(test_presence_field),
	};

	return cmocka_run_group_tests_name("presence", tests, NULL, NULL);
}
