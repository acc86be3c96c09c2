//! Deciding several pauses of the queue at once: the confirmation that lists them,
//! and what became of each.

use maud::{html, Markup};

use super::layout::{page, Nav};
use super::{agent_text, csrf, risk_badge, status_badge, Viewer};
use crate::domain::pauses::Pause;
use crate::domain::Status;
use crate::urls;

/// The decision asked for, as the page words it.
fn verb(approve: bool) -> &'static str {
    if approve {
        "Approve"
    } else {
        "Reject"
    }
}

pub struct Confirm {
    pub approve: bool,
    /// The selected pauses that exist, in the queue's order.
    pub pauses: Vec<Pause>,
    /// Selected watchIds that name no pause.
    pub missing: Vec<String>,
}

fn pause_line(p: &Pause) -> Markup {
    html! {
        @if let Some(risk) = p.risk { (risk_badge(risk)) " " }
        a.action href=(urls::review(&p.watch_id)) { (agent_text(&p.action)) }
        " " span.muted { "· " span.key-name { (agent_text(&p.key_name)) } }
    }
}

pub fn confirm(viewer: &Viewer, c: &Confirm) -> Markup {
    // A pause with a form is approved only on its review page, where it is filled in.
    let with_form = |p: &&Pause| c.approve && p.response_schema.is_some();
    let pending: Vec<&Pause> = c
        .pauses
        .iter()
        .filter(|p| p.status == Status::Pending && !with_form(p))
        .collect();
    let forms: Vec<&Pause> = c
        .pauses
        .iter()
        .filter(|p| p.status == Status::Pending && with_form(p))
        .collect();
    let word = verb(c.approve);
    page(
        &format!("{word} {} pauses?", pending.len()),
        viewer,
        Nav::Queue,
        html! {
            a.back href="/" { "← Queue" }
            h1 { (word) " " (pending.len()) @if pending.len() == 1 { " pause?" } @else { " pauses?" } }
            form.bulk-confirm method="post" action=(urls::QUEUE_BULK) {
                (csrf(viewer))
                input type="hidden" name="decision" value=(if c.approve { "approved" } else { "rejected" });
                input type="hidden" name="confirmed" value="1";
                ul.bulk-list {
                    @for p in &pending {
                        li {
                            input type="hidden" name="id" value=(p.watch_id);
                            (pause_line(p))
                        }
                    }
                }
                @let gone: Vec<&Pause> = c.pauses.iter().filter(|p| p.status != Status::Pending).collect();
                @if !gone.is_empty() || !c.missing.is_empty() {
                    div.notice.warn role="status" {
                        p { "Already decided, left as they are:" }
                        ul.bulk-list {
                            @for p in &gone { li { (status_badge(p.status)) " " (pause_line(p)) } }
                            @for id in &c.missing { li { "no pause " code { (id) } } }
                        }
                    }
                }
                @if !forms.is_empty() {
                    div.notice.warn role="status" data-needs-form {
                        p { "These ask for a form, so they cannot be approved together: approve each on its review page, where the form is filled in." }
                        ul.bulk-list {
                            @for p in &forms { li { (pause_line(p)) } }
                        }
                    }
                }
                @if pending.is_empty() {
                    p { "Nothing left to decide. " a href="/" { "Back to the queue" } }
                } @else {
                    label for="bulk-comment" { "Comment for each agent " span.muted { "(optional)" } }
                    textarea #bulk-comment name="comment" rows="2" maxlength="4000" {}
                    div.decide-buttons {
                        @if c.approve {
                            button.approve type="submit" { "✓ Approve " (pending.len()) }
                        } @else {
                            button.reject type="submit" { "✕ Reject " (pending.len()) }
                        }
                        a.button.secondary href="/" { "Cancel" }
                    }
                }
            }
        },
    )
}

/// What became of one selected pause.
pub enum Outcome {
    Decided(Pause),
    /// Decided (or expired) before this decision reached it.
    AlreadyResolved(Pause),
    /// Refused for another reason (not found, a question…), in words.
    Refused(String, String),
}

pub fn done(viewer: &Viewer, approve: bool, outcomes: &[Outcome]) -> Markup {
    let decided = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Decided(_)))
        .count();
    let word = if approve { "Approved" } else { "Rejected" };
    page(
        &format!("{word} {decided}"),
        viewer,
        Nav::Queue,
        html! {
            a.back href="/" { "← Queue" }
            h1 { (word) " " (decided) " of " (outcomes.len()) }
            ul.bulk-list.bulk-outcome {
                @for o in outcomes {
                    @match o {
                        Outcome::Decided(p) => li data-outcome="decided" {
                            span.ok { "✓ " } (status_badge(p.status)) " " (pause_line(p))
                        },
                        Outcome::AlreadyResolved(p) => li data-outcome="already" {
                            span.bad { "– " } "already " (p.status.as_str())
                            @if let Some(by) = &p.resolved_by { " by " (agent_text(by)) }
                            ": " (pause_line(p))
                        },
                        Outcome::Refused(id, why) => li data-outcome="refused" {
                            span.bad { "✕ " } code { (id) } ": " (why)
                        },
                    }
                }
            }
            p { a.button href="/" { "Back to the queue" } }
        },
    )
}
