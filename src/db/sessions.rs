use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Millis;
use crate::model::session::Row;
use crate::model::{Result, Reviewer, Role};

pub fn insert(conn: &Connection, id_hash: &[u8], user_id: i64, now: Millis) -> Result<()> {
    conn.execute(
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)",
        params![id_hash, user_id, now],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id_hash: &[u8]) -> Result<Option<Row>> {
    Ok(conn
        .prepare_cached(
            "SELECT u.id, u.email, u.role, s.created_at, s.last_seen_at
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?1",
        )?
        .query_row([id_hash], |r| {
            let role: String = r.get(2)?;
            Ok(Row {
                user: Reviewer {
                    user_id: r.get(0)?,
                    email: r.get(1)?,
                    role: Role::parse(&role).unwrap_or(Role::Approver),
                },
                created_at: r.get(3)?,
                last_seen_at: r.get(4)?,
            })
        })
        .optional()?)
}

pub fn touch(conn: &Connection, id_hash: &[u8], now: Millis) -> Result<()> {
    conn.prepare_cached("UPDATE sessions SET last_seen_at = ?2 WHERE id_hash = ?1")?
        .execute(params![id_hash, now])?;
    Ok(())
}

pub fn delete(conn: &Connection, id_hash: &[u8]) -> Result<()> {
    conn.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
    Ok(())
}

/// Ends every session of a user except `keep` (after a password change).
pub fn delete_others(conn: &Connection, user_id: i64, keep: &[u8]) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND id_hash <> ?2",
        params![user_id, keep],
    )?)
}

pub fn prune(conn: &Connection, idle_before: Millis, created_before: Millis) -> Result<()> {
    conn.execute(
        "DELETE FROM sessions WHERE last_seen_at < ?1 OR created_at < ?2",
        params![idle_before, created_before],
    )?;
    Ok(())
}
