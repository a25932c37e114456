/*
 * chat.c - a room's chat:
 *   GET  /api/rooms/{code}/chat   messages older than ?before=ID, oldest first
 *   POST /api/rooms/{code}/chat   post {"text"} (any member, rate limited)
 * Messages live in the chat table; system lines (joins, role changes,
 * requests) are written by api_chat_system() in event.c with the same JSON
 * shape. The newest messages also come with GET /api/rooms/{code}.
 */
#include "api.h"
#include "clock.h"
#include "log.h"
#include "text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_MAX_CHARS 500
#define CHAT_PAGE_DEFAULT 50
#define CHAT_PAGE_MAX 100
#define CHAT_BURST_DEFAULT 5
#define CHAT_WINDOW_DEFAULT_S 10

/* Returns the message in the current row of st (id, user_id, name, kind,
 * text, at_us) as a new JSON object, or NULL on OOM. */
static json_t *
chat_row_json(sqlite3_stmt *st)
{
	json_t *uid = sqlite3_column_type(st, 1) == SQLITE_NULL ? json_null() :
	    json_integer(sqlite3_column_int64(st, 1));

	return json_pack("{s:I, s:o, s:s, s:s, s:s, s:I}",
	    "id", (json_int_t)sqlite3_column_int64(st, 0),
	    "user_id", uid,
	    "name", (const char *)sqlite3_column_text(st, 2),
	    "kind", (const char *)sqlite3_column_text(st, 3),
	    "text", (const char *)sqlite3_column_text(st, 4),
	    "at_us", (json_int_t)sqlite3_column_int64(st, 5));
}

/* Returns up to n messages of the room with an id below before, oldest
 * first, as a new JSON array; *more (may be NULL) tells whether older ones
 * exist. Returns NULL on a database error (logged). */
static json_t *
chat_page(sqlite3 *db, int64_t room_id, int64_t before, int n, int *more)
{
	sqlite3_stmt *st;
	json_t *a = json_array(), *m;
	int rc, got = 0;

	st = api_sql(db, "SELECT id, user_id, name, kind, text, at_us FROM chat "
	    "WHERE room_id = ? AND id < ? ORDER BY id DESC LIMIT ?", "iii", room_id,
	    before, (int64_t)n + 1);
	if (st == NULL || a == NULL)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && got < n) {
		if ((m = chat_row_json(st)) == NULL || json_array_insert_new(a, 0, m) != 0)
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
	log_err("room %" PRId64 ": %s", room_id, sqlite3_errmsg(db));
	api_sql_done(st);
	json_decref(a);
	return NULL;
}

json_t *
api_chat_recent(sqlite3 *db, int64_t room_id, int n)
{
	return chat_page(db, room_id, INT64_MAX, n > 0 ? n : 0, NULL);
}

void
api_chat_list(struct api_req *r)
{
	struct api_room room;
	struct api_user u;
	int64_t before, limit;
	json_t *msgs;
	int more = 0;

	if (api_enter(r, &room, &u) != 0 ||
	    api_query_int(r, "before", INT64_MAX, 1, INT64_MAX, &before) != 0 ||
	    api_query_int(r, "limit", CHAT_PAGE_DEFAULT, 1, CHAT_PAGE_MAX, &limit) != 0)
		return;
	if ((msgs = chat_page(r->t->db, room.id, before, (int)limit, &more)) == NULL) {
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	api_reply(r, 200, json_pack("{s:o, s:b}", "messages", msgs, "more", more), NULL);
}

/* Inside the write transaction: checks u's rate limit at time now. Returns
 * 0 when u may post; else -1 after rolling back and sending 429 (with
 * Retry-After) or 500. */
static int
chat_rate_check(struct api_req *r, const struct api_user *u, int64_t now)
{
	const struct api_config *cfg = r->t->cfg;
	int64_t burst = cfg->chat_burst > 0 ? cfg->chat_burst : CHAT_BURST_DEFAULT;
	int64_t window_us = (int64_t)(cfg->chat_window_s > 0 ? cfg->chat_window_s :
	    CHAT_WINDOW_DEFAULT_S) * 1000000;
	int64_t at = 0, wait_s;
	char hdr[64];
	int rc;

	/* The burst-th newest message of u; if it is still in the window, the
	 * next one would make burst + 1. */
	rc = api_sql_run(r->t->db, &at, "SELECT at_us FROM chat WHERE user_id = ? "
	    "ORDER BY at_us DESC LIMIT 1 OFFSET ?", "ii", u->id, burst - 1);
	if (rc == SQLITE_DONE || (rc == SQLITE_ROW && at <= now - window_us))
		return 0;
	api_tx_rollback(r);
	if (rc != SQLITE_ROW) {
		api_problem(r, 500, "Internal error", "database error");
		return -1;
	}
	wait_s = (at + window_us - now + 999999) / 1000000;
	if (wait_s < 1)
		wait_s = 1;
	snprintf(hdr, sizeof(hdr), "Retry-After: %" PRId64 "\r\n", wait_s);
	api_problem_h(r, 429, "Too many messages", hdr, "at most %" PRId64 " messages in "
	    "%" PRId64 " seconds; try again in %" PRId64 " s", burst, window_us / 1000000,
	    wait_s);
	return -1;
}

void
api_chat_post(struct api_req *r)
{
	struct api_room room;
	struct api_user u;
	const char *text;
	char *copy = NULL;
	size_t len;
	int64_t id, now;
	json_t *t, *msg = NULL;

	if (api_enter(r, &room, &u) != 0 || api_read_json_only(r, "text", NULL) != 0)
		return;
	t = json_object_get(r->body, "text");
	if (!json_is_string(t)) {
		api_problem(r, 400, "Invalid text", "\"text\" is a string of 1 to %d "
		    "characters", CHAT_MAX_CHARS);
		return;
	}
	if (text_span_check(json_string_value(t), json_string_length(t), 1, CHAT_MAX_CHARS,
	    1, &text, &len) != 0) {
		api_problem(r, 400, "Invalid text", "\"text\" has 1 to %d characters after trimming, valid UTF-8, without control characters other than newline and tab", CHAT_MAX_CHARS);
		return;
	}
	if ((copy = strndup(text, len)) == NULL) {
		api_problem(r, 500, "Internal error", "out of memory");
		return;
	}
	if (api_tx_begin(r) != 0)
		goto out;
	now = clock_now_us();
	if (chat_rate_check(r, &u, now) != 0)
		goto out;
	if (api_sql_run(r->t->db, &id, "INSERT INTO chat (room_id, user_id, name, kind, "
	    "text, at_us) VALUES (?, ?, ?, 'user', ?, ?) RETURNING id", "iitti", room.id,
	    u.id, u.name, copy, now) != SQLITE_ROW ||
	    (msg = json_pack("{s:I, s:I, s:s, s:s, s:s, s:I}", "id", (json_int_t)id,
	    "user_id", (json_int_t)u.id, "name", u.name, "kind", "user", "text", copy,
	    "at_us", (json_int_t)now)) == NULL ||
	    api_emit(r, &room, "chat", json_pack("{s:O}", "message", msg)) < 0) {
		api_tx_rollback(r);
		api_problem(r, 500, "Internal error", "the message could not be saved");
		goto out;
	}
	if (api_tx_commit(r) != 0)
		goto out;
	api_reply(r, 201, msg, NULL);
	msg = NULL;
out:
	json_decref(msg);
	free(copy);
}
