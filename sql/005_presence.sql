-- 005_presence.sql: whether a present user has a WebSocket open on some
-- relay (the relays count listeners in Redis; the worker applies each
-- user's 0 <-> >0 transition from tutti:cmd, worker/roles.c). Going offline
-- starts the admin grace period and the idle time; REST-only users, who
-- never open a WebSocket, simply stay 0.
ALTER TABLE users ADD COLUMN online INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1));
