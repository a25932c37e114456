/*
 * redis.c - tutti-api's synchronous Redis connection, one per thread.
 * A connection that fails is dropped and reopened on the next call, so a
 * Redis restart costs the requests in flight at that moment and no more.
 * With TUTTI_REDIS_PASSWORD set (cfg->redis_password) each new connection
 * sends AUTH first; a refusal counts as a failed connection.
 */
#include "api.h"
#include "log.h"
#include "rkeys.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Sends AUTH [user] password on the new connection c. Returns 0, or -1
 * when the connection broke or Redis refused (logged without the password;
 * the caller frees c). */
static int
api_redis_login(redisContext *c, const struct api_config *cfg)
{
	redisReply *rep;
	int rc = -1;

	if (cfg->redis_user != NULL)
		rep = redisCommand(c, "AUTH %s %s", cfg->redis_user, cfg->redis_password);
	else
		rep = redisCommand(c, "AUTH %s", cfg->redis_password);
	if (rep == NULL)
		log_warn("%s: AUTH: %s", cfg->redis, c->errstr);
	else if (rep->type == REDIS_REPLY_ERROR)
		log_err("%s: Redis refused the password (%s)", cfg->redis, rep->str);
	else
		rc = 0;
	freeReplyObject(rep);
	return rc;
}

static redisContext *
api_redis_connect(const struct api_config *cfg)
{
	struct timeval tv = { 1, 0 };
	const char *where = cfg->redis;
	const char *colon = strrchr(where, ':');
	redisContext *c;

	if (where[0] == '/' || colon == NULL)
		c = redisConnectUnixWithTimeout(where, tv);
	else {
		char host[256];
		size_t n = (size_t)(colon - where);

		if (n >= sizeof(host))
			return NULL;
		memcpy(host, where, n);
		host[n] = '\0';
		c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
	}
	if (c == NULL || c->err) {
		log_warn("%s: %s", where, c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	tv.tv_sec = 5;	/* above the longest BLPOP we issue */
	redisSetTimeout(c, tv);
	if (cfg->redis_password != NULL && api_redis_login(c, cfg) != 0) {
		redisFree(c);
		return NULL;
	}
	return c;
}

redisContext *
api_redis(struct api_thread *t)
{
	if (t->redis == NULL)
		t->redis = api_redis_connect(t->cfg);
	return t->redis;
}

/* Drops the connection after an error, so the next call reconnects. */
static void
api_redis_drop(struct api_thread *t)
{
	log_warn("redis: %s", t->redis->errstr);
	redisFree(t->redis);
	t->redis = NULL;
}

redisReply *
api_redis_cmd(struct api_thread *t, const char *fmt, ...)
{
	redisContext *c = api_redis(t);
	redisReply *rep;
	va_list ap;

	if (c == NULL)
		return NULL;
	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (rep == NULL)
		api_redis_drop(t);
	return rep;
}

int
api_redis_append(struct api_thread *t, const char *fmt, ...)
{
	redisContext *c = api_redis(t);
	va_list ap;
	int rc;

	if (c == NULL)
		return -1;
	va_start(ap, fmt);
	rc = redisvAppendCommand(c, fmt, ap);
	va_end(ap);
	return rc == REDIS_OK ? 0 : -1;
}

int
api_redis_drain(struct api_thread *t, int n)
{
	redisReply *rep;
	int failed = 0;

	while (n-- > 0 && t->redis != NULL) {
		if (redisGetReply(t->redis, (void **)&rep) != REDIS_OK) {
			api_redis_drop(t);
			return -1;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			log_warn("redis: %s", rep->str);
			failed++;
		}
		freeReplyObject(rep);
	}
	return t->redis == NULL || failed ? -1 : 0;
}

int
api_publish(struct api_thread *t, const char *code, json_t *event)
{
	char *text = json_dumps(event, JSON_COMPACT);
	redisReply *rep;

	if (text == NULL)
		return -1;
	rep = api_redis_cmd(t, "PUBLISH " RKEY_EVENTS "%s %s", code, text);
	free(text);
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}
