//! Microsoft Teams through a Workflows webhook ("Post to a channel when a webhook
//! request is received"): an Adaptive Card per new pause, with the summary and a
//! Review button, and a short card when it is decided. Agent text goes only into
//! `TextRun`s of `RichTextBlock`s, which Teams shows as plain text: a `TextBlock` would
//! read it as Markdown (links, emphasis), and `<at>` mentions need entities hitl never
//! sends.

use serde_json::{json, Value};

use super::email::context_preview;
use super::{Sent, Worker};
use crate::domain::outbox::Job;
use crate::domain::pauses::Pause;
use crate::domain::Kind;
use crate::text::marked_preview;

pub(super) fn send(worker: &Worker, job: &Job, agent: &ureq::Agent) -> Sent {
    let url = worker.settings.chat.teams_url.as_deref();
    let created = |p: &Pause, review: &str| message(created(p, review));
    let resolved = |p: &Pause, review: &str| message(resolved(p, review));
    super::send_team_message(worker, job, agent, url, created, resolved)
}

/// Plain text, shown as it is.
fn plain(text: &str, weight: Option<&str>) -> Value {
    let mut run = json!({ "type": "TextRun", "text": text });
    if let Some(weight) = weight {
        run["weight"] = json!(weight);
    }
    json!({ "type": "RichTextBlock", "inlines": [run] })
}

/// The Workflows webhook's envelope around one card.
fn message(card: Value) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card
        }]
    })
}

fn card(body: Vec<Value>, review: &str, label: &str) -> Value {
    json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{ "type": "Action.OpenUrl", "title": label, "url": review }]
    })
}

pub fn created(p: &Pause, review: &str) -> Value {
    let question = p.kind == Kind::Question;
    let mut body = vec![
        plain(
            if question {
                "Question"
            } else {
                "Approval needed"
            },
            Some("Bolder"),
        ),
        plain(&marked_preview(&p.action, 500), None),
    ];
    let mut facts =
        vec![json!({ "title": "Requested by", "value": marked_preview(&p.key_name, 100) })];
    if let Some(risk) = p.risk {
        facts.push(json!({ "title": "Risk", "value": risk.as_str() }));
    }
    // A FactSet's values are Markdown too: only hitl's own words and the key name
    // (marked, and run through `md_safe`) go there.
    for fact in &mut facts {
        let value = fact["value"].as_str().unwrap_or_default().to_string();
        fact["value"] = json!(md_safe(&value));
    }
    body.push(json!({ "type": "FactSet", "facts": facts }));
    if let Some(summary) = &p.summary {
        body.push(plain(
            &format!("If approved: {}", marked_preview(summary, 300)),
            None,
        ));
    }
    if let Some(context) = context_preview(p, 600) {
        body.push(plain(&marked_preview(&context, 700), None));
    }
    card(body, review, if question { "Answer" } else { "Review" })
}

pub fn resolved(p: &Pause, review: &str) -> Value {
    let body = vec![
        plain(&super::outcome(p, marked_preview), Some("Bolder")),
        plain(&marked_preview(&p.action, 300), None),
    ];
    card(body, review, "Open in hitl")
}

/// Text for a Markdown field: every character Markdown could read as syntax escaped
/// with a backslash, and `<` and `>` as look-alikes so no `<at>` tag forms.
fn md_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push('‹'),
            '>' => out.push('›'),
            '\\' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '`' | '~' | '!' | '-' | '+' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_text_is_plain_runs_only() {
        let p = Pause {
            key_name: "[bot](http://evil) <at>all</at>".into(),
            ..Pause::example("wch_x", "**Deploy** [click](http://evil)")
        };
        let card = created(&p, "http://h/review/wch_x");
        let text = card.to_string();
        assert!(!text.contains("\"TextBlock\""), "{text}");
        assert_eq!(
            card["body"][1]["inlines"][0]["text"],
            "**Deploy** [click](http://evil)"
        );
        assert_eq!(
            card["body"][2]["facts"][0]["value"],
            "\\[bot\\]\\(http://evil\\) ‹at›all‹/at›"
        );
        assert_eq!(card["actions"][0]["url"], "http://h/review/wch_x");
    }
}
