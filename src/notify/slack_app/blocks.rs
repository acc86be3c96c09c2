//! The Slack app's messages: a pause with Review, Approve and Reject buttons (a
//! question or a form gets Review only: it is answered on its page), its outcome once
//! decided, and the modal that asks why it is rejected. Agent text goes only into
//! `plain_text` objects (shown as it is) and the mrkdwn notification `text`, where it
//! is escaped; it is marked and cut by the rules of the incoming-webhook messages.

use serde_json::{json, Value};

use crate::domain::pauses::Pause;
use crate::domain::{Kind, Status};
use crate::notify::email::context_preview;
use crate::notify::slack::{agent, agent_mrkdwn, plain, HEADER_MAX, SECTION_MAX};

pub const APPROVE: &str = "hitl_approve";
pub const REJECT: &str = "hitl_reject";
pub const REVIEW: &str = "hitl_review";
/// The reject modal's `callback_id`, and its reason's block and action id.
pub const REJECT_VIEW: &str = "hitl_reject";
pub const REASON: &str = "reason";

/// Why a reviewer gets a message about a pending pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// A new pause (or the team's channel).
    New,
    Reminder,
    Escalated,
}

/// Whether the pause can be decided with the buttons (see `pauses::allowed_outside`).
pub fn has_buttons(p: &Pause) -> bool {
    crate::domain::pauses::allowed_outside(
        p,
        crate::domain::pauses::Decision::Approved,
        crate::domain::pauses::Outside::Message,
    )
    .is_ok()
}

fn review_button(p: &Pause, review_url: &str) -> Value {
    let label = if p.kind == Kind::Question && p.status == Status::Pending {
        "Answer"
    } else {
        "Review"
    };
    json!({ "type": "button", "text": plain(label), "url": review_url, "action_id": REVIEW })
}

/// The lines every message about `p` starts with: the action, who asks, the risk.
fn about(p: &Pause) -> Vec<Value> {
    let mut asked = format!("Requested by {}", agent(&p.key_name, 100));
    if let Some(risk) = p.risk {
        asked.push_str(&format!(" · Risk: {}", risk.as_str()));
    }
    vec![
        json!({ "type": "header", "text": plain(&agent(&p.action, HEADER_MAX)) }),
        json!({ "type": "context", "elements": [plain(&asked)] }),
    ]
}

/// The message about a pending pause.
pub fn pending(p: &Pause, review_url: &str, why: Why) -> Value {
    let mut blocks = Vec::new();
    match why {
        Why::New => {}
        Why::Reminder => blocks.push(json!({ "type": "section", "text": plain("Reminder: this still waits for your decision.") })),
        Why::Escalated => blocks.push(json!({ "type": "section", "text": plain("Escalated to you: nobody decided this in time.") })),
    }
    blocks.extend(about(p));
    if let Some(summary) = &p.summary {
        blocks.push(json!({ "type": "section", "text": plain(&agent(summary, SECTION_MAX)) }));
    }
    if let Some(context) = context_preview(p, 600) {
        blocks.push(json!({ "type": "section", "text": plain(&agent(&context, SECTION_MAX)) }));
    }
    if let Some(options) = p.options.as_ref().filter(|_| p.kind == Kind::Question) {
        let choices = agent(&options.join(" · "), SECTION_MAX - 20);
        blocks.push(json!({ "type": "section", "text": plain(&format!("Choices: {choices}")) }));
    }
    if !p.tags.is_empty() {
        let tags = agent(&p.tags.join(", "), 600);
        blocks.push(json!({ "type": "context", "elements": [plain(&format!("Tags: {tags}"))] }));
    }
    if p.required_approvals > 1 {
        let mut progress = crate::views::approvals_progress(p);
        if !p.approvals.is_empty() {
            let by: Vec<&str> = p.approvals.iter().map(|a| a.by.as_str()).collect();
            progress.push_str(&format!(" so far: {}", agent(&by.join(", "), 600)));
        }
        blocks.push(json!({ "type": "context", "elements": [plain(&progress)] }));
    }
    let mut buttons = vec![review_button(p, review_url)];
    if has_buttons(p) {
        buttons.push(
            json!({ "type": "button", "text": plain("Approve"), "style": "primary",
                             "action_id": APPROVE, "value": p.watch_id }),
        );
        buttons.push(
            json!({ "type": "button", "text": plain("Reject"), "style": "danger",
                             "action_id": REJECT, "value": p.watch_id }),
        );
    }
    blocks.push(json!({ "type": "actions", "block_id": "hitl", "elements": buttons }));
    let lead = match (why, p.kind) {
        (Why::Reminder, _) => "Reminder",
        (Why::Escalated, _) => "Escalated to you",
        (Why::New, Kind::Question) => "Question",
        (Why::New, Kind::Decision) => "Approval needed",
    };
    json!({ "text": format!("{lead}: {}", agent_mrkdwn(&p.action, HEADER_MAX)), "blocks": blocks })
}

/// The message once the pause is decided (or expired, or cancelled): the buttons gone,
/// the Review link kept.
pub fn resolved(p: &Pause, review_url: &str) -> Value {
    let mut blocks = about(p);
    blocks.push(json!({ "type": "section", "text": plain(&crate::notify::outcome(p, agent)) }));
    blocks.push(json!({ "type": "actions", "block_id": "hitl", "elements": [review_button(p, review_url)] }));
    let text = format!(
        "{} · {}",
        crate::notify::outcome(p, agent_mrkdwn),
        agent_mrkdwn(&p.action, HEADER_MAX)
    );
    json!({ "text": text, "blocks": blocks })
}

/// The message for the pause as it is now.
pub fn current(p: &Pause, review_url: &str, why: Why) -> Value {
    if p.status == Status::Pending {
        pending(p, review_url, why)
    } else {
        resolved(p, review_url)
    }
}

/// What the reject modal carries back in its `private_metadata`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RejectTarget {
    #[serde(rename = "w")]
    pub watch_id: String,
    /// The message the Reject button was on, to update it.
    #[serde(rename = "c")]
    pub channel: String,
    #[serde(rename = "t")]
    pub ts: String,
}

/// The modal that asks why (`views.open`'s `view`).
pub fn reject_modal(p: &Pause, target: &RejectTarget) -> Value {
    json!({
        "type": "modal",
        "callback_id": REJECT_VIEW,
        "private_metadata": serde_json::to_string(target).unwrap_or_default(),
        "title": plain("Reject"),
        "submit": plain("Reject"),
        "close": plain("Cancel"),
        "blocks": [
            { "type": "section", "text": plain(&agent(&p.action, SECTION_MAX)) },
            {
                "type": "input",
                "block_id": REASON,
                "label": plain("Why? The agent is told."),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON,
                    "multiline": true,
                    "max_length": 3000
                }
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile() -> Pause {
        Pause {
            context: Some(r#"{"note":"<!here>"}"#.into()),
            tags: vec!["<@U1>".into()],
            summary: Some("*bold* <http://evil|x>".into()),
            risk: Some(crate::domain::Risk::High),
            ..Pause::example("wch_x", "<!channel> *bold* <http://evil|x>")
        }
    }

    /// Every text object of a message.
    fn texts(v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                if let (Some(Value::String(kind)), Some(Value::String(text))) =
                    (map.get("type"), map.get("text"))
                {
                    out.push((kind.clone(), text.clone()));
                }
                map.values().for_each(|v| texts(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| texts(v, out)),
            _ => {}
        }
    }

    #[test]
    fn agent_text_is_only_plain_or_escaped() {
        let p = Pause {
            status: Status::Rejected,
            resolved_by: Some("ann@example.com".into()),
            comment: Some("<!here> no".into()),
            ..hostile()
        };
        for m in [
            pending(&hostile(), "http://h/review/wch_x", Why::New),
            resolved(&p, "http://h/review/wch_x"),
        ] {
            let mut all = Vec::new();
            texts(&m["blocks"], &mut all);
            assert!(all.iter().all(|(kind, _)| kind == "plain_text"), "{all:?}");
            let text = m["text"].as_str().unwrap_or_default();
            assert!(!text.contains('<') && !text.contains('>'), "{text}");
        }
    }

    #[test]
    fn buttons_only_where_a_click_can_decide() {
        let m = pending(&hostile(), "http://h/review/wch_x", Why::New);
        let buttons = &m["blocks"]
            .as_array()
            .and_then(|b| b.last())
            .cloned()
            .unwrap_or_default()["elements"];
        assert_eq!(buttons[1]["action_id"], APPROVE);
        assert_eq!(buttons[1]["value"], "wch_x");
        assert_eq!(buttons[2]["action_id"], REJECT);
        let form = Pause {
            response_schema: Some("{}".into()),
            ..hostile()
        };
        let question = Pause {
            kind: Kind::Question,
            ..hostile()
        };
        for p in [form, question] {
            let m = pending(&p, "http://h/review/wch_x", Why::Reminder);
            let last = m["blocks"]
                .as_array()
                .and_then(|b| b.last())
                .cloned()
                .unwrap_or_default();
            assert_eq!(last["elements"].as_array().map(Vec::len), Some(1), "{m}");
            assert!(m["text"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Reminder: "));
        }
    }
}
