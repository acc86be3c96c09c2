use const_format::concatcp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock::Millis;
use crate::model::reach::{self, Channel};
use crate::model::user::User;
use crate::model::{Error, Result, Role};

const COLUMNS: &str = "id, email, role, notify_email, created_at, password_hash = '',
     away_until, (SELECT d.email FROM users d WHERE d.id = users.delegate_id),
     telegram_chat, ntfy_url, notify_off,
     (SELECT count(*) FROM push_subscriptions s WHERE s.user_id = users.id)";
/// Every column of a user.
const SELECT_USERS: &str = concatcp!("SELECT ", COLUMNS, " FROM users");

fn role_of(text: &str) -> rusqlite::Result<Role> {
    Role::parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown role {text:?}").into(),
        )
    })
}

fn row_to_user(row: &Row) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        role: role_of(&row.get::<_, String>(2)?)?,
        notify_email: row.get(3)?,
        created_at: row.get(4)?,
        invite_pending: row.get(5)?,
        away_until: row.get(6)?,
        delegate: row.get(7)?,
        telegram_chat: row.get(8)?,
        ntfy_url: row.get(9)?,
        notify: {
            let (email, off): (bool, String) = (row.get(3)?, row.get(10)?);
            Channel::ALL
                .into_iter()
                .filter(|c| reach::is_on(*c, email, &off))
                .collect()
        },
        push_devices: row.get(11)?,
    })
}

pub fn insert(
    conn: &Connection,
    email: &str,
    role: Role,
    password_hash: &str,
    now: Millis,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO users (email, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![email, role.as_str(), password_hash, now],
    )
    .map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => {
            Error::Conflict(format!("a user with email {email} already exists"))
        }
        _ => e.into(),
    })?;
    Ok(conn.last_insert_rowid())
}

pub fn by_email(conn: &Connection, email: &str) -> Result<Option<User>> {
    Ok(conn
        .prepare_cached(concatcp!(SELECT_USERS, " WHERE email = ?1"))?
        .query_row([email], row_to_user)
        .optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<User>> {
    let mut stmt = conn.prepare(concatcp!(SELECT_USERS, " ORDER BY email"))?;
    let users = stmt
        .query_map([], row_to_user)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(users)
}

pub fn count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<User>> {
    Ok(conn
        .prepare_cached(concatcp!(SELECT_USERS, " WHERE id = ?1"))?
        .query_row([id], row_to_user)
        .optional()?)
}

/// The users with these ids, by id (ids that are gone are left out), in one query.
pub fn by_ids(conn: &Connection, ids: &[i64]) -> Result<Vec<User>> {
    let ids = serde_json::to_string(ids).map_err(crate::model::Error::internal)?;
    let mut stmt = conn.prepare_cached(concatcp!(
        SELECT_USERS,
        " WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id"
    ))?;
    let users = stmt
        .query_map([ids], row_to_user)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(users)
}

/// Every user who can sign in (has a password), in id order: one query, run on every
/// new pause that no policy routes.
pub fn with_password(conn: &Connection) -> Result<Vec<User>> {
    let mut stmt = conn.prepare_cached(concatcp!(
        SELECT_USERS,
        " WHERE password_hash != '' ORDER BY id"
    ))?;
    let users = stmt
        .query_map([], row_to_user)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(users)
}

pub fn password_hash(conn: &Connection, id: i64) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT password_hash FROM users WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn set_password_hash(conn: &Connection, id: i64, hash: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![id, hash],
    )?;
    Ok(())
}

pub fn set_role(conn: &Connection, id: i64, role: Role) -> Result<()> {
    conn.execute(
        "UPDATE users SET role = ?2 WHERE id = ?1",
        params![id, role.as_str()],
    )?;
    Ok(())
}

/// Away until a time with a delegate, or (`None`) back.
pub fn set_away(conn: &Connection, id: i64, away: Option<(Millis, i64)>) -> Result<()> {
    conn.execute(
        "UPDATE users SET away_until = ?2, delegate_id = ?3 WHERE id = ?1",
        params![id, away.map(|a| a.0), away.map(|a| a.1)],
    )?;
    Ok(())
}

pub fn set_notify_email(conn: &Connection, id: i64, on: bool) -> Result<()> {
    conn.execute(
        "UPDATE users SET notify_email = ?2 WHERE id = ?1",
        params![id, on],
    )?;
    Ok(())
}

/// Mail on or off, and the other channels turned off.
pub fn set_channels(conn: &Connection, id: i64, email: bool, off: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET notify_email = ?2, notify_off = ?3 WHERE id = ?1",
        params![id, email, off],
    )?;
    Ok(())
}

/// Where a person is reached besides mail.
#[derive(Debug, Clone, Copy)]
pub enum Address {
    TelegramChat,
    NtfyUrl,
}

/// Sets (or with `None` clears) one of a person's addresses.
pub fn set_address(conn: &Connection, id: i64, which: Address, value: Option<&str>) -> Result<()> {
    let sql = match which {
        Address::TelegramChat => "UPDATE users SET telegram_chat = ?2 WHERE id = ?1",
        Address::NtfyUrl => "UPDATE users SET ntfy_url = ?2 WHERE id = ?1",
    };
    conn.execute(sql, params![id, value])?;
    Ok(())
}

pub fn count_admins(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM users WHERE role = 'admin' AND password_hash != ''",
        [],
        |r| r.get(0),
    )?)
}

pub fn delete(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM users WHERE id = ?1", [id])?;
    Ok(())
}
