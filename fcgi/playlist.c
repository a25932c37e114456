/*
 * playlist.c - a room's playlist:
 *   GET    /api/rooms/{code}/playlist        the items, with ETag: "<version>"
 *   POST   /api/rooms/{code}/playlist        append a library track (policy)
 *   PUT    /api/rooms/{code}/playlist        reorder: every item id once (admin)
 *   DELETE /api/rooms/{code}/playlist/{id}   remove an item (admin)
 * Every change needs If-Match with the current version ("*" for any): 428
 * without it, 412 when stale, so two admins never silently undo each other.
 * Removal is soft (removed_us): the anchor may keep naming an item that plays
 * out; the worker is told to move on when the current item goes.
 */
#include "api.h"
#include "clock.h"
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *
api_track_json(sqlite3_stmt *st, int col)
{
	const char *sha = (const char *)sqlite3_column_text(st, col + 1);
	char url[128];

	snprintf(url, sizeof(url), "/media/%.2s/%s.mp3", sha ? sha : "", sha ? sha : "");
	return json_pack("{s:I, s:s, s:s, s:s, s:I, s:i, s:i, s:i, s:s}",
	    "id", (json_int_t)sqlite3_column_int64(st, col),
	    "title", (const char *)sqlite3_column_text(st, col + 2),
	    "artist", (const char *)sqlite3_column_text(st, col + 3),
	    "album", (const char *)sqlite3_column_text(st, col + 4),
	    "duration_us", (json_int_t)sqlite3_column_int64(st, col + 5),
	    "sample_rate", sqlite3_column_int(st, col + 6),
	    "channels", sqlite3_column_int(st, col + 7),
	    "bitrate", sqlite3_column_int(st, col + 8),
	    "url", url);
}

json_t *
api_playlist_json(sqlite3 *db, int64_t room_id)
{
	sqlite3_stmt *st = api_sql(db, "SELECT i.id, i.position, i.added_by, "
	    API_TRACK_COLS " FROM playlist_items i JOIN tracks t ON t.id = i.track_id "
	    "WHERE i.room_id = ? AND i.removed_us IS NULL ORDER BY i.position", "i", room_id);
	json_t *a = json_array();
	int rc;

	if (st == NULL || a == NULL)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *by = sqlite3_column_type(st, 2) == SQLITE_NULL ? json_null() :
		    json_integer(sqlite3_column_int64(st, 2));

		json_array_append_new(a, json_pack("{s:I, s:I, s:o, s:o}",
		    "id", (json_int_t)sqlite3_column_int64(st, 0),
		    "position", (json_int_t)sqlite3_column_int64(st, 1),
		    "added_by", by, "track", api_track_json(st, 3)));
	}
	if (rc != SQLITE_DONE)
		goto fail;
	api_sql_done(st);
	return a;
fail:
	log_err("room %lld: %s", (long long)room_id, sqlite3_errmsg(db));
	api_sql_done(st);
	json_decref(a);
	return NULL;
}

int64_t
api_playlist_append(struct api_req *r, struct api_room *room, int64_t track_id,
    int64_t added_by)
{
	int64_t item = 0, n = 0;
	int rc;

	if (api_sql_run(r->t->db, &n, "SELECT count(*) FROM playlist_items WHERE room_id = ? "
	    "AND removed_us IS NULL", "i", room->id) != SQLITE_ROW)
		return -1;
	if (n >= API_PLAYLIST_MAX)
		return API_PLAYLIST_FULL;
	rc = api_sql_run(r->t->db, &item, "INSERT INTO playlist_items (room_id, track_id, "
	    "position, added_by, added_us) SELECT ?1, t.id, (SELECT coalesce(max(position), "
	    "0) + 1 FROM playlist_items WHERE room_id = ?1), nullif(?2, 0), ?3 FROM tracks t "
	    "WHERE t.id = ?4 RETURNING id", "iiii", room->id, added_by, clock_now_us(),
	    track_id);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW || api_playlist_changed(r, room) < 0)
		return -1;
	return item;
}

void
api_playlist_full(struct api_req *r)
{
	api_problem(r, 409, "Playlist full", "a playlist holds at most %d items; remove "
	    "some first", API_PLAYLIST_MAX);
}

/* Sends the playlist with its ETag; status 200 or 201. */
static void
api_playlist_send(struct api_req *r, int status, const struct api_room *room, json_t *extra)
{
	json_t *items = api_playlist_json(r->t->db, room->id);
	char etag[64];

	if (items == NULL) {
		json_decref(extra);
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	snprintf(etag, sizeof(etag), "ETag: \"%" PRId64 "\"\r\n", room->playlist_version);
	if (extra == NULL)
		extra = json_object();
	json_object_set_new(extra, "version", json_integer(room->playlist_version));
	json_object_set_new(extra, "items", items);
	api_reply(r, status, extra, etag);
}

/* Returns 1 when the If-Match/If-None-Match list h names version (or is
 * "*"), else 0. Only strong tags match. */
static int
api_etag_listed(const char *h, int64_t version)
{
	char want[32];
	size_t n;

	snprintf(want, sizeof(want), "\"%" PRId64 "\"", version);
	n = strlen(want);
	while (*h != '\0') {
		h += strspn(h, " \t,");
		if (*h == '*')
			return 1;
		if (strncmp(h, want, n) == 0 && (h[n] == '\0' || h[n] == ',' ||
		    h[n] == ' ' || h[n] == '\t'))
			return 1;
		h += strcspn(h, ",");
	}
	return 0;
}

/* Checks If-Match before a change. Returns 0 when present; -1 after 428. */
static int
api_if_match_present(struct api_req *r)
{
	const char *h = api_param(r, "HTTP_IF_MATCH");

	if (h != NULL && *h != '\0')
		return 0;
	api_problem(r, 428, "Precondition required", "send If-Match with the playlist's "
	    "ETag (from GET .../playlist), or \"*\" to change whatever is current");
	return -1;
}

/* Inside the write transaction: re-reads the version and compares it with
 * If-Match. Returns 0; -1 after rolling back and sending 412 or 500. */
static int
api_if_match_holds(struct api_req *r, struct api_room *room)
{
	if (api_sql_run(r->t->db, &room->playlist_version, "SELECT playlist_version FROM "
	    "rooms WHERE id = ?", "i", room->id) != SQLITE_ROW) {
		api_tx_rollback(r);
		api_problem(r, 500, "Internal error", "database error");
		return -1;
	}
	if (api_etag_listed(api_param(r, "HTTP_IF_MATCH"), room->playlist_version))
		return 0;
	api_tx_rollback(r);
	api_problem(r, 412, "Precondition failed", "the playlist changed meanwhile; it is "
	    "now version \"%" PRId64 "\". Fetch it and try again", room->playlist_version);
	return -1;
}

void
api_playlist_get(struct api_req *r)
{
	struct api_room room;
	struct api_user u;
	const char *inm;
	char etag[64];

	if (api_enter(r, &room, &u) != 0)
		return;
	inm = api_param(r, "HTTP_IF_NONE_MATCH");
	if (inm != NULL && api_etag_listed(inm, room.playlist_version)) {
		snprintf(etag, sizeof(etag), "ETag: \"%" PRId64 "\"\r\n", room.playlist_version);
		api_reply_empty(r, 304, etag);
		return;
	}
	api_playlist_send(r, 200, &room, NULL);
}

void
api_playlist_add(struct api_req *r)
{
	struct api_room room;
	struct api_user u;
	json_t *tid;
	int64_t item;

	if (api_enter(r, &room, &u) != 0 ||
	    api_need_policy(r, &room, &u, "add to the playlist") != 0 ||
	    api_if_match_present(r) != 0 || api_read_json_only(r, "track_id", NULL) != 0)
		return;
	tid = json_object_get(r->body, "track_id");
	if (!json_is_integer(tid) || json_integer_value(tid) <= 0) {
		api_problem(r, 400, "Invalid track", "\"track_id\" is the id of a library track");
		return;
	}
	if (api_tx_begin(r) != 0 || api_if_match_holds(r, &room) != 0)
		return;
	if ((item = api_playlist_append(r, &room, json_integer_value(tid), u.id)) <= 0) {
		api_tx_rollback(r);
		if (item == 0)
			api_problem(r, 404, "No such track", "the library has no track %" PRId64,
			    (int64_t)json_integer_value(tid));
		else if (item == API_PLAYLIST_FULL)
			api_playlist_full(r);
		else
			api_problem(r, 500, "Internal error", "database error");
		return;
	}
	if (api_tx_commit(r) != 0)
		return;
	/* The item that follows the current one may be the new one (shuffle,
	 * or after the last): the worker re-arms and re-announces it. */
	(void)api_worker_notify(r, room.code, "reload", 0);	/* logs */
	api_playlist_send(r, 201, &room, json_pack("{s:I}", "item_id", (json_int_t)item));
}

/* Reads body.items as a list of distinct positive ids into a malloc'd array
 * (*n entries). Returns it, or NULL after sending 400. */
static int64_t *
api_order_ids(struct api_req *r, size_t *n)
{
	json_t *items = json_object_get(r->body, "items"), *v;
	int64_t *ids;
	size_t i, j;

	if (!json_is_array(items) || json_array_size(items) > 10000) {
		api_problem(r, 400, "Invalid order", "\"items\" is the array of every item id, "
		    "in the new order");
		return NULL;
	}
	*n = json_array_size(items);
	if ((ids = calloc(*n + 1, sizeof(*ids))) == NULL) {
		api_problem(r, 500, "Internal error", "out of memory");
		return NULL;
	}
	json_array_foreach(items, i, v) {
		ids[i] = json_is_integer(v) ? json_integer_value(v) : 0;
		for (j = 0; j < i && ids[i] > 0; j++)
			if (ids[j] == ids[i])
				ids[i] = 0;
		if (ids[i] <= 0) {
			free(ids);
			api_problem(r, 400, "Invalid order", "item %zu is not a distinct item id", i);
			return NULL;
		}
	}
	return ids;
}

/* Inside the transaction: renumbers the room's live items in the order of
 * ids, which must be exactly those items. Returns 0, 1 when ids are not
 * exactly the live items, -1 on a database error. Positions only grow. */
static int
api_order_apply(sqlite3 *db, int64_t room_id, const int64_t *ids, size_t n)
{
	int64_t live = 0, base = 0;
	size_t i;

	if (api_sql_run(db, &live, "SELECT count(*) FROM playlist_items WHERE room_id = ? "
	    "AND removed_us IS NULL", "i", room_id) != SQLITE_ROW ||
	    api_sql_run(db, &base, "SELECT coalesce(max(position), 0) FROM playlist_items "
	    "WHERE room_id = ?", "i", room_id) != SQLITE_ROW)
		return -1;
	if ((size_t)live != n)
		return 1;
	for (i = 0; i < n; i++) {
		int rc = api_sql_run(db, NULL, "UPDATE playlist_items SET position = ? WHERE "
		    "id = ? AND room_id = ? AND removed_us IS NULL RETURNING id", "iii",
		    base + 1 + (int64_t)i, ids[i], room_id);

		if (rc == SQLITE_DONE)
			return 1;
		if (rc != SQLITE_ROW)
			return -1;
	}
	return 0;
}

void
api_playlist_order(struct api_req *r)
{
	struct api_room room;
	struct api_user u;
	int64_t *ids = NULL;
	size_t n = 0;
	int rc;

	if (api_enter(r, &room, &u) != 0 || api_need_admin(r, &u, "reorder the playlist") ||
	    api_if_match_present(r) != 0 || api_read_json_only(r, "items", NULL) != 0 ||
	    (ids = api_order_ids(r, &n)) == NULL)
		return;
	if (api_tx_begin(r) != 0 || api_if_match_holds(r, &room) != 0)
		goto out;
	if ((rc = api_order_apply(r->t->db, room.id, ids, n)) != 0) {
		api_tx_rollback(r);
		if (rc > 0)
			api_problem(r, 400, "Invalid order", "\"items\" must list every item of "
			    "the playlist exactly once");
		else
			api_problem(r, 500, "Internal error", "database error");
		goto out;
	}
	if (api_playlist_changed(r, &room) < 0) {
		api_tx_rollback(r);
		api_problem(r, 500, "Internal error", "database error");
		goto out;
	}
	if (api_tx_commit(r) == 0) {
		api_worker_notify(r, room.code, "reload", 0);
		api_playlist_send(r, 200, &room, NULL);
	}
out:
	free(ids);
}

/* Inside the transaction: when item is the anchor's item, stores in *next the
 * live item after it (0 when none) and returns 1; else returns 0; -1 on error. */
static int
api_remove_current(sqlite3 *db, int64_t room_id, int64_t item, int64_t *next)
{
	int64_t cur = 0;
	int rc;

	rc = api_sql_run(db, &cur, "SELECT item_id FROM playback WHERE room_id = ?", "i",
	    room_id);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	if (rc == SQLITE_DONE || cur != item)
		return 0;
	*next = 0;
	rc = api_sql_run(db, next, "SELECT n.id FROM playlist_items n, playlist_items c "
	    "WHERE c.id = ?1 AND n.room_id = c.room_id AND n.removed_us IS NULL AND "
	    "n.position > c.position ORDER BY n.position LIMIT 1", "i", item);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 1 : -1;
}

void
api_playlist_remove(struct api_req *r)
{
	struct api_room room;
	struct api_user u;
	int64_t next = 0;
	int rc, current;

	if (api_enter(r, &room, &u) != 0 ||
	    api_need_admin(r, &u, "remove from the playlist") != 0 ||
	    api_if_match_present(r) != 0)
		return;
	if (api_tx_begin(r) != 0 || api_if_match_holds(r, &room) != 0)
		return;
	rc = api_sql_run(r->t->db, NULL, "UPDATE playlist_items SET removed_us = ? WHERE "
	    "id = ? AND room_id = ? AND removed_us IS NULL RETURNING id", "iii",
	    clock_now_us(), r->m.id, room.id);
	if (rc == SQLITE_DONE) {
		api_tx_rollback(r);
		api_problem(r, 404, "No such item", "the playlist has no item %" PRId64, r->m.id);
		return;
	}
	if (rc != SQLITE_ROW || (current = api_remove_current(r->t->db, room.id, r->m.id,
	    &next)) < 0 || api_playlist_changed(r, &room) < 0) {
		api_tx_rollback(r);
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	if (api_tx_commit(r) != 0)
		return;
	api_worker_notify(r, room.code, "reload", current ? next : 0);
	api_playlist_send(r, 200, &room, NULL);
}
