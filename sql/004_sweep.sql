-- 004_sweep.sql: indexes for the worker's sweep (worker/sweep.c), so
-- finding rooms whose admin grace period or idle time is over is a range
-- search over the few rooms concerned, not a scan of every room.
CREATE INDEX rooms_admin_lost ON rooms (admin_lost_us)
	WHERE admin_lost_us IS NOT NULL AND closed_us IS NULL;
CREATE INDEX rooms_empty_since ON rooms (empty_since_us)
	WHERE empty_since_us IS NOT NULL AND closed_us IS NULL;
