/*
 * entry.c - parsing tutti:cmd stream entries and comparing stream ids. The
 * worker must never wedge on a bad entry: everything is checked here, and a
 * malformed entry is answered with 400 and acknowledged by the caller.
 */
#include "entry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Parses all n bytes at s as an unsigned decimal. Returns 0 or -1. */
static int
entry_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

int
entry_id_parse(const char *s, struct stream_id *id)
{
	const char *dash = strchr(s, '-');

	if (dash == NULL) {
		id->seq = 0;
		return entry_u64(s, strlen(s), &id->ms);
	}
	if (entry_u64(s, (size_t)(dash - s), &id->ms) != 0)
		return -1;
	return entry_u64(dash + 1, strlen(dash + 1), &id->seq);
}

int
entry_id_cmp(const struct stream_id *a, const struct stream_id *b)
{
	if (a->ms != b->ms)
		return a->ms < b->ms ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return 0;
}

int
entry_id_seen(const char *id, const char *last)
{
	struct stream_id a, b;

	return entry_id_parse(id, &a) == 0 && entry_id_parse(last, &b) == 0 &&
	    entry_id_cmp(&a, &b) <= 0;
}

int
entry_int64(const char *s, int64_t *v)
{
	char *end;
	long long x;

	if (*s != '-' && (*s < '0' || *s > '9'))
		return -1;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*v = x;
	return 0;
}

/* Returns 1 when s (n bytes) can name a reply list: 1..ENTRY_REQ_MAX
 * characters of [A-Za-z0-9_-]. */
static int
entry_req_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > ENTRY_REQ_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

static int
entry_bad(const char **why, const char *msg)
{
	*why = msg;
	return -1;
}

enum {
	F_REQ = 1, F_ROOM = 2, F_USER = 4, F_ACTION = 8, F_POS = 16, F_OFFSET = 32,
	F_ITEM = 64, F_ONLINE = 128
};

#define ENTRY_NFIELDS 8

/* Stores the value v of the numeric field f into e. Returns 0, or -1 when
 * it is not a decimal int64 in the field's range. */
static int
entry_number(struct entry *e, unsigned f, const char *v)
{
	int64_t x;

	if (entry_int64(v, &x) != 0 || (x < 0 && f != F_OFFSET))
		return -1;
	if (f == F_USER)
		e->user = x;
	else if (f == F_POS)
		e->cmd.position_us = x;
	else if (f == F_OFFSET)
		e->cmd.offset_us = x;
	else
		e->cmd.item_id = x;
	return 0;
}

/* Stores one field/value pair into e; *seen collects the fields met so far.
 * Returns 0, or -1 with *why set. */
static int
entry_field(struct entry *e, const redisReply *k, const redisReply *v, unsigned *seen,
    const char **why)
{
	static const char *const names[ENTRY_NFIELDS] = {
		"req", "room", "user", "action", "position_us", "offset_us", "item_id",
		"online"
	};
	static const char *const bad[ENTRY_NFIELDS] = {
		NULL, NULL, "user is not a user id (0 for the system)", NULL,
		"position_us is not a decimal integer >= 0",
		"offset_us is not a decimal integer",
		"item_id is not a decimal integer >= 0", NULL
	};
	unsigned f = 0, i;

	if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
		*why = "a field or value is not a string";
		return -1;
	}
	if (strlen(k->str) != k->len || strlen(v->str) != v->len)
		return entry_bad(why, "a field or value contains a NUL byte");
	for (i = 0; i < ENTRY_NFIELDS && f == 0; i++)
		if (strcmp(k->str, names[i]) == 0)
			f = 1u << i;
	if (f == 0)
		return 0;
	if (*seen & f) {
		*why = "a field is repeated";
		return -1;
	}
	*seen |= f;
	switch (f) {
	case F_REQ:
		if (!entry_req_valid(v->str, v->len))
			return entry_bad(why, "req is not 1-64 characters of [A-Za-z0-9_-]");
		memcpy(e->req, v->str, v->len + 1);
		return 0;
	case F_ROOM:
		if (v->len != CODE_LEN || !code_valid(v->str))
			return entry_bad(why, "room is not a room code");
		memcpy(e->room, v->str, CODE_LEN + 1);
		return 0;
	case F_ACTION:
		if (strcmp(v->str, "presence") == 0)
			e->kind = ENTRY_PRESENCE;
		else if (sched_action_parse(v->str, &e->cmd.action) != 0)
			return entry_bad(why, "action is not play, pause, resume, stop, next, "
			    "prev, seek, jump, reload or presence");
		return 0;
	case F_ONLINE:
		if (strcmp(v->str, "0") != 0 && strcmp(v->str, "1") != 0)
			return entry_bad(why, "online is not 0 or 1");
		e->online = v->str[0] == '1';
		return 0;
	default:
		return entry_number(e, f, v->str) == 0 ? 0 : entry_bad(why, bad[i - 1]);
	}
}

/* Checks a presence entry: online present, a real user, no req (nobody
 * waits for an answer). Returns 0, or -1 with *why set. */
static int
entry_needs_presence(const struct entry *e, unsigned seen, const char **why)
{
	if (!(seen & F_ONLINE))
		return entry_bad(why, "presence needs online");
	if (e->user <= 0)
		return entry_bad(why, "presence needs a user id > 0");
	if (seen & F_REQ)
		return entry_bad(why, "presence takes no req");
	return 0;
}

/* Checks the fields an action needs (seen: the fields present). Returns 0,
 * or -1 with *why set. */
static int
entry_needs(struct entry *e, unsigned seen, const char **why)
{
	if ((seen & (F_ROOM | F_USER | F_ACTION)) != (F_ROOM | F_USER | F_ACTION))
		return entry_bad(why, "a required field (room, user, action) is missing");
	if (e->kind == ENTRY_PRESENCE)
		return entry_needs_presence(e, seen, why);
	switch (e->cmd.action) {
	case SCHED_SEEK:
		if (!(seen & F_POS) == !(seen & F_OFFSET))
			return entry_bad(why, "seek needs exactly one of position_us and "
			    "offset_us");
		e->cmd.relative = (seen & F_OFFSET) != 0;
		return 0;
	case SCHED_JUMP:
		if (e->cmd.item_id <= 0)
			return entry_bad(why, "jump needs item_id");
		return 0;
	default:
		return 0;
	}
}

/* Reads the fields array f into e. Returns 0, or -1 with *why set. */
static int
entry_fields(const redisReply *f, struct entry *e, const char **why)
{
	unsigned seen = 0;
	size_t i;
	int rc = 0;

	if (f->type != REDIS_REPLY_ARRAY) {
		*why = "the entry has no fields (deleted)";
		return -1;
	}
	if (f->elements % 2 != 0) {
		*why = "the entry has an odd number of field elements";
		return -1;
	}
	/* Keep going after an error so that req is known for the 400 reply. */
	for (i = 0; i < f->elements; i += 2)
		if (entry_field(e, f->element[i], f->element[i + 1], &seen, why) != 0)
			rc = -1;
	if (rc == 0)
		rc = entry_needs(e, seen, why);
	return rc;
}

int
entry_parse(const redisReply *r, struct entry *e, const char **why)
{
	struct stream_id sid;
	const redisReply *id;

	memset(e, 0, sizeof(*e));
	*why = "the entry is not [id, fields]";
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		return -2;
	id = r->element[0];
	if (id->type != REDIS_REPLY_STRING || id->len >= ENTRY_ID_MAX ||
	    entry_id_parse(id->str, &sid) != 0)
		return -2;
	memcpy(e->id, id->str, id->len + 1);
	return entry_fields(r->element[1], e, why);
}
