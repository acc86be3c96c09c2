//! Chat messages hitl posted about a pause (Slack, Telegram), kept to edit them once the
//! pause is decided.

use const_format::concatcp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock::Millis;
use crate::model::delivery::Kind;
use crate::model::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: i64,
    pub watch_id: String,
    pub kind: Kind,
    /// Slack's channel id, Telegram's chat id.
    pub chat: String,
    /// Slack's `ts`, Telegram's `message_id`.
    pub message: String,
    pub user_id: Option<i64>,
}

const COLUMNS: &str = "id, watch_id, kind, chat, message, user_id";
/// Every column of a chat message.
const SELECT_MESSAGES: &str = concatcp!("SELECT ", COLUMNS, " FROM chat_messages");

fn row_to_message(row: &Row) -> rusqlite::Result<Message> {
    let kind: String = row.get(2)?;
    Ok(Message {
        id: row.get(0)?,
        watch_id: row.get(1)?,
        kind: Kind::parse(&kind).unwrap_or(Kind::Slack),
        chat: row.get(3)?,
        message: row.get(4)?,
        user_id: row.get(5)?,
    })
}

pub fn insert(
    conn: &Connection,
    watch_id: &str,
    kind: Kind,
    chat: &str,
    message: &str,
    user_id: Option<i64>,
    now: Millis,
) -> Result<i64> {
    if !matches!(kind, Kind::Slack | Kind::Telegram) {
        return Err(Error::internal(format!(
            "{} messages are not kept",
            kind.as_str()
        )));
    }
    conn.execute(
        "INSERT INTO chat_messages (watch_id, kind, chat, message, user_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![watch_id, kind.as_str(), chat, message, user_id, now],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn for_watch_id(conn: &Connection, watch_id: &str) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(concatcp!(
        SELECT_MESSAGES,
        " WHERE watch_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt
        .query_map([watch_id], row_to_message)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<Message>> {
    Ok(conn
        .prepare_cached(concatcp!(SELECT_MESSAGES, " WHERE id = ?1"))?
        .query_row([id], row_to_message)
        .optional()?)
}
