//! The index behind searching pauses by their action (the history page's search): an
//! FTS5 trigram index of every pause's action, `pause_search`, which finds a piece of
//! text anywhere in an action without reading every pause. It is filled after the fact,
//! in batches, by `hitl serve`'s indexer (`crate::indexer`), so that creating a pause
//! never waits for it; `meta.search_indexed` is the largest pause id it holds. A search
//! reads the index up to there and scans the few pauses after it. Actions never change
//! and pauses are never deleted, so a pause once indexed stays right. Each batch is
//! written as a segment of its own, and the indexer merges a few pages of segments in
//! each of its writes.

use rusqlite::{params, Connection};

use crate::model::Result;

/// The largest pause id the index holds (every smaller one is in it too).
pub fn indexed_up_to(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE name = 'search_indexed'")?
        .query_row([], |r| r.get(0))?)
}

/// Adds the next `batch` pauses (by id) to the index; returns how many it added.
pub fn index_next(conn: &Connection, batch: u32) -> Result<usize> {
    let from = indexed_up_to(conn)?;
    let upto: Option<i64> = conn
        .prepare_cached(
            "SELECT max(id) FROM (SELECT id FROM pauses WHERE id > ?1 ORDER BY id LIMIT ?2)",
        )?
        .query_row(params![from, batch], |r| r.get(0))?;
    let Some(upto) = upto else {
        return Ok(0);
    };
    let added = conn
        .prepare_cached(
            "INSERT INTO pause_search (rowid, action)
             SELECT id, action FROM pauses WHERE id > ?1 AND id <= ?2",
        )?
        .execute(params![from, upto])?;
    conn.prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'search_indexed'")?
        .execute([upto])?;
    // Each batch adds a segment to the index; merging them keeps searches reading few.
    conn.prepare_cached("INSERT INTO pause_search (pause_search, rank) VALUES ('merge', ?1)")?
        .execute([MERGE_PAGES])?;
    Ok(added)
}

/// Pages of merged index written after each batch, at most (FTS5's `merge` command,
/// which merges a level once it holds `usermerge` segments: 8 here): enough to keep up
/// with the segments batches of 250 add. Measured on 300,000 actions (in memory): a
/// batch with its merge takes 2.7 ms at p99 and 3.5 ms at most (5.1 and 5.8 where
/// every action is the same), and the indexing as a whole 10% less time than with
/// FTS5's own merging (2.5% less where every action is the same). The index never
/// merges on its own (`automerge` is 0, schema version 16): that ran inside whichever
/// write flushed the index, for 30 ms at p99 and up to 46 ms.
const MERGE_PAGES: i64 = 8;

/// Whether the index can find `text`: a trigram index needs at least three characters.
pub fn indexable(text: &str) -> bool {
    text.chars().count() >= 3
}

/// The condition on the index (`s`) that finds every pause whose action holds
/// `text`, maybe with a few more (the scan's exact test follows it), and its value.
/// The index's LIKE would take LIKE's own wildcards in `text` as wildcards, and it
/// takes no ESCAPE; for such a text the index is asked for every trigram of it
/// instead. (It keeps no positions, `detail=none`, so it cannot match a phrase.)
pub fn index_test(text: &str) -> (&'static str, String) {
    if !text.contains(['%', '_', '\\']) {
        return ("s.action LIKE ?", format!("%{text}%"));
    }
    let chars: Vec<char> = text.chars().collect();
    let trigrams: Vec<String> = chars
        .windows(3)
        .map(|t| format!("\"{}\"", String::from_iter(t).replace('"', "\"\"")))
        .collect();
    ("s.pause_search MATCH ?", trigrams.join(" AND "))
}
