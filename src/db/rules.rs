//! Standing approvals (the `rules` table).

use const_format::concatcp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock::Millis;
use crate::model::rule::Rule;
use crate::model::{Result, Risk};

/// A rule to store.
pub struct NewRow<'a> {
    pub key_id: &'a str,
    pub action: &'a str,
    pub is_glob: bool,
    pub created_by: &'a str,
    pub created_at: Millis,
    pub watch_id: Option<&'a str>,
    pub expires_at: Option<Millis>,
    pub max_uses: Option<i64>,
    pub context_sha256: Option<&'a str>,
    pub risk: Option<Risk>,
}

const SELECT: &str =
    "SELECT r.id, r.key_id, k.name, r.action, r.is_glob, r.created_by, r.created_at,
            r.watch_id, r.expires_at, r.max_uses, r.uses, r.last_used_at, r.revoked_at,
            r.revoked_by, r.context_sha256, r.risk
     FROM rules r JOIN api_keys k ON k.id = r.key_id";

/// A row, with `active` as of `now`.
fn row_to_rule(row: &Row, now: Millis) -> rusqlite::Result<Rule> {
    let mut rule = Rule {
        id: row.get(0)?,
        key_id: row.get(1)?,
        key_name: row.get(2)?,
        action: row.get(3)?,
        is_glob: row.get(4)?,
        created_by: row.get(5)?,
        created_at: row.get(6)?,
        watch_id: row.get(7)?,
        expires_at: row.get(8)?,
        max_uses: row.get(9)?,
        uses: row.get(10)?,
        last_used_at: row.get(11)?,
        revoked_at: row.get(12)?,
        revoked_by: row.get(13)?,
        context_sha256: row.get(14)?,
        risk: row
            .get::<_, Option<String>>(15)?
            .map(|r| {
                Risk::parse(&r).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        15,
                        rusqlite::types::Type::Text,
                        format!("risk {r:?}").into(),
                    )
                })
            })
            .transpose()?,
        active: false,
    };
    rule.active = rule.active_at(now);
    Ok(rule)
}

pub fn insert(conn: &Connection, r: &NewRow) -> Result<i64> {
    conn.execute(
        "INSERT INTO rules (key_id, action, is_glob, created_by, created_at, watch_id,
                            expires_at, max_uses, context_sha256, risk)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            r.key_id,
            r.action,
            r.is_glob,
            r.created_by,
            r.created_at,
            r.watch_id,
            r.expires_at,
            r.max_uses,
            r.context_sha256,
            r.risk.map(Risk::as_str)
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn by_id(conn: &Connection, id: i64, now: Millis) -> Result<Option<Rule>> {
    Ok(conn
        .prepare_cached(concatcp!(SELECT, " WHERE r.id = ?1"))?
        .query_row([id], |row| row_to_rule(row, now))
        .optional()?)
}

/// Every rule, newest first.
pub fn all(conn: &Connection, now: Millis) -> Result<Vec<Rule>> {
    let mut stmt = conn.prepare_cached(concatcp!(SELECT, " ORDER BY r.id DESC"))?;
    let rules = stmt
        .query_map([], |row| row_to_rule(row, now))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rules)
}

/// The rules of a key that apply at `now` (not revoked, not expired, uses left),
/// oldest first.
pub fn active_for_key(conn: &Connection, key_id: &str, now: Millis) -> Result<Vec<Rule>> {
    let mut stmt = conn.prepare_cached(concatcp!(
        SELECT,
        " WHERE r.key_id = ?1 AND r.revoked_at IS NULL
            AND (r.expires_at IS NULL OR r.expires_at > ?2)
            AND (r.max_uses IS NULL OR r.uses < r.max_uses)
         ORDER BY r.id"
    ))?;
    let rules = stmt
        .query_map(params![key_id, now], |row| row_to_rule(row, now))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rules)
}

/// Counts one use, if the rule still has one left; false if it has not.
pub fn use_once(conn: &Connection, id: i64, now: Millis) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE rules SET uses = uses + 1, last_used_at = ?2
         WHERE id = ?1 AND revoked_at IS NULL AND (max_uses IS NULL OR uses < max_uses)",
        params![id, now],
    )? == 1)
}

/// Revokes a rule; false if it was already revoked (or does not exist).
pub fn revoke(conn: &Connection, id: i64, now: Millis, by: &str) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE rules SET revoked_at = ?2, revoked_by = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now, by],
    )? == 1)
}
