/*
 * msg.h - the messages clients send over the WebSocket (docs/protocol.md,
 * "Client to server"): one JSON object per text message, decoded with
 * jansson (duplicate keys rejected). The relay answers ping probes and
 * ignores every other message type; msg_pong() encodes the answer.
 */
#ifndef TUTTI_MSG_H
#define TUTTI_MSG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_RTT_MAX INT64_C(60000000)	/* a reported round trip above: ignored */

struct msg_ping {
	json_int_t id;
	json_t *t0;	/* the client's number, echoed as is; owned, see msg_ping_clear */
	int64_t rtt_us;	/* the client's last measured round trip, or -1 */
};

/*
 * Parses the message s (n bytes). Returns 1 for a ping ({"type":"ping"} with
 * an integer "id" and a numeric "t0"): *ping then holds a reference to t0,
 * which the caller releases with msg_ping_clear(), and rtt_us the optional
 * "rtt_us" when it is an integer in [0, MSG_RTT_MAX] (else -1: the ping is
 * still answered, the value ignored). Returns 0 for any other
 * JSON object (nothing to release), and -1 when s is not exactly one JSON
 * object (malformed, not UTF-8, a NUL in a string, a repeated key, an integer
 * out of range).
 */
int msg_parse(const char *s, size_t n, struct msg_ping *ping);

/* Releases what msg_parse() stored in *ping. */
void msg_ping_clear(struct msg_ping *ping);

/*
 * Encodes the pong that answers ping: {"type":"pong","id","t0","t1_us","t2_us"}.
 * Returns a malloc'd NUL-terminated string the caller frees, with its length
 * in *len, or NULL when out of memory.
 */
char *msg_pong(const struct msg_ping *ping, int64_t t1_us, int64_t t2_us, size_t *len);

#endif
