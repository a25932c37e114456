/*
 * http.h - the HTTP side of tutti: libcurl behind two calls. http_json()
 * is one REST request with a JSON body and a JSON answer, problem+json
 * errors printed and mapped to the exit codes of cli.h; http_do() is the
 * general exchange the tus uploads need (headers both ways, a body streamed
 * from a file, a rate limit, progress). One curl handle serves the whole
 * run, so connections are reused; call these from one thread only.
 */
#ifndef TUTTI_CLI_HTTP_H
#define TUTTI_CLI_HTTP_H

#include "cli.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One request. Zero it, then set what is needed. */
struct http_req {
	const char *method;		/* GET POST PUT PATCH DELETE HEAD */
	const char *path;		/* from "/" on, appended to c->server */
	const char *token;		/* sent as "Authorization: Bearer"; NULL: none */
	const char *const *headers;	/* more "Name: value" lines, NULL-terminated; or NULL */
	const char *body;		/* a body in memory (len bytes); NULL: none, */
	size_t len;
	int fd;				/* or a body read from fd at its offset: */
	int64_t fd_len;			/* fd_len bytes (only when fd_len > 0) */
	int64_t limit_rate;		/* send at most this many bytes a second; 0: no limit */
	long timeout_s;			/* the whole exchange; 0: none (60 s without progress fails) */
	/* Called as the body goes out (sent: bytes of it so far); a non-zero
	 * return stops the transfer (resp->aborted is set). */
	int (*progress)(void *arg, int64_t sent);
	void *arg;
};

/* The answer. Free with http_resp_free(). */
struct http_resp {
	long status;			/* 0 when no answer arrived */
	char *body;			/* NUL-terminated, len bytes; NULL when empty */
	size_t len;
	char **hdrs;			/* "Name: value" lines of the final answer */
	size_t nhdrs;
	char error[256];		/* no answer: why (libcurl's message) */
	int aborted;			/* stopped by the progress callback */
};

/*
 * Sends one request to c->server and waits for the answer. Returns 0 when
 * an answer arrived (whatever its status), -1 when none did: resp->error
 * says why, nothing is printed. With c->verbose, one line per request and
 * per answer goes to stderr (never the token). resp is overwritten (it
 * need not be freed before); free it with http_resp_free() either way.
 */
int http_do(const struct cli *c, const struct http_req *q, struct http_resp *resp);

/* The value of the answer's header name (case-insensitive), trimmed, or
 * NULL. Valid until http_resp_free(). */
const char *http_header(const struct http_resp *resp, const char *name);

/* Frees what resp holds; resp may be reused. */
void http_resp_free(struct http_resp *resp);

/* Maps an HTTP status to an enum cli_exit: 2xx CLI_OK; 401, 403 CLI_AUTH;
 * 404, 410 CLI_NOTFOUND; 409, 412, 423 CLI_CONFLICT; others CLI_FAIL. */
int http_exit_code(long status);

/*
 * Reports an error answer on stderr: "tutti: TITLE: DETAIL" from a
 * problem+json body (with the seconds of Retry-After on 429); otherwise
 * the status and what came back (a redirect's Location: a wrong --server).
 * Returns http_exit_code(resp->status).
 */
int http_report(const struct cli *c, const struct http_resp *resp, const char *path);

/* Reports that no answer came: "tutti: cannot reach SERVER: why" on stderr.
 * Returns CLI_NET. */
int http_report_net(const struct cli *c, const struct http_resp *resp);

/*
 * One REST request: body (stolen; NULL: none) is sent as application/json,
 * with the bearer token when token is non-NULL. On a 2xx answer *out (may
 * be NULL) gets its parsed JSON (a new reference; NULL for an empty
 * answer such as 204). On an error answer prints it (http_report) and
 * *out stays NULL. *status (may be NULL) gets the HTTP status, 0 when
 * nothing came back. Returns an enum cli_exit.
 */
int http_json(const struct cli *c, const char *method, const char *path,
    const char *token, json_t *body, json_t **out, long *status);

/* http_json with more request headers (at most 8 "Name: value" lines,
 * NULL-terminated; headers may be NULL), and when the answer is an error
 * with a problem+json body, *problem (may be NULL) gets it (a new
 * reference; else NULL). */
int http_json_ex(const struct cli *c, const char *method, const char *path, const char *token,
    const char *const *headers, json_t *body, json_t **out, long *status, json_t **problem);

/* http_json_ex, except that an error answer whose status is quiet (e.g.
 * 412, which the caller retries) is not printed; its exit code is returned
 * and *status and *problem are filled as for any error. */
int http_json_quiet(const struct cli *c, long quiet, const char *method, const char *path,
    const char *token, const char *const *headers, json_t *body, json_t **out, long *status,
    json_t **problem);

/* Normalizes a server address as people type it ("host:port",
 * "http://host:port/", "HTTP://Host") to scheme://host[:port] with http or
 * https (ws and wss map to them). Returns a malloc'd URL (caller frees), or
 * NULL with the reason in why (n bytes): another scheme, a path, a query. */
char *http_base_url(const char *in, char *why, size_t n);

/* Percent-encodes s for a URL path segment or query value. Returns a
 * malloc'd string (caller frees), or NULL on OOM. */
char *http_escape(const char *s);

/* Starts libcurl and returns the run's handle for struct cli's http, or
 * NULL when libcurl cannot start (then every request fails with CLI_NET's
 * "libcurl did not start"). Freed by http_close(). */
void *http_open(void);

/* Releases c->http and libcurl; call once before exiting. */
void http_close(struct cli *c);

#endif
