/*
 * sql.c - small helpers over SQLite prepared statements for tutti-api's
 * handlers: bind by a type string, run one step, find a room by code.
 * Statements are prepared once per connection and kept: api_sql() reuses
 * an idle statement of the same text from the connection's own list
 * (sqlite3_next_stmt), and api_sql_done() resets it instead of finalizing.
 */
#include "api.h"
#include "log.h"

#include <stdarg.h>
#include <string.h>

/* Returns a kept statement of db with exactly this text that nobody is
 * stepping, or NULL. */
static sqlite3_stmt *
api_sql_kept(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	const char *text;

	while ((st = sqlite3_next_stmt(db, st)) != NULL)
		if (!sqlite3_stmt_busy(st) && (text = sqlite3_sql(st)) != NULL &&
		    strcmp(text, sql) == 0)
			return st;
	return NULL;
}

static sqlite3_stmt *
api_sql_v(sqlite3 *db, const char *sql, const char *types, va_list ap)
{
	sqlite3_stmt *st;
	const char *s;
	int i;

	if ((st = api_sql_kept(db, sql)) != NULL)
		sqlite3_reset(st);
	else if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
	    SQLITE_OK) {
		log_err("prepare: %s: %s", sqlite3_errmsg(db), sql);
		return NULL;
	}
	if ((size_t)sqlite3_bind_parameter_count(st) != strlen(types)) {
		log_err("%zu arguments for %d parameters: %s", strlen(types),
		    sqlite3_bind_parameter_count(st), sql);
		sqlite3_finalize(st);
		return NULL;
	}
	for (i = 0; types[i] != '\0'; i++) {
		if (types[i] == 'i')
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		else if ((s = va_arg(ap, const char *)) != NULL)
			sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, i + 1);
	}
	return st;
}

sqlite3_stmt *
api_sql(sqlite3 *db, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;

	va_start(ap, types);
	st = api_sql_v(db, sql, types, ap);
	va_end(ap);
	return st;
}

int
api_sql_run(sqlite3 *db, int64_t *out_id, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, types);
	st = api_sql_v(db, sql, types, ap);
	va_end(ap);
	if (st == NULL)
		return SQLITE_ERROR;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && out_id != NULL)
		*out_id = sqlite3_column_int64(st, 0);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE && (rc & 0xff) != SQLITE_CONSTRAINT)
		log_err("%s: %s", sqlite3_errmsg(db), sql);
	api_sql_done(st);
	return rc & 0xff;
}

int
api_room_find(sqlite3 *db, const char *code, int64_t *room_id)
{
	int rc;

	if (!code_valid(code))
		return 1;
	rc = api_sql_run(db, room_id, "SELECT id FROM rooms WHERE code = ? AND "
	    "closed_us IS NULL", "t", code);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

void
api_sql_done(sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

void
api_sql_close(sqlite3 *db)
{
	sqlite3_stmt *st;

	while ((st = sqlite3_next_stmt(db, NULL)) != NULL)
		sqlite3_finalize(st);
}
