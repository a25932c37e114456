/*
 * test_cli_parse.c - the CLI's parsers of what people type: server
 * addresses (http_base_url, cli/http.c), room codes and share links
 * (cmd_code, cli/cmd_util.c) and durations (out_parse_dur, cli/out.c).
 * Each accepted form is checked for its exact result, each refused one for
 * its refusal (and for leaving the output alone where the contract says so).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/cmd.h"
#include "../../cli/http.h"
#include "../../cli/out.h"

static void
test_base_url_accepts(void **state)
{
	static const char *const cases[][2] = {
		{ "127.0.0.1:8080", "http://127.0.0.1:8080" },
		{ "localhost", "http://localhost" },
		{ "http://Tutti.Example.ORG/", "http://tutti.example.org" },
		{ "HTTP://host:81", "http://host:81" },
		{ "https://host", "https://host" },
		{ "ws://host:9", "http://host:9" },
		{ "WSS://host///", "https://host" },
		{ "http://[::1]:8080", "http://[::1]:8080" },
	};
	char why[160];
	size_t i;
	char *u;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		u = http_base_url(cases[i][0], why, sizeof(why));
		if (u == NULL)
			fail_msg("%s: refused: %s", cases[i][0], why);
		assert_string_equal(u, cases[i][1]);
		assert_string_equal(why, "");
		free(u);
	}
}

static void
test_base_url_refuses(void **state)
{
	static const char *const cases[][2] = {
		{ "", "expected" },
		{ "host name", "expected" },
		{ "ftp://host", "scheme must be http or https" },
		{ "http://host/tutti", "drop the path /tutti" },
		{ "http://host/?a=1", "without a query" },
		{ "http://host/#x", "without a query, fragment" },
		{ "http://me@host", "or user" },
	};
	char why[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (http_base_url(cases[i][0], why, sizeof(why)) != NULL)
			fail_msg("%s: accepted", cases[i][0]);
		if (strstr(why, cases[i][1]) == NULL)
			fail_msg("%s: reason \"%s\" lacks \"%s\"", cases[i][0], why, cases[i][1]);
	}
}

static void
test_code(void **state)
{
	static const char *const good[][2] = {
		{ "ABCDE", "ABCDE" },
		{ "abcde", "ABCDE" },
		{ "  x7k9m\t", "X7K9M" },
		{ "http://127.0.0.1:8080/r/hjk23", "HJK23" },
		{ "https://tutti.example.org/r/HJK23/", "HJK23" },
		{ "23456", "23456" },
	};
	static const char *const bad[] = {
		"", "ABCD", "ABCDEF", "ABCD1", "ABCDO", "ABCDI", "ABCDL", "ABC E",
		"http://host/r/", "http://host/r/ABCDE?x=1", "http://host/r/ABCDE/more",
		"AB\xc3\x89" "CD",
	};
	char out[CMD_CODE_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (cmd_code(good[i][0], out) != 0)
			fail_msg("\"%s\": refused", good[i][0]);
		assert_string_equal(out, good[i][1]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cmd_code(bad[i], out) != -1)
			fail_msg("\"%s\": accepted as %s", bad[i], out);
}

static void
test_dur(void **state)
{
	static const struct {
		const char *in;
		int64_t us;
	} good[] = {
		{ "0", 0 },
		{ "83", 83000000 },
		{ "83.5", 83500000 },
		{ "0.000001", 1 },
		{ "1:23", 83000000 },
		{ "01:23.25", 83250000 },
		{ "1:02:03", 3723000000 },
		{ "0:59", 59000000 },
		{ "1000000:00:00", (int64_t)1000000 * 3600 * 1000000 },
	};
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", ".5", "1.", "1.1234567", "1:60", "1:2:60",
		"1:2:3:4", "1::2", ":30", "1:", "1e3", "0x10", "1000000:00:01",
		"99999999999999999999",
	};
	int64_t us;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		us = -7;
		if (out_parse_dur(good[i].in, &us) != 0)
			fail_msg("\"%s\": refused", good[i].in);
		if (us != good[i].us)
			fail_msg("\"%s\": %lld, not %lld", good[i].in, (long long)us,
			    (long long)good[i].us);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		us = -7;
		if (out_parse_dur(bad[i], &us) != -1)
			fail_msg("\"%s\": accepted as %lld", bad[i], (long long)us);
		assert_true(us == -7);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_url_accepts),
		cmocka_unit_test(test_base_url_refuses),
		cmocka_unit_test(test_code),
		cmocka_unit_test(test_dur),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
