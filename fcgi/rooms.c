/*
 * rooms.c - the room resource of tutti-api:
 *   POST /api/rooms                 create a room; the creator is its admin
 *   POST /api/rooms/{code}/join     join with a display name
 *   GET  /api/rooms/{code}          the room: users, playlist, playback anchor
 * Every change is one SQLite transaction; the Redis keys the relays read
 * (room, session) and the room event are written after it commits.
 */
#include "anchor.h"
#include "api.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "rkeys.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

#define API_CODE_TRIES 16

/* Validates body.name into u->name. Returns 0, or -1 after sending 400. */
static int
api_body_name(struct api_req *r, struct api_user *u)
{
	json_t *name = json_object_get(r->body, "name");
	const char *start;
	size_t len;

	if (!json_is_string(name)) {
		api_problem(r, 400, "Invalid name", "\"name\" must be a string");
		return -1;
	}
	if (text_name_check(json_string_value(name), json_string_length(name),
	    &start, &len) != 0) {
		api_problem(r, 400, "Invalid name", "a name has 1 to %d characters after "
		    "trimming, and no control characters", NAME_MAX_CHARS);
		return -1;
	}
	memcpy(u->name, start, len);
	u->name[len] = '\0';
	return 0;
}

/* Inserts u (name, role, room_id set) with a fresh token, written to token.
 * Returns SQLITE_DONE with u->id and u->token_hash set, SQLITE_CONSTRAINT
 * when the name is taken in the room, or another SQLite code. */
static int
api_user_insert(sqlite3 *db, struct api_user *u, char *token)
{
	int rc;

	if (token_new(token) != 0 || token_hash(token, TOKEN_LEN, u->token_hash) != 0)
		return SQLITE_ERROR;
	rc = api_sql_run(db, &u->id, "INSERT INTO users (room_id, name, role, "
	    "token_hash, joined_us) VALUES (?, ?, ?, ?, ?) RETURNING id", "ittti",
	    u->room_id, u->name, u->role, u->token_hash, clock_now_us());
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

static json_t *
api_user_json(const struct api_user *u)
{
	return json_pack("{s:I, s:s, s:s}", "id", (json_int_t)u->id, "name", u->name,
	    "role", u->role);
}

/* Creates the room row with a fresh unique code, its playlist (the whole
 * library, for now) and a stopped anchor. Runs inside the caller's
 * transaction. Returns 0 with u->room_id and u->code set, or -1. */
static int
api_room_insert(sqlite3 *db, struct api_user *u)
{
	int64_t now = clock_now_us();
	int i, rc = SQLITE_CONSTRAINT;

	for (i = 0; i < API_CODE_TRIES && rc == SQLITE_CONSTRAINT; i++) {
		if (code_new(u->code) != 0)
			return -1;
		rc = api_sql_run(db, &u->room_id, "INSERT INTO rooms (code, created_us) "
		    "VALUES (?, ?) RETURNING id", "ti", u->code, now);
	}
	if (rc != SQLITE_ROW)
		return -1;
	if (api_sql_run(db, NULL, "INSERT INTO playlist_items (room_id, track_id, "
	    "position) SELECT ?, id, row_number() OVER (ORDER BY title, id) FROM tracks",
	    "i", u->room_id) != SQLITE_DONE)
		return -1;
	return api_sql_run(db, NULL, "INSERT INTO playback (room_id, state, item_id, "
	    "position_us, at_us) VALUES (?1, 'stopped', (SELECT id FROM playlist_items "
	    "WHERE room_id = ?1 ORDER BY position LIMIT 1), 0, ?2)", "ii",
	    u->room_id, now) == SQLITE_DONE ? 0 : -1;
}

/* Writes the room key and the session the relays check, after commit. A
 * Redis failure is logged, not fatal: GET /api/rooms/{code} writes both again. */
static void
api_room_announce(struct api_thread *t, const struct api_user *u)
{
	redisReply *rep;

	rep = api_redis_cmd(t, "SET " RKEY_ROOM "%s %lld", u->code, (long long)u->room_id);
	freeReplyObject(rep);
	api_session_store(t, u);
}

void
api_rooms_create(struct api_req *r)
{
	struct api_user u = { .role = "admin" };
	char token[TOKEN_LEN + 1], loc[64];
	sqlite3 *db = r->t->db;

	if (api_read_json(r) != 0 || api_body_name(r, &u) != 0)
		return;
	if (db_begin(db) != 0)
		goto fail;
	if (api_room_insert(db, &u) != 0 || api_user_insert(db, &u, token) != SQLITE_DONE ||
	    db_exec(db, "COMMIT") != 0) {
		db_exec(db, "ROLLBACK");
		goto fail;
	}
	api_room_announce(r->t, &u);
	log_info("room %s created by user %lld", u.code, (long long)u.id);
	snprintf(loc, sizeof(loc), "Location: /api/rooms/%s\r\n", u.code);
	api_reply(r, 201, json_pack("{s:s, s:s, s:o}", "code", u.code, "token", token,
	    "user", api_user_json(&u)), loc);
	return;
fail:
	api_problem(r, 500, "Internal error", "the room could not be created");
}

/* Takes the room's next seq inside the caller's transaction. Returns it, or -1. */
static int64_t
api_seq_next(sqlite3 *db, int64_t room_id)
{
	int64_t seq = -1;

	if (api_sql_run(db, &seq, "UPDATE rooms SET seq = seq + 1 WHERE id = ? "
	    "RETURNING seq", "i", room_id) != SQLITE_ROW)
		return -1;
	return seq;
}

void
api_rooms_join(struct api_req *r)
{
	const char *code = r->m.code;
	struct api_user u = { .role = "member" };
	char token[TOKEN_LEN + 1];
	sqlite3 *db = r->t->db;
	int64_t seq = -1;
	json_t *ev;
	int rc;

	if (api_read_json(r) != 0 || api_body_name(r, &u) != 0)
		return;
	if (db_begin(db) != 0)
		goto fail;
	if ((rc = api_room_find(db, code, &u.room_id)) != 0) {
		db_exec(db, "ROLLBACK");
		if (rc < 0)
			goto fail;
		api_problem(r, 404, "No such room", "no open room has the code %s", code);
		return;
	}
	snprintf(u.code, sizeof(u.code), "%s", code);
	if ((rc = api_user_insert(db, &u, token)) == SQLITE_CONSTRAINT) {
		db_exec(db, "ROLLBACK");
		api_problem(r, 409, "Name taken", "someone in room %s is already called %s",
		    code, u.name);
		return;
	}
	if (rc != SQLITE_DONE || (seq = api_seq_next(db, u.room_id)) < 0 ||
	    db_exec(db, "COMMIT") != 0) {
		db_exec(db, "ROLLBACK");
		goto fail;
	}
	api_session_store(r->t, &u);
	ev = json_pack("{s:s, s:s, s:I, s:o}", "type", "user_joined", "room", code,
	    "seq", (json_int_t)seq, "user", api_user_json(&u));
	api_publish(r->t, code, ev);
	json_decref(ev);
	api_reply(r, 201, json_pack("{s:s, s:o}", "token", token, "user",
	    api_user_json(&u)), NULL);
	return;
fail:
	api_problem(r, 500, "Internal error", "could not join room %s", code);
}

static json_t *
api_users_json(sqlite3 *db, int64_t room_id)
{
	sqlite3_stmt *st = api_sql(db, "SELECT id, name, role FROM users WHERE "
	    "room_id = ? AND left_us IS NULL ORDER BY joined_us, id", "i", room_id);
	json_t *a = json_array();

	while (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, json_pack("{s:I, s:s, s:s}",
		    "id", (json_int_t)sqlite3_column_int64(st, 0),
		    "name", (const char *)sqlite3_column_text(st, 1),
		    "role", (const char *)sqlite3_column_text(st, 2)));
	sqlite3_finalize(st);
	return a;
}

void
api_rooms_get(struct api_req *r)
{
	const char *code = r->m.code;
	sqlite3 *db = r->t->db;
	struct api_user u;
	struct anchor a;
	int64_t room_id, seq = 0;
	json_t *room;
	int rc;

	if ((rc = api_room_find(db, code, &room_id)) != 0) {
		if (rc > 0)
			api_problem(r, 404, "No such room", "no open room has the code %s", code);
		else
			api_problem(r, 500, "Internal error", "database error");
		return;
	}
	if (api_auth(r, code, &u) != 0)
		return;
	/* One read transaction, so seq, playlist and anchor agree. */
	if (db_exec(db, "BEGIN") != 0)
		goto fail;
	if (api_sql_run(db, &seq, "SELECT seq FROM rooms WHERE id = ?", "i", room_id) !=
	    SQLITE_ROW || anchor_load(db, room_id, &a) < 0) {
		db_exec(db, "ROLLBACK");
		goto fail;
	}
	room = json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:o}", "code", code,
	    "seq", (json_int_t)seq, "now_us", (json_int_t)clock_now_us(),
	    "you", api_user_json(&u), "users", api_users_json(db, room_id),
	    "playlist", api_playlist_json(db, room_id), "playback", anchor_json(&a));
	db_exec(db, "COMMIT");
	api_room_announce(r->t, &u);
	api_reply(r, 200, room, NULL);
	return;
fail:
	api_problem(r, 500, "Internal error", "database error");
}

void api_rooms_list(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
void api_rooms_update(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
void api_rooms_close(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
