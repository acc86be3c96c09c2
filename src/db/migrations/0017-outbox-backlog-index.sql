-- Version 17: the outbox rows given up on have an index of their own, so that the
-- backlog /metrics reports at every scrape (src/db/stats.rs) reads the pending rows
-- through outbox_due and the failed ones through this, never every row ever sent (a
-- scrape read the whole table, payloads and all, and took longer with each webhook).
CREATE INDEX outbox_failed ON outbox (kind) WHERE state = 'failed';
