-- Version 17: the outbox's backlog, which /metrics reports at every scrape, is read from
-- an index of the rows still pending or given up on, not from a scan of every row ever
-- sent (a scrape read the whole table, payloads and all, and took longer with each
-- webhook sent).
CREATE INDEX outbox_backlog ON outbox (kind, state) WHERE state = 'pending' OR state = 'failed';
