/*
 * config.h - what tutti remembers between runs, under the config directory
 * ($XDG_CONFIG_HOME/tutti, else ~/.config/tutti, mode 0700):
 *   config        key=value lines: server=URL, name=NAME
 *   rooms.json    per server: the token and name of each joined room, and
 *                 the room last joined (the default room of the commands)
 *   uploads.json  per server: the tus URL of each unfinished upload
 * The JSON files are mode 0600, rewritten atomically (a temporary file and
 * rename) under an flock(2) on the directory's "lock" file.
 */
#ifndef TUTTI_CLI_CONFIG_H
#define TUTTI_CLI_CONFIG_H

#include "cli.h"

#include <jansson.h>

/* Returns the config directory as a malloc'd path (caller frees):
 * $XDG_CONFIG_HOME/tutti when XDG_CONFIG_HOME is an absolute path, else
 * $HOME/.config/tutti (the password database's home without HOME).
 * Returns NULL when no home is known. Creates nothing. */
char *cfg_dir(void);

/* Reads key from the config file of c->config_dir (lines key=value, blank
 * lines and lines starting with # ignored, spaces around both trimmed).
 * Returns a malloc'd value (caller frees), or NULL when the file or the key
 * is absent. A malformed line is reported on stderr once and skipped. */
char *cfg_get(const struct cli *c, const char *key);

/* The display name used when --name is not given: the config file's name=,
 * else the login name, else "listener". Returns a malloc'd string. */
char *cfg_default_name(const struct cli *c);

/* Returns 0 and stores malloc'd copies (caller frees both) of the token and
 * the display name remembered for room code on c->server; -1 when none (or
 * the file is unreadable: reported on stderr). name may be NULL. */
int cfg_token_get(const struct cli *c, const char *code, char **token, char **name);

/* Remembers token and name for room code on c->server and makes code the
 * room last joined there. Returns 0, or -1 after printing why on stderr. */
int cfg_token_put(const struct cli *c, const char *code, const char *token, const char *name);

/* Forgets the token of room code on c->server (and the room last joined,
 * when it was code). Returns 0 (also when nothing was remembered), or -1
 * after printing why on stderr. */
int cfg_token_forget(const struct cli *c, const char *code);

/* The room last joined on c->server as a malloc'd code, or NULL. */
char *cfg_last_room(const struct cli *c);

/* The tus URL (a path, "/api/uploads/KEY") remembered under key on
 * c->server: 0 and a malloc'd copy in *url (caller frees), or -1. */
int cfg_upload_get(const struct cli *c, const char *key, char **url);

/* The uploads remembered on c->server as a new JSON object {key: url}
 * (caller decrefs; empty when none or the file is unreadable), or NULL on
 * OOM. Keys are "ROOM|REALPATH|SIZE|MTIME_SEC.MTIME_NSEC" (upload.c). */
json_t *cfg_uploads(const struct cli *c);

/* Remembers (url non-NULL) or forgets (url NULL) the upload under key.
 * Returns 0, or -1 after printing why on stderr. */
int cfg_upload_put(const struct cli *c, const char *key, const char *url);

#endif
