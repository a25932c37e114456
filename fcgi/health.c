/*
 * health.c - GET /api/healthz: whether this API process can reach SQLite
 * and Redis, whether a playback worker is alive, and how many rooms are
 * open and people online. 200 when the API can serve ("ok", or "degraded"
 * without a worker), 503 otherwise.
 */
#include "api.h"
#include "clock.h"
#include "db.h"
#include "rkeys.h"

void
api_health(struct api_req *r)
{
	redisReply *rep;
	int64_t rooms = 0, online = 0;
	int db_ok, redis_ok = 0, worker_ok = 0;

	db_ok = api_sql_run(r->t->db, &rooms, "SELECT count(*) FROM rooms WHERE "
	    "closed_us IS NULL", "") == SQLITE_ROW && api_sql_run(r->t->db, &online,
	    "SELECT count(*) FROM users WHERE online = 1 AND left_us IS NULL", "") == SQLITE_ROW &&
	    db_schema_version(r->t->db) > 0;
	if ((rep = api_redis_cmd(r->t, "PING")) != NULL) {
		redis_ok = rep->type == REDIS_REPLY_STATUS;
		freeReplyObject(rep);
	}
	if (redis_ok && (rep = api_redis_cmd(r->t, "EXISTS " RKEY_WORKER_ALIVE)) != NULL) {
		worker_ok = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
		freeReplyObject(rep);
	}
	api_reply(r, db_ok && redis_ok ? 200 : 503, json_pack("{s:s, s:b, s:b, s:b, s:I, s:I, "
	    "s:I}", "status", !(db_ok && redis_ok) ? "failing" : worker_ok ? "ok" : "degraded",
	    "db", db_ok, "redis", redis_ok, "worker", worker_ok,
	    "rooms", (json_int_t)rooms, "online", (json_int_t)online,
	    "now_us", (json_int_t)clock_now_us()), NULL);
}

/* GET /api/readyz: 200 when this process can serve requests (SQLite answers
 * with the schema migrated, Redis answers PING), else 503 naming what is
 * missing. Load balancers and the stack's start-up use it. */
void
api_ready(struct api_req *r)
{
	redisReply *rep;
	int db_ok, redis_ok = 0;

	db_ok = api_sql_run(r->t->db, NULL, "SELECT 1 FROM rooms LIMIT 1", "") != SQLITE_ERROR &&
	    db_schema_version(r->t->db) > 0;
	if ((rep = api_redis_cmd(r->t, "PING")) != NULL) {
		redis_ok = rep->type == REDIS_REPLY_STATUS;
		freeReplyObject(rep);
	}
	if (db_ok && redis_ok) {
		api_reply(r, 200, json_pack("{s:s}", "status", "ready"), NULL);
		return;
	}
	api_problem(r, 503, "Not ready", "%s%s%s", db_ok ? "" : "SQLite is not usable",
	    !db_ok && !redis_ok ? "; " : "", redis_ok ? "" : "Redis is unreachable");
}
