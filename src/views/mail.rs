//! The page an Approve or Reject link in a mail opens: it shows what is being decided
//! and asks for one more click. Opening it decides nothing.

use maud::{html, Markup};

use super::layout::bare;
use super::{agent_text, json_tree, status_badge, tags};
use crate::domain::pauses::{Decision, Pause};
use crate::domain::Status;
use crate::urls;

pub struct Confirm {
    pub token: String,
    pub pause: Pause,
    pub context: Option<serde_json::Value>,
    pub decision: Decision,
    pub reviewer: String,
    pub error: Option<String>,
}

pub fn confirm(c: &Confirm) -> Markup {
    let (verb, class) = match c.decision {
        Decision::Approved => ("Approve", "approve"),
        Decision::Rejected => ("Reject", "reject"),
    };
    bare(
        &format!("{verb}?"),
        html! {
            div.mail-confirm {
                p { (status_badge(c.pause.status)) }
                h1.action { (agent_text(&c.pause.action)) }
                p.meta { "requested by " span.key-name { (agent_text(&c.pause.key_name)) } }
                @if !c.pause.tags.is_empty() { p { (tags(&c.pause.tags)) } }
                @if let Some(context) = &c.context {
                    details.context-details {
                        summary { "Context" }
                        div.context-box { (json_tree::tree(context, false).markup) }
                    }
                }
                @if let Some(error) = &c.error { div.notice.error role="alert" { (error) } }
                form.stack method="post" action=(urls::mail(&c.token)) {
                    label { span { "Comment for the agent " span.muted { "(optional)" } } textarea name="comment" rows="3" maxlength="4000" {} }
                    button class=(class) type="submit" { (verb) " as " (c.reviewer) }
                }
                p.muted { "Nothing is decided until you press the button. " a href=(urls::review(&c.pause.watch_id)) { "Open the full review page" } }
            }
        },
    )
}

/// After the click, or when the link cannot be used.
pub fn outcome(title: &str, message: &str, pause: Option<&Pause>) -> Markup {
    bare(
        title,
        html! {
            h1 { (title) }
            @if let Some(p) = pause {
                p { (status_badge(p.status)) " " strong { (agent_text(&p.action)) } }
                @if p.status != Status::Pending {
                    p {
                        @if p.timed_out() { "Nobody decided in time: ended by the timeout." }
                        @else if let Some(by) = &p.resolved_by { "Decided by " (agent_text(by)) "." }
                        @if let Some(comment) = &p.comment { " " q { (agent_text(comment)) } }
                    }
                }
            }
            p { (message) }
            p { a href="/" { "Open hitl" } }
        },
    )
}
