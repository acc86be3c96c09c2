//! Slack through an incoming webhook: a message per new pause (the action, a short
//! context, tags, and a button to the review page) and a follow-up when it is decided.
//! Agent text goes into `plain_text` fields, which Slack shows as they are, and into
//! the top-level `text` (the notification), which Slack reads as mrkdwn: there it is
//! escaped by Slack's rules, so it cannot mention @channel, format or link. Everywhere
//! its hidden characters are shown as markers, and it is cut to Slack's limits.

use std::time::Instant;

use serde_json::{json, Value};

use super::email::context_preview;
use super::webhook::judge;
use crate::domain::outbox::Attempt;
use crate::domain::pauses::Pause;
use crate::text::marked;

/// Text for Slack: `&`, `<` and `>` escaped, so `<!channel>` or `<http://x|label>`
/// from an agent stays text.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Agent text for a `plain_text` field: marked, then cut to at most `max` characters
/// (Slack refuses a whole message whose block text is too long).
pub(crate) fn agent(text: &str, max: usize) -> String {
    fit(marked(text), max, false)
}

/// Agent text for mrkdwn (the top-level `text`): marked, escaped, then cut.
pub(crate) fn agent_mrkdwn(text: &str, max: usize) -> String {
    fit(escape(&marked(text)), max, true)
}

/// At most `max` characters, `…` included when cut, never cut inside a marker
/// (`⟨ZWSP⟩`) or, in `escaped` text, an escape (`&amp;`).
fn fit(text: String, max: usize, escaped: bool) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let open_escape = cut
        .rfind('&')
        .filter(|&at| escaped && !cut[at..].contains(';'));
    let open_marker = cut.rfind('⟨').filter(|&at| !cut[at..].contains('⟩'));
    if let Some(at) = open_escape.into_iter().chain(open_marker).min() {
        cut.truncate(at);
    }
    cut.push('…');
    cut
}

pub(crate) fn plain(text: &str) -> Value {
    json!({ "type": "plain_text", "text": text, "emoji": false })
}

/// Slack's limits on a header's and a section's text.
pub(crate) const HEADER_MAX: usize = 150;
pub(crate) const SECTION_MAX: usize = 3000;

/// The message for a new pause.
pub fn created(p: &Pause, review_url: &str) -> Value {
    let action = agent(&p.action, HEADER_MAX);
    let mut blocks = vec![
        json!({ "type": "header", "text": plain(&action) }),
        json!({ "type": "section", "text": plain(&format!("Requested by {}", agent(&p.key_name, 100))) }),
    ];
    if let Some(context) = context_preview(p, 600) {
        blocks.push(json!({ "type": "section", "text": plain(&agent(&context, SECTION_MAX)) }));
    }
    if let Some(options) = &p.options {
        let choices = options.join(" · ");
        blocks.push(json!({ "type": "section", "text": plain(&format!("Choices: {}", agent(&choices, SECTION_MAX - 20))) }));
    }
    if !p.tags.is_empty() {
        blocks.push(json!({ "type": "context", "elements": [plain(&format!("Tags: {}", agent(&p.tags.join(", "), 600)))] }));
    }
    let question = p.kind == crate::domain::Kind::Question;
    blocks.push(json!({
        "type": "actions",
        "elements": [{
            "type": "button",
            "text": plain(if question { "Answer" } else { "Review" }),
            "url": review_url,
            "style": "primary",
            "action_id": "review"
        }]
    }));
    let text = format!(
        "{}: {}",
        if question {
            "Question"
        } else {
            "Approval needed"
        },
        agent_mrkdwn(&p.action, HEADER_MAX)
    );
    json!({ "text": text, "blocks": blocks })
}

/// The follow-up when a pause is decided, expires or is cancelled.
pub fn resolved(p: &Pause, review_url: &str) -> Value {
    // Once for the section (plain_text), once for the notification (mrkdwn).
    let line = |agent: fn(&str, usize) -> String| {
        format!("{} · {}", super::outcome(p, agent), agent(&p.action, 150))
    };
    json!({
        "text": line(agent_mrkdwn),
        "blocks": [
            { "type": "section", "text": plain(&line(agent)) },
            { "type": "context", "elements": [{ "type": "mrkdwn", "text": format!("<{review_url}|Open in hitl>") }] }
        ]
    })
}

pub fn send(agent: &ureq::Agent, url: &str, message: &Value) -> Attempt {
    let started = Instant::now();
    let response = agent
        .post(url)
        .header("content-type", "application/json")
        .send(message.to_string());
    judge(response, started)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;

    fn pause() -> Pause {
        Pause {
            context: Some(r#"{"commit":"a3f9b2e"}"#.into()),
            tags: vec!["deploy".into()],
            ..Pause::example("wch_x", "<!channel> *Deploy* <http://evil|click>")
        }
    }

    #[test]
    fn marked_and_escaped_text_stays_within_slacks_limits() {
        let zwsp = "\u{200B}".repeat(2000);
        let p = Pause {
            context: Some(format!(r#"{{"note":"{zwsp}"}}"#)),
            ..Pause::example("wch_x", &"&".repeat(150))
        };
        let message = created(&p, "http://127.0.0.1/review/wch_x");
        let header = message["blocks"][0]["text"]["text"].as_str().unwrap_or("");
        assert_eq!(header, "&".repeat(150), "plain_text is shown as it is");
        let text = message["text"].as_str().unwrap_or("");
        let escaped = text.trim_start_matches("Approval needed: ");
        assert!(escaped.chars().count() <= HEADER_MAX, "{}", escaped.len());
        assert!(
            escaped.starts_with("&amp;&amp;") && escaped.ends_with("&amp;…"),
            "never cut inside an escape: {escaped}"
        );
        let context = message["blocks"][2]["text"]["text"].as_str().unwrap_or("");
        assert!(context.chars().count() <= SECTION_MAX);
        assert!(context.ends_with("⟨ZWSP⟩…"), "never cut inside a marker");
        assert_eq!(fit("ab&amp;cd".into(), 5, true), "ab…");
        assert_eq!(fit("ab & cd".into(), 5, false), "ab &…");
        assert_eq!(fit("ab⟨RLO⟩cd".into(), 6, false), "ab…");
        assert_eq!(fit("abc".into(), 3, false), "abc");
    }

    #[test]
    fn agent_text_stays_plain() {
        let m = created(&pause(), "http://127.0.0.1:8080/review/wch_x");
        assert_eq!(m["blocks"][0]["type"], "header");
        assert_eq!(m["blocks"][0]["text"]["type"], "plain_text");
        // plain_text is shown as it is; the notification text is mrkdwn, escaped.
        let raw = "<!channel> *Deploy* <http://evil|click>";
        assert_eq!(m["blocks"][0]["text"]["text"], raw);
        let escaped = "&lt;!channel&gt; *Deploy* &lt;http://evil|click&gt;";
        assert_eq!(m["text"], format!("Approval needed: {escaped}"));
        let button = m["blocks"]
            .as_array()
            .and_then(|b| b.last())
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            button["elements"][0]["url"],
            "http://127.0.0.1:8080/review/wch_x"
        );
        for block in m["blocks"].as_array().into_iter().flatten() {
            assert_ne!(
                block["text"]["type"], "mrkdwn",
                "agent text in mrkdwn: {block}"
            );
        }
    }

    #[test]
    fn follow_ups_escape_and_keep_the_real_link() {
        let p = Pause {
            status: Status::Approved,
            resolved_by: Some("a&b@example.com".into()),
            comment: Some("<!here> \u{202E}ok".into()),
            ..pause()
        };
        let m = resolved(&p, "http://127.0.0.1:8080/review/wch_x");
        let text = m["text"].as_str().unwrap_or_default();
        assert!(
            text.starts_with(
                "Approved by a&amp;b@example.com: &lt;!here&gt; ⟨RLO⟩ok · &lt;!channel&gt;"
            ),
            "{text}"
        );
        assert!(!text.contains('<') && !text.contains('\u{202E}'), "{text}");
        assert_eq!(
            m["blocks"][1]["elements"][0]["text"],
            "<http://127.0.0.1:8080/review/wch_x|Open in hitl>"
        );
    }
}
