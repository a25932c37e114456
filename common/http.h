/*
 * http.h - the HTTP/1.1 request head that the relay reads before upgrading
 * a connection to WebSocket and that the metrics listeners (metricsrv.h)
 * read, and the problem+json refusals they answer with. The parsers are
 * pure functions over the caller's buffer: no allocation, every returned
 * pointer points into that buffer, never a read past the length given.
 */
#ifndef TUTTI_HTTP_H
#define TUTTI_HTTP_H

#include <stddef.h>

#define HTTP_MAX_HEAD    8192	/* request line + header fields + empty line */
#define HTTP_MAX_HEADERS 64

struct http_header {
	const char *name;
	size_t name_len;
	const char *value;	/* without leading and trailing whitespace */
	size_t value_len;
};

struct http_request {
	const char *method;
	size_t method_len;
	const char *target;	/* as sent: path and query, not decoded */
	size_t target_len;
	int minor;		/* HTTP/1.minor */
	size_t nheaders;
	struct http_header headers[HTTP_MAX_HEADERS];
};

/*
 * Parses the request head at buf (n bytes; what follows the head is left
 * alone). Lines end in CRLF or a bare LF. Returns the length of the head,
 * empty line included, once it is complete; -2 when more bytes are needed;
 * -1 when the request is malformed, with the status to answer in *status:
 * 431 when the head exceeds HTTP_MAX_HEAD bytes or HTTP_MAX_HEADERS fields,
 * else 400 (bad request line, version other than HTTP/1.x, field without a
 * name or with whitespace before the colon, obsolete line folding, control
 * characters). Bytes that can never start a valid head are rejected before
 * the head is complete.
 */
int http_parse_request(const char *buf, size_t n, struct http_request *req, int *status);

/* Returns the first header field named name (ASCII case-insensitive), or NULL;
 * stores the number of fields with that name in *count when count is set. */
const struct http_header *http_header_find(const struct http_request *req,
    const char *name, size_t *count);

/* Returns 1 when the comma-separated list v (n bytes) has an element equal to
 * tok, ignoring ASCII case and optional whitespace (e.g. Connection values). */
int http_token_list_has(const char *v, size_t n, const char *tok);

/* Returns the reason phrase of the statuses the relay and metricsrv send
 * ("Error" for another). */
const char *http_reason(int status);

/*
 * Formats a complete refusal into out (cap bytes): the status line, headers
 * (Content-Type: application/problem+json, Content-Length, Connection: close,
 * and extra, a string of "Name: value\r\n" lines, when not NULL) and the body
 * {"type":"about:blank","title":...,"status":...,"detail":...} (RFC 9457).
 * Returns the length, or -1 when it does not fit or memory runs out.
 */
int http_problem(char *out, size_t cap, int status, const char *detail, const char *extra);

#endif
