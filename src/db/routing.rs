//! Who a routed pause belongs to: the members of its reviewer groups, each holding a
//! seat; while a member is away with a delegate, the delegate holds it instead (one
//! step: a delegate who is away too does not hand on what was handed to them), so a
//! member and their delegate never count as two reviewers.

use rusqlite::{params, Connection};

use crate::clock::Millis;
use crate::model::user::User;
use crate::model::Result;

/// Who holds a member's seat at time `?now`: while the member `u` is away with a
/// delegate, the delegate (and not the member); otherwise the member. Never the
/// delegate of the person who runs the pause's key (`p.key_id`): that would let them
/// choose who approves their own agent's requests.
fn seat_holder(now: usize) -> String {
    format!(
        "CASE WHEN u.away_until > ?{now} AND u.delegate_id IS NOT NULL
                   AND u.email IS NOT (SELECT k.owner_email FROM api_keys k WHERE k.id = p.key_id)
              THEN u.delegate_id ELSE u.id END"
    )
}

/// The condition "the pause `p` is not routed, or is routed to user `?me` at time
/// `?now`", for a query over `pauses p`, with the two parameters' numbers.
pub fn routed_to(me: usize, now: usize) -> String {
    format!(
        "(p.reviewers IS NULL OR EXISTS (
            SELECT 1 FROM json_each(p.reviewers) j
            JOIN groups g ON g.name = j.value
            JOIN group_members m ON m.group_id = g.id
            JOIN users u ON u.id = m.user_id
            WHERE {} = ?{me}))",
        seat_holder(now)
    )
}

/// Whether a pause of the key `key_id` routed to these groups is the user's to decide
/// at `now`.
pub fn may_decide(
    conn: &Connection,
    groups: &[String],
    key_id: &str,
    user_id: i64,
    now: Millis,
) -> Result<bool> {
    let groups = serde_json::to_string(groups).map_err(crate::model::Error::internal)?;
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM (SELECT ?1 AS reviewers, ?4 AS key_id) p WHERE {})",
        routed_to(2, 3)
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![groups, user_id, now, key_id], |r| r.get(0))?)
}

/// Who is told of a pause of the key `key_id` routed to these groups at `now`: each
/// seat's holder (the member, or their delegate while they are away) who can sign in;
/// each once. Which channels reach them is theirs to say (`User::wants`).
pub fn recipients(
    conn: &Connection,
    groups: &[String],
    key_id: &str,
    now: Millis,
) -> Result<Vec<User>> {
    let groups = serde_json::to_string(groups).map_err(crate::model::Error::internal)?;
    let sql = format!(
        "SELECT DISTINCT r.id FROM (
            SELECT {} AS uid
            FROM (SELECT ?3 AS key_id) p, json_each(?1) j
            JOIN groups g ON g.name = j.value
            JOIN group_members m ON m.group_id = g.id
            JOIN users u ON u.id = m.user_id) x
         JOIN users r ON r.id = x.uid
         WHERE r.password_hash != ''
         ORDER BY r.id",
        seat_holder(2)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let ids = stmt
        .query_map(params![groups, now, key_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    super::users::by_ids(conn, &ids)
}
