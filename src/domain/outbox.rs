//! The outbox: every webhook, mail and Slack message is first a row, written in the
//! same transaction as the change that caused it, and each attempt to send it is
//! recorded. Workers claim due rows with a lease, send, and record.

use std::time::Duration;

use serde_json::json;

use super::pauses::Pause;
use super::receipts::Receipts;
use super::{audit, keys, pauses, Error, Principal, Result};
use crate::clock::{self, Millis};
use crate::db::{self, Tx};
pub use crate::model::delivery::{AttemptRow, Delivery, Kind, NewRow, Stored};
use crate::model::events::Event;
use crate::model::reach::Channel;
use crate::model::user::User;
use crate::secret;

/// Which channels are configured (webhooks always are; ntfy and Web Push need nothing
/// of the server, only a reviewer who sets them up).
#[derive(Debug, Clone, Copy, Default)]
pub struct Channels {
    pub email: bool,
    /// The Slack incoming webhook (`--slack-webhook-url`).
    pub slack: bool,
    /// The Slack app (`--slack-bot-token`): direct messages to reviewers.
    pub slack_app: bool,
    /// The Slack app posts every new pause to `--slack-channel`.
    pub slack_channel: bool,
    pub telegram: bool,
    pub ntfy: bool,
    pub push: bool,
    pub teams: bool,
    pub discord: bool,
}

impl Channels {
    /// Whether the server can reach a person by `channel` at all.
    pub fn offers(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email,
            Channel::Slack => self.slack_app,
            Channel::Telegram => self.telegram,
            Channel::Ntfy => self.ntfy,
            Channel::Push => self.push,
        }
    }
}

/// What happens after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The retry schedule's next step.
    Schedule,
    /// The receiver asked for this wait (`Retry-After`).
    After(Duration),
    /// Never again (410 Gone).
    Stop,
    /// Failed for good: no retry can succeed (the webhook address policy refuses the
    /// address).
    Fail,
}

/// The outcome of one attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub ok: bool,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub next: Next,
}

fn event_id() -> String {
    format!("msg_{}", secret::base62(24))
}

fn add(tx: &mut Tx, row: NewRow) -> Result<i64> {
    let id = db::outbox::insert(tx, &row)?;
    tx.emit(Event::OutboxReady);
    Ok(id)
}

/// The webhook payload of a decided (or expired, or cancelled) pause, with its
/// receipt when `receipts` can sign it.
pub fn webhook_payload(p: &Pause, receipts: Option<&Receipts>) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Payload<'a> {
        watch_id: &'a str,
        kind: super::Kind,
        status: super::Status,
        resolved_at: Option<String>,
        resolved_by: Option<&'a str>,
        comment: Option<&'a str>,
        /// A question's answer; null for a decision.
        answer: Option<&'a str>,
        /// The option a rejection picked (a decision's reason to reject), if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        reject_option: Option<&'a str>,
        /// The form as the reviewer filled it in (a pause with a `responseSchema`).
        #[serde(skip_serializing_if = "Option::is_none")]
        response: Option<&'a serde_json::value::RawValue>,
        /// The timeout ended it (expired, or decided by `onTimeout`).
        timed_out: bool,
        /// How many distinct approvals it needed, and those given (oldest first).
        required_approvals: u32,
        approvals: &'a [crate::model::pause::Approval],
        /// The routing policy that matched, and the groups it routed to (with any
        /// escalation); null when any approver could decide.
        policy: Option<&'a str>,
        reviewers: Option<&'a [String]>,
        /// A reviewer changed the context before approving: `approvedContext` is what
        /// was approved (`agentContext.context` stays what the agent sent).
        edited: bool,
        approved_context: Option<&'a serde_json::value::RawValue>,
        agent_context: AgentContext<'a>,
        /// The signed receipt of the decision (a compact JWS).
        receipt: Option<String>,
    }
    #[derive(serde::Serialize)]
    struct AgentContext<'a> {
        action: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        risk: Option<super::Risk>,
        #[serde(skip_serializing_if = "Option::is_none")]
        summary: Option<&'a str>,
        /// The stored context text as it is: digits and key order untouched.
        context: Option<&'a serde_json::value::RawValue>,
    }
    let payload = Payload {
        watch_id: &p.watch_id,
        kind: p.kind,
        status: p.status,
        resolved_at: p.resolved_at.map(clock::rfc3339),
        resolved_by: p.resolved_by.as_deref(),
        comment: p.comment.as_deref(),
        answer: p.question_answer(),
        reject_option: p.reject_option(),
        response: p
            .response
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok()),
        timed_out: p.timed_out(),
        required_approvals: p.required_approvals,
        approvals: &p.approvals,
        policy: p.routing.as_ref().map(|r| r.policy.as_str()),
        reviewers: p.routing.as_ref().map(|r| r.reviewers.as_slice()),
        edited: p.edited(),
        approved_context: p
            .approved_context()
            .and_then(|c| serde_json::from_str(c).ok()),
        agent_context: AgentContext {
            action: &p.action,
            risk: p.risk,
            summary: p.summary.as_deref(),
            context: p
                .context
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok()),
        },
        receipt: receipts.and_then(|r| r.receipt(p)),
    };
    serde_json::to_string(&payload).unwrap_or_default()
}

/// A pause reached its final status: a webhook to its own URL, else its key's; a
/// follow-up in the team channels; and every chat message posted about it is edited
/// to show the outcome.
pub fn pause_resolved(tx: &mut Tx, now: Millis, p: &Pause, channels: &Channels) -> Result<()> {
    let url = match &p.webhook_url {
        Some(url) => Some(url.clone()),
        None => db::keys::webhook_url(tx, &p.key_id)?,
    };
    if let Some(url) = url {
        let receipts = Receipts::in_tx(tx)?;
        add(
            tx,
            NewRow {
                kind: Kind::Webhook,
                watch_id: p.watch_id.clone(),
                event_id: event_id(),
                target: url,
                key_id: Some(p.key_id.clone()),
                user_id: None,
                payload: webhook_payload(p, receipts.as_ref()),
                at: now,
            },
        )?;
    }
    team_rows(tx, now, p, "resolved", channels)?;
    for message in db::chat::for_watch_id(tx, &p.watch_id)? {
        let target = match message.user_id {
            Some(id) => db::users::by_id(tx, id)?.map_or_else(|| "channel".into(), |u| u.email),
            None => "channel".into(),
        };
        add(
            tx,
            message_row(
                p,
                message.kind,
                target,
                message.user_id,
                json!({ "event": "resolved", "message": message.id }),
                now,
            ),
        )?;
    }
    Ok(())
}

fn message_row(
    p: &Pause,
    kind: Kind,
    target: String,
    user_id: Option<i64>,
    payload: serde_json::Value,
    now: Millis,
) -> NewRow {
    NewRow {
        kind,
        watch_id: p.watch_id.clone(),
        event_id: event_id(),
        target,
        key_id: None,
        user_id,
        payload: payload.to_string(),
        at: now,
    }
}

/// The messages to the team's channels (Slack's incoming webhook and app channel,
/// Teams, Discord): about a new pause, or its outcome.
fn team_rows(tx: &mut Tx, now: Millis, p: &Pause, event: &str, channels: &Channels) -> Result<()> {
    let teams = [
        (channels.slack, Kind::Slack, "slack"),
        (channels.slack_channel, Kind::Slack, "channel"),
        (channels.teams, Kind::Teams, "teams"),
        (channels.discord, Kind::Discord, "discord"),
    ];
    for (on, kind, target) in teams {
        // The app's channel message is edited when the pause is decided.
        if on && !(target == "channel" && event == "resolved") {
            let payload = json!({ "event": event });
            add(tx, message_row(p, kind, target.into(), None, payload, now))?;
        }
    }
    Ok(())
}

/// A new pause: every reviewer told (for a routed pause, its routed reviewers) on the
/// channels they keep, and a message in the team's channels.
pub fn pause_created(tx: &mut Tx, now: Millis, p: &Pause, channels: &Channels) -> Result<()> {
    let recipients = match &p.routing {
        Some(r) => db::routing::recipients(tx, &r.reviewers, &p.key_id, now)?,
        // Everyone who can sign in.
        None => db::users::with_password(tx)?,
    };
    reach_reviewers(tx, now, p, MailEvent::Created, recipients, channels)?;
    team_rows(tx, now, p, "created", channels)
}

/// Why a reviewer is mailed about a pending pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailEvent {
    Created,
    /// Still undecided; they have not voted.
    Reminder,
    /// Their group joined the reviewers after the policy's escalation delay.
    Escalated,
}

impl MailEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            MailEvent::Created => "created",
            MailEvent::Reminder => "reminder",
            MailEvent::Escalated => "escalated",
        }
    }

    pub fn parse(text: &str) -> MailEvent {
        match text {
            "reminder" => MailEvent::Reminder,
            "escalated" => MailEvent::Escalated,
            _ => MailEvent::Created,
        }
    }
}

/// Tells each recipient of a pending pause on every channel they keep and the server
/// offers (mail, a Slack direct message, Telegram, ntfy, each browser with Web Push),
/// less the person who runs the key that asked (they may not decide it). Returns the
/// emails of those reached on at least one channel.
pub fn reach_reviewers(
    tx: &mut Tx,
    now: Millis,
    p: &Pause,
    event: MailEvent,
    recipients: Vec<User>,
    channels: &Channels,
) -> Result<Vec<String>> {
    let owner = db::keys::owner_email(tx, &p.key_id)?;
    let mut reached = Vec::new();
    for user in recipients {
        if owner
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case(&user.email))
        {
            continue;
        }
        let mut rows = Vec::new();
        let set_up = |c: Channel| match c {
            Channel::Email | Channel::Slack => true,
            Channel::Telegram => user.telegram_chat.is_some(),
            Channel::Ntfy => user.ntfy_url.is_some(),
            Channel::Push => user.push_devices > 0,
        };
        for channel in Channel::ALL {
            if !(channels.offers(channel) && user.wants(channel) && set_up(channel)) {
                continue;
            }
            let payload = json!({ "event": event.as_str() });
            match channel {
                Channel::Push => {
                    for subscription in db::push::ids_of_user(tx, user.id)? {
                        let payload =
                            json!({ "event": event.as_str(), "subscription": subscription });
                        rows.push((Kind::Push, payload));
                    }
                }
                Channel::Email => rows.push((Kind::Email, payload)),
                Channel::Slack => rows.push((Kind::Slack, payload)),
                Channel::Telegram => rows.push((Kind::Telegram, payload)),
                Channel::Ntfy => rows.push((Kind::Ntfy, payload)),
            }
        }
        if rows.is_empty() {
            continue;
        }
        for (kind, payload) in rows {
            let row = message_row(p, kind, user.email.clone(), Some(user.id), payload, now);
            add(tx, row)?;
        }
        reached.push(user.email);
    }
    Ok(reached)
}

/// Queues a test webhook to a key's URL; returns the delivery's id.
pub fn test_webhook(tx: &mut Tx, now: Millis, actor: &super::Actor, key_id: &str) -> Result<i64> {
    let key = db::keys::by_id(tx, key_id, &clock::month_of(now))?
        .ok_or_else(|| Error::NotFound(format!("no API key with id {key_id}")))?;
    let url = key
        .webhook_url
        .clone()
        .ok_or_else(|| Error::validation("this key has no webhook URL; set one first"))?;
    let payload = json!({
        "test": true,
        "watchId": "wch_test",
        "status": "approved",
        "resolvedAt": clock::rfc3339(now),
        "resolvedBy": "hitl",
        "comment": "A test webhook from hitl: if you can read this, your receiver works.",
        "agentContext": { "action": "Test webhook", "context": { "keyId": key.id, "keyName": key.name } },
    })
    .to_string();
    let id = add(
        tx,
        NewRow {
            kind: Kind::Webhook,
            watch_id: "test".into(),
            event_id: event_id(),
            target: url.clone(),
            key_id: Some(key.id.clone()),
            user_id: None,
            payload,
            at: now,
        },
    )?;
    audit::record(
        tx,
        now,
        actor,
        "key.webhook_tested",
        None,
        json!({ "id": key.id, "url": url }),
    )?;
    Ok(id)
}

/// A key's recent test webhooks.
pub fn tests_of_key(conn: &rusqlite::Connection, key_id: &str) -> Result<Vec<Delivery>> {
    db::outbox::tests_of_key(conn, key_id, 3)
}

/// The deliveries of a pause. The agent key that owns it sees its webhooks; reviewers
/// see everything (mail and Slack too).
pub fn deliveries(
    conn: &rusqlite::Connection,
    principal: &Principal,
    watch_id: &str,
) -> Result<Vec<Delivery>> {
    pauses::get(conn, principal, watch_id)?;
    let all = db::outbox::for_watch_id(conn, watch_id)?;
    Ok(match principal {
        Principal::Agent(_) => all
            .into_iter()
            .filter(|d| d.stored.kind == Kind::Webhook)
            .collect(),
        _ => all,
    })
}

/// Sends a delivery again now, by hand (reviewers only). The webhook-id stays.
pub fn retry(
    tx: &mut Tx,
    now: Millis,
    principal: &Principal,
    watch_id: &str,
    id: i64,
) -> Result<Delivery> {
    if principal.reviewer().is_none() {
        return Err(Error::Forbidden(
            "only reviewers can send a delivery again".into(),
        ));
    }
    pauses::get(tx, principal, watch_id)?;
    let stored = db::outbox::by_id(tx, id)?
        .filter(|d| d.watch_id == watch_id)
        .ok_or_else(|| Error::NotFound(format!("no delivery {id} for pause {watch_id}")))?;
    if !db::outbox::requeue(tx, id, now)? {
        return Err(Error::Conflict(
            "this delivery is being sent right now; try again in a moment".into(),
        ));
    }
    audit::record(
        tx,
        now,
        &principal.actor(),
        "delivery.retried",
        Some(watch_id),
        json!({ "delivery": id, "kind": stored.kind, "target": stored.target }),
    )?;
    tx.emit(Event::OutboxReady);
    let mut all = db::outbox::for_watch_id(tx, watch_id)?;
    all.retain(|d| d.stored.id == id);
    all.pop()
        .ok_or_else(|| Error::internal("delivery vanished"))
}

/// What a worker needs to send one claimed row, read in the claim's transaction.
#[derive(Debug, Clone)]
pub struct Job {
    pub row: Stored,
    /// The pause (none for a test webhook).
    pub pause: Option<Pause>,
    /// The signing secret of a webhook.
    pub secret: Option<String>,
    /// The reviewer a message goes to, as they are now.
    pub user: Option<User>,
}

/// Claims the most overdue row for `lease`.
pub fn claim(tx: &mut Tx, now: Millis, lease: Duration) -> Result<Option<Job>> {
    let Some(row) = db::outbox::claim(tx, now, now + lease.as_millis() as Millis)? else {
        return Ok(None);
    };
    let pause = if row.watch_id == "test" {
        None
    } else {
        db::pauses::by_watch_id(tx, &row.watch_id)?
    };
    let secret = match &row.key_id {
        Some(key_id) => keys::webhook_secret(tx, key_id)?,
        None => None,
    };
    let user = match row.user_id {
        Some(id) => db::users::by_id(tx, id)?,
        None => None,
    };
    Ok(Some(Job {
        row,
        pause,
        secret,
        user,
    }))
}

/// Records an attempt and decides what comes next: delivered; gone (410); failed once
/// the schedule is used up; else due again after the schedule's wait (with jitter) or
/// the receiver's `Retry-After`. A row that needed no sending is `skipped`.
pub fn record(
    tx: &mut Tx,
    now: Millis,
    job: &Job,
    attempt: &Attempt,
    schedule: &[Duration],
    skipped: bool,
) -> Result<()> {
    let id = job.row.id;
    db::outbox::add_attempt(
        tx,
        id,
        &AttemptRow {
            at: now,
            duration_ms: attempt.duration_ms,
            http_status: attempt.http_status,
            error: attempt.error.clone(),
            ok: attempt.ok,
        },
    )?;
    let retries_used = (job.row.attempts - 1).max(0) as usize;
    let (state, next) = if skipped {
        ("skipped", now)
    } else if attempt.ok {
        ("delivered", now)
    } else {
        match attempt.next {
            Next::Stop => ("gone", now),
            Next::Fail => ("failed", now),
            _ if retries_used >= schedule.len() => ("failed", now),
            Next::After(wait) => ("pending", now + wait.as_millis() as Millis),
            Next::Schedule => ("pending", now + jittered(schedule[retries_used])),
        }
    };
    db::outbox::settle(tx, id, state, next)
}

/// ±10 % so that many retries do not arrive together.
fn jittered(wait: Duration) -> Millis {
    let ms = wait.as_millis() as i64;
    let spread = ms / 10;
    if spread == 0 {
        return ms;
    }
    let r = i64::from_le_bytes(secret::bytes(8).try_into().unwrap_or([0; 8]))
        .rem_euclid(2 * spread + 1);
    ms - spread + r
}

pub fn release_leases(tx: &mut Tx) -> Result<usize> {
    db::outbox::release_leases(tx)
}

pub fn next_due(conn: &rusqlite::Connection) -> Result<Option<Millis>> {
    db::outbox::next_due(conn)
}

/// The server's key for signing mail links, made on first use.
pub fn link_key(tx: &mut Tx) -> Result<Vec<u8>> {
    stored_secret(tx, "link_key", || Ok(secret::bytes(32)))
}

/// A secret kept in the database under `name`, made with `make` on first use (of two
/// processes making it at once, the first one stored wins).
pub fn stored_secret(
    tx: &mut Tx,
    name: &str,
    make: impl FnOnce() -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    if let Some(value) = db::outbox::secret(tx, name)? {
        return Ok(value);
    }
    db::outbox::set_secret(tx, name, &make()?)?;
    db::outbox::secret(tx, name)?.ok_or_else(|| Error::internal(format!("{name} not stored")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..200 {
            let j = jittered(Duration::from_secs(30));
            assert!((27_000..=33_000).contains(&j), "{j}");
        }
        assert_eq!(jittered(Duration::from_millis(5)), 5);
    }
}
