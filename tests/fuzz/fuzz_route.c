/*
 * fuzz_route.c - libFuzzer harness for tutti-api's path parser
 * (api_route_parse, fcgi/route.c) and query strings (common/query.c).
 * Built and run by `make fuzz` (scripts/fuzz.sh); the seed corpus is
 * tests/fuzz/corpus/route. The input is "path" or "path?query".
 *
 * The path must match a route exactly, so the oracle is a round trip: the
 * route's template with the parsed variables put back gives the path again.
 * Every buffer is allocated at its exact size, so ASan reports any read
 * past it.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "../../fcgi/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_code(const char *s)
{
	size_t n = strnlen(s, ROUTE_CODE_MAX);

	assert(n > 0 && n < ROUTE_CODE_MAX && strchr(s, '/') == NULL);
}

static void
check_key(const char *s)
{
	size_t n = strnlen(s, ROUTE_KEY_MAX), i;

	assert(n > 0 && n < ROUTE_KEY_MAX);
	for (i = 0; i < n; i++)
		assert(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_-", s[i]) != NULL);
}

/* Puts m's variables back into the route's template; compares with path. */
static void
check_round_trip(const char *path, const struct route_match *m)
{
	const char *t = api_route_name(m->route);
	char out[512], num[24];
	size_t o = 0, k;
	const char *v;

	while (*t != '\0') {
		if (strncmp(t, "{code}", 6) == 0) {
			check_code(m->code);
			v = m->code, t += 6;
		} else if (strncmp(t, "{id}", 4) == 0) {
			assert(m->id > 0);
			snprintf(num, sizeof(num), "%" PRId64, m->id);
			v = num, t += 4;
		} else if (strncmp(t, "{key}", 5) == 0) {
			check_key(m->key);
			v = m->key, t += 5;
		} else {
			assert(o + 1 < sizeof(out));
			out[o++] = *t++;
			continue;
		}
		k = strlen(v);
		assert(o + k < sizeof(out));
		memcpy(out + o, v, k);
		o += k;
	}
	out[o] = '\0';
	assert(strcmp(out, path) == 0);
}

static void
check_route(const uint8_t *data, size_t n)
{
	static const struct route_match zero;
	struct route_match m;
	char *path = malloc(n + 1);
	enum api_route_id r;

	assert(path != NULL);
	memcpy(path, data, n);
	path[n] = '\0';
	memset(&m, 0xa5, sizeof(m));
	r = api_route_parse(path, &m);
	assert(r >= ROUTE_NONE && r < ROUTE_COUNT && m.route == r);
	assert(api_route_name(r) != NULL);
	if (r == ROUTE_NONE)
		assert(memcmp(&m, &zero, sizeof(m)) == 0);
	else
		check_round_trip(path, &m);
	free(path);
}

/* Decoding into buffers of every telling size gives one answer. */
static void
check_decode(const char *q, size_t n)
{
	char *out = malloc(n + 1);
	int len, rc;

	assert(out != NULL);
	len = query_decode(q, n, out, n + 1);
	assert(len >= -1 && len <= (int)n);
	if (len >= 0) {
		assert(strlen(out) == (size_t)len);
		if (memchr(q, '%', n) == NULL && memchr(q, '+', n) == NULL)
			assert((size_t)len == n && memcmp(out, q, n) == 0);
		assert(query_decode(q, n, out, (size_t)len + 1) == len);
		assert(query_decode(q, n, out, (size_t)len) == -1);
	}
	rc = query_decode(q, n, out, 0);
	assert(rc == -1);
	free(out);
}

/* query_get on q, and on "q&q": a key found once is then found twice. */
static int
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
	assert(rc >= 0 ? rc2 == -3 : rc2 == rc);
	free(twice);
	free(out);
	return rc;
}

static void
check_query(const uint8_t *data, size_t n)
{
	static const char *const keys[] = { "room", "token", "limit", "before", "q", "" };
	char *q = malloc(n), name[64];
	const char *eq, *amp;
	size_t i, nlen;
	int rc;

	assert(q != NULL || n == 0);
	if (n > 0)
		memcpy(q, data, n);
	if (q == NULL)
		q = strdup("");
	check_decode(q, n);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		check_param(q, n, keys[i], i % 2 ? 128 : 64);
	/* the first parameter's own name is found, unless something is malformed */
	amp = memchr(q, '&', n);
	nlen = amp != NULL ? (size_t)(amp - q) : n;
	eq = memchr(q, '=', nlen);
	if (eq != NULL)
		nlen = (size_t)(eq - q);
	if (nlen > 0 && query_decode(q, nlen, name, sizeof(name)) >= 0) {
		rc = check_param(q, n, name, 256);
		assert(rc != -1);
	}
	free(q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *mark = memchr(data, '?', size);
	size_t plen = mark != NULL ? (size_t)(mark - data) : size;

	check_route(data, plen);
	if (mark != NULL)
		check_query(mark + 1, size - plen - 1);
	else
		check_query(data, size);
	return 0;
}
