/*
 * route.c - maps a request's method and path to its handler. The path
 * parser (api_route_parse) is a pure function over the caller's string so
 * it can be fuzzed; the dispatch table below pairs routes and methods (and
 * names them for 405's Allow and CORS preflights, cors.c).
 */
#include "api.h"
#include "route.h"

#include <string.h>

/* Path templates; "{code}", "{id}" and "{key}" are variable segments. */
static const char *const api_templates[ROUTE_COUNT] = {
	[ROUTE_NONE] = "",
	[ROUTE_HEALTH] = "/api/healthz",
	[ROUTE_READY] = "/api/readyz",
	[ROUTE_METRICS] = "/metrics",
	[ROUTE_ROOMS] = "/api/rooms",
	[ROUTE_ROOM] = "/api/rooms/{code}",
	[ROUTE_JOIN] = "/api/rooms/{code}/join",
	[ROUTE_LEAVE] = "/api/rooms/{code}/leave",
	[ROUTE_CONTROL] = "/api/rooms/{code}/control",
	[ROUTE_ADMIN] = "/api/rooms/{code}/admin",
	[ROUTE_USERS] = "/api/rooms/{code}/users",
	[ROUTE_USER] = "/api/rooms/{code}/users/{id}",
	[ROUTE_PLAYLIST] = "/api/rooms/{code}/playlist",
	[ROUTE_PLAYLIST_ITEM] = "/api/rooms/{code}/playlist/{id}",
	[ROUTE_REQUESTS] = "/api/rooms/{code}/requests",
	[ROUTE_REQUEST] = "/api/rooms/{code}/requests/{id}",
	[ROUTE_CHAT] = "/api/rooms/{code}/chat",
	[ROUTE_TRACKS] = "/api/tracks",
	[ROUTE_TRACK] = "/api/tracks/{id}",
	[ROUTE_UPLOADS] = "/api/uploads",
	[ROUTE_UPLOAD] = "/api/uploads/{key}",
};

const char *
api_route_name(enum api_route_id id)
{
	return id > ROUTE_NONE && id < ROUTE_COUNT ? api_templates[id] : "other";
}

/* Parses n bytes as a positive int64 without sign or leading zeros. */
static int
api_route_id(const char *s, size_t n, int64_t *v)
{
	int64_t x = 0;
	size_t i;

	if (n == 0 || n > 19 || s[0] == '0')
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || x > (INT64_MAX - (s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return 0;
}

static int
api_route_key(const char *s, size_t n, char *key)
{
	size_t i;

	if (n == 0 || n >= ROUTE_KEY_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return -1;
	memcpy(key, s, n);
	key[n] = '\0';
	return 0;
}

/* Matches path against one template, filling m's variables. Returns 1 on a
 * match, else 0. */
static int
api_route_match(const char *tpl, const char *path, struct route_match *m)
{
	while (*tpl != '\0') {
		const char *te, *pe;
		size_t tn, pn;

		if (*tpl != '/' || *path != '/')
			return 0;
		tpl++, path++;
		te = strchr(tpl, '/');
		tn = te ? (size_t)(te - tpl) : strlen(tpl);
		pe = strchr(path, '/');
		pn = pe ? (size_t)(pe - path) : strlen(path);
		if (strncmp(tpl, "{code}", tn) == 0 && tn == 6) {
			if (pn == 0 || pn >= sizeof(m->code))
				return 0;
			memcpy(m->code, path, pn);
			m->code[pn] = '\0';
		} else if (strncmp(tpl, "{id}", tn) == 0 && tn == 4) {
			if (api_route_id(path, pn, &m->id) != 0)
				return 0;
		} else if (strncmp(tpl, "{key}", tn) == 0 && tn == 5) {
			if (api_route_key(path, pn, m->key) != 0)
				return 0;
		} else if (tn != pn || strncmp(tpl, path, tn) != 0)
			return 0;
		tpl += tn;
		path += pn;
	}
	return *path == '\0';
}

enum api_route_id
api_route_parse(const char *path, struct route_match *m)
{
	int i;

	memset(m, 0, sizeof(*m));
	for (i = ROUTE_NONE + 1; i < ROUTE_COUNT; i++)
		if (api_route_match(api_templates[i], path, m))
			return m->route = (enum api_route_id)i;
	memset(m, 0, sizeof(*m));
	return ROUTE_NONE;
}

/* One handler per route and method. */
static const struct api_handler {
	enum api_route_id route;
	const char *method;
	void (*fn)(struct api_req *);
} api_handlers[] = {
	{ ROUTE_HEALTH, "GET", api_health },
	{ ROUTE_READY, "GET", api_ready },
	{ ROUTE_METRICS, "GET", api_metrics },
	{ ROUTE_ROOMS, "GET", api_rooms_list },
	{ ROUTE_ROOMS, "POST", api_rooms_create },
	{ ROUTE_ROOM, "GET", api_rooms_get },
	{ ROUTE_ROOM, "PATCH", api_rooms_update },
	{ ROUTE_ROOM, "DELETE", api_rooms_close },
	{ ROUTE_JOIN, "POST", api_rooms_join },
	{ ROUTE_LEAVE, "POST", api_users_leave },
	{ ROUTE_CONTROL, "POST", api_control },
	{ ROUTE_ADMIN, "PUT", api_users_admin },
	{ ROUTE_USERS, "GET", api_users_list },
	{ ROUTE_USER, "DELETE", api_users_remove },
	{ ROUTE_PLAYLIST, "GET", api_playlist_get },
	{ ROUTE_PLAYLIST, "POST", api_playlist_add },
	{ ROUTE_PLAYLIST, "PUT", api_playlist_order },
	{ ROUTE_PLAYLIST_ITEM, "DELETE", api_playlist_remove },
	{ ROUTE_REQUESTS, "GET", api_requests_list },
	{ ROUTE_REQUESTS, "POST", api_requests_create },
	{ ROUTE_REQUEST, "PATCH", api_requests_resolve },
	{ ROUTE_CHAT, "GET", api_chat_list },
	{ ROUTE_CHAT, "POST", api_chat_post },
	{ ROUTE_TRACKS, "GET", api_tracks_list },
	{ ROUTE_TRACK, "GET", api_tracks_get },
	{ ROUTE_UPLOADS, "OPTIONS", api_uploads_options },
	{ ROUTE_UPLOADS, "POST", api_uploads_create },
	{ ROUTE_UPLOAD, "OPTIONS", api_uploads_options },
	{ ROUTE_UPLOAD, "HEAD", api_uploads_head },
	{ ROUTE_UPLOAD, "PATCH", api_uploads_patch },
	{ ROUTE_UPLOAD, "DELETE", api_uploads_delete },
};

#define API_NHANDLERS (sizeof(api_handlers) / sizeof(api_handlers[0]))

int
api_route_methods(enum api_route_id route, char *buf, size_t n)
{
	size_t i;
	int count = 0;

	if (n == 0)
		return 0;
	buf[0] = '\0';
	for (i = 0; i < API_NHANDLERS; i++)
		if (api_handlers[i].route == route && route != ROUTE_NONE) {
			if (count++ > 0)
				strncat(buf, ", ", n - strlen(buf) - 1);
			strncat(buf, api_handlers[i].method, n - strlen(buf) - 1);
		}
	return count;
}

/* Sends 405 with the Allow header listing the route's methods. */
static void
api_not_allowed(struct api_req *r)
{
	char allow[128], hdr[192];

	api_route_methods(r->m.route, allow, sizeof(allow));
	snprintf(hdr, sizeof(hdr), "Allow: %s\r\n%s", allow, r->m.route == ROUTE_UPLOADS ||
	    r->m.route == ROUTE_UPLOAD ? "Tus-Resumable: 1.0.0\r\n" : "");
	api_problem_h(r, 405, "Method not allowed", hdr, "%s is not allowed here; Allow: %s",
	    r->method, allow);
}

void
api_route(struct api_req *r)
{
	size_t i;

	api_route_parse(r->path, &r->m);
	if (api_cors(r))
		return;
	if (r->m.route == ROUTE_NONE) {
		/* tus clients expect Tus-Resumable on every answer under uploads */
		api_problem_h(r, 404, "Not found", strncmp(r->path, "/api/uploads", 12) == 0 ?
		    "Tus-Resumable: 1.0.0\r\n" : NULL, "no API endpoint at this path");
		return;
	}
	for (i = 0; i < API_NHANDLERS; i++)
		if (api_handlers[i].route == r->m.route &&
		    strcmp(api_handlers[i].method, r->method) == 0) {
			api_handlers[i].fn(r);
			return;
		}
	api_not_allowed(r);
}
