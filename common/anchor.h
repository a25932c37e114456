/*
 * anchor.h - the playback anchor of a room (ARCHITECTURE.md, "Time and the
 * sync model"): at server time at_us, item item_id is at position_us, and
 * state says whether it advances. Stored in the playback table; read by the
 * API for GET /api/rooms/{code} and written only by the worker.
 */
#ifndef TUTTI_ANCHOR_H
#define TUTTI_ANCHOR_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

enum anchor_state { ANCHOR_STOPPED, ANCHOR_PLAYING, ANCHOR_PAUSED };

struct anchor {
	enum anchor_state state;
	int64_t item_id;	/* 0: no item */
	int64_t track_id;	/* 0: no item */
	int64_t position_us;
	int64_t at_us;
};

/* Returns "stopped", "playing" or "paused". */
const char *anchor_state_name(enum anchor_state s);

/* Parses a state name. Returns 0 and sets *s, or -1 for an unknown name. */
int anchor_state_parse(const char *name, enum anchor_state *s);

/* Loads the anchor of the room (the track id joined from its playlist item).
 * Returns 0; 1 when the room has no playback row yet (*a is then a stopped
 * anchor with no item); -1 on a database error (logged). */
int anchor_load(sqlite3 *db, int64_t room_id, struct anchor *a);

/* Returns a new JSON object {state, item_id, track_id, position_us, at_us}
 * (ids are null when there is no item) that the caller owns, or NULL on OOM. */
json_t *anchor_json(const struct anchor *a);

/* Sets the "next_item_id" member of obj (an anchor_json() object or an event
 * built on one): the item that plays when the anchor's item ends
 * (sched_next_item(), common/sched_order.h), or null when it is 0 (the room
 * would stop, or is stopped). Returns 0, or -1 when out of memory. */
int anchor_json_next(json_t *obj, int64_t next_item_id);

#endif
