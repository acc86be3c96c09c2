//! The context a reviewer sees is exactly what the agent sent: a key given twice is
//! refused (an executor that keeps the first value would run something else), and
//! numbers keep their digits and objects their key order on every way out: the API,
//! the webhook and the review page.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;
use crate::peers::Receiver;
use crate::web_http::{page, sign_in};

/// Exact digits a 64-bit float cannot hold, and keys out of alphabetical order.
const CONTEXT: &str = r#"{"zeta":1,"payment":{"amount":123456789012345678901234567890,"rate":0.1000000000000000055511151231257827,"fee":1.50},"alpha":[1e400,-0,2]}"#;

fn create_raw(server: &Server, key: &str, body: &str) -> Resp {
    request(
        "POST",
        &format!("{}/api/pause", server.url),
        Some(key),
        Some(body),
        &[],
    )
}

#[test]
fn duplicate_keys_anywhere_in_context_are_refused_with_their_path() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    let server = hitl.serve(&[]);
    let cases = [
        (r#"{"amount":1,"amount":1000000}"#, "context.amount"),
        (
            r#"{"payment":{"to":"acme","amount":1,"amount":1000000}}"#,
            "context.payment.amount",
        ),
        (
            r#"{"steps":[{"run":"ls"},{"run":"ls","run":"rm -rf /"}]}"#,
            "context.steps[1].run",
        ),
    ];
    // Keys serde_json gives a meaning of its own would hide the context from the page
    // while the executor gets it: refused too.
    for context in [
        r#"{"command":"rm -rf /srv","z":{"$serde_json::private::Number":"x"}}"#,
        r#"{"amount":{"$serde_json::private::Number":"5"}}"#,
        r#"{"$serde_json::private::RawValue":"{}"}"#,
    ] {
        let body = format!(r#"{{"action":"Rotate docs cache","context":{context}}}"#);
        let r = create_raw(&server, &agent, &body);
        assert_eq!(
            (r.status, r.code()),
            (400, "validation_failed"),
            "{context}: {}",
            r.text
        );
        assert!(r.text.contains("reserved"), "{context}: {}", r.text);
    }
    for (context, path) in cases {
        let body = format!(r#"{{"action":"Pay the invoice","context":{context}}}"#);
        let r = create_raw(&server, &agent, &body);
        assert_eq!(r.status, 400, "{context}: {}", r.text);
        assert_eq!(r.code(), "validation_failed", "{context}");
        let message = r.json["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.starts_with(&format!("{path} is given more than once")),
            "{context}: the message names {path}: {message}"
        );
    }
    // Nothing was created.
    let list = server.get("/api/pause", &agent);
    assert_eq!(list.json["items"], json!([]), "{}", list.text);
    // The same key in two different objects is no duplicate.
    let ok = create_raw(
        &server,
        &agent,
        r#"{"action":"a","context":[{"run":"ls"},{"run":"pwd"}]}"#,
    );
    assert_eq!(ok.status, 201, "{}", ok.text);
}

#[test]
fn numbers_and_key_order_reach_the_api_the_webhook_and_the_page_unchanged() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let agent = hitl.key_json(&["--name", "pay-bot", "--webhook-url", &hook.url])["key"]
        .as_str()
        .unwrap()
        .to_string();
    hitl.add_user("admin@example.com", "admin");
    let reviewer = hitl.key_json(&["--name", "rev", "--user", "admin@example.com"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let server = hitl.serve(&[]);
    // Sent with whitespace; only that may change.
    let spaced = CONTEXT.replace(',', ", ").replace(':', ": ");
    let r = create_raw(
        &server,
        &agent,
        &format!(r#"{{"action":"Pay the invoice","context":{spaced}}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["watchId"].as_str().unwrap().to_string();

    let status = server.get(&format!("/api/pause/{id}"), &agent);
    assert!(
        status.text.contains(&format!(r#""context":{CONTEXT}"#)),
        "the API returns the context as sent:\n{}",
        status.text
    );
    let listed = server.get("/api/pause", &reviewer);
    assert!(listed.text.contains(CONTEXT), "{}", listed.text);

    let cookie = sign_in(&server, "admin@example.com", PASSWORD).unwrap();
    let review = page(&server, &format!("/review/{id}"), &cookie);
    for digits in [
        "123456789012345678901234567890",
        "0.1000000000000000055511151231257827",
        "1.50",
    ] {
        assert!(
            review.text.contains(digits),
            "the review page shows {digits}"
        );
    }
    assert!(
        !review.text.contains("e+29"),
        "no rounded number on the page"
    );
    let (zeta, payment, alpha) = (
        review.text.find("zeta").unwrap(),
        review.text.find("payment").unwrap(),
        review.text.find("alpha").unwrap(),
    );
    assert!(zeta < payment && payment < alpha, "keys in the order sent");

    server.decide(&reviewer, &id, "approved", "paid");
    let got = hook.wait_for(1, Duration::from_secs(10));
    assert!(
        got[0].body.contains(&format!(r#""context":{CONTEXT}"#)),
        "the webhook carries the context as sent:\n{}",
        got[0].body
    );
}
