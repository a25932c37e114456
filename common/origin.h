/*
 * origin.h - browser origins ("scheme://host[:port]", RFC 6454): the
 * check of an -O value given to tutti-relay or tutti-api, the allow-list
 * match behind the API's CORS answers (fcgi/cors.c), and the relay's
 * Origin check of the WebSocket upgrade (relay/conn.c). common/origin.c.
 */
#ifndef TUTTI_ORIGIN_H
#define TUTTI_ORIGIN_H

#include <stddef.h>

#define ORIGIN_MAX 300		/* bytes of an -O value */
#define ORIGIN_LIST_MAX 16	/* -O options a program takes */

/* Checks an -O value (n bytes, no NUL needed) as an origin the way a
 * browser writes one: scheme://host[:port] with an RFC 3986 scheme, a host
 * of [A-Za-z0-9._-] (a dot only between labels) or a [bracketed] IPv6
 * address, a port of 1 to 65535 without leading zeros and not the scheme's
 * default (browsers leave out :80 for http and :443 for https); no user,
 * path (not even "/"), query or fragment; "null" and "*" are refused.
 * Returns 0, or -1 with a sentence for the operator in why (whylen bytes,
 * NUL-terminated). */
int origin_check(const char *s, size_t n, char *why, size_t whylen);

/* Returns 1 when the origin (n bytes) equals one of the nallow entries of
 * allow, ASCII case ignored, else 0 (also for NULL). */
int origin_listed(const char *origin, size_t n, const char *const *allow, size_t nallow);

/* Returns 1 when a client with this Origin (n bytes, or NULL when the
 * request has none) may upgrade on a connection whose Host is host (hn
 * bytes): no Origin; an Origin whose host[:port] equals Host (ASCII case
 * ignored); or an Origin equal to one of the nallow entries of allow
 * ("https://example.org"). Else 0, also for "null" and malformed ones. */
int origin_allowed(const char *origin, size_t n, const char *host, size_t hn,
    const char *const *allow, size_t nallow);

#endif
