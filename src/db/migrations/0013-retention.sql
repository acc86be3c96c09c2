-- Version 13: retention. A decided pause older than --retention (or `hitl purge
-- --before`) loses its content but keeps what was decided, by whom and when, and the
-- digests its receipt signs.

ALTER TABLE pauses ADD COLUMN purged_at INTEGER;
ALTER TABLE pauses ADD COLUMN purged_digests TEXT;
CREATE INDEX pauses_unpurged ON pauses (resolved_at)
    WHERE purged_at IS NULL AND resolved_at IS NOT NULL;
