/*
 * store.h - the worker's SQLite access: rooms, playlists and playback anchors
 * (sql/001_init.sql). One connection with prepared statements, used only on
 * the event loop thread; every change runs inside store_begin()/store_commit().
 */
#ifndef TUTTI_STORE_H
#define TUTTI_STORE_H

#include "anchor.h"
#include "entry.h"
#include "sched.h"

#include <stddef.h>
#include <stdint.h>

#define STORE_CODE_MAX 16

struct store;

struct store_room {
	int64_t id;
	int64_t seq;				/* seq of the room's last event */
	char code[STORE_CODE_MAX];
	char last_cmd[ENTRY_ID_MAX];		/* last command stream id applied */
	int closed;
};

/* A playlist in order; the caller owns the struct and reuses it across
 * calls, freeing v with store_list_free(). */
struct store_list {
	struct sched_item *v;
	size_t n;
	size_t cap;
};

/* Opens the database at path, which must exist and be migrated (the API
 * migrates it). Returns the store, which the caller frees with store_close(),
 * or NULL after logging why. */
struct store *store_open(const char *path);

/* Closes the database and frees st (NULL is fine). */
void store_close(struct store *st);

/* BEGIN IMMEDIATE (write intent) or BEGIN (a consistent read). Returns 0 or
 * -1 (logged). A transaction begun must end in store_commit/store_rollback. */
int store_begin(struct store *st, int write);

/* COMMIT. Returns 0, or -1 (logged; the transaction is rolled back). */
int store_commit(struct store *st);

/* ROLLBACK, when a transaction is open. Never fails. */
void store_rollback(struct store *st);

/* Looks a room up by code (open or closed). Returns 0 with *r filled, 1 when
 * there is no such room, -1 on a database error (logged). */
int store_room_by_code(struct store *st, const char *code, struct store_room *r);

/* The same by id. */
int store_room_by_id(struct store *st, int64_t id, struct store_room *r);

/* Reads the room's seq. Returns 0 or -1 (logged; also for no such room). */
int store_room_seq(struct store *st, int64_t room_id, int64_t *seq);

/* Loads the room's anchor (a stopped anchor with no item when it has no
 * playback row yet). Returns 0 or -1 (logged). */
int store_anchor(struct store *st, int64_t room_id, struct anchor *a);

/* Loads the room's playlist in order into *pl (replacing its items).
 * Returns 0 or -1 (logged, or out of memory). */
int store_playlist(struct store *st, int64_t room_id, struct store_list *pl);

/* Frees the items of pl and empties it. */
void store_list_free(struct store_list *pl);

/* Writes the room's playback row (INSERT OR REPLACE). Returns 0 or -1. */
int store_write(struct store *st, int64_t room_id, const struct anchor *a);

/* Takes the room's next seq (seq = seq + 1) and, when last_cmd is not NULL,
 * records the command id applied. Stores the new seq in *seq.
 * Returns 0 or -1. */
int store_bump(struct store *st, int64_t room_id, const char *last_cmd, int64_t *seq);

/* Records last_cmd without taking a seq (a command that changed nothing).
 * Returns 0 or -1. */
int store_mark(struct store *st, int64_t room_id, const char *last_cmd);

/* Lists the open rooms (closed_us IS NULL) by id into a new array the caller
 * frees with free(); *n is its length. Returns 0 or -1. */
int store_open_rooms(struct store *st, struct store_room **rooms, size_t *n);

#endif
