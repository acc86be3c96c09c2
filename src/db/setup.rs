use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Millis;
use crate::model::Result;

pub fn insert(conn: &Connection, token_hash: &[u8], expires_at: Millis) -> Result<()> {
    conn.execute(
        "INSERT INTO setup_tokens (token_hash, expires_at) VALUES (?1, ?2)",
        params![token_hash, expires_at],
    )?;
    Ok(())
}

/// `(expires_at, used_at)` of a token.
pub fn get(conn: &Connection, token_hash: &[u8]) -> Result<Option<(Millis, Option<Millis>)>> {
    Ok(conn
        .query_row(
            "SELECT expires_at, used_at FROM setup_tokens WHERE token_hash = ?1",
            [token_hash],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

pub fn mark_used(conn: &Connection, token_hash: &[u8], now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE setup_tokens SET used_at = ?2 WHERE token_hash = ?1",
        params![token_hash, now],
    )?;
    Ok(())
}

pub fn delete_unused(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM setup_tokens WHERE used_at IS NULL", [])?;
    Ok(())
}

/// How many unused setup tokens are still valid at `now`.
pub fn live(conn: &Connection, now: Millis) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM setup_tokens WHERE used_at IS NULL AND expires_at > ?1",
        [now],
        |r| r.get(0),
    )?)
}
