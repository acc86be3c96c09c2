//! Mail to reviewers with safe one-time links, Slack messages, and test webhooks:
//! a real SMTP server (mailin) and a real HTTP receiver on 127.0.0.1.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;
use crate::peers::{free_port, Receiver, Reply, SmtpServer};
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};

fn smtp_args(smtp: &SmtpServer) -> Vec<String> {
    vec![
        "--smtp-url".into(),
        format!("smtp://127.0.0.1:{}", smtp.port),
        "--smtp-from".into(),
        "hitl <hitl@example.com>".into(),
    ]
}

fn serve_with(hitl: &Hitl, extra: &[String]) -> Server {
    let args: Vec<&str> = extra.iter().map(String::as_str).collect();
    hitl.serve(&args)
}

/// The Approve and Reject links in a mail's text, as paths.
fn links(mail: &Value, base: &str) -> (String, String) {
    let text = mail["text"].as_str().unwrap();
    let find = |label: &str| {
        let line = text
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} link in {text}"));
        line.split_whitespace()
            .last()
            .unwrap()
            .trim_start_matches(base)
            .to_string()
    };
    (find("Approve:"), find("Reject:"))
}

#[test]
fn new_pauses_are_mailed_to_reviewers_who_want_mail() {
    let smtp = SmtpServer::start(None);
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    hitl.add_user("boss@example.com", "admin");
    hitl.add_user("quiet@example.com", "approver");
    let agent = hitl.agent_key("deploy-bot");
    let server = serve_with(&hitl, &smtp_args(&smtp));
    assert!(
        server.log().contains("email on via smtp://127.0.0.1"),
        "{}",
        server.log()
    );
    // quiet@ turns mail off in the page (every box unticked).
    let cookie = sign_in(&server, "quiet@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, "/account", &cookie).text);
    assert_eq!(
        form_post(
            &server,
            "/account/notify",
            Some(&cookie),
            &format!("csrf={csrf}"),
            &[]
        )
        .status,
        303
    );

    let id = server.create(
        &agent,
        &json!({
            "action": "Deploy <b>v2.4.1</b> to prod",
            "context": { "commit": "a3f9b2e", "notes": "<script>alert(1)</script>" },
            "tags": ["deploy"],
            "timeoutSeconds": 3600
        }),
    );
    let mails = smtp.wait_for(2, Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(500));
    let mails = if smtp.messages().len() > mails.len() {
        smtp.messages()
    } else {
        mails
    };
    let mut to: Vec<String> = mails
        .iter()
        .map(|m| m["to"][0].as_str().unwrap().to_string())
        .collect();
    to.sort();
    assert_eq!(
        to,
        ["alice@example.com", "boss@example.com"],
        "one mail each, none to quiet@"
    );
    let mail = &mails[0];
    assert_eq!(mail["from"], "hitl@example.com");
    assert_eq!(
        mail["subject"],
        "Approval needed: Deploy <b>v2.4.1</b> to prod"
    );
    assert_eq!(mail["multipart"], true);
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.contains("a3f9b2e") && text.contains("deploy-bot"),
        "{text}"
    );
    let html = mail["html"].as_str().unwrap();
    assert!(
        html.contains("&lt;b&gt;v2.4.1&lt;/b&gt;") && !html.contains("<b>v2.4.1"),
        "the action is escaped in HTML mail"
    );
    assert!(
        !html.contains("<script>alert"),
        "the context is escaped in HTML mail"
    );
    assert!(html.contains(&format!("{}/review/{id}", server.url)));
    // Each reviewer has their own links.
    let (a1, r1) = links(&mails[0], &server.url);
    let (a2, _) = links(&mails[1], &server.url);
    assert!(a1.starts_with("/mail/") && r1.starts_with("/mail/") && a1 != r1 && a1 != a2);
}

#[test]
fn mailed_links_confirm_on_get_decide_on_post_and_work_once() {
    let smtp = SmtpServer::start(None);
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    hitl.add_user("bob@example.com", "approver");
    let agent = hitl.agent_key("ci");
    let server = serve_with(&hitl, &smtp_args(&smtp));
    let id = server.create(
        &agent,
        &json!({ "action": "Send the newsletter", "timeoutSeconds": 3600 }),
    );
    let mails = smtp.wait_for(2, Duration::from_secs(15));
    let of = |email: &str| mails.iter().find(|m| m["to"][0] == email).unwrap().clone();
    let (alice_approve, alice_reject) = links(&of("alice@example.com"), &server.url);
    let (bob_approve, bob_reject) = links(&of("bob@example.com"), &server.url);

    // Mail scanners and chat previews open links: GET never decides.
    for link in [&alice_approve, &alice_reject, &bob_approve, &bob_reject] {
        for _ in 0..2 {
            let r = request_raw("GET", &format!("{}{link}", server.url), "", &[]);
            assert_eq!(r.status, 200, "{link}");
            assert!(r
                .text
                .contains("Nothing is decided until you press the button"));
        }
    }
    assert_eq!(server.status(&agent, &id)["status"], "pending");
    let confirm = request_raw("GET", &format!("{}{alice_reject}", server.url), "", &[]).text;
    assert!(confirm.contains("Reject as alice@example.com"), "{confirm}");

    // A tampered link is refused.
    let tampered = alice_approve.replacen("/mail/", "/mail/x", 1);
    assert_eq!(
        request_raw("GET", &format!("{}{tampered}", server.url), "", &[]).status,
        404
    );
    let forged = alice_approve.replace(".a.", ".r.");
    let r = form_post(&server, &forged, None, "comment=", &[]);
    assert_eq!(
        r.status, 404,
        "a link cannot be turned into the other decision"
    );

    // One POST decides, as that reviewer.
    let r = form_post(
        &server,
        &alice_reject,
        None,
        &format!("comment={}", url_encode("not this week")),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let status = server.status(&agent, &id);
    assert_eq!(
        (
            status["status"].as_str(),
            status["resolvedBy"].as_str(),
            status["comment"].as_str()
        ),
        (
            Some("rejected"),
            Some("alice@example.com"),
            Some("not this week")
        )
    );
    // Used once: the same link, and every other link, no longer decides.
    let again = form_post(&server, &alice_reject, None, "comment=", &[]);
    assert_eq!(again.status, 409);
    assert!(again.text.contains("used already"), "{}", again.text);
    let late = form_post(&server, &bob_approve, None, "comment=", &[]);
    assert_eq!(late.status, 409);
    assert_eq!(server.status(&agent, &id)["status"], "rejected");
    let page = request_raw("GET", &format!("{}{bob_approve}", server.url), "", &[]);
    assert!(page.text.contains("Already decided"));
    // A cross-site POST with a link is refused too.
    let id2 = server.create(
        &agent,
        &json!({ "action": "second", "timeoutSeconds": 3600 }),
    );
    let mails = smtp.wait_for(4, Duration::from_secs(15));
    let (approve2, _) = links(
        &mails
            .iter()
            .rfind(|m| m["to"][0] == "alice@example.com")
            .unwrap()
            .clone(),
        &server.url,
    );
    let r = form_post(
        &server,
        &approve2,
        None,
        "comment=",
        &[("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(server.status(&agent, &id2)["status"], "pending");
}

#[test]
fn mailed_links_expire_with_their_pause() {
    let smtp = SmtpServer::start(None);
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let agent = hitl.agent_key("ci");
    let server = serve_with(&hitl, &smtp_args(&smtp));
    let id = server.create(
        &agent,
        &json!({ "action": "short-lived", "timeoutSeconds": 2 }),
    );
    let mails = smtp.wait_for(1, Duration::from_secs(10));
    let (approve, _) = links(&mails[0], &server.url);
    std::thread::sleep(Duration::from_millis(2500));
    let r = request_raw("GET", &format!("{}{approve}", server.url), "", &[]);
    assert_eq!(r.status, 409);
    assert!(r.text.contains("expired"), "{}", r.text);
    let r = form_post(&server, &approve, None, "comment=", &[]);
    assert_eq!(r.status, 409);
    assert_eq!(server.status(&agent, &id)["status"], "expired");
}

#[test]
fn send_test_email_explains_failures_in_one_line() {
    let smtp = SmtpServer::start(Some(("hitl", "s3cret")));
    let run = |url: &str| {
        let out = std::process::Command::new(BIN)
            .args([
                "send-test-email",
                "ops@example.com",
                "--smtp-url",
                url,
                "--smtp-from",
                "hitl@example.com",
            ])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&format!("smtp://hitl:s3cret@127.0.0.1:{}", smtp.port));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("sent"));
    let mail = &smtp.wait_for(1, Duration::from_secs(10))[0];
    assert_eq!(mail["subject"], "hitl test email");
    assert_eq!(mail["to"][0], "ops@example.com");

    let error_line = |err: &str| err.lines().filter(|l| l.starts_with("error:")).count();
    let (code, _, err) = run(&format!("smtp://hitl:wrong@127.0.0.1:{}", smtp.port));
    assert_eq!(code, Some(1));
    assert_eq!(error_line(&err), 1, "{err}");
    assert!(
        err.contains("refused the user name or password (SMTP 535)"),
        "{err}"
    );

    let (code, _, err) = run(&format!("smtps://hitl:s3cret@127.0.0.1:{}", smtp.port));
    assert_eq!(code, Some(1));
    assert!(
        err.contains("tls=required") || err.contains("STARTTLS"),
        "wrong TLS mode is explained: {err}"
    );
    assert_eq!(error_line(&err), 1, "{err}");

    let (code, _, err) = run(&format!("smtp://127.0.0.1:{}", free_port()));
    assert_eq!(code, Some(1));
    assert!(err.contains("nothing accepts connections"), "{err}");

    let (code, _, err) = run(&format!("smtp://127.0.0.1:{}?tls=required", smtp.port));
    assert_eq!(code, Some(1));
    assert!(err.to_lowercase().contains("starttls"), "{err}");
    assert_eq!(smtp.messages().len(), 1, "failed attempts sent nothing");
}

#[test]
fn slack_gets_a_message_per_pause_and_a_follow_up() {
    let slack = Receiver::start();
    slack.reply(&[Reply::Status(500)]);
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[
        "--slack-webhook-url",
        &slack.url,
        "--webhook-retry-schedule",
        "300ms,300ms",
    ]);
    assert!(server.log().contains("Slack on"), "{}", server.log());
    let id = server.create(&agent, &json!({ "action": "<!channel> Deploy v2.4.1", "context": { "commit": "a3f9b2e" }, "tags": ["deploy", "prod"] }));
    // The first try fails and is retried.
    let got = slack.wait_for(2, Duration::from_secs(10));
    let message = got[1].json();
    assert_eq!(
        message["text"],
        "Approval needed: &lt;!channel&gt; Deploy v2.4.1"
    );
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(
        blocks[0]["text"],
        json!({ "type": "plain_text", "text": "<!channel> Deploy v2.4.1", "emoji": false })
    );
    let all = serde_json::to_string(blocks).unwrap();
    assert!(
        all.contains("a3f9b2e") && all.contains("deploy, prod") && all.contains("deploy-bot"),
        "{all}"
    );
    let button = &blocks.last().unwrap()["elements"][0];
    assert_eq!(button["type"], "button");
    assert_eq!(button["url"], format!("{}/review/{id}", server.url));

    server.decide(&reviewer, &id, "approved", "ship it");
    let got = slack.wait_for(3, Duration::from_secs(10));
    let follow_up = got[2].json();
    let line = follow_up["text"].as_str().unwrap();
    assert!(
        line.starts_with("Approved by alice@example.com: ship it"),
        "{line}"
    );
    assert!(
        got.iter()
            .all(|r| !r.headers.contains_key("webhook-signature")),
        "Slack messages are not signed webhooks"
    );
}

#[test]
fn keys_page_sends_a_test_webhook() {
    let hook = Receiver::start();
    let hitl = Hitl::new();
    hitl.add_user("admin@example.com", "admin");
    let j = hitl.key_json(&["--name", "deploy-bot", "--webhook-url", &hook.url]);
    let plain = hitl.key_json(&["--name", "no-hook"]);
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "admin@example.com", PASSWORD).unwrap();
    let keys = page(&server, "/keys", &cookie).text;
    assert_eq!(
        keys.matches("Send test webhook").count(),
        1,
        "only keys with a URL offer it"
    );
    let csrf = csrf_of(&keys);
    let id = j["id"].as_str().unwrap();
    let r = form_post(
        &server,
        &format!("/keys/{id}/test-webhook"),
        Some(&cookie),
        &format!("csrf={csrf}"),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    let got = hook.wait_for(1, Duration::from_secs(10));
    got[0].verify(j["webhookSecret"].as_str().unwrap()).unwrap();
    assert_eq!(got[0].json()["test"], true);
    let location = r.headers["location"].clone();
    let shown = eventually(Duration::from_secs(10), "the test result", || {
        let text = page(&server, &location, &cookie).text;
        text.contains("✓ delivered").then_some(text)
    });
    assert!(shown.contains("HTTP 200"));
    let r = form_post(
        &server,
        &format!("/keys/{}/test-webhook", plain["id"].as_str().unwrap()),
        Some(&cookie),
        &format!("csrf={csrf}"),
        &[],
    );
    assert_eq!(r.status, 400);
    assert!(r.text.contains("no webhook URL"));
}

#[test]
fn the_review_page_shows_deliveries_and_sends_again() {
    let hook = Receiver::start();
    hook.reply(&[Reply::Status(500)]);
    let hitl = Hitl::new();
    hitl.add_user("admin@example.com", "admin");
    let j = hitl.key_json(&["--name", "deploy-bot", "--webhook-url", &hook.url]);
    let agent = j["key"].as_str().unwrap().to_string();
    let server = hitl.serve(&["--webhook-retry-schedule", "1h"]);
    let id = server.create(&agent, &json!({ "action": "x" }));
    let cookie = sign_in(&server, "admin@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, &format!("/review/{id}"), &cookie).text);
    let r = form_post(
        &server,
        &format!("/review/{id}/decide"),
        Some(&cookie),
        &format!("csrf={csrf}&decision=approved&comment="),
        &[],
    );
    assert_eq!(r.status, 303);
    hook.wait_for(1, Duration::from_secs(10));
    let review = eventually(
        Duration::from_secs(10),
        "the failed attempt on the page",
        || {
            let text = page(&server, &format!("/review/{id}"), &cookie).text;
            text.contains("retry in").then_some(text)
        },
    );
    assert!(
        review.contains("✕ ") && review.contains("HTTP 500"),
        "{review}"
    );
    let action = review
        .split("action=\"")
        .find(|s| s.contains("/deliveries/"))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = form_post(
        &server,
        &action,
        Some(&cookie),
        &format!("csrf={csrf}"),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    hook.wait_for(2, Duration::from_secs(10));
    let review = eventually(
        Duration::from_secs(10),
        "the delivered webhook on the page",
        || {
            let text = page(&server, &format!("/review/{id}"), &cookie).text;
            text.contains("✓ ").then_some(text)
        },
    );
    assert!(review.contains("after 2 attempts"), "{review}");
}
