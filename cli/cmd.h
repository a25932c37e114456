/*
 * cmd.h - what the command files of tutti (cmd_*.c, upload.c, tail.c)
 * share: room codes as people type them, the room a command works on with
 * its remembered token, REST calls about that room that explain a void
 * token, and finding a person of the room by name or id.
 */
#ifndef TUTTI_CLI_CMD_H
#define TUTTI_CLI_CMD_H

#include "cli.h"
#include "out.h"

#include <jansson.h>
#include <stdint.h>

#define CMD_CODE_LEN 5

/* The room a command works on. */
struct cmd_room {
	char code[CMD_CODE_LEN + 1];
	char *token;		/* remembered by join or create */
	char *name;		/* the name joined with */
};

/*
 * Normalizes a room code as typed: upper case, surrounding spaces dropped;
 * a share link (http://host/r/CODE) gives its code. Stores the code in out
 * (CMD_CODE_LEN + 1 bytes). Returns 0, or -1 when it is not a room code
 * (5 characters of 23456789ABCDEFGHJKMNPQRSTUVWXYZ).
 */
int cmd_code(const char *in, char *out);

/*
 * Fills r with the room of the command (c->room: --room, else the room
 * last joined) and its token. Returns CLI_OK; else, after telling the user
 * how to join, CLI_AUTH (no room, or no token for it). Free r with
 * cmd_room_free() either way.
 */
int cmd_room(const struct cli *c, struct cmd_room *r);
void cmd_room_free(struct cmd_room *r);

/*
 * http_json_ex() on /api/rooms/CODE + sub (sub "" or from "/" on; printf-style)
 * with the room's token. When the token turns out void (401), or the room
 * is gone (404 "No such room"), forgets it and says how to join again.
 * Returns an enum cli_exit; *out as for http_json.
 */
int cmd_api(const struct cli *c, struct cmd_room *r, const char *method,
    const char *const *headers, json_t *body, json_t **out, const char *sub, ...)
    __attribute__((format(printf, 7, 8)));

/*
 * cmd_api, except that an error answer whose status is quiet (0: none) is
 * not printed (the caller handles it: a 412 it retries), and *status (may
 * be NULL) gets the HTTP status, 0 when no answer came.
 */
int cmd_api_ex(const struct cli *c, struct cmd_room *r, long quiet, long *status,
    const char *method, const char *const *headers, json_t *body, json_t **out,
    const char *sub, ...) __attribute__((format(printf, 9, 10)));

/*
 * Parses the argv of a command that has no options but --help: returns the
 * index of the first of its min..max (max -1: any number) arguments, or
 * -1 with *rc the exit status (help printed, or a usage error).
 */
int cmd_args(const struct cli_help *h, int argc, char **argv, int min, int max, int *rc);

/*
 * Finds the user spec names in users (a JSON array of {id, name, ...}):
 * a decimal spec is an id first; otherwise, or when no one has that id,
 * a name, ignoring ASCII case as the server does. Returns the user
 * (borrowed), or NULL.
 */
json_t *cmd_find_user(json_t *users, const char *spec);

/* Checks typed text against the server's rules before sending it: what
 * (for the message) must be min..max code points after trimming, valid
 * UTF-8, no control characters (newline and tab allowed when multiline).
 * Returns 0, or prints why and returns -1. */
int cmd_text_ok(const struct cli_help *h, const char *what, const char *s, long min,
    long max, int multiline);

/* The title of a track object ("Untitled" when empty), and "TITLE — ARTIST"
 * when it has an artist, into buf. Returns buf. */
char *cmd_track_label(char *buf, size_t n, json_t *track);

/* The JSON integer at key of o, or dflt when absent or not an integer. */
int64_t cmd_int(json_t *o, const char *key, int64_t dflt);

/* The JSON string at key of o, or "" when absent. */
const char *cmd_str(json_t *o, const char *key);

#endif
