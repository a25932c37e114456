/*
 * users.c - the people in a room and their roles:
 *   GET    /api/rooms/{code}/users        who is present
 *   POST   /api/rooms/{code}/leave        leave (the token stops working)
 *   PUT    /api/rooms/{code}/admin        hand admin to someone (admin)
 *   DELETE /api/rooms/{code}/users/{id}   remove someone (admin)
 * When the admin leaves, rooms.admin_lost_us starts the grace period after
 * which the worker promotes the longest-present user; when the last person
 * leaves, rooms.empty_since_us starts the idle time after which it closes
 * the room. Every change is an event and a system chat line.
 */
#include "api.h"
#include "clock.h"
#include "log.h"
#include "rkeys.h"

#include <stdio.h>
#include <string.h>

json_t *
api_users_json(sqlite3 *db, int64_t room_id, int64_t *listeners)
{
	sqlite3_stmt *st = api_sql(db, "SELECT id, name, role, joined_us, online FROM users "
	    "WHERE room_id = ? AND left_us IS NULL ORDER BY joined_us, id", "i", room_id);
	json_t *a = json_array(), *u;
	int rc = SQLITE_ERROR;

	*listeners = 0;
	while (st != NULL && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		u = api_user_row_json(st, 0);
		json_object_set_new(u, "online", json_boolean(sqlite3_column_int(st, 4)));
		*listeners += sqlite3_column_int(st, 4) != 0;
		json_array_append_new(a, u);
	}
	api_sql_done(st);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return NULL;
	}
	return a;
}

void
api_users_list(struct api_req *r)
{
	struct api_room room;
	struct api_user u;
	int64_t listeners;
	json_t *a;

	if (api_enter(r, &room, &u) != 0)
		return;
	if ((a = api_users_json(r->t->db, room.id, &listeners)) == NULL) {
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	api_reply(r, 200, json_pack("{s:o, s:I}", "users", a, "listeners",
	    (json_int_t)listeners), NULL);
}

/* A present user of the room, loaded by id. */
struct api_target {
	int64_t id;
	char name[API_NAME_BYTES];
	char role[8];
	char token_hash[TOKEN_HASH_LEN + 1];
	int64_t joined_us;
};

/* Loads the present user id of room_id. Returns 0, 1 when there is none,
 * -1 on a database error. */
static int
api_target_load(sqlite3 *db, int64_t room_id, int64_t id, struct api_target *t)
{
	sqlite3_stmt *st = api_sql(db, "SELECT name, role, token_hash, joined_us FROM users "
	    "WHERE id = ? AND room_id = ? AND left_us IS NULL", "ii", id, room_id);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;

	if (rc == SQLITE_ROW) {
		t->id = id;
		snprintf(t->name, sizeof(t->name), "%s", sqlite3_column_text(st, 0));
		snprintf(t->role, sizeof(t->role), "%s", sqlite3_column_text(st, 1));
		snprintf(t->token_hash, sizeof(t->token_hash), "%s", sqlite3_column_text(st, 2));
		t->joined_us = sqlite3_column_int64(st, 3);
	}
	api_sql_done(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

static json_t *
api_target_json(const struct api_target *t)
{
	return json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)t->id, "name", t->name,
	    "role", t->role, "joined_us", (json_int_t)t->joined_us);
}

/* Inside the transaction: marks t as gone for reason, starts the grace
 * period when t was the admin and the idle time when the room is now
 * empty, and queues user_left and the chat line. Returns 0 or -1. */
static int
api_user_gone(struct api_req *r, const struct api_room *room, const struct api_target *t,
    const char *reason, int64_t by)
{
	sqlite3 *db = r->t->db;
	int64_t now = clock_now_us();
	json_t *ev;

	if (api_sql_run(db, NULL, "UPDATE users SET left_us = ?, left_reason = ? WHERE id = ?",
	    "iti", now, reason, t->id) != SQLITE_DONE)
		return -1;
	if (strcmp(t->role, "admin") == 0 && api_sql_run(db, NULL, "UPDATE rooms SET "
	    "admin_lost_us = ?1 WHERE id = ?2 AND NOT EXISTS (SELECT 1 FROM users WHERE "
	    "room_id = ?2 AND left_us IS NULL AND role = 'admin')", "ii", now, room->id) !=
	    SQLITE_DONE)
		return -1;
	if (api_sql_run(db, NULL, "UPDATE rooms SET empty_since_us = ?1 WHERE id = ?2 AND "
	    "NOT EXISTS (SELECT 1 FROM users WHERE room_id = ?2 AND left_us IS NULL)", "ii",
	    now, room->id) != SQLITE_DONE)
		return -1;
	ev = json_pack("{s:o, s:s}", "user", api_target_json(t), "reason", reason);
	if (by > 0)
		json_object_set_new(ev, "by", json_integer(by));
	if (api_emit(r, room, "user_left", ev) < 0)
		return -1;
	if (strcmp(reason, "removed") == 0)
		return api_chat_system(r, room, "%s was removed", t->name);
	return api_chat_system(r, room, "%s left", t->name);
}

/* Drops the session the relays check for token_hash (after commit). */
static void
api_session_drop(struct api_thread *t, const char *token_hash)
{
	freeReplyObject(api_redis_cmd(t, "DEL " RKEY_SESSION "%s", token_hash));
}

void
api_users_leave(struct api_req *r)
{
	struct api_target me;
	struct api_room room;
	struct api_user u;

	if (api_enter(r, &room, &u) != 0 || api_tx_begin(r) != 0)
		return;
	if (api_target_load(r->t->db, room.id, u.id, &me) != 0 ||
	    api_user_gone(r, &room, &me, "left", 0) != 0) {
		api_tx_rollback(r);
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	if (api_tx_commit(r) != 0)
		return;
	api_session_drop(r->t, u.token_hash);
	log_info("room %s: user %lld left", room.code, (long long)u.id);
	api_reply_empty(r, 204, NULL);
}

/* Reads the target user id of the path or of body.user_id and loads that
 * present user. Returns 0, or -1 after sending 400/404/500. */
static int
api_target_find(struct api_req *r, const struct api_room *room, int64_t id,
    struct api_target *t)
{
	int rc;

	if (id <= 0) {
		api_problem(r, 400, "Invalid user", "\"user_id\" is the id of a user in the room");
		return -1;
	}
	if ((rc = api_target_load(r->t->db, room->id, id, t)) == 0)
		return 0;
	if (rc > 0)
		api_problem(r, 404, "No such user", "nobody with id %lld is in room %s",
		    (long long)id, room->code);
	else
		api_problem(r, 500, "Internal error", "database error");
	return -1;
}

void
api_users_remove(struct api_req *r)
{
	struct api_target t;
	struct api_room room;
	struct api_user u;

	if (api_enter(r, &room, &u) != 0 || api_need_admin(r, &u, "remove people") != 0)
		return;
	if (r->m.id == u.id) {
		api_problem(r, 400, "Cannot remove yourself", "to leave, POST "
		    "/api/rooms/%s/leave", room.code);
		return;
	}
	if (api_tx_begin(r) != 0)
		return;
	if (api_target_find(r, &room, r->m.id, &t) != 0) {
		api_tx_rollback(r);
		return;
	}
	if (api_user_gone(r, &room, &t, "removed", u.id) != 0) {
		api_tx_rollback(r);
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	if (api_tx_commit(r) != 0)
		return;
	api_session_drop(r->t, t.token_hash);
	log_info("room %s: user %lld removed by %lld", room.code, (long long)t.id,
	    (long long)u.id);
	api_reply_empty(r, 204, NULL);
}

/* Inside the transaction: makes t the admin and u a member, and queues
 * role_changed and the chat line. Returns 0 or -1. */
static int
api_admin_swap(struct api_req *r, const struct api_room *room, const struct api_user *u,
    struct api_target *t)
{
	sqlite3 *db = r->t->db;

	if (api_sql_run(db, NULL, "UPDATE users SET role = 'member' WHERE id = ?", "i",
	    u->id) != SQLITE_DONE || api_sql_run(db, NULL, "UPDATE users SET role = 'admin' "
	    "WHERE id = ?", "i", t->id) != SQLITE_DONE || api_sql_run(db, NULL, "UPDATE "
	    "rooms SET admin_lost_us = NULL WHERE id = ?", "i", room->id) != SQLITE_DONE)
		return -1;
	snprintf(t->role, sizeof(t->role), "admin");
	if (api_emit(r, room, "role_changed", json_pack("{s:o, s:{s:I, s:s, s:s}, s:I, s:s}",
	    "user", api_target_json(t), "previous", "id", (json_int_t)u->id, "name", u->name,
	    "role", "member", "by", (json_int_t)u->id, "reason", "handed over")) < 0)
		return -1;
	return api_chat_system(r, room, "%s made %s the admin", u->name, t->name);
}

void
api_users_admin(struct api_req *r)
{
	struct api_room room;
	struct api_target t;
	struct api_user u;
	json_t *id;

	if (api_enter(r, &room, &u) != 0 || api_need_admin(r, &u, "hand over admin") != 0 ||
	    api_read_json_only(r, "user_id", NULL) != 0)
		return;
	id = json_object_get(r->body, "user_id");
	if (api_tx_begin(r) != 0)
		return;
	if (api_target_find(r, &room, json_is_integer(id) ? json_integer_value(id) : 0,
	    &t) != 0) {
		api_tx_rollback(r);
		return;
	}
	if (t.id == u.id) {
		api_tx_rollback(r);
		api_reply(r, 200, json_pack("{s:o}", "admin", api_target_json(&t)), NULL);
		return;
	}
	if (api_admin_swap(r, &room, &u, &t) != 0) {
		api_tx_rollback(r);
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	if (api_tx_commit(r) != 0)
		return;
	/* The relays read roles from the sessions. */
	freeReplyObject(api_redis_cmd(r->t, "HSET " RKEY_SESSION "%s role member",
	    u.token_hash));
	freeReplyObject(api_redis_cmd(r->t, "HSET " RKEY_SESSION "%s role admin",
	    t.token_hash));
	api_reply(r, 200, json_pack("{s:o}", "admin", api_target_json(&t)), NULL);
}
