-- Version 14: the pending count every page shows (the pauses a reviewer may decide)
-- reads only this index: it holds each pause's reviewers beside its status.

DROP INDEX pauses_status;
CREATE INDEX pauses_status ON pauses (status, id, reviewers);
