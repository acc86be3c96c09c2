-- Version 7: what a pause's timeout does when it passes (`on_timeout`: expire, the
-- default and the only behaviour before; or reject, or approve).
--
-- Rebuilt like versions 4 and 5 rather than with ADD COLUMN, so that the table's text
-- equals schema.sql's (an upgraded database must equal a fresh one). `migrate` runs
-- this with foreign-key enforcement off and checks the foreign keys before it commits.

PRAGMA legacy_alter_table=ON;

ALTER TABLE pauses RENAME TO pauses_v6;

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
    risk        TEXT    CHECK (risk IN ('low', 'medium', 'high', 'critical')), -- the agent's rating
    summary     TEXT,                               -- what happens if approved, as the agent says
    webhook_url TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    on_timeout  TEXT    NOT NULL DEFAULT 'expire' CHECK (on_timeout IN ('expire', 'reject', 'approve')),
    resolved_at INTEGER,
    resolved_by TEXT,
    comment     TEXT,
    answer      TEXT                                -- a question's answer, once answered
);

INSERT INTO pauses (id, watch_id, key_id, kind, status, action, options, context, tags,
                    risk, summary, webhook_url, created_at, expires_at, on_timeout, resolved_at,
                    resolved_by, comment, answer)
SELECT id, watch_id, key_id, kind, status, action, options, context, tags,
       risk, summary, webhook_url, created_at, expires_at, 'expire', resolved_at,
       resolved_by, comment, answer
FROM pauses_v6;

DROP TABLE pauses_v6;

CREATE INDEX pauses_key ON pauses (key_id, id);
CREATE INDEX pauses_status ON pauses (status, id);
CREATE INDEX pauses_pending_expiry ON pauses (expires_at)
    WHERE status = 'pending' AND expires_at IS NOT NULL;

PRAGMA legacy_alter_table=OFF;
