/*
 * control.c - POST /api/rooms/{code}/control: playback commands.
 * The API validates and authorizes; the worker decides. The command is
 * appended to the Redis stream the worker reads (RKEY_CMD_STREAM), and the
 * handler waits, bounded, for the worker's reply on RKEY_REPLY + request id.
 */
#include "api.h"
#include "log.h"
#include "rkeys.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *const api_actions[] = {
	"play", "pause", "resume", "stop", "next", "prev", "seek", "jump", NULL
};

/* A validated control command. */
struct api_cmd {
	const char *action;
	const char *arg;	/* "position_us", "offset_us", "item_id" or NULL */
	long long value;
};

/* Returns body[key] as an integer in [min, max] into *v: 1 when present,
 * 0 when absent, -1 after sending 400. */
static int
api_control_int(struct api_req *r, const char *key, long long min, long long max,
    long long *v)
{
	json_t *j = json_object_get(r->body, key);

	if (j == NULL)
		return 0;
	if (!json_is_integer(j) || json_integer_value(j) < min || json_integer_value(j) > max) {
		api_problem(r, 400, "Invalid field", "\"%s\" is an integer from %lld to %lld",
		    key, min, max);
		return -1;
	}
	*v = json_integer_value(j);
	return 1;
}

/* Checks the body: action, and the one argument seek or jump needs.
 * Returns 0 with *c filled, or -1 after sending 400. */
static int
api_control_parse(struct api_req *r, struct api_cmd *c)
{
	json_t *a = json_object_get(r->body, "action");
	long long pos = 0, off = 0, item = 0;
	int np, no, ni, i;

	for (i = 0; json_is_string(a) && api_actions[i] != NULL; i++)
		if (strcmp(json_string_value(a), api_actions[i]) == 0)
			break;
	if (!json_is_string(a) || api_actions[i] == NULL) {
		api_problem(r, 400, "Invalid action", "\"action\" is one of play, pause, "
		    "resume, stop, next, prev, seek, jump");
		return -1;
	}
	c->action = api_actions[i];
	c->arg = NULL;
	c->value = 0;
	if ((np = api_control_int(r, "position_us", 0, INT64_MAX / 2, &pos)) < 0 ||
	    (no = api_control_int(r, "offset_us", -INT64_MAX / 2, INT64_MAX / 2, &off)) < 0 ||
	    (ni = api_control_int(r, "item_id", 1, INT64_MAX, &item)) < 0)
		return -1;
	if (strcmp(c->action, "seek") == 0 && np + no == 1) {
		c->arg = np ? "position_us" : "offset_us";
		c->value = np ? pos : off;
	} else if (strcmp(c->action, "jump") == 0 && ni && !np && !no) {
		c->arg = "item_id";
		c->value = item;
	} else if (np || no || ni || strcmp(c->action, "seek") == 0 ||
	    strcmp(c->action, "jump") == 0) {
		api_problem(r, 400, "Invalid command", "seek takes exactly one of "
		    "\"position_us\" (absolute) and \"offset_us\" (relative); jump takes "
		    "\"item_id\"; other actions take no argument");
		return -1;
	}
	return 0;
}

/* Returns 0 when u may send c in room; else -1 after sending 403. An absolute
 * seek (the progress bar) is the admin's; the rest follows the policy. */
static int
api_control_allowed(struct api_req *r, const struct api_room *room,
    const struct api_user *u, const struct api_cmd *c)
{
	if (c->arg != NULL && strcmp(c->arg, "position_us") == 0)
		return api_need_admin(r, u, "seek to an absolute position");
	return api_need_policy(r, room, u, "control playback");
}

/* Returns 1 when a worker holds the liveness key, 0 when none does, -1 when
 * Redis cannot be reached. */
static int
api_worker_alive(struct api_thread *t)
{
	redisReply *rep = api_redis_cmd(t, "EXISTS " RKEY_WORKER_ALIVE);
	int alive;

	if (rep == NULL)
		return -1;
	alive = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
	freeReplyObject(rep);
	return alive;
}

static int
api_control_submit(struct api_req *r, const struct api_user *u, const char *req,
    const struct api_cmd *c)
{
	redisReply *rep;

	if (c->arg != NULL)
		rep = api_redis_cmd(r->t, "XADD " RKEY_CMD_STREAM " MAXLEN ~ 100000 * "
		    "req %s room %s user %lld action %s %s %lld", req, u->code,
		    (long long)u->id, c->action, c->arg, c->value);
	else
		rep = api_redis_cmd(r->t, "XADD " RKEY_CMD_STREAM " MAXLEN ~ 100000 * "
		    "req %s room %s user %lld action %s", req, u->code, (long long)u->id,
		    c->action);
	if (rep == NULL || rep->type != REDIS_REPLY_STRING) {
		freeReplyObject(rep);
		return -1;
	}
	freeReplyObject(rep);
	return 0;
}

/* Turns the worker's reply (JSON text) into the response. */
static void
api_control_answer(struct api_req *r, const char *text, size_t len)
{
	json_t *rep = json_loadb(text, len, 0, NULL);
	json_t *st;

	if (rep == NULL || !json_is_object(rep)) {
		json_decref(rep);
		api_problem(r, 500, "Internal error", "unreadable reply from the worker");
		return;
	}
	if (json_is_true(json_object_get(rep, "ok"))) {
		json_object_del(rep, "ok");
		api_reply(r, 200, rep, NULL);
		return;
	}
	st = json_object_get(rep, "status");
	api_problem(r, json_is_integer(st) ? (int)json_integer_value(st) : 409,
	    json_string_value(json_object_get(rep, "title")) ?: "Refused", "%s",
	    json_string_value(json_object_get(rep, "detail")) ?: "");
	json_decref(rep);
}

void
api_control(struct api_req *r)
{
	char req[TOKEN_LEN + 1];
	struct api_room room;
	struct api_user u;
	struct api_cmd c;
	redisReply *rep;
	int rc;

	if (api_enter(r, &room, &u) != 0 ||
	    api_read_json_only(r, "action", "position_us", "offset_us", "item_id", NULL) != 0 ||
	    api_control_parse(r, &c) != 0 || api_control_allowed(r, &room, &u, &c) != 0)
		return;
	if ((rc = api_worker_alive(r->t)) <= 0) {
		api_problem(r, 503, "Service unavailable", rc < 0 ? "Redis is unreachable" :
		    "no playback worker is running");
		return;
	}
	if (token_new(req) != 0 || api_control_submit(r, &u, req, &c) != 0) {
		api_problem(r, 503, "Service unavailable", "the command could not be queued");
		return;
	}
	rep = api_redis_cmd(r->t, "BLPOP " RKEY_REPLY "%s %.3f", req,
	    r->t->cfg->reply_wait_ms / 1000.0);
	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2)
		api_control_answer(r, rep->element[1]->str, rep->element[1]->len);
	else {
		log_warn("room %s: no reply to %s within %d ms", room.code, c.action,
		    r->t->cfg->reply_wait_ms);
		api_problem(r, 503, "Service unavailable", "the playback worker did not "
		    "answer in time; the command may still be applied");
	}
	freeReplyObject(rep);
}
