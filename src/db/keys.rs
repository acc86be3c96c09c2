use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock::Millis;
use crate::model::key::{ApiKey, Candidate, Kind};
use crate::model::{Result, Reviewer, Role};

pub struct NewRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a [u8],
    pub kind: Kind,
    pub user_id: Option<i64>,
    pub webhook_url: Option<&'a str>,
    pub webhook_secret: &'a str,
    pub monthly_limit: Option<i64>,
    pub created_at: Millis,
    pub owner_email: Option<&'a str>,
}

pub fn insert(conn: &Connection, k: &NewRow) -> Result<()> {
    conn.execute(
        "INSERT INTO api_keys (id, name, prefix, key_hash, kind, user_id, webhook_url,
                               webhook_secret, monthly_limit, created_at, owner_email)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            k.id,
            k.name,
            k.prefix,
            k.key_hash,
            k.kind.as_str(),
            k.user_id,
            k.webhook_url,
            k.webhook_secret,
            k.monthly_limit,
            k.created_at,
            k.owner_email
        ],
    )
    .map_err(|e| match e {
        // Only the unique index on active names; any other constraint is a bug.
        rusqlite::Error::SqliteFailure(f, Some(ref msg))
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                && msg.contains("api_keys.name") =>
        {
            crate::model::Error::Conflict(format!(
            "an active key is already named {:?}; choose another name, or revoke that key first",
                k.name
            ))
        }
        _ => e.into(),
    })?;
    Ok(())
}

/// The id of the active (not revoked) key with this name; names of active keys are
/// unique.
pub fn active_id_by_name(conn: &Connection, name: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT id FROM api_keys WHERE name = ?1 AND revoked_at IS NULL",
            [name],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn set_webhook_secret(conn: &Connection, id: &str, secret: &str) -> Result<()> {
    conn.execute(
        "UPDATE api_keys SET webhook_secret = ?2 WHERE id = ?1",
        params![id, secret],
    )?;
    Ok(())
}

fn kind_of(text: &str) -> Kind {
    if text == "reviewer" {
        Kind::Reviewer
    } else {
        Kind::Agent
    }
}

/// The keys whose visible prefix is `prefix` (almost always one), with their users.
pub fn by_prefix(conn: &Connection, prefix: &str) -> Result<Vec<Candidate>> {
    let mut stmt = conn.prepare_cached(
        "SELECT k.id, k.name, k.key_hash, k.kind, k.monthly_limit, k.last_used_at,
                k.revoked_at IS NOT NULL, u.id, u.email, u.role
         FROM api_keys k LEFT JOIN users u ON u.id = k.user_id
         WHERE k.prefix = ?1",
    )?;
    let rows = stmt.query_map([prefix], |row| {
        let user = match (
            row.get::<_, Option<i64>>(7)?,
            row.get::<_, Option<String>>(8)?,
            row.get::<_, Option<String>>(9)?,
        ) {
            (Some(user_id), Some(email), Some(role)) => Role::parse(&role).map(|role| Reviewer {
                user_id,
                email,
                role,
            }),
            _ => None,
        };
        Ok(Candidate {
            id: row.get(0)?,
            name: row.get(1)?,
            key_hash: row.get(2)?,
            kind: kind_of(&row.get::<_, String>(3)?),
            monthly_limit: row.get(4)?,
            last_used_at: row.get(5)?,
            revoked: row.get(6)?,
            user,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

const LIST_SQL: &str =
    "SELECT k.id, k.name, k.prefix, k.kind, u.email, k.webhook_url, k.monthly_limit,
            coalesce(ku.count, 0), k.created_at, k.last_used_at, k.revoked_at, k.owner_email
     FROM api_keys k
     LEFT JOIN users u ON u.id = k.user_id
     LEFT JOIN key_usage ku ON ku.key_id = k.id AND ku.month = ?1";

fn row_to_key(row: &Row) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: row.get(0)?,
        name: row.get(1)?,
        prefix: row.get(2)?,
        kind: kind_of(&row.get::<_, String>(3)?),
        user_email: row.get(4)?,
        webhook_url: row.get(5)?,
        monthly_limit: row.get(6)?,
        used_this_month: row.get(7)?,
        created_at: row.get(8)?,
        last_used_at: row.get(9)?,
        revoked_at: row.get(10)?,
        owner_email: row.get(11)?,
    })
}

pub fn list(conn: &Connection, month: &str) -> Result<Vec<ApiKey>> {
    let mut stmt = conn.prepare(&format!("{LIST_SQL} ORDER BY k.created_at DESC, k.id"))?;
    let keys = stmt
        .query_map([month], row_to_key)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(keys)
}

pub fn by_id(conn: &Connection, id: &str, month: &str) -> Result<Option<ApiKey>> {
    Ok(conn
        .prepare(&format!("{LIST_SQL} WHERE k.id = ?2"))?
        .query_row(params![month, id], row_to_key)
        .optional()?)
}

pub fn update(
    conn: &Connection,
    id: &str,
    webhook_url: Option<&str>,
    monthly_limit: Option<i64>,
) -> Result<()> {
    conn.execute(
        "UPDATE api_keys SET webhook_url = ?2, monthly_limit = ?3 WHERE id = ?1",
        params![id, webhook_url, monthly_limit],
    )?;
    Ok(())
}

pub fn revoke(conn: &Connection, id: &str, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now],
    )?;
    Ok(())
}

/// Revokes every live reviewer key of a user; returns their ids.
pub fn revoke_for_user(conn: &Connection, user_id: i64, now: Millis) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "UPDATE api_keys SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL RETURNING id",
    )?;
    let ids = stmt
        .query_map(params![user_id, now], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// Bumped by triggers whenever a key or a user changes (see schema.sql).
pub fn auth_generation(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE name = 'auth_generation'")?
        .query_row([], |r| r.get(0))?)
}

pub fn webhook_url(conn: &Connection, id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT webhook_url FROM api_keys WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .flatten())
}

pub fn webhook_secret(conn: &Connection, id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT webhook_secret FROM api_keys WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

pub fn touch(conn: &Connection, id: &str, now: Millis) -> Result<()> {
    conn.prepare_cached("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

/// The person who runs an agent key, who may never decide its pauses.
pub fn owner_email(conn: &Connection, id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT owner_email FROM api_keys WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .flatten())
}
