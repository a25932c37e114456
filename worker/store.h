/*
 * store.h - the worker's SQLite access: rooms, playlists (live items only:
 * removed_us IS NULL), playback anchors, and what the sweep changes (admin
 * promotion, system chat lines, idle close) and presence (users.online
 * and the room's marks); sql/001_init.sql, 002_rest.sql, 005_presence.sql,
 * 006_modes.sql (a room's repeat and shuffle settings, loaded with the
 * room), 008_worker_fence.sql (the active worker's fencing token). One connection with prepared statements, used only on the event
 * loop thread; every change runs inside store_begin()/store_commit().
 */
#ifndef TUTTI_STORE_H
#define TUTTI_STORE_H

#include "anchor.h"
#include "entry.h"
#include "roles.h"
#include "sched.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_CODE_MAX 16
#define STORE_NAME_MAX 160	/* a display name: 32 characters of UTF-8, NUL */
#define STORE_HASH_MAX 65	/* sha256 hex of a token, NUL */

struct store;

struct store_room {
	int64_t id;
	int64_t seq;				/* seq of the room's last event */
	char code[STORE_CODE_MAX];
	char last_cmd[ENTRY_ID_MAX];		/* last command stream id applied */
	int64_t last_cmd_seq;			/* seq of its playback event, -1: none */
	int closed;
	enum sched_repeat repeat;		/* rooms.repeat_mode (006_modes.sql) */
	int shuffle;				/* rooms.shuffle */
	uint64_t seed;				/* rooms.shuffle_seed */
};

/* A present user, as the sweep promotes one. */
struct store_user {
	int64_t id;
	int64_t joined_us;
	int admin;				/* role is 'admin' */
	int online;				/* users.online */
	char name[STORE_NAME_MAX];
	char token_hash[STORE_HASH_MAX];
};

/* A user of a room, as a presence entry finds them. */
struct store_presence {
	int64_t id;
	int admin;				/* role is 'admin' */
	int online;				/* users.online */
	int present;				/* left_us IS NULL */
	char name[STORE_NAME_MAX];
};

/* What the sweep looks for. */
enum store_due_kind {
	STORE_DUE_ADMIN,	/* admin_lost_us <= due: promote someone */
	STORE_DUE_IDLE,		/* empty_since_us <= due: close the room */
	STORE_DUE_PURGE		/* closed_us <= due: delete the room's rows */
};

/* Where the sweep's next query of one kind resumes: after (at_us, id). */
struct store_cursor {
	int64_t at_us;
	int64_t id;
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

/* Returns the store's connection, for settings such as ckpt_init(); it
 * stays owned by the store. */
sqlite3 *store_db(struct store *st);

/* Closes the database and frees st (NULL is fine). */
void store_close(struct store *st);

/* BEGIN IMMEDIATE (write intent) or BEGIN (a consistent read). Returns 0 or
 * -1 (logged). A transaction begun must end in store_commit/store_rollback.
 * Once a fence is taken (store_fence_take), a write transaction first
 * checks that it still holds; when another worker's epoch is there, it
 * returns -1 with no transaction open, and so does every later write:
 * store_fenced() then says so. */
int store_begin(struct store *st, int write);

/* Inside a write transaction: deletes the room room_id when it was closed
 * at due_us or earlier, with everything that belongs to it (its playback,
 * requests, uploads, chat, playlist items and users; the library's tracks
 * stay). Writes its code into code (code_size bytes) and the number of
 * rows deleted into *rows. Returns 0, 1 when the room is not such a room
 * (open again cannot happen, gone already can), -1 on a database error
 * (logged). */
int store_purge_room(struct store *st, int64_t room_id, int64_t due_us, char *code,
    size_t code_size, int64_t *rows);

/* Takes the fencing token (sql/008_worker_fence.sql): bumps the epoch in
 * its own write transaction, naming holder (copied by SQLite) and now_us,
 * and keeps it as ours; clears a fenced state. Call it on becoming the
 * active worker, before reading any room. Returns 0 or -1 (logged). */
int store_fence_take(struct store *st, const char *holder, int64_t now_us);

/* Returns 1 when a write found the fence held by another worker's epoch
 * (this worker must stand by until it takes the fence again), else 0. */
int store_fenced(const struct store *st);

/* Returns the epoch of the fencing token this worker last took
 * (store_fence_take), or 0 when it never took one. */
int64_t store_fence_epoch(const struct store *st);

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

/* The item that takes the place of item_id, which left the playlist: the
 * first item still in it after item_id's position, into *next (0: none
 * after it). Returns 0 or -1 (logged). */
int store_successor(struct store *st, int64_t item_id, int64_t *next);

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

/* One query, outside any transaction: the ids of up to max open rooms due
 * for kind (its time column set and <= due_us), in (time, id) order after
 * *cur, into ids; *n is how many (max >= 1). Moves *cur past them, or back
 * to the start when fewer than max came back, so that successive calls go
 * round every due room even when some stay due. Returns 0, or -1 (logged;
 * *cur unchanged). */
int store_due(struct store *st, enum store_due_kind kind, int64_t due_us,
    struct store_cursor *cur, int64_t *ids, size_t max, size_t *n);

/* Inside a write transaction: loads the room when it is open and its
 * admin_lost_us is still set and <= due_us. Returns 0 with *r filled, 1
 * when it is not (any more), -1 on a database error. */
int store_room_admin_due(struct store *st, int64_t room_id, int64_t due_us,
    struct store_room *r);

/* Loads the present user (left_us IS NULL) of the room to be its admin: a
 * present admin who is online if there is one (nothing to promote); else
 * the member with the smallest (joined_us, id) among those online, else
 * among all present members; else a present offline admin (u->admin set,
 * u->online 0: nobody to promote). Returns 0 with *u filled, 1 when nobody
 * is present, -1 on error. */
int store_eldest(struct store *st, int64_t room_id, struct store_user *u);

/* Makes every present admin of the room but keep_id a member (an admin
 * who went offline, before keep_id is promoted). Returns 1 with the first
 * of them in *prev, 0 when there was none, -1 on error. */
int store_demote(struct store *st, int64_t room_id, int64_t keep_id, struct store_user *prev);

/* Loads user_id of the room. Returns 0 with *u filled (u->present says
 * whether they are still in the room), 1 when the room has no such user,
 * -1 on error. */
int store_user_presence(struct store *st, int64_t room_id, int64_t user_id,
    struct store_presence *u);

/* Sets users.online of user_id (0 or 1). Returns 0 or -1. */
int store_set_online(struct store *st, int64_t user_id, int online);

/* Counts the room's present users (roles.h). Returns 0 or -1. */
int store_tally(struct store *st, int64_t room_id, struct roles_tally *t);

/* Reads the room's admin_lost_us and empty_since_us. Returns 0 or -1
 * (also for no such room). */
int store_marks(struct store *st, int64_t room_id, struct roles_marks *m);

/* Writes both marks of the room. Returns 0 or -1. */
int store_set_marks(struct store *st, int64_t room_id, const struct roles_marks *m);

/* Makes user_id (unless 0) an admin and clears the room's admin_lost_us.
 * Returns 0 or -1. */
int store_make_admin(struct store *st, int64_t room_id, int64_t user_id);

/* Inserts a system chat line at at_us; stores its id in *id. Returns 0 or
 * -1. */
int store_chat_system(struct store *st, int64_t room_id, const char *text, int64_t at_us,
    int64_t *id);

/* Inside a write transaction: closes the room at now_us when it is open
 * and its empty_since_us is still set and <= due_us, taking its next seq,
 * and marks any user still present as left (reason 'closed'). Returns 0
 * with r's id, code, seq and closed set; 1 when the room is not due (any
 * more); -1 on a database error. */
int store_close_idle(struct store *st, int64_t room_id, int64_t due_us, int64_t now_us,
    struct store_room *r);

#endif
