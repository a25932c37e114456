/*
 * rooms.c - the room resource of tutti-api:
 *   GET    /api/rooms               public rooms, with listener counts
 *   POST   /api/rooms               create a room; the creator is its admin
 *   GET    /api/rooms/{code}        the room: settings, users, playlist,
 *                                   playback anchor, recent chat, requests
 *   PATCH  /api/rooms/{code}        settings (admin), repeat and shuffle
 *                                   included (sql/006_modes.sql)
 *   DELETE /api/rooms/{code}        close the room (admin)
 *   POST   /api/rooms/{code}/join   join with a display name
 * Every change is one transaction with its room events (event.c); the Redis
 * keys the relays read (room, session) are written after it commits.
 */
#include "anchor.h"
#include "api.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "rkeys.h"
#include "sched_order.h"
#include "text.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_CODE_TRIES 16
#define API_FILL_MAX 500	/* a new room gets at most this many library tracks */

/* A room's playback modes (rooms.repeat_mode, shuffle, shuffle_seed). The
 * worker reads them from SQLite at each decision (common/sched_order.h). */
struct api_modes {
	char repeat[4];		/* "off", "one" or "all" */
	int shuffle;
	int64_t seed;		/* the shuffle order's seed; new when shuffle turns on */
};

#define API_MODES_DEFAULT { "off", 0, 0 }

/* Validates the string body[key] with text_span_check() into out (size n).
 * Absent: returns 0 and leaves out alone. Returns 1 when set, or -1 after
 * sending 400. */
static int
api_body_text(struct api_req *r, const char *key, long min, long max, char *out, size_t n)
{
	json_t *v = json_object_get(r->body, key);
	const char *start;
	size_t len;

	if (v == NULL)
		return 0;
	if (!json_is_string(v) || text_span_check(json_string_value(v), json_string_length(v),
	    min, max, 0, &start, &len) != 0 || len >= n) {
		api_problem(r, 400, "Invalid field", "\"%s\" is a string of %ld to %ld "
		    "characters after trimming, without control characters", key, min, max);
		return -1;
	}
	memcpy(out, start, len);
	out[len] = '\0';
	return 1;
}

/* Reads the display name (body.name) into u->name. Returns 0 or -1 after 400. */
static int
api_body_name(struct api_req *r, struct api_user *u)
{
	int rc = api_body_text(r, "name", 1, NAME_MAX_CHARS, u->name, sizeof(u->name));

	if (rc == 0)
		api_problem(r, 400, "Invalid name", "\"name\", your display name, is required");
	return rc > 0 ? 0 : -1;
}

/* Reads the optional settings room_name, public and policy into room.
 * Returns 0, or -1 after sending 400. */
static int
api_body_settings(struct api_req *r, struct api_room *room)
{
	json_t *pub = json_object_get(r->body, "public");
	json_t *pol = json_object_get(r->body, "policy");

	if (api_body_text(r, "room_name", 0, API_ROOM_NAME_CHARS, room->name,
	    sizeof(room->name)) < 0)
		return -1;
	if (pub != NULL && !json_is_boolean(pub)) {
		api_problem(r, 400, "Invalid field", "\"public\" is true or false");
		return -1;
	}
	if (pub != NULL)
		room->is_public = json_is_true(pub);
	if (pol != NULL && (!json_is_string(pol) || (strcmp(json_string_value(pol), "admin") &&
	    strcmp(json_string_value(pol), "everyone")))) {
		api_problem(r, 400, "Invalid field", "\"policy\" is \"admin\" (only the admin "
		    "controls playback and uploads) or \"everyone\"");
		return -1;
	}
	if (pol != NULL)
		snprintf(room->policy, sizeof(room->policy), "%s", json_string_value(pol));
	return 0;
}

/* Inserts u (name, role, room_id set) with a fresh token, written to token.
 * Returns SQLITE_DONE with u->id and u->token_hash set, SQLITE_CONSTRAINT
 * when the name is taken by someone present, or another SQLite code. */
static int
api_user_insert(sqlite3 *db, struct api_user *u, char *token, int64_t now)
{
	int rc;

	if (token_new(token) != 0 || token_hash(token, TOKEN_LEN, u->token_hash) != 0)
		return SQLITE_ERROR;
	rc = api_sql_run(db, &u->id, "INSERT INTO users (room_id, name, role, "
	    "token_hash, joined_us) VALUES (?, ?, ?, ?, ?) RETURNING id", "ittti",
	    u->room_id, u->name, u->role, u->token_hash, now);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

static json_t *
api_user_json(const struct api_user *u)
{
	return json_pack("{s:I, s:s, s:s}", "id", (json_int_t)u->id, "name", u->name,
	    "role", u->role);
}

/* The user as GET .../users shows them, for events. */
static json_t *
api_user_json_at(const struct api_user *u, int64_t joined_us)
{
	json_t *j = api_user_json(u);

	json_object_set_new(j, "joined_us", json_integer(joined_us));
	return j;
}

/* The settings object; with the modes unless m is NULL (create's answer,
 * whose modes are the defaults). */
static json_t *
api_settings_json(const struct api_room *room, const struct api_modes *m)
{
	json_t *j = json_pack("{s:s, s:s, s:b, s:s}", "code", room->code, "name", room->name,
	    "public", room->is_public, "policy", room->policy);

	if (j != NULL && m != NULL)
		json_object_update_new(j, json_pack("{s:s, s:b}", "repeat", m->repeat,
		    "shuffle", m->shuffle));
	return j;
}

/* Loads the room's modes into m. Returns 0, or -1 on a database error
 * (logged by api_sql). */
static int
api_modes_load(sqlite3 *db, int64_t room_id, struct api_modes *m)
{
	sqlite3_stmt *st = api_sql(db, "SELECT repeat_mode, shuffle, shuffle_seed FROM rooms "
	    "WHERE id = ?", "i", room_id);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;

	if (rc == SQLITE_ROW) {
		snprintf(m->repeat, sizeof(m->repeat), "%s", sqlite3_column_text(st, 0));
		m->shuffle = sqlite3_column_int(st, 1) != 0;
		m->seed = sqlite3_column_int64(st, 2);
	}
	api_sql_done(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Reads the optional body.repeat ("off", "one", "all") and body.shuffle
 * (a boolean) into m; turning shuffle on draws a new seed. Returns 0, or
 * -1 after sending 400 (or 500 when no random seed can be drawn). */
static int
api_body_modes(struct api_req *r, struct api_modes *m)
{
	json_t *rep = json_object_get(r->body, "repeat");
	json_t *shuf = json_object_get(r->body, "shuffle");
	const char *v = json_string_value(rep);
	uint64_t seed;

	if (rep != NULL && (v == NULL || (strcmp(v, "off") && strcmp(v, "one") &&
	    strcmp(v, "all")))) {
		api_problem(r, 400, "Invalid field", "\"repeat\" is \"off\" (stop after the "
		    "last item), \"one\" (repeat the current item) or \"all\" (the first item "
		    "after the last)");
		return -1;
	}
	if (shuf != NULL && !json_is_boolean(shuf)) {
		api_problem(r, 400, "Invalid field", "\"shuffle\" is true or false");
		return -1;
	}
	if (v != NULL)
		snprintf(m->repeat, sizeof(m->repeat), "%s", v);
	if (json_is_true(shuf) && !m->shuffle) {
		if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1) {
			api_problem(r, 500, "Internal error", "no random seed for the shuffle");
			return -1;
		}
		m->seed = (int64_t)(seed >> 1);
	}
	if (shuf != NULL)
		m->shuffle = json_is_true(shuf);
	return 0;
}

/* Creates the room row with a fresh unique code, its playlist and a stopped
 * anchor, inside the caller's transaction. Returns 0 with room->id and
 * room->code set, or -1. */
static int
api_room_insert(sqlite3 *db, struct api_room *room, int fill)
{
	int64_t now = clock_now_us();
	int i, rc = SQLITE_CONSTRAINT;

	for (i = 0; i < API_CODE_TRIES && rc == SQLITE_CONSTRAINT; i++) {
		if (code_new(room->code) != 0)
			return -1;
		rc = api_sql_run(db, &room->id, "INSERT INTO rooms (code, created_us, name, "
		    "public, policy) VALUES (?, ?, ?, ?, ?) RETURNING id", "titit", room->code,
		    now, room->name, (int64_t)room->is_public, room->policy);
	}
	if (rc != SQLITE_ROW)
		return -1;
	if (fill && api_sql_run(db, NULL, "INSERT INTO playlist_items (room_id, track_id, "
	    "position, added_us) SELECT ?, id, row_number() OVER (ORDER BY title, id), ? "
	    "FROM tracks ORDER BY title, id LIMIT ?", "iii", room->id, now,
	    (int64_t)API_FILL_MAX) != SQLITE_DONE)
		return -1;
	return api_sql_run(db, NULL, "INSERT INTO playback (room_id, state, item_id, "
	    "position_us, at_us) VALUES (?1, 'stopped', (SELECT id FROM playlist_items "
	    "WHERE room_id = ?1 ORDER BY position LIMIT 1), 0, ?2)", "ii",
	    room->id, now) == SQLITE_DONE ? 0 : -1;
}

/* Writes the room key and the session the relays check, after commit, in
 * one round trip. A Redis failure is logged, not fatal: the next GET of the
 * room writes both again. */
static void
api_room_announce(struct api_thread *t, const struct api_user *u)
{
	int n = 0;

	n += api_redis_append(t, "SET " RKEY_ROOM "%s %lld", u->code,
	    (long long)u->room_id) == 0;
	n += api_session_append(t, u) == 0;
	api_redis_drain(t, n);
}

/* Reads body.playlist: "library" (the default) or "empty". Returns 1 to fill
 * the new room with the library, 0 not to, -1 after sending 400. */
static int
api_body_fill(struct api_req *r)
{
	json_t *p = json_object_get(r->body, "playlist");

	if (p == NULL)
		return 1;
	if (json_is_string(p) && strcmp(json_string_value(p), "library") == 0)
		return 1;
	if (json_is_string(p) && strcmp(json_string_value(p), "empty") == 0)
		return 0;
	api_problem(r, 400, "Invalid field", "\"playlist\" is \"library\" (start with the "
	    "library's tracks) or \"empty\"");
	return -1;
}

void
api_rooms_create(struct api_req *r)
{
	struct api_room room = { .policy = "admin" };
	struct api_user u = { .role = "admin" };
	char token[TOKEN_LEN + 1], loc[64];
	int fill;

	if (api_read_json_only(r, "name", "room_name", "public", "policy", "playlist",
	    NULL) != 0 || api_body_name(r, &u) != 0 || api_body_settings(r, &room) != 0 ||
	    (fill = api_body_fill(r)) < 0 || api_tx_begin(r) != 0)
		return;
	if (api_room_insert(r->t->db, &room, fill) != 0)
		goto fail;
	u.room_id = room.id;
	snprintf(u.code, sizeof(u.code), "%s", room.code);
	if (api_user_insert(r->t->db, &u, token, clock_now_us()) != SQLITE_DONE)
		goto fail;
	if (api_tx_commit(r) != 0)
		return;
	api_room_announce(r->t, &u);
	log_info("room %s created by user %lld", u.code, (long long)u.id);
	snprintf(loc, sizeof(loc), "Location: /api/rooms/%s\r\n", u.code);
	api_reply(r, 201, json_pack("{s:s, s:s, s:o, s:o}", "code", u.code, "token", token,
	    "user", api_user_json(&u), "room", api_settings_json(&room, NULL)), loc);
	return;
fail:
	api_tx_rollback(r);
	api_problem(r, 500, "Internal error", "the room could not be created");
}

/* Inside the open transaction: 0 when room has a place for one more
 * person, 1 when API_ROOM_USERS_MAX are present, -1 on a database error. */
static int
api_room_has_space(struct api_req *r, const struct api_room *room)
{
	int64_t n = 0;

	if (api_sql_run(r->t->db, &n, "SELECT count(*) FROM users WHERE room_id = ? AND "
	    "left_us IS NULL", "i", room->id) != SQLITE_ROW)
		return -1;
	return n >= API_ROOM_USERS_MAX;
}

void
api_rooms_join(struct api_req *r)
{
	struct api_user u = { .role = "member" };
	struct api_modes modes = API_MODES_DEFAULT;
	char token[TOKEN_LEN + 1];
	struct api_room room;
	int64_t now = clock_now_us();
	int rc;

	if (api_room_load(r, r->m.code, &room) != 0 ||
	    api_read_json_only(r, "name", NULL) != 0 || api_body_name(r, &u) != 0 ||
	    api_tx_begin(r) != 0)
		return;
	u.room_id = room.id;
	snprintf(u.code, sizeof(u.code), "%s", room.code);
	if ((rc = api_room_has_space(r, &room)) != 0) {
		api_tx_rollback(r);
		if (rc > 0)
			api_problem(r, 409, "Room full", "room %s has %d people, the most a "
			    "room holds", room.code, API_ROOM_USERS_MAX);
		else
			api_problem(r, 500, "Internal error", "database error");
		return;
	}
	if ((rc = api_user_insert(r->t->db, &u, token, now)) == SQLITE_CONSTRAINT) {
		api_tx_rollback(r);
		api_problem(r, 409, "Name taken", "someone in room %s is already called %s",
		    room.code, u.name);
		return;
	}
	if (rc != SQLITE_DONE || api_modes_load(r->t->db, room.id, &modes) != 0 ||
	    api_sql_run(r->t->db, NULL, "UPDATE rooms SET "
	    "empty_since_us = NULL WHERE id = ?", "i", room.id) != SQLITE_DONE ||
	    api_emit(r, &room, "user_joined", json_pack("{s:o}", "user",
	    api_user_json_at(&u, now))) < 0 || api_chat_system(r, &room, "%s joined", u.name) != 0) {
		api_tx_rollback(r);
		api_problem(r, 500, "Internal error", "could not join room %s", room.code);
		return;
	}
	if (api_tx_commit(r) != 0)
		return;
	api_session_store(r->t, &u);
	api_reply(r, 201, json_pack("{s:s, s:o, s:o}", "token", token, "user",
	    api_user_json(&u), "room", api_settings_json(&room, &modes)), NULL);
}

/* Reads the room's seq and playlist version. Returns 0 or -1. */
static int
api_room_counters(sqlite3 *db, int64_t room_id, int64_t *seq, int64_t *version)
{
	sqlite3_stmt *st = api_sql(db, "SELECT seq, playlist_version FROM rooms WHERE id = ?",
	    "i", room_id);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;

	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		*version = sqlite3_column_int64(st, 1);
	}
	api_sql_done(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Returns the item that plays when a's item ends, by the worker's own rule
 * (sched_next_item()) over pl, the live playlist as api_playlist_json()
 * lists it, and the room's modes m; 0 when none. -1 when out of memory. */
static int64_t
api_room_next(const json_t *pl, const struct api_modes *m, const struct anchor *a)
{
	struct sched_ctx ctx;
	struct sched_item *v;
	size_t i, n = json_array_size(pl);
	json_t *it, *tr;
	int64_t next;

	if (a->state == ANCHOR_STOPPED || n == 0)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return -1;
	json_array_foreach(pl, i, it) {
		tr = json_object_get(it, "track");
		v[i].item_id = json_integer_value(json_object_get(it, "id"));
		v[i].track_id = json_integer_value(json_object_get(tr, "id"));
		v[i].duration_us = json_integer_value(json_object_get(tr, "duration_us"));
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.items = v;
	ctx.n = n;
	if (sched_repeat_parse(m->repeat, &ctx.repeat) != 0)
		ctx.repeat = SCHED_REPEAT_OFF;	/* as the worker reads it */
	ctx.shuffle = m->shuffle;
	ctx.seed = (uint64_t)m->seed;
	next = sched_next_item(&ctx, a);
	free(v);
	return next;
}

/* Builds the room's JSON; the caller holds a read transaction, so seq,
 * playlist, anchor and chat agree. Returns it, or NULL on a database error. */
static json_t *
api_room_json(struct api_req *r, const struct api_room *room, const struct api_user *u)
{
	sqlite3 *db = r->t->db;
	json_t *j = NULL, *pl = NULL, *chat = NULL, *reqs = NULL, *users = NULL, *pb = NULL;
	struct api_modes modes;
	struct anchor a;
	int64_t seq = 0, version = 0, listeners = 0, next;

	if (api_room_counters(db, room->id, &seq, &version) != 0 ||
	    api_modes_load(db, room->id, &modes) != 0 ||
	    anchor_load(db, room->id, &a) < 0 ||
	    (pl = api_playlist_json(db, room->id)) == NULL ||
	    (chat = api_chat_recent(db, room->id, 50)) == NULL ||
	    (reqs = api_requests_pending(db, room->id)) == NULL ||
	    (users = api_users_json(db, room->id, &listeners)) == NULL ||
	    (next = api_room_next(pl, &modes, &a)) < 0 || (pb = anchor_json(&a)) == NULL ||
	    anchor_json_next(pb, next) != 0)
		goto out;
	j = api_settings_json(room, &modes);
	json_object_update_new(j, json_pack("{s:I, s:I, s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:o}",
	    "seq", (json_int_t)seq, "now_us", (json_int_t)clock_now_us(),
	    "you", api_user_json(u), "users", users, "listeners", (json_int_t)listeners,
	    "playlist_version", (json_int_t)version, "playlist", pl,
	    "playback", pb, "chat", chat, "requests", reqs));
	pl = chat = reqs = users = pb = NULL;
out:
	json_decref(pb);
	json_decref(users);
	json_decref(pl);
	json_decref(chat);
	json_decref(reqs);
	return j;
}

void
api_rooms_get(struct api_req *r)
{
	struct api_room room;
	struct api_user u;
	json_t *j;

	/* One read transaction for the token check and the whole room: one
	 * snapshot, and one round of file locks instead of one per statement. */
	if (db_exec(r->t->db, "BEGIN") != 0) {
		api_problem(r, 503, "Service unavailable", "the database is busy; try again");
		return;
	}
	if (api_enter(r, &room, &u) != 0) {
		db_exec(r->t->db, "COMMIT");
		return;
	}
	j = api_room_json(r, &room, &u);
	db_exec(r->t->db, "COMMIT");
	if (j == NULL) {
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	api_room_announce(r->t, &u);
	api_reply(r, 200, j, NULL);
}

void
api_rooms_list(struct api_req *r)
{
	sqlite3_stmt *st;
	json_t *a = json_array();
	int64_t limit, offset;

	if (api_query_int(r, "limit", 50, 1, 200, &limit) != 0 ||
	    api_query_int(r, "offset", 0, 0, 1000000, &offset) != 0)
		goto out;
	st = api_sql(r->t->db, "SELECT r.code, r.name, r.policy, r.created_us, "
	    "(SELECT count(*) FROM users u WHERE u.room_id = r.id AND u.left_us IS NULL "
	    "AND u.online = 1) AS n, (SELECT t.title FROM playback p JOIN playlist_items i ON i.id = p.item_id "
	    "JOIN tracks t ON t.id = i.track_id WHERE p.room_id = r.id AND p.state = "
	    "'playing') FROM rooms r WHERE r.public = 1 AND r.closed_us IS NULL "
	    "ORDER BY n DESC, r.created_us DESC LIMIT ? OFFSET ?", "ii", limit, offset);
	while (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I, s:I, s:s?}",
		    "code", (const char *)sqlite3_column_text(st, 0),
		    "name", (const char *)sqlite3_column_text(st, 1),
		    "policy", (const char *)sqlite3_column_text(st, 2),
		    "created_us", (json_int_t)sqlite3_column_int64(st, 3),
		    "listeners", (json_int_t)sqlite3_column_int64(st, 4),
		    "playing", (const char *)sqlite3_column_text(st, 5)));
	if (st == NULL) {
		api_problem(r, 500, "Internal error", "database error");
		goto out;
	}
	api_sql_done(st);
	api_reply(r, 200, json_pack("{s:O}", "rooms", a), NULL);
out:
	json_decref(a);
}

/* Writes the room's settings and modes and queues room_updated, inside the
 * open transaction. Returns 0 or -1. */
static int
api_rooms_store(struct api_req *r, const struct api_room *room, const struct api_modes *m,
    int64_t by)
{
	if (api_sql_run(r->t->db, NULL, "UPDATE rooms SET name = ?, public = ?, policy = ?, "
	    "repeat_mode = ?, shuffle = ?, shuffle_seed = ? WHERE id = ?", "tittiii",
	    room->name, (int64_t)room->is_public, room->policy, m->repeat,
	    (int64_t)m->shuffle, m->seed, room->id) != SQLITE_DONE)
		return -1;
	return api_emit(r, room, "room_updated", json_pack("{s:o, s:I}", "settings",
	    api_settings_json(room, m), "by", (json_int_t)by)) < 0 ? -1 : 0;
}

void
api_rooms_update(struct api_req *r)
{
	struct api_room room, before;
	struct api_modes modes, was;
	struct api_user u;

	if (api_enter(r, &room, &u) != 0 || api_need_admin(r, &u, "change the room") != 0 ||
	    api_read_json_only(r, "room_name", "public", "policy", "repeat", "shuffle",
	    NULL) != 0)
		return;
	if (api_modes_load(r->t->db, room.id, &modes) != 0) {
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	before = room;
	was = modes;
	if (api_body_settings(r, &room) != 0 || api_body_modes(r, &modes) != 0)
		return;
	if (strcmp(before.name, room.name) == 0 && before.is_public == room.is_public &&
	    strcmp(before.policy, room.policy) == 0 && strcmp(was.repeat, modes.repeat) == 0 &&
	    was.shuffle == modes.shuffle) {
		api_reply(r, 200, api_settings_json(&room, &modes), NULL);	/* nothing to tell */
		return;
	}
	if (api_tx_begin(r) != 0)
		return;
	if (api_rooms_store(r, &room, &modes, u.id) != 0) {
		api_tx_rollback(r);
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	if (api_tx_commit(r) != 0)
		return;
	/* The item that follows the current one may have changed: the worker
	 * re-arms the room's advance from the new modes. */
	if (strcmp(was.repeat, modes.repeat) != 0 || was.shuffle != modes.shuffle)
		(void)api_worker_notify(r, room.code, "reload", 0);	/* logs */
	api_reply(r, 200, api_settings_json(&room, &modes), NULL);
}

/* After the room closed: removes the relays' room key, snapshot and the
 * sessions of everyone who was in it, and tells the worker. */
static void
api_room_forget(struct api_req *r, const struct api_room *room)
{
	sqlite3_stmt *st = api_sql(r->t->db, "SELECT token_hash FROM users WHERE "
	    "room_id = ? AND left_reason = 'closed'", "i", room->id);
	redisReply *rep;

	while (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		rep = api_redis_cmd(r->t, "DEL " RKEY_SESSION "%s", sqlite3_column_text(st, 0));
		freeReplyObject(rep);
	}
	api_sql_done(st);
	rep = api_redis_cmd(r->t, "DEL " RKEY_ROOM "%s " RKEY_SNAPSHOT "%s", room->code,
	    room->code);
	freeReplyObject(rep);
	api_worker_notify(r, room->code, "reload", 0);
}

void
api_rooms_close(struct api_req *r)
{
	struct api_room room;
	struct api_user u;
	int64_t now = clock_now_us();

	if (api_enter(r, &room, &u) != 0 || api_need_admin(r, &u, "close the room") != 0 ||
	    api_tx_begin(r) != 0)
		return;
	if (api_sql_run(r->t->db, NULL, "UPDATE rooms SET closed_us = ? WHERE id = ?", "ii",
	    now, room.id) != SQLITE_DONE || api_sql_run(r->t->db, NULL, "UPDATE users SET "
	    "left_us = ?, left_reason = 'closed' WHERE room_id = ? AND left_us IS NULL", "ii",
	    now, room.id) != SQLITE_DONE || api_emit(r, &room, "room_closed",
	    json_pack("{s:s, s:I}", "reason", "closed", "by", (json_int_t)u.id)) < 0) {
		api_tx_rollback(r);
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	if (api_tx_commit(r) != 0)
		return;
	api_room_forget(r, &room);
	log_info("room %s closed by user %lld", room.code, (long long)u.id);
	api_reply_empty(r, 204, NULL);
}
