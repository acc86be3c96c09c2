//! A pause's page: what the agent wants to do, its context, and the decision.

use maud::{html, Markup};
use serde_json::Value;

use super::decide::{
    answer_form, cancel_form, decision_form, extend_form, response_form, response_summary,
    shortcuts_help,
};
use super::layout::{page, Nav};
use super::{
    agent_text, csrf, expiry, json_tree, risk_badge, status_badge, tags, time_ago, Viewer,
};
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
    /// The edited context as the reviewer typed it, kept when it was refused.
    pub edit_text: Option<String>,
    /// The pause's form (`responseSchema`), if it has one.
    pub form: Option<crate::domain::forms::Form>,
    /// What the reviewer typed in the form's fields, by field name (kept when a post
    /// is refused).
    pub typed: std::collections::HashMap<String, String>,
    /// Every node of the context open, however large (`?open=all`).
    pub open_all: bool,
    /// The pending pauses after and before this one in the queue's order (wrapping
    /// around), for "next" and "previous".
    pub next_pending: Option<String>,
    pub prev_pending: Option<String>,
    /// Pending pauses other than this one.
    pub others_pending: i64,
    /// The viewer runs the agent key that asked: they may not decide (separation of
    /// duties).
    pub owner: bool,
    /// The pause is not routed, or routed to the viewer (or to someone they stand in
    /// for): they may decide it.
    pub routed_to_viewer: bool,
}

/// Where a policy routed the pause, and what it does while nobody decides.
fn routing_note(p: &Pause, now: Millis) -> Markup {
    let Some(r) = &p.routing else {
        return html! {};
    };
    html! {
        p.meta data-routing {
            "Routed by the policy “" (r.policy) "” to "
            (and_list(&r.reviewers.iter().map(String::as_str).collect::<Vec<_>>()))
            @if p.status == Status::Pending {
                @if let (Some(at), Some(to)) = (r.escalate_at, &r.escalate_to) {
                    " · " (to) " joins " (time_until(at, now))
                }
                @if let (Some(every), Some(_)) = (r.remind_every, r.remind_at) {
                    " · reminders every " (crate::domain::policies::duration_text(every))
                }
            }
        }
    }
}

/// "in 2h 5m" (or "now" once due).
fn time_until(at: Millis, now: Millis) -> String {
    if at <= now {
        return "now".into();
    }
    format!("in {}", clock::rough_duration(at - now))
}

/// A reviewer's changes to the context, as a list of JSON Patch operations read out:
/// what was replaced, removed or added, with the old and the new value.
fn edit_diff(p: &Pause) -> Markup {
    let parse = |text: Option<&str>| -> Value {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or(Value::Null)
    };
    let (agent, approved) = (parse(p.context.as_deref()), parse(p.approved_context()));
    let patch = json_patch::diff(&agent, &approved);
    let by = p
        .approvals
        .first()
        .map(|a| a.by.as_str())
        .or(p.resolved_by.as_deref());
    let shown = |v: Option<&Value>| v.map_or_else(String::new, Value::to_string);
    html! {
        section.edit-diff aria-label="Changes to the context" data-edit-diff {
            h2 { "Approved with changes" }
            p.muted {
                "A reviewer changed the context before approving"
                @if p.status == Status::Pending { "; approving now approves the changed context" }
                @else if let Some(by) = by { " (" (by) ")" }
                ". The agent's own context is kept above; "
                code { "approvedContext" } " is what the agent acts on."
            }
            ul.diff {
                @for op in patch.iter() {
                    @match op {
                        json_patch::PatchOperation::Replace(r) => li.diff-replace {
                            code { (r.path.to_string()) } ": "
                            del { (agent_text(&shown(agent.pointer(r.path.as_str())))) }
                            " → " ins { (agent_text(&r.value.to_string())) }
                        },
                        json_patch::PatchOperation::Remove(r) => li.diff-remove {
                            "removed " code { (r.path.to_string()) } ": "
                            del { (agent_text(&shown(agent.pointer(r.path.as_str())))) }
                        },
                        json_patch::PatchOperation::Add(a) => li.diff-add {
                            "added " code { (a.path.to_string()) } ": "
                            ins { (agent_text(&a.value.to_string())) }
                        },
                        other => li { code { (agent_text(&serde_json::to_string(other).unwrap_or_default())) } },
                    }
                }
            }
        }
    }
}

/// "1 of 2 approvals", with who approved and when.
fn approvals_note(p: &Pause) -> Markup {
    html! {
        section.approvals aria-label="Approvals" {
            p data-approvals { strong { (super::approvals_progress(p)) } }
            @if !p.approvals.is_empty() {
                ul {
                    @for a in &p.approvals {
                        li { (a.by) " approved " (clock::rfc3339(a.at)) @if let Some(c) = &a.comment { ": " (c) } }
                    }
                }
            }
        }
    }
}

/// Where the agent's text holds hidden or direction-changing characters.
fn hidden_in(r: &Review) -> Vec<&'static str> {
    let p = &r.pause;
    let mut places = Vec::new();
    if crate::text::has_hidden(&p.action) {
        places.push("the action");
    }
    if p.summary.as_deref().is_some_and(crate::text::has_hidden) {
        places.push("the summary");
    }
    if p.tags.iter().any(|t| crate::text::has_hidden(t)) {
        places.push("the tags");
    }
    if p.options
        .iter()
        .flatten()
        .any(|o| crate::text::has_hidden(o))
    {
        places.push("the options");
    }
    if p.response_schema
        .as_deref()
        .is_some_and(crate::text::has_hidden)
    {
        places.push("the form");
    }
    let in_context = match &r.context {
        Some(value) => value_has_hidden(value),
        None => p.context.as_deref().is_some_and(crate::text::has_hidden),
    };
    if in_context {
        places.push("the context");
    }
    places
}

fn value_has_hidden(value: &Value) -> bool {
    match value {
        Value::String(s) => crate::text::has_hidden(s),
        Value::Array(items) => items.iter().any(value_has_hidden),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| crate::text::has_hidden(k) || value_has_hidden(v)),
        _ => false,
    }
}

fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn decided_banner(p: &Pause, form: Option<&crate::domain::forms::Form>, now: Millis) -> Markup {
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
            } @else if p.timed_out() {
                " by the timeout · nobody decided in time"
            } @else if let Some(rule) = p.resolved_by.as_deref().and_then(|by| by.strip_prefix("rule:")) {
                " by standing approval " a href=(urls::RULES) { "#" (rule) }
            } @else if let Some(by) = &p.resolved_by {
                " by " (agent_text(by))
            }
            @if let Some(at) = p.resolved_at { " · " (time_ago(at, now)) }
            @if let Some(comment) = &p.comment {
                " · " q.comment { (agent_text(comment)) }
            }
            @if let (Some(form), Some(response)) = (form, &p.response) {
                (response_summary(form, response))
            } @else if let Some(answer) = p.answer.as_ref().filter(|a| p.comment.as_ref() != Some(*a)) {
                // A rejection's reason is usually its comment as well: shown once.
                span.answer { (agent_text(answer)) }
            }
        }
    }
}

/// One line of the history, worded for people.
fn history_line(e: &Entry, p: &Pause) -> Markup {
    let details: Value = serde_json::from_str(&e.details).unwrap_or(Value::Null);
    let by = details["by"].as_str().unwrap_or("");
    let comment = details["comment"].as_str();
    let timed_out = details["timedOut"].as_bool() == Some(true);
    html! {
        @match e.event.as_str() {
            "pause.created" => { "created by " span.key-name { (agent_text(&p.key_name)) } }
            "pause.approved" if timed_out => { "approved by the timeout: nobody decided in time" }
            "pause.rejected" if timed_out => { "rejected by the timeout: nobody decided in time" }
            "pause.extended" => {
                "timeout extended by " (agent_text(by))
                @if let Some(to) = details["to"].as_str() { " to " (to) }
            }
            "pause.approved" => { "approved by " (agent_text(by)) @if let Some(c) = comment { ": " q { (agent_text(c)) } } }
            "pause.approval" => { "one approval by " (agent_text(by)) " (" (details["approvals"]) " of " (details["requiredApprovals"]) ")" @if let Some(c) = comment { ": " q { (agent_text(c)) } } }
            "pause.rejected" => { "rejected by " (agent_text(by)) @if let Some(c) = comment { ": " q { (agent_text(c)) } } }
            "pause.answered" => { "answered by " (agent_text(by)) @if let Some(a) = details["answer"].as_str() { ": " q { (agent_text(a)) } } }
            "pause.cancelled" => { "cancelled by " (agent_text(by)) @if let Some(c) = comment { ": " q { (agent_text(c)) } } }
            "pause.expired" => { "expired: nobody decided in time" }
            "rule.created" => {
                "standing approval #" (details["rule"]) " made by " (agent_text(by)) ": allows "
                @if details["isGlob"] == Value::Bool(true) { "actions matching " } @else { "this action " }
                @match details["expiresAt"].as_str() { Some(at) => { "until " (at) }, None => { "until revoked" } }
                @if let Some(n) = details["maxUses"].as_i64() { ", at most " (n) " times" }
            }
            "rule.used" => { "allowed by standing approval #" (details["rule"]) " of " (agent_text(by)) " (use " (details["uses"]) @if let Some(n) = details["maxUses"].as_i64() { " of " (n) } ")" }
            "rule.revoked" => { "standing approval #" (details["rule"]) " revoked by " (agent_text(by)) }
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
    // Chat and push messages to a person name them; those to a channel do not.
    let named = matches!(s.kind, Kind::Webhook | Kind::Email) || s.target.contains('@');
    let what = match (s.kind, named) {
        (Kind::Webhook, _) => "webhook to",
        (Kind::Email, _) => "mail to",
        (Kind::Slack, true) => "Slack message to",
        (Kind::Slack, false) => "Slack message",
        (Kind::Telegram, _) => "Telegram message to",
        (Kind::Ntfy, _) => "ntfy message to",
        (Kind::Push, _) => "push notification to",
        (Kind::Teams, _) => "Teams message",
        (Kind::Discord, _) => "Discord message",
    };
    let last = d.attempts.last();
    html! {
        li.delivery data-state=(s.state) {
            @match (s.state.as_str(), last) {
                ("delivered", Some(a)) => {
                    span.ok { "✓ " }
                    (what) " " @if named { code { (agent_text(&s.target)) } " " }
                    span.muted {
                        @if let Some(code) = a.http_status { (code) " " }
                        "in " (a.duration_ms) " ms"
                        @if d.attempts.len() > 1 { " · after " (d.attempts.len()) " attempts" }
                    }
                }
                ("skipped", a) => {
                    span.muted { "– " (what) " " @if named { (agent_text(&s.target)) " " }
                        (a.and_then(|a| a.error.as_deref()).unwrap_or("not sent")) }
                }
                (state, a) => {
                    span.bad { @if state == "pending" && a.is_none() { "… " } @else { "✕ " } }
                    (what) " " @if named { code { (agent_text(&s.target)) } " " }
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
                    (csrf(viewer))
                    " " button.small.secondary type="submit" { @if s.state == "delivered" { "Send again" } @else { "Retry now" } }
                }
            }
        }
    }
}

fn context_section(r: &Review) -> Markup {
    let tree = r.context.as_ref().map(|v| json_tree::tree(v, r.open_all));
    html! {
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
            @match &tree {
                Some(tree) => {
                    @if tree.folded > 0 {
                        p.notice.folded role="note" {
                            "This context is large: " strong { (tree.folded) " of " (tree.containers) " objects and lists are folded." }
                            " " a href=(format!("{}?open=all", urls::review(&r.pause.watch_id))) data-open-all { "Open all" }
                        }
                    }
                    div.context-box data-tree { (tree.markup) }
                    details.raw data-raw {
                        summary { "Raw JSON" }
                        pre.context-box { (agent_text(r.context_pretty.as_deref().unwrap_or(""))) }
                    }
                }
                None => {
                    @if let Some(raw) = &r.context_pretty {
                        p.muted { "Shown as stored: hitl could not lay this context out." }
                        pre.context-box { (agent_text(raw)) }
                    } @else if let Some(at) = r.pause.purged_at {
                        p.muted data-purged {
                            "Removed by the retention policy on " (crate::clock::rfc3339(at))
                            ": what was asked and decided, by whom and when, and the digests the receipt signs are kept."
                        }
                    } @else {
                        p.muted { "The agent sent no context." }
                    }
                }
            }
        }
    }
}

/// Previous and next pending pause, and the keyboard help's key.
fn pending_nav(r: &Review) -> Markup {
    html! {
        nav.review-nav aria-label="Pending pauses" {
            a.back href="/" { "← Queue" }
            span.review-steps {
                @if let Some(prev) = &r.prev_pending {
                    a href=(urls::review(prev)) data-prev-pending rel="prev" { "‹ Previous" }
                }
                @if let Some(next) = &r.next_pending {
                    a href=(urls::review(next)) data-next-pending rel="next" { "Next pending ›" }
                }
                button.link.shortcuts-button type="button" data-shortcuts hidden aria-label="Keyboard shortcuts" { kbd { "?" } }
            }
        }
    }
}

pub fn view(viewer: &Viewer, r: &Review) -> Markup {
    let p = &r.pause;
    let short_id = format!("{}…", p.watch_id.chars().take(12).collect::<String>());
    let hidden = hidden_in(r);
    let content = html! {
        (pending_nav(r))
        article.review data-watch-id=(p.watch_id) data-status=(p.status.as_str()) {
            div.review-head {
                span.head-badges {
                    span data-status-badge { (status_badge(p.status)) }
                    @if p.kind == PauseKind::Question { span.kind-question { "QUESTION" } }
                    @if let Some(risk) = p.risk { (risk_badge(risk)) }
                }
                h1.action { (agent_text(&p.action)) }
            }
            @if let Some(summary) = &p.summary {
                p.summary {
                    span.summary-label { "If approved: " }
                    (agent_text(summary))
                }
            }
            p.meta {
                "requested by " span.key-name { (agent_text(&p.key_name)) }
                " · " (time_ago(p.created_at, r.now))
                @if p.status == Status::Pending { " · " (expiry(p.expires_at, r.now)) }
                " · " code.watch-id title=(p.watch_id) { (short_id) }
                " " button.icon-button type="button" data-copy=(p.watch_id) aria-label="Copy the watchId" { (assets::icon("copy")) }
            }
            @if !p.tags.is_empty() { p.tags { (tags(&p.tags)) } }
            (routing_note(p, r.now))

            @if !hidden.is_empty() {
                div.notice.warn.hidden-chars role="alert" {
                    strong { "This request contains hidden or direction-changing characters" }
                    " (in " (and_list(&hidden)) "). They are shown as markers such as "
                    span.invisible { "⟨RLO⟩" }
                    "; text with them can read differently from what it does. Read it closely before deciding."
                }
            }

            (context_section(r))

            @match &r.notice {
                Some(Notice::TooLate) => {
                    div.notice.warn role="alert" { "Someone else decided first, or the pause expired. This is what happened:" }
                }
                Some(Notice::Error(message)) => { div.notice.error role="alert" { (message) } }
                None => {}
            }
            @if p.edited() { (edit_diff(p)) }
            @if p.required_approvals > 1 { (approvals_note(p)) }
            @if p.status == Status::Pending {
                @if r.owner {
                    p.notice.warn role="note" data-self-approval {
                        "You run the agent key “" (agent_text(&p.key_name)) "” that asked, so another reviewer must decide this pause (separation of duties)."
                    }
                } @else if let (false, Some(routing)) = (r.routed_to_viewer, &p.routing) {
                    p.notice.warn role="note" data-not-a-reviewer {
                        "The policy “" (routing.policy) "” routes this pause to "
                        (and_list(&routing.reviewers.iter().map(String::as_str).collect::<Vec<_>>())) ". You are not a member"
                        @if routing.reviewers.len() > 1 { " of any of them" }
                        ", nor standing in for one who is away, so one of them must decide it."
                    }
                } @else if p.approvals.iter().any(|a| a.by == viewer.email) {
                    p.notice role="note" data-voted {
                        "You approved this pause; it waits for approvals from other reviewers."
                    }
                } @else if p.kind == PauseKind::Question {
                    @if let Some(form) = &r.form { (response_form(form, r)) }
                    section.decision aria-label="Answer" { (answer_form(r, viewer)) }
                } @else {
                    @if let Some(form) = &r.form { (response_form(form, r)) }
                    section.decision aria-label="Decision" { (decision_form(r, viewer)) }
                }
                @if r.routed_to_viewer { (extend_form(p, viewer)) }
                @if viewer.is_admin { (cancel_form(&p.watch_id, viewer)) }
            } @else {
                (decided_banner(p, r.form.as_ref(), r.now))
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
        (shortcuts_help())
    };
    page(
        &format!("Review: {}", super::plain_preview(&p.action, 60)),
        viewer,
        Nav::None,
        content,
    )
}
