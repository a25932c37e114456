/*
 * route.h - the API's routes: the pure path parser behind api_route(), and
 * the route names used in logs and /metrics.
 */
#ifndef TUTTI_ROUTE_H
#define TUTTI_ROUTE_H

#include <stddef.h>
#include <stdint.h>

enum api_route_id {
	ROUTE_NONE,
	ROUTE_HEALTH,		/* /api/healthz */
	ROUTE_READY,		/* /api/readyz */
	ROUTE_METRICS,		/* /metrics */
	ROUTE_ROOMS,		/* /api/rooms */
	ROUTE_ROOM,		/* /api/rooms/{code} */
	ROUTE_JOIN,		/* /api/rooms/{code}/join */
	ROUTE_LEAVE,		/* /api/rooms/{code}/leave */
	ROUTE_CONTROL,		/* /api/rooms/{code}/control */
	ROUTE_ADMIN,		/* /api/rooms/{code}/admin */
	ROUTE_USERS,		/* /api/rooms/{code}/users */
	ROUTE_USER,		/* /api/rooms/{code}/users/{id} */
	ROUTE_PLAYLIST,		/* /api/rooms/{code}/playlist */
	ROUTE_PLAYLIST_ITEM,	/* /api/rooms/{code}/playlist/{id} */
	ROUTE_REQUESTS,		/* /api/rooms/{code}/requests */
	ROUTE_REQUEST,		/* /api/rooms/{code}/requests/{id} */
	ROUTE_CHAT,		/* /api/rooms/{code}/chat */
	ROUTE_TRACKS,		/* /api/tracks */
	ROUTE_TRACK,		/* /api/tracks/{id} */
	ROUTE_UPLOADS,		/* /api/uploads */
	ROUTE_UPLOAD,		/* /api/uploads/{key} */
	ROUTE_COUNT
};

#define ROUTE_CODE_MAX 16	/* room code segment, with its NUL */
#define ROUTE_KEY_MAX  64	/* upload id segment, with its NUL */

/* What a path matched: the route and its variable segments. */
struct route_match {
	enum api_route_id route;
	char code[ROUTE_CODE_MAX];	/* {code}, not validated beyond its size */
	int64_t id;			/* {id}: 1..2^63-1, decimal, no sign or zeros first */
	char key[ROUTE_KEY_MAX];	/* {key}: [A-Za-z0-9_-]{1,63} */
};

/* Parses a request path (no query string) into *m. A path matches only
 * exactly: no trailing slash, no empty, "." or ".." segments, no
 * percent-escapes. Returns m->route (ROUTE_NONE when nothing matches). */
enum api_route_id api_route_parse(const char *path, struct route_match *m);

/* Returns the route's name for logs and metrics ("rooms_get" style is the
 * handler's business; this is the path template, e.g. "/api/rooms/{code}"). */
const char *api_route_name(enum api_route_id id);

#endif
