use const_format::concatcp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock::Millis;
use crate::model::delivery::{AttemptRow, Delivery, Kind, NewRow, Stored};
use crate::model::Result;

pub fn insert(conn: &Connection, r: &NewRow) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO outbox (kind, watch_id, event_id, target, key_id, user_id, payload,
                             next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![
        r.kind.as_str(),
        r.watch_id,
        r.event_id,
        r.target,
        r.key_id,
        r.user_id,
        r.payload,
        r.at
    ])?;
    Ok(conn.last_insert_rowid())
}

const COLUMNS: &str =
    "o.id, o.kind, o.watch_id, o.event_id, o.target, o.key_id, o.user_id, o.payload,
     o.state, o.attempts, o.next_attempt_at, o.created_at";
/// Every column of an outbox row.
const SELECT_ROWS: &str = concatcp!("SELECT ", COLUMNS, " FROM outbox o");

fn row_to_stored(r: &Row) -> rusqlite::Result<Stored> {
    let kind: String = r.get(1)?;
    Ok(Stored {
        id: r.get(0)?,
        kind: Kind::parse(&kind).unwrap_or(Kind::Webhook),
        watch_id: r.get(2)?,
        event_id: r.get(3)?,
        target: r.get(4)?,
        key_id: r.get(5)?,
        user_id: r.get(6)?,
        payload: r.get(7)?,
        state: r.get(8)?,
        attempts: r.get(9)?,
        next_attempt_at: r.get(10)?,
        created_at: r.get(11)?,
    })
}

/// Takes the most overdue free row for a worker until `lease_until`.
pub fn claim(conn: &Connection, now: Millis, lease_until: Millis) -> Result<Option<Stored>> {
    let found = conn
        .prepare_cached(concatcp!(
            SELECT_ROWS,
            "
             WHERE o.state = 'pending' AND o.next_attempt_at <= ?1
               AND (o.lease_until IS NULL OR o.lease_until < ?1)
             ORDER BY o.next_attempt_at LIMIT 1"
        ))?
        .query_row([now], row_to_stored)
        .optional()?;
    if let Some(row) = &found {
        conn.prepare_cached(
            "UPDATE outbox SET lease_until = ?2, attempts = attempts + 1 WHERE id = ?1",
        )?
        .execute(params![row.id, lease_until])?;
    }
    Ok(found.map(|r| Stored {
        attempts: r.attempts + 1,
        ..r
    }))
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<Stored>> {
    Ok(conn
        .prepare_cached(concatcp!(SELECT_ROWS, " WHERE o.id = ?1"))?
        .query_row([id], row_to_stored)
        .optional()?)
}

pub fn add_attempt(conn: &Connection, outbox_id: i64, a: &AttemptRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO delivery_attempts (outbox_id, at, duration_ms, http_status, error, ok)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        outbox_id,
        a.at,
        a.duration_ms,
        a.http_status,
        a.error,
        a.ok
    ])?;
    Ok(())
}

/// Sets where a row stands after an attempt; the lease ends.
pub fn settle(conn: &Connection, id: i64, state: &str, next_attempt_at: Millis) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET state = ?2, next_attempt_at = ?3, lease_until = NULL WHERE id = ?1",
    )?
    .execute(params![id, state, next_attempt_at])?;
    Ok(())
}

/// Makes a row due now again (a retry by hand); false while a worker is sending it.
pub fn requeue(conn: &Connection, id: i64, now: Millis) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE outbox SET state = 'pending', next_attempt_at = ?2
         WHERE id = ?1 AND (lease_until IS NULL OR lease_until < ?2)",
        params![id, now],
    )?;
    Ok(changed == 1)
}

/// Frees every lease: at start-up no worker of a previous run is alive.
pub fn release_leases(conn: &Connection) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE outbox SET lease_until = NULL WHERE state = 'pending' AND lease_until IS NOT NULL",
        [],
    )?)
}

/// When the next row falls due (leased rows count from the lease's end).
pub fn next_due(conn: &Connection) -> Result<Option<Millis>> {
    Ok(conn
        .prepare_cached(
            "SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) FROM outbox WHERE state = 'pending'",
        )?
        .query_row([], |r| r.get(0))?)
}

pub fn for_watch_id(conn: &Connection, watch_id: &str) -> Result<Vec<Delivery>> {
    let mut stmt = conn.prepare_cached(concatcp!(
        SELECT_ROWS,
        " WHERE o.watch_id = ?1 ORDER BY o.id"
    ))?;
    let rows = stmt
        .query_map([watch_id], row_to_stored)?
        .collect::<rusqlite::Result<_>>()?;
    with_attempts(conn, rows)
}

/// The test webhooks of a key, newest first.
pub fn tests_of_key(conn: &Connection, key_id: &str, limit: u32) -> Result<Vec<Delivery>> {
    let mut stmt = conn.prepare_cached(concatcp!(
        SELECT_ROWS,
        " WHERE o.watch_id = 'test' AND o.key_id = ?1 ORDER BY o.id DESC LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(params![key_id, limit], row_to_stored)?
        .collect::<rusqlite::Result<_>>()?;
    with_attempts(conn, rows)
}

fn with_attempts(conn: &Connection, rows: Vec<Stored>) -> Result<Vec<Delivery>> {
    rows.into_iter()
        .map(|stored| {
            Ok(Delivery {
                attempts: attempts(conn, stored.id)?,
                stored,
            })
        })
        .collect()
}

fn attempts(conn: &Connection, outbox_id: i64) -> Result<Vec<AttemptRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, duration_ms, http_status, error, ok FROM delivery_attempts WHERE outbox_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([outbox_id], |r| {
            Ok(AttemptRow {
                at: r.get(0)?,
                duration_ms: r.get(1)?,
                http_status: r.get(2)?,
                error: r.get(3)?,
                ok: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Records the use of a one-time link; false if it was used before.
pub fn use_link(conn: &Connection, token_hash: &[u8], now: Millis) -> Result<bool> {
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO used_links (token_hash, used_at) VALUES (?1, ?2)",
        params![token_hash, now],
    )?;
    Ok(inserted == 1)
}

pub fn link_used(conn: &Connection, token_hash: &[u8]) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM used_links WHERE token_hash = ?1",
            [token_hash],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub fn secret(conn: &Connection, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT value FROM secrets WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

pub fn set_secret(conn: &Connection, name: &str, value: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT INTO secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        params![name, value],
    )?;
    Ok(())
}
