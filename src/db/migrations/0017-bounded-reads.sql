-- Version 17: three indexes, so that no query run on every request or timer reads
-- rows in proportion to all the rows ever stored.
--
-- The outbox rows given up on have an index of their own, so that the backlog /metrics
-- reports at every scrape (src/db/stats.rs) reads the pending rows through outbox_due
-- and the failed ones through this, never every row ever sent (a scrape read the whole
-- table, payloads and all, and took longer with each webhook).
CREATE INDEX outbox_failed ON outbox (kind) WHERE state = 'failed';
-- A key's pauses in one status, newest first: an agent listing its pending pauses
-- walked its key's whole history through pauses_key when it had few of them.
CREATE INDEX pauses_key_status ON pauses (key_id, status, id);
-- The hourly prune of Idempotency-Keys (all but the HumanLayer call ids, kept for
-- good) read every row, inside the writer.
CREATE INDEX idempotency_expiring ON idempotency (created_at) WHERE substr(idem_key, 1, 3) <> 'hl:';
