-- 007_last_cmd_seq.sql: the seq of the playback event that the room's last
-- command (rooms.last_cmd) produced, or -1 when it produced none. A worker
-- that takes over and meets that command again (its predecessor died
-- between COMMIT and PUBLISH) publishes the event again when the room has
-- not moved on since, so listeners see every command's event.
ALTER TABLE rooms ADD COLUMN last_cmd_seq INTEGER NOT NULL DEFAULT -1;
