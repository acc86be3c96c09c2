//! `account_links`: one-time links with which a person sets their own password.

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Millis;
use crate::model::Result;

pub struct Row {
    pub purpose: String,
    pub user_id: i64,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

pub fn insert(
    conn: &Connection,
    token_hash: &[u8],
    purpose: &str,
    user_id: i64,
    now: Millis,
    expires_at: Millis,
) -> Result<()> {
    conn.execute(
        "INSERT INTO account_links (token_hash, purpose, user_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash, purpose, user_id, now, expires_at],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, token_hash: &[u8]) -> Result<Option<Row>> {
    Ok(conn
        .query_row(
            "SELECT purpose, user_id, expires_at, used_at FROM account_links WHERE token_hash = ?1",
            [token_hash],
            |r| {
                Ok(Row {
                    purpose: r.get(0)?,
                    user_id: r.get(1)?,
                    expires_at: r.get(2)?,
                    used_at: r.get(3)?,
                })
            },
        )
        .optional()?)
}

/// Marks a link used; false if it was used already (two tabs submitting at once).
pub fn mark_used(conn: &Connection, token_hash: &[u8], now: Millis) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE account_links SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL",
        params![token_hash, now],
    )? == 1)
}

/// Ends a user's unused links (a newer one replaces them).
pub fn delete_unused_of(conn: &Connection, user_id: i64) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM account_links WHERE user_id = ?1 AND used_at IS NULL",
        [user_id],
    )?)
}
