-- Version 9: who decides.
--
-- 1. `policies`: routing rules, tried by `position` (lowest first); the first whose
--    conditions all hold routes a new pause to its reviewer groups.
-- 2. On `pauses`, what the matching policy decided, copied at creation so that a later
--    change of the policy never changes a pause under review: the policy's name, the
--    reviewer groups (NULL: any approver), and the reminder and escalation timers.
-- 3. On `users`: away until a time, with a delegate who gets their pauses meanwhile.
--
-- Columns are added with ADD COLUMN, as in version 8.

CREATE TABLE policies (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    position       INTEGER NOT NULL,                -- the order policies are tried in
    tags           TEXT    NOT NULL DEFAULT '[]',   -- JSON array: the pause has one of them
    key_name       TEXT,                            -- the asking key's name
    action_glob    TEXT,                            -- a glob over the action text
    min_risk       TEXT    CHECK (min_risk IN ('low', 'medium', 'high', 'critical')),
    reviewers      TEXT    NOT NULL,                -- JSON array of group names
    approvals      INTEGER NOT NULL DEFAULT 1 CHECK (approvals BETWEEN 1 AND 10),
    remind_every   INTEGER,                         -- milliseconds
    escalate_after INTEGER,                         -- milliseconds
    escalate_to    TEXT,                            -- a group name
    on_timeout     TEXT    CHECK (on_timeout IN ('expire', 'reject', 'approve')),
    created_at     INTEGER NOT NULL
);

ALTER TABLE pauses ADD COLUMN policy TEXT;
ALTER TABLE pauses ADD COLUMN reviewers TEXT;
ALTER TABLE pauses ADD COLUMN remind_every INTEGER;
ALTER TABLE pauses ADD COLUMN remind_at INTEGER;
ALTER TABLE pauses ADD COLUMN escalate_at INTEGER;
ALTER TABLE pauses ADD COLUMN escalate_to TEXT;
CREATE INDEX pauses_pending_reminders ON pauses (remind_at)
    WHERE status = 'pending' AND remind_at IS NOT NULL;
CREATE INDEX pauses_pending_escalations ON pauses (escalate_at)
    WHERE status = 'pending' AND escalate_at IS NOT NULL;

ALTER TABLE users ADD COLUMN away_until INTEGER;
ALTER TABLE users ADD COLUMN delegate_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
