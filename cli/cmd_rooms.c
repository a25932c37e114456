/*
 * cmd_rooms.c - the tutti commands about rooms and people: rooms, create,
 * join, leave, status, users, kick, admin, set, close, and tracks (the
 * library). Each is one or two REST calls (docs/api.md, sections 3, 4 and
 * 9); with --json the server's answer is printed as it came.
 */
#include "cli.h"

#include "cmd.h"
#include "config.h"
#include "http.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROOM_NAME_MAX 64

/* Parses a count option (1..max) into *v. Returns 0, or -1 after a usage
 * message. */
static int
rooms_count(const struct cli_help *h, const char *opt, const char *s, int64_t max, int64_t *v)
{
	if (out_parse_id(s, v) != 0 || *v > max) {
		out_usage(h, "%s %s: expected a number from 1 to %lld", opt, s, (long long)max);
		return -1;
	}
	return 0;
}

static const struct cli_help rooms_help = { "rooms", "[--limit N]",
"     Lists the public rooms of the server, most listeners first: code,\n"
"     name, who controls playback (policy), listeners, and the title that\n"
"     plays. No token needed.\n"
"\n"
"     -n, --limit N  at most N rooms (1 to 200; default 50).\n"
"\n"
"     --json: the server's answer: {\"rooms\":[{\"code\", \"name\", \"policy\",\n"
"     \"created_us\", \"listeners\", \"playing\"}]}.\n" };

int
cmd_rooms(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "limit", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const heads[] = { "CODE", "NAME", "POLICY", "LISTENERS", "PLAYING" };
	struct out_table *t;
	int64_t limit = 50;
	json_t *ans = NULL, *room;
	char path[64];
	size_t i;
	int opt, rc;

	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "n:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (rooms_count(&rooms_help, "--limit", optarg, 200, &limit) != 0)
				return CLI_USAGE;
			break;
		case 'h': return out_help(&rooms_help);
		default: return out_badopt(&rooms_help, argv, opt);
		}
	}
	if (optind != argc)
		return out_usage(&rooms_help, "unexpected argument %s", argv[optind]);
	snprintf(path, sizeof(path), "/api/rooms?limit=%lld", (long long)limit);
	if ((rc = http_json(c, "GET", path, NULL, NULL, &ans, NULL)) != CLI_OK)
		return rc;
	if (c->json)
		return out_json(ans);
	if (json_array_size(json_object_get(ans, "rooms")) == 0) {
		printf("No public rooms on %s.\n", c->server);
		json_decref(ans);
		return CLI_OK;
	}
	t = out_table_new(5, heads, "lllrl");
	json_array_foreach(json_object_get(ans, "rooms"), i, room) {
		out_cell(t, "%s", cmd_str(room, "code"));
		out_cell(t, "%s", cmd_str(room, "name"));
		out_cell(t, "%s", cmd_str(room, "policy"));
		out_cell(t, "%lld", (long long)cmd_int(room, "listeners", 0));
		out_cell(t, "%s", json_is_string(json_object_get(room, "playing")) ?
		    cmd_str(room, "playing") : "-");
	}
	out_table_print(t);
	json_decref(ans);
	return CLI_OK;
}

static const struct cli_help create_help = { "create",
"[--name NAME] [--room-name TEXT] [--public] [--policy admin|everyone] [--empty]",
"     Creates a room with you as its admin, remembers its token and makes it\n"
"     the default room of the other commands. Prints the code to share.\n"
"\n"
"     -n, --name NAME       your name in the room (1 to 32 characters; default:\n"
"                           name= in the config file, else the login name).\n"
"     -t, --room-name TEXT  the room's name (0 to 64 characters).\n"
"     -p, --public          list the room in tutti rooms and on the start page.\n"
"     -P, --policy POLICY   who controls playback, adds and uploads: admin\n"
"                           (the default) or everyone.\n"
"     -e, --empty           start with an empty playlist (default: the\n"
"                           library's first 500 tracks).\n"
"\n"
"     --json: the server's answer: {\"code\", \"token\", \"user\":{\"id\", \"name\",\n"
"     \"role\"}, \"room\":{\"code\", \"name\", \"public\", \"policy\"}}.\n" };

int
cmd_create(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "room-name", required_argument, NULL, 't' },
		{ "public", no_argument, NULL, 'p' },
		{ "policy", required_argument, NULL, 'P' },
		{ "empty", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *room_name = "", *policy = "admin", *code, *uname;
	char *name = NULL;
	int opt, pub = 0, empty = 0, rc = CLI_USAGE;
	json_t *ans = NULL, *body;

	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "n:t:pP:eh", lo, NULL)) != -1) {
		switch (opt) {
		case 'n': free(name); name = strdup(optarg); break;
		case 't': room_name = optarg; break;
		case 'p': pub = 1; break;
		case 'P': policy = optarg; break;
		case 'e': empty = 1; break;
		case 'h': rc = out_help(&create_help); goto done;
		default: rc = out_badopt(&create_help, argv, opt); goto done;
		}
	}
	if (optind != argc) {
		out_usage(&create_help, "unexpected argument %s (the room's name goes with "
		    "--room-name)", argv[optind]);
		goto done;
	}
	if (strcmp(policy, "admin") != 0 && strcmp(policy, "everyone") != 0) {
		out_usage(&create_help, "--policy %s: expected admin or everyone", policy);
		goto done;
	}
	if (name == NULL)
		name = cfg_default_name(c);
	if (name == NULL || cmd_text_ok(&create_help, "the name", name, 1, 32, 0) != 0 ||
	    cmd_text_ok(&create_help, "the room name", room_name, 0, ROOM_NAME_MAX, 0) != 0)
		goto done;
	body = json_pack("{s:s, s:s, s:b, s:s, s:s}", "name", name, "room_name", room_name,
	    "public", pub, "policy", policy, "playlist", empty ? "empty" : "library");
	if ((rc = http_json(c, "POST", "/api/rooms", NULL, body, &ans, NULL)) != CLI_OK)
		goto done;
	code = cmd_str(ans, "code");
	uname = cmd_str(json_object_get(ans, "user"), "name");
	if (cfg_token_put(c, code, cmd_str(ans, "token"), uname) != 0)
		fprintf(stderr, "tutti: the room %s was made, but its token could not be "
		    "remembered\n", code);
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
		goto done;
	}
	printf("Created room %s", code);
	if (*room_name != '\0') {
		fputs(" \"", stdout);
		out_clean(stdout, cmd_str(json_object_get(ans, "room"), "name"));
		fputs("\"", stdout);
	}
	printf(" (%s, policy %s). You are its admin, ", pub ? "public" : "private", policy);
	out_clean(stdout, uname);
	printf(".\nShare the code %s or the link %s/r/%s\n", code, c->server, code);
done:
	json_decref(ans);
	free(name);
	return rc;
}

/* When a token for code is remembered: asks the server whether it still
 * holds. Returns 1 (valid; *you gets the name joined with), 0 (void or
 * absent: forgotten), or -1 with *rc set (no answer). */
static int
join_check(struct cli *c, const char *code, char **you, int *rc)
{
	struct http_req q;
	struct http_resp r;
	char *token = NULL, path[64];
	int valid = 0;

	*you = NULL;
	if (cfg_token_get(c, code, &token, you) != 0)
		return 0;
	memset(&q, 0, sizeof(q));
	snprintf(path, sizeof(path), "/api/rooms/%s/users", code);
	q.method = "GET";
	q.path = path;
	q.token = token;
	q.fd = -1;
	q.timeout_s = 30;
	if (http_do(c, &q, &r) != 0) {
		*rc = http_report_net(c, &r);
		valid = -1;
	} else if (r.status == 200)
		valid = 1;
	else if (r.status == 401 || r.status == 404)
		cfg_token_forget(c, code);
	else {
		*rc = http_report(c, &r, path);
		valid = -1;
	}
	http_resp_free(&r);
	free(token);
	if (valid != 1) {
		free(*you);
		*you = NULL;
	}
	return valid;
}

/* Joining a room one is in already: with another name it is a conflict;
 * else the room becomes the default again. Returns the exit status. */
static int
join_again(struct cli *c, const char *code, const char *you, const char *name)
{
	char *token = NULL;

	if (name != NULL && strcasecmp(you, name) != 0) {
		fprintf(stderr, "tutti: you are in room %s as %s already; to join as someone "
		    "else, leave first (tutti leave --room %s)\n", code, you, code);
		return CLI_CONFLICT;
	}
	if (cfg_token_get(c, code, &token, NULL) == 0)
		cfg_token_put(c, code, token, you);
	free(token);
	if (c->json)
		return out_json(json_pack("{s:{s:s}, s:{s:s}, s:b}", "room", "code", code,
		    "user", "name", you, "already", 1));
	printf("Already in room %s as ", code);
	out_clean(stdout, you);
	puts(".");
	return CLI_OK;
}

/* A share link (http://host/r/CODE) names its server: the join goes there.
 * Sets c->server to the link's server (*own, the caller frees and restores)
 * when it differs. Returns CLI_OK, or CLI_USAGE for a malformed link. */
static int
join_link_server(struct cli *c, const char *arg, char **own)
{
	const char *r = strstr(arg, "/r/");
	char why[256], *base, *url;

	*own = NULL;
	if (r == NULL || strstr(arg, "://") == NULL)
		return CLI_OK;
	if ((base = strndup(arg, (size_t)(r - arg))) == NULL)
		return CLI_FAIL;
	url = http_base_url(base, why, sizeof(why));
	free(base);
	if (url == NULL) {
		fprintf(stderr, "tutti join: %s: %s\n", arg, why);
		return CLI_USAGE;
	}
	if (strcmp(url, c->server) == 0) {
		free(url);
		return CLI_OK;
	}
	c->server = *own = url;
	return CLI_OK;
}

static const struct cli_help join_help = { "join", "CODE [--name NAME]",
"     Joins the room CODE (its 5 characters, any case, or its share link\n"
"     http://host/r/CODE: then on the link's server) and remembers the token\n"
"     for the server; the room becomes the default of the other commands.\n"
"     Joining a room you are in already only makes it the default again.\n"
"\n"
"     -n, --name NAME  the name the others see (1 to 32 characters, unique in\n"
"                      the room ignoring case; default: name= in the config\n"
"                      file, else the login name).\n"
"\n"
"     --json: the server's answer: {\"token\", \"user\":{\"id\", \"name\", \"role\"},\n"
"     \"room\":{\"code\", \"name\", \"public\", \"policy\", \"repeat\", \"shuffle\"}};\n"
"     when already joined: {\"room\":{\"code\"}, \"user\":{\"name\"}, \"already\":true}.\n" };

int
cmd_join(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char code[CMD_CODE_LEN + 1], path[64], *name = NULL, *you = NULL, *link_server = NULL;
	const char *arg, *server = c->server;
	json_t *ans = NULL, *room, *user;
	int opt, rc = CLI_USAGE, named = 0;

	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "n:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'n': free(name); name = strdup(optarg); named = 1; break;
		case 'h': rc = out_help(&join_help); goto done;
		default: rc = out_badopt(&join_help, argv, opt); goto done;
		}
	}
	if (argc - optind > 1) {
		out_usage(&join_help, "unexpected argument %s", argv[optind + 1]);
		goto done;
	}
	if ((arg = optind < argc ? argv[optind] : NULL) == NULL) {
		out_usage(&join_help, "which room? give its code");
		goto done;
	}
	if (cmd_code(arg, code) != 0) {
		out_usage(&join_help, "%s is not a room code (5 characters of "
		    "23456789ABCDEFGHJKMNPQRSTUVWXYZ)", arg);
		goto done;
	}
	if ((rc = join_link_server(c, arg, &link_server)) != CLI_OK)
		goto done;
	rc = CLI_USAGE;
	if (name == NULL)
		name = cfg_default_name(c);
	if (name == NULL || cmd_text_ok(&join_help, "the name", name, 1, 32, 0) != 0)
		goto done;
	switch (join_check(c, code, &you, &rc)) {
	case -1:
		goto done;
	case 1:
		rc = join_again(c, code, you, named ? name : NULL);
		goto done;
	}
	snprintf(path, sizeof(path), "/api/rooms/%s/join", code);
	if ((rc = http_json(c, "POST", path, NULL, json_pack("{s:s}", "name", name), &ans,
	    NULL)) != CLI_OK)
		goto done;
	user = json_object_get(ans, "user");
	room = json_object_get(ans, "room");
	if (cfg_token_put(c, code, cmd_str(ans, "token"), cmd_str(user, "name")) != 0)
		fprintf(stderr, "tutti: joined, but the token could not be remembered\n");
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
		goto done;
	}
	printf("Joined room %s", code);
	if (*cmd_str(room, "name") != '\0') {
		fputs(" \"", stdout);
		out_clean(stdout, cmd_str(room, "name"));
		fputs("\"", stdout);
	}
	fputs(" as ", stdout);
	out_clean(stdout, cmd_str(user, "name"));
	printf(" (%s; policy %s).\n", cmd_str(user, "role"), cmd_str(room, "policy"));
done:
	if (link_server != NULL && c->server == link_server) {
		if (rc == CLI_OK && !c->json)
			fprintf(stderr, "tutti: note: the room is on %s, not on %s (the default "
			    "server): give --server %s to the next commands\n", link_server, server,
			    link_server);
		c->server = server;
	}
	free(link_server);
	json_decref(ans);
	free(name);
	free(you);
	return rc;
}

static const struct cli_help leave_help = { "leave", "",
"     Leaves the room (--room, else the room last joined) and forgets its\n"
"     token. When the admin leaves, the longest-present listener becomes\n"
"     admin after a grace period. A token that was void already is just\n"
"     forgotten.\n"
"\n"
"     --json: {\"left\":\"CODE\"}.\n" };

int
cmd_leave(struct cli *c, int argc, char **argv)
{
	struct cmd_room room;
	struct http_req q;
	struct http_resp r;
	char path[64];
	int rc;

	if (cmd_args(&leave_help, argc, argv, 0, 0, &rc) < 0)
		return rc;
	if ((rc = cmd_room(c, &room)) != CLI_OK)
		goto done;
	memset(&q, 0, sizeof(q));
	snprintf(path, sizeof(path), "/api/rooms/%s/leave", room.code);
	q.method = "POST";
	q.path = path;
	q.token = room.token;
	q.fd = -1;
	q.timeout_s = 30;
	q.headers = (const char *const[]){ "Content-Type:", NULL };
	if (http_do(c, &q, &r) != 0)
		rc = http_report_net(c, &r);
	else if (r.status == 204 || r.status == 401 || r.status == 404) {
		cfg_token_forget(c, room.code);
		if (r.status != 204)
			fprintf(stderr, "tutti: you were no longer in room %s (%s); its token is "
			    "forgotten\n", room.code, r.status == 404 ? "it is closed" : "token void");
		rc = c->json ? out_json(json_pack("{s:s}", "left", room.code)) : CLI_OK;
		if (!c->json)
			printf("Left room %s.\n", room.code);
	} else
		rc = http_report(c, &r, path);
	http_resp_free(&r);
done:
	cmd_room_free(&room);
	return rc;
}

/* The index (1-based) of item id in playlist, or 0. */
static size_t
rooms_item_index(json_t *playlist, int64_t id)
{
	json_t *it;
	size_t i;

	json_array_foreach(playlist, i, it)
		if (cmd_int(it, "id", 0) == id)
			return i + 1;
	return 0;
}

/* Prints the playback line of a room: state, item, title, position. */
static void
rooms_print_playback(json_t *room)
{
	json_t *pb = json_object_get(room, "playback"), *pl = json_object_get(room, "playlist");
	const char *state = cmd_str(pb, "state");
	int64_t item = cmd_int(pb, "item_id", 0), pos = cmd_int(pb, "position_us", 0);
	int64_t now = cmd_int(room, "now_us", 0), at = cmd_int(pb, "at_us", 0), dur;
	char label[600], p[32], d[32];
	size_t idx = rooms_item_index(pl, item);
	json_t *track;

	printf("%-10s%s", "state:", state);
	if (idx == 0) {
		puts(item == 0 ? " (the playlist is empty)" : "");
		return;
	}
	track = json_object_get(json_array_get(pl, idx - 1), "track");
	dur = cmd_int(track, "duration_us", 0);
	if (strcmp(state, "playing") == 0 && now > at)
		pos += now - at;
	if (dur > 0 && pos > dur)
		pos = dur;
	printf("  [%zu/%zu] ", idx, json_array_size(pl));
	out_clean(stdout, cmd_track_label(label, sizeof(label), track));
	printf("  %s / %s\n", out_dur(p, sizeof(p), pos), out_dur(d, sizeof(d), dur));
}

static const struct cli_help status_help = { "status", "",
"     Shows the room: its settings, you, what plays and where (the position\n"
"     now, by the server's clock), who is in it and listening, and the\n"
"     pending song requests.\n"
"\n"
"     --json: the server's room, as GET /api/rooms/CODE answers it: code, name,\n"
"     public, policy, repeat, shuffle, seq, now_us, you, users, listeners,\n"
"     playlist_version, playlist, playback {state, item_id, track_id,\n"
"     position_us, at_us}, chat (the last 50), requests (pending).\n" };

int
cmd_status(struct cli *c, int argc, char **argv)
{
	struct cmd_room room;
	json_t *ans = NULL, *you;
	int rc;

	if (cmd_args(&status_help, argc, argv, 0, 0, &rc) < 0)
		return rc;
	if ((rc = cmd_room(c, &room)) != CLI_OK ||
	    (rc = cmd_api(c, &room, "GET", NULL, NULL, &ans, "%s", "")) != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
		goto done;
	}
	you = json_object_get(ans, "you");
	printf("%-10s%s", "room:", cmd_str(ans, "code"));
	if (*cmd_str(ans, "name") != '\0') {
		fputs("  ", stdout);
		out_clean(stdout, cmd_str(ans, "name"));
	}
	printf("\n%-10s%s, policy %s, repeat %s, shuffle %s\n", "settings:",
	    json_is_true(json_object_get(ans, "public")) ? "public" : "private",
	    cmd_str(ans, "policy"), cmd_str(ans, "repeat"),
	    json_is_true(json_object_get(ans, "shuffle")) ? "on" : "off");
	printf("%-10s", "you:");
	out_clean(stdout, cmd_str(you, "name"));
	printf(" (%s)\n", cmd_str(you, "role"));
	rooms_print_playback(ans);
	printf("%-10s%zu in the room, %lld listening\n", "people:",
	    json_array_size(json_object_get(ans, "users")),
	    (long long)cmd_int(ans, "listeners", 0));
	printf("%-10s%zu pending\n", "requests:", json_array_size(json_object_get(ans, "requests")));
	printf("%-10s%s\n", "server:", c->server);
done:
	json_decref(ans);
	cmd_room_free(&room);
	return rc;
}

static const struct cli_help users_help = { "users", "",
"     Lists the people in the room, in the order they joined: id, name, role,\n"
"     whether they listen now (a WebSocket open), and when they joined.\n"
"\n"
"     --json: the server's answer: {\"users\":[{\"id\", \"name\", \"role\",\n"
"     \"joined_us\", \"online\"}], \"listeners\"}.\n" };

int
cmd_users(struct cli *c, int argc, char **argv)
{
	static const char *const heads[] = { "ID", "NAME", "ROLE", "LISTENING", "JOINED" };
	struct cmd_room room;
	struct out_table *t;
	json_t *ans = NULL, *u;
	char when[32];
	size_t i;
	int rc;

	if (cmd_args(&users_help, argc, argv, 0, 0, &rc) < 0)
		return rc;
	if ((rc = cmd_room(c, &room)) != CLI_OK ||
	    (rc = cmd_api(c, &room, "GET", NULL, NULL, &ans, "/users")) != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
		goto done;
	}
	t = out_table_new(5, heads, "rllll");
	json_array_foreach(json_object_get(ans, "users"), i, u) {
		out_cell(t, "%lld", (long long)cmd_int(u, "id", 0));
		out_cell(t, "%s%s", cmd_str(u, "name"), strcasecmp(cmd_str(u, "name"),
		    room.name != NULL ? room.name : "") == 0 ? " (you)" : "");
		out_cell(t, "%s", cmd_str(u, "role"));
		out_cell(t, "%s", json_is_true(json_object_get(u, "online")) ? "yes" : "no");
		out_cell(t, "%s", out_clock(when, sizeof(when), cmd_int(u, "joined_us", 0)));
	}
	out_table_print(t);
done:
	json_decref(ans);
	cmd_room_free(&room);
	return rc;
}

/* Finds the person USER names among the room's users: 0 and a new
 * reference in *user, or an exit status after saying why. */
static int
rooms_user(struct cli *c, struct cmd_room *room, const char *spec, json_t **user)
{
	json_t *ans = NULL, *u;
	int rc;

	*user = NULL;
	if ((rc = cmd_api(c, room, "GET", NULL, NULL, &ans, "/users")) != CLI_OK)
		return rc;
	if ((u = cmd_find_user(json_object_get(ans, "users"), spec)) == NULL) {
		fprintf(stderr, "tutti: nobody in room %s is called %s or has that id (tutti "
		    "users lists them)\n", room->code, spec);
		rc = CLI_NOTFOUND;
	} else
		*user = json_incref(u);
	json_decref(ans);
	return rc;
}

static const struct cli_help kick_help = { "kick", "USER",
"     Removes USER from the room (admin only): their token stops working.\n"
"     USER is a name (ignoring case) or an id from tutti users; a number is\n"
"     taken as an id first.\n"
"\n"
"     --json: {\"removed\":{\"id\", \"name\", \"role\", \"joined_us\", \"online\"}}.\n" };

int
cmd_kick(struct cli *c, int argc, char **argv)
{
	struct cmd_room room;
	json_t *user = NULL;
	int first, rc;

	if ((first = cmd_args(&kick_help, argc, argv, 1, 1, &rc)) < 0)
		return rc;
	if ((rc = cmd_room(c, &room)) != CLI_OK ||
	    (rc = rooms_user(c, &room, argv[first], &user)) != CLI_OK)
		goto done;
	if (room.name != NULL && strcasecmp(cmd_str(user, "name"), room.name) == 0) {
		rc = out_usage(&kick_help, "that is you; to leave the room: tutti leave");
		goto done;
	}
	if ((rc = cmd_api(c, &room, "DELETE", NULL, NULL, NULL, "/users/%lld",
	    (long long)cmd_int(user, "id", 0))) != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(json_pack("{s:O}", "removed", user));
		goto done;
	}
	fputs("Removed ", stdout);
	out_clean(stdout, cmd_str(user, "name"));
	printf(" from room %s.\n", room.code);
done:
	json_decref(user);
	cmd_room_free(&room);
	return rc;
}

static const struct cli_help admin_help = { "admin", "USER",
"     Hands the admin role over to USER (admin only); you become a member.\n"
"     USER is a name (ignoring case) or an id, as for kick.\n"
"\n"
"     --json: the server's answer: {\"admin\":{\"id\", \"name\", \"role\",\n"
"     \"joined_us\"}}.\n" };

int
cmd_admin(struct cli *c, int argc, char **argv)
{
	struct cmd_room room;
	json_t *user = NULL, *ans = NULL;
	int first, rc;

	if ((first = cmd_args(&admin_help, argc, argv, 1, 1, &rc)) < 0)
		return rc;
	if ((rc = cmd_room(c, &room)) != CLI_OK ||
	    (rc = rooms_user(c, &room, argv[first], &user)) != CLI_OK ||
	    (rc = cmd_api(c, &room, "PUT", NULL, json_pack("{s:I}", "user_id",
	    (json_int_t)cmd_int(user, "id", 0)), &ans, "/admin")) != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
		goto done;
	}
	out_clean(stdout, cmd_str(json_object_get(ans, "admin"), "name"));
	printf(" is now the admin of room %s.\n", room.code);
done:
	json_decref(ans);
	json_decref(user);
	cmd_room_free(&room);
	return rc;
}

static const struct cli_help set_help = { "set",
"[--room-name TEXT] [--public | --private] [--policy P] [--repeat R] [--shuffle on|off]",
"     Changes the room's settings (admin only); what is not given stays.\n"
"\n"
"     -t, --room-name TEXT  the room's name (0 to 64 characters).\n"
"     -p, --public          list the room publicly.\n"
"         --private         do not list it.\n"
"     -P, --policy P        admin or everyone: who controls playback, adds and\n"
"                           uploads.\n"
"     -R, --repeat R        off, one (the item again) or all (the playlist).\n"
"     -S, --shuffle on|off  play the playlist in a shuffled order.\n"
"\n"
"     --json: the server's answer: {\"code\", \"name\", \"public\", \"policy\",\n"
"     \"repeat\", \"shuffle\"}.\n" };

/* Parses on/off (yes/no, true/false, 1/0) into *v. Returns 0 or -1. */
static int
rooms_bool(const char *s, int *v)
{
	if (!strcmp(s, "on") || !strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1"))
		*v = 1;
	else if (!strcmp(s, "off") || !strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0"))
		*v = 0;
	else
		return -1;
	return 0;
}

int
cmd_set(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "room-name", required_argument, NULL, 't' },
		{ "public", no_argument, NULL, 'p' },
		{ "private", no_argument, NULL, 'q' },
		{ "policy", required_argument, NULL, 'P' },
		{ "repeat", required_argument, NULL, 'R' },
		{ "shuffle", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_room room = { "", NULL, NULL };
	json_t *body = json_object(), *ans = NULL;
	int opt, rc = CLI_USAGE, v;

	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "t:pP:R:S:h", lo, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (cmd_text_ok(&set_help, "the room name", optarg, 0, ROOM_NAME_MAX, 0) != 0)
				goto done;
			json_object_set_new(body, "room_name", json_string(optarg));
			break;
		case 'p':
		case 'q':
			json_object_set_new(body, "public", json_boolean(opt == 'p'));
			break;
		case 'P':
			if (strcmp(optarg, "admin") != 0 && strcmp(optarg, "everyone") != 0) {
				out_usage(&set_help, "--policy %s: expected admin or everyone", optarg);
				goto done;
			}
			json_object_set_new(body, "policy", json_string(optarg));
			break;
		case 'R':
			if (strcmp(optarg, "off") != 0 && strcmp(optarg, "one") != 0 &&
			    strcmp(optarg, "all") != 0) {
				out_usage(&set_help, "--repeat %s: expected off, one or all", optarg);
				goto done;
			}
			json_object_set_new(body, "repeat", json_string(optarg));
			break;
		case 'S':
			if (rooms_bool(optarg, &v) != 0) {
				out_usage(&set_help, "--shuffle %s: expected on or off", optarg);
				goto done;
			}
			json_object_set_new(body, "shuffle", json_boolean(v));
			break;
		case 'h': rc = out_help(&set_help); goto done;
		default: rc = out_badopt(&set_help, argv, opt); goto done;
		}
	}
	if (optind != argc) {
		out_usage(&set_help, "unexpected argument %s", argv[optind]);
		goto done;
	}
	if (json_object_size(body) == 0) {
		out_usage(&set_help, "nothing to change");
		goto done;
	}
	if ((rc = cmd_room(c, &room)) != CLI_OK)
		goto done;
	rc = cmd_api(c, &room, "PATCH", NULL, body, &ans, "%s", "");
	body = NULL;
	if (rc != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
		goto done;
	}
	printf("Room %s \"", cmd_str(ans, "code"));
	out_clean(stdout, cmd_str(ans, "name"));
	printf("\": %s, policy %s, repeat %s, shuffle %s.\n",
	    json_is_true(json_object_get(ans, "public")) ? "public" : "private",
	    cmd_str(ans, "policy"), cmd_str(ans, "repeat"),
	    json_is_true(json_object_get(ans, "shuffle")) ? "on" : "off");
done:
	json_decref(body);
	json_decref(ans);
	cmd_room_free(&room);
	return rc;
}

static const struct cli_help close_help = { "close", "",
"     Closes the room for everyone (admin only): every token of it stops\n"
"     working and its code is gone. Cannot be undone.\n"
"\n"
"     --json: {\"closed\":\"CODE\"}.\n" };

int
cmd_close(struct cli *c, int argc, char **argv)
{
	struct cmd_room room;
	int rc;

	if (cmd_args(&close_help, argc, argv, 0, 0, &rc) < 0)
		return rc;
	if ((rc = cmd_room(c, &room)) != CLI_OK ||
	    (rc = cmd_api(c, &room, "DELETE", NULL, NULL, NULL, "%s", "")) != CLI_OK)
		goto done;
	cfg_token_forget(c, room.code);
	if (c->json)
		rc = out_json(json_pack("{s:s}", "closed", room.code));
	else
		printf("Closed room %s.\n", room.code);
done:
	cmd_room_free(&room);
	return rc;
}

static const struct cli_help tracks_help = { "tracks", "[QUERY] [--limit N] [--offset N]",
"     Searches the server's library: tracks whose title or artist contains\n"
"     QUERY (ignoring ASCII case; every track without it), by title. The ids\n"
"     are what tutti add and tutti request --track take. No token needed.\n"
"\n"
"     -n, --limit N   at most N tracks (1 to 500; default 50).\n"
"     -o, --offset N  skip the first N matches (the next page).\n"
"\n"
"     --json: the server's answer: {\"tracks\":[{\"id\", \"title\", \"artist\",\n"
"     \"album\", \"duration_us\", \"sample_rate\", \"channels\", \"bitrate\",\n"
"     \"url\"}], \"total\", \"limit\", \"offset\"}.\n" };

int
cmd_tracks(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "limit", required_argument, NULL, 'n' },
		{ "offset", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const heads[] = { "ID", "TITLE", "ARTIST", "LENGTH" };
	int64_t limit = 50, offset = 0;
	struct out_table *t;
	json_t *ans = NULL, *tr;
	char *q = NULL, *path = NULL, d[32];
	size_t i;
	int opt, rc = CLI_USAGE;

	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "n:o:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (rooms_count(&tracks_help, "--limit", optarg, 500, &limit) != 0)
				goto done;
			break;
		case 'o':
			if (strcmp(optarg, "0") != 0 &&
			    rooms_count(&tracks_help, "--offset", optarg, 2147483647, &offset) != 0)
				goto done;
			break;
		case 'h': rc = out_help(&tracks_help); goto done;
		default: rc = out_badopt(&tracks_help, argv, opt); goto done;
		}
	}
	if (argc - optind > 1) {
		out_usage(&tracks_help, "one query (quote it: tutti tracks \"%s %s\")",
		    argv[optind], argv[optind + 1]);
		goto done;
	}
	if (optind < argc && strlen(argv[optind]) > 200) {
		out_usage(&tracks_help, "the query is over 200 bytes");
		goto done;
	}
	if ((q = http_escape(optind < argc ? argv[optind] : "")) == NULL ||
	    asprintf(&path, "/api/tracks?q=%s&limit=%lld&offset=%lld", q, (long long)limit,
	    (long long)offset) < 0) {
		path = NULL;
		rc = CLI_FAIL;
		goto done;
	}
	if ((rc = http_json(c, "GET", path, NULL, NULL, &ans, NULL)) != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
		goto done;
	}
	if (json_array_size(json_object_get(ans, "tracks")) == 0) {
		fputs(optind < argc ? "No track matches \"" : "The library is empty.", stdout);
		if (optind < argc) {
			out_clean(stdout, argv[optind]);
			fputs("\".", stdout);
		}
		putchar('\n');
		goto done;
	}
	t = out_table_new(4, heads, "rllr");
	json_array_foreach(json_object_get(ans, "tracks"), i, tr) {
		out_cell(t, "%lld", (long long)cmd_int(tr, "id", 0));
		out_cell(t, "%s", *cmd_str(tr, "title") ? cmd_str(tr, "title") : "Untitled");
		out_cell(t, "%s", cmd_str(tr, "artist"));
		out_cell(t, "%s", out_dur(d, sizeof(d), cmd_int(tr, "duration_us", 0)));
	}
	out_table_print(t);
	if (cmd_int(ans, "total", 0) > (int64_t)json_array_size(json_object_get(ans, "tracks")))
		printf("(%zu of %lld; --offset for more)\n",
		    json_array_size(json_object_get(ans, "tracks")),
		    (long long)cmd_int(ans, "total", 0));
done:
	json_decref(ans);
	free(q);
	free(path);
	return rc;
}
