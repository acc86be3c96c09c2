//! How a pending pause ends: decided by a reviewer, cancelled by its agent (or an
//! admin), or expired by the timer. Every way ends in one place, `finish`, which makes
//! the change once: concurrent decisions produce one winner.

use serde_json::json;

use super::approval::{apply_edit, check_response, check_seen, with_response, Verdict};
use super::{not_found, Pause, MAX_ANSWER_BYTES, MAX_COMMENT_BYTES};
use crate::clock::Millis;
use crate::db::{self, Tx};
use crate::domain::forms;
use crate::domain::outbox::{self, Channels};
use crate::domain::rules::{self, Rule};
use crate::domain::{audit, Actor, Error, KeyRef, Kind, Principal, Result, Reviewer, Risk, Status};
use crate::model::events::Event;
use crate::model::pause::Approval;

/// A reviewer's decision: `approved` or `rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
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
pub(super) fn pending_for_change(
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
    // Past its time but not yet swept by the expiry timer: it is ended all the same
    // (the timer records it within a second).
    if pause.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::AlreadyResolved(pause.on_timeout.status()));
    }
    Ok(pause)
}

/// Separation of duties: the owner of a pause's agent key (the person who runs that
/// agent) may never approve, reject or answer its pauses, on any path.
fn refuse_owner(tx: &Tx, pause: &Pause, reviewer: &Reviewer) -> Result<()> {
    if is_owner(tx, pause, &reviewer.email)? {
        return Err(Error::SelfApproval(format!(
            "{} runs the agent key {:?} that asked; another reviewer must decide its pauses",
            reviewer.email, pause.key_name
        )));
    }
    Ok(())
}

/// Routing: a pause a policy sent to groups is decided only by their members, or by
/// the delegate of a member who is away; admins are no exception.
pub(super) fn refuse_unrouted(
    tx: &Tx,
    now: Millis,
    pause: &Pause,
    reviewer: &Reviewer,
) -> Result<()> {
    let Some(routing) = &pause.routing else {
        return Ok(());
    };
    if super::may_decide(tx, super::Seat::of(reviewer, now), pause)? {
        return Ok(());
    }
    Err(Error::NotAReviewer(format!(
        "policy {:?} routes this pause to {}; {} is not in {} and is no away member's delegate",
        routing.policy,
        routing.reviewers.join(", "),
        reviewer.email,
        if routing.reviewers.len() == 1 {
            "it"
        } else {
            "any of them"
        },
    )))
}

/// Whether `email` runs the key that asked, and so may not decide this pause (the
/// review page asks, to say why).
pub fn is_owner(conn: &rusqlite::Connection, pause: &Pause, email: &str) -> Result<bool> {
    Ok(db::keys::owner_email(conn, &pause.key_id)?.is_some_and(|o| o.eq_ignore_ascii_case(email)))
}

/// One approval of a pause that needs several, and whether it was the last needed.
/// Until then the pause stays pending: no webhook, no waiter woken; only the copy kept
/// in memory is dropped (`PauseUpdated`).
fn vote(
    tx: &mut Tx,
    now: Millis,
    mut pause: Pause,
    by: &str,
    comment: Option<String>,
    response: Option<&str>,
    actor: &Actor,
) -> Result<(Pause, bool)> {
    if pause.approvals.iter().any(|a| a.by == by) {
        return Err(Error::AlreadyVoted);
    }
    // The form's answer is content too: every approval of a quorum is for the same
    // one. Another answer than the one approved so far starts the count again.
    let mut restarted = 0;
    if let Some(response) = response {
        let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).ok();
        if pause.response.as_deref().and_then(parse) != parse(response) {
            if !pause.approvals.is_empty() {
                restarted = db::pauses::clear_votes(tx, pause.id)?;
                pause.approvals.clear();
            }
            db::pauses::set_pending_response(tx, pause.id, response)?;
            pause.response = Some(response.to_string());
        }
    }
    if !db::pauses::add_vote(tx, pause.id, by, now, comment.as_deref())? {
        return Err(Error::AlreadyVoted);
    }
    pause.approvals.push(Approval {
        by: by.to_string(),
        at: now,
        comment: comment.clone(),
    });
    let given = pause.approvals.len();
    let mut details = json!({ "by": by, "comment": comment, "approvals": given,
                              "requiredApprovals": pause.required_approvals });
    with_response(&mut details, response);
    if restarted > 0 {
        details["approvalsRestarted"] = json!(restarted);
    }
    audit::record(
        tx,
        now,
        actor,
        "pause.approval",
        Some(&pause.watch_id),
        details,
    )?;
    let complete = given >= pause.required_approvals as usize;
    if !complete {
        tx.emit(Event::PauseUpdated {
            watch_id: pause.watch_id.clone(),
        });
    }
    Ok((pause, complete))
}

/// How a pending pause ends: who, what, and which channels hear of it.
pub(super) struct Ending<'a> {
    pub(super) status: Status,
    /// When it ended: now, or for an expiry the deadline that passed.
    pub(super) at: Millis,
    pub(super) by: &'a str,
    pub(super) comment: Option<String>,
    /// A question's answer, or the option a rejection picked.
    pub(super) answer: Option<String>,
    /// The filled-in form (checked JSON text), if the pause has one.
    pub(super) response: Option<String>,
    pub(super) actor: &'a Actor,
    pub(super) channels: &'a Channels,
    /// Its timeout ended it (the audit entry says so).
    pub(super) timed_out: bool,
}

pub(super) fn finish(tx: &mut Tx, now: Millis, pause: Pause, end: Ending) -> Result<Pause> {
    let Ending {
        status,
        at,
        by,
        comment,
        answer,
        response,
        actor,
        channels,
        timed_out,
    } = end;
    let stored = db::pauses::Resolution {
        status,
        at,
        by,
        comment: comment.as_deref(),
        answer: answer.as_deref(),
        response: response.as_deref(),
    };
    if !db::pauses::resolve(tx, pause.id, &stored)? {
        // Another process changed it between our read and our write.
        let current = db::pauses::by_id(tx, pause.id)?.map_or(status, |p| p.status);
        return Err(Error::AlreadyResolved(current));
    }
    let mut details = match (&answer, &comment) {
        // A question's answer; or a rejection's reason with the reviewer's comment.
        (Some(_), Some(_)) => json!({ "by": by, "comment": comment, "answer": answer }),
        (Some(_), None) => json!({ "by": by, "answer": answer }),
        (None, _) if timed_out => json!({ "by": by, "timedOut": true }),
        (None, _) => json!({ "by": by, "comment": comment }),
    };
    with_response(&mut details, response.as_deref());
    audit::record(
        tx,
        now,
        actor,
        &format!("pause.{status}"),
        Some(&pause.watch_id),
        details,
    )?;
    tx.emit(Event::PauseResolved {
        watch_id: pause.watch_id.clone(),
        status,
        pending_ms: (at - pause.created_at).max(0),
    });
    let pause = Pause {
        status,
        resolved_at: Some(at),
        resolved_by: Some(by.to_string()),
        comment,
        answer,
        response,
        ..pause
    };
    outbox::pause_resolved(tx, now, &pause, channels)?;
    Ok(pause)
}

/// Approves or rejects a pending pause. The one path for every way of deciding: the
/// web page, reviewer keys and mail links all end here. Exactly one decision wins.
///
/// A rejection may name one of the pause's options (its reasons to reject), kept as
/// the pause's `answer`; without a comment, the option is the comment too.
pub fn decide(
    tx: &mut Tx,
    now: Millis,
    principal: &Principal,
    watch_id: &str,
    verdict: Verdict,
    channels: &Channels,
) -> Result<Pause> {
    let Verdict {
        decision,
        comment,
        option,
        context: edit,
        response,
        remember,
        seen,
    } = verdict;
    let Some(reviewer) = principal.reviewer() else {
        return Err(Error::Forbidden(
            "agent keys cannot decide pauses; use a reviewer key or the web page".into(),
        ));
    };
    let comment = clean_comment(comment)?;
    let mut pause = pending_for_change(tx, now, watch_id, |_| true)?;
    if pause.kind == Kind::Question {
        return Err(Error::validation(
            "this pause is a question: answer it instead",
        ));
    }
    refuse_owner(tx, &pause, reviewer)?;
    refuse_unrouted(tx, now, &pause, reviewer)?;
    check_seen(&pause, seen.as_deref())?;
    let option = match option {
        None => None,
        Some(_) if decision != Decision::Rejected => {
            return Err(Error::validation(
                "an option is a reason to reject: decide \"rejected\"",
            ));
        }
        Some(option) => Some(check_option(&pause, &option)?),
    };
    let response = check_response(&pause, decision, response.as_ref())?;
    let comment = comment.or_else(|| option.clone());
    // Checked before anything changes: a refused rule refuses the approval with it.
    let plan = match remember {
        None => None,
        Some(_) if decision != Decision::Approved => {
            return Err(Error::validation(
                "remember makes a standing approval: it goes with \"approved\" only",
            ));
        }
        // A rule approves later pauses as their agent sends them: it cannot carry an
        // edit, so allowing "the same" would allow what this reviewer changed.
        Some(_) if edit.is_some() => {
            return Err(Error::validation(
                "an approval with changes cannot also make a standing approval: later pauses would be approved as the agent sends them",
            ));
        }
        Some(remember) => Some(remember.plan(&pause, now)?),
    };
    let by = reviewer.email.clone();
    let actor = principal.actor();
    if let Some(edited) = edit {
        if decision != Decision::Approved {
            return Err(Error::validation(
                "only an approval carries an edited context; reject without one",
            ));
        }
        pause = apply_edit(tx, now, pause, edited, &by, &actor)?;
    }
    if decision == Decision::Approved && pause.required_approvals > 1 {
        // The vote and, when it is the last one needed, the approval: one transaction.
        let (voted, complete) = vote(
            tx,
            now,
            pause,
            &by,
            comment.clone(),
            response.as_deref(),
            &actor,
        )?;
        if !complete {
            return Ok(voted);
        }
        pause = voted;
    }
    let end = Ending {
        status: decision.status(),
        at: now,
        by: &by,
        comment,
        answer: option,
        response,
        actor: &actor,
        channels,
        timed_out: false,
    };
    let pause = finish(tx, now, pause, end)?;
    if let Some(plan) = plan {
        rules::create(tx, now, &actor, reviewer, &pause, plan)?;
    }
    Ok(pause)
}

/// Approves a new pause by a standing approval, in the transaction that created it:
/// one use of the rule counted, the approval by `rule:<id>` audited and announced as
/// any other (waiters, the live page, webhooks).
pub(super) fn approve_by_rule(
    tx: &mut Tx,
    now: Millis,
    pause: Pause,
    rule: &Rule,
    channels: &Channels,
) -> Result<Pause> {
    if !db::rules::use_once(tx, rule.id, now)? {
        return Err(Error::internal(format!("rule {} was used up", rule.id)));
    }
    let by = rule.resolver();
    let end = Ending {
        status: Status::Approved,
        at: now,
        by: &by,
        comment: None,
        answer: None,
        response: None,
        actor: &Actor::System,
        channels,
        timed_out: false,
    };
    let pause = finish(tx, now, pause, end)?;
    audit::record(
        tx,
        now,
        &Actor::System,
        "rule.used",
        Some(&pause.watch_id),
        json!({ "rule": rule.id, "by": rule.created_by, "action": rule.action,
                "isGlob": rule.is_glob, "uses": rule.uses + 1, "maxUses": rule.max_uses }),
    )?;
    Ok(pause)
}

/// The response a review page's form posted for a pause: its fields as typed (by
/// field name) turned into JSON by the pause's form; `None` for a pause without one.
pub fn response_from_page(
    tx: &Tx,
    watch_id: &str,
    typed: &std::collections::HashMap<String, String>,
) -> Result<Option<serde_json::Value>> {
    let Some(pause) = db::pauses::by_watch_id(tx, watch_id)? else {
        return Err(not_found(watch_id));
    };
    // Decided meanwhile: `decide` says so, rather than what was typed.
    let Some(schema) = pause
        .response_schema
        .as_deref()
        .filter(|_| !pause.status.is_terminal())
    else {
        return Ok(None);
    };
    let form = forms::stored(schema)?;
    let prefix = match pause.kind {
        Kind::Question => "answer",
        Kind::Decision => "response",
    };
    forms::from_page(&form, &|name| typed.get(name).cloned(), prefix).map(Some)
}

/// Where a decision comes from when it is not the review page: a message that showed a
/// summary of the pause, never its form or a reviewer's edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    /// A chat button or a signed link, pressed by a person the channel identifies.
    Message,
    /// One tap on a notification (ntfy, Web Push): also never for high or critical risk.
    OneTap,
}

/// Whether `decision` may be taken on `p` from outside the review page: only a
/// decision (a question is answered on its page); approving needs no form to fill in
/// and no reviewer's edit to read (the message showed the agent's context); one tap
/// never approves a high or critical risk. The one rule for drawing buttons and for
/// deciding.
pub fn allowed_outside(p: &Pause, decision: Decision, how: Outside) -> Result<()> {
    if p.kind != Kind::Decision {
        return Err(Error::Conflict(
            "this is a question: answer it on its review page".into(),
        ));
    }
    if decision == Decision::Approved {
        if p.response_schema.is_some() {
            return Err(Error::Conflict(
                "this request asks for a form: approve it on its review page, where the form is filled in".into(),
            ));
        }
        if p.approved_context.is_some() {
            return Err(Error::Conflict(
                "a reviewer changed what would be approved: read the change on its review page and approve it there".into(),
            ));
        }
        if how == Outside::OneTap && matches!(p.risk, Some(Risk::High | Risk::Critical)) {
            return Err(Error::Conflict(
                "its risk is high: approve it on its review page".into(),
            ));
        }
    }
    Ok(())
}

/// `decide`, from outside the review page: refused as [`allowed_outside`] says.
pub fn decide_outside(
    tx: &mut Tx,
    now: Millis,
    principal: &Principal,
    watch_id: &str,
    verdict: Verdict,
    channels: &Channels,
    how: Outside,
) -> Result<Pause> {
    let pause = pending_for_change(tx, now, watch_id, |_| true)?;
    allowed_outside(&pause, verdict.decision, how)?;
    decide(tx, now, principal, watch_id, verdict, channels)
}

/// One of several pauses approved or rejected together (the queue's bulk decision):
/// as `decide`, except that a pause with a form is never approved this way, since
/// nobody filled its form in.
pub fn decide_in_bulk(
    tx: &mut Tx,
    now: Millis,
    principal: &Principal,
    watch_id: &str,
    verdict: Verdict,
    channels: &Channels,
) -> Result<Pause> {
    if verdict.decision == Decision::Approved {
        let pause = pending_for_change(tx, now, watch_id, |_| true)?;
        if pause.response_schema.is_some() {
            return Err(Error::validation(
                "it asks for a form: approve it on its review page, where the form is filled in",
            ));
        }
    }
    decide(tx, now, principal, watch_id, verdict, channels)
}

/// One of the pause's options, exactly.
fn check_option(pause: &Pause, option: &str) -> Result<String> {
    let Some(options) = &pause.options else {
        return Err(Error::validation("this pause offers no options"));
    };
    match options.iter().find(|o| o.as_str() == option) {
        Some(option) => Ok(option.clone()),
        None if pause.kind == Kind::Question => Err(Error::validation(
            "answer must be exactly one of the question's options",
        )),
        None => Err(Error::validation(
            "option must be exactly one of the pause's options",
        )),
    }
}

/// Checks an answer against a question: one of its options exactly, or without
/// options visible text of at most `MAX_ANSWER_BYTES` (trimmed).
fn check_answer(pause: &Pause, answer: &str) -> Result<String> {
    if pause.options.is_some() {
        return check_option(pause, answer);
    }
    let answer = answer.trim();
    if crate::text::looks_empty(answer) {
        return Err(Error::validation("answer must not be empty"));
    }
    if answer.len() > MAX_ANSWER_BYTES {
        return Err(Error::validation(format!(
            "answer is longer than {MAX_ANSWER_BYTES} bytes"
        )));
    }
    Ok(answer.to_string())
}

/// What a question is answered with: text (or one of its options), or for a question
/// with a form, the form filled in.
#[derive(Debug, Clone)]
pub enum Reply {
    Text(String),
    Form(serde_json::Value),
}

/// Answers a pending question with text, or one of its options.
pub fn answer(
    tx: &mut Tx,
    now: Millis,
    principal: &Principal,
    watch_id: &str,
    answer: &str,
    channels: &Channels,
) -> Result<Pause> {
    reply(
        tx,
        now,
        principal,
        watch_id,
        Reply::Text(answer.to_string()),
        channels,
    )
}

/// Answers a pending question. Like `decide`, the one path for every way of answering
/// (the web page and reviewer keys), ending in `finish`: exactly one answer wins.
///
/// A question with a form is answered with the form filled in: the pause's `response`
/// holds it, and its `answer` the same as JSON text (for agents that read text).
pub fn reply(
    tx: &mut Tx,
    now: Millis,
    principal: &Principal,
    watch_id: &str,
    reply: Reply,
    channels: &Channels,
) -> Result<Pause> {
    let Some(reviewer) = principal.reviewer() else {
        return Err(Error::Forbidden(
            "agent keys cannot answer questions; use a reviewer key or the web page".into(),
        ));
    };
    let pause = pending_for_change(tx, now, watch_id, |_| true)?;
    if pause.kind != Kind::Question {
        return Err(Error::validation(
            "this pause is a decision: approve or reject it",
        ));
    }
    refuse_owner(tx, &pause, reviewer)?;
    refuse_unrouted(tx, now, &pause, reviewer)?;
    let (answer, response) = match (&pause.response_schema, reply) {
        (None, Reply::Text(text)) => (check_answer(&pause, &text)?, None),
        (None, Reply::Form(_)) => {
            return Err(Error::validation(
                "this question has no form (no responseSchema): answer with text",
            ))
        }
        (Some(_), Reply::Text(_)) => {
            return Err(Error::validation(
                "this question asks for a form: answer with an object of its fields, {\"answer\": {...}}",
            ))
        }
        (Some(schema), Reply::Form(value)) => {
            let response = forms::check_response(schema, Some(&value), "answer")?;
            (response.clone(), Some(response))
        }
    };
    let by = reviewer.email.clone();
    let actor = principal.actor();
    let end = Ending {
        status: Status::Answered,
        at: now,
        by: &by,
        comment: None,
        answer: Some(answer),
        response,
        actor: &actor,
        channels,
        timed_out: false,
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
        answer: None,
        response: None,
        actor: &actor,
        channels,
        timed_out: false,
    };
    finish(tx, now, pause, end)
}
