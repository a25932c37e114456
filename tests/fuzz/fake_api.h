/*
 * fake_api.h - tutti-api without FastCGI, for the fuzz harnesses that go
 * through the real dispatcher (fuzz_json, fuzz_tus): a data directory in a
 * temporary folder with a migrated database holding one room (an admin and
 * a member), library tracks, a playlist, a pending request and two uploads
 * in progress, and no Redis (its socket does not exist, as when Redis is
 * down). Each call restores that state first, so every input meets the
 * same server. Responses are captured and checked (fake_api_check).
 */
#ifndef TUTTI_FAKE_API_H
#define TUTTI_FAKE_API_H

#include <stddef.h>
#include <stdint.h>

#include "../../fcgi/api.h"

#define FAKE_ENV_MAX 32
#define FAKE_CODE "K7Q2M"	/* the room's code; base64 "SzdRMk0=" */

/* The server and the names of what its fixed state holds. */
struct fake_api {
	char dir[256];			/* the data directory */
	char redis[300];		/* a socket path nobody listens on */
	struct api_config cfg;
	struct api_thread t;
	sqlite3 *snap;			/* the state every call starts from */
	uint64_t snap_hash;		/* fake_api_hash() of it */
	char code[CODE_LEN + 1];	/* the room */
	char admin[TOKEN_LEN + 1];	/* its admin's token */
	char member[TOKEN_LEN + 1];	/* a member's token */
	int64_t member_id, request_id, item_id;
	char up_small[ROUTE_KEY_MAX];	/* upload of 32 bytes, none sent yet */
	char up_half[ROUTE_KEY_MAX];	/* upload of 1000 bytes, 100 sent */
};

/* One call: method, path (query after '?'), extra CGI parameters ("NAME=value",
 * e.g. "HTTP_IF_MATCH=*"), and the body. */
struct fake_call {
	const char *method;
	const char *path;
	const char *env[FAKE_ENV_MAX];	/* NULL-terminated */
	const uint8_t *body;
	size_t body_len;
};

/* What the handler wrote. */
struct fake_resp {
	char *out;		/* everything, NUL-terminated (malloc'd) */
	size_t len;
	int status;		/* of the Status line */
	int nstatus;		/* how many Status lines were written */
	char ctype[128];	/* Content-Type, "" when none */
	const char *body;	/* into out, after the blank line */
	size_t body_len;
	uint64_t hash_after;	/* fake_api_hash() after the call */
	int left_tx;		/* a transaction was left open */
	int left_events;	/* events were left queued */
};

/* Builds the server in a new temporary directory (removed at exit). The
 * migrations are read from $TUTTI_SQL, else sql/ beside the repository of
 * the running binary (build/fuzz/..). Aborts on any failure. */
void fake_api_init(struct fake_api *fa);

/* Puts back the fixed state: the database and the upload files. */
void fake_api_reset(struct fake_api *fa);

/* Resets, then dispatches c through api_route() exactly as main.c does and
 * fills *resp, which the caller releases with fake_resp_free(). With
 * FAKE_API_TRACE set in the environment, each call is printed on stderr. */
void fake_api_call(struct fake_api *fa, const struct fake_call *c, struct fake_resp *resp);

void fake_resp_free(struct fake_resp *resp);

/* Writes the migrations directory to out (n bytes): $TUTTI_SQL, else
 * <repo>/sql for the running binary <repo>/build/fuzz/fuzz_x. */
void fake_api_sqldir(char *out, size_t n);

/* A hash of every row of every table of db. */
uint64_t fake_api_hash(sqlite3 *db);

/* The checks every response passes (asserts): one Status line; a JSON body
 * when the type says so, a problem's status equal to the response's;
 * no transaction or queued event left behind; no foreign key broken; no 500
 * (an input the handler did not foresee) unless allow_500; and a refusal
 * (4xx) changes no row unless keep_ok says that status may. */
void fake_api_check(const struct fake_api *fa, const struct fake_resp *resp,
    int allow_500, int (*keep_ok)(int status));

#endif
