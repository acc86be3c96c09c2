//! Totals for the About page.

use rusqlite::Connection;

use crate::model::Result;

fn count(conn: &Connection, sql: &str) -> Result<i64> {
    Ok(conn.prepare_cached(sql)?.query_row([], |r| r.get(0))?)
}

/// `(what, how many)`, in the order the About page shows them.
///
/// Pauses and audit entries are never deleted (retention empties a pause, the audit
/// log refuses deletes) and each new row's id is one more than the largest, so the
/// largest id is their count: one index probe instead of a scan of millions of rows.
pub fn totals(conn: &Connection) -> Result<Vec<(&'static str, i64)>> {
    Ok(vec![
        (
            "pauses",
            count(conn, "SELECT coalesce(max(id), 0) FROM pauses")?,
        ),
        ("pending", count_pending(conn)?),
        (
            "API keys (active)",
            count(
                conn,
                "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL",
            )?,
        ),
        ("users", count(conn, "SELECT count(*) FROM users")?),
        (
            "audit entries",
            count(conn, "SELECT coalesce(max(id), 0) FROM audit")?,
        ),
    ])
}

pub fn count_pending(conn: &Connection) -> Result<i64> {
    count(conn, "SELECT count(*) FROM pauses WHERE status = 'pending'")
}

/// Outbox rows waiting (`pending`) and given up on (`failed`): `(kind, pending,
/// failed)` for each kind that has any. `/metrics` reads it at every scrape.
pub fn outbox_backlog(conn: &Connection) -> Result<Vec<(String, i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, sum(state = 'pending'), sum(state = 'failed') FROM outbox
         WHERE state IN ('pending', 'failed') GROUP BY kind",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}
