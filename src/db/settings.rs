//! `settings`: values `hitl serve` stores at start for the command line to read.

use rusqlite::{params, Connection, OptionalExtension};

use crate::model::Result;

pub fn get(conn: &Connection, name: &str) -> Result<Option<serde_json::Value>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT value FROM settings WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

pub fn set(conn: &Connection, name: &str, value: &serde_json::Value) -> Result<()> {
    conn.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![name, value.to_string()],
    )?;
    Ok(())
}
