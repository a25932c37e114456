-- 003_uploads.sql: what tus uploads (fcgi/uploads.c) record beyond 002:
-- the playlist item a finished upload became (sent again as Tutti-Item on
-- HEAD), and when the partial file of an expired upload was removed (the
-- row stays a day longer so the upload answers 410 Gone, not 404).

ALTER TABLE uploads ADD COLUMN item_id INTEGER REFERENCES playlist_items(id);
ALTER TABLE uploads ADD COLUMN gone_us INTEGER;
