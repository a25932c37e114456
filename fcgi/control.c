/*
 * control.c - POST /api/rooms/{code}/control: playback commands.
 * The API validates and authorizes; the worker decides. The command is
 * appended to the Redis stream the worker reads (RKEY_CMD_STREAM), and the
 * handler waits, bounded, for the worker's reply on RKEY_REPLY + request id.
 */
#include "api.h"
#include "log.h"
#include "rkeys.h"

#include <stdio.h>
#include <string.h>

static const char *const api_actions[] = {
	"play", "pause", "stop", "next", "prev", "seek", NULL
};

/* Checks body.action (and body.position_us for seek). Returns the action
 * name, or NULL after sending 400. *pos is -1 when no position was given. */
static const char *
api_control_parse(struct api_req *r, long long *pos)
{
	json_t *a = json_object_get(r->body, "action");
	json_t *p = json_object_get(r->body, "position_us");
	int i;

	*pos = -1;
	for (i = 0; json_is_string(a) && api_actions[i] != NULL; i++)
		if (strcmp(json_string_value(a), api_actions[i]) == 0)
			break;
	if (!json_is_string(a) || api_actions[i] == NULL) {
		api_problem(r, 400, "Invalid action", "\"action\" is one of play, pause, "
		    "stop, next, prev, seek");
		return NULL;
	}
	if (p != NULL && (!json_is_integer(p) || json_integer_value(p) < 0)) {
		api_problem(r, 400, "Invalid position",
		    "\"position_us\" is a non-negative integer of microseconds");
		return NULL;
	}
	if (strcmp(api_actions[i], "seek") == 0 && p == NULL) {
		api_problem(r, 400, "Invalid position", "seek needs \"position_us\"");
		return NULL;
	}
	if (p != NULL)
		*pos = json_integer_value(p);
	return api_actions[i];
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
    const char *action, long long pos)
{
	redisReply *rep;

	if (pos >= 0)
		rep = api_redis_cmd(r->t, "XADD " RKEY_CMD_STREAM " MAXLEN ~ 100000 * "
		    "req %s room %s user %lld action %s position_us %lld", req, u->code,
		    (long long)u->id, action, pos);
	else
		rep = api_redis_cmd(r->t, "XADD " RKEY_CMD_STREAM " MAXLEN ~ 100000 * "
		    "req %s room %s user %lld action %s", req, u->code, (long long)u->id,
		    action);
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
	const char *code = r->m.code;
	char req[TOKEN_LEN + 1];
	struct api_user u;
	const char *action;
	redisReply *rep;
	int64_t room_id;
	long long pos;
	int rc;

	if ((rc = api_room_find(r->t->db, code, &room_id)) != 0) {
		if (rc > 0)
			api_problem(r, 404, "No such room", "no open room has the code %s", code);
		else
			api_problem(r, 500, "Internal error", "database error");
		return;
	}
	if (api_auth(r, code, &u) != 0 || api_read_json(r) != 0 ||
	    (action = api_control_parse(r, &pos)) == NULL)
		return;
	if ((rc = api_worker_alive(r->t)) <= 0) {
		api_problem(r, 503, "Service unavailable", rc < 0 ? "Redis is unreachable" :
		    "no playback worker is running");
		return;
	}
	if (token_new(req) != 0 || api_control_submit(r, &u, req, action, pos) != 0) {
		api_problem(r, 503, "Service unavailable", "the command could not be queued");
		return;
	}
	rep = api_redis_cmd(r->t, "BLPOP " RKEY_REPLY "%s %.3f", req,
	    r->t->cfg->reply_wait_ms / 1000.0);
	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2)
		api_control_answer(r, rep->element[1]->str, rep->element[1]->len);
	else {
		log_warn("room %s: no reply to %s within %d ms", code, action,
		    r->t->cfg->reply_wait_ms);
		api_problem(r, 503, "Service unavailable", "the playback worker did not "
		    "answer in time; the command may still be applied");
	}
	freeReplyObject(rep);
}
