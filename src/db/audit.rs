use const_format::concatcp;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use crate::clock::Millis;
use crate::model::audit::{Entry, Filter};
use crate::model::Result;

pub fn append(
    conn: &Connection,
    at: Millis,
    actor: &str,
    event: &str,
    watch_id: Option<&str>,
    details: &str,
) -> Result<()> {
    // One writer at a time (the writer thread, or a command line's IMMEDIATE
    // transaction): the last entry read here stays the last until this one is in.
    let (last_id, prev): (i64, Option<Vec<u8>>) = conn
        .prepare_cached("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, None));
    let id = last_id + 1;
    let hash = link(
        prev.as_deref().unwrap_or(&GENESIS),
        &Content {
            id,
            at,
            actor,
            event,
            watch_id,
            details,
        },
    );
    conn.prepare_cached(
        "INSERT INTO audit (id, at, actor, event, watch_id, details, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![id, at, actor, event, watch_id, details, hash])?;
    Ok(())
}

/// The "previous hash" of the first entry.
const GENESIS: [u8; 32] = [0; 32];

/// What an entry's hash covers: every stored column but the hash. The fields are in
/// the order of their names, as RFC 8785 sorts them (see [`link`]).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Content<'a> {
    actor: &'a str,
    at: Millis,
    /// The stored JSON text, as a string: its bytes are what is kept.
    details: &'a str,
    event: &'a str,
    id: i64,
    watch_id: Option<&'a str>,
}

/// SHA-256 of the previous hash (32 bytes) followed by the entry's canonical content:
/// its columns as a JSON object in RFC 8785 (JCS) form, e.g.
/// `{"actor":"cli","at":1700000000000,"details":"{}","event":"key.created","id":1,"watchId":null}`.
///
/// serde_json writes exactly that form here, without the general canonicalizer's
/// sorting (one in every write): the fields are declared in sorted order, strings are
/// escaped as RFC 8785 escapes them, and the integers are far below 2^53. The test
/// `the_hashed_form_is_rfc_8785` holds it to `serde_jcs`.
fn link(prev: &[u8], content: &Content) -> Vec<u8> {
    let canonical = serde_json::to_vec(content).unwrap_or_default();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(prev);
    ctx.update(&canonical);
    ctx.finish().as_ref().to_vec()
}

/// Chains every entry in id order (the upgrade to version 12, whose step lifted the
/// append-only trigger), then puts the trigger back as schema.sql has it.
pub fn chain_all(conn: &Connection) -> rusqlite::Result<()> {
    let rows: Vec<(i64, Millis, String, String, Option<String>, String)> = conn
        .prepare("SELECT id, at, actor, event, watch_id, details FROM audit ORDER BY id")?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut prev = GENESIS.to_vec();
    let mut update = conn.prepare("UPDATE audit SET hash = ?2 WHERE id = ?1")?;
    for (id, at, actor, event, watch_id, details) in &rows {
        prev = link(
            &prev,
            &Content {
                id: *id,
                at: *at,
                actor,
                event,
                watch_id: watch_id.as_deref(),
                details,
            },
        );
        update.execute(params![id, prev])?;
    }
    conn.execute_batch(
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;",
    )
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Every entry matches: how many, and the last one's hash (the head).
    Intact { entries: i64, head: Option<Vec<u8>> },
    /// The first entry that does not match what came before it.
    Broken {
        id: i64,
        at: Millis,
        event: String,
        checked: i64,
    },
}

/// Recomputes every hash from the first entry on.
pub fn verify(conn: &Connection) -> Result<Verified> {
    let mut stmt = conn
        .prepare("SELECT id, at, actor, event, watch_id, details, hash FROM audit ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.to_vec();
    let mut checked = 0;
    while let Some(r) = rows.next()? {
        let (id, at, actor, event): (i64, Millis, String, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        let watch_id: Option<String> = r.get(4)?;
        let details: String = r.get(5)?;
        let stored: Option<Vec<u8>> = r.get(6)?;
        let expected = link(
            &prev,
            &Content {
                id,
                at,
                actor: &actor,
                event: &event,
                watch_id: watch_id.as_deref(),
                details: &details,
            },
        );
        if stored.as_deref() != Some(expected.as_slice()) {
            return Ok(Verified::Broken {
                id,
                at,
                event,
                checked,
            });
        }
        prev = expected;
        checked += 1;
    }
    Ok(Verified::Intact {
        entries: checked,
        head: (checked > 0).then_some(prev),
    })
}

/// The last entry's id and hash.
pub fn head(conn: &Connection) -> Result<Option<(i64, Option<Vec<u8>>)>> {
    Ok(conn
        .prepare_cached("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// The entry's columns, and the acting key's name looked up by its id (the primary
/// key of `api_keys`, so one probe per row; keys are revoked, never deleted).
const COLUMNS: &str = "id, at, actor, event, watch_id, details, hash, \
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
        hash: r.get(6)?,
        key_name: r.get(7)?,
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
    let mut stmt = conn.prepare_cached(concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM audit WHERE watch_id = ?1 ORDER BY id"
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
    // One probe of the (event, id) index per distinct name, each for the next name up:
    // SQLite would only skip-scan by itself with statistics, and hitl keeps none.
    let mut stmt = conn.prepare_cached(
        "WITH RECURSIVE names (event) AS (
             SELECT min(event) FROM audit
             UNION ALL
             SELECT (SELECT min(a.event) FROM audit a WHERE a.event > names.event)
             FROM names WHERE names.event IS NOT NULL
         )
         SELECT event FROM names WHERE event IS NOT NULL",
    )?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hashed_form_is_rfc_8785() {
        let awkward = [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "controls \u{0} \u{1} \u{8} \t \n \u{b} \u{c} \r \u{1f} \u{7f}",
            "déjà vu ☃ 𝄞 \u{2028} \u{feff}",
            r#"{"by":"ann@example.com","comment":"ship \"it\""}"#,
        ];
        for text in awkward {
            for watch_id in [None, Some(text)] {
                let content = Content {
                    actor: text,
                    at: 1_764_633_600_123,
                    details: text,
                    event: "pause.approved",
                    id: 9_007_199_254_740_991,
                    watch_id,
                };
                assert_eq!(
                    serde_json::to_vec(&content).unwrap(),
                    serde_jcs::to_vec(&content).unwrap(),
                    "{text:?}"
                );
            }
        }
    }
}
