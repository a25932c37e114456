/*
 * test_cli_ws.c - the pure half of the CLI's WebSocket client (cli/lwsp.c)
 * and the masked header encoder it uses (common/ws.c): base URLs, the
 * upgrade request and answer cut at every byte, and the frame reader fed
 * every split of a stream of server frames, plus every protocol error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "guard.h"
#include "../../cli/lwsp.h"
#include "ws.h"

static const uint8_t key4[4] = { 0x11, 0x22, 0x33, 0x44 };

static void
test_masked_header(void **state)
{
	static const uint64_t lens[] = { 0, 1, 125, 126, 65535, 65536, (uint64_t)1 << 33 };
	static const size_t want[] = { 6, 6, 6, 8, 8, 14, 14 };
	uint8_t out[WS_MAX_HEADER];
	struct ws_frame f;
	size_t i, h;
	int code;

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		h = ws_header_encode_masked(out, WS_FIN | WS_OP_TEXT, lens[i], key4);
		assert_int_equal(h, want[i]);
		assert_int_equal(ws_parse_header(out, h, WS_FROM_CLIENT, UINT64_MAX >> 1, &f,
		    &code), (int)h);
		assert_true(f.len == lens[i]);
		assert_int_equal(f.masked, 1);
		assert_int_equal(f.fin, 1);
		assert_int_equal(f.opcode, WS_OP_TEXT);
		assert_memory_equal(f.mask, key4, 4);
		/* one byte short of the header is never enough */
		assert_int_equal(ws_parse_header(out, h - 1, WS_FROM_CLIENT, UINT64_MAX >> 1,
		    &f, &code), -2);
	}
}

static void
test_frame_roundtrip(void **state)
{
	static const size_t lens[] = { 0, 5, 125, 126, 4096, 70000 };
	uint8_t *payload = malloc(70000), *out = malloc(70000 + WS_MAX_HEADER);
	struct ws_frame f;
	size_t i, j, n;
	int hl, code, differs;

	(void)state;
	for (j = 0; j < 70000; j++)
		payload[j] = (uint8_t)(j * 13 + 1);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		n = wsp_frame(out, WS_FIN | WS_OP_TEXT, payload, lens[i]);
		hl = ws_parse_header(out, n, WS_FROM_CLIENT, 1 << 20, &f, &code);
		assert_true(hl > 0);
		assert_int_equal(n, (size_t)hl + lens[i]);
		differs = lens[i] == 0 || memcmp(out + hl, payload, lens[i]) != 0 ||
		    memcmp(f.mask, "\0\0\0\0", 4) == 0;
		assert_true(differs);	/* masked on the wire (a zero key is 1 in 2^32) */
		ws_unmask(out + hl, lens[i], f.mask);
		assert_memory_equal(out + hl, payload, lens[i]);
	}
	free(payload);
	free(out);
}

static void
test_parse_url(void **state)
{
	static const char *bad[] = {
		"https://x", "ftp://x", "http://", "http://:80", "http://h:0", "http://h:65536",
		"http://h:", "http://h:8a", "http://h/path", "http://u@h", "http://[::1",
		"http://h:123456", "http://h x", "x",
	};
	char host[WSP_HOST_MAX], port[8];
	char longhost[400];
	size_t i;

	(void)state;
	assert_int_equal(wsp_parse_url("http://127.0.0.1:8080", host, port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_string_equal(port, "8080");
	assert_int_equal(wsp_parse_url("http://example.org/", host, port), 0);
	assert_string_equal(host, "example.org");
	assert_string_equal(port, "80");
	assert_int_equal(wsp_parse_url("ws://[::1]:9", host, port), 0);
	assert_string_equal(host, "::1");
	assert_string_equal(port, "9");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(wsp_parse_url(bad[i], host, port), -1);
	memset(longhost, 'a', sizeof(longhost));
	memcpy(longhost, "http://", 7);
	longhost[sizeof(longhost) - 1] = '\0';
	assert_int_equal(wsp_parse_url(longhost, host, port), -1);
}

static void
test_request(void **state)
{
	char key[WS_KEY_LEN + 1], key2[WS_KEY_LEN + 1], *r;

	(void)state;
	assert_int_equal(wsp_make_key(key), 0);
	assert_int_equal(wsp_make_key(key2), 0);
	assert_true(ws_key_valid(key, strlen(key)));
	assert_string_not_equal(key, key2);
	r = wsp_request("h", "8080", "/ws?room=ABC&token=t", key);
	assert_non_null(r);
	assert_non_null(strstr(r, "GET /ws?room=ABC&token=t HTTP/1.1\r\n"));
	assert_non_null(strstr(r, "\r\nHost: h:8080\r\n"));
	assert_non_null(strstr(r, "\r\nUpgrade: websocket\r\n"));
	assert_non_null(strstr(r, "\r\nSec-WebSocket-Version: 13\r\n"));
	assert_non_null(strstr(r, key));
	assert_int_equal(strcmp(r + strlen(r) - 4, "\r\n\r\n"), 0);
	free(r);
	r = wsp_request("::1", "80", "/", key);
	assert_non_null(strstr(r, "\r\nHost: [::1]\r\n"));
	free(r);
	assert_null(wsp_request("h", "80", "ws", key));
	assert_null(wsp_request("h", "80", "/a b", key));
	assert_null(wsp_request("h", "80", "/a\r\nX: y", key));
}

/* A 101 answer for key with extra header lines hdrs (may be ""). */
static size_t
mkresp(char *out, size_t cap, const char *key, const char *accept_override, const char *hdrs)
{
	char acc[WS_ACCEPT_LEN + 1];

	assert_int_equal(ws_accept_key(key, strlen(key), acc), 0);
	return (size_t)snprintf(out, cap, "HTTP/1.1 101 Switching Protocols\r\n"
	    "upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n%s\r\n",
	    accept_override != NULL ? accept_override : acc, hdrs);
}

static void
test_response_every_cut(void **state)
{
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
	char buf[1024];
	struct guard g;
	size_t n, k;
	int status;
	long rc;

	(void)state;
	guard_init(&g, 2048);
	n = mkresp(buf, sizeof(buf), key, NULL, "Server: x\r\n");
	memcpy(buf + n, "\x81\x02hi", 4);	/* a frame right behind the headers */
	for (k = 0; k <= n + 4; k++) {
		const char *p = (const char *)guard_place(&g, buf, k);

		rc = wsp_response(p, k, key, &status);
		if (k < n) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, (long)n);
			assert_int_equal(status, 101);
		}
	}
	guard_free(&g);
}

static void
test_response_refused(void **state)
{
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
	char buf[1024], big[WSP_RESP_MAX + 10];
	int status;

	(void)state;
	snprintf(buf, sizeof(buf), "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(wsp_response(buf, strlen(buf), key, &status), -1);
	assert_int_equal(status, 401);
	/* the status is known before the headers are complete */
	assert_int_equal(wsp_response(buf, 14, key, &status), 0);
	assert_int_equal(status, 401);
	mkresp(buf, sizeof(buf), key, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "");
	assert_int_equal(wsp_response(buf, strlen(buf), key, &status), -1);
	mkresp(buf, sizeof(buf), key, NULL, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
	assert_int_equal(wsp_response(buf, strlen(buf), key, &status), -1);
	mkresp(buf, sizeof(buf), key, NULL, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
	assert_int_equal(wsp_response(buf, strlen(buf), key, &status), -1);
	snprintf(buf, sizeof(buf), "HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
	assert_int_equal(wsp_response(buf, strlen(buf), key, &status), -1);	/* no Upgrade */
	snprintf(buf, sizeof(buf), "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
	    "Connection: Upgradex\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
	assert_int_equal(wsp_response(buf, strlen(buf), key, &status), -1);	/* no upgrade token */
	snprintf(buf, sizeof(buf), "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
	assert_int_equal(wsp_response(buf, strlen(buf), key, &status), (long)strlen(buf));
	snprintf(buf, sizeof(buf), "HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n");
	assert_int_equal(wsp_response(buf, strlen(buf), key, &status), -1);
	snprintf(buf, sizeof(buf), "HTTP/1.0 101 OK\r\n\r\n");
	assert_int_equal(wsp_response(buf, strlen(buf), key, &status), -1);
	memset(big, 'x', sizeof(big));
	memcpy(big, "HTTP/1.1 101 OK\r\nX: ", 20);
	assert_int_equal(wsp_response(big, sizeof(big), key, &status), -1);
	assert_int_equal(wsp_response(big, WSP_RESP_MAX - 1, key, &status), 0);
}

/* Appends an unmasked server frame to out at *n. */
static void
put(uint8_t *out, size_t *n, unsigned b0, const void *p, size_t len)
{
	*n += ws_header_encode(out + *n, b0, len);
	memcpy(out + *n, p, len);
	*n += len;
}

struct want {
	enum wsp_ev type;
	const char *data;
	int code;
};

/* Pushes stream in the given pieces (cut at a and b) and checks the events. */
static void
feed_check(const uint8_t *s, size_t n, size_t a, size_t b, const struct want *w, size_t nw,
    uint64_t max)
{
	struct wsp_rx rx;
	struct wsp_event ev;
	size_t cuts[4] = { 0, a, b, n }, i, got = 0;

	wsp_rx_init(&rx, max);
	for (i = 0; i < 3; i++) {
		assert_int_equal(wsp_rx_push(&rx, s + cuts[i], cuts[i + 1] - cuts[i]), 0);
		while (wsp_rx_next(&rx, &ev) != WSP_NONE) {
			assert_true(got < nw);
			assert_int_equal(ev.type, w[got].type);
			if (w[got].data != NULL) {
				assert_int_equal(ev.len, strlen(w[got].data));
				assert_memory_equal(ev.data, w[got].data, ev.len);
			}
			if (ev.type == WSP_TEXT)
				assert_int_equal(ev.data[ev.len], '\0');
			if (ev.type == WSP_CLOSE || ev.type == WSP_ERROR)
				assert_int_equal(ev.code, w[got].code);
			got++;
			if (ev.type == WSP_ERROR)
				break;
		}
		if (got > 0 && w[got - 1].type == WSP_ERROR)
			break;
	}
	assert_int_equal(got, nw);
	wsp_rx_free(&rx);
}

static void
test_reader_every_split(void **state)
{
	uint8_t s[2048], big[300];
	size_t n = 0, a, b;
	const struct want w[] = {
		{ WSP_TEXT, "{\"type\":\"hello\"}", 0 },
		{ WSP_PING, "pp", 0 },
		{ WSP_TEXT, "", 0 },
		{ WSP_PONG, "", 0 },		/* between fragments */
		{ WSP_TEXT, "frag-men-ted", 0 },
		{ WSP_TEXT, NULL, 0 },		/* 300 bytes: 16-bit length */
		{ WSP_CLOSE, "bye", 1001 },
	};

	(void)state;
	memset(big, 'z', sizeof(big));
	put(s, &n, WS_FIN | WS_OP_TEXT, "{\"type\":\"hello\"}", 16);
	put(s, &n, WS_FIN | WS_OP_PING, "pp", 2);
	put(s, &n, WS_FIN | WS_OP_TEXT, "", 0);
	put(s, &n, WS_OP_TEXT, "frag", 4);
	put(s, &n, WS_FIN | WS_OP_PONG, "", 0);
	put(s, &n, WS_OP_CONT, "-men", 4);
	put(s, &n, WS_OP_CONT, "", 0);
	put(s, &n, WS_FIN | WS_OP_CONT, "-ted", 4);
	put(s, &n, WS_FIN | WS_OP_TEXT, big, sizeof(big));
	put(s, &n, WS_FIN | WS_OP_CLOSE, "\x03\xe9" "bye", 5);
	for (a = 0; a <= n; a++)
		for (b = a; b <= n; b += (a < 40 || b < 40 || b + 8 > n) ? 1 : 7)
			feed_check(s, n, a, b, w, sizeof(w) / sizeof(w[0]), 1024);
}

static void
test_reader_errors(void **state)
{
	uint8_t s[512];
	size_t n;
	struct want w[2];
	struct wsp_rx rx;
	struct wsp_event ev;

	(void)state;
#define ONE_ERR(code_, max_) do { \
	w[0].type = WSP_ERROR; w[0].data = NULL; w[0].code = (code_); \
	for (size_t a_ = 0; a_ <= n; a_++) feed_check(s, n, a_, n, w, 1, (max_)); \
} while (0)
	n = 0;
	put(s, &n, WS_FIN | WS_OP_BINARY, "ab", 2);
	ONE_ERR(WS_CLOSE_UNSUPPORTED, 1024);
	n = 0;
	put(s, &n, WS_FIN | WS_OP_CONT, "ab", 2);
	ONE_ERR(WS_CLOSE_PROTOCOL, 1024);
	n = 0;
	put(s, &n, WS_FIN | WS_OP_TEXT, "0123456789abcdefg", 17);
	ONE_ERR(WS_CLOSE_TOO_BIG, 16);
	n = 0;
	put(s, &n, WS_FIN | WS_OP_TEXT, "\xc3\x28", 2);
	ONE_ERR(WS_CLOSE_BAD_DATA, 1024);
	n = 0;
	put(s, &n, WS_FIN | WS_OP_CLOSE, "\x03", 1);
	ONE_ERR(WS_CLOSE_PROTOCOL, 1024);
	n = 0;
	put(s, &n, WS_FIN | WS_OP_CLOSE, "\x03\xed", 2);	/* 1005 may not be sent */
	ONE_ERR(WS_CLOSE_PROTOCOL, 1024);
	n = 0;
	put(s, &n, WS_FIN | WS_OP_CLOSE, "\x03\xe8\xff", 3);
	ONE_ERR(WS_CLOSE_BAD_DATA, 1024);
	n = 0;
	put(s, &n, WS_FIN | WS_OP_TEXT, "ab", 2);
	s[1] |= 0x80;						/* a masked server frame */
	memmove(s + 6, s + 2, 2);
	memset(s + 2, 0, 4);
	n += 4;
	ONE_ERR(WS_CLOSE_PROTOCOL, 1024);
	/* a text frame inside a fragmented message */
	n = 0;
	put(s, &n, WS_OP_TEXT, "ab", 2);
	put(s, &n, WS_FIN | WS_OP_TEXT, "cd", 2);
	ONE_ERR(WS_CLOSE_PROTOCOL, 1024);
	/* fragments that add up to more than the limit */
	n = 0;
	put(s, &n, WS_OP_TEXT, "0123456789", 10);
	put(s, &n, WS_FIN | WS_OP_CONT, "0123456789", 10);
	ONE_ERR(WS_CLOSE_TOO_BIG, 16);
#undef ONE_ERR
	/* after an error the reader stays failed */
	wsp_rx_init(&rx, 1024);
	n = 0;
	put(s, &n, WS_FIN | WS_OP_BINARY, "ab", 2);
	put(s, &n, WS_FIN | WS_OP_TEXT, "ok", 2);
	assert_int_equal(wsp_rx_push(&rx, s, n), 0);
	assert_int_equal(wsp_rx_next(&rx, &ev), WSP_ERROR);
	assert_int_equal(wsp_rx_next(&rx, &ev), WSP_ERROR);
	assert_int_equal(ev.code, WS_CLOSE_UNSUPPORTED);
	wsp_rx_free(&rx);
	/* a close without a code is 1005 */
	n = 0;
	put(s, &n, WS_FIN | WS_OP_CLOSE, "", 0);
	w[0].type = WSP_CLOSE;
	w[0].data = "";
	w[0].code = 1005;
	feed_check(s, n, 1, n, w, 1, 1024);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_masked_header),
		cmocka_unit_test(test_frame_roundtrip),
		cmocka_unit_test(test_parse_url),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_response_every_cut),
		cmocka_unit_test(test_response_refused),
		cmocka_unit_test(test_reader_every_split),
		cmocka_unit_test(test_reader_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
