/*
 * api.h - shared declarations of tutti-api, the FastCGI process behind
 * nginx's /api/ location. Each worker thread owns one struct api_thread
 * (its SQLite connection and its Redis connection) and serves one request
 * at a time through struct api_req; handlers live one resource per file.
 */
#ifndef TUTTI_API_H
#define TUTTI_API_H

#include <fcgiapp.h>
#include <hiredis.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "token.h"

#define API_MAX_BODY (64 * 1024)

/* Settings shared read-only by every thread. */
struct api_config {
	const char *datadir;	/* holds tutti.db and media/ */
	const char *redis;	/* unix socket path, or HOST:PORT */
	int reply_wait_ms;	/* how long control waits for the worker */
};

/* Per-thread state; created by api_thread_open, freed by api_thread_close. */
struct api_thread {
	const struct api_config *cfg;
	sqlite3 *db;
	redisContext *redis;	/* NULL while disconnected; see api_redis() */
};

/* The authenticated caller, filled by api_auth(). */
struct api_user {
	int64_t id;
	int64_t room_id;
	char name[4 * 32 + 1];
	char role[8];
	char code[CODE_LEN + 1];
	char token_hash[TOKEN_HASH_LEN + 1];
};

/* One request. Strings point into the FastCGI environment and live as long
 * as the request; body is owned by the request and freed after the handler. */
struct api_req {
	FCGX_Request *fcgi;
	struct api_thread *t;
	const char *method;
	const char *path;	/* without the query string */
	const char *query;	/* may be "" */
	json_t *body;		/* parsed JSON object, or NULL before api_read_json() */
	int status;		/* status sent, for the access log */
};

/* --- http.c: requests and responses ------------------------------------ */

/* Parses the request body as one JSON object (duplicate keys rejected).
 * Returns 0 with r->body set, or -1 after sending the problem response
 * (400 malformed, 413 too large, 415 not JSON). */
int api_read_json(struct api_req *r);

/* Sends status with body as application/json; steals the reference to body.
 * extra_headers may be NULL, else CRLF-terminated header lines. */
void api_reply(struct api_req *r, int status, json_t *body, const char *extra_headers);

/* Sends an application/problem+json response {type, title, status, detail}.
 * detail is printf-style and may be NULL. */
void api_problem(struct api_req *r, int status, const char *title, const char *detail, ...)
    __attribute__((format(printf, 4, 5)));

/* --- auth.c ------------------------------------------------------------- */

/* Authenticates the bearer token of the request for the room code. Returns 0
 * and fills *u; or -1 after sending 401 (no, malformed or unknown token, or
 * a token of another room). */
int api_auth(struct api_req *r, const char *code, struct api_user *u);

/* Writes the session hash the relays read (RKEY_SESSION + token hash).
 * Returns 0, or -1 when Redis is unreachable (logged). */
int api_session_store(struct api_thread *t, const struct api_user *u);

/* --- redis.c ------------------------------------------------------------ */

/* Returns the thread's Redis connection, connecting first if needed; NULL
 * when Redis is unreachable (logged). The context stays owned by t. */
redisContext *api_redis(struct api_thread *t);

/* Runs one command (printf-style, hiredis format). Returns the reply, which
 * the caller frees with freeReplyObject(), or NULL on a connection error, in
 * which case the connection is dropped so the next call reconnects. */
redisReply *api_redis_cmd(struct api_thread *t, const char *fmt, ...);

/* Publishes a room event (JSON text) on RKEY_EVENTS + code. Returns 0 or -1. */
int api_publish(struct api_thread *t, const char *code, json_t *event);

/* --- sql.c: prepared statements ------------------------------------------ */

/* Prepares sql and binds one argument per character of types: 'i' int64_t,
 * 't' const char * (NULL binds NULL). Returns the statement, which the caller
 * finalizes, or NULL (logged). */
sqlite3_stmt *api_sql(sqlite3 *db, const char *sql, const char *types, ...);

/* Prepares, binds (as api_sql), steps once and finalizes. Returns the result
 * of the step (SQLITE_DONE, SQLITE_ROW, SQLITE_CONSTRAINT, ...) or SQLITE_ERROR;
 * with out_id, stores column 0 of a returned row there. */
int api_sql_run(sqlite3 *db, int64_t *out_id, const char *sql, const char *types, ...);

/* Finds the open room with this code. Returns 0 and sets *room_id, 1 when
 * there is none (or the code is malformed), -1 on a database error. */
int api_room_find(sqlite3 *db, const char *code, int64_t *room_id);

/* --- thread.c ------------------------------------------------------------ */

/* Opens the thread's database. Returns 0, or -1 (logged). */
int api_thread_open(struct api_thread *t, const struct api_config *cfg);
void api_thread_close(struct api_thread *t);

/* Dispatches one request to its handler and sends exactly one response. */
void api_route(struct api_req *r);

/* --- handlers, one file per resource ------------------------------------ */
void api_health(struct api_req *r);
void api_rooms_create(struct api_req *r);
void api_rooms_join(struct api_req *r, const char *code);
void api_rooms_get(struct api_req *r, const char *code);
void api_control(struct api_req *r, const char *code);

/* --- library.c: the track library ----------------------------------------- */

/* Adds the MP3 file at path to the library: hashes it (SHA-256), validates
 * and measures it with libmpg123 (exact samples without encoder delay and
 * padding, rate, channels, bitrate, ID3 title/artist/album; the title falls
 * back to the file name), copies it to media/<h[0:2]>/<h>.mp3 under datadir
 * and inserts the track row. The same content added twice is one track.
 * Returns the track id (> 0), or -1 with a message in err (errlen bytes). */
int64_t library_add_file(sqlite3 *db, const char *datadir, const char *path,
    char *err, size_t errlen);

#endif
