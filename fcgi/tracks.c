/*
 * tracks.c - the public track library: GET /api/tracks searches titles and
 * artists (case-insensitive substring, ASCII case folding as SQLite's LIKE)
 * with paging; GET /api/tracks/{id} describes one track. No token needed.
 * Tracks are added by import and uploads (library.c).
 */
#include "api.h"
#include "log.h"
#include "text.h"

#include <string.h>

#define TRACKS_Q_MAX 200	/* bytes of the search text */
#define TRACKS_LIMIT_DEFAULT 50
#define TRACKS_LIMIT_MAX 500

/* Writes "%q%" with LIKE's wildcards (% _) and the escape (\) of q escaped
 * into pat (at least 2 * strlen(q) + 3 bytes). */
static void
tracks_like(const char *q, char *pat)
{
	*pat++ = '%';
	for (; *q != '\0'; q++) {
		if (*q == '%' || *q == '_' || *q == '\\')
			*pat++ = '\\';
		*pat++ = *q;
	}
	*pat++ = '%';
	*pat = '\0';
}

/* Returns the number of tracks matching pat (NULL: all), or -1. */
static int64_t
tracks_count(sqlite3 *db, const char *pat)
{
	int64_t n = -1;

	if (api_sql_run(db, &n, "SELECT count(*) FROM tracks t WHERE ?1 IS NULL OR "
	    "t.title LIKE ?1 ESCAPE '\\' OR t.artist LIKE ?1 ESCAPE '\\'", "t", pat) !=
	    SQLITE_ROW)
		return -1;
	return n;
}

/* Returns the page of matching tracks as a new JSON array, or NULL. */
static json_t *
tracks_page(sqlite3 *db, const char *pat, int64_t limit, int64_t offset)
{
	sqlite3_stmt *st;
	json_t *a = json_array();
	int rc;

	st = api_sql(db, "SELECT " API_TRACK_COLS " FROM tracks t WHERE ?1 IS NULL OR "
	    "t.title LIKE ?1 ESCAPE '\\' OR t.artist LIKE ?1 ESCAPE '\\' ORDER BY "
	    "t.title COLLATE NOCASE, t.artist COLLATE NOCASE, t.id LIMIT ?2 OFFSET ?3",
	    "tii", pat, limit, offset);
	if (st == NULL || a == NULL)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (json_array_append_new(a, api_track_json(st, 0)) != 0)
			goto fail;
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return a;
fail:
	log_err("%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	json_decref(a);
	return NULL;
}

void
api_tracks_list(struct api_req *r)
{
	char q[TRACKS_Q_MAX + 1], pat[2 * TRACKS_Q_MAX + 3];
	int64_t limit, offset, total;
	json_t *tracks;
	int rc;

	if ((rc = api_query(r, "q", q, sizeof(q))) < 0 ||
	    api_query_int(r, "limit", TRACKS_LIMIT_DEFAULT, 1, TRACKS_LIMIT_MAX, &limit) != 0 ||
	    api_query_int(r, "offset", 0, 0, INT32_MAX, &offset) != 0)
		return;
	if (rc == 0)
		q[0] = '\0';
	if (text_utf8_len(q, strlen(q)) < 0) {
		api_problem(r, 400, "Invalid query", "q must be valid UTF-8");
		return;
	}
	tracks_like(q, pat);
	total = tracks_count(r->t->db, q[0] ? pat : NULL);
	tracks = total < 0 ? NULL : tracks_page(r->t->db, q[0] ? pat : NULL, limit, offset);
	if (tracks == NULL) {
		api_problem(r, 500, "Internal error", "database error");
		return;
	}
	api_reply(r, 200, json_pack("{s:o, s:I, s:I, s:I}", "tracks", tracks,
	    "total", (json_int_t)total, "limit", (json_int_t)limit,
	    "offset", (json_int_t)offset), NULL);
}

void
api_tracks_get(struct api_req *r)
{
	sqlite3_stmt *st;
	int rc;

	st = api_sql(r->t->db, "SELECT " API_TRACK_COLS " FROM tracks t WHERE t.id = ?",
	    "i", r->m.id);
	if (st == NULL || (rc = sqlite3_step(st)) != SQLITE_ROW) {
		if (st != NULL && rc == SQLITE_DONE)
			api_problem(r, 404, "No such track", "the library has no track %lld",
			    (long long)r->m.id);
		else
			api_problem(r, 500, "Internal error", "database error");
		sqlite3_finalize(st);
		return;
	}
	api_reply(r, 200, api_track_json(st, 0), NULL);
	sqlite3_finalize(st);
}
