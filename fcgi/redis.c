/*
 * redis.c - tutti-api's synchronous Redis connection, one per thread.
 * A connection that fails is dropped and reopened on the next call, so a
 * Redis restart costs the requests in flight at that moment and no more.
 */
#include "api.h"
#include "log.h"
#include "rkeys.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static redisContext *
api_redis_connect(const char *where)
{
	struct timeval tv = { 1, 0 };
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
	return c;
}

redisContext *
api_redis(struct api_thread *t)
{
	if (t->redis == NULL)
		t->redis = api_redis_connect(t->cfg->redis);
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
