/*
 * uploads.c - resumable uploads with tus 1.0.0 at /api/uploads (core,
 * creation, termination, checksum with sha1, expiration). An upload is a
 * row of `uploads` plus the file DATADIR/uploads/<id>.part, whose size is
 * its offset, so it survives restarts of tutti-api and nginx. PATCH bodies
 * stream to disk through one fixed buffer; the PATCH that completes an
 * upload has library.c validate and store the file and appends the track to
 * the room's playlist. The headers are parsed by tus.c. docs/api.md describes
 * the protocol as curl users see it.
 */
#include "api.h"
#include "clock.h"
#include "library.h"
#include "log.h"
#include "transcode.h"
#include "tus.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define UP_BUF (64 * 1024)		/* the one body buffer of a PATCH */
#define UP_WRITEBACK (8 << 20)		/* start writeback every 8 MiB written */
#define UP_GONE_KEEP_US ((int64_t)24 * 3600 * 1000000)	/* expired: 410 this long */
#define UP_SWEEP_BATCH 64
#define UP_HDR 8192

/* One upload as stored. */
struct up_row {
	char id[ROUTE_KEY_MAX];
	char code[CODE_LEN + 1];
	char filename[TUS_NAME_MAX + 1];
	char metadata[TUS_META_MAX + 1];
	int64_t room_id, user_id, length, expires_us;
	int64_t done_us, track_id, item_id, gone_us;	/* 0: not (yet) */
};

/* One PATCH while its body streams to the part file. */
struct up_patch {
	int fd;
	int64_t start;		/* the offset before this PATCH */
	int64_t got;		/* body bytes written */
	int64_t want;		/* Content-Length, or -1 when not given */
	EVP_MD_CTX *sha1;	/* of this body, when Upload-Checksum is given */
	EVP_MD_CTX *sha256;	/* of the whole file, when this PATCH starts at 0 */
	unsigned char sum[TUS_SHA1_LEN];	/* the sha1 the client announced */
	int over;		/* the body is longer than the upload */
	int err;		/* errno of a failed write, else 0 */
};

/* Appends printf-style text to the header block h (size n). */
static void __attribute__((format(printf, 3, 4)))
up_hdr(char *h, size_t n, const char *fmt, ...)
{
	size_t len = strnlen(h, n);
	va_list ap;

	if (len + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(h + len, n - len, fmt, ap);
	va_end(ap);
}

/* Every tus response carries Tus-Resumable, including the problem responses
 * of api_auth() and friends: CGI header lines may come in any order, so it
 * is written before the Status line. Then requires the request's
 * Tus-Resumable: 1.0.0. Returns 0, or -1 after sending 412. */
static int
up_begin(struct api_req *r)
{
	const char *v = api_param(r, "HTTP_TUS_RESUMABLE");

	FCGX_PutS("Tus-Resumable: " TUS_VERSION "\r\n", r->fcgi->out);
	if (tus_version_ok(v))
		return 0;
	api_problem_h(r, 412, "Precondition failed", "Tus-Version: " TUS_VERSION "\r\n",
	    "send Tus-Resumable: " TUS_VERSION ", the tus version this server speaks");
	return -1;
}

/* Formats server time us as an HTTP date (RFC 7231 IMF-fixdate). */
static void
up_date(int64_t us, char *buf, size_t n)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void
up_part_path(struct api_req *r, const char *id, char *buf, size_t n)
{
	snprintf(buf, n, "%s/uploads/%s.part", r->t->cfg->datadir, id);
}

/* Loads the upload with this id. Returns 0, 1 when there is none, -1 on a
 * database error (logged). */
static int
up_load(sqlite3 *db, const char *id, struct up_row *row)
{
	sqlite3_stmt *st;
	int rc;

	st = api_sql(db, "SELECT u.id, r.code, u.filename, u.metadata, u.room_id, "
	    "u.user_id, u.length, u.expires_us, coalesce(u.done_us, 0), "
	    "coalesce(u.track_id, 0), coalesce(u.item_id, 0), coalesce(u.gone_us, 0) "
	    "FROM uploads u JOIN rooms r ON r.id = u.room_id WHERE u.id = ?", "t", id);
	if (st == NULL || (rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return st != NULL && rc == SQLITE_DONE ? 1 : -1;
	}
	snprintf(row->id, sizeof(row->id), "%s", sqlite3_column_text(st, 0));
	snprintf(row->code, sizeof(row->code), "%s", sqlite3_column_text(st, 1));
	snprintf(row->filename, sizeof(row->filename), "%s", sqlite3_column_text(st, 2));
	snprintf(row->metadata, sizeof(row->metadata), "%s", sqlite3_column_text(st, 3));
	row->room_id = sqlite3_column_int64(st, 4);
	row->user_id = sqlite3_column_int64(st, 5);
	row->length = sqlite3_column_int64(st, 6);
	row->expires_us = sqlite3_column_int64(st, 7);
	row->done_us = sqlite3_column_int64(st, 8);
	row->track_id = sqlite3_column_int64(st, 9);
	row->item_id = sqlite3_column_int64(st, 10);
	row->gone_us = sqlite3_column_int64(st, 11);
	sqlite3_finalize(st);
	return 0;
}

/* The upload of the path and its caller: the bearer token must be valid
 * for the upload's room, and its user the uploader or the room's admin;
 * anyone else learns nothing (404). Returns 0, or -1 after sending 404,
 * 401 or 500. */
static int
up_enter(struct api_req *r, struct up_row *row, struct api_user *u)
{
	int rc = up_load(r->t->db, r->m.key, row);

	if (rc < 0) {
		api_problem(r, 500, "Internal error", "database error");
		return -1;
	}
	if (rc == 0 && api_auth(r, row->code, u) != 0)
		return -1;
	if (rc == 1 || (u->id != row->user_id && strcmp(u->role, "admin") != 0)) {
		api_problem(r, 404, "No such upload", "no upload of yours has this id");
		return -1;
	}
	return 0;
}

/* Removes the part file of upload id unless a PATCH is writing it (locked).
 * Returns 0 when it is gone, -1 when it is in use. */
static int
up_unlink_part(struct api_req *r, const char *id)
{
	char path[4096];
	int fd, rc = 0;

	up_part_path(r, id, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		rc = -1;
	else if (unlink(path) != 0 && errno != ENOENT)
		log_warn("%s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

/* Answers 410 when the upload has expired, removing its partial file.
 * Returns 1 after sending 410, else 0. */
static int
up_expired(struct api_req *r, struct up_row *row)
{
	int64_t now = clock_now_us();

	if (now < row->expires_us)
		return 0;
	if (row->done_us == 0 && row->gone_us == 0 && up_unlink_part(r, row->id) == 0)
		api_sql_run(r->t->db, NULL, "UPDATE uploads SET gone_us = ? WHERE id = ?",
		    "it", now, row->id);
	api_problem(r, 410, "Upload expired", "upload %s expired; start a new one",
	    row->id);
	return 1;
}

/* Removes the partial files of expired uploads and forgets uploads that
 * expired more than a day ago. Runs on every creation; cheap (indexed). */
static void
up_sweep(struct api_req *r, int64_t now)
{
	char ids[UP_SWEEP_BATCH][ROUTE_KEY_MAX];
	sqlite3_stmt *st;
	int i, n = 0;

	st = api_sql(r->t->db, "SELECT id FROM uploads WHERE expires_us <= ? AND "
	    "done_us IS NULL AND gone_us IS NULL LIMIT ?", "ii", now,
	    (int64_t)UP_SWEEP_BATCH);
	while (st != NULL && n < UP_SWEEP_BATCH && sqlite3_step(st) == SQLITE_ROW)
		snprintf(ids[n++], ROUTE_KEY_MAX, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	for (i = 0; i < n; i++)
		if (up_unlink_part(r, ids[i]) == 0)
			api_sql_run(r->t->db, NULL, "UPDATE uploads SET gone_us = ? WHERE "
			    "id = ?", "it", now, ids[i]);
	api_sql_run(r->t->db, NULL, "DELETE FROM uploads WHERE expires_us <= ? AND "
	    "(done_us IS NOT NULL OR gone_us IS NOT NULL)", "i", now - UP_GONE_KEEP_US);
}

/* Writes the headers that describe an upload at offset into h (size n). */
static void
up_state_headers(const struct up_row *row, int64_t offset, char *h, size_t n)
{
	char date[64];

	up_date(row->expires_us, date, sizeof(date));
	up_hdr(h, n, "Upload-Offset: %" PRId64 "\r\nUpload-Length: %" PRId64 "\r\n"
	    "Upload-Expires: %s\r\n", offset, row->length, date);
	if (row->track_id > 0)
		up_hdr(h, n, "Tutti-Track: %" PRId64 "\r\n", row->track_id);
	if (row->item_id > 0)
		up_hdr(h, n, "Tutti-Item: %" PRId64 "\r\n", row->item_id);
}

void
api_uploads_options(struct api_req *r)
{
	char h[512];

	snprintf(h, sizeof(h), "Tus-Resumable: " TUS_VERSION "\r\nTus-Version: "
	    TUS_VERSION "\r\nTus-Extension: creation,termination,checksum,expiration\r\n"
	    "Tus-Max-Size: %" PRId64 "\r\nTus-Checksum-Algorithm: sha1\r\n"
	    "Tutti-Audio: %s\r\n", r->t->cfg->upload_max,
	    r->t->cfg->ffmpeg != NULL ? "any" : "mp3");
	api_reply_empty(r, 204, h);
}

/* Checks the creation request's headers into *length and *m. Returns 0,
 * or -1 after sending 400 or 413. */
static int
up_create_check(struct api_req *r, int64_t *length, struct tus_meta *m)
{
	const char *md = api_param(r, "HTTP_UPLOAD_METADATA");
	const char *cl = api_param(r, "CONTENT_LENGTH");
	int64_t max = r->t->cfg->upload_max;
	char why[128], h[64];

	if (api_param(r, "HTTP_UPLOAD_DEFER_LENGTH") != NULL ||
	    tus_uint(api_param(r, "HTTP_UPLOAD_LENGTH"), length) != 0 || *length < 1) {
		api_problem(r, 400, "Bad request", "send Upload-Length: the file's size in "
		    "bytes, 1 to %" PRId64 " (deferred lengths are not supported)", max);
		return -1;
	}
	if (*length > max) {
		snprintf(h, sizeof(h), "Tus-Max-Size: %" PRId64 "\r\n", max);
		api_problem_h(r, 413, "Upload too large", h, "at most %" PRId64 " bytes",
		    max);
		return -1;
	}
	if (cl != NULL && *cl != '\0' && strcmp(cl, "0") != 0) {
		api_problem(r, 400, "Bad request", "creation-with-upload is not supported: "
		    "create with an empty POST, then send the bytes with PATCH");
		return -1;
	}
	if (md != NULL && strlen(md) > TUS_META_MAX) {
		api_problem(r, 400, "Bad request", "Upload-Metadata is longer than %d "
		    "bytes", TUS_META_MAX);
		return -1;
	}
	if (tus_meta_parse(md ? md : "", m, why, sizeof(why)) != 0) {
		api_problem(r, 400, "Bad request", "%s", why);
		return -1;
	}
	if (!m->has_room) {
		api_problem(r, 400, "Bad request", "Upload-Metadata needs room: the room "
		    "code in base64 (\"room QUJDREU=\" for room ABCDE)");
		return -1;
	}
	return 0;
}

/* Creates the row and the empty part file. Returns 0, or -1 after 500. */
static int
up_create_store(struct api_req *r, const struct api_user *u, int64_t length,
    const struct tus_meta *m, char *id, int64_t now)
{
	const char *md = api_param(r, "HTTP_UPLOAD_METADATA");
	char path[4096];
	int fd;

	if (token_new(id) != 0)
		goto fail;
	if (api_sql_run(r->t->db, NULL, "INSERT INTO uploads (id, room_id, user_id, "
	    "length, filename, metadata, created_us, expires_us) VALUES (?, ?, ?, ?, ?, "
	    "?, ?, ?)", "tiiittii", id, u->room_id, u->id, length, m->filename,
	    md ? md : "", now, now + r->t->cfg->upload_ttl_us) != SQLITE_DONE)
		goto fail;
	snprintf(path, sizeof(path), "%s/uploads", r->t->cfg->datadir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		goto fail_row;
	up_part_path(r, id, path, sizeof(path));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		goto fail_row;
	close(fd);
	return 0;
fail_row:
	log_err("%s: %s", path, strerror(errno));
	api_sql_run(r->t->db, NULL, "DELETE FROM uploads WHERE id = ?", "t", id);
fail:
	api_problem(r, 500, "Internal error", "the upload could not be created");
	return -1;
}

void
api_uploads_create(struct api_req *r)
{
	char id[TOKEN_LEN + 1], h[512], date[64];
	int64_t length, now = clock_now_us();
	struct api_room room;
	struct api_user u;
	struct tus_meta m;

	if (up_begin(r) != 0 || up_create_check(r, &length, &m) != 0 ||
	    api_room_load(r, m.room, &room) != 0 || api_auth(r, room.code, &u) != 0 ||
	    api_need_policy(r, &room, &u, "upload") != 0)
		return;
	up_sweep(r, now);
	if (up_create_store(r, &u, length, &m, id, now) != 0)
		return;
	up_date(now + r->t->cfg->upload_ttl_us, date, sizeof(date));
	snprintf(h, sizeof(h), "Location: /api/uploads/%s\r\nUpload-Expires: %s\r\n",
	    id, date);
	log_info("room %s: upload %.8s... of %" PRId64 " bytes by user %" PRId64,
	    room.code, id, length, u.id);
	api_reply_empty(r, 201, h);
}

/* Returns the upload's offset: its length once done, else the size of its
 * part file; -1 when that file is missing. */
static int64_t
up_offset(struct api_req *r, const struct up_row *row)
{
	char path[4096];
	struct stat sb;

	if (row->done_us > 0)
		return row->length;
	up_part_path(r, row->id, path, sizeof(path));
	return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

void
api_uploads_head(struct api_req *r)
{
	char h[UP_HDR] = "";
	struct up_row row;
	struct api_user u;
	int64_t offset;

	if (up_begin(r) != 0 || up_enter(r, &row, &u) != 0 || up_expired(r, &row))
		return;
	if ((offset = up_offset(r, &row)) < 0) {
		api_problem(r, 404, "No such upload", "its partial file is gone");
		return;
	}
	up_state_headers(&row, offset, h, sizeof(h));
	if (row.metadata[0] != '\0')
		up_hdr(h, sizeof(h), "Upload-Metadata: %s\r\n", row.metadata);
	api_reply_empty(r, 200, h);
}

void
api_uploads_delete(struct api_req *r)
{
	struct up_row row;
	struct api_user u;

	if (up_begin(r) != 0 || up_enter(r, &row, &u) != 0)
		return;
	if (up_unlink_part(r, row.id) != 0) {
		api_problem(r, 423, "Locked", "a PATCH of this upload is in progress");
		return;
	}
	if (api_sql_run(r->t->db, NULL, "DELETE FROM uploads WHERE id = ?", "t",
	    row.id) != SQLITE_DONE) {
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	api_reply_empty(r, 204, NULL);
}

/* Takes one of the gate's places for a PATCH body, or for converting a
 * finished upload (what: said in the 503). Returns 0, or -1 after sending
 * 503 with Retry-After when every place is taken. */
static int
up_gate_enter(struct api_req *r, const char *what)
{
	struct api_gate *g = r->t->cfg->upload_gate;
	int ok;

	if (g == NULL)
		return 0;
	pthread_mutex_lock(&g->lock);
	if ((ok = g->busy < g->max))
		g->busy++;
	pthread_mutex_unlock(&g->lock);
	if (ok)
		return 0;
	api_problem_h(r, 503, "Service unavailable", "Retry-After: 1\r\n", "%d %s already; "
	    "PATCH again in a moment at the same offset", g->max, what);
	return -1;
}

static void
up_gate_leave(struct api_req *r)
{
	struct api_gate *g = r->t->cfg->upload_gate;

	if (g == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	g->busy--;
	pthread_mutex_unlock(&g->lock);
}

/* Adds the complete part file at path to the library (library_add_upload);
 * when libmpg123 refuses it and an ffmpeg is configured, converts it into
 * an MP3 beside it first (transcode.c), whose title defaults to the file's
 * name, holding one of the upload gate's places meanwhile (a conversion
 * holds a request thread for seconds to minutes). Returns the track id, -1
 * with *why and err set as library_add_upload does, or -2 after sending
 * 503 (every place taken: the client PATCHes the end again). */
static int64_t
up_store(struct api_req *r, const struct up_row *row, const char *path, const char *sha256,
    enum library_why *why, char *err, size_t errlen)
{
	char mp3[4096 + 8], reason[256], ff[160];
	enum transcode_result tr;
	int64_t track;

	track = library_add_upload(r->t->db, r->t->cfg->datadir, path, row->filename, sha256,
	    why, err, errlen);
	if (track >= 0 || *why != LIBRARY_NOT_AUDIO || r->t->cfg->ffmpeg == NULL)
		return track;
	snprintf(reason, sizeof(reason), "%s", err);
	snprintf(mp3, sizeof(mp3), "%s.mp3", path);
	if (up_gate_enter(r, "files are being converted or arriving") != 0)
		return -2;
	tr = transcode_mp3(r->t->cfg->ffmpeg, path, mp3, TRANSCODE_TIMEOUT_S, err, errlen);
	up_gate_leave(r);
	if (tr != TRANSCODE_OK) {
		*why = tr == TRANSCODE_NOT_AUDIO ? LIBRARY_NOT_AUDIO : tr == TRANSCODE_NO_SPACE ?
		    LIBRARY_NO_SPACE : LIBRARY_SYSTEM;
		snprintf(ff, sizeof(ff), "%.150s", err);
		if (tr == TRANSCODE_NOT_AUDIO && snprintf(err, errlen, "%s, nor audio ffmpeg "
		    "can read (%s)", reason, ff) >= (int)errlen)
			log_debug("upload %.8s...: the reason was cut", row->id);
		return -1;
	}
	log_info("upload %.8s...: converted to MP3 with %s", row->id, r->t->cfg->ffmpeg);
	track = library_add_upload(r->t->db, r->t->cfg->datadir, mp3, row->filename, NULL,
	    why, err, errlen);
	unlink(mp3);	/* after a success, a second name of the stored file */
	return track;
}

/* Finishes an upload whose part file is complete: library, playlist, row.
 * sha256 is the file's hex digest when known, else NULL. Sends the
 * response. The part file is removed unless storing failed (500), when a
 * PATCH at the final offset with an empty body tries again. */
static void
up_complete(struct api_req *r, struct up_row *row, const char *sha256)
{
	char path[4096], err[256], h[1024] = "";
	struct api_room room;
	int64_t room_id;
	enum library_why why;
	int open_room;

	up_part_path(r, row->id, path, sizeof(path));
	row->track_id = up_store(r, row, path, sha256, &why, err, sizeof(err));
	if (row->track_id == -2)
		return;		/* 503 sent; the part file stays for the next PATCH */
	if (row->track_id < 0 && why == LIBRARY_NOT_AUDIO) {
		unlink(path);
		api_sql_run(r->t->db, NULL, "DELETE FROM uploads WHERE id = ?", "t", row->id);
		api_problem(r, 415, r->t->cfg->ffmpeg ? "Not audio" : "Not MPEG audio",
		    "%s; the upload was discarded", err);
		return;
	}
	if (row->track_id < 0 && why == LIBRARY_NO_SPACE) {
		log_err("upload %.8s...: %s", row->id, err);
		api_problem(r, 507, "Insufficient storage", "the server's disk is full; the "
		    "upload is kept: PATCH again at offset %" PRId64 " with an empty body once "
		    "there is room", row->length);
		return;
	}
	if (row->track_id < 0) {
		log_err("upload %.8s...: %s", row->id, err);
		api_problem(r, 500, "Internal error", "the file could not be stored; PATCH "
		    "again at offset %" PRId64 " with an empty body to retry", row->length);
		return;
	}
	open_room = api_room_find(r->t->db, row->code, &room_id) == 0;
	if ((open_room && api_room_load(r, row->code, &room) != 0) || api_tx_begin(r) != 0)
		return;
	row->done_us = clock_now_us();
	if (open_room && (row->item_id = api_playlist_append(r, &room, row->track_id,
	    row->user_id)) == API_PLAYLIST_FULL)
		row->item_id = 0;	/* in the library; the room's playlist is full */
	if ((open_room && row->item_id < 0) || api_sql_run(r->t->db, NULL, "UPDATE uploads SET "
	    "done_us = ?, track_id = ?, item_id = nullif(?, 0) WHERE id = ?", "iiit",
	    row->done_us, row->track_id, row->item_id, row->id) != SQLITE_DONE) {
		api_tx_rollback(r);
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	if (api_tx_commit(r) != 0)
		return;
	if (open_room && row->item_id > 0)	/* it may follow the current item */
		(void)api_worker_notify(r, row->code, "reload", 0);	/* logs */
	if (unlink(path) != 0)
		log_warn("%s: %s", path, strerror(errno));
	log_info("room %s: upload %.8s... is track %" PRId64, row->code, row->id,
	    row->track_id);
	up_state_headers(row, row->length, h, sizeof(h));
	api_reply_empty(r, 204, h);
}

/* Writes n bytes at the file position. Returns 0 or -1 (errno set). */
static int
up_write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Streams the body to the part file from p->start, never past room bytes.
 * Stops at Content-Length bytes or at the end of the body (a dropped
 * connection ends it early). Returns 0, or -1 when a write failed (p->err)
 * or the body is longer than room (p->over). */
static int
up_stream(struct api_req *r, struct up_patch *p, int64_t room)
{
	unsigned char buf[UP_BUF];
	int64_t lim, flushed = 0;
	int n;

	if (lseek(p->fd, p->start, SEEK_SET) < 0)
		goto fail;
	for (;;) {
		lim = p->want >= 0 ? p->want - p->got : room - p->got + 1;
		if (lim <= 0)
			break;
		n = FCGX_GetStr((char *)buf, lim < UP_BUF ? (int)lim : UP_BUF, r->fcgi->in);
		if (n <= 0)
			break;
		if (p->got + n > room) {
			p->over = 1;
			return -1;
		}
		if (up_write_all(p->fd, buf, (size_t)n) != 0)
			goto fail;
		if ((p->sha1 && EVP_DigestUpdate(p->sha1, buf, (size_t)n) != 1) ||
		    (p->sha256 && EVP_DigestUpdate(p->sha256, buf, (size_t)n) != 1))
			goto fail;
		p->got += n;
		if (p->got - flushed >= UP_WRITEBACK) {
			/* start writeback now, so the final fdatasync finds little */
			sync_file_range(p->fd, p->start + flushed, p->got - flushed,
			    SYNC_FILE_RANGE_WRITE);
			flushed = p->got;
		}
	}
	return 0;
fail:
	p->err = errno ? errno : EIO;
	return -1;
}

/* Parses Upload-Checksum ("sha1 <base64>") into p. Returns 0 (also when
 * absent), or -1 after sending 400. */
static int
up_checksum_parse(struct api_req *r, struct up_patch *p)
{
	const char *h = api_param(r, "HTTP_UPLOAD_CHECKSUM");
	int rc;

	if (h == NULL)
		return 0;
	if ((rc = tus_checksum_parse(h, p->sum)) == -1) {
		api_problem(r, 400, "Bad request", "Upload-Checksum: only sha1 is "
		    "supported (Tus-Checksum-Algorithm)");
		return -1;
	}
	if (rc != 0) {
		api_problem(r, 400, "Bad request", "Upload-Checksum: sha1 and the base64 "
		    "of the 20-byte digest of this request's body");
		return -1;
	}
	if ((p->sha1 = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(p->sha1, EVP_sha1(), NULL) != 1) {
		api_problem(r, 500, "Internal error", "no sha1");
		return -1;
	}
	return 0;
}

/* Checks the PATCH headers into p (start holds Upload-Offset). Returns 0,
 * or -1 after sending 415 or 400. */
static int
up_patch_check(struct api_req *r, struct up_patch *p)
{
	const char *ct = api_param(r, "CONTENT_TYPE");
	const char *cl = api_param(r, "CONTENT_LENGTH");
	size_t n = strlen("application/offset+octet-stream");

	if (ct == NULL || strncasecmp(ct, "application/offset+octet-stream", n) != 0 ||
	    (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ')) {
		api_problem(r, 415, "Unsupported media type", "a PATCH body is "
		    "Content-Type: application/offset+octet-stream");
		return -1;
	}
	if (tus_uint(api_param(r, "HTTP_UPLOAD_OFFSET"), &p->start) != 0) {
		api_problem(r, 400, "Bad request", "send Upload-Offset: the offset this "
		    "body starts at (HEAD gives it)");
		return -1;
	}
	p->want = -1;
	if (cl != NULL && *cl != '\0' && tus_uint(cl, &p->want) != 0) {
		api_problem(r, 400, "Bad request", "invalid Content-Length");
		return -1;
	}
	return up_checksum_parse(r, p);
}


/* Opens and locks the part file. Returns 0 with p->fd and the current
 * offset in *cur, or -1 after sending 423, 404 or 500. */
static int
up_patch_open(struct api_req *r, const struct up_row *row, struct up_patch *p,
    int64_t *cur)
{
	char path[4096];
	struct stat sb;

	up_part_path(r, row->id, path, sizeof(path));
	if ((p->fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			api_problem(r, 404, "No such upload", "its partial file is gone");
		else
			api_problem(r, 500, "Internal error", "the upload cannot be opened");
		return -1;
	}
	if (flock(p->fd, LOCK_EX | LOCK_NB) != 0) {
		api_problem(r, 423, "Locked", "another PATCH of this upload is in progress");
		return -1;
	}
	if (fstat(p->fd, &sb) != 0) {
		api_problem(r, 500, "Internal error", "the upload cannot be read");
		return -1;
	}
	*cur = sb.st_size;
	return 0;
}

/* Undoes this PATCH's bytes after a failure and sends status. */
static void
up_patch_undo(struct api_req *r, struct up_patch *p, int status, const char *title,
    const char *detail)
{
	if (ftruncate(p->fd, p->start) != 0 || fdatasync(p->fd) != 0)
		log_err("upload %s: truncating back failed: %s", r->m.key, strerror(errno));
	api_problem(r, status, title, "%s; the upload is still at offset %" PRId64,
	    detail, p->start);
}

/* Checks what arrived: errors, the checksum, a short body. Returns 0 when
 * the bytes stay, or -1 after undoing them or answering. */
static int
up_patch_verify(struct api_req *r, struct up_patch *p, int streamed)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (streamed != 0 && p->over) {
		up_patch_undo(r, p, 413, "Upload too large", "the body goes past "
		    "Upload-Length");
		return -1;
	}
	if (streamed != 0 || fdatasync(p->fd) != 0) {
		if (p->err == 0)
			p->err = errno;
		if (p->err == ENOSPC || p->err == EDQUOT)
			up_patch_undo(r, p, 507, "Insufficient storage", "the server's disk "
			    "is full");
		else
			up_patch_undo(r, p, 500, "Internal error", strerror(p->err));
		return -1;
	}
	if (p->sha1 != NULL && ((p->want >= 0 && p->got != p->want) ||
	    EVP_DigestFinal_ex(p->sha1, md, &mdlen) != 1 || mdlen != 20 ||
	    memcmp(md, p->sum, 20) != 0)) {
		up_patch_undo(r, p, 460, "Checksum mismatch", "the body's sha1 differs "
		    "from Upload-Checksum");
		return -1;
	}
	if (p->want >= 0 && p->got < p->want) {
		api_problem(r, 400, "Bad request", "the body ended after %" PRId64 " of %"
		    PRId64 " bytes; they are kept: HEAD gives the offset", p->got, p->want);
		return -1;
	}
	return 0;
}

/* Formats the whole file's SHA-256 from p into hex (65 bytes). Returns hex,
 * or NULL when it was not computed. */
static const char *
up_sha256_hex(struct up_patch *p, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (p->sha256 == NULL || EVP_DigestFinal_ex(p->sha256, md, &mdlen) != 1 ||
	    mdlen != 32)
		return NULL;
	for (i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
	return hex;
}

/* The PATCH of an upload already done: only an empty body at its end. */
static void
up_patch_done(struct api_req *r, const struct up_row *row, const struct up_patch *p)
{
	char h[1024] = "";

	if (p->start != row->length) {
		snprintf(h, sizeof(h), "Upload-Offset: %" PRId64 "\r\n", row->length);
		api_problem_h(r, 409, "Conflict", h, "the upload is complete");
		return;
	}
	if (p->want > 0) {
		api_problem(r, 413, "Upload too large", "the upload is complete");
		return;
	}
	up_state_headers(row, row->length, h, sizeof(h));
	api_reply_empty(r, 204, h);
}

void
api_uploads_patch(struct api_req *r)
{
	struct up_patch p = { .fd = -1 };
	char h[1024] = "", hex[65];
	struct up_row row;
	struct api_user u;
	int64_t cur;
	int rc;

	if (up_begin(r) != 0 || up_enter(r, &row, &u) != 0 || up_expired(r, &row) ||
	    up_patch_check(r, &p) != 0)
		goto out;
	if (row.done_us > 0) {
		up_patch_done(r, &row, &p);
		goto out;
	}
	if (up_patch_open(r, &row, &p, &cur) != 0)
		goto out;
	if (p.start != cur) {
		snprintf(h, sizeof(h), "Upload-Offset: %" PRId64 "\r\n", cur);
		api_problem_h(r, 409, "Conflict", h, "Upload-Offset is %" PRId64 " but the "
		    "upload is at %" PRId64 " (HEAD gives it)", p.start, cur);
		goto out;
	}
	if (p.want >= 0 && p.want > row.length - cur) {
		api_problem(r, 413, "Upload too large", "%" PRId64 " bytes at offset %"
		    PRId64 " go past Upload-Length %" PRId64, p.want, cur, row.length);
		goto out;
	}
	if (cur == 0 && ((p.sha256 = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(p.sha256, EVP_sha256(), NULL) != 1)) {
		EVP_MD_CTX_free(p.sha256);
		p.sha256 = NULL;	/* library.c hashes the file instead */
	}
	if (up_gate_enter(r, "uploads are arriving") != 0)
		goto out;
	rc = up_stream(r, &p, row.length - cur);
	up_gate_leave(r);
	if (p.got > 0 && r->t->cfg->metrics != NULL)
		api_metrics_upload_bytes(r->t->cfg->metrics, p.got);
	if (up_patch_verify(r, &p, rc) != 0)
		goto out;
	if (cur + p.got == row.length) {
		up_complete(r, &row, up_sha256_hex(&p, hex));
		goto out;
	}
	up_state_headers(&row, cur + p.got, h, sizeof(h));
	api_reply_empty(r, 204, h);
out:
	if (p.fd >= 0)
		close(p.fd);
	EVP_MD_CTX_free(p.sha1);
	EVP_MD_CTX_free(p.sha256);
}
