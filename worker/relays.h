/*
 * relays.h - removing the listeners of relays that died. A live relay
 * renews tutti:relay:alive:{id} every second (PX 3000); when that key is
 * gone, the sweep takes back the relay's share of every user's listener
 * count (tutti:relay:conns:{id}) through the presence script, whose
 * offline transitions then come back through tutti:cmd as ordinary
 * presence entries, and forgets the relay.
 */
#ifndef TUTTI_RELAYS_H
#define TUTTI_RELAYS_H

struct worker;

/* Starts one check of every relay in tutti:relays, asynchronously on the
 * write connection, unless the previous check is still in flight or the
 * connection is down. Safe to run from two workers at once: the script
 * clamps a decrement to what the relay still holds, so counts are taken
 * back once. */
void relays_check(struct worker *w);

#endif
