-- Version 16: the search index merges its segments only when the indexer asks, a few
-- pages at a time in each of its writes (src/db/search.rs), and eight segments at once
-- (FTS5's usermerge; 4 rewrote the same rows more often). FTS5's automatic merging ran
-- inside whichever write flushed the index and could hold the writer, and every write
-- queued behind it, for tens of milliseconds. The setting is kept in the index's own config.
INSERT INTO pause_search (pause_search, rank) VALUES ('automerge', 0);
INSERT INTO pause_search (pause_search, rank) VALUES ('usermerge', 8);
