/*
 * cmd_chat.c - the tutti commands of the chat and song requests: say,
 * chat, request, requests, approve and reject (docs/api.md sections 7
 * and 8). Text is checked against the server's rules first, so a message
 * that is too long is refused here with the reason.
 */
#include "cli.h"

#include "cmd.h"
#include "http.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHAT_MAX 500
#define REQUEST_MAX 200
#define CHAT_STDIN_MAX 65536

/* Joins argv[first..argc-1] with single spaces into a malloc'd string;
 * "-" alone reads stdin (at most CHAT_STDIN_MAX bytes). NULL on OOM or a
 * read error (reported). */
static char *
chat_text(int argc, char **argv, int first)
{
	size_t n = 0, len;
	char *s;
	int i;

	if (argc - first == 1 && strcmp(argv[first], "-") == 0) {
		if ((s = malloc(CHAT_STDIN_MAX + 2)) == NULL)
			return NULL;
		n = fread(s, 1, CHAT_STDIN_MAX + 1, stdin);
		if (ferror(stdin)) {
			fputs("tutti: cannot read stdin\n", stderr);
			free(s);
			return NULL;
		}
		s[n] = '\0';
		if (memchr(s, '\0', n) != NULL)
			s[0] = '\x01';	/* a NUL: refused below as a control character */
		return s;
	}
	for (i = first; i < argc; i++)
		n += strlen(argv[i]) + 1;
	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	s[0] = '\0';
	for (i = first, len = 0; i < argc; i++) {
		if (i > first)
			s[len++] = ' ';
		memcpy(s + len, argv[i], strlen(argv[i]));
		len += strlen(argv[i]);
	}
	s[len] = '\0';
	return s;
}

/* Prints one chat message: "HH:MM:SS name: text", system lines as
 * "HH:MM:SS * text"; the lines of a multi-line text indented. */
static void
chat_print(json_t *m)
{
	const char *text = cmd_str(m, "text"), *nl;
	char when[32], *line;
	size_t n;

	printf("%s ", out_clock(when, sizeof(when), cmd_int(m, "at_us", 0)));
	if (strcmp(cmd_str(m, "kind"), "system") == 0)
		fputs("* ", stdout);
	else {
		out_clean(stdout, cmd_str(m, "name"));
		fputs(": ", stdout);
	}
	for (;;) {
		n = (nl = strchr(text, '\n')) != NULL ? (size_t)(nl - text) : strlen(text);
		if ((line = strndup(text, n)) != NULL)
			out_clean(stdout, line);
		free(line);
		putchar('\n');
		if (nl == NULL)
			break;
		text = nl + 1;
		fputs("         ", stdout);
	}
}

static const struct cli_help say_help = { "say", "TEXT... | -",
"     Says TEXT in the room's chat (the words joined by spaces; - reads the\n"
"     text from stdin). 1 to 500 characters; newlines and tabs are kept. At\n"
"     most 5 messages in any 10 s (then exit status 1, with the seconds to\n"
"     wait). Prints nothing on success.\n"
"\n"
"     --json: the server's answer, the message: {\"id\", \"user_id\", \"name\",\n"
"     \"kind\", \"text\", \"at_us\"}.\n" };

int
cmd_say(struct cli *c, int argc, char **argv)
{
	struct cmd_room room = { "", NULL, NULL };
	json_t *ans = NULL;
	char *text = NULL;
	int first, rc;

	if ((first = cmd_args(&say_help, argc, argv, 1, -1, &rc)) < 0)
		return rc;
	if ((text = chat_text(argc, argv, first)) == NULL)
		return CLI_FAIL;
	if (cmd_text_ok(&say_help, "the message", text, 1, CHAT_MAX, 1) != 0) {
		rc = CLI_USAGE;
		goto done;
	}
	if ((rc = cmd_room(c, &room)) != CLI_OK ||
	    (rc = cmd_api(c, &room, "POST", NULL, json_pack("{s:s}", "text", text), &ans,
	    "/chat")) != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
	}
done:
	json_decref(ans);
	free(text);
	cmd_room_free(&room);
	return rc;
}

static const struct cli_help chat_help = { "chat", "[--limit N]",
"     Prints the room's last chat messages, oldest first: time, name and\n"
"     text; system lines (joins, leaves, requests) start with *.\n"
"\n"
"     -n, --limit N  the last N messages (1 to 100; default 20).\n"
"\n"
"     --json: the server's answer: {\"messages\":[{\"id\", \"user_id\", \"name\",\n"
"     \"kind\", \"text\", \"at_us\"}], \"more\"}.\n" };

int
cmd_chat(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "limit", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_room room;
	json_t *ans = NULL, *m;
	int64_t limit = 20;
	size_t i;
	int opt, rc;

	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "n:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (out_parse_id(optarg, &limit) != 0 || limit > 100)
				return out_usage(&chat_help, "--limit %s: expected 1 to 100", optarg);
			break;
		case 'h': return out_help(&chat_help);
		default: return out_badopt(&chat_help, argv, opt);
		}
	}
	if (optind != argc)
		return out_usage(&chat_help, "unexpected argument %s (to say something: tutti "
		    "say TEXT)", argv[optind]);
	if ((rc = cmd_room(c, &room)) != CLI_OK ||
	    (rc = cmd_api(c, &room, "GET", NULL, NULL, &ans, "/chat?limit=%lld",
	    (long long)limit)) != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
		goto done;
	}
	json_array_foreach(json_object_get(ans, "messages"), i, m)
		chat_print(m);
done:
	json_decref(ans);
	cmd_room_free(&room);
	return rc;
}

/* "TITLE — ARTIST" of a request's track, else its text, into buf. */
static char *
chat_request_song(char *buf, size_t n, json_t *req)
{
	json_t *tr = json_object_get(req, "track");

	if (json_is_object(tr))
		return cmd_track_label(buf, n, tr);
	snprintf(buf, n, "%s", cmd_str(req, "text"));
	return buf;
}

static const struct cli_help request_help = { "request", "TEXT... | --track ID",
"     Asks the admin for a song: free text (1 to 200 characters, one line)\n"
"     or a library track (an id from tutti tracks). Anyone in the room may\n"
"     ask; the same song can be pending once (else exit status 6).\n"
"\n"
"     -t, --track ID  a library track.\n"
"\n"
"     --json: the server's answer, the request: {\"id\", \"user\":{\"id\", \"name\"},\n"
"     \"track\", \"text\", \"status\", \"created_us\", \"resolved_us\",\n"
"     \"resolved_by\", \"item_id\"}.\n" };

int
cmd_request(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "track", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_room room = { "", NULL, NULL };
	json_t *ans = NULL, *body;
	char *text = NULL, song[600];
	int64_t track = 0;
	int opt, rc;

	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "t:h", lo, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (out_parse_id(optarg, &track) != 0)
				return out_usage(&request_help, "--track %s: expected a track id", optarg);
			break;
		case 'h': return out_help(&request_help);
		default: return out_badopt(&request_help, argv, opt);
		}
	}
	if ((track > 0) == (optind < argc))
		return out_usage(&request_help, "give the song as TEXT or --track ID (one of them)");
	if (track > 0)
		body = json_pack("{s:I}", "track_id", (json_int_t)track);
	else {
		if ((text = chat_text(argc, argv, optind)) == NULL)
			return CLI_FAIL;
		if (cmd_text_ok(&request_help, "the request", text, 1, REQUEST_MAX, 0) != 0) {
			free(text);
			return CLI_USAGE;
		}
		body = json_pack("{s:s}", "text", text);
	}
	if ((rc = cmd_room(c, &room)) != CLI_OK) {
		json_decref(body);
		goto done;
	}
	if ((rc = cmd_api(c, &room, "POST", NULL, body, &ans, "/requests")) != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
		goto done;
	}
	printf("Request %lld is pending: ", (long long)cmd_int(ans, "id", 0));
	out_clean(stdout, chat_request_song(song, sizeof(song), ans));
	putchar('\n');
done:
	json_decref(ans);
	free(text);
	cmd_room_free(&room);
	return rc;
}

static const struct cli_help requests_help = { "requests", "[--all | --status S] [--limit N]",
"     Lists the room's song requests, newest first: id (what approve and\n"
"     reject take), status, who asked, the song, and when.\n"
"\n"
"     -a, --all        every request (default: the pending ones).\n"
"     -s, --status S   pending, approved, rejected or all.\n"
"     -n, --limit N    at most N (1 to 100; default 50).\n"
"\n"
"     --json: the server's answer: {\"requests\":[request...], \"more\"}.\n" };

int
cmd_requests(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "status", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const heads[] = { "ID", "STATUS", "WHO", "SONG", "ASKED" };
	const char *status = "pending";
	struct cmd_room room;
	struct out_table *t;
	json_t *ans = NULL, *q;
	int64_t limit = 50;
	char song[600], when[32];
	size_t i;
	int opt, rc;

	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "as:n:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'a': status = "all"; break;
		case 's':
			if (strcmp(optarg, "pending") && strcmp(optarg, "approved") &&
			    strcmp(optarg, "rejected") && strcmp(optarg, "all"))
				return out_usage(&requests_help, "--status %s: expected pending, "
				    "approved, rejected or all", optarg);
			status = optarg;
			break;
		case 'n':
			if (out_parse_id(optarg, &limit) != 0 || limit > 100)
				return out_usage(&requests_help, "--limit %s: expected 1 to 100", optarg);
			break;
		case 'h': return out_help(&requests_help);
		default: return out_badopt(&requests_help, argv, opt);
		}
	}
	if (optind != argc)
		return out_usage(&requests_help, "unexpected argument %s", argv[optind]);
	if ((rc = cmd_room(c, &room)) != CLI_OK ||
	    (rc = cmd_api(c, &room, "GET", NULL, NULL, &ans, "/requests?status=%s&limit=%lld",
	    status, (long long)limit)) != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
		goto done;
	}
	if (json_array_size(json_object_get(ans, "requests")) == 0) {
		printf("No %s requests in room %s.\n", strcmp(status, "all") ? status : "song",
		    room.code);
		goto done;
	}
	t = out_table_new(5, heads, "rllll");
	json_array_foreach(json_object_get(ans, "requests"), i, q) {
		out_cell(t, "%lld", (long long)cmd_int(q, "id", 0));
		out_cell(t, "%s", cmd_str(q, "status"));
		out_cell(t, "%s", cmd_str(json_object_get(q, "user"), "name"));
		out_cell(t, "%s", chat_request_song(song, sizeof(song), q));
		out_cell(t, "%s", out_clock(when, sizeof(when), cmd_int(q, "created_us", 0)));
	}
	out_table_print(t);
done:
	json_decref(ans);
	cmd_room_free(&room);
	return rc;
}

/* PATCHes request id to status (with track when > 0) and prints it. */
static int
chat_resolve(struct cli *c, const char *status, int64_t id, int64_t track)
{
	struct cmd_room room;
	json_t *ans = NULL, *body;
	char song[600];
	int rc;

	body = track > 0 ? json_pack("{s:s, s:I}", "status", status, "track_id",
	    (json_int_t)track) : json_pack("{s:s}", "status", status);
	if ((rc = cmd_room(c, &room)) != CLI_OK) {
		json_decref(body);
		goto done;
	}
	if ((rc = cmd_api(c, &room, "PATCH", NULL, body, &ans, "/requests/%lld",
	    (long long)id)) != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
		goto done;
	}
	printf("%s request %lld (", strcmp(status, "approved") == 0 ? "Approved" : "Rejected",
	    (long long)id);
	out_clean(stdout, cmd_str(json_object_get(ans, "user"), "name"));
	fputs(": ", stdout);
	out_clean(stdout, chat_request_song(song, sizeof(song), ans));
	putchar(')');
	if (json_is_integer(json_object_get(ans, "item_id")))
		printf("; added to the playlist as item %lld",
		    (long long)cmd_int(ans, "item_id", 0));
	puts(".");
done:
	json_decref(ans);
	cmd_room_free(&room);
	return rc;
}

static const struct cli_help approve_help = { "approve", "ID [--track TRACK_ID]",
"     Approves song request ID (admin only). A request for a track appends\n"
"     it to the playlist; a free-text request can be fulfilled with a library\n"
"     track given by --track.\n"
"\n"
"     -t, --track TRACK_ID  the library track that fulfils a free-text request.\n"
"\n"
"     --json: the server's answer, the request as resolved.\n" };

int
cmd_approve(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "track", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int64_t id, track = 0;
	int opt;

	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "t:h", lo, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (out_parse_id(optarg, &track) != 0)
				return out_usage(&approve_help, "--track %s: expected a track id", optarg);
			break;
		case 'h': return out_help(&approve_help);
		default: return out_badopt(&approve_help, argv, opt);
		}
	}
	if (argc - optind != 1)
		return out_usage(&approve_help, argc == optind ? "which request? give its id" :
		    "one request at a time");
	if (out_parse_id(argv[optind], &id) != 0)
		return out_usage(&approve_help, "%s: expected a request id (tutti requests lists "
		    "them)", argv[optind]);
	return chat_resolve(c, "approved", id, track);
}

static const struct cli_help reject_help = { "reject", "ID",
"     Rejects song request ID (admin only).\n"
"\n"
"     --json: the server's answer, the request as resolved.\n" };

int
cmd_reject(struct cli *c, int argc, char **argv)
{
	int64_t id;
	int first, rc;

	if ((first = cmd_args(&reject_help, argc, argv, 1, 1, &rc)) < 0)
		return rc;
	if (out_parse_id(argv[first], &id) != 0)
		return out_usage(&reject_help, "%s: expected a request id (tutti requests lists "
		    "them)", argv[first]);
	return chat_resolve(c, "rejected", id, 0);
}
