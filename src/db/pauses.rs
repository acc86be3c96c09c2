use const_format::concatcp;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use crate::clock::Millis;
use crate::model::pause::{Cursor, ListQuery, Pause, Routing};
use crate::model::{Kind, OnTimeout, Result, Risk, Status};

const COLUMNS: &str = "p.id, p.watch_id, p.key_id, k.name, p.status, p.action, p.context, p.tags,
     p.webhook_url, p.created_at, p.expires_at, p.resolved_at, p.resolved_by, p.comment,
     p.kind, p.options, p.answer, p.risk, p.summary, p.on_timeout, p.required_approvals,
     CASE WHEN p.required_approvals > 1 THEN
       (SELECT json_group_array(json_object('by', v.voter, 'at', v.at, 'comment', v.comment))
        FROM (SELECT voter, at, comment FROM pause_votes WHERE pause_id = p.id
              ORDER BY at, voter) v)
     ELSE '[]' END,
     p.policy, p.reviewers, p.remind_every, p.remind_at, p.escalate_at, p.escalate_to,
     p.approved_context, p.response_schema, p.response, p.purged_at, p.purged_digests";
const FROM: &str = "pauses p JOIN api_keys k ON k.id = p.key_id";
/// Every column of a pause, from the pause and its key.
const SELECT_PAUSES: &str = concatcp!("SELECT ", COLUMNS, " FROM ", FROM);

fn conversion_error(detail: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, detail.into())
}

fn row_to_pause(row: &Row) -> rusqlite::Result<Pause> {
    let status: String = row.get(4)?;
    let tags: String = row.get(7)?;
    let kind: String = row.get(14)?;
    let options: Option<String> = row.get(15)?;
    let risk: Option<String> = row.get(17)?;
    let on_timeout: String = row.get(19)?;
    Ok(Pause {
        id: row.get(0)?,
        watch_id: row.get(1)?,
        key_id: row.get(2)?,
        key_name: row.get(3)?,
        kind: Kind::parse(&kind).ok_or_else(|| conversion_error(format!("kind {kind:?}")))?,
        status: Status::parse(&status)
            .ok_or_else(|| conversion_error(format!("status {status:?}")))?,
        action: row.get(5)?,
        options: options
            .map(|o| serde_json::from_str(&o))
            .transpose()
            .map_err(|e| conversion_error(format!("options: {e}")))?,
        context: row.get(6)?,
        tags: serde_json::from_str(&tags).map_err(|e| conversion_error(format!("tags: {e}")))?,
        risk: risk
            .map(|r| Risk::parse(&r).ok_or_else(|| conversion_error(format!("risk {r:?}"))))
            .transpose()?,
        summary: row.get(18)?,
        webhook_url: row.get(8)?,
        created_at: row.get(9)?,
        expires_at: row.get(10)?,
        on_timeout: OnTimeout::parse(&on_timeout)
            .ok_or_else(|| conversion_error(format!("on_timeout {on_timeout:?}")))?,
        resolved_at: row.get(11)?,
        resolved_by: row.get(12)?,
        comment: row.get(13)?,
        answer: row.get(16)?,
        required_approvals: row.get(20)?,
        approvals: serde_json::from_str(&row.get::<_, String>(21)?)
            .map_err(|e| conversion_error(format!("approvals: {e}")))?,
        routing: row_to_routing(row)?,
        approved_context: row.get(28)?,
        response_schema: row.get(29)?,
        response: row.get(30)?,
        purged_at: row.get(31)?,
        purged_digests: row.get(32)?,
    })
}

fn row_to_routing(row: &Row) -> rusqlite::Result<Option<Routing>> {
    let Some(policy) = row.get::<_, Option<String>>(22)? else {
        return Ok(None);
    };
    let reviewers: Option<String> = row.get(23)?;
    Ok(Some(Routing {
        policy,
        reviewers: reviewers
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| conversion_error(format!("reviewers: {e}")))?
            .unwrap_or_default(),
        remind_every: row.get(24)?,
        remind_at: row.get(25)?,
        escalate_at: row.get(26)?,
        escalate_to: row.get(27)?,
    }))
}

pub fn insert(conn: &Connection, p: &Pause) -> Result<i64> {
    let tags = serde_json::to_string(&p.tags).unwrap_or_else(|_| "[]".into());
    let options = p
        .options
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(crate::model::Error::internal)?;
    let routing = p.routing.as_ref();
    let reviewers = routing
        .map(|r| serde_json::to_string(&r.reviewers))
        .transpose()
        .map_err(crate::model::Error::internal)?;
    conn.prepare_cached(
        "INSERT INTO pauses (watch_id, key_id, status, action, context, tags, webhook_url,
                             created_at, expires_at, kind, options, risk, summary, on_timeout,
                             required_approvals, policy, reviewers, remind_every, remind_at,
                             escalate_at, escalate_to, response_schema)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18, ?19, ?20, ?21, ?22)",
    )?
    .execute(params![
        p.watch_id,
        p.key_id,
        p.status.as_str(),
        p.action,
        p.context,
        tags,
        p.webhook_url,
        p.created_at,
        p.expires_at,
        p.kind.as_str(),
        options,
        p.risk.map(Risk::as_str),
        p.summary,
        p.on_timeout.as_str(),
        p.required_approvals,
        routing.map(|r| &r.policy),
        reviewers,
        routing.and_then(|r| r.remind_every),
        routing.and_then(|r| r.remind_at),
        routing.and_then(|r| r.escalate_at),
        routing.and_then(|r| r.escalate_to.as_ref()),
        p.response_schema,
    ])?;
    let id = conn.last_insert_rowid();
    let mut tag_stmt =
        conn.prepare_cached("INSERT INTO pause_tags (tag, status, pause_id) VALUES (?1, ?2, ?3)")?;
    for tag in &p.tags {
        tag_stmt.execute(params![tag, p.status.as_str(), id])?;
    }
    Ok(id)
}

pub fn by_watch_id(conn: &Connection, watch_id: &str) -> Result<Option<Pause>> {
    Ok(conn
        .prepare_cached(concatcp!(SELECT_PAUSES, " WHERE p.watch_id = ?1"))?
        .query_row([watch_id], row_to_pause)
        .optional()?)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<Pause>> {
    Ok(conn
        .prepare_cached(concatcp!(SELECT_PAUSES, " WHERE p.id = ?1"))?
        .query_row([id], row_to_pause)
        .optional()?)
}

/// Limits of a listing that the rules work out before the query.
pub struct Bounds<'a> {
    /// Only this key's pauses.
    pub scope: Option<&'a str>,
    /// Only ids at or above this one.
    pub min_id: Option<i64>,
    /// Only ids below this one.
    pub end_id: Option<i64>,
}

/// `text` as a LIKE pattern that finds it anywhere (`%`, `_` and `\\` escaped).
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A page of pauses matching every filter, with at most one status: newest first,
/// or for `Cursor::After` oldest first (the caller turns it around).
pub fn list(
    conn: &Connection,
    bounds: &Bounds,
    q: &ListQuery,
    status: Option<Status>,
    limit: u32,
) -> Result<Vec<Pause>> {
    let Some(text) = q.text.as_deref().filter(|t| super::search::indexable(t)) else {
        return list_by_status(conn, bounds, q, status, limit, Source::Scan);
    };
    // Text search: the pauses the search index holds are found through it, the few
    // created since by reading them; the two pages merged.
    let indexed = super::search::indexed_up_to(conn)?;
    let mut items = list_from(
        conn,
        bounds,
        q,
        status,
        limit,
        Source::Index { indexed, text },
    )?;
    items.extend(list_by_status(
        conn,
        bounds,
        q,
        status,
        limit,
        Source::After(indexed),
    )?);
    Ok(merged(items, q.cursor, limit))
}

/// [`list_from`], for a tag without a status once per status, the pages merged: the
/// tag's pauses are keyed by status first (version 19), each status in id order.
fn list_by_status(
    conn: &Connection,
    bounds: &Bounds,
    q: &ListQuery,
    status: Option<Status>,
    limit: u32,
    source: Source,
) -> Result<Vec<Pause>> {
    if q.tag.is_none() || status.is_some() {
        return list_from(conn, bounds, q, status, limit, source);
    }
    let mut items = Vec::new();
    for status in Status::ALL {
        items.extend(list_from(conn, bounds, q, Some(status), limit, source)?);
    }
    Ok(merged(items, q.cursor, limit))
}

/// Pages read apart as one: in the listing's order (newest first, oldest first after
/// `Cursor::After`), the first `limit`.
pub fn merged(mut items: Vec<Pause>, cursor: Option<Cursor>, limit: u32) -> Vec<Pause> {
    match cursor {
        Some(Cursor::After(_)) => items.sort_by_key(|p| p.id),
        _ => items.sort_by_key(|p| std::cmp::Reverse(p.id)),
    }
    items.truncate(limit as usize);
    items
}

/// Where a listing reads its pauses from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// The pauses table (and, with a tag, the tag's index).
    Scan,
    /// The search index, for `text`, up to the pause id `indexed`.
    Index { indexed: i64, text: &'a str },
    /// The pauses table, past the pause id the search index holds.
    After(i64),
}

fn list_from(
    conn: &Connection,
    bounds: &Bounds,
    q: &ListQuery,
    status: Option<Status>,
    limit: u32,
    source: Source,
) -> Result<Vec<Pause>> {
    let (sql, args) = list_sql(bounds, q, status, limit, source);
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt
        .query_map(params_from_iter(args), row_to_pause)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(items)
}

/// The query of [`list_from`] and its arguments.
fn list_sql(
    bounds: &Bounds,
    q: &ListQuery,
    status: Option<Status>,
    limit: u32,
    source: Source,
) -> (String, Vec<SqlValue>) {
    let mut sql = String::new();
    let mut args: Vec<SqlValue> = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    // Order by the column an index already holds in order: the search index's rowid;
    // with a tag, the tag's own (tag, status, pause_id) key; otherwise the pause id.
    let order = match (source, &q.tag) {
        (Source::Index { .. }, tag) => {
            // CROSS JOIN keeps SQLite walking the search index first, in id order, and
            // looking each match up: never the other way round.
            sql.push_str(&format!(
                "SELECT {COLUMNS} FROM pause_search s CROSS JOIN pauses p ON p.id = s.rowid
                 CROSS JOIN api_keys k ON k.id = p.key_id"
            ));
            if let Some(tag) = tag {
                sql.push_str(
                    " CROSS JOIN pause_tags t
                     ON t.tag = ? AND t.status = p.status AND t.pause_id = p.id",
                );
                args.push(SqlValue::Text(tag.clone()));
            }
            "s.rowid"
        }
        (_, Some(tag)) => {
            sql.push_str(&format!(
                "{SELECT_PAUSES} JOIN pause_tags t ON t.pause_id = p.id AND t.tag = ?"
            ));
            args.push(SqlValue::Text(tag.clone()));
            "t.pause_id"
        }
        (_, None) => {
            sql.push_str(SELECT_PAUSES);
            "p.id"
        }
    };
    let mut condition = |sql: String, value: SqlValue| {
        conditions.push(sql);
        args.push(value);
    };
    for key_id in [bounds.scope, q.key_id.as_deref()].into_iter().flatten() {
        condition("p.key_id = ?".into(), SqlValue::Text(key_id.to_string()));
    }
    if let Some(status) = status {
        // With text, the unary `+` keeps SQLite on the search index, which gives the
        // order wanted, rather than the status index, whatever statistics it has. With
        // a tag, the tag's key holds the status.
        let column = match (source, &q.tag) {
            (Source::Index { .. }, _) => "+p.status",
            (_, Some(_)) => "t.status",
            (_, None) => "p.status",
        };
        condition(
            format!("{column} = ?"),
            SqlValue::Text(status.as_str().to_string()),
        );
    }
    match source {
        Source::Index { indexed, text } => {
            condition(format!("{order} <= ?"), SqlValue::Integer(indexed));
            // The index's own test (any case, any script), then exactly the scan's.
            let (test, value) = super::search::index_test(text);
            condition(test.into(), SqlValue::Text(value));
        }
        Source::After(indexed) => condition(format!("{order} > ?"), SqlValue::Integer(indexed)),
        Source::Scan => {}
    }
    if let Some(text) = &q.text {
        // LIKE is case-insensitive for ASCII and needs no copy of each action.
        condition(
            "p.action LIKE ? ESCAPE '\\'".into(),
            SqlValue::Text(contains_pattern(text)),
        );
    }
    if let Some(min) = bounds.min_id {
        condition(format!("{order} >= ?"), SqlValue::Integer(min));
    }
    if let Some(end) = bounds.end_id {
        condition(format!("{order} < ?"), SqlValue::Integer(end));
    }
    let ascending = match q.cursor {
        Some(Cursor::Before(id)) => {
            condition(format!("{order} < ?"), SqlValue::Integer(id));
            false
        }
        Some(Cursor::After(id)) => {
            condition(format!("{order} > ?"), SqlValue::Integer(id));
            true
        }
        None => false,
    };
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    let direction = if ascending { "ASC" } else { "DESC" };
    sql.push_str(&format!(" ORDER BY {order} {direction} LIMIT ?"));
    args.push(SqlValue::Integer(i64::from(limit)));
    (sql, args)
}

/// The newest pause's id.
pub fn last_id(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT max(id) FROM pauses")?
        .query_row([], |r| r.get(0))?)
}

/// The id of the first pause created at or after `at`.
pub fn first_id_created_from(conn: &Connection, at: Millis) -> Result<Option<i64>> {
    super::first_id_at_or_after(conn, "pauses", "created_at", at)
}

/// The pending pauses that are the user's to decide at `now` (not routed, or routed
/// to them), oldest first.
pub fn pending_oldest_first(
    conn: &Connection,
    limit: u32,
    user_id: i64,
    now: Millis,
) -> Result<Vec<Pause>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT_PAUSES} WHERE p.status = 'pending' AND {}
         ORDER BY p.id LIMIT ?1",
        super::routing::routed_to(2, 3)
    ))?;
    let items = stmt
        .query_map(params![limit, user_id, now], row_to_pause)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(items)
}

/// The watchId of the first pending pause after (`later`) or before the id, in queue
/// order (through the `pauses_status` index), among the user's to decide at `now`.
pub fn pending_beside(
    conn: &Connection,
    id: i64,
    later: bool,
    user_id: i64,
    now: Millis,
) -> Result<Option<String>> {
    let (compare, order) = if later { (">", "") } else { ("<", " DESC") };
    let sql = format!(
        "SELECT p.watch_id FROM pauses p WHERE p.status = 'pending' AND p.id {compare} ?1 AND {}
         ORDER BY p.id{order} LIMIT 1",
        super::routing::routed_to(2, 3)
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![id, user_id, now], |r| r.get(0))
        .optional()?)
}

/// How many pending pauses are the user's to decide at `now`.
pub fn count_pending_for(conn: &Connection, user_id: i64, now: Millis) -> Result<i64> {
    let sql = format!(
        "SELECT count(*) FROM pauses p WHERE p.status = 'pending' AND {}",
        super::routing::routed_to(1, 2)
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![user_id, now], |r| r.get(0))?)
}

/// How a pending pause ends, as stored.
pub struct Resolution<'a> {
    pub status: Status,
    pub at: Millis,
    pub by: &'a str,
    pub comment: Option<&'a str>,
    /// A question's answer.
    pub answer: Option<&'a str>,
    /// The reviewer's filled-in form (checked JSON text), if the pause has one.
    pub response: Option<&'a str>,
}

/// Moves a pending pause to a terminal status; false if it was not pending any more.
pub fn resolve(conn: &Connection, id: i64, end: &Resolution) -> Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE pauses SET status = ?2, resolved_at = ?3, resolved_by = ?4, comment = ?5,
                               answer = ?6, response = ?7
             WHERE id = ?1 AND status = 'pending'",
        )?
        .execute(params![
            id,
            end.status.as_str(),
            end.at,
            end.by,
            end.comment,
            end.answer,
            end.response
        ])?;
    Ok(changed == 1)
}

/// Moves a pending pause's deadline; false if it was not pending any more.
pub fn set_expiry(conn: &Connection, id: i64, expires_at: Millis) -> Result<bool> {
    let changed = conn
        .prepare_cached("UPDATE pauses SET expires_at = ?2 WHERE id = ?1 AND status = 'pending'")?
        .execute(params![id, expires_at])?;
    Ok(changed == 1)
}

/// A timer of pending pauses: its column and the partial index of the pending pauses
/// that have it set.
///
/// Every query of a timer names its index (`INDEXED BY`): without statistics SQLite
/// takes the status index for `status = 'pending'` instead, and reads and sorts every
/// pending pause each time a timer fires.
#[derive(Clone, Copy)]
enum Timer {
    Expiry,
    Reminder,
    Escalation,
}

impl Timer {
    fn column(self) -> &'static str {
        match self {
            Timer::Expiry => "expires_at",
            Timer::Reminder => "remind_at",
            Timer::Escalation => "escalate_at",
        }
    }

    fn index(self) -> &'static str {
        match self {
            Timer::Expiry => "pauses_pending_expiry",
            Timer::Reminder => "pauses_pending_reminders",
            Timer::Escalation => "pauses_pending_escalations",
        }
    }

    /// The condition of its partial index, word for word (so that SQLite may use it).
    fn pending_with(self, alias: &str) -> String {
        let column = self.column();
        format!("{alias}status = 'pending' AND {alias}{column} IS NOT NULL")
    }
}

pub fn due_for_expiry(conn: &Connection, now: Millis, limit: u32) -> Result<Vec<Pause>> {
    due_by(conn, Timer::Expiry, now, limit)
}

/// The first time a timer acts on a pending pause: a deadline, a reminder or an
/// escalation (each the first entry of its own partial index).
pub fn next_timer(conn: &Connection) -> Result<Option<Millis>> {
    let first = |t: Timer| {
        format!(
            "SELECT min({}) AS at FROM pauses INDEXED BY {} WHERE {}",
            t.column(),
            t.index(),
            t.pending_with("")
        )
    };
    let sql = format!(
        "SELECT min(at) FROM ({} UNION ALL {} UNION ALL {})",
        first(Timer::Expiry),
        first(Timer::Reminder),
        first(Timer::Escalation)
    );
    Ok(conn.prepare_cached(&sql)?.query_row([], |r| r.get(0))?)
}

/// Pending pauses whose next reminder is due, at most `limit`.
pub fn due_for_reminder(conn: &Connection, now: Millis, limit: u32) -> Result<Vec<Pause>> {
    due_by(conn, Timer::Reminder, now, limit)
}

/// Pending pauses whose escalation is due, at most `limit`.
pub fn due_for_escalation(conn: &Connection, now: Millis, limit: u32) -> Result<Vec<Pause>> {
    due_by(conn, Timer::Escalation, now, limit)
}

/// The pending pauses whose `timer` is due at `now`, soonest first, at most `limit`.
fn due_by(conn: &Connection, timer: Timer, now: Millis, limit: u32) -> Result<Vec<Pause>> {
    let column = timer.column();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM pauses p INDEXED BY {} JOIN api_keys k ON k.id = p.key_id
         WHERE {} AND p.{column} <= ?1
         ORDER BY p.{column} LIMIT ?2",
        timer.index(),
        timer.pending_with("p.")
    ))?;
    let due = stmt
        .query_map(params![now, limit], row_to_pause)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(due)
}

/// The next reminder of a pending pause (`None`: no more).
pub fn set_remind_at(conn: &Connection, id: i64, at: Option<Millis>) -> Result<()> {
    conn.prepare_cached("UPDATE pauses SET remind_at = ?2 WHERE id = ?1 AND status = 'pending'")?
        .execute(params![id, at])?;
    Ok(())
}

/// No escalation left (there was nothing to escalate to).
pub fn clear_escalation(conn: &Connection, id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE pauses SET escalate_at = NULL WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// An escalation done: the reviewers with the added group, and no escalation left.
pub fn set_escalated(conn: &Connection, id: i64, reviewers: &[String]) -> Result<()> {
    let reviewers = serde_json::to_string(reviewers).map_err(crate::model::Error::internal)?;
    conn.prepare_cached(
        "UPDATE pauses SET reviewers = ?2, escalate_at = NULL WHERE id = ?1 AND status = 'pending'",
    )?
    .execute(params![id, reviewers])?;
    Ok(())
}

pub struct IdempotencyRow {
    pub request_hash: Vec<u8>,
    pub pause_id: i64,
    pub created_at: Millis,
}

pub fn idempotency_get(
    conn: &Connection,
    key_id: &str,
    idem: &str,
) -> Result<Option<IdempotencyRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT request_hash, pause_id, created_at FROM idempotency WHERE key_id = ?1 AND idem_key = ?2",
        )?
        .query_row(params![key_id, idem], |r| {
            Ok(IdempotencyRow {
                request_hash: r.get(0)?,
                pause_id: r.get(1)?,
                created_at: r.get(2)?,
            })
        })
        .optional()?)
}

/// The pauses any key created with this HumanLayer Idempotency-Key (`hl:…`, which
/// `POST /api/pause` refuses), for a reviewer's lookup by `call_id` across keys.
pub fn idempotency_pause_ids(conn: &Connection, idem: &str) -> Result<Vec<i64>> {
    let mut stmt = conn
        .prepare_cached("SELECT pause_id FROM idempotency WHERE idem_key = ?1 AND idem_key LIKE 'hl:%' ORDER BY pause_id")?;
    let ids = stmt
        .query_map([idem], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(ids)
}

/// Records (or, after the window, replaces) the pause created for an Idempotency-Key.
pub fn idempotency_put(
    conn: &Connection,
    key_id: &str,
    idem: &str,
    request_hash: &[u8],
    pause_id: i64,
    now: Millis,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency (key_id, idem_key, request_hash, pause_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![key_id, idem, request_hash, pause_id, now])?;
    Ok(())
}

/// Through `idempotency_expiring`, whose condition it repeats word for word (how SQLite
/// knows it may use a partial index): the HumanLayer keys kept for good are never read.
const IDEMPOTENCY_PRUNE: &str =
    "DELETE FROM idempotency WHERE created_at < ?1 AND substr(idem_key, 1, 3) <> 'hl:'";

/// Forgets Idempotency-Keys older than `cutoff`, except the HumanLayer SDK's call ids
/// (`hl:` keys): `GET /humanlayer/v1/.../{call_id}` finds its pause by them for as long
/// as the pause lives.
pub fn idempotency_prune(conn: &Connection, cutoff: Millis) -> Result<()> {
    conn.execute(IDEMPOTENCY_PRUNE, [cutoff])?;
    Ok(())
}

/// Adds one to the key's count for `month`.
pub fn count_usage(conn: &Connection, key_id: &str, month: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO key_usage (key_id, month, count) VALUES (?1, ?2, 1)
         ON CONFLICT (key_id, month) DO UPDATE SET count = count + 1",
    )?
    .execute(params![key_id, month])?;
    Ok(())
}

/// Pauses created by a key in a month (`YYYY-MM`), this transaction's included.
pub fn usage(conn: &Connection, key_id: &str, month: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count FROM key_usage WHERE key_id = ?1 AND month = ?2")?
        .query_row(params![key_id, month], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// The context as a reviewer edited it (`None`: the agent's again).
pub fn set_approved_context(conn: &Connection, id: i64, context: Option<&str>) -> Result<()> {
    conn.prepare_cached(
        "UPDATE pauses SET approved_context = ?2 WHERE id = ?1 AND status = 'pending'",
    )?
    .execute(params![id, context])?;
    Ok(())
}

/// The form's answer the approvals of a pending quorum are for.
pub fn set_pending_response(conn: &Connection, id: i64, response: &str) -> Result<()> {
    conn.prepare_cached("UPDATE pauses SET response = ?2 WHERE id = ?1 AND status = 'pending'")?
        .execute(params![id, response])?;
    Ok(())
}

/// Drops the approvals given so far (the content changed); returns how many.
pub fn clear_votes(conn: &Connection, pause_id: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM pause_votes WHERE pause_id = ?1")?
        .execute([pause_id])?)
}

/// Records one reviewer's approval; false when they had approved it already (the
/// primary key is the pause and the reviewer).
pub fn add_vote(
    conn: &Connection,
    pause_id: i64,
    voter: &str,
    at: Millis,
    comment: Option<&str>,
) -> Result<bool> {
    let added = conn
        .prepare_cached(
            "INSERT INTO pause_votes (pause_id, voter, at, comment) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (pause_id, voter) DO NOTHING",
        )?
        .execute(params![pause_id, voter, at, comment])?;
    Ok(added == 1)
}

/// Decided pauses resolved before `before` whose content is still kept, oldest first.
pub fn unpurged_before(conn: &Connection, before: Millis, limit: u32) -> Result<Vec<Pause>> {
    let mut stmt = conn.prepare_cached(concatcp!(
        SELECT_PAUSES,
        "
         WHERE p.purged_at IS NULL AND p.resolved_at IS NOT NULL AND p.resolved_at < ?1
         ORDER BY p.resolved_at LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(params![before, limit], row_to_pause)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Removes a decided pause's content, keeping `digests` (JSON) in its place.
pub fn purge(conn: &Connection, id: i64, now: Millis, digests: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE pauses SET context = NULL, approved_context = NULL, summary = NULL,
                answer = NULL, response = NULL, purged_at = ?2, purged_digests = ?3
         WHERE id = ?1 AND status != 'pending'",
    )?
    .execute(params![id, now, digests])?;
    // Webhook bodies carried the context too.
    conn.prepare_cached(
        "UPDATE outbox SET payload = '{\"purged\":true}'
         WHERE watch_id = (SELECT watch_id FROM pauses WHERE id = ?1) AND state != 'pending'",
    )?
    .execute([id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::query_plan;

    /// The queries run by timers and housekeeping read through their own indexes: their
    /// cost follows what is due, never every pause or key ever stored.
    #[test]
    fn timers_and_the_prune_read_through_their_indexes() {
        let conn = crate::db::in_memory().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            query_plan(&conn, IDEMPOTENCY_PRUNE),
            ["SEARCH idempotency USING INDEX idempotency_expiring (created_at<?)"]
        );
        for timer in [Timer::Expiry, Timer::Reminder, Timer::Escalation] {
            assert!(due_by(&conn, timer, 0, 10)
                .unwrap_or_else(|e| panic!("{e}"))
                .is_empty());
        }
        assert_eq!(next_timer(&conn).unwrap_or_else(|e| panic!("{e}")), None);
    }

    /// Version 19: a tag and a status read the pauses shown through the tag's key, in
    /// order, whatever the other filters and cursors; keyed by the tag alone, a status
    /// none of the tag's pauses had walked them all.
    #[test]
    fn a_tag_and_a_status_read_through_the_tags_key() {
        let conn = crate::db::in_memory().unwrap_or_else(|e| panic!("{e}"));
        let bounds = Bounds {
            scope: None,
            min_id: Some(1),
            end_id: None,
        };
        let search = Source::Index {
            indexed: 10,
            text: "deploy",
        };
        for (key_id, cursor) in [
            (None, None),
            (Some("key_a".to_string()), Some(Cursor::Before(50))),
            (None, Some(Cursor::After(50))),
        ] {
            let q = ListQuery {
                tag: Some("prod".into()),
                key_id,
                cursor,
                ..ListQuery::default()
            };
            for (source, first) in [
                (
                    Source::Scan,
                    "SEARCH t USING PRIMARY KEY (tag=? AND status=? AND pause_id",
                ),
                (
                    Source::After(10),
                    "SEARCH t USING PRIMARY KEY (tag=? AND status=? AND pause_id",
                ),
                (search, "SCAN s VIRTUAL TABLE"),
            ] {
                let plan = query_plan(
                    &conn,
                    &list_sql(&bounds, &q, Some(Status::Pending), 50, source).0,
                );
                // (A key filter probes its one key first.)
                let walk = plan.iter().find(|step| !step.starts_with("SEARCH k "));
                assert!(walk.is_some_and(|step| step.starts_with(first)), "{plan:?}");
                // (The votes' subquery that follows sorts a pause's own few.)
                assert!(
                    !plan
                        .iter()
                        .take_while(|step| !step.starts_with("CORRELATED"))
                        .any(|step| step.contains("TEMP B-TREE")),
                    "{plan:?}"
                );
                if let Source::Index { .. } = source {
                    assert!(
                        plan.iter().any(|step| step.starts_with(
                            "SEARCH t USING PRIMARY KEY (tag=? AND status=? AND pause_id=?)"
                        )),
                        "{plan:?}"
                    );
                }
            }
        }
    }
}
