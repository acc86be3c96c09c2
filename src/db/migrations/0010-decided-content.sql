-- Version 10: what is decided.
--
-- 1. On `pauses`: the context a reviewer approved when they edited it (the agent's
--    `context` is kept as sent), a response schema (a form) and the reviewer's
--    response to it.
-- 2. `rules`: standing approvals. A new pause of the key whose action matches an
--    active rule is approved at creation.
--
-- Columns are added with ADD COLUMN, as in version 8.

ALTER TABLE pauses ADD COLUMN approved_context TEXT;
ALTER TABLE pauses ADD COLUMN response_schema TEXT;
ALTER TABLE pauses ADD COLUMN response TEXT;

CREATE TABLE rules (
    id           INTEGER PRIMARY KEY,
    key_id       TEXT    NOT NULL REFERENCES api_keys (id),
    action       TEXT    NOT NULL,                -- the exact action text, or a glob
    is_glob      INTEGER NOT NULL DEFAULT 0,
    created_by   TEXT    NOT NULL,                -- the approving reviewer's email
    created_at   INTEGER NOT NULL,
    watch_id     TEXT,                            -- the pause whose approval made it
    expires_at   INTEGER,                         -- NULL: until revoked
    max_uses     INTEGER CHECK (max_uses IS NULL OR max_uses >= 1),
    uses         INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    revoked_by   TEXT,
    context_sha256 TEXT,                          -- an exact rule: the context it allows
    risk         TEXT    CHECK (risk IN ('low', 'medium', 'high', 'critical'))
                                                  -- the highest risk it allows (NULL: unrated)
);
CREATE INDEX rules_active ON rules (key_id) WHERE revoked_at IS NULL;
