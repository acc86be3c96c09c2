//! Who a routed pause belongs to: the members of its reviewer groups and, while a
//! member is away, that member's delegate (one step: a delegate who is away too does
//! not hand on what was handed to them).

use rusqlite::{params, Connection};

use crate::clock::Millis;
use crate::model::Result;

/// The condition "the pause `p` is not routed, or is routed to user `?me` at time
/// `?now`", for a query over `pauses p`, with the two parameters' numbers.
pub fn routed_to(me: usize, now: usize) -> String {
    format!(
        "(p.reviewers IS NULL OR EXISTS (
            SELECT 1 FROM json_each(p.reviewers) j
            JOIN groups g ON g.name = j.value
            JOIN group_members m ON m.group_id = g.id
            JOIN users u ON u.id = m.user_id
            WHERE u.id = ?{me} OR (u.delegate_id = ?{me} AND u.away_until > ?{now})))"
    )
}

/// Whether a pause routed to these groups is the user's to decide at `now`.
pub fn may_decide(conn: &Connection, groups: &[String], user_id: i64, now: Millis) -> Result<bool> {
    let groups = serde_json::to_string(groups).map_err(crate::model::Error::internal)?;
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM (SELECT ?1 AS reviewers) p WHERE {})",
        routed_to(2, 3)
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![groups, user_id, now], |r| r.get(0))?)
}

/// Who is told of a pause routed to these groups at `now`: each member, or in their
/// place while they are away their delegate; only people who want mail and can sign
/// in; each once, as `(user id, email)`.
pub fn recipients(conn: &Connection, groups: &[String], now: Millis) -> Result<Vec<(i64, String)>> {
    let groups = serde_json::to_string(groups).map_err(crate::model::Error::internal)?;
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT r.id, r.email FROM (
            SELECT CASE WHEN u.away_until > ?2 AND u.delegate_id IS NOT NULL
                        THEN u.delegate_id ELSE u.id END AS uid
            FROM json_each(?1) j
            JOIN groups g ON g.name = j.value
            JOIN group_members m ON m.group_id = g.id
            JOIN users u ON u.id = m.user_id) x
         JOIN users r ON r.id = x.uid
         WHERE r.notify_email = 1 AND r.password_hash != ''
         ORDER BY r.id",
    )?;
    let rows = stmt
        .query_map(params![groups, now], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}
