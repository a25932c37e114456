/*
 * ws.c - RFC 6455 frame headers, masking and the opening-handshake key.
 * Written in-house (ARCHITECTURE.md, "Libraries"): the relay encodes each
 * event once and shares the bytes across sockets, and checks client frames
 * without copying them. Fuzzed by tests/fuzz/fuzz_ws.c.
 */
#include "ws.h"

#include <openssl/evp.h>
#include <string.h>

int
ws_parse_header(const uint8_t *p, size_t n, enum ws_from from, uint64_t max_len,
    struct ws_frame *f, int *code)
{
	unsigned op, len7;
	uint64_t len;
	size_t hlen, i;

	*code = WS_CLOSE_PROTOCOL;
	if (n < 1)
		return -2;
	op = p[0] & 0x0f;
	if (p[0] & 0x70)			/* RSV1-3: no extension negotiated */
		return -1;
	if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY &&
	    op != WS_OP_CLOSE && op != WS_OP_PING && op != WS_OP_PONG)
		return -1;
	if ((op & 0x08) && !(p[0] & WS_FIN))	/* control frames are not fragmented */
		return -1;
	if (n < 2)
		return -2;
	if (((p[1] & 0x80) != 0) != (from == WS_FROM_CLIENT))
		return -1;
	len7 = p[1] & 0x7f;
	if ((op & 0x08) && len7 > WS_MAX_CONTROL)
		return -1;
	if (len7 < 126) {
		len = len7;
		hlen = 2;
	} else if (len7 == 126) {
		if (n < 4)
			return -2;
		len = (uint64_t)p[2] << 8 | p[3];
		if (len < 126)			/* the minimal encoding is required */
			return -1;
		hlen = 4;
	} else {
		if (n < 10)
			return -2;
		if (p[2] & 0x80)		/* the most significant bit must be 0 */
			return -1;
		for (len = 0, i = 2; i < 10; i++)
			len = len << 8 | p[i];
		if (len < 65536)
			return -1;
		hlen = 10;
	}
	if (len > max_len && !(op & 0x08)) {
		*code = WS_CLOSE_TOO_BIG;
		return -1;
	}
	if (p[1] & 0x80) {
		if (n < hlen + 4)
			return -2;
		memcpy(f->mask, p + hlen, 4);
		hlen += 4;
	} else
		memset(f->mask, 0, 4);
	f->fin = (p[0] & WS_FIN) != 0;
	f->opcode = (uint8_t)op;
	f->masked = (p[1] & 0x80) != 0;
	f->len = len;
	*code = 0;
	return (int)hlen;
}

void
ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4])
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] ^= mask[i & 3];
}

size_t
ws_header_encode(uint8_t *out, unsigned fin_op, uint64_t len)
{
	int i;

	out[0] = (uint8_t)fin_op;
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

static int
ws_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int
ws_key_valid(const char *s, size_t n)
{
	size_t i;

	/* 16 bytes: 21 full sextets, a sextet holding the last 2 bits, "==". */
	if (n != WS_KEY_LEN || s[22] != '=' || s[23] != '=')
		return 0;
	for (i = 0; i < 22; i++)
		if (!ws_b64_char(s[i]))
			return 0;
	return 1;
}

int
ws_accept_key(const char *key, size_t n, char *out)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char md[EVP_MAX_MD_SIZE];
	char buf[64 + sizeof(guid)];
	unsigned int mdlen = 0;

	if (n > 64)
		return -1;
	memcpy(buf, key, n);
	memcpy(buf + n, guid, sizeof(guid) - 1);
	if (EVP_Digest(buf, n + sizeof(guid) - 1, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, md, 20) == WS_ACCEPT_LEN ? 0 : -1;
}

int
ws_close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
	    (code >= 3000 && code <= 4999);
}

size_t
ws_header_encode_masked(uint8_t *out, unsigned fin_op, uint64_t len, const uint8_t mask[4])
{
	size_t h = ws_header_encode(out, fin_op, len);

	out[1] |= 0x80;
	memcpy(out + h, mask, 4);
	return h + 4;
}
