/*
 * route.c - maps a request's method and path to its handler. The path
 * parser is a pure function (api_route_parse) so it can be fuzzed.
 */
#include "api.h"
#include "route.h"

#include <string.h>

int
api_route_parse(const char *path, char *code, size_t codelen)
{
	static const char prefix[] = "/api/rooms/";
	const char *seg, *slash;
	size_t n;

	if (strcmp(path, "/api/healthz") == 0)
		return ROUTE_HEALTH;
	if (strcmp(path, "/api/rooms") == 0)
		return ROUTE_ROOMS;
	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return ROUTE_NONE;
	seg = path + sizeof(prefix) - 1;
	slash = strchr(seg, '/');
	n = slash ? (size_t)(slash - seg) : strlen(seg);
	if (n == 0 || n >= codelen)
		return ROUTE_NONE;
	memcpy(code, seg, n);
	code[n] = '\0';
	if (slash == NULL)
		return ROUTE_ROOM;
	if (strcmp(slash, "/join") == 0)
		return ROUTE_JOIN;
	if (strcmp(slash, "/control") == 0)
		return ROUTE_CONTROL;
	return ROUTE_NONE;
}

static int
api_method_is(struct api_req *r, const char *want)
{
	if (strcmp(r->method, want) == 0)
		return 1;
	r->status = 405;
	FCGX_FPrintF(r->fcgi->out, "Status: 405 Method Not Allowed\r\nAllow: %s\r\n"
	    "Content-Type: application/problem+json\r\n\r\n"
	    "{\"type\":\"about:blank\",\"title\":\"Method not allowed\",\"status\":405,"
	    "\"detail\":\"use %s\"}\n", want, want);
	return 0;
}

void
api_route(struct api_req *r)
{
	char code[16];

	switch (api_route_parse(r->path, code, sizeof(code))) {
	case ROUTE_HEALTH:
		if (api_method_is(r, "GET"))
			api_health(r);
		break;
	case ROUTE_ROOMS:
		if (api_method_is(r, "POST"))
			api_rooms_create(r);
		break;
	case ROUTE_ROOM:
		if (api_method_is(r, "GET"))
			api_rooms_get(r, code);
		break;
	case ROUTE_JOIN:
		if (api_method_is(r, "POST"))
			api_rooms_join(r, code);
		break;
	case ROUTE_CONTROL:
		if (api_method_is(r, "POST"))
			api_control(r, code);
		break;
	default:
		api_problem(r, 404, "Not found", "no API endpoint at %s", r->path);
	}
}
