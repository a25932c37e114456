/*
 * access.c - who may do what in a room. Loads the open room of a request,
 * authenticates its member (auth.c) and checks the two rules of tutti's
 * authorization: admin-only actions, and actions the room's control policy
 * ("admin" or "everyone") grants.
 */
#include "api.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

int
api_room_load(struct api_req *r, const char *code, struct api_room *room)
{
	sqlite3_stmt *st;
	int rc;

	if (!code_valid(code)) {
		api_problem(r, 404, "No such room", "no open room has the code %.16s", code);
		return -1;
	}
	st = api_sql(r->t->db, "SELECT id, code, name, public, policy, playlist_version, "
	    "created_us FROM rooms WHERE code = ? AND closed_us IS NULL", "t", code);
	if (st == NULL || (rc = sqlite3_step(st)) != SQLITE_ROW) {
		api_sql_done(st);
		if (st != NULL && rc == SQLITE_DONE)
			api_problem(r, 404, "No such room", "no open room has the code %s", code);
		else
			api_problem(r, 500, "Internal error", "database error");
		return -1;
	}
	room->id = sqlite3_column_int64(st, 0);
	snprintf(room->code, sizeof(room->code), "%s", sqlite3_column_text(st, 1));
	snprintf(room->name, sizeof(room->name), "%s", sqlite3_column_text(st, 2));
	room->is_public = sqlite3_column_int(st, 3);
	snprintf(room->policy, sizeof(room->policy), "%s", sqlite3_column_text(st, 4));
	room->playlist_version = sqlite3_column_int64(st, 5);
	room->created_us = sqlite3_column_int64(st, 6);
	api_sql_done(st);
	return 0;
}

int
api_enter(struct api_req *r, struct api_room *room, struct api_user *u)
{
	if (api_room_load(r, r->m.code, room) != 0)
		return -1;
	return api_auth(r, room->code, u);
}

int
api_need_admin(struct api_req *r, const struct api_user *u, const char *what)
{
	if (strcmp(u->role, "admin") == 0)
		return 0;
	api_problem(r, 403, "Forbidden", "only the room's admin may %s", what);
	return -1;
}

int
api_need_policy(struct api_req *r, const struct api_room *room,
    const struct api_user *u, const char *what)
{
	if (strcmp(room->policy, "everyone") == 0 || strcmp(u->role, "admin") == 0)
		return 0;
	api_problem(r, 403, "Forbidden", "in room %s only the admin may %s (the room's "
	    "policy is \"admin\")", room->code, what);
	return -1;
}

json_t *
api_user_row_json(sqlite3_stmt *st, int col)
{
	return json_pack("{s:I, s:s, s:s, s:I}",
	    "id", (json_int_t)sqlite3_column_int64(st, col),
	    "name", (const char *)sqlite3_column_text(st, col + 1),
	    "role", (const char *)sqlite3_column_text(st, col + 2),
	    "joined_us", (json_int_t)sqlite3_column_int64(st, col + 3));
}
