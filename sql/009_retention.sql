-- 009_retention.sql: the worker's purge of rooms closed longer than its
-- retention (tutti-worker -P) finds them in the order they closed and
-- deletes a room's uploads by room; /api/healthz counts the people online.
CREATE INDEX rooms_closed ON rooms (closed_us, id) WHERE closed_us IS NOT NULL;
CREATE INDEX uploads_room ON uploads (room_id);
CREATE INDEX users_online ON users (room_id) WHERE online = 1 AND left_us IS NULL;
