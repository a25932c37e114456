/*
 * cli.h - what the parts of tutti, the native client, share: the context
 * every command gets (server, output mode, config directory), the exit
 * codes (documented in the man page), and the entry points of the commands
 * that live in their own files. main.c parses the global options and
 * dispatches; config.c, http.c and the cmd_*.c files do the work.
 */
#ifndef TUTTI_CLI_H
#define TUTTI_CLI_H

/* Exit codes: the same for every command (tutti(1), EXIT STATUS). */
enum cli_exit {
	CLI_OK = 0,		/* done */
	CLI_FAIL = 1,		/* the server refused (4xx/5xx other than below) or a local error */
	CLI_USAGE = 2,		/* bad arguments or options */
	CLI_NET = 3,		/* the server could not be reached */
	CLI_AUTH = 4,		/* 401/403: no token for the room, or not allowed */
	CLI_NOTFOUND = 5,	/* 404/410: no such room, item, request, upload */
	CLI_CONFLICT = 6,	/* 409/412/423: taken name, duplicate, stale version */
};

/* The context of one run: filled by main.c from options, environment and
 * the config file; commands only read it. Strings are owned by main.c. */
struct cli {
	const char *server;	/* base URL without a trailing slash, e.g. http://127.0.0.1:8080 */
	const char *config_dir;	/* $XDG_CONFIG_HOME/tutti, else ~/.config/tutti */
	const char *room;	/* --room CODE, else the room last joined (may be NULL) */
	int json;		/* --json: one JSON document on stdout, nothing else there */
	int verbose;		/* -v: requests and timings on stderr */
	void *http;		/* the run's libcurl handle: http_open() in main.c, http_close() */
};

/* A command: argv[0] is its name; returns an enum cli_exit. */
typedef int cli_cmd_fn(struct cli *c, int argc, char **argv);

/* ---- CORE: the commands of cmd_*.c, upload.c and tail.c ---- */

#ifndef TUTTI_VERSION
#define TUTTI_VERSION "0.1.0"	/* tutti --version, and the User-Agent tutti/VERSION */
#endif

/* cmd_rooms.c: rooms and people */
cli_cmd_fn cmd_rooms, cmd_create, cmd_join, cmd_leave, cmd_status, cmd_users,
    cmd_kick, cmd_admin, cmd_close, cmd_set, cmd_tracks;
/* cmd_play.c: the playlist and playback control */
cli_cmd_fn cmd_playlist, cmd_add, cmd_remove, cmd_move, cmd_play, cmd_pause, cmd_resume,
    cmd_stop, cmd_next, cmd_prev, cmd_seek;
/* cmd_chat.c: chat and song requests */
cli_cmd_fn cmd_say, cmd_chat, cmd_request, cmd_requests, cmd_approve, cmd_reject;
/* upload.c: tutti upload FILE... (tus 1.0.0) */
cli_cmd_fn cmd_upload;
/* tail.c: tutti tail, the room's events one a line */
cli_cmd_fn cmd_tail;

/* tutti listen CODE ... (listen.c) */
cli_cmd_fn cmd_listen;

#endif
