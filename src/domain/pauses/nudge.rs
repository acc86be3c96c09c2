//! What a routing policy does while nobody decides: reminders to the routed reviewers
//! who have not voted, and escalation, which adds a group to the reviewers. The expiry
//! timer runs these when they fall due.

use serde_json::json;

use super::Pause;
use crate::clock::{self, Millis};
use crate::db::{self, Tx};
use crate::domain::outbox::{self, Channels, MailEvent};
use crate::domain::{audit, Actor, Result};
use crate::model::events::Event;

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
    let Some(routing) = &pause.routing else {
        return Ok(());
    };
    let (Some(every), Some(at)) = (routing.remind_every, routing.remind_at) else {
        return Ok(());
    };
    let every = every.max(1);
    let missed = (now - at) / every;
    let next = at + (missed + 1) * every;
    db::pauses::set_remind_at(tx, pause.id, next)?;
    if !channels.email {
        return Ok(());
    }
    let waiting: Vec<(i64, String)> = db::routing::recipients(tx, &routing.reviewers, now)?
        .into_iter()
        .filter(|(_, email)| !pause.approvals.iter().any(|a| a.by == *email))
        .collect();
    let to: Vec<String> = waiting.iter().map(|(_, e)| e.clone()).collect();
    if outbox::mail_reviewers(tx, now, pause, MailEvent::Reminder, waiting)? > 0 {
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
    let Some(routing) = &pause.routing else {
        return Ok(());
    };
    let Some(group) = &routing.escalate_to else {
        return Ok(());
    };
    let mut reviewers = routing.reviewers.clone();
    if !reviewers.contains(group) {
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
    if channels.email {
        let recipients = db::routing::recipients(tx, std::slice::from_ref(group), now)?;
        outbox::mail_reviewers(tx, now, pause, MailEvent::Escalated, recipients)?;
    }
    Ok(())
}
