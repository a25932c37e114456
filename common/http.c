/*
 * http.c - the request head parser of the relay's WebSocket opening
 * handshake and of the metrics listeners (RFC 9112 section 2-5, restricted
 * to what a client of /ws or a Prometheus scraper sends), header lookups,
 * and problem+json refusals (RFC 9457, the body built with jansson).
 */
#include "http.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* tchar (RFC 9110, 5.6.2): the characters of a method or a field name. */
static int
http_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Bytes that appear nowhere in a request head (CR and LF are handled apart). */
static int
http_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* "METHOD SP target SP HTTP/1.d", exactly. */
static int
http_request_line(const unsigned char *s, size_t n, struct http_request *req)
{
	size_t i = 0, t;

	while (i < n && http_tchar(s[i]))
		i++;
	if (i == 0 || i >= n || s[i] != ' ')
		return -1;
	req->method = (const char *)s;
	req->method_len = i++;
	for (t = i; i < n && s[i] > 0x20 && s[i] < 0x7f; i++)
		;
	if (i == t || i >= n || s[i] != ' ')
		return -1;
	req->target = (const char *)s + t;
	req->target_len = i++ - t;
	if (n - i != 8 || memcmp(s + i, "HTTP/1.", 7) != 0 || s[i + 7] < '0' || s[i + 7] > '9')
		return -1;
	req->minor = s[i + 7] - '0';
	return 0;
}

/* "name: OWS value OWS"; no line folding, no whitespace before the colon. */
static int
http_field(const unsigned char *s, size_t n, struct http_header *h)
{
	size_t i = 0, e, k;

	while (i < n && http_tchar(s[i]))
		i++;
	if (i == 0 || i >= n || s[i] != ':')
		return -1;
	h->name = (const char *)s;
	h->name_len = i++;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	for (e = n; e > i && (s[e - 1] == ' ' || s[e - 1] == '\t'); e--)
		;
	for (k = i; k < e; k++)
		if (http_ctl(s[k]))
			return -1;
	h->value = (const char *)s + i;
	h->value_len = e - i;
	return 0;
}

int
http_parse_request(const char *buf, size_t n, struct http_request *req, int *status)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t lim = n < HTTP_MAX_HEAD ? n : HTTP_MAX_HEAD;
	size_t pos = 0, eol, end, i;
	const unsigned char *nl;

	*status = 400;
	req->nheaders = 0;
	for (;;) {
		if ((nl = memchr(p + pos, '\n', lim - pos)) == NULL) {
			/* An incomplete line: reject at once what cannot become valid. */
			if (pos == 0 && lim > 0 && !http_tchar(p[0]))
				return -1;
			for (i = pos; i < lim; i++)
				if (p[i] == '\r' ? i + 1 < lim : http_ctl(p[i]))
					return -1;
			if (n >= HTTP_MAX_HEAD) {
				*status = 431;
				return -1;
			}
			return -2;
		}
		eol = (size_t)(nl - p);
		end = eol > pos && p[eol - 1] == '\r' ? eol - 1 : eol;
		for (i = pos; i < end; i++)	/* a CR only just before the LF */
			if (p[i] == '\r')
				return -1;
		if (pos == 0) {
			if (http_request_line(p, end, req) != 0)
				return -1;
		} else if (end == pos) {
			return (int)eol + 1;
		} else {
			if (p[pos] == ' ' || p[pos] == '\t')	/* obs-fold */
				return -1;
			if (req->nheaders == HTTP_MAX_HEADERS) {
				*status = 431;
				return -1;
			}
			if (http_field(p + pos, end - pos, &req->headers[req->nheaders]) != 0)
				return -1;
			req->nheaders++;
		}
		pos = eol + 1;
	}
}

const struct http_header *
http_header_find(const struct http_request *req, const char *name, size_t *count)
{
	const struct http_header *first = NULL;
	size_t i, len = strlen(name), k = 0;

	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (h->name_len == len && strncasecmp(h->name, name, len) == 0) {
			if (first == NULL)
				first = h;
			k++;
		}
	}
	if (count != NULL)
		*count = k;
	return first;
}

int
http_token_list_has(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0, start, e;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		for (start = i; i < n && v[i] != ','; i++)
			;
		for (e = i; e > start && (v[e - 1] == ' ' || v[e - 1] == '\t'); e--)
			;
		if (e - start == tl && tl > 0 && strncasecmp(v + start, tok, tl) == 0)
			return 1;
	}
	return 0;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default:  return "Error";
	}
}

int
http_problem(char *out, size_t cap, int status, const char *detail, const char *extra)
{
	json_t *body;
	char *text;
	int n;

	body = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank",
	    "title", http_reason(status), "status", status, "detail", detail);
	if (body == NULL || (text = json_dumps(body, JSON_COMPACT)) == NULL) {
		json_decref(body);
		return -1;
	}
	json_decref(body);
	n = snprintf(out, cap,
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/problem+json\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n"
	    "Cache-Control: no-store\r\n"
	    "%s"
	    "\r\n"
	    "%s",
	    status, http_reason(status), strlen(text), extra != NULL ? extra : "", text);
	free(text);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}
