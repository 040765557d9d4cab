-- The memory each reported call held, where its audit record says: calls
-- per memory bucket, as a JSON array (empty for reports from before it was
-- counted). Portable SQL, as in 0001.
ALTER TABLE usage_reports ADD COLUMN memory TEXT NOT NULL DEFAULT '[]';
