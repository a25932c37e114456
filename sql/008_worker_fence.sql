-- 008_worker_fence.sql: the fencing token of the active worker. A worker
-- that takes the Redis lease bumps epoch (and says who it is) before it
-- reads anything; every write transaction of a worker checks, inside BEGIN
-- IMMEDIATE, that epoch is still the one it took. A worker that was stalled
-- (not killed) past its lease and wakes up therefore cannot write over what
-- its successor did: its transaction is refused and it stands by.
CREATE TABLE worker_fence (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	epoch INTEGER NOT NULL,
	holder TEXT NOT NULL,
	since_us INTEGER NOT NULL
);
INSERT INTO worker_fence (id, epoch, holder, since_us) VALUES (1, 0, '', 0);
