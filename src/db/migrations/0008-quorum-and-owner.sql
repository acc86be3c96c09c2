-- Version 8: separation of duties, quorum and groups.
--
-- 1. `api_keys.owner_email`: the person who runs an agent key; they may never decide
--    that key's pauses.
-- 2. `pauses.required_approvals`: how many distinct approvals approve the pause (1
--    to 10); `pause_votes` holds the approvals given so far, one per person.
-- 3. `groups` and `group_members`: named sets of users (routing comes later).
--
-- Columns are added with ADD COLUMN: SQLite appends them to the table's text, and
-- schema.sql spells them the same way, so an upgraded database equals a fresh one.

ALTER TABLE api_keys ADD COLUMN owner_email TEXT;
ALTER TABLE pauses ADD COLUMN required_approvals INTEGER NOT NULL DEFAULT 1 CHECK (required_approvals BETWEEN 1 AND 10);

CREATE TABLE pause_votes (
    pause_id INTEGER NOT NULL REFERENCES pauses (id),
    voter    TEXT    NOT NULL,                     -- the reviewer's email
    at       INTEGER NOT NULL,
    comment  TEXT,
    PRIMARY KEY (pause_id, voter)
) WITHOUT ROWID;

CREATE TABLE groups (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_user ON group_members (user_id);
