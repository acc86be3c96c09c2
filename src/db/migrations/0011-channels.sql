-- Version 11: more channels. The outbox carries Telegram, ntfy, Web Push, Teams and
-- Discord messages too (rebuilt: a CHECK cannot be altered, and the text must equal
-- schema.sql's); users say where else they are told of pauses; push subscriptions,
-- posted chat messages (to edit once decided) and Telegram linking codes.

PRAGMA legacy_alter_table=ON;

ALTER TABLE outbox RENAME TO outbox_v10;
DROP INDEX outbox_due;
DROP INDEX outbox_watch;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('webhook', 'email', 'slack', 'telegram',
                                                     'ntfy', 'push', 'teams', 'discord')),
    watch_id        TEXT    NOT NULL,              -- the pause, or 'test' for a test webhook
    event_id        TEXT    NOT NULL,              -- webhook-id: the same on every retry
    target          TEXT    NOT NULL,              -- webhook URL, mail address, or what the kind names
    key_id          TEXT,                          -- the key whose secret signs a webhook
    user_id         INTEGER,                       -- the reviewer a message goes to
    payload         TEXT    NOT NULL,              -- JSON: a webhook's body, or what to say
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed', 'gone', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,                       -- claimed by a worker until then
    created_at      INTEGER NOT NULL
);

INSERT INTO outbox (id, kind, watch_id, event_id, target, key_id, user_id, payload, state,
                    attempts, next_attempt_at, lease_until, created_at)
SELECT id, kind, watch_id, event_id, target, key_id, user_id, payload, state,
       attempts, next_attempt_at, lease_until, created_at
FROM outbox_v10;

DROP TABLE outbox_v10;

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_watch ON outbox (watch_id);

PRAGMA legacy_alter_table=OFF;

ALTER TABLE users ADD COLUMN telegram_chat TEXT;
ALTER TABLE users ADD COLUMN ntfy_url TEXT;
ALTER TABLE users ADD COLUMN notify_off TEXT NOT NULL DEFAULT '';

-- Web Push subscriptions of the installed page, one per browser (version 11).
CREATE TABLE push_subscriptions (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint   TEXT    NOT NULL UNIQUE,
    p256dh     TEXT    NOT NULL,                  -- base64url, the browser's public key
    auth       TEXT    NOT NULL,                  -- base64url, its auth secret
    created_at INTEGER NOT NULL
);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);

-- Chat messages hitl posted about a pause (Slack, Telegram), to edit once it is decided.
CREATE TABLE chat_messages (
    id         INTEGER PRIMARY KEY,
    watch_id   TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('slack', 'telegram')),
    chat       TEXT    NOT NULL,                  -- Slack channel id, Telegram chat id
    message    TEXT    NOT NULL,                  -- Slack ts, Telegram message_id
    user_id    INTEGER,                           -- the reviewer it went to, if one
    created_at INTEGER NOT NULL
);
CREATE INDEX chat_messages_watch ON chat_messages (watch_id);

-- One-time codes that link a Telegram chat to a user (the hash; 15 minutes).
CREATE TABLE telegram_codes (
    code_hash  BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
