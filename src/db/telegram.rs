//! `telegram_codes`: the one-time codes that link a Telegram chat to a user (their
//! SHA-256 only), and the long-poll offset kept in `settings`.

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Millis;
use crate::model::Result;

/// A new code for `user_id`; their older codes (and everyone's expired ones) go.
pub fn replace_code(
    conn: &Connection,
    user_id: i64,
    code_hash: &[u8],
    expires_at: Millis,
    now: Millis,
) -> Result<()> {
    conn.execute(
        "DELETE FROM telegram_codes WHERE user_id = ?1 OR expires_at <= ?2",
        params![user_id, now],
    )?;
    conn.execute(
        "INSERT INTO telegram_codes (code_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
        params![code_hash, user_id, expires_at],
    )?;
    Ok(())
}

/// Uses a code: the user it links, if it exists and has not expired. A code found is
/// deleted either way (it works once).
pub fn take_code(conn: &Connection, code_hash: &[u8], now: Millis) -> Result<Option<i64>> {
    let found: Option<(i64, Millis)> = conn
        .prepare_cached("SELECT user_id, expires_at FROM telegram_codes WHERE code_hash = ?1")?
        .query_row([code_hash], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    conn.execute(
        "DELETE FROM telegram_codes WHERE code_hash = ?1 OR expires_at <= ?2",
        params![code_hash, now],
    )?;
    Ok(found.and_then(|(user_id, expires_at)| (expires_at > now).then_some(user_id)))
}

/// Drops every code of a user (they unlinked, or linked).
pub fn delete_codes_of(conn: &Connection, user_id: i64) -> Result<()> {
    conn.execute("DELETE FROM telegram_codes WHERE user_id = ?1", [user_id])?;
    Ok(())
}

const OFFSET: &str = "telegram_offset";

/// The `offset` of the next `getUpdates`: one past the last update handled.
pub fn offset(conn: &Connection) -> Result<i64> {
    Ok(super::settings::get(conn, OFFSET)?
        .and_then(|v| v.as_i64())
        .unwrap_or(0))
}

pub fn set_offset(conn: &Connection, offset: i64) -> Result<()> {
    super::settings::set(conn, OFFSET, &serde_json::json!(offset))
}
