use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, Row};

use crate::clock::Millis;
use crate::model::audit::{Entry, Filter};
use crate::model::Result;

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

/// The entry's columns, and the acting key's name looked up by its id (the primary
/// key of `api_keys`, so one probe per row; keys are revoked, never deleted).
const COLUMNS: &str = "id, at, actor, event, watch_id, details, \
     (SELECT k.name FROM api_keys k \
      WHERE audit.actor LIKE 'key:%' AND k.id = substr(audit.actor, 5)) AS key_name";

fn row_to_entry(r: &Row) -> rusqlite::Result<Entry> {
    Ok(Entry {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        event: r.get(3)?,
        watch_id: r.get(4)?,
        details: r.get(5)?,
        key_name: r.get(6)?,
    })
}

pub struct Query<'a> {
    pub filter: &'a Filter,
    pub min_id: Option<i64>,
    pub end_id: Option<i64>,
    pub before: Option<i64>,
    pub after: Option<i64>,
}

fn where_clause(q: &Query) -> (String, Vec<SqlValue>) {
    let mut conditions: Vec<&str> = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    let text = |v: &Option<String>| v.as_ref().map(|s| SqlValue::Text(s.clone()));
    for (condition, value) in [
        ("event = ?", text(&q.filter.event)),
        ("actor = ?", text(&q.filter.actor)),
        ("watch_id = ?", text(&q.filter.watch_id)),
        ("id >= ?", q.min_id.map(SqlValue::Integer)),
        ("id < ?", q.end_id.map(SqlValue::Integer)),
        ("id < ?", q.before.map(SqlValue::Integer)),
        ("id > ?", q.after.map(SqlValue::Integer)),
    ] {
        if let Some(value) = value {
            conditions.push(condition);
            args.push(value);
        }
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    (clause, args)
}

/// Newest first; oldest first when paging towards newer entries (`after`).
pub fn list(conn: &Connection, q: &Query, limit: u32) -> Result<Vec<Entry>> {
    let (clause, mut args) = where_clause(q);
    let order = if q.after.is_some() { "ASC" } else { "DESC" };
    args.push(SqlValue::Integer(i64::from(limit)));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM audit{clause} ORDER BY id {order} LIMIT ?"
    ))?;
    let items = stmt
        .query_map(params_from_iter(args), row_to_entry)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(items)
}

pub fn for_each(
    conn: &Connection,
    q: &Query,
    mut each: impl FnMut(Entry) -> Result<()>,
) -> Result<()> {
    let (clause, args) = where_clause(q);
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM audit{clause} ORDER BY id DESC"
    ))?;
    let mut rows = stmt.query(params_from_iter(args))?;
    while let Some(row) = rows.next()? {
        each(row_to_entry(row)?)?;
    }
    Ok(())
}

pub fn for_watch_id(conn: &Connection, watch_id: &str) -> Result<Vec<Entry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM audit WHERE watch_id = ?1 ORDER BY id"
    ))?;
    let items = stmt
        .query_map([watch_id], row_to_entry)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(items)
}

pub fn first_id_at_or_after(conn: &Connection, at: Millis) -> Result<Option<i64>> {
    super::first_id_at_or_after(conn, "audit", "at", at)
}

pub fn event_names(conn: &Connection) -> Result<Vec<String>> {
    // A skip-scan of the (event, id) index: one probe per distinct name.
    let mut stmt = conn.prepare_cached("SELECT DISTINCT event FROM audit ORDER BY event")?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names)
}
