/*
 * fuzz_ws.c - libFuzzer harness for the relay's frame parser (common/ws.c)
 * and the client message decoder (relay/msg.c), walking the input as the
 * relay walks a client's byte stream (relay/conn.c: fragments, control
 * frames between them, close payloads, the 4096-byte message limit). Built
 * and run by `make fuzz` (scripts/fuzz.sh); seeds in tests/fuzz/corpus/ws.
 *
 * The input is copied to a buffer of its exact size, so ASan reports any read
 * past the length given. Invariants checked: a header is 2..14 bytes, has the
 * minimal length encoding (its length is what ws_header_encode writes, plus
 * the mask), respects the masking rule and the size limits; every prefix of
 * a header is -2, and once a prefix is refused every longer one is, with the
 * same code (1002 or 1009); a ping's pong echoes its id and the same t0.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "../../relay/msg.h"
#include "ws.h"

#define MAX_MSG 4096	/* RELAY_MSG_MAX */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A complete text message, as conn_message() handles it. */
static void
check_message(const uint8_t *s, size_t n)
{
	struct msg_ping p;
	json_t *back;
	size_t len = 0;
	char *pong;
	int rc;

	if (text_utf8_len((const char *)s, n) < 0)
		return;
	rc = msg_parse((const char *)s, n, &p);
	assert(rc >= -1 && rc <= 1);
	assert(rc == 1 || p.t0 == NULL);
	if (rc != 1)
		return;
	assert(json_is_number(p.t0));
	pong = msg_pong(&p, 1, 2, &len);
	assert(pong != NULL && strlen(pong) == len);
	back = json_loadb(pong, len, JSON_REJECT_DUPLICATES, NULL);
	assert(back != NULL);
	assert(json_integer_value(json_object_get(back, "id")) == p.id);
	assert(json_equal(json_object_get(back, "t0"), p.t0));
	json_decref(back);
	free(pong);
	msg_ping_clear(&p);
}

/* A close frame's payload, as conn_peer_close() reads it. */
static void
check_close(const uint8_t *pl, size_t n)
{
	unsigned code;

	assert(n <= WS_MAX_CONTROL);
	if (n < 2)
		return;
	code = (unsigned)pl[0] << 8 | pl[1];
	if (ws_close_code_valid(code))
		assert(code >= 1000 && code < 5000 && code != 1004 && code != 1005 &&
		    code != 1006 && code != 1015);
	(void)text_utf8_len((const char *)pl + 2, n - 2);
}

/* Every prefix of p (n bytes) gives -2 while shorter than the header h (or
 * the refusal); -1 comes only once the bytes show it, and then stays. */
static void
check_prefixes(const uint8_t *p, size_t n, enum ws_from from, uint64_t max, int h, int code)
{
	struct ws_frame f;
	size_t k, lim = n < WS_MAX_HEADER ? n : WS_MAX_HEADER;
	int rc, c, refused = 0;
	uint8_t *cut;

	for (k = 0; k <= lim; k++) {
		cut = malloc(k ? k : 1);
		assert(cut != NULL);
		memcpy(cut, p, k);
		rc = ws_parse_header(cut, k, from, max, &f, &c);
		free(cut);
		if (h > 0) {
			assert(rc == ((int)k < h ? -2 : h));
		} else if (h == -1) {
			if (refused)
				assert(rc == -1 && c == code);
			if (rc == -1) {
				assert(c == code);
				refused = 1;
			} else
				assert(rc == -2);
		} else
			assert(rc == -2);
	}
}

/* Parses a frame header again from what ws_header_encode writes for it. */
static void
check_encode(const struct ws_frame *f, enum ws_from from, uint64_t max)
{
	uint8_t hdr[WS_MAX_HEADER];
	struct ws_frame g;
	size_t n;
	int code;

	n = ws_header_encode(hdr, (f->fin ? WS_FIN : 0) | f->opcode, f->len);
	if (from == WS_FROM_CLIENT) {
		hdr[1] |= 0x80;
		memcpy(hdr + n, f->mask, 4);
		n += 4;
	}
	assert(ws_parse_header(hdr, n, from, max, &g, &code) == (int)n && code == 0);
	assert(g.fin == f->fin && g.opcode == f->opcode && g.len == f->len &&
	    g.masked == f->masked && memcmp(g.mask, f->mask, 4) == 0);
}

/* Walks the frames in buf as conn_frames()/conn_frame() do. */
static void
walk(uint8_t *buf, size_t size, enum ws_from from, uint64_t max)
{
	uint8_t msg[MAX_MSG], hdr[10];
	size_t off = 0, mlen = 0;
	int in_msg = 0;

	while (off < size) {
		struct ws_frame f;
		int code = -1, h;

		h = ws_parse_header(buf + off, size - off, from, max, &f, &code);
		check_prefixes(buf + off, size - off, from, max, h, code);
		if (h == -2)
			break;
		if (h == -1) {
			assert(code == WS_CLOSE_PROTOCOL || code == WS_CLOSE_TOO_BIG);
			break;
		}
		assert(code == 0);
		assert(h >= 2 && h <= WS_MAX_HEADER);
		assert(f.masked == (from == WS_FROM_CLIENT));
		assert((size_t)h == ws_header_encode(hdr, WS_FIN | f.opcode, f.len) +
		    (f.masked ? 4 : 0));
		if (f.opcode & 0x08)
			assert(f.fin && f.len <= WS_MAX_CONTROL);
		else
			assert(f.len <= max);
		check_encode(&f, from, max);
		if (size - off - (size_t)h < f.len)
			break;
		ws_unmask(buf + off + h, (size_t)f.len, f.mask);
		if (f.opcode == WS_OP_TEXT) {
			if (in_msg)
				break;		/* 1002: a text frame inside a message */
			mlen = 0;
		} else if (f.opcode == WS_OP_CONT && !in_msg)
			break;			/* 1002: nothing to continue */
		if (f.opcode == WS_OP_TEXT || f.opcode == WS_OP_CONT) {
			if (f.len > MAX_MSG - mlen)
				break;		/* 1009 */
			memcpy(msg + mlen, buf + off + h, (size_t)f.len);
			mlen += (size_t)f.len;
			in_msg = !f.fin;
			if (f.fin)
				check_message(msg, mlen);
		} else if (f.opcode == WS_OP_CLOSE) {
			check_close(buf + off + h, (size_t)f.len);
			break;
		}
		off += (size_t)h + (size_t)f.len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	char accept[WS_ACCEPT_LEN + 1];

	assert(buf != NULL);
	memcpy(buf, data, size);
	walk(buf, size, WS_FROM_CLIENT, MAX_MSG);
	memcpy(buf, data, size);
	walk(buf, size, WS_FROM_SERVER, UINT64_MAX >> 1);
	memcpy(buf, data, size);
	check_message(buf, size);
	if (size >= WS_KEY_LEN && ws_key_valid((const char *)buf, WS_KEY_LEN))
		assert(ws_accept_key((const char *)buf, WS_KEY_LEN, accept) == 0 &&
		    strlen(accept) == WS_ACCEPT_LEN);
	free(buf);
	return 0;
}
