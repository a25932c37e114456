/*
 * cmd_util.c - helpers shared by the tutti commands (cmd.h): room codes,
 * the command's room and token, REST calls about the room that explain a
 * void token, finding people, and checking typed text before it is sent.
 */
#include "cmd.h"

#include "config.h"
#include "http.h"
#include "text.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char cmd_alphabet[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

int
cmd_code(const char *in, char *out)
{
	const char *s = in, *r;
	size_t n, i;

	if ((r = strstr(in, "/r/")) != NULL)	/* a share link */
		s = r + 3;
	while (*s == ' ' || *s == '\t')
		s++;
	n = strcspn(s, " \t/?#");
	if (n != CMD_CODE_LEN || s[n + strspn(s + n, " \t/")] != '\0')
		return -1;
	for (i = 0; i < n; i++) {
		char ch = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 32) : s[i];

		if (ch == '\0' || strchr(cmd_alphabet, ch) == NULL)
			return -1;
		out[i] = ch;
	}
	out[n] = '\0';
	return 0;
}

int
cmd_room(const struct cli *c, struct cmd_room *r)
{
	memset(r, 0, sizeof(*r));
	if (c->room == NULL) {
		fprintf(stderr, "tutti: no room: join one first (tutti join CODE), or give "
		    "--room CODE\n");
		return CLI_AUTH;
	}
	snprintf(r->code, sizeof(r->code), "%s", c->room);
	if (cfg_token_get(c, r->code, &r->token, &r->name) != 0) {
		fprintf(stderr, "tutti: you have not joined room %s on %s: join it first with "
		    "tutti join %s --name NAME\n", r->code, c->server, r->code);
		return CLI_AUTH;
	}
	return CLI_OK;
}

void
cmd_room_free(struct cmd_room *r)
{
	free(r->token);
	free(r->name);
	r->token = r->name = NULL;
}

int
cmd_args(const struct cli_help *h, int argc, char **argv, int min, int max, int *rc)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (opt == 'h') {
			*rc = out_help(h);
			return -1;
		}
		*rc = out_badopt(h, argv, opt);
		return -1;
	}
	if (argc - optind < min) {
		*rc = out_usage(h, "missing argument");
		return -1;
	}
	if (max >= 0 && argc - optind > max) {
		*rc = out_usage(h, "unexpected argument %s", argv[optind + max]);
		return -1;
	}
	return optind;
}

/* cmd_api_ex with its arguments as a va_list. */
static int
cmd_vapi(const struct cli *c, struct cmd_room *r, long quiet, long *status, const char *method,
    const char *const *headers, json_t *body, json_t **out, const char *sub, va_list ap)
{
	char *tail = NULL, *path = NULL;
	json_t *problem = NULL;
	const char *title;
	long st = 0;
	int rc;

	if (status != NULL)
		*status = 0;
	if (vasprintf(&tail, sub, ap) < 0)
		tail = NULL;
	if (tail == NULL || asprintf(&path, "/api/rooms/%s%s", r->code, tail) < 0) {
		free(tail);
		json_decref(body);
		fputs("tutti: out of memory\n", stderr);
		return CLI_FAIL;
	}
	rc = http_json_quiet(c, quiet, method, path, r->token, headers, body, out, &st, &problem);
	title = json_string_value(json_object_get(problem, "title"));
	if (st == 401) {
		cfg_token_forget(c, r->code);
		fprintf(stderr, "tutti: the token remembered for room %s is void (you left, were "
		    "removed, or the room closed); forgotten. Join again: tutti join %s\n",
		    r->code, r->code);
	} else if (st == 404 && title != NULL && strcmp(title, "No such room") == 0) {
		cfg_token_forget(c, r->code);
		fprintf(stderr, "tutti: room %s is closed; its token is forgotten\n", r->code);
	}
	if (status != NULL)
		*status = st;
	json_decref(problem);
	free(tail);
	free(path);
	return rc;
}

int
cmd_api(const struct cli *c, struct cmd_room *r, const char *method,
    const char *const *headers, json_t *body, json_t **out, const char *sub, ...)
{
	va_list ap;
	int rc;

	va_start(ap, sub);
	rc = cmd_vapi(c, r, 0, NULL, method, headers, body, out, sub, ap);
	va_end(ap);
	return rc;
}

int
cmd_api_ex(const struct cli *c, struct cmd_room *r, long quiet, long *status,
    const char *method, const char *const *headers, json_t *body, json_t **out,
    const char *sub, ...)
{
	va_list ap;
	int rc;

	va_start(ap, sub);
	rc = cmd_vapi(c, r, quiet, status, method, headers, body, out, sub, ap);
	va_end(ap);
	return rc;
}

/* Compares a and b ignoring ASCII case only. */
static int
cmd_name_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
		char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;

		if (x != y)
			return 0;
	}
	return *a == *b;
}

json_t *
cmd_find_user(json_t *users, const char *spec)
{
	int64_t id;
	size_t i;
	json_t *u;

	if (out_parse_id(spec, &id) == 0)
		json_array_foreach(users, i, u)
			if (cmd_int(u, "id", 0) == id)
				return u;
	json_array_foreach(users, i, u)
		if (cmd_name_eq(cmd_str(u, "name"), spec))
			return u;
	return NULL;
}

int
cmd_text_ok(const struct cli_help *h, const char *what, const char *s, long min,
    long max, int multiline)
{
	const char *start;
	size_t n = strlen(s), len;
	long chars;

	while (n > 0 && strchr(" \t\n\r\v\f", s[n - 1]) != NULL)
		n--;
	while (n > 0 && strchr(" \t\n\r\v\f", *s) != NULL)
		s++, n--;
	if ((chars = text_utf8_len(s, n)) < 0) {
		out_usage(h, "%s is not valid UTF-8", what);
		return -1;
	}
	if (chars < min) {
		out_usage(h, "%s is empty", what);
		return -1;
	}
	if (chars > max) {
		out_usage(h, "%s is %ld characters long; at most %ld", what, chars, max);
		return -1;
	}
	if (text_span_check(s, n, min, max, multiline, &start, &len) != 0) {
		out_usage(h, "%s has a control character%s", what,
		    multiline ? " (only newline and tab are allowed)" : "");
		return -1;
	}
	return 0;
}

char *
cmd_track_label(char *buf, size_t n, json_t *track)
{
	const char *title = cmd_str(track, "title"), *artist = cmd_str(track, "artist");

	if (*title == '\0')
		title = "Untitled";
	if (*artist != '\0')
		snprintf(buf, n, "%s \xe2\x80\x94 %s", title, artist);
	else
		snprintf(buf, n, "%s", title);
	return buf;
}

int64_t
cmd_int(json_t *o, const char *key, int64_t dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

const char *
cmd_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}
