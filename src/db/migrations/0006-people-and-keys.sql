-- Version 6: people and keys.
--
-- 1. Active key names are unique, so that `hitl key revoke NAME` means one key. A
--    database may already hold active keys with the same name: all but the oldest
--    (by creation time, then id) are renamed NAME-2, NAME-3, ... in that order. Should
--    such a name be taken by another active key, the renamed key becomes NAME-ID
--    instead (ids are unique). The audit log keeps the names keys had when created.
--    Revoked keys keep their names; a name is free again once its key is revoked.
-- 2. `settings`: what `hitl serve` was started with that the command line must agree
--    with (the webhook address policy, the public URL, whether mail is on).
-- 3. `account_links`: one-time links with which a person sets their own password
--    (an invitation, or a reset). Only the SHA-256 of the token is kept.

CREATE TEMP TABLE key_renames AS
    SELECT id, name AS old_name, name || '-' || n AS new_name
    FROM (SELECT id, name,
                 row_number() OVER (PARTITION BY name ORDER BY created_at, id) AS n
          FROM api_keys WHERE revoked_at IS NULL)
    WHERE n > 1;
UPDATE api_keys SET name = (SELECT new_name FROM key_renames WHERE key_renames.id = api_keys.id)
    WHERE id IN (SELECT id FROM key_renames);
-- A new name that an active key had already (bot-2 beside a key named bot-2): the
-- renamed key takes NAME-ID instead; the key that had the name keeps it.
UPDATE api_keys SET name = (SELECT old_name || '-' || api_keys.id FROM key_renames
                            WHERE key_renames.id = api_keys.id)
    WHERE id IN (SELECT id FROM key_renames)
      AND EXISTS (SELECT 1 FROM api_keys AS other
                  WHERE other.name = api_keys.name AND other.revoked_at IS NULL
                    AND other.id NOT IN (SELECT id FROM key_renames));
DROP TABLE key_renames;

CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL                            -- JSON
) WITHOUT ROWID;

CREATE TABLE account_links (
    token_hash BLOB    PRIMARY KEY,                -- SHA-256 of the token in the link
    purpose    TEXT    NOT NULL CHECK (purpose IN ('invite', 'reset')),
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX account_links_user ON account_links (user_id);

-- HumanLayer call ids (`hl:fn:…`, `hl:hc:…`), looked up across keys by a reviewer's
-- respond; kept forever, unlike other Idempotency-Keys.
CREATE INDEX idempotency_humanlayer ON idempotency (idem_key) WHERE idem_key LIKE 'hl:%';
