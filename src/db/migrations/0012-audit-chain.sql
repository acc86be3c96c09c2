-- Version 12: the audit log proves itself. Each entry carries the SHA-256 of the
-- previous entry's hash and its own canonical content; the existing entries are
-- chained by the upgrade (in Rust, after this step: `db::audit::chain_all`), which
-- lifts the append-only trigger for that and puts it back.

ALTER TABLE audit ADD COLUMN hash BLOB;
DROP TRIGGER audit_no_update;
