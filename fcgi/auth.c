/*
 * auth.c - bearer tokens for tutti-api. Only the SHA-256 of a token is
 * stored (users.token_hash, and the Redis session key the relays read);
 * a token is valid for its own room only, and only while its user is in it.
 */
#include "api.h"
#include "log.h"
#include "rkeys.h"

#include <string.h>
#include <strings.h>

/* Returns the token in the Authorization header and its length in *n, or
 * NULL when the header is missing or not "Bearer <token>". */
static const char *
api_bearer(struct api_req *r, size_t *n)
{
	const char *h = FCGX_GetParam("HTTP_AUTHORIZATION", r->fcgi->envp);
	const char *end;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	end = h + strlen(h);
	while (end > h && end[-1] == ' ')
		end--;
	*n = (size_t)(end - h);
	return h;
}

static int
api_auth_lookup(sqlite3 *db, const char *hash, struct api_user *u)
{
	static const char sql[] =
	    "SELECT u.id, u.room_id, u.name, u.role, r.code FROM users u "
	    "JOIN rooms r ON r.id = u.room_id "
	    "WHERE u.token_hash = ? AND u.left_us IS NULL AND r.closed_us IS NULL";
	sqlite3_stmt *st;
	int rc;

	if ((st = api_sql(db, sql, "t", hash)) == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		u->id = sqlite3_column_int64(st, 0);
		u->room_id = sqlite3_column_int64(st, 1);
		snprintf(u->name, sizeof(u->name), "%s", sqlite3_column_text(st, 2));
		snprintf(u->role, sizeof(u->role), "%s", sqlite3_column_text(st, 3));
		snprintf(u->code, sizeof(u->code), "%s", sqlite3_column_text(st, 4));
		memcpy(u->token_hash, hash, sizeof(u->token_hash));
	}
	api_sql_done(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int
api_auth(struct api_req *r, const char *code, struct api_user *u)
{
	char hash[TOKEN_HASH_LEN + 1];
	const char *tok;
	size_t n = 0;
	int rc;

	if ((tok = api_bearer(r, &n)) == NULL) {
		api_problem(r, 401, "Unauthorized",
		    "send the room token as Authorization: Bearer <token>");
		return -1;
	}
	if (!token_valid(tok, n) || token_hash(tok, n, hash) != 0 ||
	    (rc = api_auth_lookup(r->t->db, hash, u)) == 1 ||
	    (rc == 0 && strcmp(u->code, code) != 0)) {
		api_problem(r, 401, "Unauthorized", "the token is not valid for room %s", code);
		return -1;
	}
	if (rc < 0) {
		log_err("token lookup: %s", sqlite3_errmsg(r->t->db));
		api_problem(r, 500, "Internal error", "database error");
		return -1;
	}
	return 0;
}

int
api_session_append(struct api_thread *t, const struct api_user *u)
{
	return api_redis_append(t, "HSET " RKEY_SESSION "%s room %s user_id %lld name %s "
	    "role %s", u->token_hash, u->code, (long long)u->id, u->name, u->role);
}

int
api_session_store(struct api_thread *t, const struct api_user *u)
{
	if (api_session_append(t, u) != 0)
		return -1;
	return api_redis_drain(t, 1);
}
