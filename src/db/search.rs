//! The index behind searching pauses by their action (the history page's search): an
//! FTS5 trigram index of every pause's action, `pause_search`, which finds a piece of
//! text anywhere in an action without reading every pause. It is filled after the fact,
//! in batches, by `hitl serve`'s indexer (`crate::indexer`), so that creating a pause
//! never waits for it; `meta.search_indexed` is the largest pause id it holds. A search
//! reads the index up to there and scans the few pauses after it. Actions never change
//! and pauses are never deleted, so a pause once indexed stays right.

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
    Ok(added)
}

/// Whether the index can find `text`: a trigram index needs at least three characters,
/// and LIKE's own wildcards and escape are left to the scan.
pub fn indexable(text: &str) -> bool {
    text.chars().count() >= 3 && !text.contains(['%', '_', '\\'])
}
