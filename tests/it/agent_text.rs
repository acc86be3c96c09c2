//! Hostile agent text wherever a person reads it outside the tree view: the review
//! page's Raw JSON, the mail (text and HTML), and the Slack message on the wire.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;
use crate::peers::{Receiver, SmtpServer};
use crate::web_http::{page, sign_in};

/// Characters that must never reach a reader as themselves.
const HIDDEN: [char; 5] = ['\u{202E}', '\u{200B}', '\u{E0041}', '\u{E0042}', '\0'];

fn assert_marked(what: &str, text: &str, markers: &[&str]) {
    for c in HIDDEN {
        assert!(
            !text.contains(c),
            "{what} holds U+{:04X} as itself:\n{text}",
            c as u32
        );
    }
    for marker in markers {
        assert!(text.contains(marker), "{what} lacks {marker}:\n{text}");
    }
}

fn serve(hitl: &Hitl, smtp: &SmtpServer, slack: &Receiver) -> Server {
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    hitl.serve(&[
        "--smtp-url",
        &smtp_url,
        "--smtp-from",
        "hitl <hitl@example.com>",
        "--slack-webhook-url",
        &slack.url,
    ])
}

#[test]
fn hidden_characters_are_marked_in_raw_view_mail_and_slack() {
    let smtp = SmtpServer::start(None);
    let slack = Receiver::start();
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let agent = hitl.agent_key("bot");
    let server = serve(&hitl, &smtp, &slack);
    let id = server.create(
        &agent,
        &json!({
            "action": "Approve \u{202E}gnp.exe\u{200B} \u{E0041}\u{E0042}\0 now",
            "context": { "file": "invoice\u{202E}fdp.exe", "why": "a\u{200B}b\u{E0041}" },
            "tags": ["t\u{202E}ag", "z\u{200B}w\u{E0042}"],
            "timeoutSeconds": 3600
        }),
    );

    // The Raw JSON of the review page.
    let cookie = sign_in(&server, "alice@example.com", PASSWORD).unwrap();
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    let start = html.find("<details class=\"raw\"").expect("a raw view");
    let end = start + html[start..].find("</details>").unwrap();
    assert_marked(
        "the raw view",
        &html[start..end],
        &["⟨RLO⟩", "⟨ZWSP⟩", "⟨TAG⟩"],
    );

    // Both parts of the mail, and its subject.
    let mail = smtp.wait_for(1, Duration::from_secs(15))[0].clone();
    let markers = ["⟨RLO⟩", "⟨ZWSP⟩", "⟨TAG⟩", "⟨CTRL⟩"];
    let text = mail["text"].as_str().unwrap();
    assert_marked("the mail's text", text, &markers);
    assert!(
        text.contains("t⟨RLO⟩ag, z⟨ZWSP⟩w⟨TAG⟩") && text.contains("invoice⟨RLO⟩fdp.exe"),
        "tags and context are marked: {text}"
    );
    let html = mail["html"].as_str().unwrap();
    assert_marked("the mail's HTML", html, &markers);
    assert!(
        html.contains("invoice<span class=\"invisible\"") && html.contains("fdp.exe"),
        "the context is marked in HTML: {html}"
    );
    let subject = mail["subject"].as_str().unwrap();
    assert_marked("the subject", subject, &["⟨RLO⟩", "⟨CTRL⟩"]);

    // The Slack message as it went over the wire.
    let body = slack.wait_for(1, Duration::from_secs(10))[0].body.clone();
    assert_marked("the Slack message", &body, &markers);
    assert!(!body.contains("\\u0000"), "a NUL went to Slack: {body}");
    assert!(
        body.contains("Tags: t⟨RLO⟩ag, z⟨ZWSP⟩w⟨TAG⟩") && body.contains("invoice⟨RLO⟩fdp.exe"),
        "{body}"
    );
}

#[test]
fn slack_markup_from_agents_stays_text() {
    let smtp = SmtpServer::start(None);
    let slack = Receiver::start();
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = serve(&hitl, &smtp, &slack);
    let id = server.create(
        &agent,
        &json!({
            "action": "<!channel> Deploy & <http://evil.example|Approve here>",
            "context": { "note": "<!here> *bold* <@U123>" },
            "tags": ["<!everyone>"]
        }),
    );
    let created = slack.wait_for(1, Duration::from_secs(10))[0].body.clone();
    // The notification text is mrkdwn: escaped.
    assert!(
        created.contains(
            r#""text":"Approval needed: &lt;!channel&gt; Deploy &amp; &lt;http://evil.example|Approve here&gt;""#
        ),
        "{created}"
    );
    // Blocks carry agent text as plain_text only, which Slack shows as it is.
    let message: serde_json::Value = serde_json::from_str(&created).unwrap();
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert_eq!(
        blocks[0]["text"]["text"],
        "<!channel> Deploy & <http://evil.example|Approve here>"
    );
    for block in blocks {
        let texts = std::iter::once(&block["text"])
            .chain(block["elements"].as_array().into_iter().flatten());
        for text in texts.filter(|t| t.is_object()) {
            assert_ne!(text["type"], "mrkdwn", "agent text in mrkdwn: {block}");
        }
    }
    assert!(
        created.contains("<!here> *bold* <@U123>") && created.contains("Tags: <!everyone>"),
        "{created}"
    );
    assert!(created.contains(&format!(r#""url":"{}/review/{id}""#, server.url)));

    server.decide(
        &reviewer,
        &id,
        "rejected",
        "<!subteam^S1> no & <http://x|y>",
    );
    let follow_up = slack.wait_for(2, Duration::from_secs(10))[1].body.clone();
    let link = format!("<{}/review/{id}|Open in hitl>", server.url);
    assert!(
        follow_up.contains(&link),
        "hitl's own link stays a link: {follow_up}"
    );
    let follow: serde_json::Value = serde_json::from_str(&follow_up).unwrap();
    assert!(
        !follow["text"].as_str().unwrap().contains('<'),
        "the notification text has no markup: {follow_up}"
    );
    assert_eq!(follow["blocks"][0]["text"]["type"], "plain_text");
    assert!(
        follow_up.contains(
            r#""text":"Rejected by alice@example.com: &lt;!subteam^S1&gt; no &amp; &lt;http://x|y&gt; · &lt;!channel&gt; Deploy"#
        ),
        "{follow_up}"
    );
}
