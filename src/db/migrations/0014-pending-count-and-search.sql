-- Version 14: the pending count every page shows (the pauses a reviewer may decide)
-- reads only this index: it holds each pause's reviewers beside its status.

DROP INDEX pauses_status;
CREATE INDEX pauses_status ON pauses (status, id, reviewers);

-- Searching pauses by action: a trigram index finds a piece of text anywhere in an
-- action. `hitl serve` fills it in batches after the fact (up to meta.search_indexed),
-- so creating a pause never waits for it; existing pauses are indexed after the upgrade.
CREATE VIRTUAL TABLE pause_search USING fts5 (
    action, content = 'pauses', content_rowid = 'id', tokenize = 'trigram', detail = 'none',
    columnsize = 0
);
INSERT INTO meta (name, value) VALUES ('search_indexed', 0);
