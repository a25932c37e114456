-- 002_rest.sql: what the full REST API needs (issue 3): room settings,
-- roles that survive leaving, soft-removed playlist items, song requests,
-- chat and resumable uploads. Applied with foreign keys off and checked
-- before commit (common/db.c), so tables can be rebuilt.

ALTER TABLE rooms ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN public INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1));
-- Who may play, pause, skip, seek by +-10 s, jump and upload.
ALTER TABLE rooms ADD COLUMN policy TEXT NOT NULL DEFAULT 'admin'
	CHECK (policy IN ('admin', 'everyone'));
-- Version of the playlist, the ETag of GET .../playlist; +1 on every change.
ALTER TABLE rooms ADD COLUMN playlist_version INTEGER NOT NULL DEFAULT 1;
-- Since when the room has had no present admin (NULL: it has one). The
-- worker promotes the longest-present user once the grace period is over.
ALTER TABLE rooms ADD COLUMN admin_lost_us INTEGER;
-- Since when no user has been present (NULL: someone is). The worker
-- closes the room once the idle time is over.
ALTER TABLE rooms ADD COLUMN empty_since_us INTEGER;

-- users, rebuilt: a name is unique among the users present, so a person
-- who left may come back under the same name; why someone left is kept.
CREATE TABLE users_new (
	id          INTEGER PRIMARY KEY,
	room_id     INTEGER NOT NULL REFERENCES rooms(id),
	name        TEXT NOT NULL COLLATE NOCASE,
	role        TEXT NOT NULL CHECK (role IN ('admin', 'member')),
	token_hash  TEXT NOT NULL UNIQUE,          -- sha256 hex of the bearer token
	joined_us   INTEGER NOT NULL,
	left_us     INTEGER,
	left_reason TEXT CHECK (left_reason IN ('left', 'removed', 'closed'))
);
INSERT INTO users_new (id, room_id, name, role, token_hash, joined_us, left_us)
	SELECT id, room_id, name, role, token_hash, joined_us, left_us FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE UNIQUE INDEX users_present_name ON users (room_id, name) WHERE left_us IS NULL;
CREATE INDEX users_room ON users (room_id, joined_us);

-- Playlist items are removed softly (removed_us), so the playback anchor
-- may keep pointing at an item that is playing out. Positions only grow:
-- order by position, gaps allowed.
ALTER TABLE playlist_items ADD COLUMN added_by INTEGER REFERENCES users(id);
ALTER TABLE playlist_items ADD COLUMN added_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE playlist_items ADD COLUMN removed_us INTEGER;

CREATE TABLE requests (
	id          INTEGER PRIMARY KEY,
	room_id     INTEGER NOT NULL REFERENCES rooms(id),
	user_id     INTEGER NOT NULL REFERENCES users(id),
	track_id    INTEGER REFERENCES tracks(id),  -- a library track, or
	text        TEXT,                           -- free text (1-200 chars)
	status      TEXT NOT NULL DEFAULT 'pending'
	            CHECK (status IN ('pending', 'approved', 'rejected')),
	created_us  INTEGER NOT NULL,
	resolved_us INTEGER,
	resolved_by INTEGER REFERENCES users(id),
	item_id     INTEGER REFERENCES playlist_items(id),  -- set when approved into the playlist
	CHECK (track_id IS NOT NULL OR text IS NOT NULL)
);
CREATE INDEX requests_room ON requests (room_id, id);
CREATE UNIQUE INDEX requests_pending_track ON requests (room_id, track_id)
	WHERE status = 'pending' AND track_id IS NOT NULL;
CREATE UNIQUE INDEX requests_pending_text ON requests (room_id, text COLLATE NOCASE)
	WHERE status = 'pending' AND track_id IS NULL;

CREATE TABLE chat (
	id          INTEGER PRIMARY KEY,
	room_id     INTEGER NOT NULL REFERENCES rooms(id),
	user_id     INTEGER REFERENCES users(id),   -- NULL for system messages
	name        TEXT NOT NULL DEFAULT '',       -- the author's name when posted
	kind        TEXT NOT NULL CHECK (kind IN ('user', 'system')),
	text        TEXT NOT NULL,
	at_us       INTEGER NOT NULL
);
CREATE INDEX chat_room ON chat (room_id, id);
CREATE INDEX chat_user ON chat (user_id, at_us);

-- tus uploads in progress (and finished ones, until they expire). The
-- bytes received so far are the file uploads/<id>.part under the data
-- directory; its size is the upload's offset.
CREATE TABLE uploads (
	id          TEXT PRIMARY KEY,
	room_id     INTEGER NOT NULL REFERENCES rooms(id),
	user_id     INTEGER NOT NULL REFERENCES users(id),
	length      INTEGER NOT NULL,
	filename    TEXT NOT NULL DEFAULT '',
	metadata    TEXT NOT NULL DEFAULT '',       -- Upload-Metadata as received
	created_us  INTEGER NOT NULL,
	expires_us  INTEGER NOT NULL,
	done_us     INTEGER,
	track_id    INTEGER REFERENCES tracks(id)
);
CREATE INDEX uploads_expiry ON uploads (expires_us);
