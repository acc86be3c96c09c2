//! Pauses: creating one, reading and listing them, deciding, cancelling and expiring.

use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;

use super::context;
use super::outbox::{self, Channels};
use super::{audit, Actor, Error, KeyRef, Principal, Result, Status};
use crate::clock::{self, Millis};
use crate::db::{self, Tx};
use crate::model::events::Event;
pub use crate::model::pause::{Cursor, ListQuery, Pause};
use crate::secret;

pub const MAX_ACTION_BYTES: usize = 2_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 64;
pub const MAX_COMMENT_BYTES: usize = 4_000;
pub const MAX_URL_BYTES: usize = 2_048;
pub const MAX_TIMEOUT_SECS: i64 = 30 * 24 * 3600;
pub const IDEMPOTENCY_WINDOW_MS: Millis = 24 * 3600 * 1000;
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;
pub const MAX_LIST_LIMIT: u32 = 200;
pub const DEFAULT_LIST_LIMIT: u32 = 50;

/// The body of `POST /api/pause`, as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateRequest {
    pub action: String,
    /// Kept as sent: [`context::normalise`] refuses duplicate keys and keeps digits.
    #[serde(default)]
    pub context: Option<Box<RawValue>>,
    #[serde(default)]
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub timeout_seconds: Option<i64>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// A create request that passed every check, ready to store.
#[derive(Debug, Clone, Serialize)]
pub struct NewPause {
    action: String,
    context: Option<String>,
    webhook_url: Option<String>,
    timeout_seconds: Option<i64>,
    tags: Vec<String>,
    #[serde(skip)]
    idempotency: Option<Idempotency>,
}

/// An `Idempotency-Key` and the digest of the request it was sent with.
#[derive(Debug, Clone)]
struct Idempotency {
    key: String,
    fingerprint: Vec<u8>,
}

/// The configurable limits of a create request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_context_bytes: usize,
}

pub fn validate_webhook_url(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.len() > MAX_URL_BYTES {
        return Err(Error::validation(format!(
            "webhookUrl is longer than {MAX_URL_BYTES} bytes"
        )));
    }
    let url = url::Url::parse(raw)
        .map_err(|e| Error::validation(format!("webhookUrl is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::validation(
            "webhookUrl must be an http:// or https:// URL with a host",
        ));
    }
    Ok(url.to_string())
}

fn validate_tags(tags: Vec<String>) -> Result<Vec<String>> {
    if tags.len() > MAX_TAGS {
        return Err(Error::validation(format!(
            "at most {MAX_TAGS} tags are allowed"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() {
            return Err(Error::validation("tags must not be empty"));
        }
        if tag.chars().count() > MAX_TAG_CHARS || tag.chars().any(char::is_control) {
            return Err(Error::validation(format!(
                "each tag must be at most {MAX_TAG_CHARS} characters, without control characters"
            )));
        }
        if !out.iter().any(|t| t == tag) {
            out.push(tag.to_string());
        }
    }
    Ok(out)
}

impl CreateRequest {
    /// Checks the request; `idempotency_key` is the header, if sent.
    pub fn validate(self, limits: Limits, idempotency_key: Option<&str>) -> Result<NewPause> {
        if self.action.trim().is_empty() {
            return Err(Error::validation("action must not be empty"));
        }
        if crate::text::looks_empty(&self.action) {
            return Err(Error::validation(
                "action must contain visible text, not only invisible characters",
            ));
        }
        if self.action.len() > MAX_ACTION_BYTES {
            return Err(Error::validation(format!(
                "action is longer than {MAX_ACTION_BYTES} bytes"
            )));
        }
        let context = context::normalise(self.context.as_deref(), limits.max_context_bytes)?;
        if let Some(t) = self.timeout_seconds {
            if !(1..=MAX_TIMEOUT_SECS).contains(&t) {
                return Err(Error::validation(format!(
                    "timeoutSeconds must be from 1 to {MAX_TIMEOUT_SECS} (30 days)"
                )));
            }
        }
        let mut new = NewPause {
            action: self.action,
            context,
            webhook_url: self
                .webhook_url
                .as_deref()
                .map(validate_webhook_url)
                .transpose()?,
            timeout_seconds: self.timeout_seconds,
            tags: validate_tags(self.tags.unwrap_or_default())?,
            idempotency: None,
        };
        if let Some(key) = idempotency_key {
            // The digest of the request as understood, so that whitespace or an
            // explicit `null` does not make a retry look like a different request.
            let canonical = serde_json::to_vec(&new).map_err(Error::internal)?;
            new.idempotency = Some(Idempotency {
                key: validate_idempotency_key(key)?,
                fingerprint: secret::sha256(&canonical),
            });
        }
        Ok(new)
    }
}

impl NewPause {
    pub fn webhook_url(&self) -> Option<&str> {
        self.webhook_url.as_deref()
    }
}

fn validate_idempotency_key(raw: &str) -> Result<String> {
    if raw.is_empty()
        || raw.len() > MAX_IDEMPOTENCY_KEY_BYTES
        || !raw.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err(Error::validation(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} printable ASCII characters"
        )));
    }
    Ok(raw.to_string())
}

/// `wch_`, the creation time in hex, then 22 random base62 characters: unguessable,
/// and roughly time-ordered so the unique index grows at its end.
fn new_watch_id(now: Millis) -> String {
    format!("wch_{:011x}{}", now.max(0), secret::base62(22))
}

/// The outcome of a create: the pause, and whether it is an earlier one returned again
/// for a repeated `Idempotency-Key`.
pub struct Created {
    pub pause: Pause,
    pub replayed: bool,
}

/// Creates a pause for an agent key, honouring `Idempotency-Key` and the key's monthly
/// limit.
pub fn create(
    tx: &mut Tx,
    now: Millis,
    principal: &Principal,
    monthly_limit: Option<i64>,
    new: NewPause,
    channels: &Channels,
) -> Result<Created> {
    let Principal::Agent(key) = principal else {
        return Err(Error::Forbidden(
            "only agent keys create pauses; a reviewer key could approve its own requests".into(),
        ));
    };
    if let Some(idem) = &new.idempotency {
        if let Some(prior) = db::pauses::idempotency_get(tx, &key.id, &idem.key)? {
            if now - prior.created_at < IDEMPOTENCY_WINDOW_MS {
                if !secret::constant_time_eq(&prior.request_hash, &idem.fingerprint) {
                    return Err(Error::IdempotencyConflict);
                }
                let pause = db::pauses::by_id(tx, prior.pause_id)?
                    .ok_or_else(|| Error::internal("idempotency row without its pause"))?;
                return Ok(Created {
                    pause,
                    replayed: true,
                });
            }
        }
    }

    // Count first; over the limit, the refusal rolls the count back with the rest.
    let used = db::pauses::count_usage(tx, &key.id, &clock::month_of(now))?;
    if let Some(limit) = monthly_limit.filter(|limit| used > *limit) {
        let wait_ms = clock::start_of_next_month(now) - now;
        return Err(Error::QuotaExceeded {
            limit,
            retry_after_secs: (wait_ms.max(0) as u64).div_ceil(1000),
        });
    }

    let new_idempotency = new.idempotency;
    let pause = Pause {
        id: 0,
        watch_id: new_watch_id(now),
        key_id: key.id.clone(),
        key_name: key.name.clone(),
        status: Status::Pending,
        action: new.action,
        context: new.context,
        tags: new.tags,
        webhook_url: new.webhook_url,
        created_at: now,
        expires_at: new.timeout_seconds.map(|s| now + s * 1000),
        resolved_at: None,
        resolved_by: None,
        comment: None,
    };
    let id = db::pauses::insert(tx, &pause)?;
    if let Some(idem) = &new_idempotency {
        db::pauses::idempotency_put(tx, &key.id, &idem.key, &idem.fingerprint, id, now)?;
    }
    audit::record(
        tx,
        now,
        &principal.actor(),
        "pause.created",
        Some(&pause.watch_id),
        json!({ "key": key.name, "tags": pause.tags, "expiresAt": pause.expires_at.map(clock::rfc3339) }),
    )?;
    tx.emit(Event::PauseCreated {
        watch_id: pause.watch_id.clone(),
        expires_at: pause.expires_at,
    });
    let pause = Pause { id, ..pause };
    outbox::pause_created(tx, now, &pause, channels)?;
    Ok(Created {
        pause,
        replayed: false,
    })
}

/// One pause, if the principal may see it (an agent key sees only its own).
pub fn get(conn: &rusqlite::Connection, principal: &Principal, watch_id: &str) -> Result<Pause> {
    let pause = db::pauses::by_watch_id(conn, watch_id)?.ok_or_else(|| not_found(watch_id))?;
    visible(principal, &pause)?;
    Ok(pause)
}

/// How many pauses wait for a decision (the page title and the nav show it).
pub fn pending_count(conn: &rusqlite::Connection) -> Result<i64> {
    db::stats::count_pending(conn)
}

/// What the About page counts: pauses, pending ones, active keys, users, audit entries.
pub fn totals(conn: &rusqlite::Connection) -> Result<Vec<(&'static str, i64)>> {
    db::stats::totals(conn)
}

/// Whether the principal may see the pause: an agent key sees only its own; to any
/// other key a pause it may not see does not exist.
pub fn visible(principal: &Principal, pause: &Pause) -> Result<()> {
    if principal.scope().is_none_or(|k| k == pause.key_id) {
        Ok(())
    } else {
        Err(not_found(&pause.watch_id))
    }
}

fn not_found(watch_id: &str) -> Error {
    Error::NotFound(format!("no pause with watchId {watch_id}"))
}

pub struct Page {
    /// Newest first.
    pub items: Vec<Pause>,
    /// The next page of older pauses.
    pub next_cursor: Option<String>,
    /// The page of newer pauses before this one.
    pub prev_cursor: Option<String>,
}

pub fn encode_cursor(cursor: Cursor) -> String {
    let text = match cursor {
        Cursor::Before(id) => format!("p{id}"),
        Cursor::After(id) => format!("n{id}"),
    };
    secret::b64url(text.as_bytes())
}

pub fn decode_cursor(cursor: &str) -> Result<Cursor> {
    let text = secret::b64url_decode(cursor).and_then(|b| String::from_utf8(b).ok());
    let parsed = text.as_deref().and_then(|t| {
        let (kind, id) = t.split_at_checked(1)?;
        let id: i64 = id.parse().ok()?;
        match kind {
            "p" => Some(Cursor::Before(id)),
            "n" => Some(Cursor::After(id)),
            _ => None,
        }
    });
    parsed.ok_or_else(|| {
        Error::validation("cursor is not valid; pass the nextCursor of a previous page")
    })
}

/// Newest first, `limit` at a time; cursors stay valid as new pauses arrive.
pub fn list(conn: &rusqlite::Connection, principal: &Principal, q: &ListQuery) -> Result<Page> {
    // Creation times rise with ids, so a date range is an id range: two index probes
    // instead of a sort.
    let min_id = match q.created_from {
        Some(from) => match db::pauses::first_id_created_from(conn, from)? {
            Some(id) => Some(id),
            None => {
                return Ok(Page {
                    items: Vec::new(),
                    next_cursor: None,
                    prev_cursor: None,
                })
            }
        },
        None => None,
    };
    let end_id = match q.created_before {
        Some(before) => db::pauses::first_id_created_from(conn, before)?,
        None => None,
    };
    let bounds = db::pauses::Bounds {
        scope: principal.scope(),
        min_id,
        end_id,
    };
    let limit = q.limit as usize;
    // One query per status, each walking its own (status, id) index in order, merged
    // here: SQLite would otherwise collect every match of `status IN (...)` and sort.
    let mut items = Vec::new();
    if q.statuses.is_empty() {
        items = db::pauses::list(conn, &bounds, q, None, q.limit + 1)?;
    } else {
        for status in &q.statuses {
            items.extend(db::pauses::list(
                conn,
                &bounds,
                q,
                Some(*status),
                q.limit + 1,
            )?);
        }
        match q.cursor {
            Some(Cursor::After(_)) => items.sort_by_key(|p| p.id),
            _ => items.sort_by_key(|p| std::cmp::Reverse(p.id)),
        }
        items.truncate(limit + 1);
    }
    let (has_older, has_newer) = match q.cursor {
        Some(Cursor::After(_)) => {
            let more = items.len() > limit;
            items.truncate(limit);
            items.reverse();
            (true, more)
        }
        before => {
            let more = items.len() > limit;
            items.truncate(limit);
            (more, before.is_some())
        }
    };
    let next_cursor = has_older
        .then(|| items.last().map(|p| encode_cursor(Cursor::Before(p.id))))
        .flatten();
    let prev_cursor = has_newer
        .then(|| items.first().map(|p| encode_cursor(Cursor::After(p.id))))
        .flatten();
    Ok(Page {
        items,
        next_cursor,
        prev_cursor,
    })
}

/// The queue: pending pauses, oldest waiting first, and how many are pending in all.
pub fn queue(conn: &rusqlite::Connection, limit: u32) -> Result<(Vec<Pause>, i64)> {
    Ok((
        db::pauses::pending_oldest_first(conn, limit)?,
        pending_count(conn)?,
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    pub fn parse(text: &str) -> Result<Decision> {
        match text {
            "approved" => Ok(Decision::Approved),
            "rejected" => Ok(Decision::Rejected),
            _ => Err(Error::validation(
                "decision must be \"approved\" or \"rejected\"",
            )),
        }
    }
    fn status(self) -> Status {
        match self {
            Decision::Approved => Status::Approved,
            Decision::Rejected => Status::Rejected,
        }
    }
}

fn clean_comment(comment: Option<String>) -> Result<Option<String>> {
    let comment = comment
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if comment
        .as_ref()
        .is_some_and(|c| c.len() > MAX_COMMENT_BYTES)
    {
        return Err(Error::validation(format!(
            "comment is longer than {MAX_COMMENT_BYTES} bytes"
        )));
    }
    Ok(comment)
}

/// Loads a pause for a change, turning it `expired` first if its time has passed.
fn pending_for_change(
    tx: &mut Tx,
    now: Millis,
    watch_id: &str,
    may_see: impl Fn(&Pause) -> bool,
) -> Result<Pause> {
    let pause = db::pauses::by_watch_id(tx, watch_id)?
        .filter(|p| may_see(p))
        .ok_or_else(|| not_found(watch_id))?;
    if pause.status.is_terminal() {
        return Err(Error::AlreadyResolved(pause.status));
    }
    // Past its time but not yet swept by the expiry timer: it is expired all the same
    // (the timer records it within a second).
    if pause.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::AlreadyResolved(Status::Expired));
    }
    Ok(pause)
}

/// How a pending pause ends: who, what, and which channels hear of it.
struct Ending<'a> {
    status: Status,
    /// When it ended: now, or for an expiry the deadline that passed.
    at: Millis,
    by: &'a str,
    comment: Option<String>,
    actor: &'a Actor,
    channels: &'a Channels,
}

fn finish(tx: &mut Tx, now: Millis, pause: Pause, end: Ending) -> Result<Pause> {
    let Ending {
        status,
        at,
        by,
        comment,
        actor,
        channels,
    } = end;
    if !db::pauses::resolve(tx, pause.id, status, at, by, comment.as_deref())? {
        // Another process changed it between our read and our write.
        let current = db::pauses::by_id(tx, pause.id)?.map_or(status, |p| p.status);
        return Err(Error::AlreadyResolved(current));
    }
    audit::record(
        tx,
        now,
        actor,
        &format!("pause.{status}"),
        Some(&pause.watch_id),
        json!({ "by": by, "comment": comment }),
    )?;
    tx.emit(Event::PauseResolved {
        watch_id: pause.watch_id.clone(),
        status,
    });
    let pause = Pause {
        status,
        resolved_at: Some(at),
        resolved_by: Some(by.to_string()),
        comment,
        ..pause
    };
    outbox::pause_resolved(tx, now, &pause, channels)?;
    Ok(pause)
}

/// Approves or rejects a pending pause. The one path for every way of deciding: the
/// web page, reviewer keys and mail links all end here. Exactly one decision wins.
pub fn decide(
    tx: &mut Tx,
    now: Millis,
    principal: &Principal,
    watch_id: &str,
    decision: Decision,
    comment: Option<String>,
    channels: &Channels,
) -> Result<Pause> {
    let Some(reviewer) = principal.reviewer() else {
        return Err(Error::Forbidden(
            "agent keys cannot decide pauses; use a reviewer key or the web page".into(),
        ));
    };
    let comment = clean_comment(comment)?;
    let pause = pending_for_change(tx, now, watch_id, |_| true)?;
    let by = reviewer.email.clone();
    let actor = principal.actor();
    let end = Ending {
        status: decision.status(),
        at: now,
        by: &by,
        comment,
        actor: &actor,
        channels,
    };
    finish(tx, now, pause, end)
}

/// Withdraws a pending pause: by the agent key that created it, or by an admin.
pub fn cancel(
    tx: &mut Tx,
    now: Millis,
    principal: &Principal,
    watch_id: &str,
    reason: Option<String>,
    channels: &Channels,
) -> Result<Pause> {
    let reason = clean_comment(reason)?;
    if principal.reviewer().is_some() && !principal.is_admin() {
        return Err(Error::Forbidden(
            "only the agent key that created a pause, or an admin, can cancel it".into(),
        ));
    }
    let pause = pending_for_change(tx, now, watch_id, |p| {
        principal.scope().is_none_or(|k| k == p.key_id)
    })?;
    let by = match principal {
        Principal::Agent(KeyRef { name, .. }) => name.clone(),
        _ => principal
            .reviewer()
            .map(|r| r.email.clone())
            .unwrap_or_default(),
    };
    let actor = principal.actor();
    let end = Ending {
        status: Status::Cancelled,
        at: now,
        by: &by,
        comment: reason,
        actor: &actor,
        channels,
    };
    finish(tx, now, pause, end)
}

/// Expires a pause as of its deadline; the audit log and the notifications carry
/// `now`, the time it was recorded (the audit log only moves forward in time).
fn expire_one(
    tx: &mut Tx,
    now: Millis,
    pause: &Pause,
    at: Millis,
    channels: &Channels,
) -> Result<()> {
    let end = Ending {
        status: Status::Expired,
        at,
        by: "system",
        comment: None,
        actor: &Actor::System,
        channels,
    };
    finish(tx, now, pause.clone(), end).map(|_| ())
}

/// Expires every pending pause whose time has come (at most `batch` of them) and
/// returns how many it expired.
pub fn expire_due(tx: &mut Tx, now: Millis, batch: u32, channels: &Channels) -> Result<usize> {
    let due = db::pauses::due_for_expiry(tx, now, batch)?;
    for pause in &due {
        let at = pause.expires_at.unwrap_or(now);
        expire_one(tx, now, pause, at, channels)?;
    }
    Ok(due.len())
}

/// Forgets Idempotency-Keys older than `cutoff` (their 24 hours are over).
pub fn forget_idempotency_before(tx: &mut Tx, cutoff: Millis) -> Result<()> {
    db::pauses::idempotency_prune(tx, cutoff)
}

/// When the next pending pause expires, if any does.
pub fn next_expiry(conn: &rusqlite::Connection) -> Result<Option<Millis>> {
    db::pauses::next_expiry(conn)
}
