//! The review page's decision panel: approve or reject (or answer a question), the
//! comment, "then the next pending", extending the timeout, the admin's cancel, and
//! the keyboard help.
//!
//! The panel sticks to the bottom of the window, so it is kept short: the comment and
//! the reasons to reject sit in a fold that is open on a desktop and that the script
//! closes on a phone until needed.

use maud::{html, Markup};

use super::review::Review;
use super::{agent_text, Viewer};
use crate::domain::pauses::Pause;
use crate::domain::rules::{self, RememberFor};
use crate::domain::OnTimeout;
use crate::urls;

/// "then open the next pending one" (or the queue when none is left): a checkbox
/// named `next`.
fn next_choice(r: &Review) -> Markup {
    html! {
        label.next-choice {
            input type="checkbox" name="next" value="1" data-next-choice;
            @if r.others_pending > 0 {
                " then open the next pending one "
                span.muted { "(" (r.others_pending) " more)" }
            } @else {
                " then back to the queue"
            }
        }
    }
}

/// A question's answer: one button per option, or a text box.
pub fn answer_form(r: &Review, viewer: &Viewer) -> Markup {
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
            (next_choice(r))
        }
    }
}

pub fn decision_form(r: &Review, viewer: &Viewer) -> Markup {
    let id = &r.pause.watch_id;
    let options = r.pause.options.as_deref().unwrap_or_default();
    let offered = rules::not_offered(&r.pause).is_none();
    html! {
        form.decide method="post" action=(urls::review_decide(id)) data-decide {
            @if offered {
                // The form's default button, disabled: Enter in the use count decides
                // nothing; only a pressed button does.
                button type="submit" hidden disabled tabindex="-1" aria-hidden="true" {}
            }
            input type="hidden" name="csrf" value=(viewer.csrf);
            div.decide-extra {
                details.comment-fold open data-comment-fold {
                    summary {
                        @if options.is_empty() { "Comment for the agent" } @else { "Comment, or a reason to reject" }
                        " " span.muted { "(optional)" }
                    }
                    label.visually-hidden for="comment" { "Comment for the agent" }
                    textarea #comment name="comment" rows="2" maxlength="4000" { (r.comment) }
                    @if !options.is_empty() {
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
            div.decide-buttons {
                button.approve type="submit" name="decision" value="approved" data-busy="Approving…" data-key="a" {
                    span aria-hidden="true" { "✓ " } span data-label { "Approve" }
                }
                button.reject type="submit" name="decision" value="rejected" data-busy="Rejecting…" data-key="r" {
                    span aria-hidden="true" { "✕ " } span data-label { "Reject" }
                }
            }
            (next_choice(r))
            // After the buttons, so that Tab goes from the comment to Approve; on a
            // phone it shows once the comment fold is opened (a short panel).
            @if offered { (remember_fold(&r.pause)) }
        }
    }
}

/// "Approve & allow for 1 h / 24 h / 7 d / always": approve, and let a standing
/// approval approve the same again (or what matches the edited action) for a while.
/// Folded away: most approvals are one-offs.
fn remember_fold(p: &Pause) -> Markup {
    html! {
        details.remember data-remember {
            summary { "Approve & allow again…" }
            p.muted {
                "Also approve new requests of " span.key-name { (agent_text(&p.key_name)) }
                " with this action at once, without asking, for a while. You or an admin can revoke it on the "
                a href="/rules" { "Rules" } " page."
            }
            label for="remember-action" {
                "Action " span.muted { "(as asked; to widen it, use * for any text and ? for one character)" }
            }
            textarea #remember-action name="remember_action" rows="2" maxlength="2000" spellcheck="false" { (p.action) }
            label for="remember-uses" { "At most " span.muted { "(optional: how many requests it approves)" } }
            input #remember-uses type="number" name="remember_uses" min="1" max=(rules::MAX_USES) inputmode="numeric" placeholder="no limit";
            div.answer-options.remember-buttons {
                @for span in RememberFor::ALL {
                    button.secondary type="submit" name="remember" value=(span.as_str()) data-busy="Approving…" {
                        "Approve & allow " (span.label())
                    }
                }
            }
        }
    }
}

/// The choices of the Extend form: seconds and how they read.
pub const EXTEND_CHOICES: [(i64, &str); 3] =
    [(3_600, "1 hour"), (86_400, "1 day"), (604_800, "7 days")];

/// Any reviewer may give a pending pause more time: added to its deadline, or from now
/// if it has none.
pub fn extend_form(p: &Pause, viewer: &Viewer) -> Markup {
    html! {
        form.extend.inline method="post" action=(urls::review_extend(&p.watch_id)) {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label for="extend-seconds" {
                @if p.expires_at.is_some() { "Extend the timeout by " } @else { "Set a timeout in " }
            }
            select #extend-seconds name="seconds" {
                @for (seconds, label) in EXTEND_CHOICES {
                    option value=(seconds) { (label) }
                }
            }
            " "
            button.secondary type="submit" { "Extend" }
            @if p.on_timeout != OnTimeout::Expire {
                p.muted { "When the timeout passes, the request is " (p.on_timeout.status()) " by the timeout." }
            }
        }
    }
}

/// Admins may withdraw a pause for its agent; folded away, as it is rarely right.
pub fn cancel_form(watch_id: &str, viewer: &Viewer) -> Markup {
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

/// The keyboard shortcuts, shown by `?` (the script opens it).
pub fn shortcuts_help() -> Markup {
    html! {
        dialog #shortcuts aria-labelledby="shortcuts-title" {
            h2 #shortcuts-title { "Keyboard shortcuts" }
            dl.shortcuts {
                dt { kbd { "a" } } dd { "Approve (asks first)" }
                dt { kbd { "r" } } dd { "Reject (asks first)" }
                dt { kbd { "j" } } dd { "Next pending pause" }
                dt { kbd { "k" } } dd { "Previous pending pause" }
                dt { kbd { "?" } } dd { "This help" }
            }
            p.muted { "Shortcuts do nothing while you type in a text field." }
            form method="dialog" { button.secondary type="submit" { "Close" } }
        }
    }
}
