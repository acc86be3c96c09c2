//! The web page, rendered on the server with maud. Views take plain view-model
//! structs and return markup; they never see a request or a database.
//!
//! Agent-supplied text (actions, context, tags, key names) is untrusted: it goes
//! through maud's escaping everywhere (never `PreEscaped`), and `agent_text` also
//! makes invisible and direction-changing characters visible.

pub mod about;
pub mod admin;
pub mod audit;
pub mod bulk;
pub mod decide;
pub mod groups;
pub mod history;
pub mod json_tree;
pub mod layout;
pub mod mail;
pub mod push;
pub mod queue;
pub mod review;
pub mod rules;
pub mod signin;
pub mod telegram;

use maud::{html, Markup};

use crate::text;

use crate::clock::{self, Millis};
use crate::domain::{Risk, Status};

/// What every page needs to know about who is looking.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub email: String,
    pub is_admin: bool,
    pub csrf: String,
    /// For the page title and the nav: "(3) Queue · hitl".
    pub pending: i64,
}

/// The hidden CSRF field every form that changes something carries.
pub fn csrf(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf); }
}

/// Agent-supplied text, escaped, with every invisible or direction-changing character
/// shown as a visible marker (`⟨RLO⟩`) so it cannot disguise what the text says.
pub fn agent_text(text: &str) -> Markup {
    if !text.chars().any(|c| text::invisible_name(c).is_some()) {
        return html! { (text) };
    }
    let mut parts: Vec<(bool, String)> = Vec::new();
    for c in text.chars() {
        match text::invisible_name(c) {
            Some(name) => parts.push((true, format!("{name} U+{:04X}", c as u32))),
            None => match parts.last_mut() {
                Some((false, run)) => run.push(c),
                _ => parts.push((false, c.to_string())),
            },
        }
    }
    html! {
        @for (hidden, part) in &parts {
            @if *hidden {
                span.invisible title=(format!("hidden character {part}")) { "⟨" (part.split(' ').next().unwrap_or("")) "⟩" }
            } @else {
                (part)
            }
        }
    }
}

/// Agent text for places that cannot show markers (the page title): invisible
/// characters dropped, cut to `max` characters.
pub fn plain_preview(text: &str, max: usize) -> String {
    let visible: String = text
        .chars()
        .filter(|c| text::invisible_name(*c).is_none())
        .collect();
    if visible.chars().count() <= max {
        visible
    } else {
        format!("{}…", visible.chars().take(max).collect::<String>())
    }
}

pub fn status_badge(status: Status) -> Markup {
    html! { span class=(format!("badge badge-{status}")) { (status.as_str().to_uppercase()) } }
}

/// The agent's rating of an action's risk: a word, coloured by how high it is.
pub fn risk_badge(risk: Risk) -> Markup {
    html! {
        span class=(format!("risk risk-{}", risk.as_str())) title="The agent's own rating of the risk" {
            (risk.as_str().to_uppercase()) " RISK"
        }
    }
}

/// "3 min ago", "in 14 min", from `now`'s point of view.
pub fn relative(at: Millis, now: Millis) -> String {
    let secs = (at - now) / 1000;
    let future = secs > 0;
    let n = secs.unsigned_abs();
    let amount = if n < 45 {
        return if future {
            "in a few seconds".into()
        } else {
            "just now".into()
        };
    } else if n < 90 * 60 {
        format!("{} min", n.div_ceil(60).max(1))
    } else if n < 36 * 3600 {
        let h = (n + 1800) / 3600;
        format!("{h} hour{}", if h == 1 { "" } else { "s" })
    } else {
        let d = (n + 43_200) / 86_400;
        format!("{d} day{}", if d == 1 { "" } else { "s" })
    };
    if future {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// A `<time>` with the relative text, the exact UTC time on hover, and the instant
/// for the script that keeps the text fresh.
pub fn time_ago(at: Millis, now: Millis) -> Markup {
    let exact = clock::rfc3339(at);
    html! { time datetime=(exact) title=(exact.replace('T', " ")) { (relative(at, now)) } }
}

/// The expiry of a pending pause: amber under 10 minutes.
pub fn expiry(expires_at: Option<Millis>, now: Millis) -> Markup {
    match expires_at {
        None => html! { span.muted { "no expiry" } },
        Some(at) => {
            let exact = clock::rfc3339(at);
            let soon = at - now < 10 * 60 * 1000;
            html! {
                time.expiry.soon[soon] datetime=(exact) title=(exact.replace('T', " ")) data-prefix="expires " {
                    "expires " (relative(at, now))
                }
            }
        }
    }
}

pub fn tags(tags: &[String]) -> Markup {
    html! {
        @for tag in tags {
            span.tag { (agent_text(tag)) }
        }
    }
}

/// URL-encodes a query value (for links that keep filters).
pub use crate::urls::query_value;

/// "1 of 2 approvals": the progress of a pause that needs several approvals.
pub fn approvals_progress(p: &crate::domain::pauses::Pause) -> String {
    format!(
        "{} of {} approvals",
        p.approvals.len(),
        p.required_approvals
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_text_escapes_and_shows_hidden_characters() {
        let html = agent_text("<script>alert(1)</script>").into_string();
        assert_eq!(html, "&lt;script&gt;alert(1)&lt;/script&gt;");
        let html = agent_text("approve \u{202E}gnp.exe").into_string();
        assert!(html.contains("⟨RLO⟩"), "{html}");
        assert!(!html.contains('\u{202E}'));
        let html = agent_text("a\u{200B}b\"<").into_string();
        assert!(
            html.contains("⟨ZWSP⟩") && html.contains("&quot;&lt;"),
            "{html}"
        );
    }

    #[test]
    fn relative_times_read_naturally() {
        let now = 1_000_000_000;
        assert_eq!(relative(now - 10_000, now), "just now");
        assert_eq!(relative(now - 4 * 60_000, now), "4 min ago");
        assert_eq!(relative(now + 56 * 60_000, now), "in 56 min");
        assert_eq!(relative(now - 3 * 3_600_000, now), "3 hours ago");
        assert_eq!(relative(now + 2 * 86_400_000, now), "in 2 days");
    }
}
