//! Standing approvals: a reviewer who approves a pause may also allow the same thing
//! for a while ("remember"). The rule made then approves, at creation, each new pause
//! of the same key whose action is the same text (or matches the reviewer's pattern),
//! until it expires, is used up or is revoked.
//!
//! A rule never stands in for more than one reviewer: it is not made for, and never
//! applies to, a pause that needs several approvals, a critical risk, or a question.
//! It applies only while the reviewer who made it could still decide the new pause
//! (a user, not the key's owner, and among its routed reviewers if a policy routes it).

use serde::Deserialize;
use serde_json::json;

use super::{audit, Actor, Error, Kind, Principal, Result, Reviewer, Risk};
use crate::clock::{self, Millis};
use crate::db::{self, Tx};
use crate::model::pause::Pause;
pub use crate::model::rule::Rule;

/// The most uses a rule may be given.
pub const MAX_USES: i64 = 1_000_000;
const HOUR_MS: Millis = 3_600_000;

/// How long a rule lasts, as `remember.for` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
pub enum RememberFor {
    #[schema(rename = "1h")]
    Hour,
    #[schema(rename = "24h")]
    Day,
    #[schema(rename = "7d")]
    Week,
    #[schema(rename = "always")]
    Always,
}

impl RememberFor {
    pub const ALL: [RememberFor; 4] = [
        RememberFor::Hour,
        RememberFor::Day,
        RememberFor::Week,
        RememberFor::Always,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RememberFor::Hour => "1h",
            RememberFor::Day => "24h",
            RememberFor::Week => "7d",
            RememberFor::Always => "always",
        }
    }

    pub fn parse(text: &str) -> Option<RememberFor> {
        RememberFor::ALL.into_iter().find(|f| f.as_str() == text)
    }

    /// How the review page's buttons say it.
    pub fn label(self) -> &'static str {
        match self {
            RememberFor::Hour => "for 1 h",
            RememberFor::Day => "for 24 h",
            RememberFor::Week => "for 7 d",
            RememberFor::Always => "always",
        }
    }

    /// How long it lasts; `None`: until revoked.
    fn lasts(self) -> Option<Millis> {
        match self {
            RememberFor::Hour => Some(HOUR_MS),
            RememberFor::Day => Some(24 * HOUR_MS),
            RememberFor::Week => Some(7 * 24 * HOUR_MS),
            RememberFor::Always => None,
        }
    }
}

/// `remember` of an approval, as sent: allow the same again for a while.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Remember {
    /// How long the rule lasts: `1h`, `24h`, `7d`, or `always` (until revoked).
    #[serde(rename = "for")]
    #[schema(value_type = RememberFor)]
    pub duration: String,
    /// How many pauses it may approve at most (1 to 1,000,000); none: no limit.
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 1000000)]
    pub max_uses: Option<i64>,
    /// A pattern widening the action (`*` any text, `?` one character, `[abc]` one of
    /// them) that must match this pause's action; none: exactly this action text.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 2000, example = "Deploy * to staging")]
    pub action: Option<String>,
}

/// A JSON integer, also when written as a number without a fraction (`3.0`), as JSON
/// Schema's `integer` allows.
fn whole_number<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<i64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    n.as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        })
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("remember.maxUses must be a whole number"))
}

/// A rule checked against the pause whose approval makes it, ready to store.
#[derive(Debug, Clone)]
pub struct Planned {
    action: String,
    is_glob: bool,
    expires_at: Option<Millis>,
    max_uses: Option<i64>,
}

/// Why a pause can never be approved by a rule, if it cannot (the review page then
/// offers none).
pub fn not_offered(pause: &Pause) -> Option<String> {
    if pause.kind == Kind::Question {
        return Some("a question is always answered by a person".into());
    }
    if pause.required_approvals > 1 {
        return Some(format!(
            "this pause needs {} approvals, and a standing approval never stands in for several reviewers",
            pause.required_approvals
        ));
    }
    if pause.risk == Some(Risk::Critical) {
        return Some(
            "its risk is critical, and critical actions are always decided by a person".into(),
        );
    }
    if pause.response_schema.is_some() {
        return Some("it asks for a form, which a person fills in each time".into());
    }
    None
}

/// Line breaks as one `\n`: a browser sends a text box's lines with `\r\n`.
fn unix_lines(text: &str) -> String {
    text.replace("\r\n", "\n")
}

impl Remember {
    /// Checks the request against the pause being approved at `now`.
    pub fn plan(&self, pause: &Pause, now: Millis) -> Result<Planned> {
        let lasts = RememberFor::parse(self.duration.trim())
            .ok_or_else(|| {
                Error::validation("remember.for must be \"1h\", \"24h\", \"7d\" or \"always\"")
            })?
            .lasts();
        if let Some(n) = self.max_uses {
            if !(1..=MAX_USES).contains(&n) {
                return Err(Error::validation(format!(
                    "remember.maxUses must be from 1 to {MAX_USES}"
                )));
            }
        }
        if let Some(why) = not_offered(pause) {
            return Err(Error::validation(format!(
                "no standing approval can be made here: {why}"
            )));
        }
        let (action, is_glob) = match self.action.as_deref() {
            None => (pause.action.clone(), false),
            Some(text) => pattern(text, &pause.action)?,
        };
        Ok(Planned {
            action,
            is_glob,
            expires_at: lasts.map(|ms| now + ms),
            max_uses: self.max_uses,
        })
    }
}

/// The reviewer's pattern: the action itself (an exact rule), or a valid pattern that
/// matches it and is more than wildcards.
fn pattern(text: &str, action: &str) -> Result<(String, bool)> {
    if text == action || unix_lines(text) == unix_lines(action) {
        return Ok((action.to_string(), false));
    }
    if crate::text::looks_empty(text) {
        return Err(Error::validation(
            "remember.action must not be empty; leave it out to allow exactly this action",
        ));
    }
    if text.len() > super::pauses::MAX_ACTION_BYTES {
        return Err(Error::validation(format!(
            "remember.action is longer than {} bytes",
            super::pauses::MAX_ACTION_BYTES
        )));
    }
    let text = unix_lines(text);
    let glob = glob::Pattern::new(&text)
        .map_err(|e| Error::validation(format!("remember.action is not a valid pattern: {e}")))?;
    if !text.chars().any(|c| !matches!(c, '*' | '?' | ' ')) {
        return Err(Error::validation(
            "remember.action matches any action; keep some of the action's text in the pattern",
        ));
    }
    if !glob.matches(action) {
        return Err(Error::validation(
            "remember.action must match the action being approved (write [*], [?] or [[] for a literal *, ? or [)",
        ));
    }
    Ok((text, true))
}

/// Stores the rule that approving `pause` made, in the approval's transaction.
pub(crate) fn create(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    reviewer: &Reviewer,
    pause: &Pause,
    plan: Planned,
) -> Result<Rule> {
    let id = db::rules::insert(
        tx,
        &db::rules::NewRow {
            key_id: &pause.key_id,
            action: &plan.action,
            is_glob: plan.is_glob,
            created_by: &reviewer.email,
            created_at: now,
            watch_id: Some(&pause.watch_id),
            expires_at: plan.expires_at,
            max_uses: plan.max_uses,
            // An exact rule allows the action with this context only; a pattern, which
            // the reviewer widened on purpose, any context.
            context_sha256: (!plan.is_glob).then(|| context_digest(pause)).as_deref(),
            risk: pause.risk,
        },
    )?;
    audit::record(
        tx,
        now,
        actor,
        "rule.created",
        Some(&pause.watch_id),
        json!({ "rule": id, "key": pause.key_name, "action": plan.action, "isGlob": plan.is_glob,
                "by": reviewer.email, "expiresAt": plan.expires_at.map(clock::rfc3339),
                "maxUses": plan.max_uses }),
    )?;
    db::rules::by_id(tx, id, now)?.ok_or_else(|| Error::internal("a rule vanished as it was made"))
}

/// The rule that approves a new pause at creation, if one applies: the oldest active
/// rule of its key that matches its action and whose maker could decide it now.
pub(crate) fn applying(
    conn: &rusqlite::Connection,
    now: Millis,
    pause: &Pause,
) -> Result<Option<Rule>> {
    if not_offered(pause).is_some() {
        return Ok(None);
    }
    let rules = db::rules::active_for_key(conn, &pause.key_id, now)?;
    if rules.is_empty() {
        return Ok(None);
    }
    // Canonical JSON and a hash: only worth it when a rule may apply.
    let digest = context_digest(pause);
    for rule in rules {
        if rule.matches(&pause.action, &digest, pause.risk)
            && maker_may_decide(conn, now, &rule, pause)?
        {
            return Ok(Some(rule));
        }
    }
    Ok(None)
}

/// Whether the reviewer who made the rule could decide the pause themselves now: they
/// are still a user, do not run its key, and are among its routed reviewers.
fn maker_may_decide(
    conn: &rusqlite::Connection,
    now: Millis,
    rule: &Rule,
    pause: &Pause,
) -> Result<bool> {
    let Some(user) = db::users::by_email(conn, &rule.created_by)? else {
        return Ok(false);
    };
    if super::pauses::is_owner(conn, pause, &user.email)? {
        return Ok(false);
    }
    super::pauses::may_decide(conn, super::pauses::Seat::of(&user.reviewer(), now), pause)
}

/// Every rule, newest first (reviewers only).
pub fn list(conn: &rusqlite::Connection, principal: &Principal, now: Millis) -> Result<Vec<Rule>> {
    if principal.reviewer().is_none() {
        return Err(Error::Forbidden(
            "agent keys cannot see standing approvals; use a reviewer key".into(),
        ));
    }
    db::rules::all(conn, now)
}

/// Whether this reviewer may revoke the rule: they made it, or they are an admin.
pub fn may_revoke(reviewer: &Reviewer, rule: &Rule) -> bool {
    reviewer.role == super::Role::Admin || reviewer.email.eq_ignore_ascii_case(&rule.created_by)
}

/// Revokes a rule at once: the next matching pause waits for a person again. By the
/// reviewer who made it or an admin; revoking a revoked rule changes nothing.
pub fn revoke(tx: &mut Tx, now: Millis, principal: &Principal, id: i64) -> Result<Rule> {
    let Some(reviewer) = principal.reviewer() else {
        return Err(Error::Forbidden(
            "agent keys cannot revoke standing approvals".into(),
        ));
    };
    let rule = db::rules::by_id(tx, id, now)?
        .ok_or_else(|| Error::NotFound(format!("no standing approval with id {id}")))?;
    if !may_revoke(reviewer, &rule) {
        return Err(Error::Forbidden(format!(
            "only {} (who made it) or an admin can revoke standing approval {id}",
            rule.created_by
        )));
    }
    if rule.revoked_at.is_some() {
        return Ok(rule);
    }
    db::rules::revoke(tx, id, now, &reviewer.email)?;
    audit::record(
        tx,
        now,
        &principal.actor(),
        "rule.revoked",
        rule.watch_id.as_deref(),
        json!({ "rule": id, "key": rule.key_name, "action": rule.action, "by": reviewer.email,
                "uses": rule.uses }),
    )?;
    db::rules::by_id(tx, id, now)?
        .ok_or_else(|| Error::internal("a rule vanished as it was revoked"))
}

/// The SHA-256 (hex) of a pause's context as stored, or of `null` without one.
fn context_digest(pause: &Pause) -> String {
    crate::receipt::sha256_hex(pause.context.as_deref().unwrap_or("null"))
}
