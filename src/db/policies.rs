//! Routing policies, in the order they are tried.

use const_format::concatcp;
use rusqlite::{params, Connection, Row};

use crate::clock::Millis;
use crate::model::{Error, OnTimeout, Result, Risk};

/// A policy as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRow {
    pub name: String,
    pub position: i64,
    pub tags: Vec<String>,
    pub key_name: Option<String>,
    pub action_glob: Option<String>,
    pub min_risk: Option<Risk>,
    pub reviewers: Vec<String>,
    pub approvals: u32,
    pub remind_every: Option<Millis>,
    pub escalate_after: Option<Millis>,
    pub escalate_to: Option<String>,
    pub on_timeout: Option<OnTimeout>,
    pub created_at: Millis,
}

const COLUMNS: &str = "name, position, tags, key_name, action_glob, min_risk, reviewers, approvals,
     remind_every, escalate_after, escalate_to, on_timeout, created_at";

fn bad(detail: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, detail.into())
}

fn row_to_policy(r: &Row) -> rusqlite::Result<PolicyRow> {
    let json_list = |i: usize| -> rusqlite::Result<Vec<String>> {
        serde_json::from_str(&r.get::<_, String>(i)?).map_err(|e| bad(e.to_string()))
    };
    let risk: Option<String> = r.get(5)?;
    let on_timeout: Option<String> = r.get(11)?;
    Ok(PolicyRow {
        name: r.get(0)?,
        position: r.get(1)?,
        tags: json_list(2)?,
        key_name: r.get(3)?,
        action_glob: r.get(4)?,
        min_risk: risk
            .map(|t| Risk::parse(&t).ok_or_else(|| bad(format!("min_risk {t:?}"))))
            .transpose()?,
        reviewers: json_list(6)?,
        approvals: r.get(7)?,
        remind_every: r.get(8)?,
        escalate_after: r.get(9)?,
        escalate_to: r.get(10)?,
        on_timeout: on_timeout
            .map(|t| OnTimeout::parse(&t).ok_or_else(|| bad(format!("on_timeout {t:?}"))))
            .transpose()?,
        created_at: r.get(12)?,
    })
}

/// Every policy, in the order they are tried.
pub fn all(conn: &Connection) -> Result<Vec<PolicyRow>> {
    let mut stmt = conn.prepare_cached(concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM policies ORDER BY position, id"
    ))?;
    let rows = stmt
        .query_map([], row_to_policy)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Adds a policy after every other one; a name already taken is a conflict.
pub fn insert(conn: &Connection, p: &PolicyRow) -> Result<()> {
    let list = |v: &[String]| serde_json::to_string(v).map_err(Error::internal);
    conn.execute(
        "INSERT INTO policies (name, position, tags, key_name, action_glob, min_risk, reviewers,
                               approvals, remind_every, escalate_after, escalate_to, on_timeout,
                               created_at)
         VALUES (?1, (SELECT coalesce(max(position), 0) + 1 FROM policies), ?2, ?3, ?4, ?5, ?6,
                 ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            p.name,
            list(&p.tags)?,
            p.key_name,
            p.action_glob,
            p.min_risk.map(Risk::as_str),
            list(&p.reviewers)?,
            p.approvals,
            p.remind_every,
            p.escalate_after,
            p.escalate_to,
            p.on_timeout.map(OnTimeout::as_str),
            p.created_at,
        ],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, Some(ref msg))
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                && msg.contains("policies.name") =>
        {
            Error::Conflict(format!("a policy is already named {:?}", p.name))
        }
        _ => e.into(),
    })?;
    Ok(())
}

/// Removes a policy; false when there was none of that name.
pub fn delete(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn.execute("DELETE FROM policies WHERE name = ?1", [name])? == 1)
}

/// Sets every policy's position from its place in `names` (1, 2, ...).
pub fn reorder(conn: &Connection, names: &[String]) -> Result<()> {
    let mut stmt = conn.prepare_cached("UPDATE policies SET position = ?2 WHERE name = ?1")?;
    for (i, name) in names.iter().enumerate() {
        stmt.execute(params![name, i as i64 + 1])?;
    }
    Ok(())
}
