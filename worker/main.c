/*
 * main.c - tutti-worker: command line, logging, then the worker's loop
 * (worker/worker.c) until SIGTERM or SIGINT.
 */
#include "log.h"
#include "metricsrv.h"
#include "worker.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAIN_ID_MAX 256

#define MAIN_SYNOPSIS \
"     tutti-worker [-v] [-d datadir] [-R redis] [-i id] [-L lead_ms] [-M margin_ms]\n" \
"                  [-X lead_max_ms] [-b beacon_ms] [-m host:port]\n" \
"                  [-g grace_ms] [-I idle_s] [-P retain_s] [-s sweep_ms] [-l lease_ms]\n"

/* Prints the manual page on stdout (-h), or the synopsis on stderr after a
 * usage error. */
static void
usage(int full)
{
	if (!full) {
		fprintf(stderr, "usage:\n" MAIN_SYNOPSIS "see tutti-worker -h\n");
		return;
	}
	printf(
"NAME\n"
"     tutti-worker - the playback scheduler of tutti\n"
"\n"
"SYNOPSIS\n"
MAIN_SYNOPSIS
"\n"
"DESCRIPTION\n"
"     tutti-worker owns the playback timeline of every room. Several may run:\n"
"     the one holding the lease tutti:worker:lease (its id, expiring after\n"
"     lease_ms, renewed every third of it) is active, the others stand by and\n"
"     try to take the lease as often. On taking it a worker claims the\n"
"     entries other workers received but never acknowledged, restores every\n"
"     open room's timeline from SQLite (an item that ended while no worker ran\n"
"     is advanced past and that playback event published), rebuilds the Redis\n"
"     keys of every open room, and only then reads new commands. It takes the\n"
"     lease over again after every reconnect to Redis and when Redis lost it\n"
"     (flushed, restarted); one that cannot renew it in time stops acting at\n"
"     once and stands by.\n"
"\n"
"     The active worker reads control commands from the Redis stream\n"
"     tutti:cmd as a member of the consumer group workers, applies them in\n"
"     order, stores each room's anchor in SQLite, publishes playback events on\n"
"     tutti:ev:{code}, answers on tutti:reply:{req}, sends a beacon every\n"
"     beacon_ms while a room plays, and advances to the next item when one\n"
"     ends. It keeps tutti:worker:alive set while it can take commands. It\n"
"     applies the presence entries the relays add to the stream (a user's\n"
"     first listener opened, their last one closed). Every sweep_ms it\n"
"     promotes the longest-present user (online ones first) of a room whose\n"
"     admin has left or been offline for grace_ms, closes the rooms nobody has\n"
"     listened to for idle_s, and takes back the listeners of relays whose\n"
"     tutti:relay:alive:{id} key expired.\n"
"\n"
"OPTIONS\n"
"     -d datadir   data directory; the database is datadir/tutti.db, created and\n"
"                  migrated by tutti-api (default: data).\n"
"     -R redis     Redis server: a unix socket path (anything with a '/' or\n"
"                  without a ':') or HOST:PORT (default: 127.0.0.1:6379).\n"
"     -i id        consumer name in the group and value of the lease and\n"
"                  liveness keys (default: worker-HOSTNAME-PID); each worker\n"
"                  needs its own.\n"
"     -L lead_ms   the least a start is scheduled ahead of now, 0 to 60000\n"
"                  (default: 250). A room's lead adapts to the round trips its\n"
"                  listeners report through the relays (tutti:rtt:{relay}):\n"
"                  max(lead_ms, 2 x p95 + margin_ms), at most lead_max_ms.\n"
"     -M margin_ms added to twice the room's p95 round trip, 0 to 60000\n"
"                  (default: 50).\n"
"     -X lead_max_ms  the cap of the adaptive lead, 0 to 60000 (default:\n"
"                  2000); below lead_ms, lead_ms wins.\n"
"     -b beacon_ms beacon period of a playing room, 50 to 60000 (default: 1000).\n"
"     -g grace_ms  how long a room may be without its admin before the\n"
"                  longest-present user is promoted, 0 to 3600000 (default:\n"
"                  5000); a page reload within it does not change the admin.\n"
"     -I idle_s    how long a room may stay empty (nobody present, or nobody\n"
"                  listening since the last listener left) before it is closed, 1 to\n"
"                  31536000 (default: 1800).\n"
"     -P retain_s  how long the rows of a closed room are kept (its chat,\n"
"                  requests, people, playlist and uploads; the library's\n"
"                  tracks stay) before the sweep deletes them, 1 to 315360000,\n"
"                  or 0 to keep them for ever (default: 2592000, 30 days).\n"
"     -s sweep_ms  period of the sweep that promotes admins, closes idle rooms,\n"
"                  purges closed ones and checks the relays, 50 to 60000\n"
"                  (default: 1000).\n"
"     -l lease_ms  expiry of the lease, 300 to 60000 (default: 2000): a standby\n"
"                  takes over from a dead worker between 2/3 of it and 4/3 of it\n"
"                  after the death.\n"
"     -m host:port serve Prometheus metrics at http://host:port/metrics (a\n"
"                  numeric address, IPv6 in brackets; give a local one:\n"
"                  nothing guards it): tutti_worker_active (1 on the worker\n"
"                  that holds the lease, 0 on a standby), fence epoch, lease\n"
"                  takeovers, playing rooms, commands by result and their lag\n"
"                  from the stream, beacons, advances, idle closes, purges,\n"
"                  admin promotions, Redis reconnects. Each worker needs its\n"
"                  own port. Off by default.\n"
"     -v           log debug records too (one per applied command).\n"
"     -h           print this help.\n"
"\n"
"ENVIRONMENT\n"
"     TUTTI_REDIS_PASSWORD  when set and not empty, sent to Redis with AUTH\n"
"                  on every connection before anything else (never on the\n"
"                  command line: ps shows that).\n"
"     TUTTI_REDIS_USER  with a password: the Redis ACL user to log in as.\n"
"\n"
"SIGNALS\n"
"     SIGTERM, SIGINT  finish the entries in hand, give the lease back, flush\n"
"                      the queued Redis writes and exit 0; a second signal\n"
"                      exits at once.\n"
"\n"
"EXIT STATUS\n"
"     0 after a signal, 1 when start-up fails (e.g. the -m port is taken), 2 on\n"
"     a usage error (e.g. a malformed -m address).\n"
"\n"
"SEE ALSO\n"
"     tutti-api(8), tutti-relay(8), docs/protocol.md\n");
}

/* The value of the environment variable name, or NULL when it is unset or
 * empty. The string belongs to the environment. */
static const char *
main_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* Parses a decimal option value within [lo, hi]. Returns 0 or -1. */
static int
main_number(const char *s, long lo, long hi, long *v)
{
	char *end;
	long x = strtol(s, &end, 10);

	if (end == s || *end != '\0' || x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

/* Parses the command line into cfg (strings borrowed from argv or from the
 * caller's buffers). Returns 0, 1 after -h, or -1 on a usage error. */
static int
main_options(int argc, char **argv, struct worker_config *cfg, const char **datadir,
    int *verbose)
{
	long margin_ms = LEAD_MARGIN_MS_DEFAULT, max_ms = LEAD_MAX_MS_DEFAULT;
	long lead_ms = LEAD_MIN_MS_DEFAULT, beacon_ms = 1000, grace_ms = 5000, idle_s = 1800;
	long sweep_ms = 1000, lease_ms = 2000, retain_s = 30L * 86400;
	char why[128];
	int c;

	while ((c = getopt(argc, argv, "d:R:i:L:M:X:b:g:I:P:s:l:m:vh")) != -1) {
		switch (c) {
		case 'd': *datadir = optarg; break;
		case 'R': cfg->redis = optarg; break;
		case 'i': cfg->id = optarg; break;
		case 'L':
			if (main_number(optarg, 0, 60000, &lead_ms) != 0) {
				fprintf(stderr, "tutti-worker: -L takes 0 to 60000 (ms)\n");
				return -1;
			}
			break;
		case 'M':
			if (main_number(optarg, 0, 60000, &margin_ms) != 0) {
				fprintf(stderr, "tutti-worker: -M takes 0 to 60000 (ms)\n");
				return -1;
			}
			break;
		case 'X':
			if (main_number(optarg, 0, 60000, &max_ms) != 0) {
				fprintf(stderr, "tutti-worker: -X takes 0 to 60000 (ms)\n");
				return -1;
			}
			break;
		case 'b':
			if (main_number(optarg, 50, 60000, &beacon_ms) != 0) {
				fprintf(stderr, "tutti-worker: -b takes 50 to 60000 (ms)\n");
				return -1;
			}
			break;
		case 'g':
			if (main_number(optarg, 0, 3600000, &grace_ms) != 0) {
				fprintf(stderr, "tutti-worker: -g takes 0 to 3600000 (ms)\n");
				return -1;
			}
			break;
		case 'I':
			if (main_number(optarg, 1, 31536000, &idle_s) != 0) {
				fprintf(stderr, "tutti-worker: -I takes 1 to 31536000 (s)\n");
				return -1;
			}
			break;
		case 'P':
			if (main_number(optarg, 0, 315360000, &retain_s) != 0) {
				fprintf(stderr, "tutti-worker: -P takes 0 to 315360000 (s)\n");
				return -1;
			}
			break;
		case 's':
			if (main_number(optarg, 50, 60000, &sweep_ms) != 0) {
				fprintf(stderr, "tutti-worker: -s takes 50 to 60000 (ms)\n");
				return -1;
			}
			break;
		case 'l':
			if (main_number(optarg, 300, 60000, &lease_ms) != 0) {
				fprintf(stderr, "tutti-worker: -l takes 300 to 60000 (ms)\n");
				return -1;
			}
			break;
		case 'm':
			if (metricsrv_spec_check(optarg, why, sizeof(why)) != 0) {
				fprintf(stderr, "tutti-worker: -m %s: %s\n", optarg, why);
				return -1;
			}
			cfg->metrics = optarg;
			break;
		case 'v': *verbose = 1; break;
		case 'h': return 1;
		default: return -1;
		}
	}
	if (optind != argc || (cfg->id != NULL && (cfg->id[0] == '\0' ||
	    cfg->id[strcspn(cfg->id, " \t\r\n")] != '\0')))
		return -1;
	cfg->lead_us = (int64_t)lead_ms * 1000;
	cfg->lead_margin_us = (int64_t)margin_ms * 1000;
	cfg->lead_max_us = (int64_t)max_ms * 1000;
	cfg->beacon_ms = beacon_ms;
	cfg->grace_us = (int64_t)grace_ms * 1000;
	cfg->idle_us = (int64_t)idle_s * 1000000;
	cfg->retain_us = (int64_t)retain_s * 1000000;
	cfg->sweep_ms = sweep_ms;
	cfg->lease_ms = lease_ms;
	return 0;
}

int
main(int argc, char **argv)
{
	struct worker_config cfg = { .redis = "127.0.0.1:6379" };
	char db_path[PATH_MAX], id[MAIN_ID_MAX], host[128] = "localhost";
	const char *datadir = "data";
	struct worker w;
	int verbose = 0, rc;

	if ((rc = main_options(argc, argv, &cfg, &datadir, &verbose)) != 0) {
		usage(rc > 0);
		return rc > 0 ? 0 : 2;
	}
	log_init("tutti-worker", verbose ? LOG_DEBUG : LOG_INFO);
	/* From the environment only: a command line shows in ps. */
	cfg.redis_password = main_env("TUTTI_REDIS_PASSWORD");
	cfg.redis_user = cfg.redis_password != NULL ? main_env("TUTTI_REDIS_USER") : NULL;
	if (cfg.id == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(id, sizeof(id), "worker-%s-%ld", host, (long)getpid());
		cfg.id = id;
	}
	if ((size_t)snprintf(db_path, sizeof(db_path), "%s/tutti.db", datadir) >=
	    sizeof(db_path)) {
		log_err("data directory path too long");
		return 1;
	}
	cfg.db_path = db_path;
	rc = worker_init(&w, &cfg) == 0 ? worker_run(&w) : 1;
	worker_free(&w);
	return rc;
}
