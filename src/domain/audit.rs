//! The audit log: append-only, written in the same transaction as the change it
//! records; read by the audit page and its CSV export.

use super::{Actor, Error, Result};
use crate::clock::Millis;
use crate::db::{self, Tx};
pub use crate::model::audit::{Entry, Filter};
use crate::secret;

/// Appends one entry, in the caller's transaction; `details` is kept as JSON.
pub fn record(
    tx: &Tx,
    now: Millis,
    actor: &Actor,
    event: &str,
    watch_id: Option<&str>,
    details: impl serde::Serialize,
) -> Result<()> {
    let details = serde_json::to_string(&details).map_err(Error::internal)?;
    db::audit::append(tx, now, &actor.label(), event, watch_id, &details)
}

pub struct Page {
    pub items: Vec<Entry>,
    pub next_cursor: Option<String>,
    pub prev_cursor: Option<String>,
}

fn encode(prefix: char, id: i64) -> String {
    secret::b64url(format!("{prefix}{id}").as_bytes())
}

/// `(before, after)`: a page older than, or newer than, an entry.
pub fn decode_cursor(cursor: &str) -> Result<(Option<i64>, Option<i64>)> {
    let text = secret::b64url_decode(cursor).and_then(|b| String::from_utf8(b).ok());
    match text.as_deref().and_then(|t| t.split_at_checked(1)) {
        Some(("o", id)) => id.parse().map(|id| (Some(id), None)).ok(),
        Some(("n", id)) => id.parse().map(|id| (None, Some(id))).ok(),
        _ => None,
    }
    .ok_or_else(|| Error::validation("the page link is not valid"))
}

/// Time bounds turned into id bounds (ids rise with time in an append-only log).
fn id_bounds(
    conn: &rusqlite::Connection,
    f: &Filter,
) -> Result<Option<(Option<i64>, Option<i64>)>> {
    let min = match f.from {
        Some(from) => match db::audit::first_id_at_or_after(conn, from)? {
            Some(id) => Some(id),
            None => return Ok(None),
        },
        None => None,
    };
    let end = match f.before {
        Some(before) => db::audit::first_id_at_or_after(conn, before)?,
        None => None,
    };
    Ok(Some((min, end)))
}

/// Newest first, a page at a time.
pub fn list(
    conn: &rusqlite::Connection,
    f: &Filter,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page> {
    let Some((min_id, end_id)) = id_bounds(conn, f)? else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
            prev_cursor: None,
        });
    };
    let (before, after) = match cursor {
        Some(c) => decode_cursor(c)?,
        None => (None, None),
    };
    let q = db::audit::Query {
        filter: f,
        min_id,
        end_id,
        before,
        after,
    };
    let mut items = db::audit::list(conn, &q, limit + 1)?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let (has_older, has_newer) = if after.is_some() {
        items.reverse();
        (true, more)
    } else {
        (more, before.is_some())
    };
    Ok(Page {
        next_cursor: has_older
            .then(|| items.last().map(|e| encode('o', e.id)))
            .flatten(),
        prev_cursor: has_newer
            .then(|| items.first().map(|e| encode('n', e.id)))
            .flatten(),
        items,
    })
}

/// Every matching entry, newest first, handed to `each` one at a time (the CSV export).
pub fn for_each(
    conn: &rusqlite::Connection,
    f: &Filter,
    each: impl FnMut(Entry) -> Result<()>,
) -> Result<()> {
    let Some((min_id, end_id)) = id_bounds(conn, f)? else {
        return Ok(());
    };
    let q = db::audit::Query {
        filter: f,
        min_id,
        end_id,
        before: None,
        after: None,
    };
    db::audit::for_each(conn, &q, each)
}

/// The history of one pause, oldest first.
pub fn for_pause(conn: &rusqlite::Connection, watch_id: &str) -> Result<Vec<Entry>> {
    db::audit::for_watch_id(conn, watch_id)
}

/// The distinct event names, for the filter's choices.
pub fn event_names(conn: &rusqlite::Connection) -> Result<Vec<String>> {
    db::audit::event_names(conn)
}
