/*
 * relay.h - tutti-relay's state: one event loop, one thread (ARCHITECTURE.md,
 * "Processes"). The relay holds sockets and nothing else a room needs; every
 * event arrives from Redis pub/sub, is encoded once into a refcounted frame
 * (struct outbuf) and written to each listener of its room from those same
 * bytes. Files:
 *   main.c   options, listening socket, signals, start and teardown
 *   conn.c   a client connection: HTTP upgrade, frames, writes, timeouts
 *   room.c   rooms by code, their listeners, subscriptions and fan-out
 *   redis.c  the two Redis connections: lookups, pub/sub, watchdog, backoff
 *   metrics.c  the counters behind -m (common/metricsrv.c serves them)
 *   msg.c, common/http.c, common/ws.c   pure parsers and encoders (unit-tested,
 *            fuzzed)
 *
 * Out of memory is fatal (xmalloc): the relay keeps no state of its own, and
 * its clients reconnect, through nginx, to whichever relay is up.
 */
#ifndef TUTTI_RELAY_H
#define TUTTI_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "metricsrv.h"
#include "token.h"

#define RELAY_ID_MAX       32		/* -i: [A-Za-z0-9._-]{1,32} */
#define RELAY_ORIGINS_MAX  16		/* -O options */
#define RELAY_MSG_MAX      4096		/* largest client message (protocol.md) */
#define RELAY_WQ_MAX       (1024 * 1024)	/* unsent bytes before a listener is dropped */
/* Close codes (private range) for a listener whose session ended: after
 * the user_left event of its user, after the room_closed event. */
#define RELAY_CLOSE_LEFT        4401
#define RELAY_CLOSE_ROOM_CLOSED 4410
#define RELAY_RBUF_MAX     (8192 + 4096 + 64)	/* unconsumed input held per connection */
#define RELAY_HANDSHAKE_MS 10000	/* accept to 101 */
#define RELAY_PING_MS      20000	/* quiet this long: send a WebSocket ping */
#define RELAY_IDLE_MS      60000	/* nothing received this long: drop */
#define RELAY_LINGER_MS    2000		/* a closing connection's last bytes */
#define RELAY_TICK_MS      1000		/* handshake and linger deadlines */
#define RELAY_KEEPALIVE_MS 5000		/* ping and idle sweep */
#define RELAY_STOP_MS      500		/* SIGTERM to exit, at most */

/*
 * Bytes written to one or many sockets: an encoded frame, or an HTTP
 * response. Each uv_write holds a reference, released in its callback, so a
 * room event costs one allocation whatever the number of listeners.
 */
struct outbuf {
	uint32_t refs;
	uint32_t len;
	uint8_t data[];
};

enum conn_state {
	C_HANDSHAKE,	/* reading the request head */
	C_AUTH,		/* the Redis lookup is in flight */
	C_SUBWAIT,	/* authorized, in its room, waiting for the subscription */
	C_OPEN,		/* upgraded: a listener */
	C_CLOSING,	/* a refusal or a close frame queued, then FIN; waiting for EOF */
	C_CLOSED	/* uv_close called; freed when the last reference goes */
};

struct conn;
struct rtt_ring;
struct conn_list {
	struct conn *head, *tail;
	size_t n;
};

union relay_stream {
	uv_handle_t h;
	uv_stream_t s;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

struct conn {
	union relay_stream u;		/* u.h.data points to the conn */
	struct conn *next, *prev;	/* in relay.pending, .open or .closing */
	struct conn *rnext, *rprev;	/* in room->head */
	struct room *room;		/* set from C_SUBWAIT until it closes */
	uint8_t *rbuf;			/* received bytes not consumed yet */
	uint32_t rlen, rcap;
	uint8_t *msg;			/* a fragmented text message being reassembled */
	uint32_t msg_len;
	/*
	 * References: one for the libuv handle (dropped in the close callback)
	 * and one for each Redis callback in flight that was given this conn
	 * as privdata. Freed at zero; callbacks look at state first.
	 */
	uint32_t refs;
	uint8_t state;			/* enum conn_state */
	int8_t room_exists;		/* the EXISTS answer: 1, 0, -1 unknown */
	uint8_t snapped;		/* the room's snapshot was sent to it */
	uint8_t present;		/* counted in Redis presence (C_OPEN, user known) */
	uint8_t corked;			/* in relay.corked */
	struct wreq *cork;		/* room events to write after this poll, or NULL */
	struct conn *cnext;		/* in relay.corked */
	int64_t user_id;		/* from the session, once authorized */
	uint64_t t_state;		/* uv_now() when it joined its list */
	uint64_t t_rx;			/* uv_now() of the last byte received */
	uint64_t t_ping;		/* uv_now() of the last ping sent */
	uint64_t t_rtt;			/* uv_now() of its last round trip counted */
	char code[CODE_LEN + 1];	/* room code, once the request is checked */
	char accept[29];		/* Sec-WebSocket-Accept, until the upgrade */
	char from[48];			/* client address, for the log */
};

enum sub_state {
	SUB_NONE,	/* not subscribed */
	SUB_PENDING,	/* SUBSCRIBE sent */
	SUB_ACTIVE,	/* subscription confirmed */
	SUB_LEAVING	/* UNSUBSCRIBE sent */
};

struct room {
	struct room *hnext;		/* hash chain */
	struct conn *head;		/* listeners: C_SUBWAIT and C_OPEN */
	uint32_t n;			/* number of listeners */
	uint8_t sub;			/* enum sub_state */
	uint8_t resync;			/* Redis was lost: send resync when subscribed */
	uint8_t busy;			/* being iterated: do not free */
	uint8_t snap_asked;		/* GET of the snapshot in flight */
	struct outbuf *snap;		/* the last playback event, as a frame, or NULL */
	int64_t snap_seq;		/* its seq */
	struct rtt_ring *rtt;		/* round trips its listeners reported, or NULL */
	char code[CODE_LEN + 1];
};

enum rds_state { RDS_DOWN, RDS_CONNECTING, RDS_UP };

struct redisAsyncContext;

struct rds {
	struct redisAsyncContext *cmd;	/* lookups and the watchdog's PUBLISH */
	struct redisAsyncContext *sub;	/* SUBSCRIBE only */
	int state;			/* enum rds_state */
	int cmd_up, sub_up;		/* connected (and AUTH accepted, with a password) */
	int ever_up, warned;
	int refused;			/* this attempt's AUTH was refused */
	int refused_warned;		/* the refusal was logged in this failure streak */
	unsigned backoff_ms;
	uint64_t t_connect;		/* uv_now() of the connection attempt */
	uint64_t t_cmd_ok, t_sub_ok;	/* last reply on each connection */
	char *path;			/* unix socket, or NULL */
	char *host;
	int port;
	char ctl[64];			/* tutti:relay:{id}, see redis.c */
	char err[128];			/* why the last connection attempt failed */
	int recounting;			/* the presence recount after a connect is in flight */
	uintptr_t recount_gen;		/* recounts done; see rds_heartbeat() */
	uv_timer_t retry, watchdog;
};

/* Counters for /metrics (metrics.c). */
struct relay_stats {
	uint64_t accepted;		/* connections accepted */
	uint64_t refused;		/* upgrades refused with an HTTP status */
	uint64_t frames_out;		/* frames queued to listeners */
	uint64_t bytes_out;		/* their bytes */
	uint64_t slow_dropped;		/* listeners closed for not reading */
	uint64_t redis_reconnects;	/* Redis connections regained */
};

struct wreq;

struct relay {
	uv_loop_t *loop;
	const char *id;			/* -i */
	const char *listen_spec;	/* -l */
	const char *redis_spec;		/* -R */
	const char *redis_user;		/* TUTTI_REDIS_USER, or NULL; environment's */
	const char *redis_password;	/* TUTTI_REDIS_PASSWORD, or NULL: no AUTH */
	char **origins;			/* -O: browser origins let in besides the Host's */
	size_t norigins;
	union relay_stream lsn;
	int lsn_unix;
	char *unix_path;		/* bound unix socket, removed at exit */
	uv_timer_t tick, keepalive, stop_timer;
	uv_signal_t sigterm, sigint;
	int stopping;
	struct conn_list pending;	/* C_HANDSHAKE, C_AUTH, C_SUBWAIT; by accept time */
	struct conn_list open;		/* C_OPEN */
	struct conn_list closing;	/* C_CLOSING; by closing time */
	struct room **rooms;		/* hash table by code */
	size_t nbuckets, nrooms;
	struct outbuf *ping_frame;	/* shared by every keepalive ping */
	struct outbuf *resync_frame;	/* {"type":"resync","reason":"redis"} */
	struct outbuf *bye_frame;	/* close 1001, on SIGTERM */
	struct conn *corked;		/* listeners with corked room events */
	uv_check_t flush;		/* writes them after each poll (conn_flush_all) */
	uv_idle_t kick;			/* no blocking poll while any is corked */
	struct wreq *wfree;		/* free write requests */
	size_t nwfree;
	struct rds rds;
	struct relay_stats stats;
	struct metricsrv metrics;	/* -m: the /metrics listener */
	uint8_t rdbuf[65536];		/* every read lands here first */
};

/* main.c */

/* malloc/calloc that log and abort when memory runs out. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
/* After SIGTERM: finishes the exit at once when no connection is left. */
void relay_maybe_done(struct relay *r);

/* conn.c */

/* A buffer of len bytes (data uninitialized) with one reference, the
 * caller's; released with outbuf_unref, freed with the last reference. */
struct outbuf *outbuf_new(size_t len);
/* An unmasked final frame of opcode op around a copy of payload. */
struct outbuf *outbuf_frame(unsigned op, const void *payload, size_t len);
void outbuf_unref(struct outbuf *b);
/* uv_listen callback of the relay's listening socket. */
void conn_on_accept(uv_stream_t *server, int status);
/* Queues b on c when c is an upgraded listener (a reference is taken until
 * the write completes); closes c with 1008 when more than RELAY_WQ_MAX bytes
 * are left unsent. May close c, never another conn. */
void conn_send(struct conn *c, struct outbuf *b);
/* Like conn_send for room events: b (one more reference) is written with
 * the other events of this loop iteration for c, in one writev, after the
 * poll phase (or at once when WREQ_BUFS are corked). When the relay keeps up
 * that is one event a write; when it falls behind, events batch. */
void conn_cork(struct conn *c, struct outbuf *b);
/* Closes the open listener c with code once the events corked for it are
 * written (the session ended: RELAY_CLOSE_LEFT, RELAY_CLOSE_ROOM_CLOSED).
 * May close c, never another conn; ignored unless c is open. */
void conn_end(struct conn *c, unsigned code);
/* The check callback: writes every corked listener's events. */
void conn_flush_all(struct relay *r);
/* The end of c's Redis lookup: status 0 joins the room (and upgrades once
 * it is subscribed), else refuses with that status and detail. Ignored
 * unless c is still C_AUTH. */
void conn_auth_done(struct conn *c, int status, const char *detail);
/* Sends the 101 and hello to a C_SUBWAIT conn, then handles any frames that
 * came with the request. */
void conn_upgrade(struct conn *c);
/* Answers a conn not yet upgraded with a problem+json refusal, logs it
 * (never the token) and closes it. */
void conn_refuse(struct conn *c, int status, const char *detail);
/* Drops one reference; frees c with the last. */
void conn_unref(struct conn *c);
/* Every RELAY_TICK_MS: drops handshakes older than RELAY_HANDSHAKE_MS and
 * closing conns older than RELAY_LINGER_MS. */
void conn_tick(struct relay *r);
/* Every RELAY_KEEPALIVE_MS: pings quiet listeners, drops silent ones. */
void conn_keepalive(struct relay *r);
/* SIGTERM: drops conns not upgraded, sends close 1001 to every listener. */
void conn_stop_all(struct relay *r);
/* Closes every conn now. */
void conn_abort_all(struct relay *r);
/* Counts every open listener in Redis presence again (after Redis came
 * back; the relay's old counts were removed first). */
void conn_presence_all(struct relay *r);
/* Frees the pool of write requests (at exit, once no write is pending). */
void conn_pool_free(struct relay *r);

/* metrics.c */

/* Serves GET /metrics on spec (host:port, numeric; a local address, as
 * nothing guards it; see metricsrv_listen()). Returns 0, or -1 (logged).
 * Closed by the caller with metricsrv_close(&r->metrics), whatever it
 * returned. */
int metrics_listen(struct relay *r, const char *spec);

/* room.c */

/* Adds a C_SUBWAIT conn to the room c->code, subscribing when it is the
 * first. Returns 1 when the subscription is already active (upgrade now), 0
 * when it is pending (room_on_subscribed upgrades), -1 when Redis is down
 * (c is not in the room). */
int room_join(struct relay *r, struct conn *c);
/* Removes c from its room; the last one out unsubscribes. */
void room_leave(struct relay *r, struct conn *c);
/* A message of tutti:ev:{code}: checked as UTF-8, encoded once, written to
 * every listener of the room from the same bytes. */
void room_on_message(struct relay *r, const char *code, const char *payload, size_t len);
/* SUBSCRIBE confirmed: resync (after a Redis loss), upgrade the waiting,
 * and fetch the room's snapshot. */
void room_on_subscribed(struct relay *r, const char *code);
/* The answer to the snapshot GET (json: the last playback event, n bytes;
 * NULL when there is none or Redis failed): kept unless a newer playback
 * event came meanwhile, and sent to every listener that has none yet. */
void room_on_snapshot(struct relay *r, const char *code, const char *json, size_t n);
/* After the hello: sends c the room's snapshot, when there is one. */
void room_send_snapshot(struct relay *r, struct conn *c);
/* UNSUBSCRIBE confirmed: subscribes again if someone joined meanwhile. */
void room_on_unsubscribed(struct relay *r, const char *code);
/* Redis is gone: every subscription is void; conns waiting for one get 503,
 * rooms with listeners are marked for a resync. */
void room_redis_lost(struct relay *r);
/* Redis is back: subscribes every room with listeners. */
void room_redis_up(struct relay *r);
/* At exit: frees every room and the table. */
void room_free_all(struct relay *r);
/* A ping of c carried the client's last round trip (rtt_us >= 0): counted
 * in c's room (rtt.h), at most once per RTT_GAP_MS per listener. */
void room_rtt(struct relay *r, struct conn *c, int64_t rtt_us);
/* Every second: writes the p95 round trip of each room with recent reports
 * into tutti:rtt:{id} (replacing the hash; see rds_rtt_write). */
void room_rtt_report(struct relay *r);

/* redis.c */

/* Parses spec (unix socket path, "unix:path", host:port or [v6]:port) and
 * prepares the timers. Returns 0, or -1 for a malformed spec (the timers
 * exist either way: rds_stop closes them). */
int rds_init(struct relay *r, const char *spec);
/* Connects (retrying with backoff forever) and starts the watchdog. With
 * r->redis_password set, each connection sends AUTH before anything else
 * and counts as up only once Redis accepted it. */
void rds_start(struct relay *r);
/* Pipelines EXISTS tutti:room:{c->code} and HMGET tutti:sess:{token_hash}
 * room user_id; conn_auth_done(c, ...) follows, with c->user_id set. Takes
 * a reference on c per command. Returns 0, or -1 when Redis is not
 * connected (answer 503). */
int rds_auth(struct relay *r, struct conn *c, const char *token_hash);
/* SUBSCRIBE / UNSUBSCRIBE tutti:ev:{code}; the confirmations come back
 * through room_on_subscribed / room_on_unsubscribed. Return 0, or -1 when
 * Redis is not connected. */
int rds_subscribe(struct relay *r, const char *code);
int rds_unsubscribe(struct relay *r, const char *code);
/* Changes user_id's listener count in room code by delta through the
 * presence script (common/presence.h), which tells the worker when the
 * user comes online or goes offline. Fire and forget: when Redis is down
 * the change is lost, and rds_up() counts every listener again. */
void rds_presence(struct relay *r, const char *code, int64_t user_id, int delta);
/* Renews the relay's heartbeat key (tutti:relay:alive:{id}, PX 3000) and
 * its entry in tutti:relays; every second from the tick timer. When it has
 * listeners but its conns hash is gone (a worker took it for dead), counts
 * them again. */
void rds_heartbeat(struct relay *r);
/* GET tutti:snap:{code}; room_on_snapshot() follows (also when Redis fails).
 * Returns 0, or -1 when Redis is not connected (nothing follows). */
int rds_snapshot(struct relay *r, const char *code);
/* Replaces tutti:rtt:{id} with the n (code, p95 µs) pairs of fields
 * (2n strings, copied before the call returns), PX 5000, in one MULTI; an
 * empty set just deletes it. Nothing when Redis is down. */
void rds_rtt_write(struct relay *r, const char **fields, size_t n);
/* At exit (r->stopping set): frees both connections, which calls pending
 * lookups back with no reply, and closes the timers. */
void rds_stop(struct relay *r);

#endif
