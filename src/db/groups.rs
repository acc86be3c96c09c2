//! Groups of users: named sets of people, to whom routing policies send pauses.

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Millis;
use crate::model::{Error, Result};

/// Creates a group; a name already taken is a conflict.
pub fn insert(conn: &Connection, name: &str, now: Millis) -> Result<i64> {
    conn.execute(
        "INSERT INTO groups (name, created_at) VALUES (?1, ?2)",
        params![name, now],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, Some(ref msg))
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                && msg.contains("groups.name") =>
        {
            Error::Conflict(format!("a group is already named {name:?}"))
        }
        _ => e.into(),
    })?;
    Ok(conn.last_insert_rowid())
}

pub fn id_by_name(conn: &Connection, name: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row("SELECT id FROM groups WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Adds a member; false when they were one already.
pub fn add_member(conn: &Connection, group_id: i64, user_id: i64) -> Result<bool> {
    let n = conn.execute(
        "INSERT INTO group_members (group_id, user_id) VALUES (?1, ?2)
         ON CONFLICT (group_id, user_id) DO NOTHING",
        params![group_id, user_id],
    )?;
    Ok(n == 1)
}

/// Removes a member; false when they were not one.
pub fn remove_member(conn: &Connection, group_id: i64, user_id: i64) -> Result<bool> {
    let n = conn.execute(
        "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
        params![group_id, user_id],
    )?;
    Ok(n == 1)
}

/// Every group by name, with its members' emails in order.
pub fn list(conn: &Connection) -> Result<Vec<(String, Millis, Vec<String>)>> {
    let mut stmt = conn.prepare(
        "SELECT g.name, g.created_at,
                (SELECT json_group_array(email) FROM
                    (SELECT u.email FROM group_members m JOIN users u ON u.id = m.user_id
                     WHERE m.group_id = g.id ORDER BY u.email))
         FROM groups g ORDER BY g.name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Millis>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(name, at, members)| {
            let members = serde_json::from_str(&members).map_err(Error::internal)?;
            Ok((name, at, members))
        })
        .collect()
}
