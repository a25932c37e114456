/*
 * test_origin.c - browser origins (common/origin.c): the relay's Origin
 * check of the upgrade, the -O allow-list match behind the API's CORS
 * answers, and the check of -O values. Table-driven, each input placed
 * flush against a guard page.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "guard.h"
#include "origin.h"

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

/* origin_listed: exact, ASCII case ignored, nothing else. */
static void
test_origin_listed(void **state)
{
	static const char *const allow[] = { "https://music.example.org", "http://127.0.0.1:9000" };
	static const struct {
		const char *origin;
		int want;
	} rows[] = {
		{ "https://music.example.org", 1 },
		{ "HTTPS://Music.Example.ORG", 1 },
		{ "http://127.0.0.1:9000", 1 },
		{ "http://127.0.0.1:900", 0 },
		{ "http://127.0.0.1:90000", 0 },
		{ "https://music.example.org/", 0 },
		{ "https://music.example.or", 0 },
		{ "http://music.example.org", 0 },
		{ "https://music.example.org, http://127.0.0.1:9000", 0 },
		{ "null", 0 },
		{ "", 0 },
	};
	struct guard g;
	size_t i;

	(void)state;
	guard_init(&g, 256);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = strlen(rows[i].origin);
		const char *o = (const char *)guard_place(&g, rows[i].origin, n);

		assert_int_equal(origin_listed(o, n, allow, 2), rows[i].want);
		assert_int_equal(origin_listed(o, n, allow, 0), 0);
	}
	assert_int_equal(origin_listed(NULL, 0, allow, 2), 0);
	guard_free(&g);
}

/* origin_check: what -O takes, and a reason for everything it refuses. */
static void
test_origin_check(void **state)
{
	static const struct {
		const char *s;
		int ok;
		const char *why;	/* a word of the reason, for refusals */
	} rows[] = {
		{ "https://music.example.org", 1, NULL },
		{ "http://example.test", 1, NULL },
		{ "http://127.0.0.1:8080", 1, NULL },
		{ "HTTPS://Music.Example.ORG", 1, NULL },
		{ "http://localhost:1", 1, NULL },
		{ "http://localhost:65535", 1, NULL },
		{ "https://example.org:8443", 1, NULL },
		{ "http://example.org:443", 1, NULL },
		{ "https://example.org:80", 1, NULL },
		{ "http://[::1]:8080", 1, NULL },
		{ "https://[2001:db8::1]", 1, NULL },
		{ "https://xn--mnchen-3ya.de", 1, NULL },
		{ "https://my_host.lan", 1, NULL },
		{ "tauri://localhost", 1, NULL },
		{ "app+x.y-z://a", 1, NULL },
		{ "", 0, "1 to 300" },
		{ "null", 0, "sandboxed" },
		{ "NULL", 0, "sandboxed" },
		{ "*", 0, "wildcard" },
		{ "https://*.example.org", 0, "wildcard" },
		{ "https://music.example.org/", 0, "trailing" },
		{ "https://music.example.org/app", 0, "path" },
		{ "https://music.example.org?x=1", 0, "query" },
		{ "https://music.example.org#top", 0, "fragment" },
		{ "https://user@music.example.org", 0, "user" },
		{ "https://user:pw@music.example.org", 0, "user" },
		{ "music.example.org", 0, "scheme://" },
		{ "127.0.0.1:8080", 0, "scheme://" },
		{ "//music.example.org", 0, "scheme://" },
		{ "1http://a", 0, "scheme://" },
		{ "ht_tp://a", 0, "scheme://" },
		{ "https:/music.example.org", 0, "scheme://" },
		{ "https://", 0, "host" },
		{ "https://:8080", 0, "host" },
		{ "https://.example.org", 0, "host" },
		{ "https://example.org.", 0, "host" },
		{ "https://example..org", 0, "host" },
		{ "https://exa%6dple.org", 0, "host" },
		{ "https://münchen.de", 0, "xn--" },
		{ "https://music example.org", 0, "spaces" },
		{ "https://music.example.org\r\nX-Evil: 1", 0, "spaces" },
		{ "https://music.example.org\t", 0, "spaces" },
		{ "https://[::1", 0, "IPv6" },
		{ "https://[]", 0, "IPv6" },
		{ "https://[::g]", 0, "IPv6" },
		{ "https://[127.0.0.1]", 0, "IPv6" },
		{ "https://[::1]x", 0, "port" },
		{ "https://::1", 0, "host" },
		{ "https://example.org:", 0, "port" },
		{ "https://example.org:0", 0, "port" },
		{ "https://example.org:08080", 0, "port" },
		{ "https://example.org:65536", 0, "port" },
		{ "https://example.org:123456", 0, "port" },
		{ "https://example.org:80a", 0, "port" },
		{ "https://example.org:-1", 0, "port" },
		{ "https://example.org:1:2", 0, "port" },
		{ "https://example.org:443", 0, "default port" },
		{ "HTTP://example.org:80", 0, "default port" },
	};
	char why[192], big[ORIGIN_MAX + 2];
	struct guard g;
	size_t i;

	(void)state;
	guard_init(&g, 512);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = strlen(rows[i].s);
		const char *s = (const char *)guard_place(&g, rows[i].s, n);
		int rc;

		why[0] = '\0';
		rc = origin_check(s, n, why, sizeof(why));
		if (rows[i].ok) {
			assert_int_equal(rc, 0);
			assert_string_equal(why, "");
		} else {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(why, rows[i].why));
		}
	}
	/* lengths: 300 bytes is the most, and no reason needs a buffer */
	memset(big, 'a', sizeof(big));
	memcpy(big, "http://", 7);
	assert_int_equal(origin_check(big, ORIGIN_MAX, why, sizeof(why)), 0);
	assert_int_equal(origin_check(big, ORIGIN_MAX + 1, why, sizeof(why)), -1);
	assert_int_equal(origin_check("null", 4, NULL, 0), -1);
	assert_int_equal(origin_check("http://[::1]:8080", 6, why, sizeof(why)), -1);
	guard_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origin_rows),
		cmocka_unit_test(test_origin_listed),
		cmocka_unit_test(test_origin_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
