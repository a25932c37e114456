/*
 * http.c - the HTTP side of tutti-api: reading a JSON request body from
 * FastCGI's stdin, and writing JSON or application/problem+json responses
 * (RFC 9457) to FastCGI's stdout.
 */
#include "api.h"
#include "log.h"
#include "query.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *
api_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 460: return "Checksum Mismatch";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	default:  return "Status";
	}
}

static void
api_send(struct api_req *r, int status, const char *ctype, const char *text,
    const char *extra)
{
	r->status = status;
	FCGX_FPrintF(r->fcgi->out, "Status: %d %s\r\nContent-Type: %s\r\n"
	    "Cache-Control: no-store\r\n%s\r\n", status, api_reason(status), ctype,
	    extra ? extra : "");
	if (text != NULL) {
		FCGX_PutS(text, r->fcgi->out);
		FCGX_PutS("\n", r->fcgi->out);
	}
}

void
api_reply(struct api_req *r, int status, json_t *body, const char *extra)
{
	char *text = NULL;

	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL) {
		json_decref(body);
		api_problem(r, 500, "Internal error", "response encoding failed");
		return;
	}
	api_send(r, status, "application/json", text, extra);
	free(text);
	json_decref(body);
}

static void
api_problem_v(struct api_req *r, int status, const char *title, const char *extra,
    const char *fmt, va_list ap)
{
	char detail[512] = "";
	json_t *p;
	char *text;

	if (fmt != NULL)
		vsnprintf(detail, sizeof(detail), fmt, ap);
	p = json_pack("{s:s, s:s, s:i}", "type", "about:blank", "title", title,
	    "status", status);
	if (p != NULL && detail[0] != '\0')
		json_object_set_new(p, "detail", json_string(detail));
	text = p ? json_dumps(p, JSON_COMPACT) : NULL;
	api_send(r, status, "application/problem+json",
	    text ? text : "{\"title\":\"Internal error\",\"status\":500}", extra);
	free(text);
	json_decref(p);
}

void
api_problem(struct api_req *r, int status, const char *title, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	api_problem_v(r, status, title, NULL, fmt, ap);
	va_end(ap);
}

void
api_problem_h(struct api_req *r, int status, const char *title, const char *extra,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	api_problem_v(r, status, title, extra, fmt, ap);
	va_end(ap);
}

void
api_reply_empty(struct api_req *r, int status, const char *extra)
{
	r->status = status;
	FCGX_FPrintF(r->fcgi->out, "Status: %d %s\r\nCache-Control: no-store\r\n%s\r\n",
	    status, api_reason(status), extra ? extra : "");
}

const char *
api_param(struct api_req *r, const char *name)
{
	return FCGX_GetParam(name, r->fcgi->envp);
}

/* Reads exactly len bytes of the body into a malloc'd buffer the caller
 * frees. Returns NULL when the client sent fewer bytes. */
static char *
api_read_body(struct api_req *r, size_t len)
{
	char *buf = malloc(len + 1);
	int n;

	if (buf == NULL)
		return NULL;
	n = len ? FCGX_GetStr(buf, (int)len, r->fcgi->in) : 0;
	if (n < 0 || (size_t)n != len) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static int
api_is_json_type(const char *ctype)
{
	size_t n = strlen("application/json");

	/* No type at all is let in (the body must still be JSON); a form's
	 * urlencoded type is not, so no cross-site form can post here. */
	if (ctype == NULL || *ctype == '\0')
		return 1;
	return strncasecmp(ctype, "application/json", n) == 0 &&
	    (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

int
api_read_json(struct api_req *r)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->fcgi->envp);
	const char *ct = FCGX_GetParam("CONTENT_TYPE", r->fcgi->envp);
	json_error_t jerr;
	char *buf, *end;
	unsigned long len;

	if (!api_is_json_type(ct)) {
		api_problem(r, 415, "Unsupported media type",
		    "send the body as application/json");
		return -1;
	}
	errno = 0;
	len = cl && *cl ? strtoul(cl, &end, 10) : 0;
	if (cl && *cl && (errno != 0 || *end != '\0')) {
		api_problem(r, 400, "Bad request", "invalid Content-Length");
		return -1;
	}
	if (len > API_MAX_BODY) {
		api_problem(r, 413, "Body too large", "at most %d bytes", API_MAX_BODY);
		return -1;
	}
	if ((buf = api_read_body(r, len)) == NULL) {
		api_problem(r, 400, "Bad request", "the body is shorter than Content-Length");
		return -1;
	}
	r->body = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (r->body == NULL) {
		api_problem(r, 400, "Malformed JSON", "line %d, column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(r->body)) {
		api_problem(r, 400, "Malformed JSON", "the body must be a JSON object");
		return -1;
	}
	return 0;
}

int
api_read_json_only(struct api_req *r, ...)
{
	const char *key, *allowed;
	json_t *v;
	va_list ap;
	int ok;

	if (api_read_json(r) != 0)
		return -1;
	json_object_foreach(r->body, key, v) {
		va_start(ap, r);
		for (ok = 0; !ok && (allowed = va_arg(ap, const char *)) != NULL; )
			ok = strcmp(key, allowed) == 0;
		va_end(ap);
		if (!ok) {
			api_problem(r, 400, "Unknown field", "\"%.64s\" is not a field of "
			    "this request", key);
			return -1;
		}
	}
	return 0;
}

int
api_query(struct api_req *r, const char *name, char *buf, size_t n)
{
	int rc = query_get(r->query, strlen(r->query), name, buf, n);

	if (rc >= 0)
		return 1;
	if (rc == -1)
		return 0;
	api_problem(r, 400, "Invalid query", rc == -3 ? "parameter %s is given twice" :
	    "parameter %s is malformed or longer than %zu bytes", name, n - 1);
	return -1;
}

int
api_query_int(struct api_req *r, const char *name, int64_t def, int64_t min,
    int64_t max, int64_t *v)
{
	char buf[32], *end;
	long long x;
	int rc;

	if ((rc = api_query(r, name, buf, sizeof(buf))) < 0)
		return -1;
	if (rc == 0) {
		*v = def;
		return 0;
	}
	errno = 0;
	x = strtoll(buf, &end, 10);
	if (buf[0] == '\0' || *end != '\0' || errno != 0 || x < min || x > max) {
		api_problem(r, 400, "Invalid query", "parameter %s is an integer from "
		    "%lld to %lld", name, (long long)min, (long long)max);
		return -1;
	}
	*v = x;
	return 0;
}
