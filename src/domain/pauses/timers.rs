//! What the timer does to pending pauses: ends those whose deadline passed (as their
//! `onTimeout` says), and for a routing policy, reminds the routed reviewers who have
//! not voted and escalates (adds a group to the reviewers). The expiry timer
//! (`crate::expiry`) runs these when they fall due.

use serde_json::json;

use super::decide::{finish, Ending};
use super::Pause;
use crate::clock::{self, Millis};
use crate::db::{self, Tx};
use crate::domain::outbox::{self, Channels, MailEvent};
use crate::domain::{audit, Actor, Result};
use crate::model::events::Event;
use crate::model::pause::SYSTEM;

/// Sends the reminders and escalations that are due (at most `batch` of each) and
/// returns how many pauses it acted on.
pub fn nudge_due(tx: &mut Tx, now: Millis, batch: u32, channels: &Channels) -> Result<usize> {
    let reminders = db::pauses::due_for_reminder(tx, now, batch)?;
    for pause in &reminders {
        remind(tx, now, pause, channels)?;
    }
    let escalations = db::pauses::due_for_escalation(tx, now, batch)?;
    for pause in &escalations {
        escalate(tx, now, pause, channels)?;
    }
    Ok(reminders.len() + escalations.len())
}

/// Mails the routed reviewers (or their delegates) who have not approved yet, and sets
/// the next reminder one interval on (skipping those missed while hitl was down).
fn remind(tx: &mut Tx, now: Millis, pause: &Pause, channels: &Channels) -> Result<()> {
    let timer = pause
        .routing
        .as_ref()
        .and_then(|r| Some((r, r.remind_every?, r.remind_at?)));
    let Some((routing, every, at)) = timer else {
        // Nothing to remind of: the timer must not stay due.
        return db::pauses::set_remind_at(tx, pause.id, None);
    };
    let every = every.max(1);
    let missed = (now - at) / every;
    let next = at + (missed + 1) * every;
    db::pauses::set_remind_at(tx, pause.id, Some(next))?;
    let waiting: Vec<_> = db::routing::recipients(tx, &routing.reviewers, &pause.key_id, now)?
        .into_iter()
        .filter(|u| !pause.approvals.iter().any(|a| a.by == u.email))
        .collect();
    let to = outbox::reach_reviewers(tx, now, pause, MailEvent::Reminder, waiting, channels)?;
    if !to.is_empty() {
        audit::record(
            tx,
            now,
            &Actor::System,
            "pause.reminded",
            Some(&pause.watch_id),
            json!({ "policy": routing.policy, "to": to, "next": clock::rfc3339(next) }),
        )?;
    }
    Ok(())
}

/// Adds the policy's escalation group to the reviewers, tells its members, and records
/// it; the pause stays pending and its waiters sleep on.
fn escalate(tx: &mut Tx, now: Millis, pause: &Pause, channels: &Channels) -> Result<()> {
    let Some((routing, group)) = pause
        .routing
        .as_ref()
        .and_then(|r| Some((r, r.escalate_to.as_ref()?)))
    else {
        // Nowhere to escalate to: the timer must not stay due.
        return db::pauses::clear_escalation(tx, pause.id);
    };
    let mut reviewers = routing.reviewers.clone();
    let added = !reviewers.contains(group);
    if added {
        reviewers.push(group.clone());
    }
    db::pauses::set_escalated(tx, pause.id, &reviewers)?;
    audit::record(
        tx,
        now,
        &Actor::System,
        "pause.escalated",
        Some(&pause.watch_id),
        json!({ "policy": routing.policy, "to": group, "reviewers": reviewers }),
    )?;
    tx.emit(Event::PauseUpdated {
        watch_id: pause.watch_id.clone(),
    });
    // Its members were told already if the group was a reviewer from the start.
    if added {
        let recipients =
            db::routing::recipients(tx, std::slice::from_ref(group), &pause.key_id, now)?;
        outbox::reach_reviewers(tx, now, pause, MailEvent::Escalated, recipients, channels)?;
    }
    Ok(())
}

/// Ends a pause as of its deadline, as its `onTimeout` says: expired, rejected or
/// approved, by `system`. The audit log and the notifications carry `now`, the time it
/// was recorded (the audit log only moves forward in time).
fn expire_one(
    tx: &mut Tx,
    now: Millis,
    pause: &Pause,
    at: Millis,
    channels: &Channels,
) -> Result<()> {
    let end = Ending {
        status: pause.on_timeout.status(),
        at,
        by: SYSTEM,
        comment: None,
        answer: None,
        response: None,
        actor: &Actor::System,
        channels,
        timed_out: true,
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

/// When a timer next acts on a pending pause (a deadline, a reminder, an
/// escalation), if one ever does.
pub fn next_timer(conn: &rusqlite::Connection) -> Result<Option<Millis>> {
    db::pauses::next_timer(conn)
}
