use rusqlite::{params, Connection};

use crate::clock::Millis;
use crate::domain::Result;

pub fn append(
    conn: &Connection,
    at: Millis,
    actor: &str,
    event: &str,
    watch_id: Option<&str>,
    details: &serde_json::Value,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit (at, actor, event, watch_id, details) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![at, actor, event, watch_id, details.to_string()])?;
    Ok(())
}
