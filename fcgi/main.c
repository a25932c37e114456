/*
 * main.c - tutti-api: the REST API as a FastCGI server behind nginx.
 * `tutti-api serve` listens on a unix socket and answers requests with a
 * pool of threads; `migrate` applies sql/ to the database; `import` adds
 * MP3 files to the library. See usage() and docs/api.md.
 */
#include "api.h"
#include "clock.h"
#include "db.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define API_MAX_THREADS 64
#define API_IMPORT_DEPTH 32	/* directory levels import descends */

/* The daemon's one context: configuration and the listening socket. */
struct api_ctx {
	struct api_config cfg;
	const char *socket_path;
	const char *sqldir;
	int nthreads;
	int listen_fd;
	pthread_mutex_t accept_lock;
	volatile int stopping;
};

/* Prints the usage to out and exits with status: 0 for -h, 2 for a mistake. */
static void
usage_to(FILE *out, int status)
{
	fprintf(out,
	    "usage: tutti-api [-hv] [-d datadir] [-m sqldir] [-R redis] [-s socket]\n"
	    "                 [-t threads] [-w wait_ms] [-U bytes] [-X seconds] [-C n/seconds]\n"
	    "                 [-O origin ...] [-F ffmpeg | none] [serve | migrate | import path ...]\n"
	    "\n"
	    "  serve    answer FastCGI requests on the unix socket (the default)\n"
	    "  migrate  apply the migrations in sqldir to datadir/tutti.db\n"
	    "  import   add MP3 files to the track library; a directory adds every\n"
	    "           *.mp3 under it; one line per file, status 1 if any failed\n"
	    "\n"
	    "  -d datadir  database and media directory (default ./data)\n"
	    "  -m sqldir   migrations directory (default ./sql)\n"
	    "  -R redis    Redis unix socket path or host:port (default ./run/redis.sock)\n"
	    "  -s socket   FastCGI unix socket to listen on (default ./run/api.sock)\n"
	    "  -t threads  request threads (default 4)\n"
	    "  -w wait_ms  how long a control command waits for the worker (default 2000)\n"
	    "  -U bytes    largest upload accepted (default 1073741824, 1 GiB)\n"
	    "  -X seconds  an unfinished upload expires this long after its creation\n"
	    "              (default 86400, 24 h)\n"
	    "  -C n/secs   chat: at most n messages per person in any secs seconds\n"
	    "              (default 5/10)\n"
	    "  -O origin   a browser origin (scheme://host[:port], no path, no default\n"
	    "              port) whose pages may call the API: CORS headers and\n"
	    "              preflights; repeatable, at most 16. Other origins get none.\n"
	    "  -F ffmpeg   the ffmpeg that converts a finished upload that is not MP3\n"
	    "              (WAV, FLAC, Ogg, M4A/AAC, AIFF, ...) into one; \"none\": only\n"
	    "              MP3 is accepted (default /usr/bin/ffmpeg when it exists)\n"
	    "  -v          log debug messages\n"
	    "  -h          print this help and exit\n"
	    "\n"
	    "  TUTTI_REDIS_PASSWORD in the environment: authenticate to Redis with it\n"
	    "  (AUTH), as the ACL user TUTTI_REDIS_USER when that is set too.\n");
	exit(status);
}

static void
usage(void)
{
	usage_to(stderr, 2);
}

static const char *
api_method(FCGX_Request *f)
{
	const char *m = FCGX_GetParam("REQUEST_METHOD", f->envp);

	return m ? m : "GET";
}

/* Serves one accepted request; the request's streams stay owned by f. */
static void
api_serve_one(struct api_thread *t, FCGX_Request *f)
{
	char path[2048];
	const char *uri = FCGX_GetParam("DOCUMENT_URI", f->envp);
	struct api_req r = { .fcgi = f, .t = t, .method = api_method(f) };
	int64_t start_us = clock_mono_us();
	size_t n;

	if (uri == NULL && (uri = FCGX_GetParam("REQUEST_URI", f->envp)) == NULL)
		uri = "/";
	n = strcspn(uri, "?");
	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, uri, n);
	path[n] = '\0';
	r.path = path;
	r.query = FCGX_GetParam("QUERY_STRING", f->envp);
	if (r.query == NULL)
		r.query = "";
	api_route(&r);
	json_decref(r.body);
	json_decref(r.events);	/* left only by a handler that forgot to end its transaction */
	api_metrics_count(t->cfg->metrics, r.m.route, r.status, clock_mono_us() - start_us);
	log_debug("%s %s %d", r.method, r.path, r.status);
}

static void *
api_thread_main(void *arg)
{
	struct api_ctx *ctx = arg;
	struct api_thread t;
	FCGX_Request f;
	int rc;

	if (api_thread_open(&t, &ctx->cfg) != 0)
		return NULL;
	FCGX_InitRequest(&f, ctx->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
	for (;;) {
		pthread_mutex_lock(&ctx->accept_lock);
		rc = ctx->stopping ? -1 : FCGX_Accept_r(&f);
		pthread_mutex_unlock(&ctx->accept_lock);
		if (rc < 0)
			break;
		api_serve_one(&t, &f);
		FCGX_Finish_r(&f);
	}
	FCGX_Free(&f, 1);
	api_thread_close(&t);
	return NULL;
}

/* Fails fast, before listening, when the database cannot be opened or has
 * not been migrated. Returns 0 or -1 (logged). */
static int
api_db_usable(struct api_ctx *ctx)
{
	char path[4096];
	sqlite3 *db;
	int v;

	snprintf(path, sizeof(path), "%s/tutti.db", ctx->cfg.datadir);
	if ((db = db_open(path)) == NULL)
		return -1;
	if ((v = db_schema_version(db)) < 1)
		log_err("%s is not migrated; run tutti-api migrate", path);
	sqlite3_close(db);
	return v < 1 ? -1 : 0;
}

/* Runs the thread pool until SIGINT or SIGTERM. Returns the exit status. */
static int
api_serve(struct api_ctx *ctx)
{
	pthread_t tids[API_MAX_THREADS];
	struct api_gate gate = { .max = (ctx->nthreads + 1) / 2 };
	sigset_t sigs;
	int i, sig, started = 0;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);	/* inherited by the threads */
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || (ctx->cfg.metrics = api_metrics_new()) == NULL ||
	    api_db_usable(ctx) != 0)
		return 1;
	unlink(ctx->socket_path);
	if ((ctx->listen_fd = FCGX_OpenSocket(ctx->socket_path, 128)) < 0) {
		log_err("cannot listen on %s: %s", ctx->socket_path, strerror(errno));
		return 1;
	}
	chmod(ctx->socket_path, 0660);
	pthread_mutex_init(&ctx->accept_lock, NULL);
	pthread_mutex_init(&gate.lock, NULL);
	ctx->cfg.upload_gate = &gate;
	for (i = 0; i < ctx->nthreads; i++)
		if (pthread_create(&tids[started], NULL, api_thread_main, ctx) == 0)
			started++;
	log_info("listening on %s with %d threads", ctx->socket_path, started);
	sigwait(&sigs, &sig);
	log_info("signal %d: finishing requests in flight", sig);
	ctx->stopping = 1;
	shutdown(ctx->listen_fd, SHUT_RDWR);	/* wakes the thread blocked in accept */
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	close(ctx->listen_fd);
	unlink(ctx->socket_path);
	pthread_mutex_destroy(&ctx->accept_lock);
	pthread_mutex_destroy(&gate.lock);
	ctx->cfg.upload_gate = NULL;
	api_metrics_free(ctx->cfg.metrics);
	return started == ctx->nthreads ? 0 : 1;
}

static int
api_migrate(struct api_ctx *ctx)
{
	char path[4096];
	sqlite3 *db;
	int n;

	if (mkdir(ctx->cfg.datadir, 0755) != 0 && errno != EEXIST) {
		log_err("%s: %s", ctx->cfg.datadir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/tutti.db", ctx->cfg.datadir);
	if ((db = db_open(path)) == NULL)
		return 1;
	n = db_migrate(db, ctx->sqldir);
	if (n >= 0)
		log_info("%s: schema version %d (%d applied)", path, db_schema_version(db), n);
	sqlite3_close(db);
	return n < 0;
}

/* Adds one file; prints "<track id>\t<path>", or the error on stderr.
 * Returns 0, or 1 when it failed. */
static int
api_import_file(sqlite3 *db, const char *datadir, const char *path)
{
	char err[256];
	int64_t id;

	if ((id = library_add_file(db, datadir, path, err, sizeof(err))) < 0) {
		fprintf(stderr, "tutti-api: %s: %s\n", path, err);
		return 1;
	}
	printf("%lld\t%s\n", (long long)id, path);
	fflush(stdout);
	return 0;
}

static int
api_is_mp3(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 4 && strcasecmp(name + n - 4, ".mp3") == 0;
}

/* Imports every *.mp3 (any case) under dir, in name order, descending into
 * subdirectories (not hidden ones, not through symbolic links). Returns the
 * number of failures. */
static int
api_import_dir(sqlite3 *db, const char *datadir, const char *dir, int depth)
{
	char path[4096];
	struct dirent **ents = NULL;
	struct stat sb;
	int i, n, failed = 0;

	if ((n = scandir(dir, &ents, NULL, alphasort)) < 0) {
		fprintf(stderr, "tutti-api: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (name[0] == '.' || (size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    name) >= sizeof(path) || lstat(path, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode) && depth < API_IMPORT_DEPTH)
			failed += api_import_dir(db, datadir, path, depth + 1);
		else if (api_is_mp3(name) && (S_ISREG(sb.st_mode) || S_ISLNK(sb.st_mode)))
			failed += api_import_file(db, datadir, path);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return failed;
}

/* Imports each path: a file whatever its name, a directory recursively.
 * Keeps going after errors; returns 1 when any file failed, else 0. */
static int
api_import(struct api_ctx *ctx, int argc, char **argv)
{
	char path[4096];
	struct stat sb;
	sqlite3 *db;
	int i, failed = 0;

	snprintf(path, sizeof(path), "%s/tutti.db", ctx->cfg.datadir);
	if ((db = db_open(path)) == NULL)
		return 1;
	for (i = 0; i < argc; i++) {
		if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode))
			failed += api_import_dir(db, ctx->cfg.datadir, argv[i], 0);
		else
			failed += api_import_file(db, ctx->cfg.datadir, argv[i]);
	}
	api_sql_close(db);
	sqlite3_close(db);
	return failed ? 1 : 0;
}

/* Parses an option's whole decimal number within 1..max. Returns 0 or -1. */
static int
api_opt_int64(const char *s, int64_t max, int64_t *v)
{
	char *end;
	long long x;

	errno = 0;
	x = strtoll(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || x < 1 || x > max)
		return -1;
	*v = x;
	return 0;
}

/* The value of the environment variable name, or NULL when it is unset or
 * empty. The string belongs to the environment. */
static const char *
api_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* Adds an -O origin to cfg after checking it. Returns 0, or -1 after
 * saying on stderr what is wrong with it. */
static int
api_opt_origin(const char *s, struct api_config *cfg)
{
	char why[192];

	if (cfg->norigins == ORIGIN_LIST_MAX) {
		fprintf(stderr, "tutti-api: at most %d -O options\n", ORIGIN_LIST_MAX);
		return -1;
	}
	if (origin_check(s, strlen(s), why, sizeof(why)) != 0) {
		fprintf(stderr, "tutti-api: -O %s: %s\n", s, why);
		return -1;
	}
	cfg->origins[cfg->norigins++] = s;
	return 0;
}

/* Parses the chat limit "n/secs" (1..1000 messages in 1..86400 s). */
static int
api_opt_rate(const char *s, struct api_config *cfg)
{
	char n[16];
	const char *slash = strchr(s, '/');
	int64_t burst, window;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(n))
		return -1;
	memcpy(n, s, (size_t)(slash - s));
	n[slash - s] = '\0';
	if (api_opt_int64(n, 1000, &burst) != 0 || api_opt_int64(slash + 1, 86400, &window) != 0)
		return -1;
	cfg->chat_burst = (int)burst;
	cfg->chat_window_s = (int)window;
	return 0;
}

/* -F: the ffmpeg to convert uploads with (NULL: the default one when it
 * is there), "none" for none. Returns 0, or -1 after saying why. */
static int
api_opt_ffmpeg(const char *path, struct api_config *cfg)
{
	if (path != NULL && strcmp(path, "none") == 0)
		return 0;
	if (path == NULL) {
		if (access(API_FFMPEG_DEFAULT, X_OK) == 0)
			cfg->ffmpeg = API_FFMPEG_DEFAULT;
		return 0;
	}
	if (path[0] != '/' || access(path, X_OK) != 0) {
		fprintf(stderr, "tutti-api: -F %s: not an executable given by its absolute path\n",
		    path);
		return -1;
	}
	cfg->ffmpeg = path;
	return 0;
}

int
main(int argc, char **argv)
{
	struct api_ctx ctx = {
		.cfg = { .datadir = "data", .redis = "run/redis.sock", .reply_wait_ms = 2000,
		    .upload_max = (int64_t)1 << 30, .upload_ttl_us = (int64_t)24 * 3600 * 1000000,
		    .chat_burst = 5, .chat_window_s = 10 },
		.socket_path = "run/api.sock", .sqldir = "sql", .nthreads = 4,
	};
	enum log_level lvl = LOG_INFO;
	const char *ffmpeg = NULL;
	int64_t ttl_s;
	const char *cmd;
	int ch;

	while ((ch = getopt(argc, argv, "C:d:F:m:O:R:s:t:w:U:X:vh")) != -1) {
		switch (ch) {
		case 'd': ctx.cfg.datadir = optarg; break;
		case 'm': ctx.sqldir = optarg; break;
		case 'R': ctx.cfg.redis = optarg; break;
		case 's': ctx.socket_path = optarg; break;
		case 't': ctx.nthreads = atoi(optarg); break;
		case 'w': ctx.cfg.reply_wait_ms = atoi(optarg); break;
		case 'U':
			if (api_opt_int64(optarg, INT64_MAX / 2, &ctx.cfg.upload_max) != 0)
				usage();
			break;
		case 'X':
			if (api_opt_int64(optarg, (int64_t)10 * 365 * 86400, &ttl_s) != 0)
				usage();
			ctx.cfg.upload_ttl_us = ttl_s * 1000000;
			break;
		case 'C':
			if (api_opt_rate(optarg, &ctx.cfg) != 0)
				usage();
			break;
		case 'O':
			if (api_opt_origin(optarg, &ctx.cfg) != 0)
				return 2;
			break;
		case 'F':
			ffmpeg = optarg;
			break;
		case 'v': lvl = LOG_DEBUG; break;
		case 'h': usage_to(stdout, 0); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (ctx.nthreads < 1 || ctx.nthreads > API_MAX_THREADS ||
	    ctx.cfg.reply_wait_ms < 1 || ctx.cfg.reply_wait_ms > 4000)
		usage();
	log_init("tutti-api", lvl);
	if (api_opt_ffmpeg(ffmpeg, &ctx.cfg) != 0)
		return 2;
	/* From the environment only: a command line shows in ps. */
	ctx.cfg.redis_password = api_env("TUTTI_REDIS_PASSWORD");
	ctx.cfg.redis_user = ctx.cfg.redis_password ? api_env("TUTTI_REDIS_USER") : NULL;
	/* Each thread owns its connection: no global allocation statistics
	 * (a process-wide mutex on every SQLite malloc otherwise). */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	cmd = argc > 0 ? argv[0] : "serve";
	if (strcmp(cmd, "serve") == 0 && argc <= 1)
		return api_serve(&ctx);
	if (strcmp(cmd, "migrate") == 0 && argc == 1)
		return api_migrate(&ctx);
	if (strcmp(cmd, "import") == 0 && argc >= 2)
		return api_import(&ctx, argc - 1, argv + 1);
	usage();
	return 2;
}
