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
	SQL_SEQ, SQL_PLAYLIST, SQL_WRITE, SQL_BUMP, SQL_MARK, SQL_OPEN_ROOMS,
	SQL_DUE_ADMIN, SQL_DUE_IDLE, SQL_ADMIN_DUE_ROOM, SQL_ELDEST, SQL_MAKE_ADMIN,
	SQL_ADMIN_FOUND, SQL_CHAT_SYSTEM, SQL_CLOSE_IDLE, SQL_USERS_CLOSED, SQL_DEMOTE,
	SQL_USER_PRESENCE, SQL_SET_ONLINE, SQL_TALLY, SQL_MARKS, SQL_SET_MARKS, SQL_SUCCESSOR,
	SQL_FENCE_TAKE, SQL_FENCE, SQL_DUE_PURGE, SQL_PURGE_CHECK, SQL_PURGE_FIRST,
	SQL_PURGE_LAST = SQL_PURGE_FIRST + 6, SQL_COUNT
};

static const char *const store_sql_text[SQL_COUNT] = {
	[SQL_BEGIN_W] = "BEGIN IMMEDIATE",
	[SQL_BEGIN_R] = "BEGIN",
	[SQL_COMMIT] = "COMMIT",
	[SQL_ROLLBACK] = "ROLLBACK",
	[SQL_ROOM_CODE] = "SELECT id, seq, code, last_cmd, closed_us IS NOT NULL, "
	    "repeat_mode, shuffle, shuffle_seed, last_cmd_seq FROM rooms WHERE code = ?",
	[SQL_ROOM_ID] = "SELECT id, seq, code, last_cmd, closed_us IS NOT NULL, "
	    "repeat_mode, shuffle, shuffle_seed, last_cmd_seq FROM rooms WHERE id = ?",
	[SQL_SEQ] = "SELECT seq FROM rooms WHERE id = ?",
	[SQL_PLAYLIST] = "SELECT i.id, i.track_id, t.duration_us "
	    "FROM playlist_items i JOIN tracks t ON t.id = i.track_id "
	    "WHERE i.room_id = ? AND i.removed_us IS NULL ORDER BY i.position",
	/* The first item still in the playlist after a removed one (a removal
	 * keeps the row with removed_us set, and its position). */
	[SQL_SUCCESSOR] = "SELECT n.id FROM playlist_items c JOIN playlist_items n "
	    "ON n.room_id = c.room_id AND n.removed_us IS NULL AND n.position > c.position "
	    "WHERE c.id = ? ORDER BY n.position LIMIT 1",
	/* The purge of rooms closed long ago (?1 room id, ?2 due), children
	 * first: every reference to a row is deleted before the row. */
	[SQL_DUE_PURGE] = "SELECT id, closed_us FROM rooms WHERE closed_us IS NOT NULL "
	    "AND closed_us <= ?1 AND (closed_us, id) > (?2, ?3) ORDER BY closed_us, id LIMIT ?4",
	[SQL_PURGE_CHECK] = "SELECT code FROM rooms WHERE id = ?1 AND closed_us <= ?2",
	[SQL_PURGE_FIRST] = "DELETE FROM playback WHERE room_id = ?1",
	[SQL_PURGE_FIRST + 1] = "DELETE FROM requests WHERE room_id = ?1",
	[SQL_PURGE_FIRST + 2] = "DELETE FROM uploads WHERE room_id = ?1",
	[SQL_PURGE_FIRST + 3] = "DELETE FROM chat WHERE room_id = ?1",
	[SQL_PURGE_FIRST + 4] = "DELETE FROM playlist_items WHERE room_id = ?1",
	[SQL_PURGE_FIRST + 5] = "DELETE FROM users WHERE room_id = ?1",
	[SQL_PURGE_LAST] = "DELETE FROM rooms WHERE id = ?1",
	/* The fencing token (sql/008_worker_fence.sql). */
	[SQL_FENCE_TAKE] = "UPDATE worker_fence SET epoch = epoch + 1, holder = ?, since_us = ? "
	    "WHERE id = 1 RETURNING epoch",
	[SQL_FENCE] = "SELECT epoch, holder FROM worker_fence WHERE id = 1",
	[SQL_WRITE] = "INSERT OR REPLACE INTO playback "
	    "(room_id, state, item_id, position_us, at_us) VALUES (?, ?, ?, ?, ?)",
	[SQL_BUMP] = "UPDATE rooms SET seq = seq + 1, last_cmd = coalesce(?1, last_cmd), "
	    "last_cmd_seq = CASE WHEN ?1 IS NULL THEN last_cmd_seq ELSE seq + 1 END "
	    "WHERE id = ?2 RETURNING seq",
	[SQL_MARK] = "UPDATE rooms SET last_cmd = ?, last_cmd_seq = -1 WHERE id = ?",
	[SQL_OPEN_ROOMS] = "SELECT id, seq, code, last_cmd, 0, repeat_mode, shuffle, "
	    "shuffle_seed, last_cmd_seq FROM rooms WHERE closed_us IS NULL ORDER BY id",
	/* The sweep (store_due): ?1 due time, ?2 and ?3 the (time, id) cursor,
	 * ?4 the batch size. In the order of a partial index on the time
	 * column where it is set and the room open, when there is one. */
	[SQL_DUE_ADMIN] = "SELECT id, admin_lost_us FROM rooms WHERE closed_us IS NULL "
	    "AND admin_lost_us IS NOT NULL AND admin_lost_us <= ?1 AND "
	    "(admin_lost_us, id) > (?2, ?3) ORDER BY admin_lost_us, id LIMIT ?4",
	[SQL_DUE_IDLE] = "SELECT id, empty_since_us FROM rooms WHERE closed_us IS NULL "
	    "AND empty_since_us IS NOT NULL AND empty_since_us <= ?1 AND "
	    "(empty_since_us, id) > (?2, ?3) ORDER BY empty_since_us, id LIMIT ?4",
	[SQL_ADMIN_DUE_ROOM] = "SELECT id, seq, code, last_cmd, 0, repeat_mode, shuffle, "
	    "shuffle_seed, last_cmd_seq FROM rooms WHERE id = ?1 AND closed_us IS NULL AND admin_lost_us <= ?2",
	/* A present admin who is online first (then there is nothing to
	 * promote), else the longest-present member who is online, else the
	 * longest-present member, else an offline admin (nobody to promote). */
	[SQL_ELDEST] = "SELECT id, name, role, joined_us, token_hash, online FROM users "
	    "WHERE room_id = ? AND left_us IS NULL "
	    "ORDER BY (role = 'admin' AND online = 1) DESC, role = 'admin', online DESC, "
	    "joined_us, id LIMIT 1",
	[SQL_MAKE_ADMIN] = "UPDATE users SET role = 'admin' WHERE id = ?",
	[SQL_ADMIN_FOUND] = "UPDATE rooms SET admin_lost_us = NULL WHERE id = ?",
	[SQL_CHAT_SYSTEM] = "INSERT INTO chat (room_id, kind, text, at_us) "
	    "VALUES (?, 'system', ?, ?) RETURNING id",
	[SQL_CLOSE_IDLE] = "UPDATE rooms SET closed_us = ?1, seq = seq + 1 "
	    "WHERE id = ?2 AND closed_us IS NULL AND empty_since_us <= ?3 "
	    "RETURNING code, seq",
	[SQL_USERS_CLOSED] = "UPDATE users SET left_us = ?1, left_reason = 'closed' "
	    "WHERE room_id = ?2 AND left_us IS NULL",
	[SQL_DEMOTE] = "UPDATE users SET role = 'member' WHERE room_id = ?1 AND "
	    "left_us IS NULL AND role = 'admin' AND id <> ?2 "
	    "RETURNING id, name, role, joined_us, token_hash, online",
	/* Presence (worker/roles.c). */
	[SQL_USER_PRESENCE] = "SELECT name, role = 'admin', online, left_us IS NULL "
	    "FROM users WHERE id = ?1 AND room_id = ?2",
	[SQL_SET_ONLINE] = "UPDATE users SET online = ?1 WHERE id = ?2",
	[SQL_TALLY] = "SELECT count(*), coalesce(sum(online = 1), 0), "
	    "coalesce(sum(online = 1 AND role = 'admin'), 0) FROM users "
	    "WHERE room_id = ? AND left_us IS NULL",
	[SQL_MARKS] = "SELECT admin_lost_us, empty_since_us FROM rooms WHERE id = ?",
	[SQL_SET_MARKS] = "UPDATE rooms SET admin_lost_us = ?1, empty_since_us = ?2 "
	    "WHERE id = ?3",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[SQL_COUNT];
	int64_t epoch;		/* the fence taken (store_fence_take); 0: none */
	int fenced;		/* a write found another worker's epoch */
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

/* Inside a write transaction: whether the fence still holds our epoch.
 * Returns 0 (it does, or none was taken), 1 (another worker's: st->fenced
 * is set) or -1. */
static int
store_fence_check(struct store *st)
{
	sqlite3_stmt *s = st->st[SQL_FENCE];
	int64_t epoch;
	int rc;

	if (st->epoch == 0)
		return 0;
	if ((rc = store_step(st, s)) != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			log_err("the worker_fence row is missing");
		sqlite3_reset(s);
		return -1;
	}
	if ((epoch = sqlite3_column_int64(s, 0)) != st->epoch) {
		log_warn("%s took over (epoch %lld, ours %lld); "
		    "not writing", (const char *)sqlite3_column_text(s, 1),
		    (long long)epoch, (long long)st->epoch);
		st->fenced = 1;
	}
	sqlite3_reset(s);
	return st->fenced;
}

int
store_begin(struct store *st, int write)
{
	if (write && st->fenced)
		return -1;
	if (store_run(st, st->st[write ? SQL_BEGIN_W : SQL_BEGIN_R]) != 0)
		return -1;
	if (write && store_fence_check(st) != 0) {
		store_rollback(st);
		return -1;
	}
	return 0;
}

int
store_fence_take(struct store *st, const char *holder, int64_t now_us)
{
	sqlite3_stmt *s = st->st[SQL_FENCE_TAKE];
	int64_t epoch = 0;
	int rc;

	if (store_run(st, st->st[SQL_BEGIN_W]) != 0)
		return -1;
	sqlite3_bind_text(s, 1, holder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now_us);
	if ((rc = store_step(st, s)) == SQLITE_ROW)
		epoch = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_ROW || store_commit(st) != 0) {
		if (rc == SQLITE_DONE)
			log_err("the worker_fence row is missing");
		store_rollback(st);
		return -1;
	}
	st->epoch = epoch;
	st->fenced = 0;
	return 0;
}

int
store_fenced(const struct store *st)
{
	return st->fenced;
}

int64_t
store_fence_epoch(const struct store *st)
{
	return st->epoch;
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

/* Reads one row of (id, seq, code, last_cmd, closed, repeat_mode, shuffle,
 * shuffle_seed, last_cmd_seq) from s. An unknown repeat mode (the schema's CHECK forbids
 * it) reads as off. */
static void
store_room_row(sqlite3_stmt *s, struct store_room *r)
{
	r->id = sqlite3_column_int64(s, 0);
	r->seq = sqlite3_column_int64(s, 1);
	store_text(s, 2, r->code, sizeof(r->code));
	store_text(s, 3, r->last_cmd, sizeof(r->last_cmd));
	r->closed = sqlite3_column_int(s, 4);
	if (sched_repeat_parse((const char *)sqlite3_column_text(s, 5), &r->repeat) != 0)
		r->repeat = SCHED_REPEAT_OFF;
	r->shuffle = sqlite3_column_int(s, 6) != 0;
	r->seed = (uint64_t)sqlite3_column_int64(s, 7);
	r->last_cmd_seq = sqlite3_column_int64(s, 8);
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

/* Runs query q with ?1 = arg and reads column 0 of its first row into
 * *out. Returns SQLITE_ROW, SQLITE_DONE (no row; *out unchanged) or -1. */
static int
store_one_int(struct store *st, enum store_sql q, int64_t arg, int64_t *out)
{
	sqlite3_stmt *s = st->st[q];
	int rc;

	sqlite3_bind_int64(s, 1, arg);
	if ((rc = store_step(st, s)) == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

int
store_room_seq(struct store *st, int64_t room_id, int64_t *seq)
{
	int rc = store_one_int(st, SQL_SEQ, room_id, seq);

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

int
store_successor(struct store *st, int64_t item_id, int64_t *next)
{
	*next = 0;
	return store_one_int(st, SQL_SUCCESSOR, item_id, next) < 0 ? -1 : 0;
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

sqlite3 *
store_db(struct store *st)
{
	return st->db;
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

int
store_due(struct store *st, enum store_due_kind kind, int64_t due_us,
    struct store_cursor *cur, int64_t *ids, size_t max, size_t *n)
{
	sqlite3_stmt *s = st->st[kind == STORE_DUE_ADMIN ? SQL_DUE_ADMIN :
	    kind == STORE_DUE_IDLE ? SQL_DUE_IDLE : SQL_DUE_PURGE];
	struct store_cursor last = *cur;
	int rc = SQLITE_DONE;

	*n = 0;
	sqlite3_bind_int64(s, 1, due_us);
	sqlite3_bind_int64(s, 2, cur->at_us);
	sqlite3_bind_int64(s, 3, cur->id);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)max);
	while (*n < max && (rc = store_step(st, s)) == SQLITE_ROW) {
		last.id = ids[(*n)++] = sqlite3_column_int64(s, 0);
		last.at_us = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (*n < max && rc != SQLITE_DONE)
		return -1;
	if (*n < max)
		*cur = (struct store_cursor){ INT64_MIN, 0 };	/* a full round: start over */
	else
		*cur = last;
	return 0;
}

int
store_room_admin_due(struct store *st, int64_t room_id, int64_t due_us,
    struct store_room *r)
{
	sqlite3_stmt *s = st->st[SQL_ADMIN_DUE_ROOM];

	sqlite3_bind_int64(s, 1, room_id);
	sqlite3_bind_int64(s, 2, due_us);
	return store_room_query(st, s, r);
}

/* Reads one row of (id, name, role, joined_us, token_hash, online). */
static void
store_user_row(sqlite3_stmt *s, struct store_user *u)
{
	char role[8];

	u->id = sqlite3_column_int64(s, 0);
	store_text(s, 1, u->name, sizeof(u->name));
	store_text(s, 2, role, sizeof(role));
	u->admin = strcmp(role, "admin") == 0;
	u->joined_us = sqlite3_column_int64(s, 3);
	store_text(s, 4, u->token_hash, sizeof(u->token_hash));
	u->online = sqlite3_column_int(s, 5);
}

int
store_eldest(struct store *st, int64_t room_id, struct store_user *u)
{
	sqlite3_stmt *s = st->st[SQL_ELDEST];
	int rc;

	sqlite3_bind_int64(s, 1, room_id);
	if ((rc = store_step(st, s)) == SQLITE_ROW)
		store_user_row(s, u);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

/* Runs a statement with one int64 parameter to completion. Returns 0 or -1. */
static int
store_run_id(struct store *st, enum store_sql q, int64_t id)
{
	sqlite3_stmt *s = st->st[q];

	sqlite3_bind_int64(s, 1, id);
	return store_run(st, s);
}

int
store_make_admin(struct store *st, int64_t room_id, int64_t user_id)
{
	if (user_id != 0 && store_run_id(st, SQL_MAKE_ADMIN, user_id) != 0)
		return -1;
	return store_run_id(st, SQL_ADMIN_FOUND, room_id);
}

int
store_chat_system(struct store *st, int64_t room_id, const char *text, int64_t at_us,
    int64_t *id)
{
	sqlite3_stmt *s = st->st[SQL_CHAT_SYSTEM];
	int rc;

	sqlite3_bind_int64(s, 1, room_id);
	sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, at_us);
	if ((rc = store_step(st, s)) == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		rc = store_step(st, s);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_close_idle(struct store *st, int64_t room_id, int64_t due_us, int64_t now_us,
    struct store_room *r)
{
	sqlite3_stmt *s = st->st[SQL_CLOSE_IDLE];
	int rc;

	sqlite3_bind_int64(s, 1, now_us);
	sqlite3_bind_int64(s, 2, room_id);
	sqlite3_bind_int64(s, 3, due_us);
	if ((rc = store_step(st, s)) == SQLITE_ROW) {
		r->id = room_id;
		store_text(s, 0, r->code, sizeof(r->code));
		r->seq = sqlite3_column_int64(s, 1);
		r->closed = 1;
		rc = store_step(st, s) == SQLITE_DONE ? SQLITE_ROW : -1;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 1 : -1;
	s = st->st[SQL_USERS_CLOSED];
	sqlite3_bind_int64(s, 1, now_us);
	sqlite3_bind_int64(s, 2, room_id);
	return store_run(st, s);
}

int
store_demote(struct store *st, int64_t room_id, int64_t keep_id, struct store_user *prev)
{
	sqlite3_stmt *s = st->st[SQL_DEMOTE];
	int rc, n = 0;

	sqlite3_bind_int64(s, 1, room_id);
	sqlite3_bind_int64(s, 2, keep_id);
	while ((rc = store_step(st, s)) == SQLITE_ROW)
		if (n++ == 0)
			store_user_row(s, prev);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (n > 1)
		log_warn("room %lld had %d admins; all but user %lld are members now",
		    (long long)room_id, n, (long long)keep_id);
	return rc == SQLITE_DONE ? n > 0 : -1;
}

int
store_user_presence(struct store *st, int64_t room_id, int64_t user_id,
    struct store_presence *u)
{
	sqlite3_stmt *s = st->st[SQL_USER_PRESENCE];
	int rc;

	sqlite3_bind_int64(s, 1, user_id);
	sqlite3_bind_int64(s, 2, room_id);
	if ((rc = store_step(st, s)) == SQLITE_ROW) {
		u->id = user_id;
		store_text(s, 0, u->name, sizeof(u->name));
		u->admin = sqlite3_column_int(s, 1);
		u->online = sqlite3_column_int(s, 2);
		u->present = sqlite3_column_int(s, 3);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int
store_set_online(struct store *st, int64_t user_id, int online)
{
	sqlite3_stmt *s = st->st[SQL_SET_ONLINE];

	sqlite3_bind_int(s, 1, online != 0);
	sqlite3_bind_int64(s, 2, user_id);
	return store_run(st, s);
}

int
store_tally(struct store *st, int64_t room_id, struct roles_tally *t)
{
	sqlite3_stmt *s = st->st[SQL_TALLY];
	int rc;

	sqlite3_bind_int64(s, 1, room_id);
	if ((rc = store_step(st, s)) == SQLITE_ROW) {
		t->present = sqlite3_column_int64(s, 0);
		t->online = sqlite3_column_int64(s, 1);
		t->admins_online = sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Reads column col of s as a mark: ROLES_UNSET for NULL. */
static int64_t
store_mark_col(sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return ROLES_UNSET;
	return sqlite3_column_int64(s, col);
}

int
store_marks(struct store *st, int64_t room_id, struct roles_marks *m)
{
	sqlite3_stmt *s = st->st[SQL_MARKS];
	int rc;

	sqlite3_bind_int64(s, 1, room_id);
	if ((rc = store_step(st, s)) == SQLITE_ROW) {
		m->admin_lost_us = store_mark_col(s, 0);
		m->empty_since_us = store_mark_col(s, 1);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Binds mark v to parameter i: NULL for ROLES_UNSET. */
static void
store_bind_mark(sqlite3_stmt *s, int i, int64_t v)
{
	if (v == ROLES_UNSET)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_int64(s, i, v);
}

int
store_set_marks(struct store *st, int64_t room_id, const struct roles_marks *m)
{
	sqlite3_stmt *s = st->st[SQL_SET_MARKS];

	store_bind_mark(s, 1, m->admin_lost_us);
	store_bind_mark(s, 2, m->empty_since_us);
	sqlite3_bind_int64(s, 3, room_id);
	return store_run(st, s);
}

int
store_purge_room(struct store *st, int64_t room_id, int64_t due_us, char *code,
    size_t code_size, int64_t *rows)
{
	sqlite3_stmt *s = st->st[SQL_PURGE_CHECK];
	int rc, q;

	*rows = 0;
	sqlite3_bind_int64(s, 1, room_id);
	sqlite3_bind_int64(s, 2, due_us);
	if ((rc = store_step(st, s)) == SQLITE_ROW)
		store_text(s, 0, code, code_size);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 1 : -1;
	for (q = SQL_PURGE_FIRST; q <= SQL_PURGE_LAST; q++) {
		sqlite3_bind_int64(st->st[q], 1, room_id);
		if (store_run(st, st->st[q]) != 0)
			return -1;
		*rows += sqlite3_changes(st->db);
	}
	return 0;
}
