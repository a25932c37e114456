-- 006_modes.sql: a room's repeat and shuffle settings (PATCH /api/rooms/{code},
-- applied by the worker's state machine, worker/sched.c). With shuffle on
-- the play order is the order of a 64-bit mix of shuffle_seed and each
-- item's id (sched_shuffle_key): stable while the playlist stays, reshuffled
-- by a new random seed each time shuffle is turned on.
ALTER TABLE rooms ADD COLUMN repeat_mode TEXT NOT NULL DEFAULT 'off'
	CHECK (repeat_mode IN ('off', 'one', 'all'));
ALTER TABLE rooms ADD COLUMN shuffle INTEGER NOT NULL DEFAULT 0 CHECK (shuffle IN (0, 1));
ALTER TABLE rooms ADD COLUMN shuffle_seed INTEGER NOT NULL DEFAULT 0;
