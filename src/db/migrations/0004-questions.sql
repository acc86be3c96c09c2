-- Version 4: questions. A pause has a kind ('decision' or 'question'); a question may
-- offer options and ends 'answered' with its answer.
--
-- SQLite cannot change a CHECK constraint, so the pauses table is rebuilt: the old one
-- is renamed away, the new one created with exactly the text of schema.sql (an
-- upgraded database must equal a fresh one), the rows copied with their ids, the old
-- table dropped and its indexes created again. `migrate` runs this with foreign-key
-- enforcement off and checks the foreign keys before it commits; legacy_alter_table
-- keeps the rename from rewriting the REFERENCES pauses of pause_tags and idempotency,
-- which must go on naming the new table.

PRAGMA legacy_alter_table=ON;

ALTER TABLE pauses RENAME TO pauses_v3;

CREATE TABLE pauses (
    id          INTEGER PRIMARY KEY,                -- insertion order: the list order
    watch_id    TEXT    NOT NULL UNIQUE,
    key_id      TEXT    NOT NULL REFERENCES api_keys (id),
    kind        TEXT    NOT NULL DEFAULT 'decision' CHECK (kind IN ('decision', 'question')),
    status      TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'answered', 'expired', 'cancelled')),
    action      TEXT    NOT NULL,                   -- a question's text, for a question
    options     TEXT,                               -- JSON array: a question's choices, if any
    context     TEXT,                               -- JSON
    tags        TEXT    NOT NULL DEFAULT '[]',       -- JSON array, as given
    webhook_url TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    resolved_at INTEGER,
    resolved_by TEXT,
    comment     TEXT,
    answer      TEXT                                -- a question's answer, once answered
);

INSERT INTO pauses (id, watch_id, key_id, kind, status, action, options, context, tags,
                    webhook_url, created_at, expires_at, resolved_at, resolved_by,
                    comment, answer)
SELECT id, watch_id, key_id, 'decision', status, action, NULL, context, tags,
       webhook_url, created_at, expires_at, resolved_at, resolved_by, comment, NULL
FROM pauses_v3;

DROP TABLE pauses_v3;

CREATE INDEX pauses_key ON pauses (key_id, id);
CREATE INDEX pauses_status ON pauses (status, id);
CREATE INDEX pauses_pending_expiry ON pauses (expires_at)
    WHERE status = 'pending' AND expires_at IS NOT NULL;

PRAGMA legacy_alter_table=OFF;
