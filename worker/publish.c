/*
 * publish.c - the worker's Redis writes (see publish.h). Replies to these
 * commands only matter when they are errors, which are logged; the privdata
 * of every callback here is a static string naming the command.
 */
#include "publish.h"
#include "log.h"
#include "rkeys.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>

#define PUBLISH_REPLY_TTL_S  10
#define PUBLISH_ALIVE_TTL_MS 3000

/* hiredis callback: reply is owned by hiredis, privdata is a static name.
 * A NULL reply means the connection went away before the answer. */
static void
publish_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	redisReply *r = reply;

	(void)ac;
	if (r == NULL)
		log_debug("%s: connection lost before the answer", (const char *)privdata);
	else if (r->type == REDIS_REPLY_ERROR)
		log_err("%s: %s", (const char *)privdata, r->str);
}

/* Serializes j (then released) compactly. Returns a string the caller frees
 * with free(), or NULL when j is NULL or out of memory (logged). */
static char *
publish_dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (s == NULL)
		log_err("cannot encode JSON (out of memory)");
	return s;
}

/* Logs a write dropped because the write connection is down. */
static void
publish_dropped(int rc, const char *what, const char *key)
{
	if (rc != 0)
		log_debug("%s %s dropped: Redis is not connected", what, key);
}

json_t *
publish_event_json(const char *type, const char *code, int64_t seq,
    const struct anchor *a, int64_t next_item_id, const char *cause)
{
	json_t *ev = json_pack("{s:s, s:s, s:I}", "type", type, "room", code,
	    "seq", (json_int_t)seq);
	json_t *fields = anchor_json(a);

	if (ev == NULL || fields == NULL || json_object_update(ev, fields) != 0 ||
	    anchor_json_next(ev, next_item_id) != 0 || (cause != NULL && json_object_set_new(ev, "cause", json_string(cause)) != 0)) {
		json_decref(ev);
		json_decref(fields);
		return NULL;
	}
	json_decref(fields);
	return ev;
}

void
publish_playback(struct worker *w, const char *code, int64_t seq,
    const struct anchor *a, int64_t next_item_id, const char *cause)
{
	char *s = publish_dump(publish_event_json("playback", code, seq, a, next_item_id,
	    cause));
	int rc;

	if (s == NULL)
		return;
	rc = rconn_cmd(&w->wr, publish_on_reply, "SET snapshot",
	    "SET " RKEY_SNAPSHOT "%s %s", code, s);
	if (rc == 0)
		rc = rconn_cmd(&w->wr, publish_on_reply, "PUBLISH",
		    "PUBLISH " RKEY_EVENTS "%s %s", code, s);
	publish_dropped(rc, "event of room", code);
	free(s);
}

void
publish_restore(struct worker *w, int64_t room_id, const char *code, int64_t seq,
    const struct anchor *a, int64_t next_item_id)
{
	char *s = publish_dump(publish_event_json("playback", code, seq, a, next_item_id,
	    "restore"));
	int rc;

	if (s == NULL)
		return;
	rc = rconn_cmd(&w->wr, publish_on_reply, "SET room", "SET " RKEY_ROOM "%s %lld",
	    code, (long long)room_id);
	if (rc == 0)
		rc = rconn_cmd(&w->wr, publish_on_reply, "SET snapshot",
		    "SET " RKEY_SNAPSHOT "%s %s", code, s);
	publish_dropped(rc, "keys of room", code);
	free(s);
}

void
publish_beacon(struct worker *w, const struct room *r, int64_t seq, int64_t now_us)
{
	json_t *j = publish_event_json("beacon", r->code, seq, &r->a, r->next_item_id,
	    r->cause);
	char *s;

	if (j != NULL && json_object_set_new(j, "now_us", json_integer(now_us)) != 0) {
		json_decref(j);
		j = NULL;
	}
	if ((s = publish_dump(j)) == NULL)
		return;
	publish_dropped(rconn_cmd(&w->wr, publish_on_reply, "PUBLISH beacon",
	    "PUBLISH " RKEY_EVENTS "%s %s", r->code, s), "beacon of room", r->code);
	free(s);
}

/* Publishes the room event ev (then released) on tutti:ev:{code}. */
static void
publish_event(struct worker *w, const char *code, json_t *ev)
{
	char *s = publish_dump(ev);

	if (s == NULL)
		return;
	publish_dropped(rconn_cmd(&w->wr, publish_on_reply, "PUBLISH",
	    "PUBLISH " RKEY_EVENTS "%s %s", code, s), "event of room", code);
	free(s);
}

void
publish_promoted(struct worker *w, const char *code, int64_t seq,
    const struct store_user *u, const struct store_user *prev)
{
	json_t *ev = json_pack("{s:s, s:s, s:I, s:{s:I, s:s, s:s, s:I}, s:n, s:s}",
	    "type", "role_changed", "room", code, "seq", (json_int_t)seq,
	    "user", "id", (json_int_t)u->id, "name", u->name, "role", "admin",
	    "joined_us", (json_int_t)u->joined_us, "by", "reason", "promoted");

	if (ev != NULL && prev != NULL && json_object_set_new(ev, "previous",
	    json_pack("{s:I, s:s, s:s}", "id", (json_int_t)prev->id, "name", prev->name,
	    "role", "member")) != 0) {
		json_decref(ev);
		ev = NULL;
	}
	publish_event(w, code, ev);
}

void
publish_presence(struct worker *w, const char *code, int64_t seq, int64_t user_id,
    const char *name, int online, int64_t listeners)
{
	publish_event(w, code, json_pack("{s:s, s:s, s:I, s:{s:I, s:s}, s:b, s:I}",
	    "type", "presence", "room", code, "seq", (json_int_t)seq,
	    "user", "id", (json_int_t)user_id, "name", name, "online", online,
	    "listeners", (json_int_t)listeners));
}

void
publish_chat_system(struct worker *w, const char *code, int64_t seq, int64_t id,
    const char *text, int64_t at_us)
{
	publish_event(w, code, json_pack("{s:s, s:s, s:I, s:{s:I, s:n, s:s, s:s, s:s, s:I}}",
	    "type", "chat", "room", code, "seq", (json_int_t)seq, "message",
	    "id", (json_int_t)id, "user_id", "name", "", "kind", "system", "text", text,
	    "at_us", (json_int_t)at_us));
}

void
publish_room_closed(struct worker *w, const char *code, int64_t seq, const char *reason)
{
	publish_event(w, code, json_pack("{s:s, s:s, s:I, s:s}", "type", "room_closed",
	    "room", code, "seq", (json_int_t)seq, "reason", reason));
	publish_dropped(rconn_cmd(&w->wr, publish_on_reply, "DEL room",
	    "DEL " RKEY_ROOM "%s " RKEY_SNAPSHOT "%s", code, code), "keys of room", code);
}

void
publish_session_role(struct worker *w, const char *token_hash, const char *role)
{
	static const char script[] =
	    "if redis.call('EXISTS', KEYS[1]) == 1 then "
	    "return redis.call('HSET', KEYS[1], 'role', ARGV[1]) end return 0";

	publish_dropped(rconn_cmd(&w->wr, publish_on_reply, "HSET session role",
	    "EVAL %s 1 " RKEY_SESSION "%s %s", script, token_hash, role),
	    "session role", token_hash);
}

/* Pushes the reply text s for req and sets its expiry. */
static void
publish_reply(struct worker *w, const char *req, const char *s)
{
	int rc = rconn_cmd(&w->wr, publish_on_reply, "RPUSH reply",
	    "RPUSH " RKEY_REPLY "%s %s", req, s);

	if (rc == 0)
		rc = rconn_cmd(&w->wr, publish_on_reply, "EXPIRE reply",
		    "EXPIRE " RKEY_REPLY "%s %d", req, PUBLISH_REPLY_TTL_S);
	publish_dropped(rc, "reply to", req);
}

void
publish_reply_ok(struct worker *w, const char *req, int64_t seq, const struct anchor *a,
    int64_t next_item_id)
{
	json_t *pb = anchor_json(a);
	char *s;

	if (pb != NULL && anchor_json_next(pb, next_item_id) != 0) {
		json_decref(pb);
		pb = NULL;
	}
	s = publish_dump(json_pack("{s:b, s:I, s:o}", "ok", 1, "seq", (json_int_t)seq,
	    "playback", pb));

	if (s != NULL)
		publish_reply(w, req, s);
	free(s);
}

void
publish_reply_err(struct worker *w, const char *req, int status, const char *title,
    const char *detail)
{
	char *s = publish_dump(json_pack("{s:b, s:i, s:s, s:s}", "ok", 0, "status", status,
	    "title", title, "detail", detail));

	if (s != NULL)
		publish_reply(w, req, s);
	free(s);
}

void
publish_ack(struct worker *w, const char *id)
{
	publish_dropped(rconn_cmd(&w->wr, publish_on_reply, "XACK",
	    "XACK " RKEY_CMD_STREAM " " RKEY_CMD_GROUP " %s", id), "XACK of", id);
}

void
publish_alive(struct worker *w)
{
	publish_dropped(rconn_cmd(&w->wr, publish_on_reply, "SET alive",
	    "SET " RKEY_WORKER_ALIVE " %s PX %d", w->cfg.id, PUBLISH_ALIVE_TTL_MS),
	    "liveness", RKEY_WORKER_ALIVE);
}

void
publish_dead(struct worker *w)
{
	static const char script[] =
	    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
	    "return redis.call('DEL', KEYS[1]) end return 0";

	publish_dropped(rconn_cmd(&w->wr, publish_on_reply, "DEL alive",
	    "EVAL %s 1 " RKEY_WORKER_ALIVE " %s", script, w->cfg.id),
	    "liveness", RKEY_WORKER_ALIVE);
}
