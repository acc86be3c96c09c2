-- Version 3: the notifier's durable outbox, its delivery attempts, used mail links,
-- and the server's own secrets.

-- Everything that leaves the process (webhooks, mail, Slack) is first a row here,
-- written in the same transaction as the change that caused it.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('webhook', 'email', 'slack')),
    watch_id        TEXT    NOT NULL,              -- the pause, or 'test' for a test webhook
    event_id        TEXT    NOT NULL,              -- webhook-id: the same on every retry
    target          TEXT    NOT NULL,              -- webhook URL, mail address, or 'slack'
    key_id          TEXT,                          -- the key whose secret signs a webhook
    user_id         INTEGER,                       -- the reviewer a mail goes to
    payload         TEXT    NOT NULL,              -- JSON: a webhook's body, or what to say
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed', 'gone', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,                       -- claimed by a worker until then
    created_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_watch ON outbox (watch_id);

CREATE TABLE delivery_attempts (
    id          INTEGER PRIMARY KEY,
    outbox_id   INTEGER NOT NULL REFERENCES outbox (id),
    at          INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    http_status INTEGER,
    error       TEXT,
    ok          INTEGER NOT NULL
);
CREATE INDEX delivery_attempts_outbox ON delivery_attempts (outbox_id, id);

-- Approve and Reject links in mail work once: the hash of each used token.
CREATE TABLE used_links (
    token_hash BLOB    PRIMARY KEY,
    used_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- Secrets of the server itself (the key that signs mail links).
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
