/*
 * roles.h - presence to roles: the worker applies the `presence` entries
 * that the relays' script (common/presence.c) puts on tutti:cmd when a
 * user's listener count goes 0 -> >0 or >0 -> 0. It records users.online
 * and moves the room's two marks the sweep acts on: admin_lost_us (the
 * grace period before a promotion) and empty_since_us (the idle time before
 * the close). The decision itself is a pure function, roles_decide().
 */
#ifndef TUTTI_ROLES_H
#define TUTTI_ROLES_H

#include "entry.h"

#include <stdint.h>

#define ROLES_UNSET 0	/* a mark that is NULL in rooms */

/* The room's present users (left_us IS NULL), counted after a change. */
struct roles_tally {
	int64_t present;
	int64_t online;		/* present and online: the room's listeners */
	int64_t admins_online;	/* present, online and admin */
};

/* The room's marks; ROLES_UNSET when NULL. */
struct roles_marks {
	int64_t admin_lost_us;
	int64_t empty_since_us;
};

struct worker;

/* Counts one present user into t (start from a zeroed tally). */
void roles_tally_add(struct roles_tally *t, int admin, int online);

/* Decides the marks after a present user (admin: their role) changed to
 * online, t counting the room after the change, cur the marks before it,
 * at server time now_us:
 *   admin_lost_us: unset while a present admin is online; set to now_us
 *     when an admin went offline and no present admin is online (unless
 *     already set); else unchanged.
 *   empty_since_us: unset while a present user is online; set to now_us
 *     when a user went offline and nobody present is online (unless already
 *     set); else unchanged.
 * Only transitions set a mark: users who never come online (REST only)
 * leave the marks alone. Fills *out; returns 1 when it differs from *cur,
 * else 0. */
int roles_decide(const struct roles_tally *t, int admin, int online,
    const struct roles_marks *cur, int64_t now_us, struct roles_marks *out);

/* Applies a parsed presence entry (e->kind ENTRY_PRESENCE): in one write
 * transaction sets users.online of e->user when they are present in the
 * room, moves the marks (roles_decide()) and takes the room's next seq;
 * after COMMIT publishes {"type":"presence","room","seq","user":{"id",
 * "name"},"online","listeners"}. An entry that changes nothing (the same
 * value, a user not present, a closed or unknown room, an entry applied
 * before) only records e->id as the room's last_cmd when there is a room,
 * and publishes nothing. Returns 0, or -1 on a database error (logged,
 * rolled back). The caller acknowledges the entry either way. */
int roles_apply(struct worker *w, const struct entry *e);

#endif
