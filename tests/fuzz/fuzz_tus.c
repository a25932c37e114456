/*
 * fuzz_tus.c - libFuzzer harness for the tus upload headers: the parsers of
 * fcgi/tus.c on their own, and the requests of fcgi/uploads.c through the
 * real dispatcher with a database and data directory (tests/fuzz/fake_api.c).
 * Built and run by `make fuzz` (scripts/fuzz.sh); seeds in
 * tests/fuzz/corpus/tus.
 *
 * The input's first byte picks the request ('a' + index into requests[],
 * modulo its size); then come header lines "Name: value" (LF or CRLF) up
 * to an empty line, then the body. Authorization (the admin's token),
 * Tus-Resumable (1.0.0) and, for PATCH, Content-Type are added when the
 * input does not give them. The room's code is K7Q2M (base64 SzdRMk0=).
 *
 * Checked: every header value through each parser against a reference
 * (base64 decoded by a plain loop here, digits, the checksum) and the
 * promises of tus_filename() (harmless, idempotent); the fake_api_check()
 * rules for the response; a PATCH that answers 204 leaves the part file at
 * the Upload-Offset it announces, and any other answer leaves it where it
 * was (except 400 for a short body, which keeps what arrived).
 */
#include <assert.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fake_api.h"
#include "text.h"
#include "../../fcgi/tus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADERS 16

enum target { NONE, SMALL, HALF };

static const struct request {
	const char *method;
	enum target up;
} requests[] = {
	{ "POST", NONE },	/* a: creation */
	{ "PATCH", SMALL },	/* b: 32 bytes long, at 0 */
	{ "PATCH", HALF },	/* c: 1000 bytes long, at 100 */
	{ "HEAD", HALF },	/* d */
	{ "DELETE", SMALL },	/* e */
	{ "OPTIONS", NONE },	/* f */
};

#define NREQUESTS (sizeof(requests) / sizeof(requests[0]))

static struct fake_api fa;

/* --- the parsers on their own -------------------------------------------- */

static int
b64_value(int c)
{
	const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c != '\0' ? strchr(abc, c) : NULL;

	return p ? (int)(p - abc) : -1;
}

/* The reference decoder: what tus_b64 promises, written plainly. */
static long
ref_b64(const char *s, size_t n, unsigned char *out, size_t cap)
{
	size_t i, o = 0, pad = 0;
	uint32_t acc = 0;
	int bits = 0, v;

	while (pad < 2 && n > 0 && s[n - 1] == '=')
		n--, pad++;
	if (n % 4 == 1 || n > TUS_META_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = b64_value((unsigned char)s[i])) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	out[o] = '\0';
	return (long)o;
}

static void
check_b64(const char *v, size_t n)
{
	unsigned char got[TUS_META_MAX + 8], want[TUS_META_MAX + 8];
	long g, w;

	g = tus_b64(v, n, got, sizeof(got));
	w = ref_b64(v, n, want, sizeof(want));
	if (g != w || (g >= 0 && memcmp(got, want, (size_t)g + 1) != 0)) {
		fprintf(stderr, "tus_b64(\"%.*s\") = %ld, the reference says %ld\n", (int)n, v,
		    g, w);
		abort();
	}
	if (g >= 0) {
		/* the capacity is respected exactly */
		assert(tus_b64(v, n, got, (size_t)g + 1) == g);
		assert(tus_b64(v, n, got, (size_t)g) == -1);
	}
}

static void
check_uint(const char *v)
{
	size_t n = strlen(v);
	int64_t x = -1;
	int rc = tus_uint(v, &x);

	if (n >= 1 && n <= 18 && strspn(v, "0123456789") == n) {
		assert(rc == 0 && x == strtoll(v, NULL, 10));
	} else {
		assert(rc == -1 && x == -1);
	}
}

/* What tus_filename promises of its output. */
static void
check_name_out(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i;
	char again[TUS_NAME_MAX + 1];

	assert(n <= TUS_NAME_MAX && text_utf8_len(s, n) >= 0);
	for (i = 0; i < n; i++) {
		assert(p[i] >= 0x20 && p[i] != 0x7f && p[i] != '/' && p[i] != '\\');
		assert(!(p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f));
		if (p[i] == 0xe2 && i + 2 < n && ((p[i + 1] == 0x80 && p[i + 2] >= 0xaa &&
		    p[i + 2] <= 0xae) || (p[i + 1] == 0x81 && p[i + 2] >= 0xa6 &&
		    p[i + 2] <= 0xa9))) {
			fprintf(stderr, "a bidi control is left in \"%s\"\n", s);
			abort();
		}
	}
	assert(n == 0 || (s[0] != ' ' && s[n - 1] != ' '));
	assert(strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
	tus_filename(p, n, again);
	assert(strcmp(again, s) == 0);
}

static void
check_filename(const uint8_t *in, size_t n)
{
	char out[TUS_NAME_MAX + 1];

	memset(out, 0xa5, sizeof(out));
	tus_filename(in, n, out);
	check_name_out(out);
}

static void
check_meta(const char *v)
{
	struct tus_meta m;
	char why[128] = "";
	int rc = tus_meta_parse(v, &m, why, sizeof(why));

	if (rc != 0) {
		assert(rc == -1 && why[0] != '\0');
		return;
	}
	assert(m.has_room <= 1 && m.has_filename <= 1);
	assert(memchr(m.room, '\0', sizeof(m.room)) != NULL);
	assert(m.has_room || m.room[0] == '\0');
	check_name_out(m.filename);
}

static void
check_checksum(const char *v)
{
	unsigned char sum[TUS_SHA1_LEN], want[TUS_META_MAX + 8];
	int rc = tus_checksum_parse(v, sum);

	if (strncasecmp(v, "sha1 ", 5) != 0) {
		assert(rc == -1);
		return;
	}
	if (ref_b64(v + 5, strlen(v + 5), want, sizeof(want)) != TUS_SHA1_LEN) {
		assert(rc == -2);
		return;
	}
	assert(rc == 0 && memcmp(sum, want, TUS_SHA1_LEN) == 0);
}

static void
check_value(const char *v)
{
	check_uint(v);
	check_b64(v, strlen(v));
	check_filename((const uint8_t *)v, strlen(v));
	check_meta(v);
	check_checksum(v);
	assert(tus_version_ok(v) == (strcmp(v, "1.0.0") == 0));
}

/* --- requests ------------------------------------------------------------ */

/* Turns "Name" into its CGI parameter "NAME=" (CONTENT_TYPE, HTTP_X_Y). */
static int
cgi_name(const char *name, size_t n, char *out, size_t cap)
{
	size_t i, o;

	if (n == 0)
		return -1;
	o = strncasecmp(name, "Content-Type", n) == 0 && n == 12 ? 0 :
	    strncasecmp(name, "Content-Length", n) == 0 && n == 14 ? 0 :
	    (size_t)snprintf(out, cap, "HTTP_");
	for (i = 0; i < n && o + 2 < cap; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return -1;	/* nginx refuses such a name */
		out[o++] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? c - 32 : c;
	}
	out[o++] = '=';
	out[o] = '\0';
	return 0;
}

static int
has_param(char *const *env, int n, const char *prefix)
{
	int i;

	for (i = 0; i < n; i++)
		if (strncmp(env[i], prefix, strlen(prefix)) == 0)
			return 1;
	return 0;
}

/* A refusal that may change rows: an expired upload (410) and a finished
 * file that is not audio (415: the upload is discarded). */
static int
tus_keep_ok(int status)
{
	return status == 410 || status == 415;
}

static int64_t
part_size(const char *id)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/uploads/%s.part", fa.dir, id);
	return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

static int64_t
header_int(const char *out, const char *name)
{
	const char *p = strstr(out, name);

	return p != NULL ? strtoll(p + strlen(name), NULL, 10) : -1;
}

static void
check_patch(const struct fake_resp *resp, const char *id, int64_t before)
{
	int64_t after = part_size(id), off = header_int(resp->out, "\r\nUpload-Offset: ");

	if (resp->status == 204 && strstr(resp->out, "Tutti-Track: ") == NULL)
		assert(after == off);
	else if (resp->status == 204 || strstr(resp->out, "Not MPEG audio") != NULL)
		assert(after == -1);	/* complete: the part file is gone */
	else if (resp->status != 400 || strstr(resp->out, "the body ended") == NULL)
		assert(after == before);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char *text, *line, *next, *colon, *val, *env[MAX_HEADERS + 4];
	char path[256], auth[80], names[MAX_HEADERS][64], *owned[MAX_HEADERS] = { 0 };
	const struct request *rq;
	struct fake_call c = { 0 };
	struct fake_resp resp;
	const char *id;
	size_t hdr_len;
	int64_t before;
	int n = 0, i;
	const uint8_t *blank;

	if (!ready) {
		fake_api_init(&fa);
		ready = 1;
	}
	if (size == 0)
		return 0;
	rq = &requests[(uint8_t)(data[0] - 'a') % NREQUESTS];
	data++, size--;
	/* the head ends at the first empty line */
	for (blank = data; (blank = memchr(blank, '\n', size - (size_t)(blank - data))) != NULL;
	    blank++)
		if (blank + 1 < data + size && (blank[1] == '\n' || (blank[1] == '\r' &&
		    blank + 2 < data + size && blank[2] == '\n')))
			break;
	hdr_len = blank ? (size_t)(blank - data) + 1 : size;
	text = strndup((const char *)data, hdr_len);	/* a NUL ends the head early */
	assert(text != NULL);
	for (line = text; line != NULL && *line != '\0' && n < MAX_HEADERS; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (*line != '\0' && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		check_value(line);
		if ((colon = strchr(line, ':')) == NULL ||
		    cgi_name(line, (size_t)(colon - line), names[n], sizeof(names[n])) != 0)
			continue;
		for (val = colon + 1; *val == ' ' || *val == '\t'; val++)
			;
		check_value(val);
		if (asprintf(&env[n], "%s%s", names[n], val) < 0)
			abort();
		owned[n] = env[n];
		n++;
	}
	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s", fa.admin);
	if (!has_param(env, n, "HTTP_AUTHORIZATION="))
		env[n++] = auth;
	if (!has_param(env, n, "HTTP_TUS_RESUMABLE="))
		env[n++] = "HTTP_TUS_RESUMABLE=1.0.0";
	if (strcmp(rq->method, "PATCH") == 0 && !has_param(env, n, "CONTENT_TYPE="))
		env[n++] = "CONTENT_TYPE=application/offset+octet-stream";
	for (i = 0; i < n; i++)
		c.env[i] = env[i];
	c.env[n] = NULL;

	id = rq->up == SMALL ? fa.up_small : rq->up == HALF ? fa.up_half : NULL;
	snprintf(path, sizeof(path), "/api/uploads%s%s", id ? "/" : "", id ? id : "");
	c.method = rq->method;
	c.path = path;
	c.body = blank ? data + hdr_len + (blank[1] == '\r' ? 2 : 1) : NULL;
	c.body_len = blank ? size - (size_t)(c.body - data) : 0;
	fake_api_call(&fa, &c, &resp);
	before = rq->up == SMALL ? 0 : 100;
	fake_api_check(&fa, &resp, 0, tus_keep_ok);
	if (strcmp(rq->method, "PATCH") == 0)
		check_patch(&resp, id, before);
	fake_resp_free(&resp);
	for (i = 0; i < MAX_HEADERS; i++)
		free(owned[i]);
	free(text);
	return 0;
}
