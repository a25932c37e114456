/*
 * fake_api.c - tutti-api's request path without FastCGI, for the fuzz
 * harnesses fuzz_json and fuzz_tus (see fake_api.h). FastCGI streams are
 * plain memory here: the request body is a heap copy of exactly its size
 * (so ASan sees a read past it) and the response grows in a buffer. The
 * fixed state is made with the real handlers and restored with SQLite's
 * backup API before every call.
 */
#include "fake_api.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "db.h"
#include "log.h"

#define FAKE_OUT_START 4096
#define FAKE_HALF_SENT 100

/* The directory removed at exit (one server per process). */
static char fake_dir[256];

/* --- memory streams ------------------------------------------------------ */

static void
fake_fill(FCGX_Stream *s)
{
	s->isClosed = 1;	/* the body has been read to its end */
}

static void
fake_empty(FCGX_Stream *s, int doClose)
{
	unsigned char *base = s->data, *nb;
	size_t used = (size_t)(s->wrNext - base), cap = (size_t)(s->stop - base);

	(void)doClose;
	nb = realloc(base, cap * 2);
	assert(nb != NULL);
	s->data = nb;
	s->wrNext = nb + used;
	s->stop = nb + cap * 2;
	s->rdNext = s->stop;
}

/* --- files --------------------------------------------------------------- */

static int
fake_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static void
fake_rm_tree(const char *path)
{
	nftw(path, fake_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
fake_cleanup(void)
{
	if (fake_dir[0] != '\0')
		fake_rm_tree(fake_dir);
}

static void
fake_write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert(fd >= 0);
	assert(n == 0 || write(fd, p, n) == (ssize_t)n);
	close(fd);
}

static void
fake_part_path(const struct fake_api *fa, const char *id, char *buf, size_t n)
{
	snprintf(buf, n, "%s/uploads/%s.part", fa->dir, id);
}

/* Puts back the two part files and removes every other file a call made. */
static void
fake_files_reset(struct fake_api *fa)
{
	char path[PATH_MAX], keep1[PATH_MAX], keep2[PATH_MAX], half[FAKE_HALF_SENT];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/media", fa->dir);
	fake_rm_tree(path);
	fake_part_path(fa, fa->up_small, keep1, sizeof(keep1));
	fake_part_path(fa, fa->up_half, keep2, sizeof(keep2));
	snprintf(path, sizeof(path), "%s/uploads", fa->dir);
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/uploads/%s", fa->dir, de->d_name);
			if (strcmp(path, keep1) != 0 && strcmp(path, keep2) != 0)
				unlink(path);
		}
		closedir(d);
	}
	if (fa->up_half[0] != '\0') {
		memset(half, 'x', sizeof(half));
		fake_write_file(keep1, "", 0);
		fake_write_file(keep2, half, sizeof(half));
	}
}

/* --- the database -------------------------------------------------------- */

static uint64_t
fake_mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0)
		h = (h ^ *b++) * 1099511628211ULL;
	return h;
}

uint64_t
fake_api_hash(sqlite3 *db)
{
	sqlite3_stmt *tables, *rows;
	uint64_t h = 14695981039346656037ULL;
	char *sql;
	int i, n, type;

	assert(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = "
	    "'table' ORDER BY name", -1, &tables, NULL) == SQLITE_OK);
	while (sqlite3_step(tables) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(tables, 0);

		h = fake_mix(h, name, strlen(name) + 1);
		sql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY rowid", name);
		assert(sql != NULL && sqlite3_prepare_v2(db, sql, -1, &rows, NULL) == SQLITE_OK);
		sqlite3_free(sql);
		while (sqlite3_step(rows) == SQLITE_ROW) {
			n = sqlite3_column_count(rows);
			for (i = 0; i < n; i++) {
				type = sqlite3_column_type(rows, i);
				h = fake_mix(h, &type, sizeof(type));
				if (type != SQLITE_NULL)
					h = fake_mix(h, sqlite3_column_blob(rows, i),
					    (size_t)sqlite3_column_bytes(rows, i));
			}
		}
		sqlite3_finalize(rows);
	}
	sqlite3_finalize(tables);
	return h;
}

static void
fake_copy_db(sqlite3 *to, sqlite3 *from)
{
	sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");

	assert(b != NULL);
	assert(sqlite3_backup_step(b, -1) == SQLITE_DONE);
	assert(sqlite3_backup_finish(b) == SQLITE_OK);
}

void
fake_api_reset(struct fake_api *fa)
{
	if (!sqlite3_get_autocommit(fa->t.db))
		db_exec(fa->t.db, "ROLLBACK");
	if (fa->snap != NULL)
		fake_copy_db(fa->t.db, fa->snap);
	fake_files_reset(fa);
}

/* --- calls --------------------------------------------------------------- */

/* Reads the response's Status lines, Content-Type and body. */
static void
fake_parse(struct fake_resp *resp)
{
	const char *p = resp->out, *end, *line, *eol;
	size_t n;

	resp->nstatus = 0;
	for (p = resp->out; (p = strstr(p, "Status: ")) != NULL; p++)
		if (p == resp->out || p[-1] == '\n')
			resp->nstatus++;
	end = strstr(resp->out, "\r\n\r\n");
	if (end == NULL)
		return;
	resp->body = end + 4;
	resp->body_len = resp->len - (size_t)(resp->body - resp->out);
	for (line = resp->out; line < end; line = eol + 2) {
		eol = strstr(line, "\r\n");
		if (strncmp(line, "Status: ", 8) == 0)
			resp->status = atoi(line + 8);
		else if (strncasecmp(line, "Content-Type: ", 14) == 0) {
			n = (size_t)(eol - line - 14);
			if (n >= sizeof(resp->ctype))
				n = sizeof(resp->ctype) - 1;
			memcpy(resp->ctype, line + 14, n);
			resp->ctype[n] = '\0';
		}
	}
}

void
fake_api_call(struct fake_api *fa, const struct fake_call *c, struct fake_resp *resp)
{
	char *env[FAKE_ENV_MAX + 8], path[2048], method[64], uri[2100], qs[2100], cl[48];
	FCGX_Stream in = { 0 }, out = { 0 };
	FCGX_Request f = { 0 };
	struct api_req r;
	uint8_t *body = malloc(c->body_len ? c->body_len : 1);
	const char *q = strchr(c->path, '?');
	size_t i, k = 0, n;

	assert(body != NULL);
	fake_api_reset(fa);
	memset(resp, 0, sizeof(*resp));
	if (c->body_len > 0)
		memcpy(body, c->body, c->body_len);
	in.rdNext = in.stopUnget = body;
	in.stop = in.wrNext = body + c->body_len;
	in.isReader = 1;
	in.fillBuffProc = fake_fill;
	out.data = malloc(FAKE_OUT_START);
	assert(out.data != NULL);
	out.wrNext = out.data;
	out.stop = out.rdNext = (unsigned char *)out.data + FAKE_OUT_START;
	out.emptyBuffProc = fake_empty;

	/* The caller's parameters come first: FCGX_GetParam takes the first. */
	for (i = 0; i < FAKE_ENV_MAX && c->env[i] != NULL; i++)
		env[k++] = (char *)c->env[i];
	snprintf(method, sizeof(method), "REQUEST_METHOD=%s", c->method);
	snprintf(uri, sizeof(uri), "DOCUMENT_URI=%.*s", (int)(q ? q - c->path :
	    (long)strlen(c->path)), c->path);
	snprintf(qs, sizeof(qs), "QUERY_STRING=%s", q ? q + 1 : "");
	snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", c->body_len);
	env[k++] = method;
	env[k++] = uri;
	env[k++] = qs;
	env[k++] = cl;
	env[k] = NULL;
	f.in = &in;
	f.out = &out;
	f.envp = env;

	/* as main.c's api_serve_one */
	memset(&r, 0, sizeof(r));
	r.fcgi = &f;
	r.t = &fa->t;
	r.method = c->method;
	n = strlen(uri + 13);
	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, uri + 13, n);
	path[n] = '\0';
	r.path = path;
	r.query = FCGX_GetParam("QUERY_STRING", env);
	if (r.query == NULL)
		r.query = "";
	api_route(&r);
	resp->left_events = r.events != NULL;
	json_decref(r.body);
	json_decref(r.events);
	resp->left_tx = !sqlite3_get_autocommit(fa->t.db);
	if (resp->left_tx)
		db_exec(fa->t.db, "ROLLBACK");
	resp->hash_after = fake_api_hash(fa->t.db);

	resp->len = (size_t)(out.wrNext - (unsigned char *)out.data);
	resp->out = malloc(resp->len + 1);
	assert(resp->out != NULL);
	memcpy(resp->out, out.data, resp->len);
	resp->out[resp->len] = '\0';
	free(out.data);
	free(body);
	fake_parse(resp);
	if (getenv("FAKE_API_TRACE") != NULL)
		fprintf(stderr, "%s %s -> %d %s\n", c->method, c->path, resp->status,
		    resp->body_len ? resp->body : "\n");
}

void
fake_resp_free(struct fake_resp *resp)
{
	free(resp->out);
	memset(resp, 0, sizeof(*resp));
}

/* --- checks -------------------------------------------------------------- */

static int
fake_fk_broken(sqlite3 *db)
{
	sqlite3_stmt *st;
	int rc;

	assert(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL) == SQLITE_OK);
	rc = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return rc;
}

void
fake_api_check(const struct fake_api *fa, const struct fake_resp *resp, int allow_500,
    int (*keep_ok)(int status))
{
	json_t *j, *st;

	if (resp->nstatus != 1 || resp->status < 100 || resp->status > 599 ||
	    (resp->status == 500 && !allow_500) || resp->left_tx || resp->left_events) {
		fprintf(stderr, "bad response (%d Status lines, tx %d, events %d):\n%s\n",
		    resp->nstatus, resp->left_tx, resp->left_events, resp->out);
		abort();
	}
	if (resp->body_len > 0) {
		assert(strncmp(resp->ctype, "application/json", 16) == 0 ||
		    strncmp(resp->ctype, "application/problem+json", 24) == 0);
		j = json_loadb(resp->body, resp->body_len, 0, NULL);
		if (j == NULL || !json_is_object(j)) {
			fprintf(stderr, "body is not a JSON object:\n%s\n", resp->out);
			abort();
		}
		if (strncmp(resp->ctype, "application/problem+json", 24) == 0) {
			st = json_object_get(j, "status");
			assert(json_is_integer(st) && json_integer_value(st) == resp->status);
			assert(json_is_string(json_object_get(j, "title")));
			assert(resp->status >= 400);
		}
		json_decref(j);
	}
	if (resp->status >= 400 && resp->status < 500 && resp->hash_after != fa->snap_hash &&
	    (keep_ok == NULL || !keep_ok(resp->status))) {
		fprintf(stderr, "a refusal changed the database:\n%s\n", resp->out);
		abort();
	}
	assert(!fake_fk_broken(fa->t.db));
}

/* --- the fixed state ----------------------------------------------------- */

void
fake_api_sqldir(char *out, size_t n)
{
	char exe[PATH_MAX], *slash;
	ssize_t len;
	int i;

	if (getenv("TUTTI_SQL") != NULL) {
		snprintf(out, n, "%s", getenv("TUTTI_SQL"));
		return;
	}
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert(len > 0);
	exe[len] = '\0';
	for (i = 0; i < 3 && (slash = strrchr(exe, '/')) != NULL; i++)
		*slash = '\0';
	snprintf(out, n, "%s/sql", exe);
}

/* A call made during setup, which must succeed with want; returns its
 * parsed JSON body (or NULL when it has none) and the response. */
static json_t *
fake_setup_call(struct fake_api *fa, const struct fake_call *c, int want,
    struct fake_resp *resp)
{
	fake_api_call(fa, c, resp);
	if (resp->status != want) {
		fprintf(stderr, "fake_api setup: %s %s: %d, not %d\n%s\n", c->method,
		    c->path, resp->status, want, resp->out);
		abort();
	}
	return resp->body_len ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
}

static void
fake_b64(const char *s, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)strlen(s));
}

/* Creates an upload of length bytes; returns its id in id. */
static void
fake_setup_upload(struct fake_api *fa, int64_t length, char *id)
{
	char auth[80], len[64], meta[128], room64[16], name64[16];
	struct fake_call c = { .method = "POST", .path = "/api/uploads" };
	struct fake_resp resp;
	const char *loc;

	fake_b64(fa->code, room64);
	fake_b64("a.mp3", name64);
	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s", fa->admin);
	snprintf(len, sizeof(len), "HTTP_UPLOAD_LENGTH=%" PRId64, length);
	snprintf(meta, sizeof(meta), "HTTP_UPLOAD_METADATA=room %s,filename %s", room64,
	    name64);
	c.env[0] = auth;
	c.env[1] = "HTTP_TUS_RESUMABLE=1.0.0";
	c.env[2] = len;
	c.env[3] = meta;
	fake_setup_call(fa, &c, 201, &resp);
	loc = strstr(resp.out, "Location: /api/uploads/");
	assert(loc != NULL);
	loc += strlen("Location: /api/uploads/");
	snprintf(id, ROUTE_KEY_MAX, "%.*s", (int)strcspn(loc, "\r"), loc);
	fake_resp_free(&resp);
}

static void
fake_setup_tracks(struct fake_api *fa)
{
	int i;

	for (i = 1; i <= 3; i++)
		assert(api_sql_run(fa->t.db, NULL, "INSERT INTO tracks (sha256, title, "
		    "artist, album, samples, sample_rate, channels, bitrate, duration_us, "
		    "size, added_us) VALUES (printf('%064d', ?1), 'Track ' || ?1, 'Artist', "
		    "'Album', 441000, 44100, 2, 128, 10000000, 160000, 1)", "i",
		    (int64_t)i) == SQLITE_DONE);
}

static void
fake_setup_room(struct fake_api *fa)
{
	static const char create[] = "{\"name\":\"Ada\",\"room_name\":\"Fuzz\"}";
	static const char join[] = "{\"name\":\"Bob\"}";
	static const char ask[] = "{\"text\":\"something else\"}";
	struct fake_call c = { .method = "POST", .path = "/api/rooms",
	    .env = { "CONTENT_TYPE=application/json" } };
	char path[128], auth[80];
	struct fake_resp resp;
	json_t *j;

	c.body = (const uint8_t *)create;
	c.body_len = sizeof(create) - 1;
	j = fake_setup_call(fa, &c, 201, &resp);
	snprintf(fa->admin, sizeof(fa->admin), "%s", json_string_value(json_object_get(j, "token")));
	/* a fixed code, so that inputs may name the room (Upload-Metadata) */
	assert(api_sql_run(fa->t.db, NULL, "UPDATE rooms SET code = ? WHERE code = ?", "tt",
	    FAKE_CODE, json_string_value(json_object_get(j, "code"))) == SQLITE_DONE);
	snprintf(fa->code, sizeof(fa->code), "%s", FAKE_CODE);
	json_decref(j);
	fake_resp_free(&resp);

	snprintf(path, sizeof(path), "/api/rooms/%s/join", fa->code);
	c.path = path;
	c.body = (const uint8_t *)join;
	c.body_len = sizeof(join) - 1;
	j = fake_setup_call(fa, &c, 201, &resp);
	snprintf(fa->member, sizeof(fa->member), "%s", json_string_value(json_object_get(j, "token")));
	fa->member_id = json_integer_value(json_object_get(json_object_get(j, "user"), "id"));
	json_decref(j);
	fake_resp_free(&resp);

	snprintf(path, sizeof(path), "/api/rooms/%s/requests", fa->code);
	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s", fa->member);
	c.env[1] = auth;
	c.body = (const uint8_t *)ask;
	c.body_len = sizeof(ask) - 1;
	j = fake_setup_call(fa, &c, 201, &resp);
	fa->request_id = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	fake_resp_free(&resp);
	assert(fa->request_id > 0);
	assert(api_sql_run(fa->t.db, &fa->item_id, "SELECT min(id) FROM playlist_items",
	    "") == SQLITE_ROW && fa->item_id > 0);
}

void
fake_api_init(struct fake_api *fa)
{
	char path[PATH_MAX], sqldir[PATH_MAX];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	sqlite3 *db;
	char *uploads;

	memset(fa, 0, sizeof(*fa));
	log_init("fuzz", (enum log_level)(LOG_ERR + 1));	/* quiet */
	snprintf(fa->dir, sizeof(fa->dir), "%s/tutti-fuzz-XXXXXX", base);
	assert(mkdtemp(fa->dir) != NULL);
	snprintf(fake_dir, sizeof(fake_dir), "%s", fa->dir);
	atexit(fake_cleanup);
	snprintf(fa->redis, sizeof(fa->redis), "%s/no-redis.sock", fa->dir);
	fa->cfg.datadir = fa->dir;
	fa->cfg.redis = fa->redis;
	fa->cfg.reply_wait_ms = 10;
	fa->cfg.upload_max = (int64_t)1 << 30;
	fa->cfg.upload_ttl_us = (int64_t)24 * 3600 * 1000000;
	fa->cfg.chat_burst = 5;
	fa->cfg.chat_window_s = 10;

	fake_api_sqldir(sqldir, sizeof(sqldir));
	snprintf(path, sizeof(path), "%s/tutti.db", fa->dir);
	db = db_open(path);
	assert(db != NULL);
	if (db_migrate(db, sqldir) < 1) {
		fprintf(stderr, "fake_api: no migrations in %s (set TUTTI_SQL)\n", sqldir);
		abort();
	}
	sqlite3_close(db);
	assert(api_thread_open(&fa->t, &fa->cfg) == 0);
	assert(asprintf(&uploads, "%s/uploads", fa->dir) > 0);
	assert(mkdir(uploads, 0700) == 0);
	free(uploads);

	fake_setup_tracks(fa);
	fake_setup_room(fa);
	fake_setup_upload(fa, 32, fa->up_small);
	fake_setup_upload(fa, 1000, fa->up_half);
	fake_files_reset(fa);

	assert(sqlite3_open(":memory:", &fa->snap) == SQLITE_OK);
	fake_copy_db(fa->snap, fa->t.db);
	fa->snap_hash = fake_api_hash(fa->t.db);
	assert(fake_api_hash(fa->snap) == fa->snap_hash);
}
