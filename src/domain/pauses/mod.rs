//! Pauses: checking a request and reading one here; creating one in `create`; listing
//! them in `list`; deciding, answering and cancelling them in `decide` (what an
//! approval may carry in `approval`); extending them in `extend`; what the timer does
//! (expiry, reminders, escalation) in `timers`.

mod approval;
mod create;
mod decide;
mod extend;
mod list;
mod timers;

pub use super::rules::Remember;
pub use approval::{check_edit_not_left, Verdict};
pub use create::{create, Created};
pub use decide::{
    allowed_outside, answer, cancel, decide, decide_in_bulk, decide_outside, is_owner, reply,
    response_from_page, Decision, Outside, Reply,
};
pub use extend::extend;
pub use list::{decode_cursor, list, pending_beside, queue, SHORT_TEXT_WINDOW};
pub use timers::{expire_due, forget_idempotency_before, next_timer, nudge_due};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::context;
use super::{Error, Kind, OnTimeout, Principal, Result, Risk};
use crate::clock::Millis;
use crate::db;
pub use crate::model::pause::{Cursor, ListQuery, Pause, Routing};
use crate::secret;

pub const MAX_ACTION_BYTES: usize = 2_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 64;
pub const MAX_SUMMARY_BYTES: usize = 1_000;
pub const MAX_COMMENT_BYTES: usize = 4_000;
pub const MAX_ANSWER_BYTES: usize = 4_000;
pub const MAX_OPTIONS: usize = 20;
pub const MAX_OPTION_CHARS: usize = 200;
pub const MAX_URL_BYTES: usize = 2_048;
pub const MAX_TIMEOUT_SECS: i64 = 30 * 24 * 3600;
pub const IDEMPOTENCY_WINDOW_MS: Millis = 24 * 3600 * 1000;
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;
pub const MAX_LIST_LIMIT: u32 = 200;
pub const MAX_REQUIRED_APPROVALS: u32 = 10;
pub const DEFAULT_LIST_LIMIT: u32 = 50;

/// The body of `POST /api/pause`, as sent.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateRequest {
    /// What the agent wants to do, or for a question the question (at most 2,000 bytes).
    #[schema(
        min_length = 1,
        max_length = 2000,
        example = "Deploy v2.4.1 to production"
    )]
    pub action: String,
    /// Any JSON value the reviewer sees beside the action (at most 256 KiB by default).
    /// Kept as sent: [`context::normalise`] refuses duplicate keys and keeps digits.
    #[serde(default)]
    #[schema(value_type = Option<serde_json::Value>, example = json!({"environment": "prod"}))]
    pub context: Option<Box<RawValue>>,
    /// Where the decision is POSTed, signed; overrides the key's webhook.
    #[serde(default)]
    #[schema(format = "uri", max_length = 2048)]
    pub webhook_url: Option<String>,
    /// Seconds until the pause expires, 1 to 30 days; none: the server's default.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 2592000)]
    pub timeout_seconds: Option<i64>,
    /// Up to 20 tags of at most 64 characters, for filtering and routing.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
    /// `"decision"` (the default) or `"question"`.
    #[serde(default)]
    #[schema(value_type = Option<Kind>)]
    pub kind: Option<String>,
    /// A question's choices, or for a decision the reasons the reviewer may pick when
    /// rejecting: 1 to 20 distinct texts of at most 200 characters.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 20)]
    pub options: Option<Vec<String>>,
    /// The agent's own rating of the action's risk, shown as a badge beside it.
    #[serde(default)]
    #[schema(value_type = Option<Risk>)]
    pub risk: Option<String>,
    /// What will happen if approved, in plain text (at most 1,000 bytes), shown under
    /// the action.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 1000,
        example = "Rolls out v2.4.1 to the 12 production hosts; the old version stays for rollback."
    )]
    pub summary: Option<String>,
    /// What happens when the timeout passes: `expire` (the default), or the timeout
    /// decides, `reject` or `approve` (a decision only, and only with a timeout).
    #[serde(default)]
    #[schema(value_type = Option<OnTimeout>)]
    pub on_timeout: Option<String>,
    /// How many distinct reviewers must approve (1 to 10, default 1). Any rejection
    /// rejects at once; a reviewer approves once. Decisions only.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10, example = 2)]
    pub required_approvals: Option<i64>,
    /// A form the reviewer fills in: a small subset of JSON Schema (an object of
    /// string, number, integer, boolean and enum fields, with `required`, `minimum`,
    /// `maximum`, `maxLength`, `title` and `description`; at most 16 KiB). Approving (or
    /// answering a question) then needs a `response` that meets it. See the README's
    /// "Forms".
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"type": "object",
        "properties": {"amount": {"type": "number", "maximum": 100, "title": "Refund (EUR)"}},
        "required": ["amount"]}))]
    pub response_schema: Option<Box<RawValue>>,
}

/// A create request that passed every check, ready to store.
#[derive(Debug, Clone, Serialize)]
pub struct NewPause {
    action: String,
    context: Option<String>,
    webhook_url: Option<String>,
    timeout_seconds: Option<i64>,
    tags: Vec<String>,
    // Left out of the Idempotency-Key digest for a decision, so that a retry of a
    // request made before questions existed still matches its digest.
    #[serde(skip_serializing_if = "is_decision")]
    kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<Vec<String>>,
    // Left out when absent, so the digest of an older request still matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    risk: Option<Risk>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    // Left out when absent, so the digest of an older request still matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    on_timeout: Option<OnTimeout>,
    #[serde(skip_serializing_if = "Option::is_none")]
    required_approvals: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_schema: Option<String>,
    #[serde(skip)]
    idempotency: Option<Idempotency>,
}

fn is_decision(kind: &Kind) -> bool {
    *kind == Kind::Decision
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
    /// `serve --default-timeout`: the timeout of a pause created without
    /// `timeoutSeconds`; `None`, the default, lets such a pause wait for ever.
    pub default_timeout_secs: Option<i64>,
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

pub(crate) fn validate_tags(tags: Vec<String>) -> Result<Vec<String>> {
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

/// Options: a question's choices, or a decision's reasons to reject. 1 to
/// `MAX_OPTIONS` distinct, visible, short strings, trimmed.
fn validate_options(options: Option<Vec<String>>) -> Result<Option<Vec<String>>> {
    let Some(options) = options else {
        return Ok(None);
    };
    if options.is_empty() || options.len() > MAX_OPTIONS {
        return Err(Error::validation(format!(
            "options must be a list of 1 to {MAX_OPTIONS} choices"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(options.len());
    for option in options {
        let option = option.trim();
        if crate::text::looks_empty(option) {
            return Err(Error::validation("options must not be empty"));
        }
        if option.chars().count() > MAX_OPTION_CHARS || option.chars().any(char::is_control) {
            return Err(Error::validation(format!(
                "each option must be at most {MAX_OPTION_CHARS} characters, without control characters"
            )));
        }
        if out.iter().any(|o| o == option) {
            return Err(Error::validation(format!(
                "options must be distinct; {option:?} is given twice"
            )));
        }
        out.push(option.to_string());
    }
    Ok(Some(out))
}

/// The risk as sent: one of the four words.
fn validate_risk(risk: Option<&str>) -> Result<Option<Risk>> {
    risk.map(|text| {
        Risk::parse(text).ok_or_else(|| {
            Error::validation("risk must be \"low\", \"medium\", \"high\" or \"critical\"")
        })
    })
    .transpose()
}

/// `requiredApprovals`: 1 to `MAX_REQUIRED_APPROVALS`, and above 1 only for a decision.
fn validate_required_approvals(n: Option<i64>, kind: Kind) -> Result<Option<u32>> {
    let Some(n) = n else {
        return Ok(None);
    };
    let n = u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_REQUIRED_APPROVALS).contains(n))
        .ok_or_else(|| {
            Error::validation(format!(
                "requiredApprovals must be from 1 to {MAX_REQUIRED_APPROVALS}"
            ))
        })?;
    if n > 1 && kind == Kind::Question {
        return Err(Error::validation(
            "a question is answered once: requiredApprovals above 1 is for decisions",
        ));
    }
    Ok(Some(n))
}

/// The summary: visible text of at most `MAX_SUMMARY_BYTES`, trimmed.
fn validate_summary(summary: Option<String>) -> Result<Option<String>> {
    let Some(summary) = summary else {
        return Ok(None);
    };
    let summary = summary.trim();
    if crate::text::looks_empty(summary) {
        return Err(Error::validation(
            "summary must contain visible text when given",
        ));
    }
    if summary.len() > MAX_SUMMARY_BYTES {
        return Err(Error::validation(format!(
            "summary is longer than {MAX_SUMMARY_BYTES} bytes"
        )));
    }
    Ok(Some(summary.to_string()))
}

/// `onTimeout` as sent: one of the three words; a question can only expire.
fn validate_on_timeout(raw: Option<&str>, kind: Kind) -> Result<Option<OnTimeout>> {
    let Some(text) = raw else {
        return Ok(None);
    };
    let on_timeout = OnTimeout::parse(text).ok_or_else(|| {
        Error::validation("onTimeout must be \"expire\", \"reject\" or \"approve\"")
    })?;
    if kind == Kind::Question && on_timeout != OnTimeout::Expire {
        return Err(Error::validation(
            "a question cannot be answered by its timeout: onTimeout must be \"expire\"",
        ));
    }
    Ok(Some(on_timeout))
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
        let kind = match self.kind.as_deref() {
            None => Kind::Decision,
            Some(text) => Kind::parse(text)
                .ok_or_else(|| Error::validation("kind must be \"decision\" or \"question\""))?,
        };
        let options = validate_options(self.options)?;
        let risk = validate_risk(self.risk.as_deref())?;
        let summary = validate_summary(self.summary)?;
        let on_timeout = validate_on_timeout(self.on_timeout.as_deref(), kind)?;
        let required_approvals = validate_required_approvals(self.required_approvals, kind)?;
        let response_schema = self
            .response_schema
            .as_deref()
            .map(super::forms::check_schema)
            .transpose()?;
        if response_schema.is_some() && kind == Kind::Question && options.is_some() {
            return Err(Error::validation(
                "a question with a responseSchema is answered with its form: leave out options",
            ));
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
            // The request's own timeout: the server's default is applied after the
            // digest, so a retry still matches when the default changed in between.
            timeout_seconds: self.timeout_seconds,
            tags: validate_tags(self.tags.unwrap_or_default())?,
            kind,
            options,
            risk,
            summary,
            on_timeout,
            required_approvals,
            response_schema,
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
        new.timeout_seconds = new.timeout_seconds.or(limits.default_timeout_secs);
        if new.timeout_seconds.is_none() && new.on_timeout.is_some_and(|o| o != OnTimeout::Expire) {
            return Err(Error::validation(
                "onTimeout \"reject\" or \"approve\" needs timeoutSeconds: without a timeout it would never apply",
            ));
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

/// An edited context sent with an approval, checked by the rules of a new pause's
/// context (no key twice, digits kept, the size limit), as stored.
pub fn edited_context(raw: &RawValue, limits: Limits) -> Result<String> {
    context::normalise(Some(raw), limits.max_context_bytes)?
        .ok_or_else(|| Error::validation("context: send the edited JSON; null is not an edit"))
}

/// One pause, if the principal may see it (an agent key sees only its own).
pub fn get(conn: &rusqlite::Connection, principal: &Principal, watch_id: &str) -> Result<Pause> {
    let pause = db::pauses::by_watch_id(conn, watch_id)?.ok_or_else(|| not_found(watch_id))?;
    visible(principal, &pause)?;
    Ok(pause)
}

/// A person at the review page, at a time: whose queue to show. Routing decides which
/// pending pauses are theirs (delegations depend on the time).
#[derive(Debug, Clone, Copy)]
pub struct Seat {
    pub user_id: i64,
    pub now: Millis,
}

impl Seat {
    pub fn of(reviewer: &crate::model::Reviewer, now: Millis) -> Seat {
        Seat {
            user_id: reviewer.user_id,
            now,
        }
    }
}

/// How many pauses wait for this person's decision (the page title and the nav show it).
pub fn pending_count(conn: &rusqlite::Connection, who: Seat) -> Result<i64> {
    db::pauses::count_pending_for(conn, who.user_id, who.now)
}

/// Whether the person may decide the pause as routing goes (the review page asks, to
/// show the buttons or say why not).
pub fn may_decide(conn: &rusqlite::Connection, who: Seat, pause: &Pause) -> Result<bool> {
    match &pause.routing {
        None => Ok(true),
        Some(r) => db::routing::may_decide(conn, &r.reviewers, &pause.key_id, who.user_id, who.now),
    }
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
