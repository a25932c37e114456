/*
 * entry.h - one control command of the tutti:cmd stream, as the API XADDs it
 * (docs/protocol.md, "Command entries"), and stream ids ("ms-seq"). Pure
 * functions over replies and strings the caller owns; no allocation.
 */
#ifndef TUTTI_ENTRY_H
#define TUTTI_ENTRY_H

#include "sched.h"
#include "token.h"

#include <hiredis/hiredis.h>
#include <stdint.h>

#define ENTRY_ID_MAX  48	/* "ms-seq": two 20-digit numbers, '-', NUL */
#define ENTRY_REQ_MAX 64	/* characters of a request id */

struct stream_id {
	uint64_t ms;
	uint64_t seq;
};

/* What an entry asks for. */
enum entry_kind {
	ENTRY_COMMAND,		/* a control command for sched (e.cmd) */
	ENTRY_PRESENCE		/* a user came online or went offline (e.online) */
};

struct entry {
	char id[ENTRY_ID_MAX];		/* "" when the entry had no usable id */
	char req[ENTRY_REQ_MAX + 1];	/* "" when absent or malformed: no reply */
	char room[CODE_LEN + 1];
	int64_t user;			/* 0: the system (the API itself) */
	enum entry_kind kind;
	int online;			/* ENTRY_PRESENCE: 1 online, 0 offline */
	struct sched_cmd cmd;		/* ENTRY_COMMAND */
};

/* Parses a stream id "ms-seq" (or "ms", meaning seq 0) of decimal numbers.
 * Returns 0 and fills *id, or -1 when s is not one. */
int entry_id_parse(const char *s, struct stream_id *id);

/* Returns <0, 0 or >0 as a orders before, equal to or after b (numerically,
 * ms then seq). */
int entry_id_cmp(const struct stream_id *a, const struct stream_id *b);

/* Returns 1 when the stream id id is not after last (both "ms-seq"): the
 * entry was applied before. Returns 0 when it is after, or when either is
 * not a stream id. */
int entry_id_seen(const char *id, const char *last);

/* Parses a decimal int64 that fills all of s (optional '-', no spaces).
 * Returns 0 and sets *v, or -1 when malformed or out of range. */
int entry_int64(const char *s, int64_t *v);

/* Parses one stream entry as XREADGROUP returns it: [id, [field, value ...]]
 * (the fields are nil for an entry deleted while pending). Fields room, user
 * (>= 0) and action are required; req is optional (absent: apply without a
 * reply); seek needs exactly one of position_us (>= 0, absolute) and
 * offset_us (signed, relative); jump needs item_id > 0; reload takes an
 * optional item_id (>= 0); presence (kind ENTRY_PRESENCE, written by
 * common/presence.c's script) needs online (0 or 1) and a user > 0, and
 * takes no req. Unknown fields are ignored, repeated ones refused. Returns 0 with *e filled; -1 for a
 * malformed entry, with *why (a static string) saying why and e->id and
 * e->req filled as far as they are usable, so the caller can still answer
 * and acknowledge; -2 when r has no usable id at all. */
int entry_parse(const redisReply *r, struct entry *e, const char **why);

#endif
