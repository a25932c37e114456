/*
 * ws.h - RFC 6455 framing shared by tutti-relay (the server side) and the
 * tutti CLI (the client side): pure functions over the caller's buffer, no
 * allocation, never a read past the length given.
 *
 * The relay reads client frames (masked, at most RELAY_MSG_MAX bytes of
 * payload) and writes server frames (unmasked): ws_parse_header() checks the
 * first, ws_header_encode() writes the header of the second, once per event
 * however many sockets share the bytes.
 */
#ifndef TUTTI_WS_H
#define TUTTI_WS_H

#include <stddef.h>
#include <stdint.h>

#define WS_OP_CONT   0x0
#define WS_OP_TEXT   0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE  0x8
#define WS_OP_PING   0x9
#define WS_OP_PONG   0xa
#define WS_FIN       0x80	/* first header byte: last frame of a message */

/* Close codes (RFC 6455, 7.4.1) the relay sends. */
#define WS_CLOSE_NORMAL      1000
#define WS_CLOSE_GOING_AWAY  1001
#define WS_CLOSE_PROTOCOL    1002
#define WS_CLOSE_UNSUPPORTED 1003
#define WS_CLOSE_BAD_DATA    1007
#define WS_CLOSE_POLICY      1008
#define WS_CLOSE_TOO_BIG     1009

#define WS_MAX_HEADER  14	/* 2 + 8 (64-bit length) + 4 (mask) */
#define WS_MAX_CONTROL 125	/* payload of a control frame */
#define WS_KEY_LEN     24	/* Sec-WebSocket-Key: base64 of 16 bytes */
#define WS_ACCEPT_LEN  28	/* Sec-WebSocket-Accept: base64 of a SHA-1 */

/* Which peer sent the frames being parsed: a client's frames must be masked,
 * a server's must not be (RFC 6455, 5.1). */
enum ws_from { WS_FROM_CLIENT, WS_FROM_SERVER };

struct ws_frame {
	uint8_t fin;		/* 1: last frame of its message */
	uint8_t opcode;		/* WS_OP_* */
	uint8_t masked;
	uint8_t mask[4];	/* valid when masked */
	uint64_t len;		/* payload length */
};

/*
 * Parses the frame header at p (n bytes available; the payload need not be).
 * Returns the header length (2..14) and fills *f once the whole header is
 * there; -2 when more bytes are needed; -1 on a frame the peer may not send,
 * with the close code in *code: 1002 for reserved bits, an unknown opcode, a
 * fragmented or longer than 125 bytes control frame, a non-minimal or 64-bit
 * length with its top bit set, the wrong masking for `from`; 1009 for a data
 * frame longer than max_len. Errors are reported as soon as the bytes that
 * show them are present, so -1 may come before the header is complete.
 */
int ws_parse_header(const uint8_t *p, size_t n, enum ws_from from, uint64_t max_len,
    struct ws_frame *f, int *code);

/* Applies (or removes: it is an involution) the masking key to the n payload
 * bytes at p, in place. */
void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4]);

/* Writes the header of an unmasked frame with first byte fin_op (WS_FIN |
 * opcode, or the opcode alone for a non-final fragment) and a payload of len
 * bytes into out (at least 10 bytes). Returns the header length: 2, 4 or 10. */
size_t ws_header_encode(uint8_t *out, unsigned fin_op, uint64_t len);

/* Returns 1 when s (n bytes) is a valid Sec-WebSocket-Key: base64 that
 * decodes to exactly 16 bytes. Else 0. */
int ws_key_valid(const char *s, size_t n);

/* Computes Sec-WebSocket-Accept for the key (n bytes): base64(SHA-1(key ||
 * the RFC 6455 GUID)) into out (WS_ACCEPT_LEN + 1 bytes, NUL-terminated).
 * Returns 0, or -1 when the key is longer than 64 bytes or the digest fails. */
int ws_accept_key(const char *key, size_t n, char *out);

/* Returns 1 when a peer may send code in a close frame (RFC 6455, 7.4):
 * 1000-1003, 1007-1011, 3000-4999. Else 0. */
int ws_close_code_valid(unsigned code);

/* Writes the header of a masked frame (the client side: every frame a client
 * sends is masked, RFC 6455, 5.3) with first byte fin_op, a payload of len
 * bytes and the masking key mask into out (at least WS_MAX_HEADER bytes).
 * Returns the header length: 6, 8 or 14. The caller masks the payload with
 * ws_unmask() and the same key. */
size_t ws_header_encode_masked(uint8_t *out, unsigned fin_op, uint64_t len,
    const uint8_t mask[4]);

#endif
