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
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "origin.h"
#include "route.h"
#include "token.h"

#define API_MAX_BODY (64 * 1024)
#define API_NAME_BYTES (4 * 32 + 1)	/* a display name, UTF-8, with NUL */
#define API_ROOM_NAME_CHARS 64
#define API_PLAYLIST_MAX 1000	/* items a playlist holds: every playlist event
				   carries them all (~330 bytes each) */
#define API_ROOM_USERS_MAX 1000	/* people present in one room */
#define API_PLAYLIST_FULL (-2)	/* api_playlist_append: API_PLAYLIST_MAX reached */
#define API_FFMPEG_DEFAULT "/usr/bin/ffmpeg"	/* tutti-api -F */

struct api_metrics;

/* Counts the PATCH bodies streaming at once (uploads.c): a tus body holds a
 * request thread while it arrives, so at most max of them may, and slow
 * uploads never take every thread. Shared by the threads; main.c owns it. */
struct api_gate {
	pthread_mutex_t lock;
	int busy, max;
};

/* Settings shared read-only by every thread. */
struct api_config {
	const char *datadir;	/* holds tutti.db, media/ and uploads/ */
	const char *redis;	/* unix socket path, or HOST:PORT */
	const char *redis_user;	/* TUTTI_REDIS_USER (an ACL user), or NULL: default */
	const char *redis_password;	/* TUTTI_REDIS_PASSWORD, or NULL: no AUTH */
	int reply_wait_ms;	/* how long control waits for the worker */
	int64_t upload_max;	/* largest accepted upload, bytes */
	int64_t upload_ttl_us;	/* an unfinished upload expires this long after its creation */
	const char *ffmpeg;	/* converts uploads that are not MP3 (transcode.c); NULL: none */
	int chat_burst;		/* chat: at most chat_burst messages ... */
	int chat_window_s;	/* ... per user in any chat_window_s seconds */
	struct api_metrics *metrics;	/* shared, thread-safe; see metrics.c */
	struct api_gate *upload_gate;	/* shared; NULL: no limit */
	const char *origins[ORIGIN_LIST_MAX];	/* -O: browser origins answered with CORS */
	size_t norigins;
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
	char name[API_NAME_BYTES];
	char role[8];
	char code[CODE_LEN + 1];
	char token_hash[TOKEN_HASH_LEN + 1];
};

/* An open room, as loaded by api_room_load(). */
struct api_room {
	int64_t id;
	char code[CODE_LEN + 1];
	char name[4 * API_ROOM_NAME_CHARS + 1];
	int is_public;
	char policy[16];		/* "admin" or "everyone" */
	int64_t playlist_version;
	int64_t created_us;
};

/* One request. Strings point into the FastCGI environment and live as long
 * as the request; body and events are owned by the request and released
 * after the handler. */
struct api_req {
	FCGX_Request *fcgi;
	struct api_thread *t;
	const char *method;
	const char *path;	/* without the query string */
	const char *query;	/* may be "" */
	struct route_match m;	/* filled by api_route() */
	json_t *body;		/* parsed JSON object, or NULL before api_read_json() */
	json_t *events;		/* room events queued by api_emit(), sent on commit */
	int status;		/* status sent, for the access log and metrics */
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

/* The same with extra header lines (CRLF-terminated, or NULL). */
void api_problem_h(struct api_req *r, int status, const char *title,
    const char *extra_headers, const char *detail, ...)
    __attribute__((format(printf, 5, 6)));

/* Sends a response without a body (204, or a tus reply) with extra header
 * lines (CRLF-terminated, or NULL). */
void api_reply_empty(struct api_req *r, int status, const char *extra_headers);

/* api_read_json(), then refuses (400) any top-level key not in the
 * NULL-terminated list of allowed keys. Returns 0, or -1 after the problem. */
int api_read_json_only(struct api_req *r, ...) __attribute__((sentinel));

/* Returns the FastCGI parameter (e.g. "HTTP_IF_MATCH"), or NULL. */
const char *api_param(struct api_req *r, const char *name);

/* Copies the URL-decoded value of query parameter name into buf (size n).
 * Returns 1 when present, 0 when absent, -1 after sending 400 (bad escape,
 * NUL byte, longer than n - 1, or given twice). */
int api_query(struct api_req *r, const char *name, char *buf, size_t n);

/* Reads an integer query parameter into *v, def when absent. Returns 0, or
 * -1 after sending 400 when it is not an integer within [min, max]. */
int api_query_int(struct api_req *r, const char *name, int64_t def, int64_t min,
    int64_t max, int64_t *v);

/* --- auth.c ------------------------------------------------------------- */

/* Authenticates the bearer token of the request for the room code. Returns 0
 * and fills *u; or -1 after sending 401 (no, malformed or unknown token, or
 * a token of another room). */
int api_auth(struct api_req *r, const char *code, struct api_user *u);

/* Queues (api_redis_append) the write of the session hash the relays read
 * (RKEY_SESSION + token hash: room, user_id, name, role). Returns 0, or -1
 * when Redis is unreachable. */
int api_session_append(struct api_thread *t, const struct api_user *u);

/* Writes the session hash now. Returns 0, or -1 when Redis is unreachable
 * or refused it (logged). */
int api_session_store(struct api_thread *t, const struct api_user *u);

/* --- redis.c ------------------------------------------------------------ */

/* Returns the thread's Redis connection, connecting (and authenticating
 * with AUTH when cfg->redis_password is set) first if needed; NULL when
 * Redis is unreachable or refused the password (logged, the password
 * never). The context stays owned by t. */
redisContext *api_redis(struct api_thread *t);

/* Runs one command (printf-style, hiredis format). Returns the reply, which
 * the caller frees with freeReplyObject(), or NULL on a connection error, in
 * which case the connection is dropped so the next call reconnects. */
redisReply *api_redis_cmd(struct api_thread *t, const char *fmt, ...);

/* Queues one command (hiredis format) without waiting for its reply; a
 * later api_redis_drain() sends the queue in one write and reads the
 * replies. Returns 0, or -1 when Redis is unreachable. */
int api_redis_append(struct api_thread *t, const char *fmt, ...);

/* Reads and discards the replies of n queued commands (errors logged).
 * Returns 0, or -1 when a reply was an error or the connection broke (then
 * dropped, so the next call reconnects). */
int api_redis_drain(struct api_thread *t, int n);

/* Publishes a room event (JSON text) on RKEY_EVENTS + code. Returns 0 or -1. */
int api_publish(struct api_thread *t, const char *code, json_t *event);

/* --- sql.c: prepared statements ------------------------------------------ */

/* Prepares sql (or reuses the connection's idle statement of the same text)
 * and binds one argument per character of types: 'i' int64_t, 't' const
 * char * (NULL binds NULL). Returns the statement, which the caller hands
 * back with api_sql_done() (sqlite3_finalize() is also correct, only
 * slower), or NULL (logged). */
sqlite3_stmt *api_sql(sqlite3 *db, const char *sql, const char *types, ...);

/* Resets st and clears its bindings, keeping it for the next api_sql() of
 * the same text. NULL is fine. */
void api_sql_done(sqlite3_stmt *st);

/* Finalizes every statement of db, before sqlite3_close(). */
void api_sql_close(sqlite3 *db);

/* Prepares, binds (as api_sql), steps once and finalizes. Returns the result
 * of the step (SQLITE_DONE, SQLITE_ROW, SQLITE_CONSTRAINT, ...) or SQLITE_ERROR;
 * with out_id, stores column 0 of a returned row there. */
int api_sql_run(sqlite3 *db, int64_t *out_id, const char *sql, const char *types, ...);

/* Finds the open room with this code. Returns 0 and sets *room_id, 1 when
 * there is none (or the code is malformed), -1 on a database error. */
int api_room_find(sqlite3 *db, const char *code, int64_t *room_id);

/* --- access.c: rooms, membership, roles ---------------------------------- */

/* Loads the open room with this code into *room. Returns 0, or -1 after
 * sending 404 (no such open room) or 500. */
int api_room_load(struct api_req *r, const char *code, struct api_room *room);

/* The room of the path ({code}) and its authenticated member: api_room_load
 * then api_auth. Returns 0, or -1 after sending 404, 401 or 500. */
int api_enter(struct api_req *r, struct api_room *room, struct api_user *u);

/* Returns 0 when u is the room's admin, else -1 after sending 403. */
int api_need_admin(struct api_req *r, const struct api_user *u, const char *what);

/* Returns 0 when the room's policy lets u do what (a phrase for the error,
 * "control playback"), else -1 after sending 403. */
int api_need_policy(struct api_req *r, const struct api_room *room,
    const struct api_user *u, const char *what);

/* Returns a new JSON object {id, name, role, joined_us} of the user row in
 * the current row of st, columns from col: id, name, role, joined_us. */
json_t *api_user_row_json(sqlite3_stmt *st, int col);

/* Returns a new array of the room's present users in the order they joined,
 * each {id, name, role, joined_us, online} (online: a WebSocket is open on
 * some relay), and sets *listeners to how many are online; NULL on a
 * database error. users.c */
json_t *api_users_json(sqlite3 *db, int64_t room_id, int64_t *listeners);

/* --- event.c: transactions and room events ------------------------------- */

/* BEGIN IMMEDIATE. Returns 0, or -1 after sending 503 (database busy). */
int api_tx_begin(struct api_req *r);

/* Queues the room event {type, room, seq, ...fields} with the room's next
 * seq (taken inside the open transaction). Steals fields (may be NULL).
 * Returns the seq, or -1 on a database error (logged). */
int64_t api_emit(struct api_req *r, const struct api_room *room, const char *type,
    json_t *fields);

/* Inserts a system chat line (printf-style text) and queues its "chat"
 * event. Returns 0 or -1 (logged). Inside the open transaction. */
int api_chat_system(struct api_req *r, const struct api_room *room, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* COMMIT, then publishes the queued events in seq order. Returns 0, or -1
 * after rolling back and sending 500 (nothing is published). */
int api_tx_commit(struct api_req *r);

/* ROLLBACK and drop the queued events. */
void api_tx_rollback(struct api_req *r);

/* Bumps the playlist version inside the open transaction and queues the
 * "playlist" event carrying the whole playlist. Returns the new version, or
 * -1 (logged). */
int64_t api_playlist_changed(struct api_req *r, struct api_room *room);

/* Appends the library track to the room's playlist inside the open
 * transaction (added_by 0: nobody), bumps the version and queues the
 * playlist event. The worker needs no notice: an item added at the end is
 * read when the current item ends. Returns the new item id, 0 when no such
 * track exists, API_PLAYLIST_FULL when the playlist holds API_PLAYLIST_MAX
 * items already (nothing changed), -1 on a database error (logged). */
int64_t api_playlist_append(struct api_req *r, struct api_room *room, int64_t track_id,
    int64_t added_by);

/* Answers 409 "Playlist full" (after an API_PLAYLIST_FULL). */
void api_playlist_full(struct api_req *r);

/* Returns the room's playlist (items not removed, in order) as a new JSON
 * array of {id, position, added_by, track}, or NULL on a database error. */
json_t *api_playlist_json(sqlite3 *db, int64_t room_id);

/* Returns the public description of the track whose columns start at col in
 * the current row of st: id, sha256, title, artist, album, duration_us,
 * sample_rate, channels, bitrate (see API_TRACK_COLS). */
json_t *api_track_json(sqlite3_stmt *st, int col);
#define API_TRACK_COLS "t.id, t.sha256, t.title, t.artist, t.album, t.duration_us, " \
	"t.sample_rate, t.channels, t.bitrate"

/* Queues a command for the worker without waiting for its answer (e.g.
 * "reload" after a playlist change, with item_id 0 for none). Returns 0,
 * or -1 when Redis refused it (logged). */
int api_worker_notify(struct api_req *r, const char *code, const char *action,
    int64_t item_id);

/* --- metrics.c ----------------------------------------------------------- */

/* Allocates the shared counters. Returns NULL on OOM. */
struct api_metrics *api_metrics_new(void);
void api_metrics_free(struct api_metrics *m);

/* Counts one finished request of route with its status and duration. */
void api_metrics_count(struct api_metrics *m, enum api_route_id route, int status,
    int64_t duration_us);

/* Adds n bytes to the upload byte counter. */
void api_metrics_upload_bytes(struct api_metrics *m, int64_t n);

/* --- thread.c ------------------------------------------------------------ */

/* Opens the thread's database. Returns 0, or -1 (logged). */
int api_thread_open(struct api_thread *t, const struct api_config *cfg);
void api_thread_close(struct api_thread *t);

/* Dispatches one request to its handler and sends exactly one response
 * (a CORS preflight is answered by api_cors). route.c */
void api_route(struct api_req *r);

/* Writes the methods route has handlers for into buf (n bytes), as an
 * Allow header value ("GET, POST"). Returns how many there are (0 for
 * ROUTE_NONE; buf is then ""). route.c */
int api_route_methods(enum api_route_id route, char *buf, size_t n);

/* --- cors.c: cross-origin requests from the -O origins --------------------- */

/* Called by api_route before the handler, with r->m parsed. A preflight
 * (OPTIONS with Origin and Access-Control-Request-Method) is answered here:
 * 204 with the Access-Control-Allow-* headers when its Origin is on the -O
 * list (on the tus paths through api_uploads_options, so the tus headers
 * come too), else 403. Any other request whose Origin is on the list gets
 * Access-Control-Allow-Origin, Vary and Access-Control-Expose-Headers
 * written before the handler's own header lines; others get nothing.
 * Returns 1 when the request has been answered, else 0. */
int api_cors(struct api_req *r);

/* --- handlers, one file per resource; each sends exactly one response ---- */
void api_health(struct api_req *r);		/* health.c */
void api_ready(struct api_req *r);
void api_metrics(struct api_req *r);		/* metrics.c */
void api_rooms_list(struct api_req *r);		/* rooms.c */
void api_rooms_create(struct api_req *r);
void api_rooms_get(struct api_req *r);
void api_rooms_update(struct api_req *r);
void api_rooms_close(struct api_req *r);
void api_rooms_join(struct api_req *r);
void api_users_leave(struct api_req *r);	/* users.c */
void api_users_admin(struct api_req *r);
void api_users_list(struct api_req *r);
void api_users_remove(struct api_req *r);
void api_control(struct api_req *r);		/* control.c */
void api_playlist_get(struct api_req *r);	/* playlist.c */
void api_playlist_add(struct api_req *r);
void api_playlist_order(struct api_req *r);
void api_playlist_remove(struct api_req *r);
void api_requests_list(struct api_req *r);	/* requests.c */
void api_requests_create(struct api_req *r);
void api_requests_resolve(struct api_req *r);
void api_chat_list(struct api_req *r);		/* chat.c */
void api_chat_post(struct api_req *r);
void api_tracks_list(struct api_req *r);	/* tracks.c */
void api_tracks_get(struct api_req *r);
void api_uploads_options(struct api_req *r);	/* uploads.c */
void api_uploads_create(struct api_req *r);
void api_uploads_head(struct api_req *r);
void api_uploads_patch(struct api_req *r);
void api_uploads_delete(struct api_req *r);

/* Returns the chat's last n messages (oldest first) as a new JSON array,
 * or NULL on a database error. chat.c */
json_t *api_chat_recent(sqlite3 *db, int64_t room_id, int n);
json_t *api_requests_pending(sqlite3 *db, int64_t room_id);	/* requests.c */

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
