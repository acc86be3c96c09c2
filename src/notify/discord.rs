//! Discord through a channel webhook: an embed per new pause (the action, who asks,
//! the risk, a short context, and a link to the review page) and a short message when
//! it is decided. Agent text is escaped by Discord's Markdown rules (no emphasis, no
//! masked `[label](url)` links, no `<@id>` mentions or `<#channel>` links), and
//! `allowed_mentions` is empty, so nothing an agent writes pings anyone.

use serde_json::{json, Value};

use super::email::context_preview;
use super::{Sent, Worker};
use crate::domain::outbox::Job;
use crate::domain::pauses::Pause;
use crate::domain::{Kind, Risk};
use crate::text::marked_preview;

pub(super) fn send(worker: &Worker, job: &Job, agent: &ureq::Agent) -> Sent {
    let url = worker.settings.chat.discord_url.as_deref();
    super::send_team_message(worker, job, agent, url, created, resolved)
}

/// Agent text for Discord Markdown: marked, every character Discord reads as syntax
/// escaped with a backslash, and cut to at most `max` characters (Discord's limits
/// count the backslashes too), never between a backslash and what it escapes.
fn escape(text: &str, max: usize) -> String {
    let pieces: Vec<String> = marked_preview(text, max)
        .chars()
        .map(|c| match c {
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '#' | '-' | '[' | ']' | '(' | ')'
            | '@' | ':' => format!("\\{c}"),
            c => c.to_string(),
        })
        .collect();
    let length: usize = pieces.iter().map(|p| p.chars().count()).sum();
    if length <= max {
        return pieces.concat();
    }
    let mut out = String::new();
    let mut count = 0;
    for piece in pieces {
        let n = piece.chars().count();
        if count + n >= max {
            break;
        }
        out.push_str(&piece);
        count += n;
    }
    out.push('…');
    out
}

fn color(risk: Option<Risk>) -> u32 {
    match risk {
        Some(Risk::Critical) => 0xB42318,
        Some(Risk::High) => 0xDC6803,
        Some(Risk::Medium) => 0xCA8504,
        Some(Risk::Low) | None => 0x475467,
    }
}

pub fn created(p: &Pause, review: &str) -> Value {
    let question = p.kind == Kind::Question;
    let mut fields =
        vec![json!({ "name": "Requested by", "value": escape(&p.key_name, 100), "inline": true })];
    if let Some(risk) = p.risk {
        fields.push(json!({ "name": "Risk", "value": risk.as_str(), "inline": true }));
    }
    if let Some(summary) = &p.summary {
        fields.push(json!({ "name": "If approved", "value": escape(summary, 300) }));
    }
    let mut embed = json!({
        "title": escape(&p.action, 256),
        "url": review,
        "color": color(p.risk),
        "fields": fields,
        "footer": { "text": "hitl" }
    });
    if let Some(context) = context_preview(p, 600) {
        embed["description"] = json!(escape(&context, 700));
    }
    json!({
        "content": format!("{} · [{}]({review})", if question { "Question" } else { "Approval needed" }, if question { "Answer in hitl" } else { "Review in hitl" }),
        "embeds": [embed],
        "allowed_mentions": { "parse": [] }
    })
}

pub fn resolved(p: &Pause, review: &str) -> Value {
    json!({
        "content": format!("{} · {} · [Open in hitl]({review})", super::outcome(p, escape), escape(&p.action, 150)),
        "allowed_mentions": { "parse": [] }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_stays_within_the_limit_and_keeps_its_escapes() {
        let long = "a_b-".repeat(200);
        let out = escape(&long, 256);
        assert!(out.chars().count() <= 256, "{}", out.chars().count());
        assert!(out.ends_with('…'));
        assert!(!out.trim_end_matches('…').ends_with('\\'), "{out}");
        assert_eq!(escape("a_b", 10), "a\\_b");
    }

    #[test]
    fn agent_text_cannot_ping_link_or_format() {
        let p = Pause {
            key_name: "@everyone".into(),
            ..Pause::example("wch_x", "[Approve](http://evil) <@123> **now**")
        };
        let m = created(&p, "http://h/review/wch_x");
        assert_eq!(
            m["embeds"][0]["title"],
            "\\[Approve\\]\\(http\\://evil\\) \\<\\@123\\> \\*\\*now\\*\\*"
        );
        assert_eq!(m["embeds"][0]["fields"][0]["value"], "\\@everyone");
        assert_eq!(m["allowed_mentions"]["parse"], json!([]));
        assert_eq!(m["embeds"][0]["url"], "http://h/review/wch_x");
    }
}
