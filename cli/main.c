/*
 * main.c - tutti, the native client: the global options (before the
 * command, or after it), the server address (--server, $TUTTI_SERVER, the
 * config file, the default), the room (--room, else the room last joined)
 * and the dispatch to the commands of cmd_*.c, upload.c, tail.c and
 * listen.c. Every command returns an exit status of cli.h.
 */
#include "cli.h"

#include "cmd.h"
#include "config.h"
#include "http.h"
#include "log.h"

#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_DEFAULT_SERVER "http://127.0.0.1:8080"

struct cli_cmd {
	const char *name;
	cli_cmd_fn *fn;
	const char *summary;
};

static const struct cli_cmd cli_cmds[] = {
	{ "rooms", cmd_rooms, "list the public rooms" },
	{ "create", cmd_create, "create a room and become its admin" },
	{ "join", cmd_join, "join a room by its code" },
	{ "leave", cmd_leave, "leave the room" },
	{ "status", cmd_status, "the room: what plays, where, who listens" },
	{ "users", cmd_users, "the people in the room" },
	{ "playlist", cmd_playlist, "the room's playlist" },
	{ "play", cmd_play, "play, or jump to item N of the playlist" },
	{ "pause", cmd_pause, "pause" },
	{ "resume", cmd_resume, "resume where it was paused" },
	{ "stop", cmd_stop, "stop (back to the start of the item)" },
	{ "next", cmd_next, "the next item" },
	{ "prev", cmd_prev, "the previous item" },
	{ "seek", cmd_seek, "seek to a position, or by +/- seconds" },
	{ "add", cmd_add, "add a library track to the playlist" },
	{ "remove", cmd_remove, "remove item N from the playlist (admin)" },
	{ "move", cmd_move, "move item N of the playlist elsewhere (admin)" },
	{ "tracks", cmd_tracks, "search the library" },
	{ "upload", cmd_upload, "upload MP3 files into the room (resumable)" },
	{ "request", cmd_request, "ask for a song" },
	{ "requests", cmd_requests, "the song requests" },
	{ "approve", cmd_approve, "approve a song request (admin)" },
	{ "reject", cmd_reject, "reject a song request (admin)" },
	{ "say", cmd_say, "say something in the chat" },
	{ "chat", cmd_chat, "the last chat messages" },
	{ "tail", cmd_tail, "follow the room's events, one a line" },
	{ "kick", cmd_kick, "remove someone from the room (admin)" },
	{ "admin", cmd_admin, "hand the admin role over (admin)" },
	{ "set", cmd_set, "change the room's settings (admin)" },
	{ "close", cmd_close, "close the room for everyone (admin)" },
	{ "listen", cmd_listen, "play the room through the speakers, in sync" },
	{ NULL, NULL, NULL }
};

static void
usage(FILE *f)
{
	const struct cli_cmd *k;

	fputs(
"NAME\n"
"     tutti - the command line client of a tutti server\n"
"\n"
"SYNOPSIS\n"
"     tutti [--server URL] [--room CODE] [--json] [-v] COMMAND [ARGS]\n"
"     tutti COMMAND --help\n"
"     tutti --help | --version\n"
"\n"
"DESCRIPTION\n"
"     Every call of the tutti REST API, for people and scripts, and a\n"
"     synchronized player. Join a room once (tutti join CODE --name NAME);\n"
"     its token is remembered and the room becomes the default of the\n"
"     other commands.\n"
"\n"
"OPTIONS\n"
"     -s, --server URL  the server (default: $TUTTI_SERVER, else server=\n"
"                       in the config file, else " CLI_DEFAULT_SERVER ").\n"
"     -r, --room CODE   the room (default: the room last joined on the server).\n"
"     -j, --json        print one JSON document on stdout (tail: one per line).\n"
"     -v, --verbose     show each request and its timing on stderr.\n"
"     -h, --help        print this help; tutti COMMAND --help for a command.\n"
"     -V, --version     print the version.\n"
"     These options may also follow the command.\n"
"\n"
"COMMANDS\n", f);
	for (k = cli_cmds; k->name != NULL; k++)
		fprintf(f, "     %-10s %s\n", k->name, k->summary);
	fputs(
"\n"
"FILES\n"
"     $XDG_CONFIG_HOME/tutti (else ~/.config/tutti): config (server=, name=),\n"
"     rooms.json (tokens), uploads.json (unfinished uploads).\n"
"\n"
"EXIT STATUS\n"
"     0 done, 1 refused or failed, 2 bad arguments, 3 server unreachable,\n"
"     4 not joined or not allowed, 5 not found, 6 conflict (name taken...).\n"
"\n"
"EXAMPLES\n"
"     tutti create --name alice --room-name Friday --public\n"
"     tutti --server http://music.local:8080 join K7Q2M --name bob\n"
"     tutti upload ~/Music/*.mp3 && tutti play\n"
"     tutti --json status | jq .playback.state\n"
"\n"
"See tutti(1) (man ./cli/tutti.1) and docs/cli.md.\n", f);
}

static const struct cli_cmd *
cli_find(const char *name)
{
	const struct cli_cmd *k;

	for (k = cli_cmds; k->name != NULL; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

/* The global options as they were given (argv strings; NULL: not given). */
struct cli_opts {
	const char *server;
	const char *room;
	int json;
	int verbose;
};

/* Takes the global options that follow the command out of argv (until a
 * "--"), so `tutti status --json` works like `tutti --json status`.
 * Returns the new argc, or -1 when --server or --room lacks its value. */
static int
cli_take_globals(int argc, char **argv, struct cli_opts *o)
{
	int i, n = 1, dashdash = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;

		if (dashdash || strcmp(a, "--") == 0) {
			dashdash = 1;
			argv[n++] = argv[i];
			continue;
		}
		if (strcmp(a, "--json") == 0 || strcmp(a, "-j") == 0)
			o->json = 1;
		else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0)
			o->verbose = 1;
		else if (strncmp(a, "--server=", 9) == 0)
			o->server = a + 9;
		else if (strncmp(a, "--room=", 7) == 0)
			o->room = a + 7;
		else if (strcmp(a, "--server") == 0)
			dst = &o->server;
		else if (strcmp(a, "--room") == 0)
			dst = &o->room;
		else
			argv[n++] = argv[i];
		if (dst != NULL) {
			if (i + 1 == argc) {
				fprintf(stderr, "tutti: %s needs an argument\n", a);
				return -1;
			}
			*dst = argv[++i];
		}
	}
	argv[n] = NULL;
	return n;
}

/* Parses the options before the command. Returns the index of the command
 * in argv, or -1 with *rc the exit status (help, version, an error). */
static int
cli_parse(int argc, char **argv, struct cli_opts *o, int *rc)
{
	static const struct option lo[] = {
		{ "server", required_argument, NULL, 's' },
		{ "room", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+s:r:jvhV", lo, NULL)) != -1) {
		switch (opt) {
		case 's': o->server = optarg; break;
		case 'r': o->room = optarg; break;
		case 'j': o->json = 1; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); *rc = CLI_OK; return -1;
		case 'V': printf("tutti %s\n", TUTTI_VERSION); *rc = CLI_OK; return -1;
		default:
			if (optopt != 0 && strncmp(argv[optind - 1], "--", 2) != 0)
				fprintf(stderr, "tutti: %s -%c\n", strchr("sr", optopt) ?
				    "missing the argument of" : "unknown option", optopt);
			else
				fprintf(stderr, "tutti: unknown option or missing argument: %s\n",
				    argv[optind - 1]);
			fputs("usage: tutti [--server URL] [--room CODE] [--json] [-v] COMMAND "
			    "[ARGS]\n", stderr);
			*rc = CLI_USAGE;
			return -1;
		}
	}
	if (optind == argc) {
		fputs("tutti: no command given\nusage: tutti [--server URL] [--room CODE] "
		    "[--json] [-v] COMMAND [ARGS]\n(tutti --help lists the commands)\n", stderr);
		*rc = CLI_USAGE;
		return -1;
	}
	return optind;
}

/* Fills c from the options, the environment and the config file: the
 * server (normalized), the config directory and the room. Returns CLI_OK
 * or CLI_USAGE after saying why. The strings are stored in own[]. */
static int
cli_setup(struct cli *c, const struct cli_opts *o, char **own)
{
	const char *src = "--server", *env = getenv("TUTTI_SERVER");
	char why[256], code[CMD_CODE_LEN + 1], *conf = NULL, *url;

	c->json = o->json;
	c->verbose = o->verbose;
	c->config_dir = own[0] = cfg_dir();
	if (o->server != NULL)
		url = http_base_url(o->server, why, sizeof(why));
	else if (env != NULL && *env != '\0') {
		src = "TUTTI_SERVER";
		url = http_base_url(env, why, sizeof(why));
	} else if ((conf = cfg_get(c, "server")) != NULL && *conf != '\0') {
		src = "server= in the config file";
		url = http_base_url(conf, why, sizeof(why));
	} else {
		src = "the default";
		url = http_base_url(CLI_DEFAULT_SERVER, why, sizeof(why));
	}
	if (url == NULL) {
		fprintf(stderr, "tutti: %s: %s\n", src, why);
		free(conf);
		return CLI_USAGE;
	}
	free(conf);
	c->server = own[1] = url;
	if (o->room != NULL) {
		if (cmd_code(o->room, code) != 0) {
			fprintf(stderr, "tutti: --room %s: not a room code (5 characters of "
			    "23456789ABCDEFGHJKMNPQRSTUVWXYZ)\n", o->room);
			return CLI_USAGE;
		}
		c->room = own[2] = strdup(code);
	} else
		c->room = own[2] = cfg_last_room(c);
	return CLI_OK;
}

int
main(int argc, char **argv)
{
	struct cli_opts o = { NULL, NULL, 0, 0 };
	const struct cli_cmd *k;
	struct cli c = { NULL, NULL, NULL, 0, 0, NULL };
	char *own[3] = { NULL, NULL, NULL };
	char *help[3];
	int first, rc = CLI_OK, n;

	setlocale(LC_CTYPE, "");
	if ((first = cli_parse(argc, argv, &o, &rc)) < 0)
		return rc;
	argc -= first;
	argv += first;
	if (strcmp(argv[0], "help") == 0) {	/* tutti help [COMMAND] */
		if (argc < 2) {
			usage(stdout);
			return CLI_OK;
		}
		help[0] = argv[1];
		help[1] = "--help";
		help[2] = NULL;
		argv = help;
		argc = 2;
	}
	if ((k = cli_find(argv[0])) == NULL) {
		fprintf(stderr, "tutti: no command %s\n(tutti --help lists the commands)\n",
		    argv[0]);
		return CLI_USAGE;
	}
	if ((n = cli_take_globals(argc, argv, &o)) < 0)
		return CLI_USAGE;
	log_init("tutti", o.verbose ? LOG_DEBUG : LOG_WARN);
	c.http = http_open();
	if ((rc = cli_setup(&c, &o, own)) == CLI_OK) {
		optind = 0;
		rc = k->fn(&c, n, argv);
	}
	http_close(&c);
	free(own[0]);
	free(own[1]);
	free(own[2]);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fputs("tutti: cannot write the output\n", stderr);
		if (rc == CLI_OK)
			rc = CLI_FAIL;
	}
	return rc;
}
