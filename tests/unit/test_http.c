/*
 * test_http.c - the upgrade request parser and helpers (common/http.c): every
 * valid request cut at every byte and flush against a guard page, the size
 * limits, malformed request lines and fields, query parameters with
 * percent-decoding, token lists and problem+json refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

#include "guard.h"
#include "../../common/http.h"
#include "query.h"

/* Holds the input of parse() while the test reads the pointers into it. */
static struct guard input;

/* Parses s (n bytes) flush against a guard page. */
static int
parse_n(const char *s, size_t n, struct http_request *req, int *status)
{
	return http_parse_request((const char *)guard_place(&input, s, n), n, req, status);
}

static int
parse(const char *s, struct http_request *req, int *status)
{
	return parse_n(s, strlen(s), req, status);
}

static const char browser[] =
    "GET /ws?room=ABCDE&token=abcdefghijklmnopqrstuvwxyz012345 HTTP/1.1\r\n"
    "Host: tutti.example\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\r\n"
    "Upgrade: websocket\r\n"
    "Origin: https://tutti.example\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: fr-FR,fr;q=0.9,\xc3\xa9t\xc3\xa9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

static const char proxied[] =
    "GET /ws?room=ABCDE&token=x HTTP/1.1\r\n"
    "Host: relay\r\n"
    "X-Real-IP: 203.0.113.9\r\n"
    "X-Forwarded-For: 198.51.100.1, 203.0.113.9\r\n"
    "X-Forwarded-Proto: https\r\n"
    "Upgrade:websocket\r\n"
    "Connection:   upgrade   \r\n"
    "Sec-WebSocket-Key:dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version:\t13\t\r\n"
    "Empty:\r\n"
    "\r\n";

static const char bare_lf[] =
    "GET /ws HTTP/1.0\n"
    "Host: a\n"
    "\n";

static const char minimal[] = "GET / HTTP/1.1\r\n\r\n";

static void
check_every_cut(const char *s, size_t head)
{
	size_t n = strlen(s), k;
	struct http_request req;
	struct guard g;
	int rc, status;

	guard_init(&g, n);
	for (k = 0; k <= n; k++) {
		const char *p = (const char *)guard_place(&g, s, k);

		status = 0;
		rc = http_parse_request(p, k, &req, &status);
		if (k < head) {
			if (rc != -2)
				fail_msg("cut at %zu of %zu: %d", k, n, rc);
		} else {
			assert_int_equal(rc, (int)head);
		}
	}
	guard_free(&g);
}

static void
test_every_cut(void **state)
{
	static const char *const reqs[] = { browser, proxied, bare_lf, minimal };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		check_every_cut(reqs[i], strlen(reqs[i]));
}

static void
test_bytes_after_head(void **state)
{
	char buf[sizeof(browser) + sizeof(minimal) + 16];
	struct http_request req;
	size_t n = strlen(browser);
	int status;

	(void)state;
	/* frames that follow the head are not part of it */
	memcpy(buf, browser, n);
	memcpy(buf + n, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
	assert_int_equal(parse_n(buf, n + 11, &req, &status), (int)n);
	/* and a second request is the caller's business */
	memcpy(buf + n, minimal, sizeof(minimal) - 1);
	assert_int_equal(parse_n(buf, n + sizeof(minimal) - 1, &req, &status), (int)n);
}

static void
test_fields(void **state)
{
	const struct http_header *h;
	struct http_request req;
	size_t count;
	int status;

	(void)state;
	assert_int_equal(parse(browser, &req, &status), (int)strlen(browser));
	assert_int_equal(req.method_len, 3);
	assert_memory_equal(req.method, "GET", 3);
	assert_int_equal(req.target_len, strlen("/ws?room=ABCDE&token=abcdefghijklmnopqrstuvwxyz012345"));
	assert_memory_equal(req.target, "/ws?room=", 9);
	assert_int_equal(req.minor, 1);
	assert_int_equal(req.nheaders, 12);
	h = http_header_find(&req, "sec-websocket-key", &count);
	assert_non_null(h);
	assert_int_equal(count, 1);
	assert_int_equal(h->value_len, 24);
	assert_memory_equal(h->value, "dGhlIHNhbXBsZSBub25jZQ==", 24);
	assert_null(http_header_find(&req, "Sec-WebSocket-Protocol", &count));
	assert_int_equal(count, 0);
	assert_null(http_header_find(&req, "Sec-WebSocket", NULL));

	assert_int_equal(parse(proxied, &req, &status), (int)strlen(proxied));
	h = http_header_find(&req, "CONNECTION", NULL);
	assert_int_equal(h->value_len, 7);		/* whitespace trimmed */
	assert_memory_equal(h->value, "upgrade", 7);
	h = http_header_find(&req, "Sec-WebSocket-Version", NULL);
	assert_int_equal(h->value_len, 2);
	h = http_header_find(&req, "empty", NULL);
	assert_non_null(h);
	assert_int_equal(h->value_len, 0);
	h = http_header_find(&req, "x-forwarded-for", NULL);
	assert_int_equal(h->value_len, strlen("198.51.100.1, 203.0.113.9"));

	assert_int_equal(parse(bare_lf, &req, &status), (int)strlen(bare_lf));
	assert_int_equal(req.minor, 0);
	assert_int_equal(req.nheaders, 1);
}

/* A request whose head is exactly n bytes: one field padded to fit. */
static char *
head_of(size_t n)
{
	static const char pre[] = "GET /ws HTTP/1.1\r\nX: ";
	char *s = malloc(n + 1);
	size_t fill = n - (sizeof(pre) - 1) - 4;

	memcpy(s, pre, sizeof(pre) - 1);
	memset(s + sizeof(pre) - 1, 'a', fill);
	memcpy(s + n - 4, "\r\n\r\n", 4);
	s[n] = '\0';
	return s;
}

static void
test_head_limit(void **state)
{
	struct http_request req;
	char *s;
	int status;

	(void)state;
	s = head_of(HTTP_MAX_HEAD);
	assert_int_equal(parse(s, &req, &status), HTTP_MAX_HEAD);
	check_every_cut(s, HTTP_MAX_HEAD);
	free(s);

	s = head_of(HTTP_MAX_HEAD + 1);
	status = 0;
	assert_int_equal(parse(s, &req, &status), -1);
	assert_int_equal(status, 431);
	/* incomplete: more is awaited up to the limit, not beyond */
	assert_int_equal(parse_n(s, HTTP_MAX_HEAD - 1, &req, &status), -2);
	status = 0;
	assert_int_equal(parse_n(s, HTTP_MAX_HEAD, &req, &status), -1);
	assert_int_equal(status, 431);
	free(s);
}

static void
test_header_count_limit(void **state)
{
	char buf[4096];
	struct http_request req;
	size_t n;
	int i, status;

	(void)state;
	n = (size_t)sprintf(buf, "GET /ws HTTP/1.1\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		n += (size_t)sprintf(buf + n, "H%d: %d\r\n", i, i);
	strcpy(buf + n, "\r\n");
	assert_int_equal(parse(buf, &req, &status), (int)n + 2);
	assert_int_equal(req.nheaders, HTTP_MAX_HEADERS);
	strcpy(buf + n, "One-More: x\r\n\r\n");
	status = 0;
	assert_int_equal(parse(buf, &req, &status), -1);
	assert_int_equal(status, 431);
}

static void
test_bad_requests(void **state)
{
	static const char *const bad[] = {
		"\r\nGET /ws HTTP/1.1\r\n\r\n",		/* empty line first */
		"GET  /ws HTTP/1.1\r\n\r\n",
		"GET /ws  HTTP/1.1\r\n\r\n",
		"GET /ws HTTP/1.1 \r\n\r\n",
		" GET /ws HTTP/1.1\r\n\r\n",
		"GET\t/ws HTTP/1.1\r\n\r\n",
		"GET /ws\r\n\r\n",
		"GET /ws HTTP/2.0\r\n\r\n",
		"GET /ws HTTP/1.10\r\n\r\n",
		"GET /ws HTTP/1.x\r\n\r\n",
		"GET /ws http/1.1\r\n\r\n",
		"GET /ws HTTP/1\r\n\r\n",
		"GET HTTP/1.1\r\n\r\n",
		" /ws HTTP/1.1\r\n\r\n",
		"G@T /ws HTTP/1.1\r\n\r\n",
		"GET /w\x7fs HTTP/1.1\r\n\r\n",
		"GET /w\xc3\xa9 HTTP/1.1\r\n\r\n",
		"GET /ws HTTP/1.1\rX: y\r\n\r\n",		/* bare CR */
		"GET /ws HTTP/1.1\r\nHost : a\r\n\r\n",		/* space before the colon */
		"GET /ws HTTP/1.1\r\nHost a\r\n\r\n",
		"GET /ws HTTP/1.1\r\n: a\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",	/* obs-fold */
		"GET /ws HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHo(st: a\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a\x01\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a\x7f\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a\rb\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a\r\n\r\r\n",
	};
	struct http_request req;
	size_t i;
	int status;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		status = 0;
		if (parse(bad[i], &req, &status) != -1 || status != 400)
			fail_msg("accepted #%zu: %s", i, bad[i]);
	}
	status = 0;
	assert_int_equal(parse_n("GET /ws HTTP/1.1\r\nHost: a\0b\r\n\r\n", 31, &req, &status), -1);
	assert_int_equal(status, 400);
}

/* What can never become a request head is refused before it is complete. */
static void
test_early_reject(void **state)
{
	struct http_request req;
	int status;

	(void)state;
	assert_int_equal(parse_n("\x16\x03\x01\x02\x00", 1, &req, &status), -1);	/* TLS */
	assert_int_equal(parse_n(" GET", 1, &req, &status), -1);
	assert_int_equal(parse_n("GET /ws\0", 8, &req, &status), -1);
	assert_int_equal(parse_n("GET /ws HTTP/1.1\r\nX: \x01", 22, &req, &status), -1);
	assert_int_equal(parse_n("GET /ws\rX", 9, &req, &status), -1);
	/* a CR at the very end may still be followed by its LF */
	assert_int_equal(parse_n("GET /ws HTTP/1.1\r", 17, &req, &status), -2);
	assert_int_equal(parse_n("GET /ws HTTP/1.1\r\nX: \xff", 22, &req, &status), -2);
	assert_int_equal(parse_n("", 0, &req, &status), -2);
}

static void
test_token_list(void **state)
{
	(void)state;
	assert_true(http_token_list_has("Upgrade", 7, "upgrade"));
	assert_true(http_token_list_has("keep-alive, Upgrade", 19, "upgrade"));
	assert_true(http_token_list_has(" UPGRADE ,keep-alive", 20, "upgrade"));
	assert_true(http_token_list_has(",,\tupgrade\t,", 12, "upgrade"));
	assert_false(http_token_list_has("upgrade-insecure", 16, "upgrade"));
	assert_false(http_token_list_has("keep-alive", 10, "upgrade"));
	assert_false(http_token_list_has("upgrad", 6, "upgrade"));
	assert_false(http_token_list_has("", 0, "upgrade"));
	assert_false(http_token_list_has(" , ", 3, ""));
	/* the length bounds the value: the rest is not looked at */
	assert_false(http_token_list_has("keep-alive, Upgrade", 12, "upgrade"));
	assert_true(http_token_list_has("websocket", 9, "websocket"));
	assert_true(http_token_list_has("WebSocket", 9, "websocket"));
}

static void
test_pct_decode(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(query_decode("ABCDE", 5, out, sizeof(out)), 5);
	assert_string_equal(out, "ABCDE");
	assert_int_equal(query_decode("%41%62%2b%2B%7e", 15, out, sizeof(out)), 5);
	assert_string_equal(out, "Ab++~");
	assert_int_equal(query_decode("a+b", 3, out, sizeof(out)), 3);
	assert_string_equal(out, "a b");
	assert_int_equal(query_decode("%c3%A9", 6, out, sizeof(out)), 2);
	assert_string_equal(out, "\xc3\xa9");
	assert_int_equal(query_decode("", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(query_decode("%", 1, out, sizeof(out)), -1);
	assert_int_equal(query_decode("%4", 2, out, sizeof(out)), -1);
	assert_int_equal(query_decode("%4g", 3, out, sizeof(out)), -1);
	assert_int_equal(query_decode("%G1", 3, out, sizeof(out)), -1);
	assert_int_equal(query_decode("a%00b", 5, out, sizeof(out)), -1);
	/* the length bounds the input: "%41" cut to "%4" */
	assert_int_equal(query_decode("%41", 2, out, sizeof(out)), -1);
	/* capacity, NUL included */
	assert_int_equal(query_decode("abc", 3, out, 4), 3);
	assert_int_equal(query_decode("abcd", 4, out, 4), -1);
	assert_int_equal(query_decode("", 0, out, 0), -1);
}

static void
test_query(void **state)
{
	const char *q = "room=ABCDE&token=a-b_c%2Bd&empty=&flag&x%72oom=1";
	char out[64];

	(void)state;
	assert_int_equal(query_get(q, strlen(q), "room", out, sizeof(out)), 5);
	assert_string_equal(out, "ABCDE");
	assert_int_equal(query_get(q, strlen(q), "token", out, sizeof(out)), 7);
	assert_string_equal(out, "a-b_c+d");
	assert_int_equal(query_get(q, strlen(q), "empty", out, sizeof(out)), 0);
	assert_int_equal(query_get(q, strlen(q), "flag", out, sizeof(out)), 0);
	assert_int_equal(query_get(q, strlen(q), "xroom", out, sizeof(out)), 1);
	assert_int_equal(query_get(q, strlen(q), "missing", out, sizeof(out)), -1);
	assert_int_equal(query_get(q, strlen(q), "roo", out, sizeof(out)), -1);
	assert_int_equal(query_get("", 0, "room", out, sizeof(out)), -1);
	assert_int_equal(query_get("&&room=A&&", 10, "room", out, sizeof(out)), 1);
	/* names are decoded too */
	assert_int_equal(query_get("r%6Fom=AB", 9, "room", out, sizeof(out)), 2);
	assert_string_equal(out, "AB");
	/* repeated, malformed, too long */
	assert_int_equal(query_get("room=A&room=B", 13, "room", out, sizeof(out)), -3);
	assert_int_equal(query_get("room=%zz", 8, "room", out, sizeof(out)), -2);
	assert_int_equal(query_get("room=%00", 8, "room", out, sizeof(out)), -2);
	assert_int_equal(query_get("room=ABCDEFGH", 13, "room", out, 8), -2);
	assert_int_equal(query_get("r%zom=1&room=A", 14, "room", out, sizeof(out)), -2);
	/* the length bounds the query */
	assert_int_equal(query_get("room=ABCDE", 7, "room", out, sizeof(out)), 2);
	assert_string_equal(out, "AB");
}

static void
test_query_every_cut(void **state)
{
	const char *q = "token=%41%42+x&room=ABCDE";
	size_t n = strlen(q), k;
	struct guard g;
	char out[64];

	(void)state;
	guard_init(&g, n);
	for (k = 0; k <= n; k++) {
		const char *p = (const char *)guard_place(&g, q, k);
		int rc = query_get(p, k, "room", out, sizeof(out));

		/* "room" alone (k = 19) is present and empty */
		assert_int_equal(rc, k <= 18 ? -1 : k == 19 ? 0 : (int)k - 20);
		rc = query_get(p, k, "token", out, sizeof(out));
		if (k < 5)
			assert_int_equal(rc, -1);
		else if (k == 5 || k == 6)
			assert_int_equal(rc, 0);
		else if (k == 7 || k == 8)	/* "%" and "%4": an escape cut short */
			assert_int_equal(rc, -2);
		else if (k >= 14)
			assert_int_equal(rc, 4);
	}
	guard_free(&g);
}

static void
test_problem(void **state)
{
	char out[1024];
	const char *body;
	json_error_t err;
	json_t *j;
	int n, len;

	(void)state;
	n = http_problem(out, sizeof(out), 426, "only \"13\"\n", "Sec-WebSocket-Version: 13\r\n");
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(out));
	assert_memory_equal(out, "HTTP/1.1 426 Upgrade Required\r\n", 31);
	assert_non_null(strstr(out, "\r\nContent-Type: application/problem+json\r\n"));
	assert_non_null(strstr(out, "\r\nSec-WebSocket-Version: 13\r\n"));
	assert_non_null(strstr(out, "\r\nConnection: close\r\n"));
	body = strstr(out, "\r\n\r\n") + 4;
	assert_int_equal(sscanf(strstr(out, "Content-Length: "), "Content-Length: %d", &len), 1);
	assert_int_equal(len, (int)strlen(body));
	j = json_loads(body, JSON_REJECT_DUPLICATES, &err);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "about:blank");
	assert_string_equal(json_string_value(json_object_get(j, "title")), "Upgrade Required");
	assert_int_equal(json_integer_value(json_object_get(j, "status")), 426);
	assert_string_equal(json_string_value(json_object_get(j, "detail")), "only \"13\"\n");
	json_decref(j);

	n = http_problem(out, sizeof(out), 401, "unknown token", NULL);
	assert_true(n > 0);
	assert_memory_equal(out, "HTTP/1.1 401 Unauthorized\r\n", 27);
	assert_null(strstr(out, "Sec-WebSocket-Version"));
	/* does not fit */
	assert_int_equal(http_problem(out, 100, 401, "unknown token", NULL), -1);

	assert_string_equal(http_reason(400), "Bad Request");
	assert_string_equal(http_reason(404), "Not Found");
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(http_reason(503), "Service Unavailable");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_cut),
		cmocka_unit_test(test_bytes_after_head),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_head_limit),
		cmocka_unit_test(test_header_count_limit),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_early_reject),
		cmocka_unit_test(test_token_list),
		cmocka_unit_test(test_pct_decode),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_query_every_cut),
		cmocka_unit_test(test_problem),
	};

	int rc;

	guard_init(&input, 2 * HTTP_MAX_HEAD);
	rc = cmocka_run_group_tests_name("http", tests, NULL, NULL);
	guard_free(&input);
	return rc;
}
