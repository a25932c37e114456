/*
 * http.c - tutti's HTTP client (http.h) on libcurl: one easy handle, reset
 * before each request and kept for the whole run so its connection is
 * reused; answers collected in memory (bounded), headers kept as lines;
 * problem+json errors turned into one line on stderr and an exit code.
 */
#include "http.h"

#include "clock.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HTTP_BODY_MAX ((size_t)64 << 20)	/* the largest answer kept */
#define HTTP_HDRS_MAX 200			/* header lines kept per answer */
#define HTTP_CONNECT_S 10
#define HTTP_JSON_TIMEOUT_S 30
#define HTTP_STALL_S 60				/* no byte moved for this long: give up */
#define HTTP_EXTRA_MAX 8			/* extra headers of http_json_ex */


/* The state of one transfer, seen by the callbacks. */
struct http_xfer {
	const struct http_req *q;
	struct http_resp *r;
	size_t cap;
	int too_big;
};

static size_t
http_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct http_xfer *x = arg;
	struct http_resp *r = x->r;
	size_t len = size * n, cap;
	char *p;

	if (r->len + len + 1 > HTTP_BODY_MAX) {
		x->too_big = 1;
		return 0;
	}
	if (r->len + len + 1 > x->cap) {
		for (cap = x->cap ? x->cap : 4096; cap < r->len + len + 1; cap *= 2)
			;
		if ((p = realloc(r->body, cap)) == NULL)
			return 0;
		r->body = p;
		x->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static void
http_hdrs_clear(struct http_resp *r)
{
	size_t i;

	for (i = 0; i < r->nhdrs; i++)
		free(r->hdrs[i]);
	free(r->hdrs);
	r->hdrs = NULL;
	r->nhdrs = 0;
}

/* Keeps each header line of the final answer (a new status line, after a
 * 100 Continue, starts over). */
static size_t
http_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct http_xfer *x = arg;
	struct http_resp *r = x->r;
	size_t len = size * n;
	char **h, *line;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		http_hdrs_clear(r);
		return len;
	}
	while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	if (len == 0 || r->nhdrs >= HTTP_HDRS_MAX || memchr(data, ':', len) == NULL)
		return size * n;
	if ((h = realloc(r->hdrs, (r->nhdrs + 1) * sizeof(*h))) == NULL)
		return 0;
	r->hdrs = h;
	if ((line = strndup(data, len)) == NULL)
		return 0;
	r->hdrs[r->nhdrs++] = line;
	return size * n;
}

static size_t
http_read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct http_xfer *x = arg;
	ssize_t got;

	do
		got = read(x->q->fd, buf, size * n);
	while (got < 0 && errno == EINTR);
	return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

static int
http_xferinfo_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct http_xfer *x = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	if (x->q->progress != NULL && x->q->progress(x->q->arg, (int64_t)ulnow) != 0) {
		x->r->aborted = 1;
		return 1;
	}
	return 0;
}

/* Returns the run's handle (c->http), reset; NULL when libcurl did not start. */
static CURL *
http_handle(const struct cli *c)
{
	if (c->http != NULL)
		curl_easy_reset(c->http);
	return c->http;
}

void *
http_open(void)
{
	CURL *h;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	if ((h = curl_easy_init()) == NULL)
		curl_global_cleanup();
	return h;
}

/* Builds the request's header list. Returns it, or NULL on OOM. */
static struct curl_slist *
http_headers(const struct http_req *q)
{
	struct curl_slist *l = NULL, *t;
	const char *const *h;
	char *auth = NULL;

	if ((t = curl_slist_append(l, "Expect:")) == NULL)
		goto fail;
	l = t;
	if (q->token != NULL) {
		if (asprintf(&auth, "Authorization: Bearer %s", q->token) < 0) {
			auth = NULL;
			goto fail;
		}
		if ((t = curl_slist_append(l, auth)) == NULL)
			goto fail;
		l = t;
	}
	for (h = q->headers; h != NULL && *h != NULL; h++) {
		if ((t = curl_slist_append(l, *h)) == NULL)
			goto fail;
		l = t;
	}
	free(auth);
	return l;
fail:
	free(auth);
	curl_slist_free_all(l);
	return NULL;
}

static void
http_setup(CURL *h, const struct http_req *q, struct http_xfer *x, const char *url,
    struct curl_slist *hdrs)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "tutti/" TUTTI_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)HTTP_CONNECT_S);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->r->error);
	if (q->timeout_s > 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT, q->timeout_s);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)HTTP_STALL_S);
	if (q->limit_rate > 0)
		curl_easy_setopt(h, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)q->limit_rate);
	if (q->progress != NULL) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, http_xferinfo_cb);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
	}
	if (strcmp(q->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (q->fd >= 0 && q->fd_len > 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, http_read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->fd_len);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	} else if (q->body != NULL || strcmp(q->method, "POST") == 0 ||
	    strcmp(q->method, "PATCH") == 0 || strcmp(q->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body != NULL ? q->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->len);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	} else if (strcmp(q->method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
}

int
http_do(const struct cli *c, const struct http_req *q, struct http_resp *resp)
{
	struct http_xfer x = { q, resp, 0, 0 };
	struct curl_slist *hdrs = NULL;
	char *url = NULL;
	int64_t t0 = clock_mono_us();
	CURLcode cc;
	CURL *h;
	int rc = -1;

	memset(resp, 0, sizeof(*resp));
	if ((h = http_handle(c)) == NULL) {
		snprintf(resp->error, sizeof(resp->error), "libcurl did not start");
		return -1;
	}
	if (asprintf(&url, "%s%s", c->server, q->path) < 0)
		url = NULL;
	if (url == NULL || (hdrs = http_headers(q)) == NULL) {
		snprintf(resp->error, sizeof(resp->error), "out of memory");
		goto done;
	}
	http_setup(h, q, &x, url, hdrs);
	if (c->verbose)
		fprintf(stderr, "tutti: > %s %s\n", q->method, url);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		rc = 0;
	} else {
		resp->status = 0;
		if (x.too_big)
			snprintf(resp->error, sizeof(resp->error), "the answer is over %zu MiB",
			    HTTP_BODY_MAX >> 20);
		else if (resp->aborted)
			snprintf(resp->error, sizeof(resp->error), "interrupted");
		else if (resp->error[0] == '\0')
			snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(cc));
	}
	if (c->verbose) {
		if (rc == 0)
			fprintf(stderr, "tutti: < %ld, %zu bytes, %.1f ms\n", resp->status, resp->len,
			    (double)(clock_mono_us() - t0) / 1000.0);
		else
			fprintf(stderr, "tutti: < no answer: %s\n", resp->error);
	}
done:
	curl_slist_free_all(hdrs);
	free(url);
	return rc;
}

const char *
http_header(const struct http_resp *resp, const char *name)
{
	size_t i, n = strlen(name);
	const char *v;

	for (i = 0; i < resp->nhdrs; i++) {
		if (strncasecmp(resp->hdrs[i], name, n) != 0 || resp->hdrs[i][n] != ':')
			continue;
		for (v = resp->hdrs[i] + n + 1; *v == ' ' || *v == '\t'; v++)
			;
		return v;
	}
	return NULL;
}

void
http_resp_free(struct http_resp *resp)
{
	http_hdrs_clear(resp);
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

int
http_exit_code(long status)
{
	if (status >= 200 && status < 300)
		return CLI_OK;
	switch (status) {
	case 401:
	case 403:
		return CLI_AUTH;
	case 404:
	case 410:
		return CLI_NOTFOUND;
	case 409:
	case 412:
	case 423:
		return CLI_CONFLICT;
	default:
		return CLI_FAIL;
	}
}

/* Whether the answer says it is JSON (application/json or problem+json). */
static int
http_is_json(const struct http_resp *resp)
{
	const char *ct = http_header(resp, "Content-Type");

	return ct != NULL && (strncasecmp(ct, "application/json", 16) == 0 ||
	    strncasecmp(ct, "application/problem+json", 24) == 0);
}

/* Prints s to stderr without control characters (a hostile server's text
 * must not drive the terminal). */
static void
http_puts_clean(const char *s)
{
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, stderr);
}

int
http_report(const struct cli *c, const struct http_resp *resp, const char *path)
{
	const char *title = NULL, *detail = NULL, *ra, *loc;
	json_t *p = NULL;

	if (resp->body != NULL && http_is_json(resp))
		p = json_loadb(resp->body, resp->len, 0, NULL);
	title = json_string_value(json_object_get(p, "title"));
	detail = json_string_value(json_object_get(p, "detail"));
	fputs("tutti: ", stderr);
	if (title != NULL) {
		http_puts_clean(title);
		if (detail != NULL && *detail != '\0') {
			fputs(": ", stderr);
			http_puts_clean(detail);
		}
	} else if (resp->status >= 300 && resp->status < 400 &&
	    (loc = http_header(resp, "Location")) != NULL) {
		fprintf(stderr, "%s%s answered %ld, a redirect to ", c->server, path, resp->status);
		http_puts_clean(loc);
		fputs(" (is --server right?)", stderr);
	} else
		fprintf(stderr, "%s%s answered %ld%s", c->server, path, resp->status,
		    resp->status == 404 ? " (is --server a tutti server?)" : "");
	if (resp->status == 429 && (ra = http_header(resp, "Retry-After")) != NULL) {
		fputs(" (retry after ", stderr);
		http_puts_clean(ra);
		fputs(strspn(ra, "0123456789") == strlen(ra) ? " s)" : ")", stderr);
	}
	fputc('\n', stderr);
	json_decref(p);
	return http_exit_code(resp->status);
}

int
http_report_net(const struct cli *c, const struct http_resp *resp)
{
	fprintf(stderr, "tutti: cannot reach %s: %s\n", c->server,
	    resp->error[0] != '\0' ? resp->error : "no answer");
	return CLI_NET;
}

int
http_json(const struct cli *c, const char *method, const char *path,
    const char *token, json_t *body, json_t **out, long *status)
{
	return http_json_ex(c, method, path, token, NULL, body, out, status, NULL);
}

int
http_json_ex(const struct cli *c, const char *method, const char *path, const char *token,
    const char *const *headers, json_t *body, json_t **out, long *status, json_t **problem)
{
	return http_json_quiet(c, 0, method, path, token, headers, body, out, status, problem);
}

int
http_json_quiet(const struct cli *c, long quiet, const char *method, const char *path,
    const char *token, const char *const *headers, json_t *body, json_t **out, long *status,
    json_t **problem)
{
	const char *hdrs[HTTP_EXTRA_MAX + 3];
	struct http_req q;
	struct http_resp r;
	json_error_t err;
	char *text = NULL;
	json_t *doc;
	size_t n;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (problem != NULL)
		*problem = NULL;
	if (status != NULL)
		*status = 0;
	memset(&q, 0, sizeof(q));
	q.method = method;
	q.path = path;
	q.token = token;
	q.fd = -1;
	q.timeout_s = HTTP_JSON_TIMEOUT_S;
	hdrs[0] = "Accept: application/json";
	hdrs[1] = body != NULL ? "Content-Type: application/json" : "Content-Type:";
	for (n = 0; headers != NULL && headers[n] != NULL && n < HTTP_EXTRA_MAX; n++)
		hdrs[2 + n] = headers[n];
	hdrs[2 + n] = NULL;
	q.headers = hdrs;
	if (body != NULL) {
		if ((text = json_dumps(body, JSON_COMPACT)) == NULL) {
			json_decref(body);
			fputs("tutti: out of memory\n", stderr);
			return CLI_FAIL;
		}
		q.body = text;
		q.len = strlen(text);
	}
	json_decref(body);
	if (http_do(c, &q, &r) != 0) {
		rc = http_report_net(c, &r);
		goto done;
	}
	if (status != NULL)
		*status = r.status;
	if (r.status < 200 || r.status >= 300) {
		rc = r.status == quiet ? http_exit_code(r.status) : http_report(c, &r, path);
		if (problem != NULL && r.body != NULL && http_is_json(&r))
			*problem = json_loadb(r.body, r.len, 0, NULL);
		goto done;
	}
	rc = CLI_OK;
	if (r.len == 0 || strcmp(method, "HEAD") == 0)
		goto done;
	if (!http_is_json(&r) ||
	    (doc = json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, &err)) == NULL) {
		fprintf(stderr, "tutti: %s%s: the answer is not JSON (is --server a tutti server?)\n",
		    c->server, path);
		rc = CLI_FAIL;
		goto done;
	}
	if (out != NULL)
		*out = doc;
	else
		json_decref(doc);
done:
	http_resp_free(&r);
	free(text);
	return rc;
}

char *
http_escape(const char *s)
{
	char *e, *copy;

	/* libcurl ignores the handle here since 7.82 */
	if ((e = curl_easy_escape(NULL, s, (int)strlen(s))) == NULL)
		return NULL;
	copy = strdup(e);
	curl_free(e);
	return copy;
}

char *
http_base_url(const char *in, char *why, size_t n)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
	char *user = NULL, *frag = NULL, *out = NULL, *full = NULL, *p;
	const char *s;
	CURLU *u;

	why[0] = '\0';
	if ((u = curl_url()) == NULL) {
		snprintf(why, n, "out of memory");
		return NULL;
	}
	if (strpbrk(in, " \t\r\n") != NULL || *in == '\0') {
		snprintf(why, n, "expected http://host[:port]");
		goto done;
	}
	/* Without a scheme, http (libcurl would guess https). */
	if (strstr(in, "://") == NULL && asprintf(&full, "http://%s", in) < 0)
		full = NULL;
	if (curl_url_set(u, CURLUPART_URL, full != NULL ? full : in, CURLU_NON_SUPPORT_SCHEME) !=
	    CURLUE_OK || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(why, n, "not a URL; expected http://host[:port]");
		goto done;
	}
	for (p = scheme; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (strcmp(scheme, "ws") == 0 || strcmp(scheme, "http") == 0)
		s = "http";
	else if (strcmp(scheme, "wss") == 0 || strcmp(scheme, "https") == 0)
		s = "https";
	else {
		snprintf(why, n, "the scheme must be http or https, not %s", scheme);
		goto done;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
	curl_url_get(u, CURLUPART_USER, &user, 0);
	if (path != NULL && strspn(path, "/") != strlen(path)) {
		snprintf(why, n, "a tutti server is at the root of its address: drop the path %s",
		    path);
		goto done;
	}
	if (query != NULL || frag != NULL || user != NULL) {
		snprintf(why, n, "expected http://host[:port], without a query, fragment or user");
		goto done;
	}
	for (p = host; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (asprintf(&out, "%s://%s%s%s", s, host, port != NULL ? ":" : "",
	    port != NULL ? port : "") < 0) {
		out = NULL;
		snprintf(why, n, "out of memory");
	}
done:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_free(frag);
	curl_free(user);
	curl_url_cleanup(u);
	free(full);
	return out;
}

void
http_close(struct cli *c)
{
	if (c->http != NULL) {
		curl_easy_cleanup(c->http);
		curl_global_cleanup();
		c->http = NULL;
	}
}
