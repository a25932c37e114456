/*
 * db.h - the SQLite database, tutti's source of truth (data/tutti.db).
 * Every process opens its own connection(s) in WAL mode with a busy timeout;
 * schema changes are the numbered files in sql/, applied by db_migrate().
 */
#ifndef TUTTI_DB_H
#define TUTTI_DB_H

#include <sqlite3.h>

/* Opens (creating if needed) the database at path, with WAL, foreign keys,
 * synchronous=NORMAL and a 5 s busy timeout. Returns the handle, which the
 * caller closes with sqlite3_close(), or NULL after logging why. */
sqlite3 *db_open(const char *path);

/* Applies, in order and each in its own transaction, every sql/NNN_*.sql file
 * in sqldir whose number exceeds PRAGMA user_version, then sets user_version.
 * Returns the number of migrations applied, or -1 after logging the failure
 * (the failing migration is rolled back; earlier ones stay). */
int db_migrate(sqlite3 *db, const char *sqldir);

/* Returns PRAGMA user_version, or -1 on error. */
int db_schema_version(sqlite3 *db);

/* Starts a write transaction (BEGIN IMMEDIATE, so the write lock is taken
 * up front and SQLITE_BUSY surfaces here, after the busy timeout, rather than
 * at the first write). Returns 0, or -1 after logging the error. */
int db_begin(sqlite3 *db);

/* Runs sql (no result rows). Returns 0, or -1 after logging the error. */
int db_exec(sqlite3 *db, const char *sql);

#endif
