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
        ("pauses", super::pauses::last_id(conn)?.unwrap_or(0)),
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

/// The kind of each pending row, through `outbox_due`: as many rows as are waiting.
const OUTBOX_PENDING: &str = "SELECT kind FROM outbox WHERE state = 'pending'";
/// The failed rows by kind, from `outbox_failed` alone, in its order.
const OUTBOX_FAILED: &str =
    "SELECT kind, count(*) FROM outbox WHERE state = 'failed' GROUP BY kind";

/// Outbox rows waiting (`pending`) and given up on (`failed`): `(kind, pending,
/// failed)` for each kind that has any, by kind. `/metrics` reads it at every scrape.
///
/// Each state is read through its own partial index, never every row ever sent. The
/// pending rows are indexed by when they are due, not by kind, so they are counted
/// here rather than grouped in SQL, which would sort them in a temporary b-tree at
/// every scrape.
pub fn outbox_backlog(conn: &Connection) -> Result<Vec<(String, i64, i64)>> {
    let mut backlog: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    let mut pending = conn.prepare_cached(OUTBOX_PENDING)?;
    let mut rows = pending.query([])?;
    while let Some(row) = rows.next()? {
        backlog.entry(row.get(0)?).or_default().0 += 1;
    }
    let mut failed = conn.prepare_cached(OUTBOX_FAILED)?;
    let mut rows = failed.query([])?;
    while let Some(row) = rows.next()? {
        backlog.entry(row.get(0)?).or_default().1 = row.get(1)?;
    }
    Ok(backlog
        .into_iter()
        .map(|(kind, (pending, failed))| (kind, pending, failed))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backlog counts only pending and failed rows, by kind, and reads them from
    /// the two partial indexes, without a temporary b-tree: never a scan of every row
    /// ever sent.
    #[test]
    fn outbox_backlog_counts_from_its_index() {
        use crate::model::delivery::{Kind, NewRow};
        let conn = crate::db::in_memory().unwrap();
        let add = |kind: Kind, state: &str, n: usize| {
            for _ in 0..n {
                let row = NewRow {
                    kind,
                    watch_id: "wch_x".into(),
                    event_id: "evt_x".into(),
                    target: "http://127.0.0.1:9/".into(),
                    key_id: None,
                    user_id: None,
                    payload: "{}".into(),
                    at: 0,
                };
                let id = crate::db::outbox::insert(&conn, &row).unwrap();
                crate::db::outbox::settle(&conn, id, state, 0).unwrap();
            }
        };
        add(Kind::Webhook, "delivered", 50);
        add(Kind::Webhook, "pending", 3);
        add(Kind::Webhook, "failed", 2);
        add(Kind::Email, "pending", 1);
        add(Kind::Email, "gone", 4);
        add(Kind::Slack, "skipped", 5);
        assert_eq!(
            outbox_backlog(&conn).unwrap(),
            vec![("email".to_string(), 1, 0), ("webhook".to_string(), 3, 2)]
        );

        assert_eq!(
            crate::db::query_plan(&conn, OUTBOX_PENDING),
            ["SCAN outbox USING INDEX outbox_due"]
        );
        assert_eq!(
            crate::db::query_plan(&conn, OUTBOX_FAILED),
            ["SCAN outbox USING COVERING INDEX outbox_failed"]
        );
    }
}
