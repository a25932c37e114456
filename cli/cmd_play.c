/*
 * cmd_play.c - the tutti commands of the playlist and playback: playlist,
 * add, remove, play, pause, resume, stop, next, prev and seek. Control
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
"     N (what play N and remove N take), title, artist, length and item id;\n"
"     > marks the current item.\n"
"\n"
"     --json: the server's answer of GET /api/rooms/CODE/playlist:\n"
"     {\"version\", \"items\":[{\"id\", \"position\", \"added_by\", \"track\":{...}}]}.\n" };

int
cmd_playlist(struct cli *c, int argc, char **argv)
{
	static const char *const heads[] = { "", "N", "TITLE", "ARTIST", "LENGTH", "ITEM" };
	struct cmd_room room;
	struct out_table *t;
	json_t *ans = NULL, *it, *tr, *items;
	int64_t cur;
	char d[32];
	size_t i;
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
	cur = cmd_int(json_object_get(ans, "playback"), "item_id", 0);
	t = out_table_new(6, heads, "lrllrr");
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
