/*
 * room.c - the rooms this relay serves: a hash table by code, each with its
 * listeners and the state of its Redis subscription (docs/protocol.md,
 * tutti:ev:{code}). The first listener of a room subscribes, the last one
 * leaving unsubscribes; a listener is upgraded (hello) only once the
 * subscription is confirmed, so a client that fetches the room state after
 * hello misses no event. Each event is encoded once and written to every
 * listener from the same bytes.
 *
 * A room lives while it has listeners or a SUBSCRIBE/UNSUBSCRIBE in flight.
 * Writes may close a listener in the middle of a walk over the room; `busy`
 * keeps the room allocated until the walk ends.
 */
#include "relay.h"

#include "log.h"
#include "rtt.h"
#include "text.h"
#include "ws.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOM_P95_LEN 24		/* an int64_t in decimal, NUL */

static size_t
room_hash(const char *code)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	while (*code != '\0')
		h = (h ^ (unsigned char)*code++) * 16777619u;
	return h;
}

static struct room *
room_find(struct relay *r, const char *code)
{
	struct room *rm;

	if (r->nbuckets == 0)
		return NULL;
	for (rm = r->rooms[room_hash(code) & (r->nbuckets - 1)]; rm != NULL; rm = rm->hnext)
		if (strcmp(rm->code, code) == 0)
			return rm;
	return NULL;
}

static void
room_grow(struct relay *r)
{
	size_t nb = r->nbuckets ? r->nbuckets * 2 : 64, i;
	struct room **t = xcalloc(nb, sizeof(*t)), *rm, *next;

	for (i = 0; i < r->nbuckets; i++)
		for (rm = r->rooms[i]; rm != NULL; rm = next) {
			next = rm->hnext;
			rm->hnext = t[room_hash(rm->code) & (nb - 1)];
			t[room_hash(rm->code) & (nb - 1)] = rm;
		}
	free(r->rooms);
	r->rooms = t;
	r->nbuckets = nb;
}

static struct room *
room_add(struct relay *r, const char *code)
{
	struct room *rm = xcalloc(1, sizeof(*rm));
	size_t b;

	if (r->nrooms >= r->nbuckets)
		room_grow(r);
	memcpy(rm->code, code, CODE_LEN + 1);
	b = room_hash(code) & (r->nbuckets - 1);
	rm->hnext = r->rooms[b];
	r->rooms[b] = rm;
	r->nrooms++;
	return rm;
}

/* Frees rm when nothing refers to it any more. */
static void
room_maybe_free(struct relay *r, struct room *rm)
{
	struct room **pp;

	if (rm->n > 0 || rm->sub != SUB_NONE || rm->busy)
		return;
	for (pp = &r->rooms[room_hash(rm->code) & (r->nbuckets - 1)]; *pp != rm; pp = &(*pp)->hnext)
		;
	*pp = rm->hnext;
	r->nrooms--;
	if (rm->snap != NULL)
		outbuf_unref(rm->snap);
	free(rm->rtt);
	free(rm);
}

int
room_join(struct relay *r, struct conn *c)
{
	struct room *rm = room_find(r, c->code);

	if (rm == NULL)
		rm = room_add(r, c->code);
	if (rm->sub == SUB_NONE) {
		if (rds_subscribe(r, rm->code) != 0) {
			room_maybe_free(r, rm);
			return -1;
		}
		rm->sub = SUB_PENDING;
	}
	c->room = rm;
	c->rprev = NULL;
	c->rnext = rm->head;
	if (rm->head != NULL)
		rm->head->rprev = c;
	rm->head = c;
	rm->n++;
	/* SUB_LEAVING: subscribed again when the UNSUBSCRIBE is confirmed. */
	return rm->sub == SUB_ACTIVE;
}

void
room_leave(struct relay *r, struct conn *c)
{
	struct room *rm = c->room;

	if (c->present) {
		c->present = 0;
		rds_presence(r, c->code, c->user_id, -1);
	}
	if (c->rprev != NULL)
		c->rprev->rnext = c->rnext;
	else
		rm->head = c->rnext;
	if (c->rnext != NULL)
		c->rnext->rprev = c->rprev;
	c->rnext = c->rprev = NULL;
	c->room = NULL;
	if (--rm->n > 0)
		return;
	if (rm->sub == SUB_PENDING || rm->sub == SUB_ACTIVE)
		rm->sub = rds_unsubscribe(r, rm->code) == 0 ? SUB_LEAVING : SUB_NONE;
	room_maybe_free(r, rm);
}

/* Writes b to every upgraded listener of rm. */
static void
room_send(struct relay *r, struct room *rm, struct outbuf *b)
{
	struct conn *c, *next;

	rm->busy++;
	for (c = rm->head; c != NULL; c = next) {
		next = c->rnext;	/* sending may close c, and only c */
		if (c->state == C_OPEN)
			conn_cork(c, b);
	}
	rm->busy--;
	room_maybe_free(r, rm);
}

/* What the relay itself acts on in an event: the seq of a playback event
 * (its snapshot), the user whose session a user_left ends, a room_closed. */
struct room_event {
	int64_t playback_seq;	/* -1: not a playback event */
	int64_t left_user;	/* 0: not a user_left */
	int closed;		/* a room_closed */
};

/* Reads ev from an event (JSON text, n bytes); an unreadable one is none of
 * these. One parse per event, not per listener. */
static void
room_classify(const char *json, size_t n, struct room_event *ev)
{
	json_t *j = json_loadb(json, n, 0, NULL);
	json_t *seq = json_object_get(j, "seq");
	json_t *uid = json_object_get(json_object_get(j, "user"), "id");
	const char *type = json_string_value(json_object_get(j, "type"));

	ev->playback_seq = -1;
	ev->left_user = 0;
	ev->closed = 0;
	if (type != NULL && strcmp(type, "playback") == 0 && json_is_integer(seq))
		ev->playback_seq = json_integer_value(seq);
	else if (type != NULL && strcmp(type, "user_left") == 0 && json_is_integer(uid))
		ev->left_user = json_integer_value(uid);
	else if (type != NULL && strcmp(type, "room_closed") == 0)
		ev->closed = 1;
	json_decref(j);
}

/* Ends the sockets whose session ev ended: the user who left or was
 * removed (its token is void), or everyone when the room closed. The event
 * itself is already corked for them and is written before the close. */
static void
room_end_sessions(struct relay *r, struct room *rm, const struct room_event *ev)
{
	struct conn *c, *next;

	if (!ev->closed && ev->left_user <= 0)
		return;
	rm->busy++;
	for (c = rm->head; c != NULL; c = next) {
		next = c->rnext;	/* closing may unlink c, and only c */
		if (c->state == C_OPEN && (ev->closed || c->user_id == ev->left_user))
			conn_end(c, ev->closed ? RELAY_CLOSE_ROOM_CLOSED : RELAY_CLOSE_LEFT);
	}
	rm->busy--;
	room_maybe_free(r, rm);
}

/* Keeps b (a playback event with this seq) as the room's snapshot, unless
 * the one kept is newer. */
static void
room_keep_snapshot(struct room *rm, struct outbuf *b, int64_t seq)
{
	if (rm->snap != NULL && rm->snap_seq >= seq)
		return;
	if (rm->snap != NULL)
		outbuf_unref(rm->snap);
	b->refs++;
	rm->snap = b;
	rm->snap_seq = seq;
}

void
room_on_message(struct relay *r, const char *code, const char *payload, size_t len)
{
	struct room *rm = room_find(r, code);
	struct room_event ev;
	struct outbuf *b;

	if (rm == NULL || rm->sub != SUB_ACTIVE || rm->n == 0)
		return;
	if (text_utf8_len(payload, len) < 0) {
		log_warn("room %s: dropped an event that is not UTF-8 (%zu bytes)", code, len);
		return;
	}
	b = outbuf_frame(WS_OP_TEXT, payload, len);
	room_classify(payload, len, &ev);
	if (ev.playback_seq >= 0)
		room_keep_snapshot(rm, b, ev.playback_seq);
	room_send(r, rm, b);
	outbuf_unref(b);
	if ((rm = room_find(r, code)) != NULL)
		room_end_sessions(r, rm, &ev);
}

void
room_send_snapshot(struct relay *r, struct conn *c)
{
	(void)r;
	if (c->room != NULL && c->room->snap != NULL && !c->snapped && c->state == C_OPEN) {
		c->snapped = 1;
		conn_send(c, c->room->snap);
	}
}

void
room_on_snapshot(struct relay *r, const char *code, const char *json, size_t n)
{
	struct room *rm = room_find(r, code);
	struct conn *c, *next;
	struct room_event ev;
	struct outbuf *b;

	if (rm == NULL)
		return;
	rm->snap_asked = 0;
	if (json != NULL && text_utf8_len(json, n) >= 0 &&
	    (room_classify(json, n, &ev), ev.playback_seq >= 0)) {
		b = outbuf_frame(WS_OP_TEXT, json, n);
		room_keep_snapshot(rm, b, ev.playback_seq);
		outbuf_unref(b);
	}
	rm->busy++;
	for (c = rm->head; c != NULL; c = next) {
		next = c->rnext;
		room_send_snapshot(r, c);
	}
	rm->busy--;
	room_maybe_free(r, rm);
}

void
room_on_subscribed(struct relay *r, const char *code)
{
	struct room *rm = room_find(r, code);
	struct conn *c, *next;

	if (rm == NULL || rm->sub != SUB_PENDING)
		return;
	rm->sub = SUB_ACTIVE;
	if (rm->resync) {
		rm->resync = 0;
		room_send(r, rm, r->resync_frame);
	}
	rm->busy++;
	for (c = rm->head; c != NULL; c = next) {
		next = c->rnext;
		if (c->state == C_SUBWAIT)
			conn_upgrade(c);
	}
	rm->busy--;
	/* Listeners get the snapshot once it is read, after their hello. */
	if (!rm->snap_asked && rds_snapshot(r, rm->code) == 0)
		rm->snap_asked = 1;
	room_maybe_free(r, rm);
}

void
room_on_unsubscribed(struct relay *r, const char *code)
{
	struct room *rm = room_find(r, code);

	if (rm == NULL || rm->sub != SUB_LEAVING)
		return;
	rm->sub = SUB_NONE;
	if (rm->n > 0 && rds_subscribe(r, rm->code) == 0)
		rm->sub = SUB_PENDING;
	room_maybe_free(r, rm);
}

void
room_redis_lost(struct relay *r)
{
	struct room *rm, *next;
	struct conn *c, *cnext;
	size_t i;

	for (i = 0; i < r->nbuckets; i++)
		for (rm = r->rooms[i]; rm != NULL; rm = rm->hnext)
			rm->sub = SUB_NONE;
	for (i = 0; i < r->nbuckets; i++)
		for (rm = r->rooms[i]; rm != NULL; rm = next) {
			next = rm->hnext;
			rm->busy++;
			for (c = rm->head; c != NULL; c = cnext) {
				cnext = c->rnext;
				if (c->state == C_SUBWAIT)
					conn_refuse(c, 503, "Redis cannot be reached");
			}
			rm->busy--;
			rm->resync = rm->n > 0;
			room_maybe_free(r, rm);
		}
}

void
room_redis_up(struct relay *r)
{
	struct room *rm;
	size_t i;

	for (i = 0; i < r->nbuckets; i++)
		for (rm = r->rooms[i]; rm != NULL; rm = rm->hnext)
			if (rm->n > 0 && rm->sub == SUB_NONE && rds_subscribe(r, rm->code) == 0)
				rm->sub = SUB_PENDING;
}

void
room_free_all(struct relay *r)
{
	struct room *rm, *next;
	size_t i;

	for (i = 0; i < r->nbuckets; i++)
		for (rm = r->rooms[i]; rm != NULL; rm = next) {
			next = rm->hnext;
			if (rm->snap != NULL)
				outbuf_unref(rm->snap);
			free(rm->rtt);
			free(rm);
		}
	free(r->rooms);
	r->rooms = NULL;
	r->nbuckets = r->nrooms = 0;
}

void
room_rtt(struct relay *r, struct conn *c, int64_t rtt_us)
{
	uint64_t now = uv_now(r->loop);
	struct room *rm = c->room;

	if (rm == NULL || rtt_us < 0 || rtt_us > UINT32_MAX ||
	    (c->t_rtt != 0 && now - c->t_rtt < RTT_GAP_MS))
		return;
	if (rm->rtt == NULL)
		rm->rtt = xcalloc(1, sizeof(*rm->rtt));
	c->t_rtt = now;
	rtt_add(rm->rtt, (uint32_t)rtt_us, now);
}

void
room_rtt_report(struct relay *r)
{
	uint64_t now = uv_now(r->loop);
	const char **f;
	char (*val)[ROOM_P95_LEN];
	struct room *rm;
	int64_t p95;
	size_t i, n = 0;

	f = xmalloc((2 * r->nrooms + 1) * sizeof(*f));
	val = xmalloc((r->nrooms + 1) * sizeof(*val));
	for (i = 0; i < r->nbuckets; i++)
		for (rm = r->rooms[i]; rm != NULL; rm = rm->hnext) {
			if (rm->rtt == NULL || rm->n == 0 ||
			    (p95 = rtt_p95(rm->rtt, now, RTT_AGE_MS)) <= 0)
				continue;
			snprintf(val[n], sizeof(val[n]), "%lld", (long long)p95);
			f[2 * n] = rm->code;
			f[2 * n + 1] = val[n];
			n++;
		}
	rds_rtt_write(r, f, n);
	free(f);
	free(val);
}
