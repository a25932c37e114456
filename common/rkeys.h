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
/* String: the id of the one active worker, with an expiry of lease_ms that
 * the holder renews; standby workers take it when it is gone. */
#define RKEY_WORKER_LEASE "tutti:worker:lease"
/* Hash per room: user_id -> open WebSocket listeners of that user in the room
 * over all relays. Suffix: room code. Changed only by PRESENCE_SCRIPT. */
#define RKEY_PRESENCE     "tutti:presence:"
/* Hash per relay: "<code>:<user_id>" -> that relay's share of the count
 * above. Suffix: relay id. Changed by PRESENCE_SCRIPT; deleted by the
 * worker once the relay is dead. */
#define RKEY_RELAY_CONNS  "tutti:relay:conns:"
/* Set of the ids of the relays that may hold listeners. */
#define RKEY_RELAYS       "tutti:relays"
/* String per relay with PX 3000, renewed every second while the relay
 * lives; its absence marks the relay dead. Suffix: relay id. */
#define RKEY_RELAY_ALIVE  "tutti:relay:alive:"
/* Hash per relay: room code -> p95 round trip (µs, decimal) that the
 * room's listeners on that relay reported in their time-sync pings,
 * rewritten every second with PX 5000; the worker's adaptive lead
 * (worker/lead.h) reads them all. Suffix: relay id. */
#define RKEY_RTT          "tutti:rtt:"

#endif
