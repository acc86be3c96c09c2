//! Telegram: the Bot API client (the one place that speaks to it), the messages about
//! pauses, and the outbox rows of kind `telegram`.
//!
//! A reviewer who linked their chat gets a message per new pause (and reminder, and
//! escalation) with Approve and Reject buttons and a Review button to the page; when
//! the pause is decided the message is edited to say how. Messages are sent without
//! `parse_mode`, so nothing an agent writes is formatted, mentions or links: it is
//! shown as it is, its hidden characters as markers (`⟨RLO⟩`), cut to Telegram's
//! limits. Updates (button presses, `/start <code>`) are handled in [`bot`].

pub mod bot;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::email::context_preview;
use super::{Sent, Worker};
use crate::db;
use crate::domain::outbox::{Attempt, Job, MailEvent, Next};
use crate::domain::pauses::{Decision, Pause};
use crate::domain::telegram::{self as rules, Button};
use crate::domain::{Kind, Status};
use crate::model::delivery::Kind as DeliveryKind;
use crate::model::reach::Channel;
use crate::text::marked;

/// How long a Bot API call (other than a long poll) may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The Bot API of one bot: `POST {api}/bot{token}/{method}` with a JSON body.
#[derive(Clone)]
pub struct Api {
    base: String,
    token: String,
}

/// Why a call did not succeed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The Bot API answered `ok: false` (or not with its JSON at all).
    Refused {
        status: u16,
        description: String,
        retry_after: Option<u64>,
    },
    /// No answer: the network, a timeout.
    Network(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused {
                status,
                description,
                ..
            } => write!(f, "Telegram answered {status}: {description}"),
            Failure::Network(e) => write!(f, "cannot reach Telegram: {e}"),
        }
    }
}

impl Api {
    pub fn new(settings: &crate::config::Telegram) -> Api {
        Api {
            base: format!("{}/bot{}", settings.api_url, settings.bot_token),
            token: settings.bot_token.clone(),
        }
    }

    /// Calls `method`; the `result` of an `ok` answer.
    pub fn call(&self, agent: &ureq::Agent, method: &str, body: &Value) -> Result<Value, Failure> {
        let response = agent
            .post(&format!("{}/{method}", self.base))
            .header("content-type", "application/json")
            .send(body.to_string());
        let mut response = match response {
            Ok(r) => r,
            // The token is in the URL: never let it reach a log.
            Err(e) => return Err(Failure::Network(self.redact(&describe(&e)))),
        };
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(8 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| Failure::Network(self.redact(&e.to_string())))?;
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if answer["ok"] == json!(true) && (200..300).contains(&status) {
            return Ok(answer["result"].clone());
        }
        let description = answer["description"].as_str().map_or_else(
            || "no Bot API answer".to_string(),
            |d| d.chars().take(300).collect(),
        );
        Err(Failure::Refused {
            status: answer["error_code"]
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(status),
            description: self.redact(&description),
            retry_after: answer["parameters"]["retry_after"].as_u64(),
        })
    }

    fn redact(&self, text: &str) -> String {
        text.replace(&self.token, "<bot token>")
    }
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "no answer in time".to_string(),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".into()
        }
        other => other.to_string(),
    }
}

/// Telegram's limit on a message's text, in UTF-16 code units.
pub const MAX_TEXT: usize = 4096;

fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// At most `max` UTF-16 code units, `…` included when cut, never cut inside a marker
/// (`⟨ZWSP⟩`).
fn fit(text: String, max: usize) -> String {
    if utf16_len(&text) <= max {
        return text;
    }
    let mut cut = String::new();
    let mut used = 0;
    for c in text.chars() {
        if used + c.len_utf16() > max.saturating_sub(1) {
            break;
        }
        used += c.len_utf16();
        cut.push(c);
    }
    if let Some(at) = cut.rfind('⟨').filter(|&at| !cut[at..].contains('⟩')) {
        cut.truncate(at);
    }
    cut.push('…');
    cut
}

/// Agent text: hidden characters marked, then cut to `max`.
fn agent(text: &str, max: usize) -> String {
    fit(marked(text), max)
}

/// The text of the message about a pending pause.
pub fn created_text(p: &Pause, event: MailEvent) -> String {
    let question = p.kind == Kind::Question;
    let head = match (event, question) {
        (MailEvent::Created, false) => "Approval needed",
        (MailEvent::Created, true) => "Question",
        (MailEvent::Reminder, false) => "Reminder: approval needed",
        (MailEvent::Reminder, true) => "Reminder: a question waits for an answer",
        (MailEvent::Escalated, false) => "Escalated to you: approval needed",
        (MailEvent::Escalated, true) => "Escalated to you: a question",
    };
    let mut lines = vec![head.to_string(), agent(&p.action, 1000)];
    if let Some(risk) = p.risk {
        lines.push(format!("Risk: {}", risk.as_str()));
    }
    lines.push(format!("Requested by {}", agent(&p.key_name, 100)));
    if let Some(summary) = &p.summary {
        lines.push(format!("If approved: {}", agent(summary, 600)));
    }
    if let Some(options) = &p.options {
        let label = if question {
            "Choices"
        } else {
            "Reasons to reject"
        };
        lines.push(format!("{label}: {}", agent(&options.join(" · "), 600)));
    }
    if !p.tags.is_empty() {
        lines.push(format!("Tags: {}", agent(&p.tags.join(", "), 300)));
    }
    if p.required_approvals > 1 {
        lines.push(format!(
            "Needs {} approvals ({} so far)",
            p.required_approvals,
            p.approvals.len()
        ));
    }
    if let Some(context) = context_preview(p, 1200) {
        lines.push(String::new());
        lines.push(agent(&context, 1500));
    }
    fit(lines.join("\n"), MAX_TEXT)
}

/// The text once a pause is decided (or expired, or cancelled): how, and by whom.
pub fn resolved_text(p: &Pause) -> String {
    fit(
        format!("{}\n{}", super::outcome(p, agent), agent(&p.action, 1000)),
        MAX_TEXT,
    )
}

/// The message while more approvals are needed: the pause and who approved so far.
pub fn progress_text(p: &Pause) -> String {
    let by: Vec<String> = p.approvals.iter().map(|a| agent(&a.by, 200)).collect();
    let line = format!(
        "{} of {} approvals: {}",
        p.approvals.len(),
        p.required_approvals,
        by.join(", ")
    );
    let head = created_text(p, MailEvent::Created);
    fit(format!("{line}\n\n{head}"), MAX_TEXT)
}

/// The buttons of a message to `user_id`: Approve and Reject (signed, for a decision
/// without a form) and Review (the page).
pub fn keyboard(key: &[u8], p: &Pause, user_id: i64, review_url: &str) -> Value {
    let review = json!([{ "text": "Review", "url": review_url }]);
    let button = |decision| {
        rules::sign(
            key,
            &Button {
                decision,
                watch_id: p.watch_id.clone(),
                user_id,
            },
        )
    };
    let decides = crate::domain::pauses::allowed_outside(
        p,
        Decision::Approved,
        crate::domain::pauses::Outside::Message,
    )
    .is_ok();
    match (
        decides,
        button(Decision::Approved),
        button(Decision::Rejected),
    ) {
        (true, Some(approve), Some(reject)) => json!({ "inline_keyboard": [
            [
                { "text": "Approve", "callback_data": approve },
                { "text": "Reject", "callback_data": reject }
            ],
            review
        ]}),
        _ => json!({ "inline_keyboard": [review] }),
    }
}

/// An attempt from a call's outcome: 429 waits as long as Telegram says; a chat that
/// is gone or blocked the bot, or any other refusal of the request, fails for good;
/// 5xx and the network are retried.
fn attempt(result: &Result<Value, Failure>, started: Instant) -> Attempt {
    let duration_ms = started.elapsed().as_millis() as i64;
    let (ok, http_status, error, next) = match result {
        Ok(_) => (true, Some(200), None, Next::Schedule),
        Err(Failure::Network(e)) => (false, None, Some(e.clone()), Next::Schedule),
        Err(Failure::Refused {
            status,
            description,
            retry_after,
        }) => {
            let (why, next) = match status {
                429 => (
                    "Telegram asks to slow down".to_string(),
                    retry_after.map_or(Next::Schedule, |s| {
                        Next::After(Duration::from_secs(s.clamp(1, 24 * 3600)))
                    }),
                ),
                403 => (
                    "the reviewer blocked the bot or the chat is closed to it; they can link Telegram again from their Account page".into(),
                    Next::Fail,
                ),
                400 if description.to_ascii_lowercase().contains("chat not found") => (
                    "the linked chat does not exist (or never started the bot); the reviewer can link Telegram again from their Account page".into(),
                    Next::Fail,
                ),
                401 | 404 => (
                    "Telegram refused the bot token: check --telegram-bot-token".into(),
                    Next::Fail,
                ),
                400..=499 => ("Telegram refused the message".into(), Next::Fail),
                _ => ("Telegram failed".into(), Next::Schedule),
            };
            (
                false,
                Some(*status),
                Some(format!("{why} ({status}: {description})")),
                next,
            )
        }
    };
    Attempt {
        ok,
        http_status,
        error,
        duration_ms,
        next,
    }
}

/// Whether Telegram refused a message for a button's URL.
fn url_refused(result: &Result<Value, Failure>) -> bool {
    matches!(result, Err(Failure::Refused { status: 400, description, .. })
        if description.to_ascii_lowercase().contains("url"))
}

/// Whether an edit failed only because the message already says this.
pub fn not_modified(result: &Result<Value, Failure>) -> bool {
    matches!(result, Err(Failure::Refused { status: 400, description, .. })
        if description.contains("message is not modified"))
}

/// Sends an outbox row of kind `telegram`.
pub(super) fn send(worker: &Worker, job: &Job, agent: &ureq::Agent) -> Sent {
    let Some(settings) = &worker.settings.chat.telegram else {
        return Sent::Skipped("not sent: Telegram is not configured any more");
    };
    let api = Api::new(settings);
    let event: Value = serde_json::from_str(&job.row.payload).unwrap_or_default();
    if event["event"] == "resolved" {
        return edit_resolved(worker, job, &api, agent, &event);
    }
    let Some(pause) = job.pause.as_ref().filter(|p| p.status == Status::Pending) else {
        return Sent::Skipped("not sent: the pause was decided before the message went out");
    };
    let Some(user) = job.user.as_ref().filter(|u| u.wants(Channel::Telegram)) else {
        return Sent::Skipped("not sent: the reviewer was removed or turned Telegram off");
    };
    let Some(chat) = user.telegram_chat.clone() else {
        return Sent::Skipped("not sent: the reviewer unlinked Telegram");
    };
    let Ok(chat_id) = chat.parse::<i64>() else {
        return Sent::Impossible(format!(
            "the linked chat {chat:?} is not a Telegram chat id"
        ));
    };
    let review = worker.settings.urls.review(&pause.watch_id);
    let event = MailEvent::parse(event["event"].as_str().unwrap_or_default());
    let text = created_text(pause, event);
    let buttons = keyboard(&worker.link_key, pause, user.id, &review);
    let body = json!({ "chat_id": chat_id, "text": text, "reply_markup": buttons });
    let started = Instant::now();
    let mut result = api.call(agent, "sendMessage", &body);
    if url_refused(&result) {
        // Telegram refuses URL buttons to some addresses (localhost, for one): the
        // review link goes into the text instead.
        tracing::info!(review = %review, "Telegram refused the Review button's address; the link goes in the text");
        let room = MAX_TEXT.saturating_sub(utf16_len(&review) + 10);
        let mut body = json!({
            "chat_id": chat_id,
            "text": format!("{}\n\nReview: {review}", fit(text, room)),
        });
        let rows: Vec<Value> = buttons["inline_keyboard"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|row| row[0].get("url").is_none())
            .cloned()
            .collect();
        if !rows.is_empty() {
            body["reply_markup"] = json!({ "inline_keyboard": rows });
        }
        result = api.call(agent, "sendMessage", &body);
    }
    let sent = attempt(&result, started);
    if let Ok(message) = &result {
        match message["message_id"].as_i64() {
            Some(message_id) => keep(worker, &api, agent, pause, chat_id, message_id, user.id),
            None => tracing::warn!("Telegram's sendMessage answer has no message_id"),
        }
    }
    Sent::Tried(sent)
}

/// Keeps a sent message, to edit once the pause is decided. If it was decided while
/// the message was on its way (its outcome rows are written already), edits it now.
fn keep(
    worker: &Worker,
    api: &Api,
    agent: &ureq::Agent,
    pause: &Pause,
    chat_id: i64,
    message_id: i64,
    user_id: i64,
) {
    let kept = worker.keep_message(
        &pause.watch_id,
        DeliveryKind::Telegram,
        chat_id.to_string(),
        message_id.to_string(),
        Some(user_id),
    );
    match kept {
        Ok(Some(now)) if now.status.is_terminal() => {
            let body = json!({ "chat_id": chat_id, "message_id": message_id, "text": resolved_text(&now) });
            if let Err(e) = api.call(agent, "editMessageText", &body) {
                tracing::info!(error = %e, "could not edit a Telegram message of a pause decided meanwhile");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "could not keep a sent Telegram message"),
    }
}

/// Edits the message about a decided pause to say how it ended, without buttons.
fn edit_resolved(
    worker: &Worker,
    job: &Job,
    api: &Api,
    agent: &ureq::Agent,
    event: &Value,
) -> Sent {
    let Some(pause) = &job.pause else {
        return Sent::Skipped("not sent: the pause is gone");
    };
    let Some(id) = event["message"].as_i64() else {
        return Sent::Impossible("the row names no message to edit".into());
    };
    let message = match worker.reads.get() {
        Ok(conn) => db::chat::by_id(&conn, id),
        Err(e) => Err(crate::model::Error::internal(e)),
    };
    let message = match message {
        Ok(Some(m)) => m,
        Ok(None) => return Sent::Skipped("not sent: the message is no longer kept"),
        Err(e) => {
            return Sent::Tried(Attempt {
                ok: false,
                http_status: None,
                error: Some(format!("cannot read the message to edit: {e}")),
                duration_ms: 0,
                next: Next::Schedule,
            })
        }
    };
    let (Ok(chat_id), Ok(message_id)) =
        (message.chat.parse::<i64>(), message.message.parse::<i64>())
    else {
        return Sent::Impossible("the kept message has no Telegram ids".into());
    };
    let body =
        json!({ "chat_id": chat_id, "message_id": message_id, "text": resolved_text(pause) });
    let started = Instant::now();
    let result = api.call(agent, "editMessageText", &body);
    if not_modified(&result) {
        // The button press that decided it edited the message already.
        return Sent::Tried(attempt(&Ok(Value::Null), started));
    }
    Sent::Tried(attempt(&result, started))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stays_plain_marked_and_within_the_limit() {
        let p = Pause {
            context: Some(format!(r#"{{"note":"{}"}}"#, "\u{200B}".repeat(3000))),
            risk: Some(crate::domain::Risk::High),
            ..Pause::example("wch_x", "<b>Deploy</b> *now* \u{202E}txt.exe")
        };
        let text = created_text(&p, MailEvent::Created);
        assert!(text.starts_with("Approval needed\n<b>Deploy</b> *now* ⟨RLO⟩txt.exe\nRisk: high\nRequested by deploy-bot"), "{text}");
        assert!(utf16_len(&text) <= MAX_TEXT);
        assert!(!text.contains('\u{200B}') && !text.contains('\u{202E}'));
        let long = Pause::example("wch_x", &"😀".repeat(5000));
        assert!(utf16_len(&created_text(&long, MailEvent::Reminder)) <= MAX_TEXT);
        assert_eq!(fit("ab⟨RLO⟩cd".into(), 6), "ab…");
        assert_eq!(fit("abc".into(), 3), "abc");
    }

    #[test]
    fn forms_and_questions_get_only_review() {
        let key = b"k";
        let p = Pause::example("wch_0193c6a2b4f1A1b2C3d4E5f6G7h8I9j0K1l2", "x");
        let k = keyboard(key, &p, 7, "http://h/review/x");
        assert_eq!(k["inline_keyboard"][0][0]["text"], "Approve");
        assert_eq!(k["inline_keyboard"][0][1]["text"], "Reject");
        assert_eq!(k["inline_keyboard"][1][0]["url"], "http://h/review/x");
        let form = Pause {
            response_schema: Some("{}".into()),
            ..p.clone()
        };
        let k = keyboard(key, &form, 7, "u");
        assert_eq!(
            k,
            json!({ "inline_keyboard": [[{ "text": "Review", "url": "u" }]] })
        );
        let question = Pause {
            kind: Kind::Question,
            ..p
        };
        assert_eq!(keyboard(key, &question, 7, "u"), k);
    }
}
