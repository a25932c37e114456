/*
 * sql.c - small helpers over SQLite prepared statements for tutti-api's
 * handlers: bind by a type string, run one step, find a room by code.
 */
#include "api.h"
#include "log.h"

#include <stdarg.h>
#include <string.h>

static sqlite3_stmt *
api_sql_v(sqlite3 *db, const char *sql, const char *types, va_list ap)
{
	sqlite3_stmt *st;
	const char *s;
	int i;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
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
	sqlite3_finalize(st);
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
