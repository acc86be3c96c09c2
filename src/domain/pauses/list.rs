//! Reading pauses in pages: the API's list, the history page and the queue.

use super::{pending_count, Cursor, ListQuery, Pause, Principal, Result, Seat};
use crate::db;
use crate::model::Error;
use crate::secret;

pub struct Page {
    /// Newest first.
    pub items: Vec<Pause>,
    /// The next page of older pauses.
    pub next_cursor: Option<String>,
    /// The page of newer pauses before this one.
    pub prev_cursor: Option<String>,
}

pub fn encode_cursor(cursor: Cursor) -> String {
    let text = match cursor {
        Cursor::Before(id) => format!("p{id}"),
        Cursor::After(id) => format!("n{id}"),
    };
    secret::b64url(text.as_bytes())
}

pub fn decode_cursor(cursor: &str) -> Result<Cursor> {
    let text = secret::b64url_decode(cursor).and_then(|b| String::from_utf8(b).ok());
    let parsed = text.as_deref().and_then(|t| {
        let (kind, id) = t.split_at_checked(1)?;
        let id: i64 = id.parse().ok()?;
        match kind {
            "p" => Some(Cursor::Before(id)),
            "n" => Some(Cursor::After(id)),
            _ => None,
        }
    });
    parsed.ok_or_else(|| {
        Error::validation("cursor is not valid; pass the nextCursor of a previous page")
    })
}

/// Newest first, `limit` at a time; cursors stay valid as new pauses arrive.
pub fn list(conn: &rusqlite::Connection, principal: &Principal, q: &ListQuery) -> Result<Page> {
    // Creation times rise with ids, so a date range is an id range: two index probes
    // instead of a sort.
    let min_id = match q.created_from {
        Some(from) => match db::pauses::first_id_created_from(conn, from)? {
            Some(id) => Some(id),
            None => {
                return Ok(Page {
                    items: Vec::new(),
                    next_cursor: None,
                    prev_cursor: None,
                })
            }
        },
        None => None,
    };
    let end_id = match q.created_before {
        Some(before) => db::pauses::first_id_created_from(conn, before)?,
        None => None,
    };
    let bounds = db::pauses::Bounds {
        scope: principal.scope(),
        min_id,
        end_id,
    };
    let limit = q.limit as usize;
    // One query per status, each walking its own (status, id) index in order, merged
    // here: SQLite would otherwise collect every match of `status IN (...)` and sort.
    let mut items = Vec::new();
    if q.statuses.is_empty() {
        items = db::pauses::list(conn, &bounds, q, None, q.limit + 1)?;
    } else {
        for status in &q.statuses {
            items.extend(db::pauses::list(
                conn,
                &bounds,
                q,
                Some(*status),
                q.limit + 1,
            )?);
        }
        items = db::pauses::merged(items, q.cursor, q.limit + 1);
    }
    let (has_older, has_newer) = match q.cursor {
        Some(Cursor::After(_)) => {
            let more = items.len() > limit;
            items.truncate(limit);
            items.reverse();
            (true, more)
        }
        before => {
            let more = items.len() > limit;
            items.truncate(limit);
            (more, before.is_some())
        }
    };
    let next_cursor = has_older
        .then(|| items.last().map(|p| encode_cursor(Cursor::Before(p.id))))
        .flatten();
    let prev_cursor = has_newer
        .then(|| items.first().map(|p| encode_cursor(Cursor::After(p.id))))
        .flatten();
    Ok(Page {
        items,
        next_cursor,
        prev_cursor,
    })
}

/// A reviewer's queue: the pending pauses that are theirs to decide (not routed, or
/// routed to them), oldest waiting first, and how many there are in all.
pub fn queue(conn: &rusqlite::Connection, limit: u32, who: Seat) -> Result<(Vec<Pause>, i64)> {
    Ok((
        db::pauses::pending_oldest_first(conn, limit, who.user_id, who.now)?,
        pending_count(conn, who)?,
    ))
}

/// The pending pauses beside one in the queue's order: the next and the previous
/// (wrapping around the ends), and how many others are pending.
pub struct Beside {
    pub next: Option<String>,
    pub prev: Option<String>,
    pub others: i64,
}

/// The pending pauses beside the pause `p` (pending or not) in the reviewer's queue.
pub fn pending_beside(conn: &rusqlite::Connection, p: &Pause, who: Seat) -> Result<Beside> {
    let id = p.id;
    let beside = |from: i64, later: bool| {
        db::pauses::pending_beside(conn, from, later, who.user_id, who.now)
    };
    // Past the end, go round: the first pending after the start, the last before the end.
    let next = match beside(id, true)? {
        Some(next) => Some(next),
        None => beside(0, true)?,
    };
    let prev = match beside(id, false)? {
        Some(prev) => Some(prev),
        None => beside(i64::MAX, false)?,
    };
    let in_queue = p.status == crate::model::Status::Pending && super::may_decide(conn, who, p)?;
    let others = pending_count(conn, who)? - i64::from(in_queue);
    let own = |w: Option<String>| w.filter(|_| others > 0);
    Ok(Beside {
        next: own(next),
        prev: own(prev),
        others,
    })
}
