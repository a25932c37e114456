/*
 * origin.h - the Origin check of the WebSocket upgrade (relay/origin.c).
 */
#ifndef TUTTI_ORIGIN_H
#define TUTTI_ORIGIN_H

#include <stddef.h>

/* Returns 1 when a client with this Origin (n bytes, or NULL when the
 * request has none) may upgrade on a connection whose Host is host (hn
 * bytes): no Origin; an Origin whose host[:port] equals Host (ASCII case
 * ignored); or an Origin equal to one of the nallow entries of allow
 * ("https://example.org"). Else 0, also for "null" and malformed ones. */
int origin_allowed(const char *origin, size_t n, const char *host, size_t hn,
    const char *const *allow, size_t nallow);

#endif
