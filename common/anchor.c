/*
 * anchor.c - loading a room's playback anchor from SQLite and encoding it
 * as the JSON fields every playback event and room snapshot carries, with
 * the next item (next_item_id) set beside them by the worker and the API.
 */
#include "anchor.h"
#include "log.h"

#include <string.h>

static const char *const anchor_names[] = { "stopped", "playing", "paused" };

const char *
anchor_state_name(enum anchor_state s)
{
	return (unsigned)s < 3 ? anchor_names[s] : "stopped";
}

int
anchor_state_parse(const char *name, enum anchor_state *s)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(name, anchor_names[i]) == 0) {
			*s = (enum anchor_state)i;
			return 0;
		}
	return -1;
}

int
anchor_load(sqlite3 *db, int64_t room_id, struct anchor *a)
{
	static const char sql[] =
	    "SELECT p.state, p.item_id, i.track_id, p.position_us, p.at_us "
	    "FROM playback p LEFT JOIN playlist_items i ON i.id = p.item_id "
	    "WHERE p.room_id = ?";
	sqlite3_stmt *st = NULL;
	int rc;

	memset(a, 0, sizeof(*a));
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, room_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return 1;
	}
	if (rc != SQLITE_ROW)
		goto fail;
	if (anchor_state_parse((const char *)sqlite3_column_text(st, 0), &a->state) != 0)
		a->state = ANCHOR_STOPPED;
	a->item_id = sqlite3_column_int64(st, 1);
	a->track_id = sqlite3_column_int64(st, 2);
	a->position_us = sqlite3_column_int64(st, 3);
	a->at_us = sqlite3_column_int64(st, 4);
	sqlite3_finalize(st);
	return 0;
fail:
	log_err("room %lld: %s", (long long)room_id, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return -1;
}

json_t *
anchor_json(const struct anchor *a)
{
	return json_pack("{s:s, s:o, s:o, s:I, s:I}",
	    "state", anchor_state_name(a->state),
	    "item_id", a->item_id ? json_integer(a->item_id) : json_null(),
	    "track_id", a->track_id ? json_integer(a->track_id) : json_null(),
	    "position_us", (json_int_t)a->position_us,
	    "at_us", (json_int_t)a->at_us);
}

int
anchor_json_next(json_t *obj, int64_t next_item_id)
{
	return json_object_set_new(obj, "next_item_id", next_item_id ?
	    json_integer(next_item_id) : json_null());
}
