/*
 * clock.h - server time for tutti.
 * Server time is CLOCK_REALTIME in integer microseconds since the Unix epoch;
 * every field that holds one ends in _us (see ARCHITECTURE.md, "Time").
 */
#ifndef TUTTI_CLOCK_H
#define TUTTI_CLOCK_H

#include <stdint.h>

/* Returns the current server time in microseconds since the epoch. */
int64_t clock_now_us(void);

/* Returns CLOCK_MONOTONIC in microseconds, for timeouts and durations only. */
int64_t clock_mono_us(void);

#endif
