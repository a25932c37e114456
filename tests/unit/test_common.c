/*
 * test_common.c - unit tests of common/: tokens and room codes, UTF-8 and
 * display names, migrations, the anchor's JSON, and the API's route parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anchor.h"
#include "db.h"
#include "log.h"
#include "text.h"
#include "guard.h"
#include "token.h"
#include "../../fcgi/route.h"

static void
test_token_shape_and_uniqueness(void **state)
{
	char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];

	(void)state;
	assert_int_equal(token_new(a), 0);
	assert_int_equal(token_new(b), 0);
	assert_int_equal(strlen(a), TOKEN_LEN);
	assert_true(token_valid(a, strlen(a)));
	assert_string_not_equal(a, b);
	assert_false(token_valid(a, TOKEN_LEN - 1));
	a[3] = '+';
	assert_false(token_valid(a, TOKEN_LEN));
}

static void
test_token_hash_known_value(void **state)
{
	char h[TOKEN_HASH_LEN + 1];

	(void)state;
	assert_int_equal(token_hash("abc", 3, h), 0);
	assert_string_equal(h,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void
test_code_alphabet(void **state)
{
	char c[CODE_LEN + 1];
	int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		assert_int_equal(code_new(c), 0);
		assert_true(code_valid(c));
		assert_null(strpbrk(c, "01OIL"));
	}
	assert_false(code_valid("ABCD"));
	assert_false(code_valid("ABCDEF"));
	assert_false(code_valid("ABCD0"));
	assert_false(code_valid("abcde"));
	assert_true(code_valid("A2B3C"));
}

static void
test_utf8(void **state)
{
	static const struct { const char *s; long want; } rows[] = {
		{ "", 0 }, { "abc", 3 }, { "h\xc3\xa9", 2 }, { "\xe2\x82\xac", 1 },
		{ "\xf0\x9f\x8e\xb5", 1 },
		{ "\xc0\xaf", -1 },		/* overlong */
		{ "\xe0\x80\xaf", -1 },		/* overlong */
		{ "\xed\xa0\x80", -1 },		/* surrogate */
		{ "\xf4\x90\x80\x80", -1 },	/* above U+10FFFF */
		{ "\xc3", -1 },			/* truncated */
		{ "\x80", -1 },			/* lone continuation */
		{ "\xff", -1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(text_utf8_len(rows[i].s, strlen(rows[i].s)), rows[i].want);
}

static void
test_names(void **state)
{
	static const struct { const char *in; const char *want; } rows[] = {
		{ "alice", "alice" }, { "  bob \t", "bob" }, { "Zo\xc3\xab", "Zo\xc3\xab" },
		{ "", NULL }, { "   ", NULL }, { "a\x01" "b", NULL }, { "a\nb", NULL },
		{ "\xc3", NULL }, { "12345678901234567890123456789012", "12345678901234567890123456789012" },
		{ "123456789012345678901234567890123", NULL },
		/* 32 two-byte characters are fine: the limit counts characters. */
		{ "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "" },
	};
	const char *start;
	size_t i, len;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rc = text_name_check(rows[i].in, strlen(rows[i].in), &start, &len);
		if (rows[i].want == NULL) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		if (rows[i].want[0] != '\0') {
			assert_int_equal(len, strlen(rows[i].want));
			assert_memory_equal(start, rows[i].want, len);
		}
	}
}

static void
test_route_parse(void **state)
{
	static const struct {
		const char *path;
		int want;
		const char *code;
		int64_t id;
		const char *key;
	} rows[] = {
		{ "/api/healthz", ROUTE_HEALTH, NULL, 0, NULL },
		{ "/api/readyz", ROUTE_READY, NULL, 0, NULL },
		{ "/metrics", ROUTE_METRICS, NULL, 0, NULL },
		{ "/api/rooms", ROUTE_ROOMS, NULL, 0, NULL },
		{ "/api/rooms/ABCDE", ROUTE_ROOM, "ABCDE", 0, NULL },
		{ "/api/rooms/ABCDE/join", ROUTE_JOIN, "ABCDE", 0, NULL },
		{ "/api/rooms/ABCDE/leave", ROUTE_LEAVE, "ABCDE", 0, NULL },
		{ "/api/rooms/ABCDE/control", ROUTE_CONTROL, "ABCDE", 0, NULL },
		{ "/api/rooms/ABCDE/users/17", ROUTE_USER, "ABCDE", 17, NULL },
		{ "/api/rooms/ABCDE/playlist/9223372036854775807", ROUTE_PLAYLIST_ITEM,
		    "ABCDE", INT64_MAX, NULL },
		{ "/api/rooms/ABCDE/playlist/9223372036854775808", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/rooms/ABCDE/playlist/0", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/rooms/ABCDE/playlist/07", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/rooms/ABCDE/playlist/-1", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/rooms/ABCDE/requests/3", ROUTE_REQUEST, "ABCDE", 3, NULL },
		{ "/api/tracks/5", ROUTE_TRACK, NULL, 5, NULL },
		{ "/api/uploads/Ab_-9", ROUTE_UPLOAD, NULL, 0, "Ab_-9" },
		{ "/api/uploads/a.b", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/uploads/..", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/uploads/", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/rooms/", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/rooms//join", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/rooms/ABCDE/", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/rooms/ABCDE/other", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/rooms/ABCDE/join/x", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/rooms/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/healthzz", ROUTE_NONE, NULL, 0, NULL },
		{ "/api/healthz/", ROUTE_NONE, NULL, 0, NULL },
		{ "//api/healthz", ROUTE_NONE, NULL, 0, NULL },
		{ "", ROUTE_NONE, NULL, 0, NULL },
		{ "/", ROUTE_NONE, NULL, 0, NULL },
	};
	struct route_match m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(api_route_parse(rows[i].path, &m), rows[i].want);
		assert_int_equal(m.route, rows[i].want);
		if (rows[i].code)
			assert_string_equal(m.code, rows[i].code);
		assert_int_equal(m.id, rows[i].id);
		if (rows[i].key)
			assert_string_equal(m.key, rows[i].key);
	}
	assert_string_equal(api_route_name(ROUTE_USER), "/api/rooms/{code}/users/{id}");
	assert_string_equal(api_route_name(ROUTE_NONE), "other");
}

/* Every prefix of a route path, NUL-terminated flush against a guard page,
 * parses without reading past its end, to the same result as from an
 * ordinary buffer; the whole path matches. */
static void
test_route_cuts(void **state)
{
	static const char *const paths[] = {
		"/api/rooms/ABCDE/playlist/123", "/api/uploads/abc_DEF-1", "/metrics",
		"/api/rooms/ABCDE/requests/42",
	};
	struct route_match m, want;
	struct guard g;
	char buf[64];
	size_t i, n;

	(void)state;
	guard_init(&g, 64);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (n = 0; n <= strlen(paths[i]); n++) {
			memcpy(buf, paths[i], n);
			buf[n] = '\0';
			api_route_parse(buf, &want);
			api_route_parse((char *)guard_place(&g, buf, n + 1), &m);
			assert_memory_equal(&m, &want, sizeof(m));
			if (n == strlen(paths[i]))
				assert_int_not_equal(m.route, ROUTE_NONE);
		}
	}
	guard_free(&g);
}

static void
test_migrate_and_anchor(void **state)
{
	char dir[] = "/tmp/tutti-unit-XXXXXX", path[256];
	struct anchor a;
	sqlite3 *db;
	json_t *j;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.db", dir);
	assert_non_null(db = db_open(path));
	assert_true(db_migrate(db, "sql") >= 1);
	assert_int_equal(db_migrate(db, "sql"), 0);	/* idempotent */
	assert_true(db_schema_version(db) >= 1);
	assert_int_equal(anchor_load(db, 1, &a), 1);	/* no row yet */
	assert_int_equal(db_exec(db, "INSERT INTO rooms (code, created_us) VALUES ('ABCDE', 1);"
	    "INSERT INTO tracks (sha256, title, samples, sample_rate, channels, bitrate,"
	    " duration_us, size, added_us) VALUES ('x', 't', 44100, 44100, 2, 128, 1000000, 1, 1);"
	    "INSERT INTO playlist_items (room_id, track_id, position) VALUES (1, 1, 1);"
	    "INSERT INTO playback VALUES (1, 'playing', 1, 250, 99);"), 0);
	assert_int_equal(anchor_load(db, 1, &a), 0);
	assert_int_equal(a.state, ANCHOR_PLAYING);
	assert_int_equal(a.track_id, 1);
	assert_int_equal(a.position_us, 250);
	j = anchor_json(&a);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "playing");
	assert_int_equal(json_integer_value(json_object_get(j, "at_us")), 99);
	json_decref(j);
	sqlite3_close(db);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_shape_and_uniqueness),
		cmocka_unit_test(test_token_hash_known_value),
		cmocka_unit_test(test_code_alphabet),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_route_parse),
		cmocka_unit_test(test_route_cuts),
		cmocka_unit_test(test_migrate_and_anchor),
	};

	log_init("test_common", LOG_ERR);
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
