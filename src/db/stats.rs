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

/// The pending rows through `outbox_due` and the failed ones through `outbox_failed`,
/// two partial indexes: never a scan of every row ever sent. (One index of both states
/// would be usable for "pending" too, and SQLite chose it for the notifier's queries,
/// which then read every failed row.)
const OUTBOX_BACKLOG: &str = "SELECT kind, sum(pending), sum(failed) FROM (
       SELECT kind, count(*) AS pending, 0 AS failed FROM outbox WHERE state = 'pending'
       GROUP BY kind
       UNION ALL
       SELECT kind, 0, count(*) FROM outbox WHERE state = 'failed' GROUP BY kind)
     GROUP BY kind";

/// Outbox rows waiting (`pending`) and given up on (`failed`): `(kind, pending,
/// failed)` for each kind that has any. `/metrics` reads it at every scrape.
pub fn outbox_backlog(conn: &Connection) -> Result<Vec<(String, i64, i64)>> {
    let mut stmt = conn.prepare_cached(OUTBOX_BACKLOG)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backlog counts only pending and failed rows, by kind, and reads them from
    /// the two partial indexes: never a scan of every row ever sent.
    #[test]
    fn outbox_backlog_counts_from_its_index() {
        let conn = crate::db::in_memory().unwrap();
        let add = |kind: &str, state: &str, n: usize| {
            for _ in 0..n {
                conn.execute(
                    "INSERT INTO outbox (kind, watch_id, event_id, target, payload, state,
                                         next_attempt_at, created_at)
                     VALUES (?1, 'wch_x', 'evt_x', 'http://127.0.0.1:9/', '{}', ?2, 0, 0)",
                    [kind, state],
                )
                .unwrap();
            }
        };
        add("webhook", "delivered", 50);
        add("webhook", "pending", 3);
        add("webhook", "failed", 2);
        add("email", "pending", 1);
        add("email", "gone", 4);
        add("slack", "skipped", 5);
        assert_eq!(
            outbox_backlog(&conn).unwrap(),
            vec![("email".to_string(), 1, 0), ("webhook".to_string(), 3, 2)]
        );

        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {OUTBOX_BACKLOG}"))
            .unwrap()
            .query_map([], |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let reads: Vec<&String> = plan.iter().filter(|l| l.contains("outbox")).collect();
        assert_eq!(
            reads,
            [
                "SCAN outbox USING INDEX outbox_due",
                "SCAN outbox USING COVERING INDEX outbox_failed"
            ],
            "{plan:?}"
        );
    }
}
