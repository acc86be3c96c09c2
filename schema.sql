-- hitl: the whole current schema, for a fresh database.
-- Upgrades of older databases are numbered steps in src/db/migrations (listed in
-- MIGRATIONS in src/db/mod.rs); after them an upgraded database must equal one created
-- from this file. Before changing it, copy it to tests/fixtures/schema-vN.sql (N = the
-- current version): the migration test upgrades every such snapshot.
-- Times are INTEGER milliseconds since the Unix epoch, UTC.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,          -- case-folded
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'approver')),
    password_hash TEXT    NOT NULL,                 -- pbkdf2-sha256$iterations$salt$hash
    notify_email  INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
, away_until INTEGER, delegate_id INTEGER REFERENCES users (id) ON DELETE SET NULL, telegram_chat TEXT, ntfy_url TEXT, notify_off TEXT NOT NULL DEFAULT '');
-- (away_until and delegate_id, version 9: while away, the delegate gets their pauses.)
-- (telegram_chat, ntfy_url and notify_off, version 11: where else a reviewer is told
-- of pauses; notify_off lists the channels they turned off, comma-separated. Mail is
-- notify_email.)

CREATE TABLE api_keys (
    id             TEXT    PRIMARY KEY,             -- key_...
    name           TEXT    NOT NULL,
    prefix         TEXT    NOT NULL,                -- the visible start of the key
    key_hash       BLOB    NOT NULL,                -- SHA-256 of the whole key
    kind           TEXT    NOT NULL CHECK (kind IN ('agent', 'reviewer')),
    user_id        INTEGER REFERENCES users (id) ON DELETE SET NULL, -- a reviewer key's user
    webhook_url    TEXT,
    webhook_secret TEXT    NOT NULL,                -- whsec_..., signs webhooks
    monthly_limit  INTEGER,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    revoked_at     INTEGER
, owner_email TEXT);
-- (owner_email, version 8: the person who runs an agent key, who may never decide its
-- pauses. Added columns are written as SQLite writes an ADD COLUMN, at the end.)
CREATE INDEX api_keys_prefix ON api_keys (prefix);
CREATE INDEX api_keys_user ON api_keys (user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE pauses (
    id          INTEGER PRIMARY KEY,                -- insertion order: the list order
    watch_id    TEXT    NOT NULL UNIQUE,
    key_id      TEXT    NOT NULL REFERENCES api_keys (id),
    kind        TEXT    NOT NULL DEFAULT 'decision' CHECK (kind IN ('decision', 'question')),
    status      TEXT    NOT NULL CHECK (status = 'pending' OR status = 'approved' OR status = 'rejected' OR status = 'answered' OR status = 'expired' OR status = 'cancelled'),
    action      TEXT    NOT NULL,                   -- a question's text, for a question
    options     TEXT,                               -- JSON array: a question's choices, if any
    context     TEXT,                               -- JSON
    tags        TEXT    NOT NULL DEFAULT '[]',       -- JSON array, as given
    risk        TEXT    CHECK (risk = 'low' OR risk = 'medium' OR risk = 'high' OR risk = 'critical'), -- the agent's rating
    summary     TEXT,                               -- what happens if approved, as the agent says
    webhook_url TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    on_timeout  TEXT    NOT NULL DEFAULT 'expire' CHECK (on_timeout = 'expire' OR on_timeout = 'reject' OR on_timeout = 'approve'),
    resolved_at INTEGER,
    resolved_by TEXT,
    comment     TEXT,
    answer      TEXT                                -- a question's answer, once answered
, required_approvals INTEGER NOT NULL DEFAULT 1 CHECK (required_approvals BETWEEN 1 AND 10), policy TEXT, reviewers TEXT, remind_every INTEGER, remind_at INTEGER, escalate_at INTEGER, escalate_to TEXT, approved_context TEXT, response_schema TEXT, response TEXT, purged_at INTEGER, purged_digests TEXT);
-- (required_approvals, version 8: distinct approvals that approve the pause. Version 9,
-- copied from the routing policy that matched, if one did: its name; reviewers, a JSON
-- array of group names (NULL: any approver); remind_every in milliseconds and the next
-- reminder's time; when escalate_to joins the reviewers. Version 10: approved_context, the
-- context as a reviewer edited and approved it (JSON; NULL: not edited); response_schema,
-- a JSON Schema the reviewer's response must meet, and response, that response.
-- Version 13: purged_at, when retention removed its content (context, approved context,
-- summary, answer, response); purged_digests, JSON of the SHA-256 digests its receipt
-- signs, kept so that receipts still verify. Version 15: status, risk and on_timeout
-- list their values with OR: SQLite checks an IN list of more than two values through a
-- temporary table built in every INSERT.)
CREATE INDEX pauses_key ON pauses (key_id, id);
-- (Version 17: a key's pauses in one status, as an agent lists its pending ones.)
CREATE INDEX pauses_key_status ON pauses (key_id, status, id);
CREATE INDEX pauses_status ON pauses (status, id, reviewers);
-- (reviewers, version 14: the pending count every page shows reads only this index.)

-- Version 14: searching pauses by action. A trigram index finds a piece of text
-- anywhere in an action; `hitl serve` fills it in batches after the fact, up to
-- meta.search_indexed, so creating a pause never waits for it (src/db/search.rs).
CREATE VIRTUAL TABLE pause_search USING fts5 (
    action, content = 'pauses', content_rowid = 'id', tokenize = 'trigram', detail = 'none',
    columnsize = 0
);
-- (Version 16: the index merges its segments only when the indexer asks, a few pages at
-- a time, and eight at once; FTS5's own merging, inside whichever write flushed the
-- index, held the writer for tens of milliseconds.)
INSERT INTO pause_search (pause_search, rank) VALUES ('automerge', 0);
INSERT INTO pause_search (pause_search, rank) VALUES ('usermerge', 8);
CREATE INDEX pauses_pending_expiry ON pauses (expires_at)
    WHERE status = 'pending' AND expires_at IS NOT NULL;
CREATE INDEX pauses_pending_reminders ON pauses (remind_at)
    WHERE status = 'pending' AND remind_at IS NOT NULL;
CREATE INDEX pauses_pending_escalations ON pauses (escalate_at)
    WHERE status = 'pending' AND escalate_at IS NOT NULL;
CREATE INDEX pauses_unpurged ON pauses (resolved_at)
    WHERE purged_at IS NULL AND resolved_at IS NOT NULL;

-- Approvals given to a pause that needs more than one; one per person.
CREATE TABLE pause_votes (
    pause_id INTEGER NOT NULL REFERENCES pauses (id),
    voter    TEXT    NOT NULL,                     -- the reviewer's email
    at       INTEGER NOT NULL,
    comment  TEXT,
    PRIMARY KEY (pause_id, voter)
) WITHOUT ROWID;

CREATE TABLE pause_tags (
    tag      TEXT    NOT NULL,
    status   TEXT    NOT NULL,                     -- the pause's, kept by pause_tags_status
    pause_id INTEGER NOT NULL REFERENCES pauses (id),
    PRIMARY KEY (tag, status, pause_id)
) WITHOUT ROWID;
-- (status, version 19: a tag and a status listed together read only the pauses shown.
-- Keyed by the tag alone, a status that none of the tag's pauses has walked them all;
-- the tag alone is now one walk per status, merged by id: src/db/pauses.rs.)
CREATE TRIGGER pause_tags_status AFTER UPDATE OF status ON pauses
WHEN NEW.status IS NOT OLD.status
BEGIN
    UPDATE pause_tags SET status = NEW.status
    WHERE tag IN (SELECT value FROM json_each(NEW.tags))
      AND status = OLD.status AND pause_id = NEW.id;
END;

-- Idempotency-Key: one row per (API key, header value), kept 24 hours.
CREATE TABLE idempotency (
    key_id       TEXT    NOT NULL,
    idem_key     TEXT    NOT NULL,
    request_hash BLOB    NOT NULL,
    pause_id     INTEGER NOT NULL REFERENCES pauses (id),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (key_id, idem_key)
) WITHOUT ROWID;
-- HumanLayer call ids (`hl:fn:…`, `hl:hc:…`), looked up across keys by a reviewer's
-- respond; kept forever, unlike other Idempotency-Keys.
CREATE INDEX idempotency_humanlayer ON idempotency (idem_key) WHERE idem_key LIKE 'hl:%';
-- (Version 17: the keys the hourly prune may forget, oldest first.)
CREATE INDEX idempotency_expiring ON idempotency (created_at) WHERE substr(idem_key, 1, 3) <> 'hl:';

-- Pauses created per key per calendar month (UTC), for --monthly-limit.
CREATE TABLE key_usage (
    key_id TEXT    NOT NULL REFERENCES api_keys (id),
    month  TEXT    NOT NULL,                        -- YYYY-MM
    count  INTEGER NOT NULL,
    PRIMARY KEY (key_id, month)
) WITHOUT ROWID;

-- Small counters. auth_generation changes whenever a key or a user changes, by any
-- process: the server trusts a cached authentication only while it stays the same.
CREATE TABLE meta (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (name, value) VALUES ('auth_generation', 0);
-- (search_indexed, version 14: the largest pause id in pause_search.)
INSERT INTO meta (name, value) VALUES ('search_indexed', 0);
CREATE TRIGGER api_keys_changed AFTER UPDATE OF name, prefix, key_hash, kind, user_id, monthly_limit, revoked_at ON api_keys
BEGIN
    UPDATE meta SET value = value + 1 WHERE name = 'auth_generation';
END;
CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys
BEGIN
    UPDATE meta SET value = value + 1 WHERE name = 'auth_generation';
END;
CREATE TRIGGER users_changed AFTER UPDATE OF email, role ON users
BEGIN
    UPDATE meta SET value = value + 1 WHERE name = 'auth_generation';
END;
CREATE TRIGGER users_deleted AFTER DELETE ON users
BEGIN
    UPDATE meta SET value = value + 1 WHERE name = 'auth_generation';
END;

-- Append-only: every state change and every key or user change, written in the same
-- transaction as the change itself.
CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,                      -- key:ID, user:EMAIL, cli, system
    event    TEXT    NOT NULL,
    watch_id TEXT,
    details  TEXT    NOT NULL DEFAULT '{}'           -- JSON
, hash BLOB);
-- (hash, version 12: SHA-256 of the previous entry's hash (32 zero bytes for the first)
-- and this entry's canonical content: see src/db/audit.rs. `hitl audit verify` walks it.)
CREATE INDEX audit_watch ON audit (watch_id) WHERE watch_id IS NOT NULL;
CREATE INDEX audit_event ON audit (event, id);
-- (audit_actor_event, version 18, in place of audit_actor (actor, id): the actor and
-- the event filtered together without walking the actor's every entry for the event;
-- the actor alone is one walk per event of the actor, merged by id.)
CREATE INDEX audit_actor_event ON audit (actor, event, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Signed-in browsers. The cookie holds a random 256-bit id; only its hash is kept.
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

-- One-time links with which a person sets their own password: an invitation (the
-- user exists with no password until then) or a reset.
CREATE TABLE account_links (
    token_hash BLOB    PRIMARY KEY,                -- SHA-256 of the token in the link
    purpose    TEXT    NOT NULL CHECK (purpose IN ('invite', 'reset')),
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX account_links_user ON account_links (user_id);

-- What `hitl serve` was started with that the command line must agree with: the
-- webhook address policy, the public URL, whether mail is on.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL                            -- JSON
) WITHOUT ROWID;

-- Everything that leaves the process (webhooks, mail, chat, push) is first a row here,
-- written in the same transaction as the change that caused it.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind = 'webhook' OR kind = 'email' OR kind = 'slack' OR kind = 'telegram' OR kind = 'ntfy' OR kind = 'push' OR kind = 'teams' OR kind = 'discord'),
    watch_id        TEXT    NOT NULL,              -- the pause, or 'test' for a test webhook
    event_id        TEXT    NOT NULL,              -- webhook-id: the same on every retry
    target          TEXT    NOT NULL,              -- webhook URL, mail address, or what the kind names
    key_id          TEXT,                          -- the key whose secret signs a webhook
    user_id         INTEGER,                       -- the reviewer a message goes to
    payload         TEXT    NOT NULL,              -- JSON: a webhook's body, or what to say
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state = 'pending' OR state = 'delivered' OR state = 'failed' OR state = 'gone' OR state = 'skipped'),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,                       -- claimed by a worker until then
    created_at      INTEGER NOT NULL
);
-- (kind and state, version 15: values listed with OR, as in pauses.)
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_watch ON outbox (watch_id);
-- (Version 17: the rows given up on, which /metrics counts at every scrape.)
CREATE INDEX outbox_failed ON outbox (kind) WHERE state = 'failed';

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

-- Named sets of users; routing policies send pauses to them.
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

-- Routing policies, tried by position (lowest first): the first whose conditions all
-- hold routes a new pause.
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

-- Standing approvals: a new pause of the key whose action matches an active rule is
-- approved at creation.
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
