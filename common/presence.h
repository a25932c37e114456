/*
 * presence.h - who is listening, as the relays count it in Redis: the one
 * Lua script that changes the counts (tutti:presence:{code} and
 * tutti:relay:conns:{relay}) and reports a user's 0 <-> >0 transitions as a
 * `presence` entry on tutti:cmd, plus the helpers that build its EVAL
 * arguments and read the relay hash. The relays run it on every join and
 * leave; the worker runs it with a negative delta for a relay that died.
 */
#ifndef TUTTI_PRESENCE_H
#define TUTTI_PRESENCE_H

#include "token.h"

#include <stddef.h>
#include <stdint.h>

#define PRESENCE_RELAY_MAX 32	/* a relay id: [A-Za-z0-9._-]{1,32} */
#define PRESENCE_ARGC      9	/* EVAL, script, 3, three keys, three values */
#define PRESENCE_FIELD_MAX (CODE_LEN + 1 + 20)	/* "<code>:<user_id>" */

/* The script. KEYS: tutti:presence:{code}, tutti:relay:conns:{relay},
 * tutti:cmd. ARGV: code, user id, delta (a signed decimal integer). A
 * negative delta is clamped to the relay's own share, so applying a dead
 * relay's counts twice removes them once. A transition of the total (0 ->
 * >0, >0 -> 0) XADDs {room, user, action presence, online 1|0} with MAXLEN
 * ~ 100000, as the API does. Returns the user's count over all relays
 * afterwards; an error reply for a delta that is not an integer. */
extern const char presence_script[];

/* The argument vector of one EVAL of presence_script, for
 * redisCommandArgv() or redisAsyncCommandArgv() (argc PRESENCE_ARGC). The
 * pointers point into the struct itself or to static strings: keep the
 * struct alive and unmoved until the command is issued. */
struct presence_args {
	const char *argv[PRESENCE_ARGC];
	size_t argvlen[PRESENCE_ARGC];
	char key_room[sizeof("tutti:presence:") + CODE_LEN];
	char key_relay[sizeof("tutti:relay:conns:") + PRESENCE_RELAY_MAX];
	char code[CODE_LEN + 1];
	char user[24];
	char delta[24];
};

/* Returns 1 when the n bytes at id are a relay id ([A-Za-z0-9._-]{1,32}),
 * else 0. */
int presence_relay_valid(const char *id, size_t n);

/* Fills *a to change user_id's count in room code on relay relay_id by
 * delta (+1 on a WebSocket join, -1 on its close, -count for a dead
 * relay). Returns 0, or -1 (a untouched) when relay_id or code is not
 * valid, user_id <= 0 or delta is 0. */
int presence_args(struct presence_args *a, const char *relay_id, const char *code,
    int64_t user_id, int64_t delta);

/* Parses a field of tutti:relay:conns:{relay}, "<code>:<user_id>" (n bytes,
 * not NUL-terminated). Returns 0 with code (CODE_LEN + 1 bytes) and
 * *user_id > 0 set, or -1 when it is not one. */
int presence_field_parse(const char *f, size_t n, char *code, int64_t *user_id);

#endif
