//! The review page's decision panel: approve or reject (or answer a question), the
//! comment, "then the next pending", extending the timeout, the admin's cancel, and
//! the keyboard help.
//!
//! The panel sticks to the bottom of the window, so it is kept short: the comment and
//! the reasons to reject sit in a fold that is open on a desktop and that the script
//! closes on a phone until needed.

use maud::{html, Markup};

use super::review::Review;
use super::{agent_text, csrf, Viewer};
use crate::domain::forms::{self, Field, FieldKind, Form};
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

/// The id of the decision panel's form: a form's fields sit above the panel (which
/// stays short, stuck to the bottom of the window) and belong to it by this id.
pub const DECIDE_FORM_ID: &str = "decide-form";

/// One field of a pause's form: its label (the title, else the name; required ones
/// marked), its help, and an input by type, holding what the reviewer typed.
fn form_field(field: &Field, typed: Option<&str>, index: usize) -> Markup {
    let id = format!("field-{index}");
    let help_id = format!("field-{index}-help");
    let name = forms::input_name(field);
    let described = field.description.as_ref().map(|_| help_id.as_str());
    let typed = typed.unwrap_or("");
    let label = html! {
        (agent_text(field.label()))
        @if field.required {
            span.required aria-hidden="true" { " *" }
            span.visually-hidden { " (required)" }
        }
    };
    html! {
        div.form-field data-field=(field.name) {
            @match &field.kind {
                FieldKind::Boolean => {
                    label.check for=(id) {
                        input #(id) type="checkbox" name=(name) value="true" form=(DECIDE_FORM_ID)
                            checked[!typed.is_empty()] aria-describedby=[described];
                        " " (label)
                    }
                }
                FieldKind::Text { max_length } => {
                    label for=(id) { (label) }
                    @if max_length.is_some_and(|m| m <= 200) {
                        input #(id) type="text" name=(name) value=(typed) form=(DECIDE_FORM_ID)
                            maxlength=[max_length] required[field.required] aria-describedby=[described];
                    } @else {
                        textarea #(id) name=(name) rows="2" form=(DECIDE_FORM_ID)
                            maxlength=[max_length] required[field.required] aria-describedby=[described] { (typed) }
                    }
                }
                FieldKind::Number { integer, minimum, maximum } => {
                    label for=(id) { (label) }
                    input #(id) type="number" name=(name) value=(typed) form=(DECIDE_FORM_ID)
                        step=(if *integer { "1" } else { "any" })
                        min=[minimum.as_ref().map(ToString::to_string)]
                        max=[maximum.as_ref().map(ToString::to_string)]
                        required[field.required] aria-describedby=[described];
                    @if minimum.is_some() || maximum.is_some() {
                        span.range.muted {
                            " "
                            @match (minimum, maximum) {
                                (Some(lo), Some(hi)) => { (lo) " to " (hi) }
                                (Some(lo), None) => { "at least " (lo) }
                                (None, Some(hi)) => { "at most " (hi) }
                                (None, None) => {}
                            }
                        }
                    }
                }
                FieldKind::Choice(choices) => {
                    label for=(id) { (label) }
                    select #(id) name=(name) form=(DECIDE_FORM_ID) required[field.required] aria-describedby=[described] {
                        option value="" { "Choose…" }
                        @for choice in choices {
                            option value=(choice) selected[typed == choice] { (agent_text(choice)) }
                        }
                    }
                }
            }
            @if let Some(help) = &field.description {
                p.help.muted #(help_id) { (agent_text(help)) }
            }
        }
    }
}

/// The pause's form, above the decision panel: what approving (or answering) needs.
pub fn response_form(form: &Form, r: &Review) -> Markup {
    let question = r.pause.kind == crate::domain::Kind::Question;
    html! {
        section.response-form aria-labelledby="response-form-title" data-response-form {
            h2 #response-form-title {
                @if let Some(title) = &form.title { (agent_text(title)) }
                @else if question { "Answer with this form" }
                @else { "To approve, fill in" }
            }
            @if let Some(description) = &form.description {
                p.muted { (agent_text(description)) }
            }
            @if !question {
                p.muted.form-note { "The agent receives these values with your approval. A rejection needs none." }
            }
            @if form.fields.iter().any(|f| f.required) {
                p.muted.form-note { "Fields marked " span aria-hidden="true" { "*" } " are required." }
            }
            div.form-fields {
                @for (i, field) in form.fields.iter().enumerate() {
                    (form_field(field, r.typed.get(&field.name).map(String::as_str), i))
                }
            }
        }
    }
}

/// A filled-in form, once decided: each field's label and value.
pub fn response_summary(form: &Form, response: &str) -> Markup {
    let value: serde_json::Value = serde_json::from_str(response).unwrap_or_default();
    html! {
        dl.response data-response {
            @for field in &form.fields {
                @if let Some(v) = value.get(&field.name) {
                    dt { (agent_text(field.label())) }
                    dd {
                        @match v {
                            serde_json::Value::String(s) => { (agent_text(s)) }
                            serde_json::Value::Bool(true) => { "yes" }
                            serde_json::Value::Bool(false) => { "no" }
                            other => { (other.to_string()) }
                        }
                    }
                }
            }
        }
    }
}

/// A question's answer: one button per option, a text box, or its form's fields.
pub fn answer_form(r: &Review, viewer: &Viewer) -> Markup {
    let id = &r.pause.watch_id;
    html! {
        form.decide #(DECIDE_FORM_ID) method="post" action=(urls::review_answer(id)) data-decide {
            (csrf(viewer))
            @if r.form.is_some() {
                div.decide-buttons {
                    button.approve type="submit" data-busy="Answering…" { "Answer with the form" }
                }
            } @else if let Some(options) = &r.pause.options {
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
        form.decide #(DECIDE_FORM_ID) method="post" action=(urls::review_decide(id)) data-decide {
            // The form's default button, disabled: Enter in a field (a form's, the use
            // count) decides nothing; only a pressed button does.
            button type="submit" hidden disabled tabindex="-1" aria-hidden="true" {}
            (csrf(viewer))
            // The content read: another reviewer's edit since then refuses the decision.
            @if let Ok(seen) = crate::receipt::context_sha256(r.pause.effective_context()) {
                input type="hidden" name="seen" value=(seen);
            }
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
                                button.secondary type="submit" name="reject_option" value=(option) data-busy="Rejecting…" formnovalidate {
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
                button.reject type="submit" name="decision" value="rejected" data-busy="Rejecting…" data-key="r" formnovalidate {
                    span aria-hidden="true" { "✕ " } span data-label { "Reject" }
                }
            }
            (next_choice(r))
            // These folds come after the buttons, so that Tab goes from the comment to
            // Approve; on a phone they show once the comment fold is opened (a short
            // panel).
            @if offered { (remember_fold(&r.pause)) }
            @if let Some(text) = edit_text(r) {
                details.edit-fold open[r.edit_text.is_some()] data-edit-fold {
                    summary { "Edit the context before approving" " " span.muted { "(optional)" } }
                    label.visually-hidden for="edited-context" { "The context to approve, as JSON" }
                    textarea #edited-context name="edited_context" rows="10" spellcheck="false" data-json-edit { (text) }
                    p.field-error role="alert" hidden data-json-error {}
                    p.muted { "Approving with changes sends this JSON to the agent instead of its own; the agent's is kept in the record, and the change is in the history." }
                    div { button.secondary type="submit" name="decision" value="edit" data-busy="Approving…" data-edit-submit { "Approve with these changes" } }
                }
            }
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
                a href=(urls::RULES) { "Rules" } " page."
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

/// The text the Edit box starts with: what the reviewer typed (after a refusal), else
/// the context to approve now, laid out; `None` for a pause without a context.
fn edit_text(r: &Review) -> Option<String> {
    if let Some(typed) = &r.edit_text {
        return Some(typed.clone());
    }
    let current = r.pause.effective_context()?;
    let value: serde_json::Value = serde_json::from_str(current).ok()?;
    serde_json::to_string_pretty(&value).ok()
}

/// The choices of the Extend form: seconds and how they read.
pub const EXTEND_CHOICES: [(i64, &str); 3] =
    [(3_600, "1 hour"), (86_400, "1 day"), (604_800, "7 days")];

/// Any reviewer may give a pending pause more time: added to its deadline, or from now
/// if it has none.
pub fn extend_form(p: &Pause, viewer: &Viewer) -> Markup {
    html! {
        form.extend.inline method="post" action=(urls::review_extend(&p.watch_id)) {
            (csrf(viewer))
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
                (csrf(viewer))
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
