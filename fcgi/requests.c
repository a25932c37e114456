/*
 * requests.c - song requests of a room:
 *   GET   /api/rooms/{code}/requests        by status, newest first, paged
 *   POST  /api/rooms/{code}/requests        ask for a library track or by text
 *   PATCH /api/rooms/{code}/requests/{id}   approve or reject (admin)
 * One pending request per track and per text (case-insensitive) and room,
 * held by the partial unique indexes of sql/002_rest.sql. Approving a
 * request for a track appends it to the playlist in the same transaction.
 */
#include "api.h"
#include "clock.h"
#include "log.h"
#include "text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQ_TEXT_MAX 200
#define REQ_PAGE_DEFAULT 50
#define REQ_PAGE_MAX 100
#define REQ_PENDING_MAX 100
#define REQ_SUBJECT_BYTES 200	/* what a system chat line quotes of a request */

/* Columns read by req_row_json(), then the track's from column 10. */
#define REQ_SELECT "SELECT q.id, q.user_id, u.name, q.text, q.status, q.created_us, " \
	"q.resolved_us, q.resolved_by, q.item_id, q.track_id, " API_TRACK_COLS \
	" FROM requests q JOIN users u ON u.id = q.user_id " \
	"LEFT JOIN tracks t ON t.id = q.track_id "

static const char *const req_statuses[] = {
	"pending", "approved", "rejected", "all", NULL
};

static json_t *
req_int_or_null(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	return json_integer(sqlite3_column_int64(st, col));
}

/* Returns the request in the current row of st (columns of REQ_SELECT) as a
 * new JSON object, or NULL on OOM. */
static json_t *
req_row_json(sqlite3_stmt *st)
{
	json_t *track = sqlite3_column_type(st, 9) == SQLITE_NULL ? json_null() :
	    api_track_json(st, 10);
	json_t *text = sqlite3_column_type(st, 3) == SQLITE_NULL ? json_null() :
	    json_string((const char *)sqlite3_column_text(st, 3));

	return json_pack("{s:I, s:{s:I, s:s}, s:o, s:o, s:s, s:I, s:o, s:o, s:o}",
	    "id", (json_int_t)sqlite3_column_int64(st, 0),
	    "user", "id", (json_int_t)sqlite3_column_int64(st, 1),
	    "name", (const char *)sqlite3_column_text(st, 2),
	    "track", track, "text", text,
	    "status", (const char *)sqlite3_column_text(st, 4),
	    "created_us", (json_int_t)sqlite3_column_int64(st, 5),
	    "resolved_us", req_int_or_null(st, 6),
	    "resolved_by", req_int_or_null(st, 7),
	    "item_id", req_int_or_null(st, 8));
}

/* Steps st (REQ_SELECT columns) for up to n rows into a new JSON array and
 * finalizes it; *more (may be NULL) tells whether another row followed.
 * Returns NULL on a database error (logged) or when st is NULL. */
static json_t *
req_collect(sqlite3 *db, sqlite3_stmt *st, int n, int *more)
{
	json_t *a = json_array(), *q;
	int rc, got = 0;

	if (st == NULL || a == NULL)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && got < n) {
		if ((q = req_row_json(st)) == NULL || json_array_append_new(a, q) != 0)
			goto fail;
		got++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	if (more != NULL)
		*more = rc == SQLITE_ROW;
	api_sql_done(st);
	return a;
fail:
	log_err("requests: %s", sqlite3_errmsg(db));
	api_sql_done(st);
	json_decref(a);
	return NULL;
}

/* Returns the room's pending requests, the oldest REQ_PENDING_MAX first in the
 * order they were asked, as a new JSON array of request objects (as in GET
 * .../requests), or NULL on a database error (logged). The caller frees it. */
json_t *
api_requests_pending(sqlite3 *db, int64_t room_id)
{
	return req_collect(db, api_sql(db, REQ_SELECT "WHERE q.room_id = ? AND "
	    "q.status = 'pending' ORDER BY q.id LIMIT ?", "ii", room_id,
	    (int64_t)REQ_PENDING_MAX), REQ_PENDING_MAX, NULL);
}

/* Returns request id as a new JSON object, or NULL (none, or a database
 * error). */
static json_t *
req_load(sqlite3 *db, int64_t id)
{
	json_t *a = req_collect(db, api_sql(db, REQ_SELECT "WHERE q.id = ?", "i", id),
	    1, NULL);
	json_t *q = json_incref(json_array_get(a, 0));

	json_decref(a);
	return q;
}

/* Copies s into out (n bytes), cut on a character boundary with an
 * ellipsis when it does not fit. */
static void
req_clip(const char *s, char *out, size_t n)
{
	size_t len = strlen(s), k;

	if (len < n) {
		memcpy(out, s, len + 1);
		return;
	}
	k = n - 4;	/* room for "\u2026" (3 bytes) and the NUL */
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	memcpy(out, s, k);
	memcpy(out + k, "\xe2\x80\xa6", 4);
}

/* Describes what request q asks for, for a chat line: the track's title
 * (and artist), or the quoted text. */
static void
req_subject(const json_t *q, char *out, size_t n)
{
	const json_t *track = json_object_get(q, "track");
	const char *title = json_string_value(json_object_get(track, "title"));
	const char *artist = json_string_value(json_object_get(track, "artist"));
	char buf[2 * REQ_TEXT_MAX * 4 + 16];

	if (title != NULL && artist != NULL && *artist != '\0')
		snprintf(buf, sizeof(buf), "%s by %s", title, artist);
	else if (title != NULL)
		snprintf(buf, sizeof(buf), "%s", title);
	else
		snprintf(buf, sizeof(buf), "\"%s\"",
		    json_string_value(json_object_get(q, "text")));
	req_clip(buf, out, n);
}

static const char *
req_user_name(const json_t *q)
{
	const char *name = json_string_value(json_object_get(json_object_get(q, "user"),
	    "name"));

	return name ? name : "";
}

/* Queues the "request" event for q with change, and its chat line. Returns 0,
 * or -1 (logged by the callee). Inside the open transaction. */
static int
req_announce(struct api_req *r, const struct api_room *room, json_t *q,
    const char *change, const struct api_user *by)
{
	char subject[REQ_SUBJECT_BYTES];

	req_subject(q, subject, sizeof(subject));
	if (api_emit(r, room, "request", json_pack("{s:O, s:s}", "request", q,
	    "change", change)) < 0)
		return -1;
	if (strcmp(change, "added") == 0)
		return api_chat_system(r, room, "%s asked for %s", req_user_name(q), subject);
	return api_chat_system(r, room, "%s %s %s's request for %s", by->name, change,
	    req_user_name(q), subject);
}

void
api_requests_list(struct api_req *r)
{
	struct api_room room;
	struct api_user u;
	char status[16] = "pending";
	int64_t before, limit;
	json_t *list;
	int i, rc, more = 0;

	if (api_enter(r, &room, &u) != 0 ||
	    (rc = api_query(r, "status", status, sizeof(status))) < 0 ||
	    api_query_int(r, "before", INT64_MAX, 1, INT64_MAX, &before) != 0 ||
	    api_query_int(r, "limit", REQ_PAGE_DEFAULT, 1, REQ_PAGE_MAX, &limit) != 0)
		return;
	for (i = 0; req_statuses[i] != NULL; i++)
		if (strcmp(status, req_statuses[i]) == 0)
			break;
	if (req_statuses[i] == NULL) {
		api_problem(r, 400, "Invalid query", "status is pending, approved, rejected "
		    "or all");
		return;
	}
	list = req_collect(r->t->db, api_sql(r->t->db, REQ_SELECT "WHERE q.room_id = ?1 "
	    "AND (?2 = 'all' OR q.status = ?2) AND q.id < ?3 ORDER BY q.id DESC LIMIT ?4",
	    "itii", room.id, status, before, limit + 1), (int)limit, &more);
	if (list == NULL) {
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	api_reply(r, 200, json_pack("{s:o, s:b}", "requests", list, "more", more), NULL);
}

/* Reads the body of a new request: exactly one of a positive "track_id" or
 * a valid "text". Returns 0 with *track_id (0 for text) and *text (a new
 * copy the caller frees, NULL for a track), or -1 after sending 400. */
static int
req_create_parse(struct api_req *r, int64_t *track_id, char **text)
{
	json_t *tid = json_object_get(r->body, "track_id");
	json_t *t = json_object_get(r->body, "text");
	const char *s;
	size_t len;

	*track_id = 0;
	*text = NULL;
	if ((tid == NULL) == (t == NULL)) {
		api_problem(r, 400, "Invalid request", "send exactly one of \"track_id\" "
		    "(a library track) or \"text\" (1 to %d characters)", REQ_TEXT_MAX);
		return -1;
	}
	if (tid != NULL) {
		if (!json_is_integer(tid) || json_integer_value(tid) <= 0) {
			api_problem(r, 400, "Invalid track", "\"track_id\" is the id of a "
			    "library track");
			return -1;
		}
		*track_id = json_integer_value(tid);
		return 0;
	}
	if (!json_is_string(t)) {
		api_problem(r, 400, "Invalid text", "\"text\" is a string of 1 to %d "
		    "characters", REQ_TEXT_MAX);
		return -1;
	}
	if (text_span_check(json_string_value(t), json_string_length(t), 1, REQ_TEXT_MAX,
	    0, &s, &len) != 0) {
		api_problem(r, 400, "Invalid text", "\"text\" is one line of 1 to %d characters after trimming, valid UTF-8, without control characters", REQ_TEXT_MAX);
		return -1;
	}
	if ((*text = strndup(s, len)) == NULL) {
		api_problem(r, 500, "Internal error", "out of memory");
		return -1;
	}
	return 0;
}

void
api_requests_create(struct api_req *r)
{
	struct api_room room;
	struct api_user u;
	int64_t track_id, id = 0;
	char *text = NULL;
	json_t *q = NULL;
	int rc;

	if (api_enter(r, &room, &u) != 0 ||
	    api_read_json_only(r, "track_id", "text", NULL) != 0 ||
	    req_create_parse(r, &track_id, &text) != 0 || api_tx_begin(r) != 0)
		goto out;
	if (track_id > 0)
		rc = api_sql_run(r->t->db, &id, "INSERT INTO requests (room_id, user_id, "
		    "track_id, created_us) SELECT ?, ?, t.id, ? FROM tracks t WHERE t.id = ? "
		    "RETURNING id", "iiii", room.id, u.id, clock_now_us(), track_id);
	else
		rc = api_sql_run(r->t->db, &id, "INSERT INTO requests (room_id, user_id, "
		    "text, created_us) VALUES (?, ?, ?, ?) RETURNING id", "iiti", room.id,
		    u.id, text, clock_now_us());
	if (rc != SQLITE_ROW) {
		api_tx_rollback(r);
		if (rc == SQLITE_DONE)
			api_problem(r, 404, "No such track", "the library has no track %"
			    PRId64, track_id);
		else if (rc == SQLITE_CONSTRAINT)
			api_problem(r, 409, "Already requested", "%s is already pending in "
			    "this room", track_id > 0 ? "a request for this track" :
			    "a request with this text");
		else
			api_problem(r, 500, "Internal error", "database error");
		goto out;
	}
	if ((q = req_load(r->t->db, id)) == NULL ||
	    req_announce(r, &room, q, "added", &u) != 0) {
		api_tx_rollback(r);
		api_problem(r, 500, "Internal error", "the request could not be saved");
		goto out;
	}
	if (api_tx_commit(r) != 0)
		goto out;
	api_reply(r, 201, q, NULL);
	q = NULL;
out:
	json_decref(q);
	free(text);
}

/* Reads the body of a resolution: "status" approved or rejected, and an
 * optional "track_id" (approval only). Returns 0 with *status and *track_id
 * (0 when absent), or -1 after sending 400. */
static int
req_resolve_parse(struct api_req *r, const char **status, int64_t *track_id)
{
	json_t *s = json_object_get(r->body, "status");
	json_t *tid = json_object_get(r->body, "track_id");

	*status = json_string_value(s);
	if (*status == NULL || (strcmp(*status, "approved") != 0 &&
	    strcmp(*status, "rejected") != 0)) {
		api_problem(r, 400, "Invalid status", "\"status\" is \"approved\" or "
		    "\"rejected\"");
		return -1;
	}
	*track_id = 0;
	if (tid == NULL)
		return 0;
	if (!json_is_integer(tid) || json_integer_value(tid) <= 0) {
		api_problem(r, 400, "Invalid track", "\"track_id\" is the id of a library "
		    "track");
		return -1;
	}
	if (strcmp(*status, "approved") != 0) {
		api_problem(r, 400, "Invalid track", "\"track_id\" goes only with "
		    "\"status\": \"approved\"");
		return -1;
	}
	*track_id = json_integer_value(tid);
	return 0;
}

/* Inside the transaction: loads the request of the path, which must be
 * pending, into *track_id (0 for free text) and *user_id. Returns 0, or -1
 * after rolling back and sending 404, 409 or 500. */
static int
req_pending_load(struct api_req *r, const struct api_room *room, int64_t *track_id,
    int64_t *user_id)
{
	sqlite3_stmt *st = api_sql(r->t->db, "SELECT status, coalesce(track_id, 0), "
	    "user_id FROM requests WHERE id = ? AND room_id = ?", "ii", r->m.id, room->id);
	char status[16] = "";
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;

	if (rc == SQLITE_ROW) {
		snprintf(status, sizeof(status), "%s", sqlite3_column_text(st, 0));
		*track_id = sqlite3_column_int64(st, 1);
		*user_id = sqlite3_column_int64(st, 2);
	}
	api_sql_done(st);
	if (rc == SQLITE_ROW && strcmp(status, "pending") == 0)
		return 0;
	api_tx_rollback(r);
	if (rc == SQLITE_ROW)
		api_problem(r, 409, "Already resolved", "request %" PRId64 " is %s; only a "
		    "pending request can change", r->m.id, status);
	else if (rc == SQLITE_DONE)
		api_problem(r, 404, "No such request", "room %s has no request %" PRId64,
		    room->code, r->m.id);
	else
		api_problem(r, 500, "Internal error", "database error");
	return -1;
}

void
api_requests_resolve(struct api_req *r)
{
	struct api_room room;
	struct api_user u;
	const char *status;
	int64_t want, track, asker, item = 0;
	json_t *q = NULL;

	if (api_enter(r, &room, &u) != 0 ||
	    api_need_admin(r, &u, "approve or reject requests") != 0 ||
	    api_read_json_only(r, "status", "track_id", NULL) != 0 ||
	    req_resolve_parse(r, &status, &want) != 0 || api_tx_begin(r) != 0 ||
	    req_pending_load(r, &room, &track, &asker) != 0)
		return;
	if (want > 0 && track > 0) {
		api_tx_rollback(r);
		api_problem(r, 400, "Invalid track", "request %" PRId64 " names a track "
		    "already; \"track_id\" fulfils only a free-text request", r->m.id);
		return;
	}
	if (want > 0)
		track = want;
	if (strcmp(status, "approved") == 0 && track > 0 &&
	    (item = api_playlist_append(r, &room, track, asker)) <= 0) {
		api_tx_rollback(r);
		if (item == 0)
			api_problem(r, 404, "No such track", "the library has no track %"
			    PRId64, track);
		else if (item == API_PLAYLIST_FULL)
			api_playlist_full(r);
		else
			api_problem(r, 500, "Internal error", "database error");
		return;
	}
	if (api_sql_run(r->t->db, NULL, "UPDATE requests SET status = ?, track_id = "
	    "nullif(?, 0), resolved_us = ?, resolved_by = ?, item_id = nullif(?, 0) "
	    "WHERE id = ?", "tiiiii", status, track, clock_now_us(), u.id, item,
	    r->m.id) != SQLITE_DONE || (q = req_load(r->t->db, r->m.id)) == NULL ||
	    req_announce(r, &room, q, status, &u) != 0) {
		api_tx_rollback(r);
		json_decref(q);
		api_problem(r, 500, "Internal error", "the request could not be saved");
		return;
	}
	if (api_tx_commit(r) != 0) {
		json_decref(q);
		return;
	}
	if (item > 0)	/* a new item may follow the current one: the worker re-arms */
		(void)api_worker_notify(r, room.code, "reload", 0);	/* logs */
	api_reply(r, 200, q, NULL);
}
