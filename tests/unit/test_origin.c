/*
 * test_origin.c - the relay's Origin check (relay/origin.c), table-driven,
 * each input placed flush against a guard page.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "guard.h"
#include "../../relay/origin.h"

static void
test_origin_rows(void **state)
{
	static const char *const allow[] = { "https://music.example.org" };
	static const struct {
		const char *origin;	/* NULL: no Origin header */
		const char *host;
		int want;
	} rows[] = {
		{ NULL, "127.0.0.1:8080", 1 },
		{ "http://127.0.0.1:8080", "127.0.0.1:8080", 1 },
		{ "HTTP://LocalHost:8080", "localhost:8080", 1 },
		{ "http://127.0.0.1:8080", "127.0.0.1", 0 },
		{ "http://127.0.0.1", "127.0.0.1:8080", 0 },
		{ "http://evil.example", "127.0.0.1:8080", 0 },
		{ "http://127.0.0.1:8080.evil.example", "127.0.0.1:8080", 0 },
		{ "http://127.0.0.1:8080/", "127.0.0.1:8080", 0 },
		{ "http://user@127.0.0.1:8080", "127.0.0.1:8080", 0 },
		{ "null", "127.0.0.1:8080", 0 },
		{ "", "127.0.0.1:8080", 0 },
		{ "http://", "", 0 },
		{ "127.0.0.1:8080", "127.0.0.1:8080", 0 },
		{ "https://music.example.org", "10.0.0.5:8101", 1 },
		{ "https://MUSIC.example.org", "10.0.0.5:8101", 1 },
		{ "https://music.example.org.evil", "10.0.0.5:8101", 0 },
		{ "http://music.example.org", "10.0.0.5:8101", 0 },
	};
	struct guard g;
	size_t i;

	(void)state;
	guard_init(&g, 256);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *o = rows[i].origin;
		size_t on = o ? strlen(o) : 0, hn = strlen(rows[i].host);
		const char *op = o ? (const char *)guard_place(&g, o, on) : NULL;
		char host[64];

		memcpy(host, rows[i].host, hn);
		if (op != NULL)	/* the host in an ordinary buffer, the origin at the edge */
			assert_int_equal(origin_allowed(op, on, host, hn, allow, 1), rows[i].want);
		else
			assert_int_equal(origin_allowed(NULL, 0, host, hn, allow, 1), rows[i].want);
	}
	guard_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origin_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
