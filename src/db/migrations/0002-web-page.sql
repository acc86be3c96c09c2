-- Version 2: sessions and first-run setup for the web page, and indexes for the
-- history and audit pages' filters.

CREATE TABLE sessions (
    id_hash      BLOB    PRIMARY KEY,              -- SHA-256 of the cookie value
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);

-- One-time links that create the first admin.
CREATE TABLE setup_tokens (
    token_hash BLOB    PRIMARY KEY,                -- SHA-256 of the token in the link
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;

CREATE INDEX audit_event ON audit (event, id);
CREATE INDEX audit_actor ON audit (actor, id);
