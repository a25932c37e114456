/*
 * thread.c - the life of one tutti-api worker thread: its own SQLite and
 * Redis connections, opened at start and closed at exit.
 */
#include "api.h"
#include "db.h"

#include <stdio.h>
#include <string.h>

int
api_thread_open(struct api_thread *t, const struct api_config *cfg)
{
	char path[4096];

	memset(t, 0, sizeof(*t));
	t->cfg = cfg;
	snprintf(path, sizeof(path), "%s/tutti.db", cfg->datadir);
	if ((t->db = db_open(path)) == NULL)
		return -1;
	return 0;
}

void
api_thread_close(struct api_thread *t)
{
	api_sql_close(t->db);
	sqlite3_close(t->db);
	redisFree(t->redis);
	t->db = NULL;
	t->redis = NULL;
}
