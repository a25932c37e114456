/*
 * main.c - tutti-relay: options, the listening socket, signals, and an
 * orderly exit (every allocation freed, so ASan/LSan runs stay clean).
 */
#include "relay.h"

#include "log.h"
#include "origin.h"
#include "ws.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define RELAY_BACKLOG 1024

static void
usage(FILE *f)
{
	fputs(
"NAME\n"
"     tutti-relay - the WebSocket relay of tutti\n"
"\n"
"SYNOPSIS\n"
"     tutti-relay [-v] -l listen -R redis [-i id] [-m host:port] [-O origin ...]\n"
"     tutti-relay -h\n"
"\n"
"DESCRIPTION\n"
"     Serves GET /ws?room={code}&token={token} behind nginx: checks the room\n"
"     and the token in Redis before upgrading, then relays the room's events\n"
"     from Redis pub/sub (tutti:ev:{code}) to every listener and answers\n"
"     time-sync pings. See docs/protocol.md. One thread, one event loop; run\n"
"     as many relays as needed behind one nginx upstream.\n"
"\n"
"OPTIONS\n"
"     -l listen  where to accept connections: unix:/path/to/sock (created\n"
"                with mode 0666; a stale socket file is removed first) or\n"
"                host:port ([::1]:port for IPv6).\n"
"     -R redis   the Redis server: the path of its unix socket, or host:port.\n"
"     -i id      the name of this relay instance, sent in the hello message\n"
"                ([A-Za-z0-9._-], at most 32 characters; default r1).\n"
"     -m host:port  serve Prometheus metrics at http://host:port/metrics\n"
"                (connections, rooms, frames and bytes out, slow listeners\n"
"                dropped, Redis reconnects); give a local, numeric address\n"
"                (IPv6 in brackets: [::1]:9101); a malformed one: exit 2.\n"
"     -O origin  a browser origin allowed to connect besides the Host the\n"
"                client connected to (e.g. https://music.example.org);\n"
"                repeatable; written as a browser sends it, scheme://host\n"
"                [:port] without a path or the default port (else exit 2).\n"
"                A request without Origin (the native client, scripts) is\n"
"                always let in; the token decides. Others: 403.\n"
"     -v         verbose: log every connection at debug level.\n"
"     -h         print this help and exit.\n"
"\n"
"ENVIRONMENT\n"
"     TUTTI_REDIS_PASSWORD  when set and not empty, sent to Redis with AUTH\n"
"                on every connection before anything else (never on the\n"
"                command line: ps shows that).\n"
"     TUTTI_REDIS_USER  with a password: the Redis ACL user to log in as.\n"
"\n"
"SIGNALS\n"
"     SIGTERM, SIGINT  stop accepting, close every WebSocket with 1001 and\n"
"                      exit within a second.\n"
"\n"
"EXIT STATUS\n"
"     0 after a signal, 1 when the relay cannot start, 2 on a usage error.\n"
"\n"
"EXAMPLES\n"
"     tutti-relay -l unix:run/relay1.sock -R run/redis.sock -i r1\n"
"     tutti-relay -l 127.0.0.1:8101 -R 127.0.0.1:6379 -i r2 -v\n", f);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	if (p == NULL) {
		log_err("out of memory (%zu bytes)", n);
		abort();
	}
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n != 0 ? n : 1, size != 0 ? size : 1);

	if (p == NULL) {
		log_err("out of memory (%zu x %zu bytes)", n, size);
		abort();
	}
	return p;
}

/* The value of the environment variable name, or NULL when it is unset or
 * empty. The string belongs to the environment. */
static const char *
relay_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static int
relay_id_valid(const char *id)
{
	size_t n = strlen(id), i;

	if (n == 0 || n > RELAY_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= '0' && id[i] <= '9') || id[i] == '.' || id[i] == '_' || id[i] == '-'))
			return 0;
	return 1;
}

/* Removes a socket file that nothing listens on any more. Returns 0 when
 * path is free, -1 when it is in use or is not a socket. */
static int
relay_unix_stale(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s exists and is not a socket", path);
		return -1;
	}
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0) {
		log_err("%s: another process is listening there", path);
		return -1;
	}
	if (unlink(path) != 0) {
		log_err("cannot remove the stale socket %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
relay_listen(struct relay *r)
{
	const char *spec = r->listen_spec, *colon;
	struct addrinfo hints, *ai = NULL;
	char host[256];
	size_t hl;
	int rc;

	if (strncmp(spec, "unix:", 5) == 0) {
		const char *path = spec + 5;

		if (*path == '\0' || relay_unix_stale(path) != 0)
			return -1;
		r->lsn_unix = 1;
		uv_pipe_init(r->loop, &r->lsn.pipe, 0);
		if ((rc = uv_pipe_bind(&r->lsn.pipe, path)) != 0) {
			log_err("bind %s: %s", path, uv_strerror(rc));
			return -1;
		}
		r->unix_path = strdup(path);
		if (chmod(path, 0666) != 0) {
			log_err("chmod %s: %s", path, strerror(errno));
			return -1;
		}
	} else {
		if ((colon = strrchr(spec, ':')) == NULL || colon[1] == '\0') {
			log_err("-l %s: expected unix:/path or host:port", spec);
			return -1;
		}
		hl = (size_t)(colon - spec);
		if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
			spec++;
			hl -= 2;
		}
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, spec, hl);
		host[hl] = '\0';
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		if ((rc = getaddrinfo(hl > 0 ? host : NULL, colon + 1, &hints, &ai)) != 0) {
			log_err("-l %s: %s", r->listen_spec, gai_strerror(rc));
			return -1;
		}
		uv_tcp_init(r->loop, &r->lsn.tcp);
		rc = uv_tcp_bind(&r->lsn.tcp, ai->ai_addr, 0);
		freeaddrinfo(ai);
		if (rc != 0) {
			log_err("bind %s: %s", r->listen_spec, uv_strerror(rc));
			return -1;
		}
	}
	r->lsn.h.data = r;
	if ((rc = uv_listen(&r->lsn.s, RELAY_BACKLOG, conn_on_accept)) != 0) {
		log_err("listen %s: %s", r->listen_spec, uv_strerror(rc));
		return -1;
	}
	return 0;
}

static void
relay_close_listener(struct relay *r)
{
	if (r->lsn.h.loop == NULL || uv_is_closing(&r->lsn.h))
		return;
	uv_close(&r->lsn.h, NULL);
	if (r->unix_path != NULL)
		unlink(r->unix_path);
}

/* Closes what is left and lets uv_run return. */
static void
relay_finish(struct relay *r)
{
	if (r->stopping == 2)
		return;
	r->stopping = 2;
	conn_abort_all(r);
	rds_stop(r);
	conn_flush_all(r);
	uv_close((uv_handle_t *)&r->flush, NULL);
	uv_close((uv_handle_t *)&r->kick, NULL);
	uv_close((uv_handle_t *)&r->tick, NULL);
	uv_close((uv_handle_t *)&r->keepalive, NULL);
	uv_close((uv_handle_t *)&r->stop_timer, NULL);
	uv_close((uv_handle_t *)&r->sigterm, NULL);
	uv_close((uv_handle_t *)&r->sigint, NULL);
	metricsrv_close(&r->metrics);
}

void
relay_maybe_done(struct relay *r)
{
	if (r->stopping == 1 && r->pending.n == 0 && r->open.n == 0 && r->closing.n == 0)
		relay_finish(r);
}

static void
relay_stop_timer_cb(uv_timer_t *t)
{
	relay_finish(t->data);
}

static void
relay_signal_cb(uv_signal_t *s, int signum)
{
	struct relay *r = s->data;

	if (r->stopping) {		/* a second signal: now */
		relay_finish(r);
		return;
	}
	log_info("%s: closing %zu connections", strsignal(signum),
	    r->pending.n + r->open.n + r->closing.n);
	r->stopping = 1;
	uv_timer_start(&r->stop_timer, relay_stop_timer_cb, RELAY_STOP_MS, 0);
	relay_close_listener(r);
	conn_stop_all(r);
	relay_maybe_done(r);
}

static void
relay_flush_cb(uv_check_t *h)
{
	conn_flush_all(h->data);
}

static void
relay_tick_cb(uv_timer_t *t)
{
	conn_tick(t->data);
	rds_heartbeat(t->data);
}

static void
relay_keepalive_cb(uv_timer_t *t)
{
	conn_keepalive(t->data);
}

/* Every listener is a descriptor: raises the soft limit to the hard one
 * (a stock soft limit of 1024 would cap the relay near 1000 listeners). */
static void
relay_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_warn("cannot raise RLIMIT_NOFILE: %s", strerror(errno));
			getrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	log_info("at most %llu open files (listeners and sockets)",
	    (unsigned long long)rl.rlim_cur);
}

/* Refuses an -O value that no browser sends (common/origin.c). Returns 0,
 * or -1 after logging which one and why. */
static int
relay_origins_valid(const struct relay *r)
{
	char why[192];
	size_t i;

	for (i = 0; i < r->norigins; i++)
		if (origin_check(r->origins[i], strlen(r->origins[i]), why, sizeof(why)) != 0) {
			log_err("-O %s: %s", r->origins[i], why);
			return -1;
		}
	return 0;
}

/* Connects to everything the relay needs. Returns the exit status: 0 when
 * running, 1 when the listening socket fails, 2 for a malformed -R. */
static int
relay_start(struct relay *r)
{
	if (rds_init(r, r->redis_spec) != 0) {
		log_err("-R %s: expected a unix socket path or host:port", r->redis_spec);
		return 2;
	}
	relay_raise_nofile();
	if (relay_listen(r) != 0)
		return 1;
	uv_signal_start(&r->sigterm, relay_signal_cb, SIGTERM);
	uv_signal_start(&r->sigint, relay_signal_cb, SIGINT);
	uv_timer_start(&r->tick, relay_tick_cb, RELAY_TICK_MS, RELAY_TICK_MS);
	uv_timer_start(&r->keepalive, relay_keepalive_cb, RELAY_KEEPALIVE_MS, RELAY_KEEPALIVE_MS);
	log_info("listening on %s as %s, redis %s", r->listen_spec, r->id, r->redis_spec);
	rds_start(r);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct relay relay;	/* the one context; static for its read buffer */
	static const char resync[] = "{\"type\":\"resync\",\"reason\":\"redis\"}";
	static const uint8_t bye[2] = { WS_CLOSE_GOING_AWAY >> 8, WS_CLOSE_GOING_AWAY & 0xff };
	struct relay *r = &relay;
	uv_loop_t loop;
	const char *metrics_spec = NULL;
	char why[128];
	int opt, verbose = 0, rc;

	r->id = "r1";
	while ((opt = getopt(argc, argv, "hl:m:R:i:O:v")) != -1) {
		switch (opt) {
		case 'O':
			if (r->norigins == RELAY_ORIGINS_MAX) {
				fprintf(stderr, "tutti-relay: at most %d -O options\n", RELAY_ORIGINS_MAX);
				return 2;
			}
			r->origins = r->origins ? r->origins : xcalloc(RELAY_ORIGINS_MAX, sizeof(char *));
			r->origins[r->norigins++] = optarg;
			break;
		case 'l': r->listen_spec = optarg; break;
		case 'm': metrics_spec = optarg; break;
		case 'R': r->redis_spec = optarg; break;
		case 'i': r->id = optarg; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || r->listen_spec == NULL || r->redis_spec == NULL) {
		usage(stderr);
		return 2;
	}
	log_init("tutti-relay", verbose ? LOG_DEBUG : LOG_INFO);
	/* From the environment only: a command line shows in ps. */
	r->redis_password = relay_env("TUTTI_REDIS_PASSWORD");
	r->redis_user = r->redis_password != NULL ? relay_env("TUTTI_REDIS_USER") : NULL;
	if (!relay_id_valid(r->id)) {
		log_err("-i %s: use 1 to %d characters of [A-Za-z0-9._-]", r->id, RELAY_ID_MAX);
		return 2;
	}
	if (relay_origins_valid(r) != 0)
		return 2;	/* r is static: its origins stay reachable */
	if (metrics_spec != NULL && metricsrv_spec_check(metrics_spec, why, sizeof(why)) != 0) {
		log_err("-m %s: %s", metrics_spec, why);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (uv_loop_init(&loop) != 0)
		return 1;
	r->loop = &loop;
	loop.data = r;
	r->ping_frame = outbuf_frame(WS_OP_PING, NULL, 0);
	r->resync_frame = outbuf_frame(WS_OP_TEXT, resync, sizeof(resync) - 1);
	r->bye_frame = outbuf_frame(WS_OP_CLOSE, bye, sizeof(bye));
	uv_check_init(&loop, &r->flush);
	uv_idle_init(&loop, &r->kick);
	r->flush.data = r->kick.data = r;
	uv_check_start(&r->flush, relay_flush_cb);
	uv_unref((uv_handle_t *)&r->flush);	/* does not keep the loop alive */
	uv_timer_init(&loop, &r->tick);
	uv_timer_init(&loop, &r->keepalive);
	uv_timer_init(&loop, &r->stop_timer);
	uv_signal_init(&loop, &r->sigterm);
	uv_signal_init(&loop, &r->sigint);
	r->tick.data = r->keepalive.data = r->stop_timer.data = r;
	r->sigterm.data = r->sigint.data = r;
	if ((rc = relay_start(r)) == 0 && metrics_spec != NULL && metrics_listen(r, metrics_spec) != 0)
		rc = 1;
	if (rc != 0) {
		r->stopping = 1;
		relay_close_listener(r);
		relay_finish(r);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	room_free_all(r);
	free(r->origins);
	conn_pool_free(r);
	outbuf_unref(r->ping_frame);
	outbuf_unref(r->resync_frame);
	outbuf_unref(r->bye_frame);
	free(r->unix_path);
	if (uv_loop_close(&loop) != 0)
		log_warn("handles left open at exit");
	if (rc == 0)
		log_info("stopped");
	return rc;
}
