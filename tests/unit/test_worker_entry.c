/*
 * test_worker_entry.c - table-driven unit tests of worker/entry.c, the
 * parser of tutti:cmd stream entries (docs/protocol.md, "Command entries"):
 * each row is the field list of one entry as XREADGROUP returns it (built
 * through hiredis's own reply reader) and the command or the 400 expected;
 * presence entries (common/presence.c) have a table of their own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>

#include "../../worker/entry.h"

#define MAXF 16

struct erow {
	const char *name;
	const char *f[MAXF];	/* field, value, ...; NULL ends */
	int ok;			/* 1: parses; 0: malformed (-1) */
	const char *req;	/* expected e.req */
	enum sched_action action;
	int64_t user;
	int64_t pos;
	int64_t offset;
	int relative;
	int64_t item;
};

#define R "ABCDE"

static const struct erow erows[] = {
	{ "play with req", { "req", "r1", "room", R, "user", "7", "action", "play" },
	    1, "r1", SCHED_PLAY, 7, 0, 0, 0, 0 },
	{ "no req: applied without a reply", { "room", R, "user", "7", "action",
	    "pause" }, 1, "", SCHED_PAUSE, 7, 0, 0, 0, 0 },
	{ "user 0 is the system", { "room", R, "user", "0", "action", "reload" }, 1, "",
	    SCHED_RELOAD, 0, 0, 0, 0, 0 },
	{ "reload with item_id", { "room", R, "user", "0", "action", "reload",
	    "item_id", "42" }, 1, "", SCHED_RELOAD, 0, 0, 0, 0, 42 },
	{ "reload with item_id 0", { "room", R, "user", "0", "action", "reload",
	    "item_id", "0" }, 1, "", SCHED_RELOAD, 0, 0, 0, 0, 0 },
	{ "resume", { "req", "x", "room", R, "user", "3", "action", "resume" }, 1, "x",
	    SCHED_RESUME, 3, 0, 0, 0, 0 },
	{ "absolute seek", { "req", "x", "room", R, "user", "3", "action", "seek",
	    "position_us", "60000000" }, 1, "x", SCHED_SEEK, 3, 60000000, 0, 0, 0 },
	{ "relative seek back", { "req", "x", "room", R, "user", "3", "action", "seek",
	    "offset_us", "-10000000" }, 1, "x", SCHED_SEEK, 3, 0, -10000000, 1, 0 },
	{ "relative seek forward", { "req", "x", "room", R, "user", "3", "action", "seek",
	    "offset_us", "10000000" }, 1, "x", SCHED_SEEK, 3, 0, 10000000, 1, 0 },
	{ "relative seek by INT64_MIN", { "req", "x", "room", R, "user", "3", "action",
	    "seek", "offset_us", "-9223372036854775808" }, 1, "x", SCHED_SEEK, 3, 0,
	    INT64_MIN, 1, 0 },
	{ "jump", { "req", "x", "room", R, "user", "3", "action", "jump", "item_id", "9" },
	    1, "x", SCHED_JUMP, 3, 0, 0, 0, 9 },
	{ "unknown fields are ignored", { "req", "x", "room", R, "user", "3", "action",
	    "stop", "via", "cli" }, 1, "x", SCHED_STOP, 3, 0, 0, 0, 0 },
	/* malformed: answered 400 when req is known */
	{ "seek with neither", { "req", "x", "room", R, "user", "3", "action", "seek" },
	    0, "x", 0, 0, 0, 0, 0, 0 },
	{ "seek with both", { "req", "x", "room", R, "user", "3", "action", "seek",
	    "position_us", "1", "offset_us", "1" }, 0, "x", 0, 0, 0, 0, 0, 0 },
	{ "negative position", { "req", "x", "room", R, "user", "3", "action", "seek",
	    "position_us", "-1" }, 0, "x", 0, 0, 0, 0, 0, 0 },
	{ "offset out of range", { "req", "x", "room", R, "user", "3", "action", "seek",
	    "offset_us", "9223372036854775808" }, 0, "x", 0, 0, 0, 0, 0, 0 },
	{ "offset not a number", { "req", "x", "room", R, "user", "3", "action", "seek",
	    "offset_us", "+5" }, 0, "x", 0, 0, 0, 0, 0, 0 },
	{ "jump without item_id", { "req", "x", "room", R, "user", "3", "action",
	    "jump" }, 0, "x", 0, 0, 0, 0, 0, 0 },
	{ "jump to item 0", { "req", "x", "room", R, "user", "3", "action", "jump",
	    "item_id", "0" }, 0, "x", 0, 0, 0, 0, 0, 0 },
	{ "negative item_id", { "room", R, "user", "0", "action", "reload", "item_id",
	    "-2" }, 0, "", 0, 0, 0, 0, 0, 0 },
	{ "negative user", { "req", "x", "room", R, "user", "-1", "action", "play" }, 0,
	    "x", 0, 0, 0, 0, 0, 0 },
	{ "no user", { "req", "x", "room", R, "action", "play" }, 0, "x", 0, 0, 0, 0, 0,
	    0 },
	{ "no room", { "req", "x", "user", "1", "action", "play" }, 0, "x", 0, 0, 0, 0, 0,
	    0 },
	{ "no action", { "req", "x", "room", R, "user", "1" }, 0, "x", 0, 0, 0, 0, 0, 0 },
	{ "unknown action", { "req", "x", "room", R, "user", "1", "action", "rewind" }, 0,
	    "x", 0, 0, 0, 0, 0, 0 },
	{ "repeated item_id", { "req", "x", "room", R, "user", "1", "action", "jump",
	    "item_id", "1", "item_id", "2" }, 0, "x", 0, 0, 0, 0, 0, 0 },
	{ "bad req, still no reply", { "req", "a b", "room", R, "user", "1", "action",
	    "play" }, 0, "", 0, 0, 0, 0, 0, 0 },
	{ "bad room code", { "req", "x", "room", "abcde", "user", "1", "action", "play" },
	    0, "x", 0, 0, 0, 0, 0, 0 },
};

/* Parses the RESP text of [id, [fields...]] for the row through hiredis's
 * reader. Returns the reply (freeReplyObject) or NULL. */
static redisReply *
erow_reply(const struct erow *r)
{
	char buf[2048];
	size_t n = 0, k = 0, i;
	redisReader *rd;
	void *reply = NULL;

	while (k < MAXF && r->f[k] != NULL)
		k++;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "*2\r\n$5\r\n7-123\r\n*%zu\r\n", k);
	for (i = 0; i < k; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "$%zu\r\n%s\r\n",
		    strlen(r->f[i]), r->f[i]);
	if (n >= sizeof(buf) || (rd = redisReaderCreate()) == NULL)
		return NULL;
	if (redisReaderFeed(rd, buf, n) != REDIS_OK ||
	    redisReaderGetReply(rd, &reply) != REDIS_OK)
		reply = NULL;
	redisReaderFree(rd);
	return reply;
}

/* Runs one row. Returns 0 when it behaves as expected, else prints why. */
static int
erow_run(const struct erow *r)
{
	redisReply *rep = erow_reply(r);
	struct entry e;
	const char *why = NULL;
	int rc;

	if (rep == NULL) {
		print_error("row \"%s\": cannot build the reply\n", r->name);
		return 1;
	}
	rc = entry_parse(rep, &e, &why);
	freeReplyObject(rep);
	if (strcmp(e.id, "7-123") != 0 || strcmp(e.req, r->req) != 0) {
		print_error("row \"%s\": id \"%s\" req \"%s\"\n", r->name, e.id, e.req);
		return 1;
	}
	if (!r->ok) {
		if (rc == -1 && why != NULL && why[0] != '\0')
			return 0;
		print_error("row \"%s\": want malformed, got rc %d\n", r->name, rc);
		return 1;
	}
	if (rc == 0 && strcmp(e.room, R) == 0 && e.cmd.action == r->action &&
	    e.user == r->user && e.cmd.position_us == r->pos &&
	    e.cmd.offset_us == r->offset && e.cmd.relative == r->relative &&
	    e.cmd.item_id == r->item)
		return 0;
	print_error("row \"%s\": rc %d (%s), action %d user %lld pos %lld offset %lld "
	    "relative %d item %lld\n", r->name, rc, rc ? why : "", (int)e.cmd.action,
	    (long long)e.user, (long long)e.cmd.position_us, (long long)e.cmd.offset_us,
	    e.cmd.relative, (long long)e.cmd.item_id);
	return 1;
}

static void
test_entry_table(void **state)
{
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(erows) / sizeof(erows[0]); i++)
		failed += erow_run(&erows[i]);
	assert_int_equal(failed, 0);
}

/* Presence entries, as common/presence.c's script XADDs them. */
struct prow {
	const char *name;
	const char *f[MAXF];	/* field, value, ...; NULL ends */
	int ok;			/* 1: parses; 0: malformed (-1) */
	int64_t user;
	int online;
};

static const struct prow prows[] = {
	{ "online", { "room", R, "user", "12", "action", "presence", "online", "1" }, 1,
	    12, 1 },
	{ "offline", { "room", R, "user", "12", "action", "presence", "online", "0" }, 1,
	    12, 0 },
	{ "fields in another order", { "online", "0", "action", "presence", "user", "3",
	    "room", R }, 1, 3, 0 },
	{ "unknown fields are ignored", { "room", R, "user", "3", "action", "presence",
	    "online", "1", "relay", "r1" }, 1, 3, 1 },
	{ "no online", { "room", R, "user", "3", "action", "presence" }, 0, 0, 0 },
	{ "online 2", { "room", R, "user", "3", "action", "presence", "online", "2" }, 0,
	    0, 0 },
	{ "online empty", { "room", R, "user", "3", "action", "presence", "online", "" },
	    0, 0, 0 },
	{ "online true", { "room", R, "user", "3", "action", "presence", "online",
	    "true" }, 0, 0, 0 },
	{ "online 01", { "room", R, "user", "3", "action", "presence", "online", "01" },
	    0, 0, 0 },
	{ "repeated online", { "room", R, "user", "3", "action", "presence", "online", "1",
	    "online", "0" }, 0, 0, 0 },
	{ "user 0", { "room", R, "user", "0", "action", "presence", "online", "1" }, 0, 0,
	    0 },
	{ "no user", { "room", R, "action", "presence", "online", "1" }, 0, 0, 0 },
	{ "no room", { "user", "3", "action", "presence", "online", "1" }, 0, 0, 0 },
	{ "with a req", { "req", "r9", "room", R, "user", "3", "action", "presence",
	    "online", "1" }, 0, 0, 0 },
	{ "Presence is case-sensitive", { "room", R, "user", "3", "action", "Presence",
	    "online", "1" }, 0, 0, 0 },
};

/* Runs one presence row. Returns 0 when it behaves as expected. */
static int
prow_run(const struct prow *p)
{
	struct erow r = { p->name, { NULL }, p->ok, "", 0, 0, 0, 0, 0, 0 };
	redisReply *rep;
	struct entry e;
	const char *why = NULL;
	int rc;

	memcpy(r.f, p->f, sizeof(r.f));
	if ((rep = erow_reply(&r)) == NULL) {
		print_error("row \"%s\": cannot build the reply\n", p->name);
		return 1;
	}
	rc = entry_parse(rep, &e, &why);
	freeReplyObject(rep);
	if (!p->ok) {
		if (rc == -1 && why != NULL && why[0] != '\0' && strcmp(e.id, "7-123") == 0)
			return 0;
		print_error("row \"%s\": want malformed, got rc %d\n", p->name, rc);
		return 1;
	}
	if (rc == 0 && e.kind == ENTRY_PRESENCE && strcmp(e.room, R) == 0 &&
	    e.user == p->user && e.online == p->online && e.req[0] == '\0')
		return 0;
	print_error("row \"%s\": rc %d (%s), kind %d user %lld online %d\n", p->name, rc,
	    rc ? why : "", (int)e.kind, (long long)e.user, e.online);
	return 1;
}

static void
test_entry_presence(void **state)
{
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(prows) / sizeof(prows[0]); i++)
		failed += prow_run(&prows[i]);
	assert_int_equal(failed, 0);
}

/* A control command is still a command, whatever the presence fields. */
static void
test_entry_kinds(void **state)
{
	static const struct erow play = { "play", { "room", R, "user", "1", "action",
	    "play", "online", "1" }, 1, "", SCHED_PLAY, 1, 0, 0, 0, 0 };
	redisReply *rep = erow_reply(&play);
	struct entry e;
	const char *why;

	(void)state;
	assert_non_null(rep);
	assert_int_equal(entry_parse(rep, &e, &why), 0);
	assert_int_equal(e.kind, ENTRY_COMMAND);
	assert_int_equal(e.cmd.action, SCHED_PLAY);
	freeReplyObject(rep);
}

/* entry_id_seen: applied before means not after the last applied id. */
static void
test_entry_seen(void **state)
{
	(void)state;
	assert_int_equal(entry_id_seen("5-1", "5-1"), 1);
	assert_int_equal(entry_id_seen("5-0", "5-1"), 1);
	assert_int_equal(entry_id_seen("4-9", "5-0"), 1);
	assert_int_equal(entry_id_seen("5-2", "5-1"), 0);
	assert_int_equal(entry_id_seen("10-0", "9-99"), 0);
	assert_int_equal(entry_id_seen("1-1", "0-0"), 0);
	assert_int_equal(entry_id_seen("x", "0-0"), 0);
}

/* An entry deleted while pending (nil fields) is malformed but keeps its
 * id, so it is acknowledged; one without an id cannot be. */
static void
test_entry_shapes(void **state)
{
	static const char deleted[] = "*2\r\n$3\r\n1-1\r\n*-1\r\n";
	static const char noid[] = "*2\r\n:5\r\n*0\r\n";
	redisReader *rd = redisReaderCreate();
	void *rep = NULL;
	struct entry e;
	const char *why;

	(void)state;
	assert_non_null(rd);
	assert_int_equal(redisReaderFeed(rd, deleted, sizeof(deleted) - 1), REDIS_OK);
	assert_int_equal(redisReaderGetReply(rd, &rep), REDIS_OK);
	assert_non_null(rep);
	assert_int_equal(entry_parse(rep, &e, &why), -1);
	assert_string_equal(e.id, "1-1");
	freeReplyObject(rep);
	assert_int_equal(redisReaderFeed(rd, noid, sizeof(noid) - 1), REDIS_OK);
	assert_int_equal(redisReaderGetReply(rd, &rep), REDIS_OK);
	assert_non_null(rep);
	assert_int_equal(entry_parse(rep, &e, &why), -2);
	freeReplyObject(rep);
	redisReaderFree(rd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_table),
		cmocka_unit_test(test_entry_shapes),
		cmocka_unit_test(test_entry_presence),
		cmocka_unit_test(test_entry_kinds),
		cmocka_unit_test(test_entry_seen),
	};

	return cmocka_run_group_tests_name("worker_entry", tests, NULL, NULL);
}
