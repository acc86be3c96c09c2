//! ntfy: a reviewer's own topic (ntfy.sh or a self-hosted server). Each pause is
//! published as ntfy's JSON message to the server's root: a title, the action and a
//! short context as plain text (ntfy shows it as it is unless told it is Markdown),
//! a priority from the risk, a click that opens the review page, and actions: Review,
//! and (a plain decision of low or medium risk, or unrated) Approve as an `http` action
//! whose URL is the reviewer's signed, single-use, expiring link, which decides only on
//! POST, the same link as mail's.

use std::time::Instant;

use serde_json::{json, Value};

use super::email::context_preview;
use super::{Sent, Worker};
use crate::domain::outbox::{Job, MailEvent};
use crate::domain::pauses::{Decision, Pause};
use crate::domain::{Kind, Risk, Status};
use crate::model::reach::Channel;
use crate::text::marked_preview;

/// An Approve link published to a topic works at most a day (never beyond the pause).
const ONE_TAP_MAX_AGE_MS: crate::clock::Millis = 24 * 3600 * 1000;

/// ntfy's message limit is 4,096 bytes; keep well within it.
const MESSAGE_CHARS: usize = 1_500;

pub(super) fn send(worker: &Worker, job: &Job, agent: &ureq::Agent) -> Sent {
    let Some(pause) = job.pause.as_ref().filter(|p| p.status == Status::Pending) else {
        return Sent::Skipped("not sent: the pause was decided before the message went out");
    };
    let Some(user) = job.user.as_ref().filter(|u| u.wants(Channel::Ntfy)) else {
        return Sent::Skipped("not sent: the reviewer was removed or turned ntfy off");
    };
    let Some(topic_url) = &user.ntfy_url else {
        return Sent::Skipped("not sent: the reviewer removed their ntfy topic");
    };
    let Some((root, topic)) = split(topic_url) else {
        return Sent::Impossible(format!("{topic_url} is not an ntfy topic URL"));
    };
    let event: Value = serde_json::from_str(&job.row.payload).unwrap_or_default();
    let event = MailEvent::parse(event["event"].as_str().unwrap_or_default());
    let review = worker.settings.urls.review(&pause.watch_id);
    let approve = one_tap(pause)
        .then(|| worker.decision_link(pause, user.id, Decision::Approved, ONE_TAP_MAX_AGE_MS));
    let body = message(pause, event, &topic, &review, approve.as_deref());
    let started = Instant::now();
    let mut request = agent.post(&root).header("content-type", "application/json");
    // The token is for the operator's server only, never a topic elsewhere.
    if let Some((token, server)) = &worker.settings.chat.ntfy_token {
        if *server == root {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
    }
    let mut attempt = super::webhook::judge(request.send(body.to_string()), started);
    // A refused token or topic does not mend itself by waiting.
    if let Some(status @ (400 | 401 | 403 | 413)) = attempt.http_status {
        attempt.error = Some(format!(
            "ntfy refused the message (HTTP {status}): check the topic URL{}",
            if status == 401 || status == 403 {
                " and --ntfy-token-file"
            } else {
                ""
            }
        ));
        attempt.next = crate::domain::outbox::Next::Fail;
    }
    Sent::Tried(attempt)
}

/// The server's root and the topic of a topic URL (`https://ntfy.sh/approvals`).
fn split(topic_url: &str) -> Option<(String, String)> {
    let url = url::Url::parse(topic_url).ok()?;
    let topic = url.path().trim_matches('/');
    if topic.is_empty() || topic.contains('/') {
        return None;
    }
    Some((url.origin().ascii_serialization(), topic.to_string()))
}

/// An Approve button that decides with one tap: only for a plain decision (no form)
/// whose risk is not high or critical.
fn one_tap(p: &Pause) -> bool {
    crate::domain::pauses::allowed_outside(
        p,
        Decision::Approved,
        crate::domain::pauses::Outside::OneTap,
    )
    .is_ok()
}

fn priority(risk: Option<Risk>) -> u8 {
    match risk {
        Some(Risk::Low) => 2,
        None | Some(Risk::Medium) => 3,
        Some(Risk::High) => 4,
        Some(Risk::Critical) => 5,
    }
}

/// The JSON message for `topic`.
pub fn message(
    p: &Pause,
    event: MailEvent,
    topic: &str,
    review: &str,
    approve: Option<&str>,
) -> Value {
    let what = match (event, p.kind) {
        (MailEvent::Reminder, _) => "Reminder",
        (MailEvent::Escalated, _) => "Escalated to you",
        (MailEvent::Created, Kind::Question) => "Question",
        (MailEvent::Created, Kind::Decision) => "Approval needed",
    };
    let title = format!("{what} · {}", marked_preview(&p.key_name, 80));
    let mut text = marked_preview(&p.action, 500);
    if let Some(risk) = p.risk {
        text.push_str(&format!("\nRisk: {}", risk.as_str()));
    }
    if let Some(summary) = &p.summary {
        text.push_str(&format!("\nIf approved: {}", marked_preview(summary, 300)));
    }
    if let Some(context) = context_preview(p, 500) {
        text.push_str(&format!("\n\n{}", marked_preview(&context, 600)));
    }
    let text: String = text.chars().take(MESSAGE_CHARS).collect();
    let mut actions = vec![json!({
        "action": "view",
        "label": if p.kind == Kind::Question { "Answer" } else { "Review" },
        "url": review,
        "clear": false
    })];
    if let Some(url) = approve {
        actions.push(json!({
            "action": "http",
            "label": "Approve",
            "url": url,
            "method": "POST",
            "headers": { "Content-Type": "application/x-www-form-urlencoded" },
            "body": "comment=Approved+from+ntfy",
            "clear": true
        }));
    }
    json!({
        "topic": topic,
        "title": title,
        "message": text,
        "priority": priority(p.risk),
        "tags": ["hitl"],
        "click": review,
        "actions": actions
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_sets_the_priority_and_hides_one_tap_approval() {
        let mut p = Pause::example("wch_x", "Deploy\u{202E} *now*");
        let m = message(
            &p,
            MailEvent::Created,
            "t",
            "http://h/review/wch_x",
            Some("http://h/mail/x"),
        );
        assert_eq!(m["priority"], 3);
        assert_eq!(m["message"], "Deploy⟨RLO⟩ *now*");
        assert_eq!(m["actions"][1]["method"], "POST");
        assert!(one_tap(&p));
        p.risk = Some(Risk::High);
        assert!(!one_tap(&p));
        assert_eq!(priority(p.risk), 4);
        p.risk = Some(Risk::Low);
        p.kind = Kind::Question;
        assert!(!one_tap(&p), "a question is answered on its page");
    }

    #[test]
    fn topic_urls_split_into_root_and_topic() {
        assert_eq!(
            split("https://ntfy.example.com:8443/approvals-1"),
            Some(("https://ntfy.example.com:8443".into(), "approvals-1".into()))
        );
        assert_eq!(split("https://ntfy.sh/"), None);
        assert_eq!(split("https://ntfy.sh/a/b"), None);
    }
}
