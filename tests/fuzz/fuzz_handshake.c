/*
 * fuzz_handshake.c - libFuzzer harness for the relay's opening handshake:
 * the request head parser (common/http.c), the checks the relay then makes
 * on the head (header lookups, token lists, the key and its accept value)
 * and the query of the target (common/query.c). Built and run by
 * `make fuzz` (scripts/fuzz.sh); the seed corpus is tests/fuzz/corpus/handshake.
 *
 * Every call sees a buffer of exactly the length it is given, so ASan
 * reports any read past it. The input is also fed in pieces, as the relay
 * calls the parser again with everything read so far.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "../../common/http.h"
#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses the first n bytes of data from a buffer of exactly n bytes. */
static int
parse_prefix(const uint8_t *data, size_t n, struct http_request *req, int *status)
{
	char *buf = malloc(n);
	int rc;

	assert(buf != NULL || n == 0);
	if (n > 0)
		memcpy(buf, data, n);
	*status = 0;
	rc = http_parse_request(buf != NULL ? buf : "", n, req, status);
	free(buf);
	return rc;
}

/* 1 when [p, p + len) lies inside [base, base + n). */
static int
inside(const char *base, size_t n, const char *p, size_t len)
{
	return p >= base && len <= n && (size_t)(p - base) <= n - len;
}

static int
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The fields of a parsed head: inside it, well formed, as the contract says. */
static void
check_head(const char *buf, size_t head, const struct http_request *req)
{
	size_t i, k;

	assert(req->method_len > 0 && inside(buf, head, req->method, req->method_len));
	assert(req->method == buf);
	for (k = 0; k < req->method_len; k++)
		assert(is_tchar((unsigned char)req->method[k]));
	assert(req->target_len > 0 && inside(buf, head, req->target, req->target_len));
	for (k = 0; k < req->target_len; k++)
		assert(req->target[k] > 0x20 && req->target[k] < 0x7f);
	assert(req->minor >= 0 && req->minor <= 9);
	assert(req->nheaders <= HTTP_MAX_HEADERS);
	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		assert(h->name_len > 0 && inside(buf, head, h->name, h->name_len));
		assert(inside(buf, head, h->value, h->value_len));
		for (k = 0; k < h->name_len; k++)
			assert(is_tchar((unsigned char)h->name[k]));
		for (k = 0; k < h->value_len; k++) {
			unsigned char c = (unsigned char)h->value[k];

			assert(c == '\t' || (c >= 0x20 && c != 0x7f));
		}
		if (h->value_len > 0) {
			assert(h->value[0] != ' ' && h->value[0] != '\t');
			assert(h->value[h->value_len - 1] != ' ' && h->value[h->value_len - 1] != '\t');
		}
	}
}

/* query_get on q, and on "q&q": a key found once is then found twice. */
static void
check_param(const char *q, size_t n, const char *key, size_t cap)
{
	char *out = malloc(cap), *twice = malloc(2 * n + 1);
	int rc, rc2;

	assert(out != NULL && twice != NULL);
	rc = query_get(q, n, key, out, cap);
	assert(rc >= -3);
	if (rc >= 0)
		assert((size_t)rc < cap && strlen(out) == (size_t)rc && (size_t)rc <= n);
	memcpy(twice, q, n);
	twice[n] = '&';
	memcpy(twice + n + 1, q, n);
	rc2 = query_get(twice, 2 * n + 1, key, out, cap);
	if (rc >= 0)
		assert(rc2 == -3);
	else
		assert(rc2 == rc);
	free(twice);
	free(out);
}

/* The query of the target: the parameters the relay reads, and decoding. */
static void
check_query(const struct http_request *req)
{
	const char *mark = memchr(req->target, '?', req->target_len);
	size_t qlen;
	char *q, *out;
	int rc;

	if (mark == NULL)
		return;
	qlen = req->target_len - (size_t)(mark + 1 - req->target);
	q = malloc(qlen);
	out = malloc(qlen + 1);
	assert((q != NULL || qlen == 0) && out != NULL);
	if (qlen > 0)
		memcpy(q, mark + 1, qlen);
	check_param(q != NULL ? q : "", qlen, "room", 64);
	check_param(q != NULL ? q : "", qlen, "token", 128);
	rc = query_decode(q != NULL ? q : "", qlen, out, qlen + 1);
	assert(rc >= -1 && rc <= (int)qlen);
	if (rc >= 0)
		assert(strlen(out) == (size_t)rc);
	free(out);
	free(q);
}

/* What the relay does with a complete head (relay/conn.c). */
static void
check_upgrade(const struct http_request *req)
{
	static const char *const names[] = { "Host", "Upgrade", "Connection",
	    "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Origin", "Content-Length",
	    "Transfer-Encoding", "X-Forwarded-For" };
	const struct http_header *h;
	char accept[WS_ACCEPT_LEN + 1];
	size_t i, count;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		h = http_header_find(req, names[i], &count);
		assert((h == NULL) == (count == 0) && count <= req->nheaders);
	}
	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		(void)http_token_list_has(h->value, h->value_len, "websocket");
		(void)http_token_list_has(h->value, h->value_len, "upgrade");
		if (ws_key_valid(h->value, h->value_len)) {
			assert(h->value_len == WS_KEY_LEN);
			assert(ws_accept_key(h->value, h->value_len, accept) == 0);
			assert(strlen(accept) == WS_ACCEPT_LEN);
		}
	}
	check_query(req);
}

/* A refusal that quotes the target: built or refused, never overflowing. */
static void
check_problem(const struct http_request *req)
{
	char detail[256], out[1024];
	size_t n = req->target_len < sizeof(detail) - 1 ? req->target_len : sizeof(detail) - 1;
	int rc;

	memcpy(detail, req->target, n);
	detail[n] = '\0';
	rc = http_problem(out, sizeof(out), 404, detail, "X-Test: 1\r\n");
	assert(rc < (int)sizeof(out));
	if (rc >= 0)
		assert(strlen(out) == (size_t)rc);
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Feeding the input in pieces, as the relay does with each read: -2 until
 * the head is complete, then its length; once -1, -1 for every longer
 * prefix (400 or 431: more complete lines may show the field limit first). */
static void
check_pieces(const uint8_t *data, size_t size, int whole)
{
	struct http_request req;
	size_t cut[10], i, k = 0;
	uint32_t h = 2166136261u;
	int rc, status, prev = -2;

	for (i = 0; i < size && i < 64; i++)
		h = (h ^ data[i]) * 16777619u;
	for (i = 0; i < 7 && size > 0; i++) {
		cut[k++] = h % size;
		h = h * 16777619u + (uint32_t)i;
	}
	if (whole > 0) {
		cut[k++] = (size_t)whole - 1;
		cut[k++] = (size_t)whole;
	}
	qsort(cut, k, sizeof(cut[0]), cmp_size);
	cut[k++] = size;
	for (i = 0; i < k; i++) {
		rc = parse_prefix(data, cut[i], &req, &status);
		if (whole > 0)
			assert(rc == (cut[i] < (size_t)whole ? -2 : whole));
		else if (whole == -2)
			assert(rc == -2);
		if (prev == -1)
			assert(rc == -1);
		if (rc == -1)
			assert(status == 400 || status == 431);
		prev = rc;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req;
	char *buf = malloc(size);
	int rc, status = 0;

	assert(buf != NULL || size == 0);
	if (size > 0)
		memcpy(buf, data, size);
	rc = http_parse_request(buf != NULL ? buf : "", size, &req, &status);
	assert(rc == -2 || rc == -1 || (rc > 0 && (size_t)rc <= size));
	if (rc == -1)
		assert(status == 400 || status == 431);
	if (rc == -2)
		assert(size < HTTP_MAX_HEAD);
	if (rc > 0) {
		assert(rc <= HTTP_MAX_HEAD);
		assert(buf[rc - 1] == '\n');
		check_head(buf, (size_t)rc, &req);
		check_upgrade(&req);
		check_problem(&req);
	}
	free(buf);
	check_pieces(data, size, rc);
	return 0;
}
