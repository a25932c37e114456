/*
 * db.c - opening the SQLite database and applying migrations from sql/.
 * Migration files are named NNN_description.sql; NNN is compared with
 * PRAGMA user_version, so each is applied once, in order.
 */
#include "db.h"
#include "log.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sqlite3 *
db_open(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_err("%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db, 5000);
	if (db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    "PRAGMA foreign_keys=ON;") != 0)
		goto fail;
	return db;
fail:
	sqlite3_close(db);
	return NULL;
}

int
db_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_err("%s", err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

int
db_begin(sqlite3 *db)
{
	return db_exec(db, "BEGIN IMMEDIATE");
}

int
db_schema_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Reads the whole file at path into a NUL-terminated malloc'd buffer the
 * caller frees. Returns NULL on error. */
static char *
db_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto fail;
	if ((buf = malloc(n + 1)) == NULL || fread(buf, 1, n, f) != (size_t)n)
		goto fail;
	buf[n] = '\0';
	fclose(f);
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

/* Returns the number of rows PRAGMA foreign_key_check reports (logging the
 * first), or -1 when the check cannot run. */
static int
db_fk_violations(sqlite3 *db)
{
	sqlite3_stmt *st;
	int n = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW)
		if (n++ == 0)
			log_err("foreign key violation in table %s, row %lld",
			    sqlite3_column_text(st, 0), (long long)sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	return n;
}

static int
db_apply(sqlite3 *db, const char *path, int num)
{
	char pragma[64];
	char *sql;
	int rc = -1;

	if ((sql = db_slurp(path)) == NULL) {
		log_err("cannot read %s", path);
		return -1;
	}
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d;", num);
	/* Foreign keys are off while a migration rebuilds tables (SQLite's
	 * "making other kinds of table schema changes"), and checked before
	 * the commit instead. */
	if (db_exec(db, "PRAGMA foreign_keys=OFF") != 0 ||
	    db_exec(db, "BEGIN IMMEDIATE") != 0)
		goto out;
	if (db_exec(db, sql) != 0 || db_exec(db, pragma) != 0 ||
	    db_fk_violations(db) != 0) {
		log_err("migration %s failed; rolled back", path);
		db_exec(db, "ROLLBACK");
		goto out;
	}
	if ((rc = db_exec(db, "COMMIT")) == 0)
		log_info("applied %s", path);
out:
	db_exec(db, "PRAGMA foreign_keys=ON");
	free(sql);
	return rc;
}

static int
db_migration_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 8 && d->d_name[0] >= '0' && d->d_name[0] <= '9' &&
	    strcmp(d->d_name + n - 4, ".sql") == 0;
}

int
db_migrate(sqlite3 *db, const char *sqldir)
{
	struct dirent **list = NULL;
	char path[4096];
	int n, i, cur, applied = 0;

	if ((cur = db_schema_version(db)) < 0)
		return -1;
	if ((n = scandir(sqldir, &list, db_migration_filter, alphasort)) < 0) {
		log_err("cannot list %s", sqldir);
		return -1;
	}
	for (i = 0; i < n; i++) {
		int num = atoi(list[i]->d_name);

		if (num > cur && applied >= 0) {
			snprintf(path, sizeof(path), "%s/%s", sqldir, list[i]->d_name);
			if (db_apply(db, path, num) != 0)
				applied = -1;
			else {
				applied++;
				cur = num;
			}
		}
		free(list[i]);
	}
	free(list);
	return applied;
}
