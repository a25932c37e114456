/*
 * cors.c - CORS (the Fetch standard's cross-origin protocol) for pages
 * served from another origin than the API's, e.g. the web client on a CDN:
 * only origins on the -O allow-list (the relay's list, common/origin.c) get
 * Access-Control-* headers. Same-origin pages need none and are served as
 * before; so are clients without Origin (curl, the native client). Bearer
 * tokens, no cookies: never Access-Control-Allow-Credentials.
 */
#include "api.h"
#include "origin.h"

#include <stdio.h>
#include <string.h>

/* What a page may read of an answer besides the CORS-safelisted headers. */
#define CORS_EXPOSE "ETag, Location, Retry-After, Allow, Upload-Offset, " \
	"Upload-Length, Upload-Expires, Upload-Metadata, Tus-Resumable, Tus-Version, " \
	"Tus-Max-Size, Tus-Extension, Tus-Checksum-Algorithm, Tutti-Track, Tutti-Item, Tutti-Audio"
/* What a request may carry: the API's and the tus request headers. */
#define CORS_HEADERS "Authorization, Content-Type, If-Match, If-None-Match, " \
	"Tus-Resumable, Upload-Length, Upload-Offset, Upload-Metadata, Upload-Checksum, " \
	"Upload-Defer-Length"
/* The methods of a path the API has no route for (its answer is then 404). */
#define CORS_METHODS "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
#define CORS_MAX_AGE 600	/* seconds a browser may reuse a preflight's answer */

/* Returns the request's Origin when it is on the -O list, else NULL. */
static const char *
cors_origin(struct api_req *r)
{
	const struct api_config *cfg = r->t->cfg;
	const char *o = api_param(r, "HTTP_ORIGIN");

	if (o == NULL || !origin_listed(o, strlen(o), cfg->origins, cfg->norigins))
		return NULL;
	return o;
}

static int
cors_is_preflight(struct api_req *r)
{
	return strcmp(r->method, "OPTIONS") == 0 && api_param(r, "HTTP_ORIGIN") != NULL &&
	    api_param(r, "HTTP_ACCESS_CONTROL_REQUEST_METHOD") != NULL;
}

/* Answers the preflight of a listed origin (its Allow-Origin already
 * written): 204, through the tus OPTIONS answer on the upload paths. */
static void
cors_preflight(struct api_req *r)
{
	char methods[128];

	if (api_route_methods(r->m.route, methods, sizeof(methods)) == 0)
		snprintf(methods, sizeof(methods), "%s", CORS_METHODS);
	FCGX_FPrintF(r->fcgi->out, "Access-Control-Allow-Methods: %s\r\n"
	    "Access-Control-Allow-Headers: " CORS_HEADERS "\r\n"
	    "Access-Control-Max-Age: %d\r\n", methods, CORS_MAX_AGE);
	if (r->m.route == ROUTE_UPLOADS || r->m.route == ROUTE_UPLOAD)
		api_uploads_options(r);
	else
		api_reply_empty(r, 204, NULL);
}

int
api_cors(struct api_req *r)
{
	const char *origin = cors_origin(r);
	int preflight = cors_is_preflight(r);

	if (origin == NULL) {
		if (!preflight)
			return 0;
		api_problem(r, 403, "Origin not allowed", "this page's origin may not call "
		    "the API; the server lists the origins it answers with tutti-api -O");
		return 1;
	}
	/* CGI header lines may come in any order: these go before the
	 * handler's Status line, so every answer carries them. */
	FCGX_FPrintF(r->fcgi->out, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n",
	    origin);
	if (preflight) {
		cors_preflight(r);
		return 1;
	}
	FCGX_PutS("Access-Control-Expose-Headers: " CORS_EXPOSE "\r\n", r->fcgi->out);
	return 0;
}
