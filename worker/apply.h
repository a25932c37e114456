/*
 * apply.h - changing a room's timeline: a command from the stream, the
 * automatic advance at an item's end, and the restore on taking the lease.
 * Each change runs sched inside one SQLite write transaction (anchor, seq
 * and last_cmd together), then publishes the event and re-arms the room's
 * timers.
 */
#ifndef TUTTI_APPLY_H
#define TUTTI_APPLY_H

#include <hiredis/hiredis.h>
#include <stdint.h>

struct worker;

/* What apply_entry() decided for a command entry (counted in /metrics,
 * stats.h): its anchor changed, it changed nothing, it was refused (its
 * reply carries the status), or it was applied before (a redelivery,
 * answered again). */
enum apply_kind { APPLY_CHANGED, APPLY_SAME, APPLY_SKIPPED, APPLY_REFUSED };
#define APPLY_KINDS (APPLY_REFUSED + 1)

/* Applies one entry of an XREADGROUP reply (borrowed for the call), answers
 * it on tutti:reply:{req} when it has a req, and acknowledges it; a
 * malformed entry is answered 400 and acknowledged too, so the stream never
 * wedges. A reload moves an anchor whose item left the playlist (cause
 * "playlist"), re-arms the room's timers, or drops them for a closed room.
 * A presence entry goes to roles_apply() (roles.h). */
void apply_entry(struct worker *w, const redisReply *entry);

/* The advance timer of a playing room fired: applies the item's end (the
 * next item, gapless, or the stop after the last), or re-arms when it is not
 * due yet. A database error retries in a second. */
void apply_advance(struct worker *w, int64_t room_id);

/* When the worker becomes active (lease.h): for every open room, advances
 * an anchor whose item ended while no worker ran to where the room should
 * be now (gaplessly) and publishes that playback event (cause "advance"),
 * and arms the timers of the playing rooms. Returns 0, or -1 when the rooms
 * cannot be listed (logged). */
int apply_restore(struct worker *w);

/* When the worker becomes active, after apply_restore(): SET
 * tutti:room:{code} and tutti:snap:{code} of every open room from SQLite
 * (cause "restore"). */
void apply_rebuild(struct worker *w);

#endif
