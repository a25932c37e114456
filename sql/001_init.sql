-- 001_init.sql: rooms, their users, the track library, playlists and the
-- playback anchor of each room. Times are microseconds since the epoch (_us).

CREATE TABLE rooms (
	id          INTEGER PRIMARY KEY,
	code        TEXT NOT NULL UNIQUE,
	created_us  INTEGER NOT NULL,
	closed_us   INTEGER,
	seq         INTEGER NOT NULL DEFAULT 0,   -- seq of the room's last event
	last_cmd    TEXT NOT NULL DEFAULT '0-0'   -- last command stream id applied
);

CREATE TABLE users (
	id          INTEGER PRIMARY KEY,
	room_id     INTEGER NOT NULL REFERENCES rooms(id),
	name        TEXT NOT NULL COLLATE NOCASE,
	role        TEXT NOT NULL CHECK (role IN ('admin', 'member')),
	token_hash  TEXT NOT NULL UNIQUE,          -- sha256 hex of the bearer token
	joined_us   INTEGER NOT NULL,
	left_us     INTEGER,
	UNIQUE (room_id, name)
);

CREATE TABLE tracks (
	id          INTEGER PRIMARY KEY,
	sha256      TEXT NOT NULL UNIQUE,          -- file lives at media/<sha256[0:2]>/<sha256>.mp3
	title       TEXT NOT NULL,
	artist      TEXT NOT NULL DEFAULT '',
	album       TEXT NOT NULL DEFAULT '',
	samples     INTEGER NOT NULL,              -- exact, without encoder delay and padding
	sample_rate INTEGER NOT NULL,
	channels    INTEGER NOT NULL,
	bitrate     INTEGER NOT NULL,              -- kbit/s, average
	duration_us INTEGER NOT NULL,              -- samples * 1e6 / sample_rate
	size        INTEGER NOT NULL,
	added_us    INTEGER NOT NULL
);

CREATE TABLE playlist_items (
	id          INTEGER PRIMARY KEY,
	room_id     INTEGER NOT NULL REFERENCES rooms(id),
	track_id    INTEGER NOT NULL REFERENCES tracks(id),
	position    INTEGER NOT NULL,
	UNIQUE (room_id, position)
);

-- The anchor: at server time at_us, item item_id is at position_us.
CREATE TABLE playback (
	room_id     INTEGER PRIMARY KEY REFERENCES rooms(id),
	state       TEXT NOT NULL CHECK (state IN ('stopped', 'playing', 'paused')),
	item_id     INTEGER REFERENCES playlist_items(id),
	position_us INTEGER NOT NULL DEFAULT 0,
	at_us       INTEGER NOT NULL
);
