/*
 * relays.c - the dead relay check (see relays.h), a chain of hiredis
 * callbacks: SMEMBERS tutti:relays; EXISTS tutti:relay:alive:{id} for each;
 * for a dead one HGETALL tutti:relay:conns:{id}, one EVAL of the presence
 * script with -count per field, then a script that deletes the hash and
 * the set member unless the relay came back meanwhile. w->sweep.relays_busy
 * counts the commands in flight, so checks never pile up.
 */
#include "relays.h"
#include "entry.h"
#include "log.h"
#include "presence.h"
#include "rkeys.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>

/* A dead relay's id, the privdata of its callbacks; freed by the last. */
struct relays_job {
	struct worker *w;
	char id[PRESENCE_RELAY_MAX + 1];
};

/* Deletes the relay's hash and set member, unless it is alive again. */
static const char relays_forget_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('DEL', KEYS[2])\n"
    "return redis.call('SREM', KEYS[3], ARGV[1])\n";

/* Counts a command just issued with rconn_cmd() (rc, its result) as in
 * flight. Returns rc. */
static int
relays_sent(struct worker *w, int rc)
{
	if (rc == 0)
		w->sweep.relays_busy++;
	return rc;
}

/* hiredis callback of the presence EVALs and the final script: logs an
 * error reply; privdata is the job of the last command, or NULL. */
static void
relays_on_done(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct relays_job *j = privdata;
	redisReply *r = reply;

	(void)ac;
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		log_err("dead relay cleanup: %s", r->str);
	if (j == NULL)
		return;
	j->w->sweep.relays_busy--;
	if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
		log_info("relay %s is gone from " RKEY_RELAYS, j->id);
	free(j);
}

/* Takes back one field of the dead relay's hash: "<code>:<user_id>" with
 * the count v. Returns 1 when an EVAL went out, else 0. */
static int
relays_take_back(struct relays_job *j, const redisReply *f, const redisReply *v)
{
	struct presence_args a;
	char code[CODE_LEN + 1];
	int64_t user, count;

	if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
	    presence_field_parse(f->str, f->len, code, &user) != 0 ||
	    entry_int64(v->str, &count) != 0 || count <= 0 ||
	    presence_args(&a, j->id, code, user, -count) != 0) {
		log_warn("relay %s: a malformed field of its listener counts is skipped",
		    j->id);
		return 0;
	}
	return rconn_cmd_argv(&j->w->wr, relays_on_done, NULL, PRESENCE_ARGC, a.argv,
	    a.argvlen) == 0;
}

/* hiredis callback of HGETALL tutti:relay:conns:{id}; privdata is the job. */
static void
relays_on_conns(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct relays_job *j = privdata;
	struct worker *w = j->w;
	redisReply *r = reply;
	size_t i, n = 0;

	(void)ac;
	w->sweep.relays_busy--;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		free(j);
		return;
	}
	for (i = 0; i + 1 < r->elements; i += 2)
		n += (size_t)relays_take_back(j, r->element[i], r->element[i + 1]);
	log_info("relay %s is dead (no heartbeat): taking back its %zu listener count(s)",
	    j->id, n);
	if (relays_sent(w, rconn_cmd(&w->wr, relays_on_done, j, "EVAL %s 3 "
	    RKEY_RELAY_ALIVE "%s " RKEY_RELAY_CONNS "%s " RKEY_RELAYS " %s",
	    relays_forget_script, j->id, j->id, j->id)) != 0)
		free(j);
}

/* hiredis callback of EXISTS tutti:relay:alive:{id}; privdata is the job. */
static void
relays_on_alive(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct relays_job *j = privdata;
	redisReply *r = reply;

	(void)ac;
	j->w->sweep.relays_busy--;
	if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer != 0 ||
	    relays_sent(j->w, rconn_cmd(&j->w->wr, relays_on_conns, j,
	    "HGETALL " RKEY_RELAY_CONNS "%s", j->id)) != 0)
		free(j);
}

/* Starts the check of the relay named by the set member m. */
static void
relays_check_one(struct worker *w, const redisReply *m)
{
	struct relays_job *j;

	if (m->type != REDIS_REPLY_STRING || !presence_relay_valid(m->str, m->len)) {
		log_debug("a member of " RKEY_RELAYS " is not a relay id");
		return;
	}
	if ((j = malloc(sizeof(*j))) == NULL) {
		log_err("out of memory");
		return;
	}
	j->w = w;
	memcpy(j->id, m->str, m->len);
	j->id[m->len] = '\0';
	if (relays_sent(w, rconn_cmd(&w->wr, relays_on_alive, j,
	    "EXISTS " RKEY_RELAY_ALIVE "%s", j->id)) != 0)
		free(j);
}

/* hiredis callback of SMEMBERS tutti:relays; privdata is the worker. */
static void
relays_on_members(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct worker *w = privdata;
	redisReply *r = reply;
	size_t i;

	(void)ac;
	w->sweep.relays_busy--;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return;
	for (i = 0; i < r->elements; i++)
		relays_check_one(w, r->element[i]);
}

void
relays_check(struct worker *w)
{
	if (w->sweep.relays_busy > 0)
		return;
	(void)relays_sent(w, rconn_cmd(&w->wr, relays_on_members, w,
	    "SMEMBERS " RKEY_RELAYS));
}
