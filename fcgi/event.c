/*
 * event.c - changes to a room, made transactionally. A handler opens a
 * write transaction, changes rows, and queues room events with api_emit();
 * each event takes the room's next seq in the same transaction. Only after
 * COMMIT are the events published on the room's channel, in seq order, so a
 * client never sees an event for a change that did not happen.
 */
#include "api.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "rkeys.h"

#include <stdarg.h>
#include <stdio.h>

int
api_tx_begin(struct api_req *r)
{
	if (db_begin(r->t->db) == 0)
		return 0;
	api_problem(r, 503, "Service unavailable", "the database is busy; try again");
	return -1;
}

int64_t
api_emit(struct api_req *r, const struct api_room *room, const char *type, json_t *fields)
{
	int64_t seq = -1;
	json_t *ev;

	if (api_sql_run(r->t->db, &seq, "UPDATE rooms SET seq = seq + 1 WHERE id = ? "
	    "RETURNING seq", "i", room->id) != SQLITE_ROW) {
		json_decref(fields);
		return -1;
	}
	ev = json_pack("{s:s, s:s, s:I}", "type", type, "room", room->code,
	    "seq", (json_int_t)seq);
	if (ev == NULL || (fields != NULL && json_object_update(ev, fields) != 0) ||
	    (r->events == NULL && (r->events = json_array()) == NULL) ||
	    json_array_append_new(r->events, ev) != 0) {
		json_decref(fields);
		return -1;
	}
	json_decref(fields);
	return seq;
}

int
api_chat_system(struct api_req *r, const struct api_room *room, const char *fmt, ...)
{
	char text[512];
	int64_t id, now = clock_now_us();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (api_sql_run(r->t->db, &id, "INSERT INTO chat (room_id, kind, text, at_us) "
	    "VALUES (?, 'system', ?, ?) RETURNING id", "iti", room->id, text, now) !=
	    SQLITE_ROW)
		return -1;
	return api_emit(r, room, "chat", json_pack("{s:{s:I, s:n, s:s, s:s, s:s, s:I}}",
	    "message", "id", (json_int_t)id, "user_id", "name", "", "kind", "system",
	    "text", text, "at_us", (json_int_t)now)) < 0 ? -1 : 0;
}

void
api_tx_rollback(struct api_req *r)
{
	db_exec(r->t->db, "ROLLBACK");
	json_decref(r->events);
	r->events = NULL;
}

int
api_tx_commit(struct api_req *r)
{
	size_t i;
	json_t *ev;

	if (db_exec(r->t->db, "COMMIT") != 0) {
		api_tx_rollback(r);
		api_problem(r, 500, "Internal error", "the change could not be saved");
		return -1;
	}
	json_array_foreach(r->events, i, ev)
		api_publish(r->t, json_string_value(json_object_get(ev, "room")), ev);
	json_decref(r->events);
	r->events = NULL;
	return 0;
}

int64_t
api_playlist_changed(struct api_req *r, struct api_room *room)
{
	json_t *items;

	if (api_sql_run(r->t->db, &room->playlist_version, "UPDATE rooms SET "
	    "playlist_version = playlist_version + 1 WHERE id = ? RETURNING "
	    "playlist_version", "i", room->id) != SQLITE_ROW ||
	    (items = api_playlist_json(r->t->db, room->id)) == NULL)
		return -1;
	if (api_emit(r, room, "playlist", json_pack("{s:I, s:o}", "version",
	    (json_int_t)room->playlist_version, "items", items)) < 0)
		return -1;
	return room->playlist_version;
}

int
api_worker_notify(struct api_req *r, const char *code, const char *action, int64_t item_id)
{
	redisReply *rep;
	int ok;

	rep = api_redis_cmd(r->t, "XADD " RKEY_CMD_STREAM " MAXLEN ~ 100000 * "
	    "room %s user 0 action %s item_id %lld", code, action, (long long)item_id);
	ok = rep != NULL && rep->type == REDIS_REPLY_STRING;
	if (!ok)
		log_warn("room %s: could not queue %s for the worker", code, action);
	freeReplyObject(rep);
	return ok ? 0 : -1;
}
