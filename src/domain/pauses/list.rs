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
    /// A text too short for the search index was looked for in [`SHORT_TEXT_WINDOW`]
    /// pauses only, and there are more past them: the cursor that leads on searches the
    /// next ones.
    pub window_cut: bool,
}

impl Page {
    fn empty() -> Page {
        Page {
            items: Vec::new(),
            next_cursor: None,
            prev_cursor: None,
            window_cut: false,
        }
    }
}

/// How many pauses a page searches for a text of one or two characters, which the
/// trigram index cannot look up: read from the pauses themselves, a rare one would
/// otherwise read every pause ever made (311 ms at p99 for a million; 21 ms now).
#[cfg(not(test))]
pub const SHORT_TEXT_WINDOW: i64 = 50_000;
#[cfg(test)]
pub const SHORT_TEXT_WINDOW: i64 = 10;

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
            None => return Ok(Page::empty()),
        },
        None => None,
    };
    let end_id = match q.created_before {
        Some(before) => db::pauses::first_id_created_from(conn, before)?,
        None => None,
    };
    // A short text: the ids from the cursor on, SHORT_TEXT_WINDOW of them, and where
    // the window ends if pauses go on past it (the next cursor starts there).
    let mut cut = None;
    let windowed = q.text.as_deref().is_some_and(|t| !db::search::indexable(t));
    let (min_id, end_id) = if windowed {
        let Some(last) = db::pauses::last_id(conn)? else {
            return Ok(Page::empty());
        };
        let end = end_id.map_or(last + 1, |e| e.min(last + 1));
        if let Some(Cursor::After(after)) = q.cursor {
            let edge = after + 1 + SHORT_TEXT_WINDOW;
            cut = (edge < end).then_some(edge);
            (min_id, Some(edge.min(end)))
        } else {
            let top = match q.cursor {
                Some(Cursor::Before(before)) => before.min(end),
                _ => end,
            };
            let edge = top - SHORT_TEXT_WINDOW;
            cut = (edge > min_id.unwrap_or(1)).then_some(edge);
            (Some(min_id.map_or(edge, |m| m.max(edge))), end_id)
        }
    } else {
        (min_id, end_id)
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
    let more = items.len() > limit;
    items.truncate(limit);
    if let Some(Cursor::After(_)) = q.cursor {
        items.reverse();
    }
    let oldest = items.last().map(|p| Cursor::Before(p.id));
    let newest = items.first().map(|p| Cursor::After(p.id));
    // The cursors lead on from the page's ends. A short text's page stops at the
    // window's edge (`cut`) and may hold none: its cursors then lead on from the edges.
    let (next, prev) = match q.cursor {
        Some(Cursor::After(after)) => (
            oldest.or(windowed.then_some(Cursor::Before(after + 1))),
            if more {
                newest
            } else {
                cut.map(|edge| Cursor::After(edge - 1))
            },
        ),
        Some(Cursor::Before(before)) => (
            if more {
                oldest
            } else {
                cut.map(Cursor::Before)
            },
            newest.or(windowed.then_some(Cursor::After(before - 1))),
        ),
        None => (
            if more {
                oldest
            } else {
                cut.map(Cursor::Before)
            },
            None,
        ),
    };
    Ok(Page {
        items,
        next_cursor: next.map(encode_cursor),
        prev_cursor: prev.map(encode_cursor),
        window_cut: cut.is_some(),
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
