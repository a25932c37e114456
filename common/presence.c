/*
 * presence.c - the presence script and its argument helpers (see
 * presence.h). The script is the only writer of the two count hashes, so a
 * relay's share and the total never disagree, and it alone decides when a
 * user comes online or goes offline, so each transition reaches tutti:cmd
 * exactly once, in the order Redis ran the scripts.
 */
#include "presence.h"
#include "rkeys.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char presence_script[] =
    "local d = tonumber(ARGV[3])\n"
    "if d == nil or d ~= math.floor(d) then\n"
    "  return redis.error_reply('ERR presence: the delta is not an integer')\n"
    "end\n"
    "local f = ARGV[1] .. ':' .. ARGV[2]\n"
    "local mine = tonumber(redis.call('HGET', KEYS[2], f) or '0')\n"
    "local before = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0')\n"
    "if d < -mine then d = -mine end\n"
    "if d == 0 then return math.max(before, 0) end\n"
    "if redis.call('HINCRBY', KEYS[2], f, d) <= 0 then\n"
    "  redis.call('HDEL', KEYS[2], f)\n"
    "end\n"
    "local after = redis.call('HINCRBY', KEYS[1], ARGV[2], d)\n"
    "if after <= 0 then redis.call('HDEL', KEYS[1], ARGV[2]) end\n"
    "if (before > 0) ~= (after > 0) then\n"
    "  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '100000', '*', 'room', ARGV[1],\n"
    "    'user', ARGV[2], 'action', 'presence', 'online', after > 0 and '1' or '0')\n"
    "end\n"
    "return math.max(after, 0)\n";

int
presence_relay_valid(const char *id, size_t n)
{
	size_t i;

	if (n == 0 || n > PRESENCE_RELAY_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= '0' && id[i] <= '9') || id[i] == '.' || id[i] == '_' ||
		    id[i] == '-'))
			return 0;
	return 1;
}

/* Points argument i of a at the NUL-terminated s. */
static void
presence_arg(struct presence_args *a, int i, const char *s)
{
	a->argv[i] = s;
	a->argvlen[i] = strlen(s);
}

int
presence_args(struct presence_args *a, const char *relay_id, const char *code,
    int64_t user_id, int64_t delta)
{
	if (!presence_relay_valid(relay_id, strlen(relay_id)) || !code_valid(code) ||
	    user_id <= 0 || delta == 0)
		return -1;
	snprintf(a->key_room, sizeof(a->key_room), RKEY_PRESENCE "%s", code);
	snprintf(a->key_relay, sizeof(a->key_relay), RKEY_RELAY_CONNS "%s", relay_id);
	snprintf(a->code, sizeof(a->code), "%s", code);
	snprintf(a->user, sizeof(a->user), "%" PRId64, user_id);
	snprintf(a->delta, sizeof(a->delta), "%" PRId64, delta);
	presence_arg(a, 0, "EVAL");
	presence_arg(a, 1, presence_script);
	presence_arg(a, 2, "3");
	presence_arg(a, 3, a->key_room);
	presence_arg(a, 4, a->key_relay);
	presence_arg(a, 5, RKEY_CMD_STREAM);
	presence_arg(a, 6, a->code);
	presence_arg(a, 7, a->user);
	presence_arg(a, 8, a->delta);
	return 0;
}

int
presence_field_parse(const char *f, size_t n, char *code, int64_t *user_id)
{
	uint64_t x = 0;
	size_t i;

	if (n < CODE_LEN + 2 || n > PRESENCE_FIELD_MAX || f[CODE_LEN] != ':' ||
	    f[CODE_LEN + 1] == '0')
		return -1;
	for (i = CODE_LEN + 1; i < n; i++) {
		unsigned d = (unsigned char)f[i] - '0';

		if (d > 9 || x > ((uint64_t)INT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	memcpy(code, f, CODE_LEN);
	code[CODE_LEN] = '\0';
	if (!code_valid(code))
		return -1;
	*user_id = (int64_t)x;
	return 0;
}
