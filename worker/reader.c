/*
 * reader.c - the command stream reader. On its dedicated connection it keeps
 * one XREADGROUP in flight: first over this consumer's pending entries (id 0
 * onwards: delivered before but never acknowledged), then blocking on new
 * ones (">"), re-issued as each reply arrives. Entries are applied in stream
 * order, synchronously, before the next read. Only the active worker reads
 * (lease.h); the pending phase after taking the lease also covers the
 * entries claimed from a dead worker, so they go before any new one.
 */
#include "apply.h"
#include "log.h"
#include "rkeys.h"
#include "worker.h"

#include <string.h>

#define READER_COUNT    64
#define READER_BLOCK_MS 1000
#define READER_RETRY_MS 1000

static void reader_on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* How long a read blocks: at most half the lease, so that a read issued
 * just before this worker froze has timed out in Redis before a standby
 * can take the lease over, and never hands the frozen worker new entries. */
static int64_t
reader_block_ms(const struct worker *w)
{
	return w->cfg.lease_ms / 2 < READER_BLOCK_MS ? w->cfg.lease_ms / 2 : READER_BLOCK_MS;
}

/* libuv timer callback (t->data is the worker): after an error reply, or to
 * finish a stop outside of a hiredis callback. */
static void
reader_on_retry(uv_timer_t *t)
{
	struct worker *w = t->data;

	if (w->stopping)
		worker_stop_continue(w);
	else if (!w->group_ok)
		worker_group_create(w);
	else
		reader_kick(w);
}

int
reader_init(struct worker *w)
{
	memset(&w->reader, 0, sizeof(w->reader));
	w->reader.rewind = 1;
	w->reader.retry.data = w;
	return uv_timer_init(&w->loop, &w->reader.retry);
}

void
reader_close(struct worker *w)
{
	if (!uv_is_closing((uv_handle_t *)&w->reader.retry))
		uv_close((uv_handle_t *)&w->reader.retry, NULL);
}

void
reader_retry(struct worker *w)
{
	if (!w->stopping)
		uv_timer_start(&w->reader.retry, reader_on_retry, READER_RETRY_MS, 0);
}

void
reader_rewind(struct worker *w)
{
	w->reader.rewind = 1;
}

void
reader_kick(struct worker *w)
{
	struct reader *rd = &w->reader;
	int rc;

	if (rd->busy || !worker_active(w) || uv_is_active((uv_handle_t *)&rd->retry))
		return;
	if (rd->rewind) {
		rd->phase = READER_PENDING;
		strcpy(rd->cursor, "0");
		rd->rewind = 0;
	}
	if (rd->phase == READER_PENDING)
		rc = rconn_cmd(&w->rd, reader_on_reply, w, "XREADGROUP GROUP " RKEY_CMD_GROUP
		    " %s COUNT %d STREAMS " RKEY_CMD_STREAM " %s", w->cfg.id, READER_COUNT,
		    rd->cursor);
	else
		rc = rconn_cmd(&w->rd, reader_on_reply, w, "XREADGROUP GROUP " RKEY_CMD_GROUP
		    " %s COUNT %d BLOCK %lld STREAMS " RKEY_CMD_STREAM " >", w->cfg.id,
		    READER_COUNT, (long long)reader_block_ms(w));
	if (rc == 0)
		rd->busy = 1;
	else
		log_err("cannot issue XREADGROUP");
}

/* Returns the entries array of an XREADGROUP reply [[stream, entries]], or
 * NULL (logged) when it has another shape. */
static const redisReply *
reader_entries(const redisReply *r)
{
	const redisReply *s;

	if (r->elements == 1 && (s = r->element[0])->type == REDIS_REPLY_ARRAY &&
	    s->elements == 2 && s->element[1]->type == REDIS_REPLY_ARRAY)
		return s->element[1];
	log_err("XREADGROUP: unexpected reply shape");
	return NULL;
}

/* Applies a batch of entries and moves the pending cursor past them. */
static void
reader_batch(struct worker *w, const redisReply *r)
{
	struct reader *rd = &w->reader;
	const redisReply *entries = reader_entries(r), *last, *id;
	size_t i;

	if (entries == NULL)
		return;
	if (!w->wr.ready) {
		/* Replies and XACKs cannot go out: read these again later. */
		rd->rewind = 1;
		return;
	}
	for (i = 0; i < entries->elements; i++) {
		if (!lease_check(w)) {
			/* Stood by meanwhile: the rest stays pending for the
			 * next active worker to claim. */
			rd->rewind = 1;
			return;
		}
		apply_entry(w, entries->element[i]);
	}
	if (rd->phase != READER_PENDING)
		return;
	if (entries->elements == 0) {
		log_info("pending entries done; reading new ones");
		rd->phase = READER_NEW;
		return;
	}
	last = entries->element[entries->elements - 1];
	id = last->type == REDIS_REPLY_ARRAY && last->elements > 0 ? last->element[0] : NULL;
	if (id != NULL && id->type == REDIS_REPLY_STRING && id->len < sizeof(rd->cursor))
		memcpy(rd->cursor, id->str, id->len + 1);
	else
		rd->phase = READER_NEW;	/* cannot move on: skip the rest */
}

/* hiredis callback of XREADGROUP; the reply belongs to hiredis and is NULL
 * when the connection was lost (rd's on_up then starts over). privdata is
 * the worker. */
static void
reader_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct worker *w = privdata;
	redisReply *r = reply;

	(void)ac;
	w->reader.busy = 0;
	if (r == NULL) {
		if (w->stopping)	/* not from inside hiredis's teardown */
			uv_timer_start(&w->reader.retry, reader_on_retry, 0, 0);
		return;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		log_err("XREADGROUP: %s", r->str);
		if (strncmp(r->str, "NOGROUP", 7) == 0)
			w->group_ok = 0;	/* Redis lost the stream: create it again */
		reader_retry(w);
	} else if (r->type == REDIS_REPLY_ARRAY)
		reader_batch(w, r);
	if (w->stopping)
		worker_stop_continue(w);
	else
		reader_kick(w);
}
