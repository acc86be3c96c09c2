//! A decision's reasons to reject (`options` on a decision): offered by the agent,
//! picked by the reviewer through the API or the review page, returned to the agent
//! in the status and the webhook.

use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::Browser;
use crate::harness::*;
use crate::peers::Receiver;
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};
use crate::web_pages::setup_admin;

const REASONS: [&str; 2] = ["Too risky", "Wrong <b>files</b>"];

#[test]
fn a_reviewer_key_rejects_for_a_reason_and_the_webhook_carries_it() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let j = hitl.key_json(&["--name", "bot", "--webhook-url", &hook.url]);
    let (agent, secret) = (
        j["key"].as_str().unwrap(),
        j["webhookSecret"].as_str().unwrap(),
    );
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);
    let id = server.create(
        agent,
        &json!({ "action": "Delete 40 files", "options": REASONS }),
    );
    let status = server.status(agent, &id);
    assert_eq!(status["kind"], "decision");
    assert_eq!(status["options"], json!(REASONS));
    assert_eq!(status["rejectOption"], Value::Null);

    let decide = |body: Value| server.post(&format!("/api/pause/{id}/approve"), &reviewer, &body);
    for (body, message) in [
        (
            json!({ "decision": "approved", "option": "Too risky" }),
            "reason to reject",
        ),
        (
            json!({ "decision": "rejected", "option": "too risky" }),
            "one of the pause's options",
        ),
        (
            json!({ "decision": "rejected", "option": 3 }),
            "invalid type",
        ),
    ] {
        let r = decide(body);
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains(message), "{}", r.text);
    }
    assert_eq!(server.status(agent, &id)["status"], "pending");

    let r = decide(json!({ "decision": "rejected", "option": "Too risky" }));
    assert_eq!(r.status, 200, "{}", r.text);
    for p in [&r.json, &server.status(agent, &id)] {
        assert_eq!(p["status"], "rejected");
        assert_eq!(p["rejectOption"], "Too risky");
        assert_eq!(p["comment"], "Too risky", "the reason is the comment too");
        assert_eq!(p["answer"], Value::Null, "answer is a question's");
    }
    let delivered = hook.wait_for(1, Duration::from_secs(10));
    delivered[0].verify(secret).expect("signed");
    let body = delivered[0].json();
    assert_eq!(
        (&body["status"], &body["rejectOption"], &body["comment"]),
        (&json!("rejected"), &json!("Too risky"), &json!("Too risky"))
    );
}

#[test]
fn the_review_page_offers_the_reasons_escaped_and_rejects_with_the_one_pressed() {
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&[]);
    let id = server.create(
        &agent,
        &json!({ "action": "Delete 40 files", "options": REASONS }),
    );
    let plain = server.create(&agent, &json!({ "action": "Restart the web tier" }));
    let cookie = sign_in(&server, "alice@example.com", PASSWORD).unwrap();

    let html = page(&server, &format!("/review/{plain}"), &cookie).text;
    assert!(
        !html.contains("name=\"reject_option\""),
        "no reasons offered"
    );
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(
        html.contains("name=\"decision\""),
        "Approve and Reject stay"
    );
    assert!(
        html.contains("name=\"reject_option\" value=\"Too risky\""),
        "{html}"
    );
    assert!(html.contains("Wrong &lt;b&gt;files&lt;/b&gt;"), "{html}");
    assert!(!html.contains("<b>files"), "{html}");
    let csrf = csrf_of(&html);

    let path = format!("/review/{id}/decide");
    let r = form_post(
        &server,
        &path,
        Some(&cookie),
        &format!("csrf={csrf}&reject_option=Other"),
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("one of the pause"), "{}", r.text);
    let r = form_post(
        &server,
        &path,
        Some(&cookie),
        &format!(
            "csrf={csrf}&comment=&reject_option={}",
            url_encode(REASONS[1])
        ),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    let status = server.status(&agent, &id);
    assert_eq!(
        (
            &status["status"],
            &status["rejectOption"],
            &status["resolvedBy"]
        ),
        (
            &json!("rejected"),
            &json!(REASONS[1]),
            &json!("alice@example.com")
        )
    );
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(html.contains("Rejected"), "{html}");
    assert!(html.contains("Wrong &lt;b&gt;files&lt;/b&gt;"), "{html}");
}

#[test]
fn in_the_browser_a_reason_button_rejects_with_that_reason() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("ci");
    let id = server.create(
        &agent,
        &json!({ "action": "Delete 40 files", "options": REASONS }),
    );
    browser.goto(&format!("{}/review/{id}", server.url));
    let labels = browser.js(
        "return [...document.querySelectorAll('button[name=reject_option]')].map(b => b.textContent)",
        vec![],
    );
    assert_eq!(labels, json!(REASONS));
    browser.fill("textarea[name=comment]", "the logs too");
    browser.click("button[name=reject_option][value='Too risky']");
    browser.wait_until(
        "the decided banner",
        "document.querySelector('.banner-rejected')",
        Duration::from_secs(5),
    );
    let status = server.status(&agent, &id);
    assert_eq!(
        (&status["rejectOption"], &status["comment"]),
        (&json!("Too risky"), &json!("the logs too"))
    );
}
