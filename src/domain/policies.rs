//! Routing policies: which people decide a new pause, how many of them, and what
//! happens while nobody does. Policies are tried in order and the first whose
//! conditions all hold routes the pause; without a match any approver decides it
//! alone, as before policies existed.

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::{audit, Actor, Error, OnTimeout, Result, Risk};
use crate::clock::Millis;
use crate::db::policies::PolicyRow;
use crate::db::{self, Tx};

/// The shortest reminder interval and escalation delay (a second: tests use it; people
/// choose minutes or hours) and the longest (30 days, the longest timeout).
const MIN_INTERVAL_MS: Millis = 1_000;
const MAX_INTERVAL_MS: Millis = 30 * 24 * 3_600_000;
pub const MAX_POLICIES: usize = 200;

/// A policy as asked for by `hitl policy add` or the Policies page: text as typed.
#[derive(Debug, Clone, Default)]
pub struct NewPolicy {
    pub name: String,
    /// The pause carries at least one of these tags.
    pub tags: Vec<String>,
    /// The asking key's name.
    pub key: Option<String>,
    /// A glob over the action text (`*` any run of characters, `?` one).
    pub action: Option<String>,
    /// The agent rated the risk this high or higher.
    pub risk: Option<String>,
    pub reviewers: Vec<String>,
    pub approvals: Option<u32>,
    pub remind_every: Option<String>,
    pub escalate_after: Option<String>,
    pub escalate_to: Option<String>,
    pub on_timeout: Option<String>,
}

/// A policy as `hitl policy list --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub name: String,
    /// 1 for the policy tried first.
    pub position: i64,
    pub tags: Vec<String>,
    pub key: Option<String>,
    pub action: Option<String>,
    pub risk: Option<Risk>,
    pub reviewers: Vec<String>,
    pub approvals: u32,
    #[serde(serialize_with = "ser_duration")]
    pub remind_every: Option<Millis>,
    #[serde(serialize_with = "ser_duration")]
    pub escalate_after: Option<Millis>,
    pub escalate_to: Option<String>,
    pub on_timeout: Option<OnTimeout>,
    #[serde(serialize_with = "crate::model::ser_time")]
    pub created_at: Millis,
}

fn ser_duration<S: serde::Serializer>(ms: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => s.serialize_str(&duration_text(*ms)),
        None => s.serialize_none(),
    }
}

/// `90m` as `1h 30m`: how a duration is shown back.
pub fn duration_text(ms: Millis) -> String {
    humantime::format_duration(Duration::from_millis(ms.max(0) as u64)).to_string()
}

impl From<PolicyRow> for Policy {
    fn from(r: PolicyRow) -> Policy {
        Policy {
            name: r.name,
            position: r.position,
            tags: r.tags,
            key: r.key_name,
            action: r.action_glob,
            risk: r.min_risk,
            reviewers: r.reviewers,
            approvals: r.approvals,
            remind_every: r.remind_every,
            escalate_after: r.escalate_after,
            escalate_to: r.escalate_to,
            on_timeout: r.on_timeout,
            created_at: r.created_at,
        }
    }
}

/// What a new pause is matched on.
pub struct Request<'a> {
    pub key_name: &'a str,
    pub action: &'a str,
    pub tags: &'a [String],
    pub risk: Option<Risk>,
}

impl Policy {
    /// Whether every condition of the policy holds for the request (a policy without
    /// conditions matches every pause).
    pub fn matches(&self, r: &Request) -> bool {
        (self.tags.is_empty() || self.tags.iter().any(|t| r.tags.contains(t)))
            && self.key.as_deref().is_none_or(|k| k == r.key_name)
            && self
                .risk
                .is_none_or(|min| r.risk.is_some_and(|risk| risk >= min))
            && self
                .action
                .as_deref()
                .is_none_or(|glob| glob::Pattern::new(glob).is_ok_and(|p| p.matches(r.action)))
    }

    /// In one line: what it matches, and what it asks for.
    pub fn describe_conditions(&self) -> String {
        let mut parts = Vec::new();
        if !self.tags.is_empty() {
            parts.push(format!("tagged {}", self.tags.join(" or ")));
        }
        if let Some(key) = &self.key {
            parts.push(format!("from key {key}"));
        }
        if let Some(action) = &self.action {
            parts.push(format!("action matches {action}"));
        }
        if let Some(risk) = self.risk {
            parts.push(format!("risk {} or higher", risk.as_str()));
        }
        if parts.is_empty() {
            "every pause".into()
        } else {
            parts.join(", ")
        }
    }
}

impl Policy {
    /// In one line: who decides, how many, and what happens while nobody does.
    pub fn describe_outcome(&self) -> String {
        let mut parts = vec![match self.approvals {
            1 => format!("{} (1 approval)", self.reviewers.join(", ")),
            n => format!("{} ({n} approvals)", self.reviewers.join(", ")),
        }];
        if let Some(every) = self.remind_every {
            parts.push(format!("remind every {}", duration_text(every)));
        }
        if let (Some(after), Some(to)) = (self.escalate_after, &self.escalate_to) {
            parts.push(format!("escalate to {to} after {}", duration_text(after)));
        }
        if let Some(outcome) = self.on_timeout {
            parts.push(format!("on timeout {}", outcome.as_str()));
        }
        parts.join(", ")
    }
}

/// The first policy that matches the request, if any.
pub fn route(conn: &rusqlite::Connection, request: &Request) -> Result<Option<Policy>> {
    Ok(db::policies::all(conn)?
        .into_iter()
        .map(Policy::from)
        .find(|p| p.matches(request)))
}

pub fn list(conn: &rusqlite::Connection) -> Result<Vec<Policy>> {
    Ok(db::policies::all(conn)?
        .into_iter()
        .map(Policy::from)
        .collect())
}

/// A policy name follows the rules of a group name.
fn validate_name(raw: &str) -> Result<String> {
    super::groups::validate_name(raw)
        .map_err(|_| Error::validation("a policy name is 1 to 64 letters, digits, '-', '_' or '.'"))
}

fn existing_group(tx: &Tx, raw: &str, what: &str) -> Result<String> {
    let name =
        super::groups::validate_name(raw).map_err(|e| Error::validation(format!("{what}: {e}")))?;
    if db::groups::id_by_name(tx, &name)?.is_none() {
        return Err(Error::validation(format!(
            "{what}: there is no group named {name:?}; create it first (hitl group create {name})"
        )));
    }
    Ok(name)
}

fn interval(raw: Option<&str>, what: &str) -> Result<Option<Millis>> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let ms = humantime::parse_duration(raw)
        .map_err(|e| {
            Error::validation(format!(
                "{what}: {raw:?} is not a duration ({e}); write e.g. 30m, 4h or 1d"
            ))
        })?
        .as_millis();
    let ms = Millis::try_from(ms).unwrap_or(Millis::MAX);
    if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&ms) {
        return Err(Error::validation(format!("{what} must be from 1s to 30d")));
    }
    Ok(Some(ms))
}

fn check(tx: &Tx, now: Millis, new: NewPolicy) -> Result<PolicyRow> {
    let name = validate_name(&new.name)?;
    let tags = super::pauses::validate_tags(new.tags)?;
    let key_name = new
        .key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(super::keys::validate_name)
        .transpose()?;
    let action_glob = match new
        .action
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        None => None,
        Some(glob) => {
            glob::Pattern::new(glob).map_err(|e| {
                Error::validation(format!("action: {glob:?} is not a valid pattern ({e})"))
            })?;
            Some(glob.to_string())
        }
    };
    let min_risk = match new.risk.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(
            Risk::parse(r)
                .ok_or_else(|| Error::validation("risk must be low, medium, high or critical"))?,
        ),
    };
    let mut reviewers: Vec<String> = Vec::new();
    for group in new
        .reviewers
        .iter()
        .flat_map(|r| r.split(','))
        .map(str::trim)
    {
        if group.is_empty() {
            continue;
        }
        let group = existing_group(tx, group, "reviewers")?;
        if !reviewers.contains(&group) {
            reviewers.push(group);
        }
    }
    if reviewers.is_empty() {
        return Err(Error::validation(
            "name the reviewers: at least one group whose members decide",
        ));
    }
    let approvals = new.approvals.unwrap_or(1);
    if !(1..=super::pauses::MAX_REQUIRED_APPROVALS).contains(&approvals) {
        return Err(Error::validation("approvals must be from 1 to 10"));
    }
    let remind_every = interval(new.remind_every.as_deref(), "remind-every")?;
    let escalate_after = interval(new.escalate_after.as_deref(), "escalate-after")?;
    let escalate_to = match new
        .escalate_to
        .as_deref()
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        None => None,
        Some(g) => Some(existing_group(tx, g, "escalate-to")?),
    };
    if escalate_after.is_some() != escalate_to.is_some() {
        return Err(Error::validation(
            "escalate-after and escalate-to go together: after how long, to which group",
        ));
    }
    let on_timeout = match new
        .on_timeout
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        None => None,
        Some(o) => Some(
            OnTimeout::parse(o)
                .ok_or_else(|| Error::validation("on-timeout must be expire, reject or approve"))?,
        ),
    };
    Ok(PolicyRow {
        name,
        position: 0,
        tags,
        key_name,
        action_glob,
        min_risk,
        reviewers,
        approvals,
        remind_every,
        escalate_after,
        escalate_to,
        on_timeout,
        created_at: now,
    })
}

/// Adds a policy, tried after every existing one.
pub fn add(tx: &mut Tx, now: Millis, actor: &Actor, new: NewPolicy) -> Result<Policy> {
    let row = check(tx, now, new)?;
    if db::policies::all(tx)?.len() >= MAX_POLICIES {
        return Err(Error::validation(format!(
            "at most {MAX_POLICIES} policies; remove one first"
        )));
    }
    db::policies::insert(tx, &row)?;
    let policy = db::policies::all(tx)?
        .into_iter()
        .map(Policy::from)
        .find(|p| p.name == row.name)
        .ok_or_else(|| Error::internal("the policy just added is missing"))?;
    audit::record(
        tx,
        now,
        actor,
        "policy.created",
        None,
        serde_json::to_value(&policy).map_err(Error::internal)?,
    )?;
    Ok(policy)
}

pub fn remove(tx: &mut Tx, now: Millis, actor: &Actor, name: &str) -> Result<()> {
    let name = validate_name(name)?;
    if !db::policies::delete(tx, &name)? {
        return Err(Error::NotFound(format!("no policy named {name:?}")));
    }
    // The others keep their order, numbered from 1 without a gap.
    let names: Vec<String> = db::policies::all(tx)?.into_iter().map(|p| p.name).collect();
    db::policies::reorder(tx, &names)?;
    audit::record(
        tx,
        now,
        actor,
        "policy.removed",
        None,
        json!({ "name": name }),
    )?;
    Ok(())
}

/// Moves a policy to just before another, so that it is tried first.
pub fn move_before(
    tx: &mut Tx,
    now: Millis,
    actor: &Actor,
    name: &str,
    before: &str,
) -> Result<Vec<Policy>> {
    let (name, before) = (validate_name(name)?, validate_name(before)?);
    let mut names: Vec<String> = db::policies::all(tx)?.into_iter().map(|p| p.name).collect();
    for n in [&name, &before] {
        if !names.contains(n) {
            return Err(Error::NotFound(format!("no policy named {n:?}")));
        }
    }
    if name == before {
        return Err(Error::validation("a policy cannot move before itself"));
    }
    names.retain(|n| *n != name);
    let at = names.iter().position(|n| *n == before).unwrap_or(0);
    names.insert(at, name.clone());
    db::policies::reorder(tx, &names)?;
    audit::record(
        tx,
        now,
        actor,
        "policy.moved",
        None,
        json!({ "name": name, "before": before, "order": names }),
    )?;
    list(tx)
}

/// Moves a policy just before the one tried before it, found in the same transaction
/// (two admins moving at once move it one place each).
pub fn move_up(tx: &mut Tx, now: Millis, actor: &Actor, name: &str) -> Result<Vec<Policy>> {
    let list = list(tx)?;
    let at = list
        .iter()
        .position(|p| p.name == name)
        .ok_or_else(|| Error::NotFound(format!("no policy named {name:?}")))?;
    let Some(previous) = at.checked_sub(1).and_then(|i| list.get(i)) else {
        return Err(Error::validation(format!(
            "the policy {name:?} is already tried first"
        )));
    };
    move_before(tx, now, actor, name, &previous.name)
}
