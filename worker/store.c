/*
 * store.c - the worker's SQLite statements, prepared once at start. The
 * worker is the only writer of the playback table and of rooms.last_cmd; it
 * shares rooms.seq with the API, so seq is always taken inside a write
 * transaction (BEGIN IMMEDIATE) with UPDATE ... RETURNING.
 */
#include "store.h"
#include "db.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum store_sql {
	SQL_BEGIN_W, SQL_BEGIN_R, SQL_COMMIT, SQL_ROLLBACK, SQL_ROOM_CODE, SQL_ROOM_ID,
	SQL_SEQ, SQL_PLAYLIST, SQL_WRITE, SQL_BUMP, SQL_MARK, SQL_OPEN_ROOMS, SQL_COUNT
};

static const char *const store_sql_text[SQL_COUNT] = {
	[SQL_BEGIN_W] = "BEGIN IMMEDIATE",
	[SQL_BEGIN_R] = "BEGIN",
	[SQL_COMMIT] = "COMMIT",
	[SQL_ROLLBACK] = "ROLLBACK",
	[SQL_ROOM_CODE] = "SELECT id, seq, code, last_cmd, closed_us IS NOT NULL "
	    "FROM rooms WHERE code = ?",
	[SQL_ROOM_ID] = "SELECT id, seq, code, last_cmd, closed_us IS NOT NULL "
	    "FROM rooms WHERE id = ?",
	[SQL_SEQ] = "SELECT seq FROM rooms WHERE id = ?",
	[SQL_PLAYLIST] = "SELECT i.id, i.track_id, t.duration_us "
	    "FROM playlist_items i JOIN tracks t ON t.id = i.track_id "
	    "WHERE i.room_id = ? ORDER BY i.position",
	[SQL_WRITE] = "INSERT OR REPLACE INTO playback "
	    "(room_id, state, item_id, position_us, at_us) VALUES (?, ?, ?, ?, ?)",
	[SQL_BUMP] = "UPDATE rooms SET seq = seq + 1, last_cmd = coalesce(?, last_cmd) "
	    "WHERE id = ? RETURNING seq",
	[SQL_MARK] = "UPDATE rooms SET last_cmd = ? WHERE id = ?",
	[SQL_OPEN_ROOMS] = "SELECT id, seq, code, last_cmd, 0 FROM rooms "
	    "WHERE closed_us IS NULL ORDER BY id",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[SQL_COUNT];
};

struct store *
store_open(const char *path)
{
	struct store *st;
	int i;

	if (access(path, R_OK | W_OK) != 0) {
		log_err("no database at %s (create it with tutti-api migrate)", path);
		return NULL;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL || (st->db = db_open(path)) == NULL)
		goto fail;
	for (i = 0; i < SQL_COUNT; i++)
		if (sqlite3_prepare_v3(st->db, store_sql_text[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &st->st[i], NULL) != SQLITE_OK) {
			log_err("%s: %s (is the database migrated?)", path, sqlite3_errmsg(st->db));
			goto fail;
		}
	return st;
fail:
	store_close(st);
	return NULL;
}

void
store_close(struct store *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < SQL_COUNT; i++)
		sqlite3_finalize(st->st[i]);
	sqlite3_close(st->db);
	free(st);
}

/* Steps s once. Returns SQLITE_ROW or SQLITE_DONE, or -1 after logging the
 * error and resetting s. */
static int
store_step(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	log_err("%s: %s", sqlite3_sql(s), sqlite3_errmsg(st->db));
	sqlite3_reset(s);
	return -1;
}

/* Runs s (already bound) to completion. Returns 0 or -1. */
static int
store_run(struct store *st, sqlite3_stmt *s)
{
	int rc = store_step(st, s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_begin(struct store *st, int write)
{
	return store_run(st, st->st[write ? SQL_BEGIN_W : SQL_BEGIN_R]);
}

int
store_commit(struct store *st)
{
	if (store_run(st, st->st[SQL_COMMIT]) == 0)
		return 0;
	store_rollback(st);
	return -1;
}

void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		(void)store_run(st, st->st[SQL_ROLLBACK]);
}

static void
store_text(sqlite3_stmt *s, int col, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

/* Reads one row of (id, seq, code, last_cmd, closed) from s. */
static void
store_room_row(sqlite3_stmt *s, struct store_room *r)
{
	r->id = sqlite3_column_int64(s, 0);
	r->seq = sqlite3_column_int64(s, 1);
	store_text(s, 2, r->code, sizeof(r->code));
	store_text(s, 3, r->last_cmd, sizeof(r->last_cmd));
	r->closed = sqlite3_column_int(s, 4);
}

/* Runs a bound room query. Returns 0 (found), 1 (none) or -1. */
static int
store_room_query(struct store *st, sqlite3_stmt *s, struct store_room *r)
{
	int rc = store_step(st, s);

	if (rc == SQLITE_ROW)
		store_room_row(s, r);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int
store_room_by_code(struct store *st, const char *code, struct store_room *r)
{
	sqlite3_stmt *s = st->st[SQL_ROOM_CODE];

	sqlite3_bind_text(s, 1, code, -1, SQLITE_STATIC);
	return store_room_query(st, s, r);
}

int
store_room_by_id(struct store *st, int64_t id, struct store_room *r)
{
	sqlite3_stmt *s = st->st[SQL_ROOM_ID];

	sqlite3_bind_int64(s, 1, id);
	return store_room_query(st, s, r);
}

int
store_room_seq(struct store *st, int64_t room_id, int64_t *seq)
{
	sqlite3_stmt *s = st->st[SQL_SEQ];
	int rc;

	sqlite3_bind_int64(s, 1, room_id);
	if ((rc = store_step(st, s)) == SQLITE_ROW)
		*seq = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == SQLITE_DONE)
		log_err("room %lld: no such room", (long long)room_id);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
store_anchor(struct store *st, int64_t room_id, struct anchor *a)
{
	return anchor_load(st->db, room_id, a) < 0 ? -1 : 0;
}

/* Makes room for one more item in pl. Returns 0 or -1 (out of memory). */
static int
store_list_grow(struct store_list *pl)
{
	size_t cap = pl->cap ? pl->cap * 2 : 32;
	struct sched_item *v;

	if (pl->n < pl->cap)
		return 0;
	if ((v = realloc(pl->v, cap * sizeof(*v))) == NULL) {
		log_err("out of memory");
		return -1;
	}
	pl->v = v;
	pl->cap = cap;
	return 0;
}

int
store_playlist(struct store *st, int64_t room_id, struct store_list *pl)
{
	sqlite3_stmt *s = st->st[SQL_PLAYLIST];
	int rc;

	pl->n = 0;
	sqlite3_bind_int64(s, 1, room_id);
	while ((rc = store_step(st, s)) == SQLITE_ROW) {
		if (store_list_grow(pl) != 0) {
			rc = -1;
			break;
		}
		pl->v[pl->n].item_id = sqlite3_column_int64(s, 0);
		pl->v[pl->n].track_id = sqlite3_column_int64(s, 1);
		pl->v[pl->n].duration_us = sqlite3_column_int64(s, 2);
		pl->n++;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

void
store_list_free(struct store_list *pl)
{
	free(pl->v);
	memset(pl, 0, sizeof(*pl));
}

int
store_write(struct store *st, int64_t room_id, const struct anchor *a)
{
	sqlite3_stmt *s = st->st[SQL_WRITE];

	sqlite3_bind_int64(s, 1, room_id);
	sqlite3_bind_text(s, 2, anchor_state_name(a->state), -1, SQLITE_STATIC);
	if (a->item_id != 0)
		sqlite3_bind_int64(s, 3, a->item_id);
	else
		sqlite3_bind_null(s, 3);
	sqlite3_bind_int64(s, 4, a->position_us);
	sqlite3_bind_int64(s, 5, a->at_us);
	return store_run(st, s);
}

int
store_bump(struct store *st, int64_t room_id, const char *last_cmd, int64_t *seq)
{
	sqlite3_stmt *s = st->st[SQL_BUMP];
	int rc;

	if (last_cmd != NULL)
		sqlite3_bind_text(s, 1, last_cmd, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 1);
	sqlite3_bind_int64(s, 2, room_id);
	if ((rc = store_step(st, s)) == SQLITE_ROW) {
		*seq = sqlite3_column_int64(s, 0);
		rc = store_step(st, s);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_mark(struct store *st, int64_t room_id, const char *last_cmd)
{
	sqlite3_stmt *s = st->st[SQL_MARK];

	sqlite3_bind_text(s, 1, last_cmd, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, room_id);
	return store_run(st, s);
}

int
store_open_rooms(struct store *st, struct store_room **rooms, size_t *n)
{
	sqlite3_stmt *s = st->st[SQL_OPEN_ROOMS];
	struct store_room *v = NULL, *nv;
	size_t cap = 0;
	int rc;

	*n = 0;
	while ((rc = store_step(st, s)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				log_err("out of memory");
				rc = -1;
				break;
			}
			v = nv;
		}
		store_room_row(s, &v[(*n)++]);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(v);
		*n = 0;
		return -1;
	}
	*rooms = v;
	return 0;
}
