/*
 * rkeys.h - every Redis key and channel tutti uses, in one place.
 * Redis holds only what may be lost and rebuilt (ARCHITECTURE.md, "Where
 * data lives"); docs/protocol.md describes each key's value.
 */
#ifndef TUTTI_RKEYS_H
#define TUTTI_RKEYS_H

/* Stream of control commands; read by the workers' consumer group. */
#define RKEY_CMD_STREAM   "tutti:cmd"
#define RKEY_CMD_GROUP    "workers"
/* Hash per session: fields room, user_id, name, role. Suffix: sha256 hex of the token. */
#define RKEY_SESSION      "tutti:sess:"
/* String per open room (its numeric id). Suffix: room code. */
#define RKEY_ROOM         "tutti:room:"
/* String: the room's last playback event (JSON). Suffix: room code. */
#define RKEY_SNAPSHOT     "tutti:snap:"
/* Pub/sub channel of a room's events. Suffix: room code. */
#define RKEY_EVENTS       "tutti:ev:"
/* List the worker pushes one reply (JSON) onto for a command. Suffix: request id. */
#define RKEY_REPLY        "tutti:reply:"
/* Pub/sub channel a relay publishes its own watchdog probe on and stays
 * subscribed to. Suffix: relay id. */
#define RKEY_RELAY_PROBE  "tutti:relay:"
/* String: the id of the worker that answers commands, with a short expiry. */
#define RKEY_WORKER_ALIVE "tutti:worker:alive"

#endif
