/*
 * cmd_play.c - the tutti commands of the playlist and playback: playlist,
 * add, remove, move, play, pause, resume, stop, next, prev and seek. Control
 * goes through POST /api/rooms/{code}/control (docs/api.md section 6); the
 * worker answers with the anchor in effect, printed as a state line.
 */
#include "cli.h"

#include "cmd.h"
#include "http.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_help playlist_help = { "playlist", "",
"     Lists the room's playlist in play order (without shuffle): its number\n"
"     N (what play N, remove N and move N take), title, artist, length and item id;\n"
"     > marks the current item.\n"
"\n"
"     --json: the server's answer of GET /api/rooms/CODE/playlist:\n"
"     {\"version\", \"items\":[{\"id\", \"position\", \"added_by\", \"track\":{...}}]}.\n" };

/* Prints items (playlist items, in order) as a table: >, N, title, artist,
 * length and item id; > marks the item cur. */
static void
play_table(json_t *items, int64_t cur)
{
	static const char *const heads[] = { "", "N", "TITLE", "ARTIST", "LENGTH", "ITEM" };
	struct out_table *t = out_table_new(6, heads, "lrllrr");
	json_t *it, *tr;
	char d[32];
	size_t i;

	json_array_foreach(items, i, it) {
		tr = json_object_get(it, "track");
		out_cell(t, "%s", cmd_int(it, "id", 0) == cur ? ">" : "");
		out_cell(t, "%zu", i + 1);
		out_cell(t, "%s", *cmd_str(tr, "title") ? cmd_str(tr, "title") : "Untitled");
		out_cell(t, "%s", cmd_str(tr, "artist"));
		out_cell(t, "%s", out_dur(d, sizeof(d), cmd_int(tr, "duration_us", 0)));
		out_cell(t, "%lld", (long long)cmd_int(it, "id", 0));
	}
	out_table_print(t);
}

int
cmd_playlist(struct cli *c, int argc, char **argv)
{
	struct cmd_room room;
	json_t *ans = NULL, *items;
	int rc;

	if (cmd_args(&playlist_help, argc, argv, 0, 0, &rc) < 0)
		return rc;
	if ((rc = cmd_room(c, &room)) != CLI_OK)
		goto done;
	if (c->json) {
		if ((rc = cmd_api(c, &room, "GET", NULL, NULL, &ans, "/playlist")) == CLI_OK) {
			rc = out_json(ans);
			ans = NULL;
		}
		goto done;
	}
	if ((rc = cmd_api(c, &room, "GET", NULL, NULL, &ans, "%s", "")) != CLI_OK)
		goto done;
	items = json_object_get(ans, "playlist");
	if (json_array_size(items) == 0) {
		printf("The playlist of room %s is empty (tutti upload FILE, tutti add ID).\n",
		    room.code);
		goto done;
	}
	play_table(items, cmd_int(json_object_get(ans, "playback"), "item_id", 0));
done:
	json_decref(ans);
	cmd_room_free(&room);
	return rc;
}

/* Prints the state line of a control answer {"seq", "playback"}: the
 * state, and the track (looked up in the library) at its position. */
static void
play_print(struct cli *c, json_t *ans)
{
	json_t *pb = json_object_get(ans, "playback"), *tr = NULL;
	int64_t track = cmd_int(pb, "track_id", 0);
	char path[64], label[600], p[32], d[32];

	printf("%s", cmd_str(pb, "state"));
	if (track <= 0) {
		puts(" (the playlist is empty)");
		return;
	}
	snprintf(path, sizeof(path), "/api/tracks/%lld", (long long)track);
	if (http_json(c, "GET", path, NULL, NULL, &tr, NULL) != CLI_OK) {
		printf("  track %lld at %s\n", (long long)track,
		    out_dur(p, sizeof(p), cmd_int(pb, "position_us", 0)));
		return;
	}
	fputs("  ", stdout);
	out_clean(stdout, cmd_track_label(label, sizeof(label), tr));
	printf("  %s / %s\n", out_dur(p, sizeof(p), cmd_int(pb, "position_us", 0)),
	    out_dur(d, sizeof(d), cmd_int(tr, "duration_us", 0)));
	json_decref(tr);
}

/* Sends one control command (body stolen) about the command's room and
 * prints the answer. Returns the exit status. */
static int
play_control(struct cli *c, json_t *body)
{
	struct cmd_room room;
	json_t *ans = NULL;
	int rc;

	if ((rc = cmd_room(c, &room)) != CLI_OK) {
		json_decref(body);
		goto done;
	}
	if ((rc = cmd_api(c, &room, "POST", NULL, body, &ans, "/control")) != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
	} else
		play_print(c, ans);
done:
	json_decref(ans);
	cmd_room_free(&room);
	return rc;
}

/* The commands that are just an action. */
static int
play_simple(struct cli *c, int argc, char **argv, const struct cli_help *h)
{
	int rc;

	if (cmd_args(h, argc, argv, 0, 0, &rc) < 0)
		return rc;
	return play_control(c, json_pack("{s:s}", "action", h->name));
}

#define PLAY_JSON_NOTE \
"     --json: the server's answer: {\"seq\", \"playback\":{\"state\", \"item_id\",\n" \
"     \"track_id\", \"position_us\", \"at_us\"}}, the anchor in effect.\n"

static const struct cli_help pause_help = { "pause", "",
"     Pauses at the position reached now (nothing changes when paused or\n"
"     stopped).\n\n" PLAY_JSON_NOTE };
static const struct cli_help resume_help = { "resume", "",
"     Resumes from the paused position; stopped, there is nothing to resume\n"
"     (exit status 6).\n\n" PLAY_JSON_NOTE };
static const struct cli_help stop_help = { "stop", "",
"     Stops, back at the start of the current item.\n\n" PLAY_JSON_NOTE };
static const struct cli_help next_help = { "next", "",
"     Goes to the next item (in play order) from its start, in the same state;\n"
"     on the last item: the first with repeat all, else exit status 6.\n\n"
PLAY_JSON_NOTE };
static const struct cli_help prev_help = { "prev", "",
"     Goes to the previous item from its start, in the same state; on the\n"
"     first item it restarts it (the last with repeat all).\n\n" PLAY_JSON_NOTE };

int
cmd_pause(struct cli *c, int argc, char **argv)
{
	return play_simple(c, argc, argv, &pause_help);
}

int
cmd_resume(struct cli *c, int argc, char **argv)
{
	return play_simple(c, argc, argv, &resume_help);
}

int
cmd_stop(struct cli *c, int argc, char **argv)
{
	return play_simple(c, argc, argv, &stop_help);
}

int
cmd_next(struct cli *c, int argc, char **argv)
{
	return play_simple(c, argc, argv, &next_help);
}

int
cmd_prev(struct cli *c, int argc, char **argv)
{
	return play_simple(c, argc, argv, &prev_help);
}

/* Finds the id of the n-th item (1-based) of the room's playlist, and the
 * playlist's version when ver is non-NULL. Returns the exit status. */
static int
play_item_at(struct cli *c, struct cmd_room *room, int64_t n, int64_t *id, int64_t *ver)
{
	json_t *ans = NULL, *items;
	int rc;

	if ((rc = cmd_api(c, room, "GET", NULL, NULL, &ans, "/playlist")) != CLI_OK)
		return rc;
	items = json_object_get(ans, "items");
	if (n > (int64_t)json_array_size(items)) {
		fprintf(stderr, "tutti: the playlist of room %s has %zu item%s, not %lld (tutti "
		    "playlist shows them)\n", room->code, json_array_size(items),
		    json_array_size(items) == 1 ? "" : "s", (long long)n);
		rc = CLI_NOTFOUND;
	} else {
		*id = cmd_int(json_array_get(items, (size_t)n - 1), "id", 0);
		if (ver != NULL)
			*ver = cmd_int(ans, "version", 0);
	}
	json_decref(ans);
	return rc;
}

static const struct cli_help play_help = { "play", "[N | --item ID]",
"     Without N: plays (from the start when stopped, from the paused\n"
"     position when paused; nothing changes while playing). With N: plays\n"
"     the N-th item of the playlist (as tutti playlist numbers them) from\n"
"     its start, whatever the state.\n"
"\n"
"     -i, --item ID  play the item with this id instead (the ITEM column).\n"
"\n" PLAY_JSON_NOTE };

int
cmd_play(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "item", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_room room = { "", NULL, NULL };
	int64_t n = 0, item = 0;
	int opt, rc;

	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "i:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (out_parse_id(optarg, &item) != 0)
				return out_usage(&play_help, "--item %s: expected an item id", optarg);
			break;
		case 'h': return out_help(&play_help);
		default: return out_badopt(&play_help, argv, opt);
		}
	}
	if (argc - optind > 1)
		return out_usage(&play_help, "unexpected argument %s", argv[optind + 1]);
	if (optind < argc && out_parse_id(argv[optind], &n) != 0)
		return out_usage(&play_help, "%s: expected the number of an item (1, 2, ...)",
		    argv[optind]);
	if (n > 0 && item > 0)
		return out_usage(&play_help, "N or --item, not both");
	if (n == 0 && item == 0)
		return play_control(c, json_pack("{s:s}", "action", "play"));
	if (n > 0) {
		if ((rc = cmd_room(c, &room)) == CLI_OK)
			rc = play_item_at(c, &room, n, &item, NULL);
		cmd_room_free(&room);
		if (rc != CLI_OK)
			return rc;
	}
	return play_control(c, json_pack("{s:s, s:I}", "action", "jump", "item_id",
	    (json_int_t)item));
}

static const struct cli_help seek_help = { "seek", "[+|-]TIME",
"     With + or -: moves by TIME from the position heard now (anyone the\n"
"     policy lets control playback). Without: goes to TIME from the start\n"
"     of the item (admin only). TIME is seconds (83, 83.5), m:ss (1:23) or\n"
"     h:mm:ss. Positions are clamped to the track. A paused or stopped room\n"
"     stays paused there.\n"
"\n" PLAY_JSON_NOTE };

int
cmd_seek(struct cli *c, int argc, char **argv)
{
	const char *arg = NULL, *t;
	int64_t us;
	int i, rest = 0;

	/* Not getopt: "-10" is a time, not an option. */
	for (i = 1; i < argc; i++) {
		if (!rest && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0))
			return out_help(&seek_help);
		if (!rest && strcmp(argv[i], "--") == 0) {
			rest = 1;
			continue;
		}
		if (!rest && argv[i][0] == '-' && !(argv[i][1] >= '0' && argv[i][1] <= '9'))
			return out_usage(&seek_help, "unknown option %s", argv[i]);
		if (arg != NULL)
			return out_usage(&seek_help, "unexpected argument %s", argv[i]);
		arg = argv[i];
	}
	if (arg == NULL)
		return out_usage(&seek_help, "where to? e.g. +10, -5, 1:23");
	t = arg[0] == '+' || arg[0] == '-' ? arg + 1 : arg;
	if (out_parse_dur(t, &us) != 0)
		return out_usage(&seek_help, "%s: expected seconds (83, 83.5), m:ss (1:23) or "
		    "h:mm:ss, with + or - to move", arg);
	if (arg[0] == '+' || arg[0] == '-')
		return play_control(c, json_pack("{s:s, s:I}", "action", "seek", "offset_us",
		    (json_int_t)(arg[0] == '-' ? -us : us)));
	return play_control(c, json_pack("{s:s, s:I}", "action", "seek", "position_us",
	    (json_int_t)us));
}

static const struct cli_help add_help = { "add", "TRACK_ID",
"     Appends a library track (an id from tutti tracks) to the playlist, as\n"
"     the policy allows (admin, or everyone).\n"
"\n"
"     --json: the server's answer: {\"item_id\", \"version\", \"items\":[...]}.\n" };

int
cmd_add(struct cli *c, int argc, char **argv)
{
	static const char *const any[] = { "If-Match: *", NULL };
	struct cmd_room room;
	json_t *ans = NULL;
	int64_t track;
	int first, rc;

	if ((first = cmd_args(&add_help, argc, argv, 1, 1, &rc)) < 0)
		return rc;
	if (out_parse_id(argv[first], &track) != 0)
		return out_usage(&add_help, "%s: expected a track id (tutti tracks lists them)",
		    argv[first]);
	/* Appending never undoes someone else's change: any version will do. */
	if ((rc = cmd_room(c, &room)) != CLI_OK ||
	    (rc = cmd_api(c, &room, "POST", any, json_pack("{s:I}", "track_id",
	    (json_int_t)track), &ans, "/playlist")) != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
	} else
		printf("Added track %lld as item %lld (number %zu of the playlist).\n",
		    (long long)track, (long long)cmd_int(ans, "item_id", 0),
		    json_array_size(json_object_get(ans, "items")));
done:
	json_decref(ans);
	cmd_room_free(&room);
	return rc;
}

static const struct cli_help remove_help = { "remove", "N | --item ID",
"     Removes the N-th item of the playlist (admin only). When it plays, the\n"
"     next item takes over in the same state. If the playlist changes between\n"
"     reading N and removing, nothing is removed (exit status 6).\n"
"\n"
"     -i, --item ID  remove the item with this id instead.\n"
"\n"
"     --json: the server's answer: {\"version\", \"items\":[...]}.\n" };

int
cmd_remove(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "item", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_room room = { "", NULL, NULL };
	const char *hdrs[2] = { "If-Match: *", NULL };
	char match[64];
	int64_t n = 0, item = 0, ver = 0;
	json_t *ans = NULL;
	int opt, rc;

	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "i:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (out_parse_id(optarg, &item) != 0)
				return out_usage(&remove_help, "--item %s: expected an item id", optarg);
			break;
		case 'h': return out_help(&remove_help);
		default: return out_badopt(&remove_help, argv, opt);
		}
	}
	if (argc - optind > 1)
		return out_usage(&remove_help, "unexpected argument %s", argv[optind + 1]);
	if (optind < argc && out_parse_id(argv[optind], &n) != 0)
		return out_usage(&remove_help, "%s: expected the number of an item", argv[optind]);
	if ((n > 0) == (item > 0))
		return out_usage(&remove_help, "give N or --item ID");
	if ((rc = cmd_room(c, &room)) != CLI_OK)
		goto done;
	if (n > 0) {
		if ((rc = play_item_at(c, &room, n, &item, &ver)) != CLI_OK)
			goto done;
		snprintf(match, sizeof(match), "If-Match: \"%lld\"", (long long)ver);
		hdrs[0] = match;
	}
	if ((rc = cmd_api(c, &room, "DELETE", hdrs, NULL, &ans, "/playlist/%lld",
	    (long long)item)) != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
	} else
		printf("Removed item %lld; %zu left.\n", (long long)item,
		    json_array_size(json_object_get(ans, "items")));
done:
	json_decref(ans);
	cmd_room_free(&room);
	return rc;
}

/* What tutti move was asked. */
struct move {
	int64_t n;		/* the item's number as given; 0: by id */
	int64_t item;		/* its id: as given, or read at number n */
	int64_t pos;		/* where to, from 1 */
	int64_t from;		/* its number when the playlist was read */
};

static const struct cli_help move_help = { "move", "N POSITION | --item ID POSITION",
"     Moves the N-th item of the playlist (as tutti playlist numbers them) to\n"
"     number POSITION, the items between shifting by one (admin only); what\n"
"     plays goes on playing, and what comes next follows the new order.\n"
"     POSITION is 1 to the length of the playlist. Prints the new playlist as\n"
"     tutti playlist does. If the playlist changes between reading it and\n"
"     moving, the same item (by id) is moved once more on the new playlist;\n"
"     if it changes again, nothing moves (exit status 6). An item already at\n"
"     POSITION stays: nothing is sent.\n"
"\n"
"     -i, --item ID  move the item with this id instead (the ITEM column).\n"
"\n"
"     --json: the server's answer: {\"version\", \"items\":[...]}.\n" };

/* Parses the arguments of tutti move into m. Returns 0, or -1 with *rc
 * the exit status (help printed, or a usage error). */
static int
move_args(int argc, char **argv, struct move *m, int *rc)
{
	static const struct option lo[] = {
		{ "item", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int opt, want;

	*rc = CLI_USAGE;
	memset(m, 0, sizeof(*m));
	out_getopt_reset();
	while ((opt = getopt_long(argc, argv, "i:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (out_parse_id(optarg, &m->item) != 0) {
				out_usage(&move_help, "--item %s: expected an item id (the ITEM "
				    "column of tutti playlist)", optarg);
				return -1;
			}
			break;
		case 'h':
			*rc = out_help(&move_help);
			return -1;
		default:
			out_badopt(&move_help, argv, opt);
			return -1;
		}
	}
	want = m->item > 0 ? 1 : 2;
	if (argc - optind < want)
		out_usage(&move_help, m->item > 0 ? "to which position?" :
		    "which item, to which position?");
	else if (argc - optind > want)
		out_usage(&move_help, "unexpected argument %s", argv[optind + want]);
	else if (want == 2 && out_parse_id(argv[optind], &m->n) != 0)
		out_usage(&move_help, "%s: expected the number of an item (1, 2, ...)",
		    argv[optind]);
	else if (out_parse_id(argv[argc - 1], &m->pos) != 0)
		out_usage(&move_help, "%s: expected a position (1, 2, ...)", argv[argc - 1]);
	else
		return 0;
	return -1;
}

/* Checks m against items (the playlist as read; retry: read again after a
 * 412) and fills m->item and m->from. Returns the exit status. */
static int
move_check(const struct cmd_room *room, struct move *m, json_t *items, int retry)
{
	size_t len = json_array_size(items), i;
	json_t *it;

	if (m->item == 0 && m->n > (int64_t)len) {
		fprintf(stderr, "tutti: the playlist of room %s has %zu item%s, not %lld (tutti "
		    "playlist shows them)\n", room->code, len, len == 1 ? "" : "s", (long long)m->n);
		return CLI_NOTFOUND;
	}
	if (m->item == 0)
		m->item = cmd_int(json_array_get(items, (size_t)m->n - 1), "id", 0);
	m->from = 0;
	json_array_foreach(items, i, it)
		if (cmd_int(it, "id", 0) == m->item)
			m->from = (int64_t)i + 1;
	if (m->from == 0) {
		if (retry)
			fprintf(stderr, "tutti: item %lld was removed from the playlist meanwhile; "
			    "nothing moved\n", (long long)m->item);
		else
			fprintf(stderr, "tutti: the playlist of room %s has no item %lld (the ITEM "
			    "column of tutti playlist)\n", room->code, (long long)m->item);
		return CLI_NOTFOUND;
	}
	if (m->pos <= (int64_t)len)
		return CLI_OK;
	if (!retry)
		return out_usage(&move_help, "position %lld: the playlist of room %s has %zu "
		    "item%s", (long long)m->pos, room->code, len, len == 1 ? "" : "s");
	fprintf(stderr, "tutti: the playlist changed meanwhile and has %zu item%s now, not %lld; "
	    "nothing moved\n", len, len == 1 ? "" : "s", (long long)m->pos);
	return CLI_CONFLICT;
}

/* The ids of items in their new order: m->item taken out and put back at
 * m->pos. Returns a new array, or NULL on OOM. */
static json_t *
move_order(const struct move *m, json_t *items)
{
	json_t *order = json_array(), *it;
	int64_t id;
	size_t i;

	if (order == NULL)
		return NULL;
	json_array_foreach(items, i, it)
		if ((id = cmd_int(it, "id", 0)) != m->item &&
		    json_array_append_new(order, json_integer(id)) != 0)
			goto fail;
	if (json_array_insert_new(order, (size_t)m->pos - 1, json_integer(m->item)) != 0)
		goto fail;
	return order;
fail:
	json_decref(order);
	return NULL;
}

/* One try: reads the room, checks m, and PUTs the new order with If-Match
 * (a 412 is not printed unless last). *ans gets the answer {version, items}
 * (the playlist as read when the item is at m->pos already), *state the
 * room as read. Returns the exit status; *status the PUT's HTTP status. */
static int
move_try(struct cli *c, struct cmd_room *room, struct move *m, int retry, json_t **state,
    json_t **ans, long *status)
{
	const char *hdrs[2] = { NULL, NULL };
	json_t *items, *order;
	char match[64];
	int64_t ver;
	int rc;

	*status = 0;
	if ((rc = cmd_api(c, room, "GET", NULL, NULL, state, "%s", "")) != CLI_OK)
		return rc;
	items = json_object_get(*state, "playlist");
	ver = cmd_int(*state, "playlist_version", 0);
	if ((rc = move_check(room, m, items, retry)) != CLI_OK)
		return rc;
	if (m->from == m->pos) {
		*ans = json_pack("{s:I, s:O}", "version", (json_int_t)ver, "items", items);
		return *ans != NULL ? CLI_OK : CLI_FAIL;
	}
	if ((order = move_order(m, items)) == NULL) {
		fputs("tutti: out of memory\n", stderr);
		return CLI_FAIL;
	}
	snprintf(match, sizeof(match), "If-Match: \"%lld\"", (long long)ver);
	hdrs[0] = match;
	return cmd_api_ex(c, room, retry ? 0 : 412, status, "PUT", hdrs,
	    json_pack("{s:o}", "items", order), ans, "/playlist");
}

/* Prints what move did and the playlist after it, as tutti playlist does. */
static void
move_print(const struct move *m, json_t *state, json_t *ans)
{
	json_t *items = json_object_get(ans, "items"), *it;
	char label[600] = "";
	size_t i;

	json_array_foreach(items, i, it)
		if (cmd_int(it, "id", 0) == m->item)
			cmd_track_label(label, sizeof(label), json_object_get(it, "track"));
	if (m->from == m->pos)
		printf("Item %lld is number %lld already; nothing changed: ", (long long)m->item,
		    (long long)m->pos);
	else
		printf("Moved item %lld from number %lld to %lld: ", (long long)m->item,
		    (long long)m->from, (long long)m->pos);
	out_clean(stdout, label);
	putchar('\n');
	play_table(items, cmd_int(json_object_get(state, "playback"), "item_id", 0));
}

int
cmd_move(struct cli *c, int argc, char **argv)
{
	struct cmd_room room = { "", NULL, NULL };
	json_t *state = NULL, *ans = NULL;
	struct move m;
	long status;
	int rc;

	if (move_args(argc, argv, &m, &rc) < 0)
		return rc;
	if ((rc = cmd_room(c, &room)) != CLI_OK)
		goto done;
	rc = move_try(c, &room, &m, 0, &state, &ans, &status);
	if (rc != CLI_OK && status == 412) {
		if (!c->json)
			fprintf(stderr, "tutti: the playlist changed meanwhile; moving item %lld on "
			    "the new playlist\n", (long long)m.item);
		json_decref(state);
		state = NULL;
		rc = move_try(c, &room, &m, 1, &state, &ans, &status);
		if (status == 412)
			fprintf(stderr, "tutti: the playlist changed again; nothing moved (run the "
			    "command again)\n");
	}
	if (rc != CLI_OK)
		goto done;
	if (c->json) {
		rc = out_json(ans);
		ans = NULL;
	} else
		move_print(&m, state, ans);
done:
	json_decref(state);
	json_decref(ans);
	cmd_room_free(&room);
	return rc;
}
