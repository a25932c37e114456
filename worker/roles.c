/*
 * roles.c - presence entries to users.online and the room's marks (see
 * roles.h). Like a command, each entry records its stream id in
 * rooms.last_cmd in its own transaction, so an entry delivered twice (a
 * crash between COMMIT and XACK) is applied once and a replayed "offline"
 * cannot undo the "online" that followed it.
 */
#include "roles.h"
#include "clock.h"
#include "log.h"
#include "publish.h"
#include "store.h"
#include "worker.h"

#include <string.h>

void
roles_tally_add(struct roles_tally *t, int admin, int online)
{
	t->present++;
	if (online) {
		t->online++;
		if (admin)
			t->admins_online++;
	}
}

int
roles_decide(const struct roles_tally *t, int admin, int online,
    const struct roles_marks *cur, int64_t now_us, struct roles_marks *out)
{
	*out = *cur;
	if (t->admins_online > 0)
		out->admin_lost_us = ROLES_UNSET;
	else if (admin && !online && cur->admin_lost_us == ROLES_UNSET)
		out->admin_lost_us = now_us;
	if (t->online > 0)
		out->empty_since_us = ROLES_UNSET;
	else if (!online && cur->empty_since_us == ROLES_UNSET)
		out->empty_since_us = now_us;
	return out->admin_lost_us != cur->admin_lost_us ||
	    out->empty_since_us != cur->empty_since_us;
}

/* What a presence entry did, decided inside its transaction. */
struct roles_out {
	struct store_room room;
	struct store_presence u;
	struct roles_tally t;
	struct roles_marks before, after;
	int64_t seq;
	int changed;		/* users.online changed: publish */
};

/* Inside the transaction, for a user whose online value changes: writes
 * it, moves the marks and takes the next seq. Returns 0 or -1. */
static int
roles_change(struct worker *w, const struct entry *e, struct roles_out *o)
{
	struct store *st = w->store;

	if (store_set_online(st, e->user, e->online) != 0 ||
	    store_tally(st, o->room.id, &o->t) != 0 ||
	    store_marks(st, o->room.id, &o->before) != 0)
		return -1;
	if (roles_decide(&o->t, o->u.admin, e->online, &o->before, clock_now_us(),
	    &o->after) && store_set_marks(st, o->room.id, &o->after) != 0)
		return -1;
	o->changed = 1;
	return store_bump(st, o->room.id, e->id, &o->seq);
}

/* Decides e and commits. Returns 0 with *o filled (o->changed says whether
 * to publish), or -1 on a database error (rolled back). */
static int
roles_tx(struct worker *w, const struct entry *e, struct roles_out *o)
{
	struct store *st = w->store;
	int rc;

	memset(o, 0, sizeof(*o));
	if (store_begin(st, 1) != 0)
		return -1;
	if ((rc = store_room_by_code(st, e->room, &o->room)) != 0 || o->room.closed ||
	    entry_id_seen(e->id, o->room.last_cmd)) {
		store_rollback(st);
		if (rc == 0)
			log_debug("room %s: presence entry %s ignored (%s)", e->room, e->id,
			    o->room.closed ? "room closed" : "applied before");
		else if (rc > 0)
			log_debug("presence entry %s: no room %s", e->id, e->room);
		return rc < 0 ? -1 : 0;
	}
	if ((rc = store_user_presence(st, o->room.id, e->user, &o->u)) < 0)
		goto fail;
	if (rc == 0 && o->u.present && o->u.online != e->online)
		rc = roles_change(w, e, o);
	else
		rc = store_mark(st, o->room.id, e->id);
	if (rc != 0 || store_commit(st) != 0)
		goto fail;
	return 0;
fail:
	store_rollback(st);
	return -1;
}

/* Logs the marks that moved. */
static void
roles_log_marks(const struct entry *e, const struct roles_out *o)
{
	const struct roles_marks *b = &o->before, *a = &o->after;

	if (a->admin_lost_us != b->admin_lost_us)
		log_info("room %s: %s", e->room, a->admin_lost_us != ROLES_UNSET ?
		    "no admin is online: the grace period starts" :
		    "an admin is online again: no promotion");
	if (a->empty_since_us != b->empty_since_us)
		log_info("room %s: %s", e->room, a->empty_since_us != ROLES_UNSET ?
		    "nobody is listening: the idle time starts" : "listened to again");
}

int
roles_apply(struct worker *w, const struct entry *e)
{
	struct roles_out o;

	if (roles_tx(w, e, &o) != 0) {
		log_err("room %s: presence of user %lld (entry %s) failed on the database",
		    e->room, (long long)e->user, e->id);
		return -1;
	}
	if (!o.changed)
		return 0;
	log_debug("room %s: user %lld %s, %lld listening (seq %lld)", e->room,
	    (long long)e->user, e->online ? "online" : "offline", (long long)o.t.online,
	    (long long)o.seq);
	roles_log_marks(e, &o);
	publish_presence(w, o.room.code, o.seq, e->user, o.u.name, e->online, o.t.online);
	return 0;
}
