/*
 * fuzz_json.c - libFuzzer harness for tutti-api's JSON request bodies,
 * through the real dispatcher (api_route) and handlers, with a database
 * (tests/fuzz/fake_api.c). Built and run by `make fuzz` (scripts/fuzz.sh);
 * seeds in tests/fuzz/corpus/json.
 *
 * The input's first byte picks the endpoint ('a' + index into endpoints[],
 * modulo its size); the rest is the body, sent as application/json with a
 * valid token of the right role. Checked: the fake_api_check() rules (one
 * response, a JSON or problem+json body, no 500, a refusal changes no row,
 * nothing left open); a body that is not one JSON object without duplicate
 * keys, or that has a field the endpoint does not take, gets 400.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum who { NOBODY, ADMIN, MEMBER };

struct endpoint {
	const char *method;
	const char *path;	/* %s: the room code; %lld: see id */
	enum who who;
	int id;			/* 0 none, 1 the request, 2 the member */
	const char *keys[6];	/* the body's fields, NULL-terminated */
};

static const struct endpoint endpoints[] = {
	{ "POST", "/api/rooms", NOBODY, 0,
	    { "name", "room_name", "public", "policy", "playlist", NULL } },	/* a */
	{ "POST", "/api/rooms/%s/join", NOBODY, 0, { "name", NULL } },		/* b */
	{ "PATCH", "/api/rooms/%s", ADMIN, 0,
	    { "room_name", "public", "policy", "repeat", "shuffle", NULL } },	/* c */
	{ "POST", "/api/rooms/%s/control", ADMIN, 0,
	    { "action", "position_us", "offset_us", "item_id", NULL } },	/* d */
	{ "POST", "/api/rooms/%s/control", MEMBER, 0,
	    { "action", "position_us", "offset_us", "item_id", NULL } },	/* e */
	{ "POST", "/api/rooms/%s/playlist", ADMIN, 0, { "track_id", NULL } },	/* f */
	{ "PUT", "/api/rooms/%s/playlist", ADMIN, 0, { "items", NULL } },	/* g */
	{ "POST", "/api/rooms/%s/requests", MEMBER, 0,
	    { "track_id", "text", NULL } },					/* h */
	{ "PATCH", "/api/rooms/%s/requests/%lld", ADMIN, 1,
	    { "status", "track_id", NULL } },					/* i */
	{ "POST", "/api/rooms/%s/chat", MEMBER, 0, { "text", NULL } },		/* j */
	{ "PUT", "/api/rooms/%s/admin", ADMIN, 0, { "user_id", NULL } },	/* k */
};

#define NENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

static struct fake_api fa;

/* Returns 1 when the body must be refused with 400: not one JSON object,
 * a duplicate key, or a field e does not take. */
static int
must_refuse(const struct endpoint *e, const uint8_t *body, size_t n)
{
	json_t *j = json_loadb((const char *)body, n, JSON_REJECT_DUPLICATES, NULL);
	const char *key;
	json_t *v;
	int bad = 0, i, ok;

	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return 1;
	}
	json_object_foreach(j, key, v) {
		for (ok = 0, i = 0; e->keys[i] != NULL && !ok; i++)
			ok = strcmp(key, e->keys[i]) == 0;
		bad |= !ok;
	}
	json_decref(j);
	return bad;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const struct endpoint *e;
	struct fake_call c = { 0 };
	struct fake_resp resp;
	char path[256], auth[80];

	if (!ready) {
		fake_api_init(&fa);
		ready = 1;
	}
	if (size == 0)
		return 0;
	e = &endpoints[(uint8_t)(data[0] - 'a') % NENDPOINTS];
	snprintf(path, sizeof(path), e->path, fa.code, e->id == 1 ? (long long)fa.request_id :
	    (long long)fa.member_id);
	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s",
	    e->who == ADMIN ? fa.admin : fa.member);
	c.method = e->method;
	c.path = path;
	c.env[0] = "CONTENT_TYPE=application/json";
	c.env[1] = "HTTP_IF_MATCH=*";
	c.env[2] = e->who != NOBODY ? auth : NULL;
	c.body = data + 1;
	c.body_len = size - 1;
	fake_api_call(&fa, &c, &resp);
	fake_api_check(&fa, &resp, 0, NULL);
	if (must_refuse(e, c.body, c.body_len) && resp.status != 400) {
		fprintf(stderr, "%s %s: a malformed body got %d:\n%s\n", e->method, path,
		    resp.status, resp.out);
		abort();
	}
	fake_resp_free(&resp);
	return 0;
}
