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

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define API_MAX_THREADS 64

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

static void
usage(void)
{
	fprintf(stderr,
	    "usage: tutti-api [-v] [-d datadir] [-m sqldir] [-R redis] [-s socket]\n"
	    "                 [-t threads] [-w wait_ms] [serve | migrate | import file ...]\n"
	    "\n"
	    "  serve    answer FastCGI requests on the unix socket (the default)\n"
	    "  migrate  apply the migrations in sqldir to datadir/tutti.db\n"
	    "  import   add MP3 files to the track library\n"
	    "\n"
	    "  -d datadir  database and media directory (default ./data)\n"
	    "  -m sqldir   migrations directory (default ./sql)\n"
	    "  -R redis    Redis unix socket path or host:port (default ./run/redis.sock)\n"
	    "  -s socket   FastCGI unix socket to listen on (default ./run/api.sock)\n"
	    "  -t threads  request threads (default 4)\n"
	    "  -w wait_ms  how long a control command waits for the worker (default 2000)\n"
	    "  -v          log debug messages\n");
	exit(2);
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

/* Runs the thread pool until SIGINT or SIGTERM. Returns the exit status. */
static int
api_serve(struct api_ctx *ctx)
{
	pthread_t tids[API_MAX_THREADS];
	sigset_t sigs;
	int i, sig, started = 0;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);	/* inherited by the threads */
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || (ctx->cfg.metrics = api_metrics_new()) == NULL)
		return 1;
	unlink(ctx->socket_path);
	if ((ctx->listen_fd = FCGX_OpenSocket(ctx->socket_path, 128)) < 0) {
		log_err("cannot listen on %s: %s", ctx->socket_path, strerror(errno));
		return 1;
	}
	chmod(ctx->socket_path, 0660);
	pthread_mutex_init(&ctx->accept_lock, NULL);
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

static int
api_import(struct api_ctx *ctx, int argc, char **argv)
{
	char path[4096], err[256];
	sqlite3 *db;
	int i, failed = 0;
	int64_t id;

	snprintf(path, sizeof(path), "%s/tutti.db", ctx->cfg.datadir);
	if ((db = db_open(path)) == NULL)
		return 1;
	for (i = 0; i < argc; i++) {
		if ((id = library_add_file(db, ctx->cfg.datadir, argv[i], err, sizeof(err))) < 0) {
			fprintf(stderr, "tutti-api: %s: %s\n", argv[i], err);
			failed++;
		} else
			printf("%lld\t%s\n", (long long)id, argv[i]);
	}
	sqlite3_close(db);
	return failed ? 1 : 0;
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
	const char *cmd;
	int ch;

	while ((ch = getopt(argc, argv, "d:m:R:s:t:w:v")) != -1) {
		switch (ch) {
		case 'd': ctx.cfg.datadir = optarg; break;
		case 'm': ctx.sqldir = optarg; break;
		case 'R': ctx.cfg.redis = optarg; break;
		case 's': ctx.socket_path = optarg; break;
		case 't': ctx.nthreads = atoi(optarg); break;
		case 'w': ctx.cfg.reply_wait_ms = atoi(optarg); break;
		case 'v': lvl = LOG_DEBUG; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (ctx.nthreads < 1 || ctx.nthreads > API_MAX_THREADS ||
	    ctx.cfg.reply_wait_ms < 1 || ctx.cfg.reply_wait_ms > 4000)
		usage();
	log_init("tutti-api", lvl);
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
