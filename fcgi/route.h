/*
 * route.h - the API's routes, and the pure path parser behind api_route().
 */
#ifndef TUTTI_ROUTE_H
#define TUTTI_ROUTE_H

#include <stddef.h>

enum api_route_id {
	ROUTE_NONE, ROUTE_HEALTH, ROUTE_ROOMS, ROUTE_ROOM, ROUTE_JOIN, ROUTE_CONTROL
};

/* Parses a decoded request path (no query string). For routes under
 * /api/rooms/{code}, copies the code segment into code (codelen bytes,
 * NUL-terminated); a segment that does not fit gives ROUTE_NONE. The code is
 * not validated here. Returns the route. */
int api_route_parse(const char *path, char *code, size_t codelen);

#endif
