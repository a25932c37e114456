/*
 * upload.c - tutti upload FILE...: each file goes to the room through the
 * server's tus 1.0.0 endpoint (docs/api.md section 10). POST creates the
 * upload, one PATCH streams the file from disk (libcurl's read callback,
 * never the whole file in memory). The upload's URL is remembered in the
 * config directory under room + path + size + mtime, so a run that was
 * interrupted (Ctrl-C, a crash, a lost network) resumes at the offset HEAD
 * reports; network errors are retried with a growing pause. With
 * --cancel, the remembered uploads of the files are terminated (DELETE)
 * and forgotten instead.
 */
#include "cli.h"

#include "clock.h"
#include "cmd.h"
#include "config.h"
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define UP_TRIES 7			/* attempts without progress before giving up */
#define UP_BACKOFF_MAX_MS 30000
#define UP_DRAW_US 100000		/* redraw the bar at most this often */
#define UP_INTERRUPTED 130		/* exit status after SIGINT/SIGTERM */
#define UP_PREFIX "/api/uploads/"
#define UP_CANCEL_TRIES 6		/* DELETEs answered 423 (a PATCH still running) */
#define UP_DIGITS "0123456789"

/* Set by SIGINT and SIGTERM while an upload runs. */
static volatile sig_atomic_t up_stop;

/* One file on its way. */
struct up {
	struct cli *c;
	struct cmd_room *room;
	const char *file;		/* as given */
	char *abs;			/* its real path */
	int fd;
	int64_t size;
	char *key;			/* in uploads.json */
	char *url;			/* the upload's path, /api/uploads/KEY */
	int64_t offset;			/* the server's, as last heard */
	int64_t resumed_from;		/* the offset this run started at */
	int64_t track_id, item_id;
	int64_t limit_rate;
	json_t *error;			/* {"status", "title", "detail"} of a failure */
	/* the progress bar */
	int bar;
	int64_t patch_start, drawn_us, t0_us, t0_bytes;
};

static void
up_on_signal(int sig)
{
	(void)sig;
	up_stop = 1;
}

/* Records a failure (for --json) and prints it on stderr. */
static int __attribute__((format(printf, 3, 4)))
up_fail(struct up *u, int rc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tutti: %s: ", u->file);
	out_clean(stderr, msg);
	fputc('\n', stderr);
	if (u->error == NULL)
		u->error = json_pack("{s:s}", "title", msg);
	return rc;
}

/* Reports an error answer ("tutti: FILE: TITLE: DETAIL") and records it.
 * Returns the exit status of its HTTP status. */
static int
up_fail_http(struct up *u, const struct http_resp *r, const char *path)
{
	json_t *p = r->body != NULL ? json_loadb(r->body, r->len, 0, NULL) : NULL;
	const char *title = json_string_value(json_object_get(p, "title"));
	int rc;

	if (title != NULL) {
		fprintf(stderr, "tutti: %s: ", u->file);
		out_clean(stderr, title);
		if (*cmd_str(p, "detail") != '\0') {
			fputs(": ", stderr);
			out_clean(stderr, cmd_str(p, "detail"));
		}
		fputc('\n', stderr);
		rc = http_exit_code(r->status);
	} else {
		fprintf(stderr, "tutti: %s:\n", u->file);
		rc = http_report(u->c, r, path);
	}
	if (u->error == NULL)
		u->error = json_pack("{s:I, s:s, s:s}", "status", (json_int_t)r->status,
		    "title", title != NULL ? title : "HTTP error", "detail", cmd_str(p, "detail"));
	json_decref(p);
	return rc;
}

/* Base64 of n bytes of s into a malloc'd string. */
static char *
up_b64(const char *s, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

/* Parses a header value of decimal digits. Returns 0 or -1. */
static int
up_num(const char *s, int64_t *v)
{
	int64_t x = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 18)
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		x = x * 10 + (*s - '0');
	if (*s != '\0')
		return -1;
	*v = x;
	return 0;
}

/* Sleeps ms milliseconds unless a signal stops the upload first. */
static void
up_sleep(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	while (!up_stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Draws the bar: name, percent, bytes, rate (stderr is a terminal). */
static void
up_draw(struct up *u, int64_t done, int final)
{
	struct winsize ws;
	int cols = 80, width, fill, i;
	int64_t now = clock_mono_us(), rate = 0;
	double pct = u->size > 0 ? 100.0 * (double)done / (double)u->size : 100.0;
	const char *base = strrchr(u->file, '/') ? strrchr(u->file, '/') + 1 : u->file;
	char name[64];

	if (!final && now - u->drawn_us < UP_DRAW_US)
		return;
	u->drawn_us = now;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		cols = ws.ws_col;
	if (now > u->t0_us + 200000)
		rate = (done - u->t0_bytes) * 1000000 / (now - u->t0_us);
	snprintf(name, sizeof(name), "%s", base);
	for (i = 0; name[i] != '\0'; i++)
		if ((unsigned char)name[i] < 0x20)
			name[i] = '?';
	width = cols - 58;
	width = width < 10 ? 10 : width > 40 ? 40 : width;
	fill = (int)(pct * width / 100.0);
	fprintf(stderr, "\r%-20.20s %3d%% [", name, (int)pct);
	for (i = 0; i < width; i++)
		fputc(i < fill ? '#' : '.', stderr);
	fprintf(stderr, "] %6.1f/%.1f MiB %6.0f KiB/s\033[K", (double)done / 1048576.0,
	    (double)u->size / 1048576.0, (double)rate / 1024.0);
	fflush(stderr);
}

static void
up_clear_bar(struct up *u)
{
	if (u->bar && u->drawn_us != 0) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		u->drawn_us = 0;
	}
}

static int
up_progress(void *arg, int64_t sent)
{
	struct up *u = arg;

	if (up_stop)
		return 1;
	if (u->bar)
		up_draw(u, u->patch_start + sent, 0);
	return 0;
}

/* Fills the request headers common to every tus request. */
static void
up_req(struct up *u, struct http_req *q, const char *method, const char *path,
    const char *const *hdrs)
{
	memset(q, 0, sizeof(*q));
	q->method = method;
	q->path = path;
	q->token = u->room->token;
	q->headers = hdrs;
	q->fd = -1;
}

/* HEAD of the remembered upload. Returns 1 when it is usable (u->offset
 * set; complete when u->track_id > 0), 0 when gone (forgotten), or -1
 * with *rc set. */
static int
up_head(struct up *u, int *rc)
{
	static const char *const hdrs[] = { "Tus-Resumable: 1.0.0", NULL };
	struct http_req q;
	struct http_resp r;
	int64_t len = -1;
	int ok = -1;

	up_req(u, &q, "HEAD", u->url, hdrs);
	q.timeout_s = 30;
	if (http_do(u->c, &q, &r) != 0) {
		*rc = CLI_NET;
		if (u->c->verbose)
			fprintf(stderr, "tutti: %s: %s\n", u->file, r.error);
	} else if (r.status == 200 && up_num(http_header(&r, "Upload-Offset"), &u->offset) == 0 &&
	    up_num(http_header(&r, "Upload-Length"), &len) == 0 && len == u->size) {
		up_num(http_header(&r, "Tutti-Track"), &u->track_id);
		up_num(http_header(&r, "Tutti-Item"), &u->item_id);
		ok = 1;
	} else if (r.status == 200 || r.status == 404 || r.status == 410) {
		cfg_upload_put(u->c, u->key, NULL);	/* another file now, or gone */
		free(u->url);
		u->url = NULL;
		ok = 0;
	} else
		*rc = up_fail_http(u, &r, u->url);
	http_resp_free(&r);
	return ok;
}

/* Creates the upload (POST) and remembers its URL. Returns the status. */
static int
up_create(struct up *u)
{
	const char *base = strrchr(u->abs, '/') ? strrchr(u->abs, '/') + 1 : u->abs;
	char len[64], *meta = NULL, *b64room = NULL, *b64name = NULL;
	const char *hdrs[5], *loc;
	struct http_req q;
	struct http_resp r = { 0 };
	int rc = CLI_FAIL;

	b64room = up_b64(u->room->code, strlen(u->room->code));
	b64name = up_b64(base, strlen(base));
	snprintf(len, sizeof(len), "Upload-Length: %lld", (long long)u->size);
	if (b64room == NULL || b64name == NULL || asprintf(&meta,
	    "Upload-Metadata: room %s,filename %s", b64room, b64name) < 0) {
		meta = NULL;
		goto done;
	}
	hdrs[0] = "Tus-Resumable: 1.0.0";
	hdrs[1] = len;
	hdrs[2] = meta;
	hdrs[3] = "Content-Type:";
	hdrs[4] = NULL;
	up_req(u, &q, "POST", "/api/uploads", hdrs);
	q.timeout_s = 30;
	if (http_do(u->c, &q, &r) != 0) {
		rc = up_fail(u, http_report_net(u->c, &r), "the upload could not be created");
		goto done;
	}
	if (r.status == 413 && http_header(&r, "Tus-Max-Size") != NULL) {
		rc = up_fail(u, CLI_FAIL, "%lld bytes is more than the server takes (%s bytes)",
		    (long long)u->size, http_header(&r, "Tus-Max-Size"));
		goto done;
	}
	if (r.status != 201) {
		rc = up_fail_http(u, &r, "/api/uploads");
		goto done;
	}
	loc = http_header(&r, "Location");
	if (loc != NULL && strncmp(loc, u->c->server, strlen(u->c->server)) == 0)
		loc += strlen(u->c->server);	/* an absolute URL of this server */
	if (loc == NULL || strncmp(loc, UP_PREFIX, strlen(UP_PREFIX)) != 0 ||
	    strcspn(loc, " ?#") != strlen(loc)) {
		rc = up_fail(u, CLI_FAIL, "the server's answer has no usable Location");
		goto done;
	}
	if ((u->url = strdup(loc)) == NULL)
		goto done;
	u->offset = 0;
	cfg_upload_put(u->c, u->key, u->url);
	rc = CLI_OK;
done:
	http_resp_free(&r);
	free(meta);
	free(b64room);
	free(b64name);
	return rc;
}

/* One PATCH from u->offset to the end (an empty one when the bytes are
 * all there). Returns 1 on progress or completion, 0 for a failure worth
 * retrying, or -1 with *rc set. */
static int
up_patch(struct up *u, int *rc)
{
	char off[64];
	const char *hdrs[] = { "Tus-Resumable: 1.0.0", "Content-Type: application/offset+octet-stream",
	    off, NULL };
	struct http_req q;
	struct http_resp r;
	int64_t before = u->offset, v;
	int res = 0;

	snprintf(off, sizeof(off), "Upload-Offset: %lld", (long long)u->offset);
	up_req(u, &q, "PATCH", u->url, hdrs);
	if (u->offset < u->size) {
		if (lseek(u->fd, (off_t)u->offset, SEEK_SET) < 0) {
			*rc = up_fail(u, CLI_FAIL, "cannot seek: %s", strerror(errno));
			return -1;
		}
		q.fd = u->fd;
		q.fd_len = u->size - u->offset;
	}
	q.limit_rate = u->limit_rate;
	q.progress = up_progress;
	q.arg = u;
	u->patch_start = u->offset;
	if (http_do(u->c, &q, &r) != 0) {
		if (u->c->verbose)
			fprintf(stderr, "tutti: %s: %s\n", u->file, r.error);
		res = 0;
	} else if (r.status == 204 && up_num(http_header(&r, "Upload-Offset"), &v) == 0) {
		u->offset = v;
		up_num(http_header(&r, "Tutti-Track"), &u->track_id);
		up_num(http_header(&r, "Tutti-Item"), &u->item_id);
		res = 1;
	} else if (r.status == 409 && up_num(http_header(&r, "Upload-Offset"), &v) == 0) {
		u->offset = v;		/* the server has another offset: go on from there */
		res = 1;
	} else if (r.status == 423 || r.status == 460 || r.status == 400 || r.status == 429 ||
	    r.status == 502 || r.status == 503 || r.status == 504)
		res = 0;		/* a PATCH still finishing, a cut body, busy: retry */
	else {
		up_clear_bar(u);
		*rc = up_fail_http(u, &r, u->url);
		if (r.status == 404 || r.status == 410 || r.status == 415) {
			cfg_upload_put(u->c, u->key, NULL);
			free(u->url);
			u->url = NULL;
		}
		res = -1;
	}
	http_resp_free(&r);
	if (res == 1 && u->offset == before && u->track_id == 0 && u->offset < u->size)
		res = 0;		/* nothing moved */
	return res;
}

/* Sends the rest of the file: PATCH until the server names the track,
 * retrying what failed with a growing pause (HEAD first: where are we?).
 * Returns the exit status. */
static int
up_send(struct up *u)
{
	int64_t backoff = 1000;
	int tries = 0, rc = CLI_OK, res;

	while (u->track_id == 0) {
		if (up_stop)
			break;
		if ((res = up_patch(u, &rc)) < 0)
			return rc;
		if (res == 1) {
			tries = 0;
			backoff = 1000;
			continue;
		}
		if (up_stop)
			break;
		if (++tries >= UP_TRIES) {
			up_clear_bar(u);
			return up_fail(u, CLI_NET, "no progress after %d tries (the server at %s); "
			    "run the same command again to resume", tries, u->c->server);
		}
		if (u->c->verbose)
			fprintf(stderr, "tutti: %s: retrying in %lld ms\n", u->file,
			    (long long)backoff);
		up_sleep(backoff);
		backoff = backoff * 2 > UP_BACKOFF_MAX_MS ? UP_BACKOFF_MAX_MS : backoff * 2;
		if (up_stop)
			break;
		if ((res = up_head(u, &rc)) == 0)
			return up_fail(u, CLI_NOTFOUND, "the upload is gone from the server; run "
			    "the same command again to start over");
		if (res < 0 && rc != CLI_NET)
			return rc;
	}
	if (u->track_id == 0) {
		up_clear_bar(u);
		if (u->url != NULL)
			up_head(u, &rc);	/* how far it got, for the message */
		fprintf(stderr, "tutti: %s: interrupted at %lld of %lld bytes; run the same "
		    "command again to resume\n", u->file, (long long)u->offset, (long long)u->size);
		if (u->error == NULL)
			u->error = json_pack("{s:s}", "title", "interrupted");
		return UP_INTERRUPTED;
	}
	return CLI_OK;
}

/* Opens u->file and works out its key. Returns the exit status. */
static int
up_open(struct up *u)
{
	struct stat st;

	if ((u->fd = open(u->file, O_RDONLY | O_CLOEXEC)) < 0)
		return up_fail(u, errno == ENOENT ? CLI_NOTFOUND : CLI_FAIL, "%s", strerror(errno));
	if (fstat(u->fd, &st) != 0 || !S_ISREG(st.st_mode))
		return up_fail(u, CLI_FAIL, "not a regular file");
	if (st.st_size == 0)
		return up_fail(u, CLI_FAIL, "the file is empty");
	u->size = (int64_t)st.st_size;
	if ((u->abs = realpath(u->file, NULL)) == NULL)
		return up_fail(u, CLI_FAIL, "%s", strerror(errno));
	if (asprintf(&u->key, "%s|%s|%lld|%lld.%09ld", u->room->code, u->abs,
	    (long long)u->size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec) < 0) {
		u->key = NULL;
		return up_fail(u, CLI_FAIL, "out of memory");
	}
	return CLI_OK;
}

/* Uploads one file; fills u for the report. Returns the exit status. */
static int
up_file(struct up *u)
{
	int rc = CLI_OK, res;

	if ((rc = up_open(u)) != CLI_OK)
		return rc;
	if (cfg_upload_get(u->c, u->key, &u->url) == 0) {
		if ((res = up_head(u, &rc)) < 0) {
			if (rc == CLI_NET)
				return up_fail(u, CLI_NET, "cannot reach %s", u->c->server);
			return rc;
		}
	}
	if (u->url == NULL && (rc = up_create(u)) != CLI_OK)
		return rc;
	u->resumed_from = u->offset;
	if (u->offset > 0 && !u->c->json)
		fprintf(stderr, "tutti: %s: resuming at %lld of %lld bytes\n", u->file,
		    (long long)u->offset, (long long)u->size);
	u->t0_us = clock_mono_us();
	u->t0_bytes = u->offset;
	rc = up_send(u);
	if (u->bar && rc == CLI_OK)
		up_draw(u, u->size, 1);
	up_clear_bar(u);
	if (rc == CLI_OK)
		cfg_upload_put(u->c, u->key, NULL);
	return rc;
}

/* The report of one file: {"file", "size", "resumed_from", "track",
 * "item_id"} or {"file", "error"}; printed as a line when not --json. */
static json_t *
up_report(struct up *u)
{
	json_t *tr = NULL, *o;
	char path[64], label[600], d[32];

	if (u->error != NULL || u->track_id <= 0)
		return json_pack("{s:s, s:O?}", "file", u->file, "error", u->error);
	snprintf(path, sizeof(path), "/api/tracks/%lld", (long long)u->track_id);
	if (http_json(u->c, "GET", path, NULL, NULL, &tr, NULL) != CLI_OK)
		tr = json_pack("{s:I}", "id", (json_int_t)u->track_id);
	if (!u->c->json) {
		out_clean(stdout, u->file);
		printf(": track %lld, ", (long long)u->track_id);
		out_clean(stdout, cmd_track_label(label, sizeof(label), tr));
		printf(" (%s)", out_dur(d, sizeof(d), cmd_int(tr, "duration_us", 0)));
		if (u->item_id > 0)
			printf(", playlist item %lld", (long long)u->item_id);
		if (u->resumed_from > 0)
			printf(", resumed at %lld bytes", (long long)u->resumed_from);
		putchar('\n');
		fflush(stdout);
	}
	o = json_pack("{s:s, s:I, s:I, s:o, s:o}", "file", u->file, "size", (json_int_t)u->size,
	    "resumed_from", (json_int_t)u->resumed_from, "track", tr, "item_id",
	    u->item_id > 0 ? json_integer(u->item_id) : json_null());
	return o;
}

static void
up_free(struct up *u)
{
	if (u->fd >= 0)
		close(u->fd);
	free(u->abs);
	free(u->key);
	free(u->url);
	json_decref(u->error);
}

/* The real path of file, as its key has it; for a file that is gone, the
 * real path of its directory and its name. Returns a malloc'd path, or
 * NULL with errno set. */
static char *
up_abs_path(const char *file)
{
	char *abs, *dir = NULL, *out = NULL;
	const char *slash = strrchr(file, '/'), *base = slash != NULL ? slash + 1 : file;

	if ((abs = realpath(file, NULL)) != NULL || errno != ENOENT)
		return abs;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return NULL;		/* errno is ENOENT still */
	if (slash == NULL)
		dir = realpath(".", NULL);
	else if (slash == file)
		dir = realpath("/", NULL);
	else if ((abs = strndup(file, (size_t)(slash - file))) != NULL) {
		dir = realpath(abs, NULL);
		free(abs);
	}
	if (dir != NULL && asprintf(&out, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/",
	    base) < 0)
		out = NULL;
	free(dir);
	return out;
}

/* Whether key (of uploads.json) is one of a file's: prefix ("ROOM|PATH|"),
 * then SIZE|SEC.NSEC as up_open() writes them, whatever size and time. */
static int
up_key_of(const char *key, const char *prefix)
{
	size_t n = strlen(prefix), d;
	const char *s = key + n;

	if (strncmp(key, prefix, n) != 0)
		return 0;
	if ((d = strspn(s, UP_DIGITS)) == 0 || s[d] != '|')
		return 0;
	s += d + 1;
	if (*s == '-')
		s++;
	if ((d = strspn(s, UP_DIGITS)) == 0 || s[d] != '.')
		return 0;
	s += d + 1;
	return strspn(s, UP_DIGITS) == 9 && s[9] == '\0';
}

/* Terminates one remembered upload (DELETE url), waiting out a PATCH that
 * still runs (423) for a while, and forgets key unless that fails. Returns
 * 1 when cancelled, 0 when gone already (404, 410), or -1 with *rc set
 * (reported). */
static int
up_terminate(struct up *u, const char *key, const char *url, int *rc)
{
	static const char *const hdrs[] = { "Tus-Resumable: 1.0.0", NULL };
	int64_t backoff = 250;
	struct http_req q;
	struct http_resp r;
	int tries, res = -1;

	for (tries = 1; ; tries++) {
		up_req(u, &q, "DELETE", url, hdrs);
		q.timeout_s = 30;
		if (http_do(u->c, &q, &r) != 0) {
			*rc = up_fail(u, CLI_NET, "cannot reach %s: %s", u->c->server, r.error);
			http_resp_free(&r);
			return -1;
		}
		if (r.status != 423 || tries == UP_CANCEL_TRIES || up_stop)
			break;
		http_resp_free(&r);
		up_sleep(backoff);
		backoff *= 2;
	}
	if (r.status == 204)
		res = 1;
	else if (r.status == 404 || r.status == 410)
		res = 0;
	else if (r.status == 423)
		*rc = up_fail(u, CLI_CONFLICT, "it is being uploaded right now (another tutti "
		    "upload of it?); stop that first");
	else
		*rc = up_fail_http(u, &r, url);
	http_resp_free(&r);
	if (res >= 0)
		cfg_upload_put(u->c, key, NULL);
	return res;
}

/* tutti upload --cancel: terminates and forgets every upload remembered
 * for u->file in the room (of any size and time: the file may have changed
 * or be gone since). Fills u->error on failure. Returns the exit status. */
static int
up_cancel(struct up *u, json_t **report)
{
	json_t *ups = NULL, *v;
	char *prefix = NULL;
	const char *key;
	int rc = CLI_OK, res, done[2] = { 0, 0 };

	if ((u->abs = up_abs_path(u->file)) == NULL) {
		rc = up_fail(u, errno == ENOENT ? CLI_NOTFOUND : CLI_FAIL, "%s; nothing cancelled",
		    strerror(errno));
		goto done;
	}
	if (asprintf(&prefix, "%s|%s|", u->room->code, u->abs) < 0 ||
	    (ups = cfg_uploads(u->c)) == NULL) {
		prefix = NULL;
		rc = up_fail(u, CLI_FAIL, "out of memory");
		goto done;
	}
	json_object_foreach(ups, key, v) {
		if (!up_key_of(key, prefix))
			continue;
		if ((res = up_terminate(u, key, json_string_value(v), &rc)) < 0)
			goto done;
		done[res]++;
	}
	if (done[0] + done[1] == 0)
		rc = up_fail(u, CLI_NOTFOUND, "no unfinished upload of it is remembered for room "
		    "%s: nothing to cancel", u->room->code);
	else if (!u->c->json) {
		out_clean(stdout, u->file);
		puts(done[1] > 0 ? ": upload cancelled, removed from the server" :
		    ": the upload was gone from the server already (expired or cancelled); "
		    "forgotten");
	}
done:
	*report = u->error != NULL ? json_pack("{s:s, s:O}", "file", u->file, "error", u->error) :
	    json_pack("{s:s, s:i, s:i}", "file", u->file, "cancelled", done[1], "gone", done[0]);
	json_decref(ups);
	free(prefix);
	return rc;
}

/* Parses a rate: bytes, or with k or M (1024-based). Returns 0 or -1. */
static int
up_rate(const char *s, int64_t *v)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || end == s || n <= 0 || n > (1LL << 40))
		return -1;
	if (*end == 'k' || *end == 'K')
		n *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		n *= 1048576, end++;
	if (*end != '\0')
		return -1;
	*v = n;
	return 0;
}

static const struct cli_help upload_help = { "upload",
"[--limit-rate RATE] FILE... | --cancel FILE...",
"     Uploads audio files into the room (as the policy allows: the admin, or\n"
"     everyone) with tus: each becomes a library track and a playlist item.\n"
"     MP3 always; FLAC, WAV, Ogg, M4A and the like when the server converts\n"
"     them (tutti-api -F).\n"
"     A progress bar shows on a terminal. An upload that was interrupted\n"
"     (Ctrl-C, a lost connection, a crash) resumes where it stopped when the\n"
"     same command runs again, for 24 hours, as long as the file is\n"
"     unchanged; network errors are retried with growing pauses. A file the\n"
"     server refuses (not audio it reads) does not stop the others; the exit\n"
"     status is that of the first failure (130: interrupted).\n"
"\n"
"     -l, --limit-rate RATE  send at most RATE bytes a second (k and M\n"
"                            suffixes: 500k, 2M).\n"
"     -c, --cancel           upload nothing: cancel the unfinished uploads of\n"
"                            the FILEs in the room instead (also of a file\n"
"                            changed or deleted since), on the server (tus\n"
"                            termination) and here. One already gone from the\n"
"                            server is just forgotten; a FILE without one is\n"
"                            an error (exit status 5, the others go on).\n"
"\n"
"     --json: {\"uploads\":[{\"file\", \"size\", \"resumed_from\", \"track\":{...},\n"
"     \"item_id\"} or {\"file\", \"error\":{\"status\", \"title\", \"detail\"}}]};\n"
"     with --cancel {\"uploads\":[{\"file\", \"cancelled\", \"gone\"} or {\"file\",\n"
"     \"error\"}]}, cancelled and gone counting the uploads of the file.\n" };

/* Uploads (or with cancel, cancels) the files argv[0..n-1] one after the
 * other, appending a report of each to reports. Returns the exit status
 * of the first failure. */
static int
up_files(struct cli *c, struct cmd_room *room, char **argv, int n, int64_t rate, int cancel,
    json_t *reports)
{
	int i, rc, first_rc = CLI_OK;
	json_t *rep;

	for (i = 0; i < n && !up_stop; i++) {
		struct up u;

		memset(&u, 0, sizeof(u));
		u.c = c;
		u.room = room;
		u.file = argv[i];
		u.fd = -1;
		u.limit_rate = rate;
		u.bar = !c->json && !cancel && isatty(STDERR_FILENO);
		if (cancel)
			rc = up_cancel(&u, &rep);
		else {
			rc = up_file(&u);
			rep = up_report(&u);
		}
		if (rc != CLI_OK && first_rc == CLI_OK)
			first_rc = rc;
		json_array_append_new(reports, rep);
		up_free(&u);
		if (rc == CLI_AUTH || rc == CLI_NET)
			break;		/* the next file would fail the same way */
	}
	return first_rc;
}

int
cmd_upload(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "limit-rate", required_argument, NULL, 'l' },
		{ "cancel", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct sigaction sa, old_int, old_term;
	struct cmd_room room = { "", NULL, NULL };
	json_t *reports = NULL;
	int64_t rate = 0;
	int opt, rc, cancel = 0;

	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "l:ch", lo, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (up_rate(optarg, &rate) != 0)
				return out_usage(&upload_help, "--limit-rate %s: expected bytes a "
				    "second, e.g. 500k or 2M", optarg);
			break;
		case 'c': cancel = 1; break;
		case 'h': return out_help(&upload_help);
		default: return out_badopt(&upload_help, argv, opt);
		}
	}
	if (optind == argc)
		return out_usage(&upload_help, cancel ? "cancel the uploads of which files?" :
		    "which files?");
	if (cancel && rate > 0)
		return out_usage(&upload_help, "--cancel sends nothing: --limit-rate does not "
		    "apply");
	if ((rc = cmd_room(c, &room)) != CLI_OK)
		goto done;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = up_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	reports = json_array();
	rc = up_files(c, &room, argv + optind, argc - optind, rate, cancel, reports);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (cancel && up_stop && rc == CLI_OK)
		rc = UP_INTERRUPTED;
	if (c->json && out_json(json_pack("{s:O}", "uploads", reports)) != CLI_OK && rc == CLI_OK)
		rc = CLI_FAIL;
done:
	json_decref(reports);
	cmd_room_free(&room);
	return rc;
}
