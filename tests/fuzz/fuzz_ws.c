/*
 * fuzz_ws.c - libFuzzer harness for the relay's frame parser (relay/ws.c)
 * and the client message decoder (relay/msg.c), walking the input as the
 * relay walks a client's byte stream. Not built by make:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon \
 *       tests/fuzz/fuzz_ws.c relay/ws.c relay/msg.c common/text.c -ljansson -lcrypto \
 *       -o build/fuzz_ws
 *   build/fuzz_ws -max_len=8192 -max_total_time=60
 *
 * The input is copied to a buffer of its exact size, so ASan reports any read
 * past the length given. Invariants checked: a header is 2..14 bytes, has the
 * minimal length encoding (its length is what ws_header_encode writes, plus
 * the mask), respects the masking rule and the size limits; a refusal carries
 * 1002 or 1009; a ping's t0 is a number and its pong encodes.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "../../relay/msg.h"
#include "../../relay/ws.h"

#define MAX_MSG 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_message(const uint8_t *s, size_t n)
{
	struct msg_ping p;
	size_t len = 0;
	char *pong;
	int rc;

	if (text_utf8_len((const char *)s, n) < 0)
		return;
	rc = msg_parse((const char *)s, n, &p);
	assert(rc >= -1 && rc <= 1);
	assert(rc == 1 || p.t0 == NULL);
	if (rc == 1) {
		assert(json_is_number(p.t0));
		pong = msg_pong(&p, 1, 2, &len);
		assert(pong != NULL && strlen(pong) == len);
		free(pong);
		msg_ping_clear(&p);
	}
}

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
		if (size - off - (size_t)h < f.len)
			break;
		ws_unmask(buf + off + h, (size_t)f.len, f.mask);
		if (f.opcode == WS_OP_TEXT || (f.opcode == WS_OP_CONT && in_msg)) {
			if (f.opcode == WS_OP_TEXT)
				mlen = 0;
			if (mlen + f.len <= MAX_MSG) {
				memcpy(msg, buf + off + h, (size_t)f.len);
				mlen += (size_t)f.len;
				in_msg = !f.fin;
				if (f.fin)
					check_message(msg, mlen);
			} else
				in_msg = 0;
		}
		off += (size_t)h + (size_t)f.len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);

	memcpy(buf, data, size);
	walk(buf, size, WS_FROM_CLIENT, MAX_MSG);
	memcpy(buf, data, size);
	walk(buf, size, WS_FROM_SERVER, UINT64_MAX >> 1);
	memcpy(buf, data, size);
	check_message(buf, size);
	free(buf);
	return 0;
}
