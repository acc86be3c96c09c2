//! A pause's page: what the agent wants to do, its context, and the decision.

use maud::{html, Markup};
use serde_json::Value;

use super::layout::{page, Nav};
use super::{agent_text, expiry, json_tree, status_badge, tags, time_ago, Viewer};
use crate::assets;
use crate::clock::{self, Millis};
use crate::domain::audit::Entry;
use crate::domain::outbox::{Delivery, Kind};
use crate::domain::pauses::Pause;
use crate::domain::{Kind as PauseKind, Status};
use crate::urls;

/// A message above the decision panel after a POST.
pub enum Notice {
    /// Someone else decided (or it expired) first.
    TooLate,
    Error(String),
}

pub struct Review {
    pub pause: Pause,
    pub context: Option<Value>,
    pub context_pretty: Option<String>,
    pub history: Vec<Entry>,
    pub deliveries: Vec<Delivery>,
    pub now: Millis,
    pub notice: Option<Notice>,
    pub comment: String,
}

fn decided_banner(p: &Pause, now: Millis) -> Markup {
    let verb = match p.status {
        Status::Approved => "Approved",
        Status::Rejected => "Rejected",
        Status::Answered => "Answered",
        Status::Expired => "Expired",
        Status::Cancelled => "Cancelled",
        Status::Pending => "Pending",
    };
    html! {
        div class=(format!("banner banner-{}", p.status)) role="status" {
            strong { (verb) }
            @if p.status == Status::Expired {
                " · nobody decided in time"
            } @else if let Some(by) = &p.resolved_by {
                " by " (agent_text(by))
            }
            @if let Some(at) = p.resolved_at { " · " (time_ago(at, now)) }
            @if let Some(comment) = &p.comment {
                " · " q.comment { (agent_text(comment)) }
            }
            // A rejection's reason is usually its comment as well: shown once.
            @if let Some(answer) = p.answer.as_ref().filter(|a| p.comment.as_ref() != Some(*a)) {
                span.answer { (agent_text(answer)) }
            }
        }
    }
}

/// A question's answer: one button per option, or a text box.
fn answer_form(r: &Review, viewer: &Viewer) -> Markup {
    let id = &r.pause.watch_id;
    html! {
        form.decide method="post" action=(urls::review_answer(id)) data-decide {
            input type="hidden" name="csrf" value=(viewer.csrf);
            @if let Some(options) = &r.pause.options {
                p.muted { "Answer with one of the choices the agent offered:" }
                div.answer-options {
                    @for option in options {
                        button.secondary type="submit" name="answer" value=(option) data-busy="Answering…" {
                            (agent_text(option))
                        }
                    }
                }
            } @else {
                label for="answer" { "Your answer" }
                textarea #answer name="answer" rows="3" maxlength="4000" required { (r.comment) }
                div.decide-buttons {
                    button.approve type="submit" data-busy="Answering…" { "Answer" }
                }
            }
        }
    }
}

fn decision_form(r: &Review, viewer: &Viewer) -> Markup {
    let id = &r.pause.watch_id;
    html! {
        form.decide method="post" action=(urls::review_decide(id)) data-decide {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label for="comment" { "Comment for the agent " span.muted { "(optional)" } }
            textarea #comment name="comment" rows="3" maxlength="4000" { (r.comment) }
            div.decide-buttons {
                button.approve type="submit" name="decision" value="approved" data-busy="Approving…" {
                    span aria-hidden="true" { "✓ " } "Approve"
                }
                button.reject type="submit" name="decision" value="rejected" data-busy="Rejecting…" {
                    span aria-hidden="true" { "✕ " } "Reject"
                }
            }
            @if let Some(options) = &r.pause.options {
                p.muted { "Or reject for one of the reasons the agent offered:" }
                div.answer-options.reject-options {
                    @for option in options {
                        button.secondary type="submit" name="reject_option" value=(option) data-busy="Rejecting…" {
                            (agent_text(option))
                        }
                    }
                }
            }
        }
    }
}

/// Admins may withdraw a pause for its agent; folded away, as it is rarely right.
fn cancel_form(watch_id: &str, viewer: &Viewer) -> Markup {
    html! {
        details.cancel {
            summary { "Cancel this request…" }
            form method="post" action=(urls::review_cancel(watch_id)) data-confirm="Cancel this request? The agent will be told it was cancelled." {
                input type="hidden" name="csrf" value=(viewer.csrf);
                p.muted { "The agent learns the request was cancelled, not rejected." }
                label for="cancel-reason" { "Reason " span.muted { "(optional)" } }
                textarea #cancel-reason name="reason" rows="2" maxlength="4000" {}
                button.secondary type="submit" { "Cancel the request" }
            }
        }
    }
}

/// One line of the history, worded for people.
fn history_line(e: &Entry, p: &Pause) -> Markup {
    let details: Value = serde_json::from_str(&e.details).unwrap_or(Value::Null);
    let by = details["by"].as_str().unwrap_or("");
    let comment = details["comment"].as_str();
    html! {
        @match e.event.as_str() {
            "pause.created" => { "created by " span.key-name { (agent_text(&p.key_name)) } }
            "pause.approved" => { "approved by " (agent_text(by)) @if let Some(c) = comment { ": " q { (agent_text(c)) } } }
            "pause.rejected" => { "rejected by " (agent_text(by)) @if let Some(c) = comment { ": " q { (agent_text(c)) } } }
            "pause.answered" => { "answered by " (agent_text(by)) @if let Some(a) = details["answer"].as_str() { ": " q { (agent_text(a)) } } }
            "pause.cancelled" => { "cancelled by " (agent_text(by)) @if let Some(c) = comment { ": " q { (agent_text(c)) } } }
            "pause.expired" => { "expired: nobody decided in time" }
            other => { (other) }
        }
    }
}

/// A reviewer may send a webhook again at any time once tried, and anything else
/// that did not go through.
fn can_retry(d: &Delivery) -> bool {
    let tried = !d.attempts.is_empty();
    let through = matches!(d.stored.state.as_str(), "delivered" | "skipped");
    tried && (d.stored.kind == Kind::Webhook || !through)
}

/// One delivery: what, where, and how its last attempt went.
fn delivery_line(d: &Delivery, watch_id: &str, viewer: &Viewer, now: Millis) -> Markup {
    let s = &d.stored;
    let what = match s.kind {
        Kind::Webhook => "webhook to",
        Kind::Email => "mail to",
        Kind::Slack => "Slack message",
    };
    let last = d.attempts.last();
    html! {
        li.delivery data-state=(s.state) {
            @match (s.state.as_str(), last) {
                ("delivered", Some(a)) => {
                    span.ok { "✓ " }
                    (what) " " @if s.kind != Kind::Slack { code { (agent_text(&s.target)) } " " }
                    span.muted {
                        @if let Some(code) = a.http_status { (code) " " }
                        "in " (a.duration_ms) " ms"
                        @if d.attempts.len() > 1 { " · after " (d.attempts.len()) " attempts" }
                    }
                }
                ("skipped", a) => {
                    span.muted { "– " (what) " " @if s.kind != Kind::Slack { (agent_text(&s.target)) " " }
                        (a.and_then(|a| a.error.as_deref()).unwrap_or("not sent")) }
                }
                (state, a) => {
                    span.bad { @if state == "pending" && a.is_none() { "… " } @else { "✕ " } }
                    (what) " " @if s.kind != Kind::Slack { code { (agent_text(&s.target)) } " " }
                    span.muted {
                        @if let Some(a) = a {
                            @if let Some(code) = a.http_status { (code) " · " }
                            (agent_text(a.error.as_deref().unwrap_or(""))) " · "
                        }
                        @match state {
                            "pending" if a.is_none() => { "sending" }
                            "pending" => { "retry " (super::relative(s.next_attempt_at, now)) }
                            "gone" => { "the receiver said never again" }
                            _ => { "failed after " (d.attempts.len()) " attempts" }
                        }
                    }
                }
            }
            @if can_retry(d) {
                form.inline method="post" action=(urls::delivery_retry(watch_id, s.id)) {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    " " button.small.secondary type="submit" { @if s.state == "delivered" { "Send again" } @else { "Retry now" } }
                }
            }
        }
    }
}

pub fn view(viewer: &Viewer, r: &Review) -> Markup {
    let p = &r.pause;
    let short_id = format!("{}…", p.watch_id.chars().take(12).collect::<String>());
    let content = html! {
        a.back href="/" { "← Queue" }
        article.review data-watch-id=(p.watch_id) data-status=(p.status.as_str()) {
            div.review-head {
                (status_badge(p.status))
                @if p.kind == PauseKind::Question { " " span.kind-question { "QUESTION" } }
                h1.action { (agent_text(&p.action)) }
            }
            p.meta {
                "requested by " span.key-name { (agent_text(&p.key_name)) }
                " · " (time_ago(p.created_at, r.now))
                @if p.status == Status::Pending { " · " (expiry(p.expires_at, r.now)) }
                " · " code.watch-id title=(p.watch_id) { (short_id) }
                " " button.icon-button type="button" data-copy=(p.watch_id) aria-label="Copy the watchId" { (assets::icon("copy")) }
            }
            @if !p.tags.is_empty() { p.tags { (tags(&p.tags)) } }

            section.context aria-labelledby="context-title" {
                div.section-head {
                    h2 #context-title { "Context" }
                    @if let Some(raw) = &r.context_pretty {
                        div.tools {
                            button.link type="button" data-toggle-raw hidden { "Raw" }
                            button.link type="button" data-copy=(raw) { "Copy" }
                        }
                    }
                }
                @match &r.context {
                    Some(value) => {
                        div.context-box data-tree { (json_tree::tree(value)) }
                        details.raw data-raw {
                            summary { "Raw JSON" }
                            pre.context-box { (agent_text(r.context_pretty.as_deref().unwrap_or(""))) }
                        }
                    }
                    None => {
                        @if let Some(raw) = &r.context_pretty {
                            p.muted { "Shown as stored: hitl could not lay this context out." }
                            pre.context-box { (agent_text(raw)) }
                        } @else {
                            p.muted { "The agent sent no context." }
                        }
                    }
                }
            }

            @match &r.notice {
                Some(Notice::TooLate) => {
                    div.notice.warn role="alert" { "Someone else decided first, or the pause expired. This is what happened:" }
                }
                Some(Notice::Error(message)) => { div.notice.error role="alert" { (message) } }
                None => {}
            }
            @if p.status == Status::Pending {
                @if p.kind == PauseKind::Question {
                    section.decision aria-label="Answer" { (answer_form(r, viewer)) }
                } @else {
                    section.decision aria-label="Decision" { (decision_form(r, viewer)) }
                }
                @if viewer.is_admin { (cancel_form(&p.watch_id, viewer)) }
            } @else {
                (decided_banner(p, r.now))
            }

            section.history aria-labelledby="history-title" {
                h2 #history-title { "History" }
                ol.events {
                    @for e in &r.history {
                        li {
                            time datetime=(clock::rfc3339(e.at)) title=(clock::rfc3339(e.at)) {
                                (clock::rfc3339(e.at).get(11..19).unwrap_or(""))
                            }
                            " " (history_line(e, p))
                        }
                    }
                }
                @if !r.deliveries.is_empty() {
                    h2 { "Deliveries" }
                    ul.deliveries {
                        @for d in &r.deliveries { (delivery_line(d, &p.watch_id, viewer, r.now)) }
                    }
                }
            }
        }
    };
    page(
        &format!("Review: {}", super::plain_preview(&p.action, 60)),
        viewer,
        Nav::None,
        content,
    )
}
