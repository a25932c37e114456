/*
 * publish.h - everything the worker writes to Redis (docs/protocol.md):
 * playback events and snapshots, beacons, role, chat, presence and close
 * events, command replies, acknowledgements, the room keys rebuilt from
 * SQLite and the liveness key. All JSON is built
 * with jansson. Writes go out on the write connection, pipelined in call
 * order; while it is down they are dropped (logged at debug): SQLite stays
 * the truth and the snapshots are rebuilt on reconnect.
 */
#ifndef TUTTI_PUBLISH_H
#define TUTTI_PUBLISH_H

#include "anchor.h"
#include "rooms.h"

#include <jansson.h>
#include <stdint.h>

struct worker;

/* Returns a new object {"type", "room", "seq", "state", "item_id",
 * "track_id", "position_us", "at_us", "next_item_id", "cause"} that the
 * caller owns, or NULL when out of memory. next_item_id is
 * sched_next_item() of a (0: null). cause may be NULL (then omitted). */
json_t *publish_event_json(const char *type, const char *code, int64_t seq,
    const struct anchor *a, int64_t next_item_id, const char *cause);

/* SET tutti:snap:{code} and PUBLISH tutti:ev:{code} a playback event;
 * next_item_id as for publish_event_json(). */
void publish_playback(struct worker *w, const char *code, int64_t seq,
    const struct anchor *a, int64_t next_item_id, const char *cause);

/* The rebuild of a room's keys: SET tutti:room:{code} room_id and SET
 * tutti:snap:{code} to a playback event with cause "restore". */
void publish_restore(struct worker *w, int64_t room_id, const char *code, int64_t seq,
    const struct anchor *a, int64_t next_item_id);

/* PUBLISH tutti:ev:{code} a beacon: r's anchor and next item (as stored by
 * rooms_update(): nothing is recomputed), seq (no new seq), now_us. */
void publish_beacon(struct worker *w, const struct room *r, int64_t seq, int64_t now_us);

/* PUBLISH tutti:ev:{code} {"type":"role_changed","room","seq","user":{"id",
 * "name","role":"admin","joined_us"},"by":null,"reason":"promoted"}: u was
 * promoted by the worker; with "previous":{"id","name","role":"member"}
 * when prev (may be NULL), an admin who had gone offline, was demoted. */
void publish_promoted(struct worker *w, const char *code, int64_t seq,
    const struct store_user *u, const struct store_user *prev);

/* PUBLISH tutti:ev:{code} {"type":"presence","room","seq","user":{"id",
 * "name"},"online":true|false,"listeners"}: a present user came online or
 * went offline; listeners counts the present users online afterwards. */
void publish_presence(struct worker *w, const char *code, int64_t seq, int64_t user_id,
    const char *name, int online, int64_t listeners);

/* PUBLISH tutti:ev:{code} {"type":"chat","room","seq","message":{"id",
 * "user_id":null,"name":"","kind":"system","text","at_us"}}. */
void publish_chat_system(struct worker *w, const char *code, int64_t seq, int64_t id,
    const char *text, int64_t at_us);

/* PUBLISH tutti:ev:{code} {"type":"room_closed","room","seq","reason"}, then
 * DEL tutti:room:{code} and tutti:snap:{code}. */
void publish_room_closed(struct worker *w, const char *code, int64_t seq,
    const char *reason);

/* Sets the role field of the session hash tutti:sess:{token_hash}, only when
 * the session exists (a partial hash must not be created). */
void publish_session_role(struct worker *w, const char *token_hash, const char *role);

/* RPUSH tutti:reply:{req} {"ok":true,"seq":seq,"playback":{..., "next_item_id"}},
 * EXPIRE 10. */
void publish_reply_ok(struct worker *w, const char *req, int64_t seq, const struct anchor *a,
    int64_t next_item_id);

/* RPUSH tutti:reply:{req} {"ok":false,"status","title","detail"}, EXPIRE 10. */
void publish_reply_err(struct worker *w, const char *req, int status, const char *title,
    const char *detail);

/* XACK tutti:cmd workers id. */
void publish_ack(struct worker *w, const char *id);

/* SET tutti:worker:alive {id} PX 3000. */
void publish_alive(struct worker *w);

/* Deletes tutti:worker:alive when it still holds this worker's id (a
 * standby may have taken over), on a graceful stop. */
void publish_dead(struct worker *w);

#endif
