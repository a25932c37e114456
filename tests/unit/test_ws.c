/*
 * test_ws.c - RFC 6455 framing (common/ws.c) and client messages
 * (relay/msg.c): every valid frame cut at every byte and flush against a
 * guard page, every class of invalid header, the header encoder, the
 * handshake key, masking, and the JSON scanner behind ping/pong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "guard.h"
#include "../../relay/msg.h"
#include "ws.h"

#define BIG (UINT64_MAX >> 1)

static const uint8_t key4[4] = { 0x37, 0xfa, 0x21, 0x3d };

/*
 * Writes a frame into out: first byte b0 (FIN, RSV bits, opcode), the length
 * len in the encoding enc (0: minimal; 7, 16 or 64: forced), the masking key
 * when mask is set, then payload bytes when with_payload (pattern i * 7,
 * masked). Returns the frame's length (header only without payload).
 */
static size_t
mkframe(uint8_t *out, unsigned b0, int enc, uint64_t len, const uint8_t *mask,
    int with_payload)
{
	size_t h = 0, i;

	if (enc == 0)
		enc = len < 126 ? 7 : len <= 0xffff ? 16 : 64;
	out[h++] = (uint8_t)b0;
	if (enc == 7) {
		out[h++] = (uint8_t)len;
	} else if (enc == 16) {
		out[h++] = 126;
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = 127;
		for (i = 0; i < 8; i++)
			out[h++] = (uint8_t)(len >> (56 - 8 * i));
	}
	if (mask != NULL) {
		out[1] |= 0x80;
		memcpy(out + h, mask, 4);
		h += 4;
	}
	if (with_payload)
		for (i = 0; i < len; i++)
			out[h + i] = (uint8_t)(i * 7) ^ (mask != NULL ? mask[i & 3] : 0);
	return h + (with_payload ? (size_t)len : 0);
}

static size_t
hdr_len(uint64_t len, int masked)
{
	return (len < 126 ? 2 : len <= 0xffff ? 4 : 10) + (masked ? 4 : 0);
}

/* Feeds every prefix of frame (n bytes, header hl) flush against the guard
 * page and checks -2 before the header is complete, then hl and the fields. */
static void
check_cuts(struct guard *g, const uint8_t *frame, size_t n, size_t hl, enum ws_from from,
    unsigned b0, uint64_t len)
{
	struct ws_frame f;
	size_t k, step;
	int rc, code;

	for (k = 0; k <= n; k += step) {
		const uint8_t *p = guard_place(g, frame, k);

		memset(&f, 0xaa, sizeof(f));
		code = -7;
		rc = ws_parse_header(p, k, from, BIG, &f, &code);
		if (k < hl) {
			assert_int_equal(rc, -2);
		} else {
			assert_int_equal(rc, (int)hl);
			assert_int_equal(code, 0);
			assert_int_equal(f.fin, (b0 & 0x80) != 0);
			assert_int_equal(f.opcode, b0 & 0x0f);
			assert_int_equal(f.masked, from == WS_FROM_CLIENT);
			assert_true(f.len == len);
			if (from == WS_FROM_CLIENT)
				assert_memory_equal(f.mask, key4, 4);
		}
		/* every byte of small frames; around the header and the end of big ones */
		step = n <= 4096 || k < hl + 16 || k + 4096 >= n ? 1 : 4093;
		if (k < n && k + step > n)
			step = n - k;
	}
}

static void
test_valid_frames_every_cut(void **state)
{
	static const unsigned data_b0[] = {
		WS_FIN | WS_OP_TEXT, WS_FIN | WS_OP_BINARY, WS_OP_TEXT, WS_OP_CONT,
		WS_FIN | WS_OP_CONT,
	};
	static const unsigned ctl_b0[] = {
		WS_FIN | WS_OP_PING, WS_FIN | WS_OP_PONG, WS_FIN | WS_OP_CLOSE,
	};
	static const uint64_t data_len[] = { 0, 1, 2, 125, 126, 127, 4096, 65535, 65536, 70001 };
	static const uint64_t ctl_len[] = { 0, 1, 2, 124, 125 };
	size_t cap = 70001 + WS_MAX_HEADER, i, j, n;
	uint8_t *frame = malloc(cap);
	struct guard g;
	int side;

	(void)state;
	guard_init(&g, cap);
	for (side = 0; side < 2; side++) {
		enum ws_from from = side == 0 ? WS_FROM_CLIENT : WS_FROM_SERVER;
		const uint8_t *mask = from == WS_FROM_CLIENT ? key4 : NULL;

		for (i = 0; i < sizeof(data_b0) / sizeof(data_b0[0]); i++)
			for (j = 0; j < sizeof(data_len) / sizeof(data_len[0]); j++) {
				n = mkframe(frame, data_b0[i], 0, data_len[j], mask, 1);
				check_cuts(&g, frame, n, hdr_len(data_len[j], mask != NULL), from,
				    data_b0[i], data_len[j]);
			}
		for (i = 0; i < sizeof(ctl_b0) / sizeof(ctl_b0[0]); i++)
			for (j = 0; j < sizeof(ctl_len) / sizeof(ctl_len[0]); j++) {
				n = mkframe(frame, ctl_b0[i], 0, ctl_len[j], mask, 1);
				check_cuts(&g, frame, n, hdr_len(ctl_len[j], mask != NULL), from,
				    ctl_b0[i], ctl_len[j]);
			}
	}
	/* a 64-bit length beyond 4 GiB: header only */
	n = mkframe(frame, WS_FIN | WS_OP_BINARY, 0, (uint64_t)1 << 40, key4, 0);
	check_cuts(&g, frame, n, 14, WS_FROM_CLIENT, WS_FIN | WS_OP_BINARY, (uint64_t)1 << 40);
	guard_free(&g);
	free(frame);
}

/* Feeds every prefix of a bad header: -2 until the offending byte is there
 * (at index bad), then -1 with code. */
static void
check_bad(const uint8_t *frame, size_t n, size_t bad, enum ws_from from, uint64_t max,
    int want_code)
{
	struct guard g;
	struct ws_frame f;
	size_t k;
	int rc, code;

	guard_init(&g, n);
	for (k = 0; k <= n; k++) {
		const uint8_t *p = guard_place(&g, frame, k);

		code = 0;
		rc = ws_parse_header(p, k, from, max, &f, &code);
		if (k <= bad) {
			assert_int_equal(rc, -2);
		} else {
			assert_int_equal(rc, -1);
			assert_int_equal(code, want_code);
		}
	}
	guard_free(&g);
}

static void
test_masking_rules(void **state)
{
	uint8_t fr[32];
	size_t n;

	(void)state;
	/* a client frame without a mask */
	n = mkframe(fr, WS_FIN | WS_OP_TEXT, 0, 5, NULL, 1);
	check_bad(fr, n, 1, WS_FROM_CLIENT, BIG, WS_CLOSE_PROTOCOL);
	/* a server frame with one */
	n = mkframe(fr, WS_FIN | WS_OP_TEXT, 0, 5, key4, 1);
	check_bad(fr, n, 1, WS_FROM_SERVER, BIG, WS_CLOSE_PROTOCOL);
	/* a masked control frame from a client is fine */
	n = mkframe(fr, WS_FIN | WS_OP_PING, 0, 0, key4, 1);
	{
		struct ws_frame f;
		int code;

		assert_int_equal(ws_parse_header(fr, n, WS_FROM_CLIENT, 0, &f, &code), 6);
	}
}

static void
test_reserved_bits(void **state)
{
	static const unsigned rsv[] = { 0x40, 0x20, 0x10, 0x70 };
	uint8_t fr[32];
	size_t i, n;

	(void)state;
	for (i = 0; i < 4; i++) {
		n = mkframe(fr, WS_FIN | rsv[i] | WS_OP_TEXT, 0, 3, key4, 1);
		check_bad(fr, n, 0, WS_FROM_CLIENT, BIG, WS_CLOSE_PROTOCOL);
		n = mkframe(fr, rsv[i] | WS_OP_CONT, 0, 3, key4, 1);
		check_bad(fr, n, 0, WS_FROM_CLIENT, BIG, WS_CLOSE_PROTOCOL);
	}
}

static void
test_bad_opcodes(void **state)
{
	static const unsigned ops[] = { 3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf };
	uint8_t fr[32];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		n = mkframe(fr, WS_FIN | ops[i], 0, 0, key4, 1);
		check_bad(fr, n, 0, WS_FROM_CLIENT, BIG, WS_CLOSE_PROTOCOL);
		n = mkframe(fr, ops[i], 0, 0, key4, 1);
		check_bad(fr, n, 0, WS_FROM_CLIENT, BIG, WS_CLOSE_PROTOCOL);
	}
}

static void
test_control_frames(void **state)
{
	static const unsigned ops[] = { WS_OP_PING, WS_OP_PONG, WS_OP_CLOSE };
	uint8_t fr[300];
	size_t i, n;

	(void)state;
	for (i = 0; i < 3; i++) {
		/* fragmented */
		n = mkframe(fr, ops[i], 0, 0, key4, 1);
		check_bad(fr, n, 0, WS_FROM_CLIENT, BIG, WS_CLOSE_PROTOCOL);
		/* 126 bytes: the 16-bit form is refused at its second byte */
		n = mkframe(fr, WS_FIN | ops[i], 0, 126, key4, 1);
		check_bad(fr, n, 1, WS_FROM_CLIENT, BIG, WS_CLOSE_PROTOCOL);
		n = mkframe(fr, WS_FIN | ops[i], 64, 65536, key4, 0);
		check_bad(fr, n, 1, WS_FROM_CLIENT, BIG, WS_CLOSE_PROTOCOL);
		/* the limit of 4096 does not apply to control frames (125 at most) */
		n = mkframe(fr, WS_FIN | ops[i], 0, 125, key4, 1);
		{
			struct ws_frame f;
			int code;

			assert_int_equal(ws_parse_header(fr, n, WS_FROM_CLIENT, 4, &f, &code), 6);
			assert_true(f.len == 125);
		}
	}
}

static void
test_length_encodings(void **state)
{
	uint8_t fr[32];
	size_t n;

	(void)state;
	/* non-minimal: 125 in 16 bits, 65535 and 126 in 64 bits */
	n = mkframe(fr, WS_FIN | WS_OP_TEXT, 16, 125, key4, 0);
	check_bad(fr, n, 3, WS_FROM_CLIENT, BIG, WS_CLOSE_PROTOCOL);
	n = mkframe(fr, WS_FIN | WS_OP_TEXT, 16, 0, key4, 0);
	check_bad(fr, n, 3, WS_FROM_CLIENT, BIG, WS_CLOSE_PROTOCOL);
	n = mkframe(fr, WS_FIN | WS_OP_TEXT, 64, 65535, key4, 0);
	check_bad(fr, n, 9, WS_FROM_CLIENT, BIG, WS_CLOSE_PROTOCOL);
	n = mkframe(fr, WS_FIN | WS_OP_TEXT, 64, 126, key4, 0);
	check_bad(fr, n, 9, WS_FROM_CLIENT, BIG, WS_CLOSE_PROTOCOL);
	/* the most significant bit of a 64-bit length */
	n = mkframe(fr, WS_FIN | WS_OP_BINARY, 64, (uint64_t)1 << 63, key4, 0);
	check_bad(fr, n, 9, WS_FROM_CLIENT, UINT64_MAX, WS_CLOSE_PROTOCOL);
	n = mkframe(fr, WS_FIN | WS_OP_BINARY, 64, UINT64_MAX, key4, 0);
	check_bad(fr, n, 9, WS_FROM_CLIENT, UINT64_MAX, WS_CLOSE_PROTOCOL);
}

static void
test_max_len(void **state)
{
	struct ws_frame f;
	uint8_t fr[32];
	size_t n;
	int code;

	(void)state;
	n = mkframe(fr, WS_FIN | WS_OP_TEXT, 0, 4096, key4, 0);
	assert_int_equal(ws_parse_header(fr, n, WS_FROM_CLIENT, 4096, &f, &code), 8);
	/* one byte over: 1009 as soon as the length is known, before the mask */
	n = mkframe(fr, WS_FIN | WS_OP_TEXT, 0, 4097, key4, 0);
	check_bad(fr, n, 3, WS_FROM_CLIENT, 4096, WS_CLOSE_TOO_BIG);
	n = mkframe(fr, WS_OP_CONT, 0, 70000, key4, 0);
	check_bad(fr, n, 9, WS_FROM_CLIENT, 4096, WS_CLOSE_TOO_BIG);
	n = mkframe(fr, WS_FIN | WS_OP_TEXT, 0, 100, key4, 0);
	check_bad(fr, n, 1, WS_FROM_CLIENT, 99, WS_CLOSE_TOO_BIG);
}

static void
test_header_encode(void **state)
{
	static const struct {
		uint64_t len;
		size_t hl;
		uint8_t bytes[10];
	} cases[] = {
		{ 0, 2, { 0x81, 0 } },
		{ 125, 2, { 0x81, 125 } },
		{ 126, 4, { 0x81, 126, 0x00, 0x7e } },
		{ 65535, 4, { 0x81, 126, 0xff, 0xff } },
		{ 65536, 10, { 0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0 } },
		{ 0x0102030405ull, 10, { 0x81, 127, 0, 0, 0, 1, 2, 3, 4, 5 } },
	};
	struct ws_frame f;
	uint8_t out[16];
	size_t i, hl;
	int code;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 0xee, sizeof(out));
		hl = ws_header_encode(out, WS_FIN | WS_OP_TEXT, cases[i].len);
		assert_int_equal(hl, cases[i].hl);
		assert_memory_equal(out, cases[i].bytes, hl);
		assert_int_equal(out[hl], 0xee);
		/* what the relay writes, a client's parser reads back */
		assert_int_equal(ws_parse_header(out, hl, WS_FROM_SERVER, BIG, &f, &code), (int)hl);
		assert_true(f.len == cases[i].len);
		assert_int_equal(f.opcode, WS_OP_TEXT);
		assert_int_equal(f.fin, 1);
	}
	hl = ws_header_encode(out, WS_FIN | WS_OP_CLOSE, 2);
	assert_int_equal(hl, 2);
	assert_int_equal(out[0], 0x88);
	hl = ws_header_encode(out, WS_OP_BINARY, 3);
	assert_int_equal(out[0], 0x02);
}

static void
test_accept_key(void **state)
{
	char out[WS_ACCEPT_LEN + 1];
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";

	(void)state;
	assert_int_equal(ws_accept_key(key, strlen(key), out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void
test_unmask(void **state)
{
	/* RFC 6455, 5.7: a masked "Hello" */
	uint8_t fr[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	struct ws_frame f;
	int code;

	(void)state;
	assert_int_equal(ws_parse_header(fr, sizeof(fr), WS_FROM_CLIENT, 4096, &f, &code), 6);
	assert_true(f.len == 5);
	ws_unmask(fr + 6, 5, f.mask);
	assert_memory_equal(fr + 6, "Hello", 5);
	ws_unmask(fr + 6, 5, f.mask);
	assert_int_equal(fr[6], 0x7f);
	ws_unmask(fr, 0, f.mask);
}

static void
test_key_valid(void **state)
{
	(void)state;
	assert_true(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==", 24));
	assert_true(ws_key_valid("AAAAAAAAAAAAAAAAAAAA+/==", 24));
	assert_false(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=", 23));
	assert_false(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ===", 25));
	assert_false(ws_key_valid("dGhlIHNhbXBsZSBub25jZQQQ", 24));	/* 18 bytes */
	assert_false(ws_key_valid("dGhlIHNhbXBsZSBub25jZ===", 24));	/* 15 bytes */
	assert_false(ws_key_valid("dGhlIHNhbXBsZSBub2-jZQ==", 24));
	assert_false(ws_key_valid("", 0));
}

static void
test_close_codes(void **state)
{
	static const unsigned ok[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
	    3000, 4000, 4999 };
	static const unsigned bad[] = { 0, 999, 1004, 1005, 1006, 1012, 1015, 2999, 5000, 65535 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(ws_close_code_valid(ok[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(ws_close_code_valid(bad[i]));
}

/* ---- client messages (relay/msg.c) ---- */

/* Holds the input of parse() for the duration of one call. */
static struct guard input;

static int
parse(const char *s, struct msg_ping *p)
{
	size_t n = strlen(s);

	return msg_parse((const char *)guard_place(&input, s, n), n, p);
}

/* Parses a ping and returns its pong's text (caller frees). */
static char *
pong_of(const char *s, int64_t t1, int64_t t2)
{
	struct msg_ping p;
	size_t len = 0;
	char *out;

	assert_int_equal(parse(s, &p), 1);
	out = msg_pong(&p, t1, t2, &len);
	msg_ping_clear(&p);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	return out;
}

static void
test_msg_ping(void **state)
{
	static const char *const pings[] = {
		"{\"type\":\"ping\",\"id\":7,\"t0\":1500.25}",
		" {\"t0\":1500.25 , \"id\" : 7,\"type\":\"ping\"}\r\n",
		"{\"type\":\"ping\",\"id\":7,\"t0\":1500.25,\"extra\":[1,{\"a\":[]},\"x\",null,true,false]}",
		"{\"\\u0074ype\":\"p\\u0069ng\",\"id\":7,\"t0\":1500.25}",
	};
	char *out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pings) / sizeof(pings[0]); i++) {
		out = pong_of(pings[i], 10, 11);
		assert_string_equal(out,
		    "{\"type\":\"pong\",\"id\":7,\"t0\":1500.25,\"t1_us\":10,\"t2_us\":11}");
		free(out);
	}
	/* An integer t0 stays an integer; a microsecond clock in a double
	 * (what browsers send) comes back as the same double. */
	out = pong_of("{\"type\":\"ping\",\"id\":1,\"t0\":1795240637552100}", 1, 2);
	assert_non_null(strstr(out, "\"t0\":1795240637552100,"));
	free(out);
	out = pong_of("{\"type\":\"ping\",\"id\":1,\"t0\":1795240637552100.5}", 1, 2);
	assert_non_null(strstr(out, "\"t0\":1795240637552100.5,"));
	free(out);
}

static void
test_msg_other_objects(void **state)
{
	static const char *const others[] = {
		"{}", "{\"type\":\"chat\",\"text\":\"hi\"}",
		"{\"type\":\"ping\"}",				/* no id, no t0 */
		"{\"type\":\"ping\",\"id\":1.5,\"t0\":1}",	/* id not an integer */
		"{\"type\":\"ping\",\"id\":1,\"t0\":\"1\"}",	/* t0 not a number */
		"{\"type\":\"Ping\",\"id\":1,\"t0\":1}",
		"{\"type\":\"ping \",\"id\":1,\"t0\":1}",
		"{\"type\":1,\"id\":1,\"t0\":1}",
		"{\"x\":{\"type\":\"ping\",\"id\":1,\"t0\":1}}",	/* not top level */
		"{\"s\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \xc3\xa9\"}",
	};
	struct msg_ping p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		assert_int_equal(parse(others[i], &p), 0);
		assert_null(p.t0);
	}
}

static void
test_msg_not_objects(void **state)
{
	static const char *const bad[] = {
		"", " ", "[]", "\"ping\"", "1", "null", "true",
		"{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1}{}", "{\"a\":1} x",
		"{a:1}", "{\"a\":01}", "{\"a\":NaN}", "{\"a\":\"\\u12g4\"}", "{\"a\":\"\t\"}",
		"{\"type\":\"ping\",\"type\":\"ping\",\"id\":1,\"t0\":1}",
		"{\"type\":\"ping\",\"x\":{\"type\":1,\"type\":2},\"id\":1,\"t0\":1}",
		"{\"type\":\"ping\",\"id\":12345678901234567890,\"t0\":0}",
		"{\"a\":\"\xff\"}",
	};
	struct msg_ping p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &p) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_null(p.t0);
	}
	/* a NUL inside a string */
	assert_int_equal(msg_parse("{\"a\":\"\0\"}", 8, &p), -1);
}

/* Every proper prefix of a valid message is refused, without over-reading. */
static void
test_msg_every_cut(void **state)
{
	const char *s = "{\"type\":\"ping\",\"id\":12,\"t0\":-1.5e-3,\"x\":[true,false,null,\"\\u00e9\"]}";
	size_t n = strlen(s), k;
	struct msg_ping p;
	struct guard g;

	(void)state;
	guard_init(&g, n);
	for (k = 0; k < n; k++)
		assert_int_equal(msg_parse((const char *)guard_place(&g, s, k), k, &p), -1);
	assert_int_equal(msg_parse((const char *)guard_place(&g, s, n), n, &p), 1);
	assert_int_equal(p.id, 12);
	msg_ping_clear(&p);
	guard_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_frames_every_cut),
		cmocka_unit_test(test_masking_rules),
		cmocka_unit_test(test_reserved_bits),
		cmocka_unit_test(test_bad_opcodes),
		cmocka_unit_test(test_control_frames),
		cmocka_unit_test(test_length_encodings),
		cmocka_unit_test(test_max_len),
		cmocka_unit_test(test_header_encode),
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_unmask),
		cmocka_unit_test(test_key_valid),
		cmocka_unit_test(test_close_codes),
		cmocka_unit_test(test_msg_ping),
		cmocka_unit_test(test_msg_other_objects),
		cmocka_unit_test(test_msg_not_objects),
		cmocka_unit_test(test_msg_every_cut),
	};

	int rc;

	guard_init(&input, 4096);
	rc = cmocka_run_group_tests_name("ws", tests, NULL, NULL);
	guard_free(&input);
	return rc;
}
