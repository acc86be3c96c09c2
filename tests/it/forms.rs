//! Forms: a pause with a `responseSchema` is approved (or, as a question, answered)
//! with a response that meets it, on every path: the API, the review page, the queue's
//! bulk decision, mail links; the response reaches the status, the webhook and MCP.

use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::Browser;
use crate::harness::*;
use crate::peers::{Receiver, SmtpServer};
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};
use crate::web_pages::setup_admin;

fn refund_form() -> Value {
    json!({
        "type": "object",
        "title": "Refund details",
        "properties": {
            "amount": { "type": "number", "minimum": 0, "maximum": 100, "title": "Amount (EUR)",
                        "description": "What the customer gets back" },
            "reason": { "type": "string", "maxLength": 40 },
            "channel": { "enum": ["mail", "phone"], "title": "Tell them by" },
            "notify": { "type": "boolean", "title": "Send a receipt" },
            "items": { "type": "integer", "minimum": 1 }
        },
        "required": ["amount", "reason"]
    })
}

fn create_with_form(server: &Server, agent: &str) -> String {
    server.create(
        agent,
        &json!({ "action": "Refund order 42", "responseSchema": refund_form() }),
    )
}

fn approve(server: &Server, key: &str, id: &str, body: Value) -> Resp {
    server.post(&format!("/api/pause/{id}/approve"), key, &body)
}

fn message(r: &Resp) -> String {
    r.json["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn an_approval_carries_a_checked_response_to_the_status_and_the_webhook() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let j = hitl.key_json(&["--name", "bot", "--webhook-url", &hook.url]);
    let agent = j["key"].as_str().unwrap();
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);

    let r = server.post(
        "/api/pause",
        agent,
        &json!({ "action": "Refund order 42", "responseSchema": refund_form() }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["responseSchema"], refund_form());
    assert_eq!(r.json["response"], Value::Null);
    let id = r.json["watchId"].as_str().unwrap().to_string();

    // Refused, naming the field; nothing changes.
    for (body, says) in [
        (
            json!({ "decision": "approved", "response": { "amount": 150, "reason": "late" } }),
            "response.amount must be at most 100",
        ),
        (
            json!({ "decision": "approved", "response": { "amount": 5 } }),
            "response.reason is required",
        ),
        (
            json!({ "decision": "approved" }),
            "response.amount is required",
        ),
        (
            json!({ "decision": "approved", "response": { "amount": 5, "reason": "x", "channel": "fax" } }),
            "response.channel must be one of \"mail\", \"phone\"",
        ),
        (
            json!({ "decision": "approved", "response": { "amount": 5, "reason": "x", "items": 0.5 } }),
            "response.items must be a whole number",
        ),
        (
            json!({ "decision": "approved", "response": "yes" }),
            "response must be an object",
        ),
    ] {
        let r = approve(&server, &reviewer, &id, body);
        assert_eq!(
            (r.status, r.code()),
            (400, "validation_failed"),
            "{}",
            r.text
        );
        assert!(message(&r).starts_with(says), "{}", r.text);
    }
    let status = server.status(agent, &id);
    assert_eq!(
        (&status["status"], &status["response"]),
        (&json!("pending"), &Value::Null)
    );
    assert!(hook.received().is_empty());

    let response = json!({ "amount": 99.5, "reason": "arrived broken", "notify": true });
    let r = approve(
        &server,
        &reviewer,
        &id,
        json!({ "decision": "approved", "comment": "ok", "response": response }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["response"], response);
    let status = server.status(agent, &id);
    assert_eq!(status["status"], "approved");
    assert_eq!(status["response"], response);
    assert_eq!(status["comment"], "ok");

    let got = hook.wait_for(1, Duration::from_secs(10));
    let payload = got[0].json();
    assert_eq!(payload["status"], "approved");
    assert_eq!(payload["response"], response);
}

#[test]
fn a_rejection_needs_no_response_and_may_not_send_one() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);
    let id = create_with_form(&server, &agent);
    let r = approve(
        &server,
        &reviewer,
        &id,
        json!({ "decision": "rejected", "response": { "amount": 1, "reason": "x" } }),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(message(&r).contains("rejection"), "{}", r.text);
    let r = server.decide(&reviewer, &id, "rejected", "not this one");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (&r.json["status"], &r.json["response"]),
        (&json!("rejected"), &Value::Null)
    );

    // A pause without a form takes no response.
    let plain = server.create(&agent, &json!({ "action": "Plain" }));
    let r = approve(
        &server,
        &reviewer,
        &plain,
        json!({ "decision": "approved", "response": { "amount": 1 } }),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(message(&r).contains("no form"), "{}", r.text);
}

#[test]
fn an_unsupported_schema_is_refused_on_create_by_name() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&[]);
    for (schema, says) in [
        (
            json!({ "type": "object", "properties": { "email": { "type": "string", "format": "email" } } }),
            "responseSchema.properties.email: \"format\" is not supported",
        ),
        (
            json!({ "type": "object", "properties": { "list": { "type": "array" } } }),
            "responseSchema.properties.list.type \"array\" is not supported",
        ),
        (
            json!({ "type": "object", "properties": { "a": { "type": "string" } }, "oneOf": [] }),
            "responseSchema: \"oneOf\" is not supported",
        ),
        (json!({ "type": "array" }), "responseSchema.type must be"),
        (
            json!({ "type": "object", "properties": { "a": { "type": "string", "description": "x".repeat(17_000) } } }),
            "responseSchema is longer than 16384 bytes",
        ),
    ] {
        let r = server.post(
            "/api/pause",
            &agent,
            &json!({ "action": "a", "responseSchema": schema }),
        );
        assert_eq!(
            (r.status, r.code()),
            (400, "validation_failed"),
            "{}",
            r.text
        );
        assert!(message(&r).starts_with(says), "{}", r.text);
    }
    let r = server.get("/api/pause", &agent);
    assert_eq!(r.json["items"], json!([]), "nothing was created");
}

#[test]
fn a_question_with_a_form_is_answered_with_an_object() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);
    let id = server.create(
        &agent,
        &json!({ "action": "What should the refund be?", "kind": "question",
                 "responseSchema": refund_form() }),
    );
    let path = format!("/api/pause/{id}/answer");
    let r = server.post(&path, &reviewer, &json!({ "answer": "fifty" }));
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(message(&r).contains("asks for a form"), "{}", r.text);
    let r = server.post(
        &path,
        &reviewer,
        &json!({ "answer": { "amount": 500, "reason": "x" } }),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(message(&r), "answer.amount must be at most 100");
    let r = server.post(
        &path,
        &reviewer,
        &json!({ "answer": { "amount": 50, "reason": "half" } }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let status = server.status(&agent, &id);
    assert_eq!(status["status"], "answered");
    assert_eq!(
        status["response"],
        json!({ "amount": 50, "reason": "half" })
    );
    assert_eq!(status["answer"], r#"{"amount":50,"reason":"half"}"#);

    // A question without a form is still answered with text only.
    let free = server.create(&agent, &json!({ "action": "Why?", "kind": "question" }));
    let r = server.post(
        &format!("/api/pause/{free}/answer"),
        &reviewer,
        &json!({ "answer": { "a": 1 } }),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(message(&r).contains("no form"), "{}", r.text);
}

#[test]
fn the_review_page_shows_the_form_and_keeps_what_was_typed_on_a_refusal() {
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&[]);
    let id = create_with_form(&server, &agent);
    let cookie = sign_in(&server, "alice@example.com", PASSWORD).unwrap();
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(html.contains("Refund details"), "{html}");
    for expected in [
        "name=\"field.amount\"",
        "type=\"number\"",
        "min=\"0\"",
        "max=\"100\"",
        "step=\"any\"",
        "Amount (EUR)",
        "What the customer gets back",
        "name=\"field.reason\"",
        "maxlength=\"40\"",
        "<select",
        "<option value=\"phone\"",
        "Tell them by",
        "type=\"checkbox\" name=\"field.notify\"",
        "Send a receipt",
        "name=\"field.items\"",
        "step=\"1\"",
        "(required)",
        "form=\"decide-form\"",
        "formnovalidate",
    ] {
        assert!(html.contains(expected), "{expected} missing: {html}");
    }
    let csrf = csrf_of(&html);
    let decide = format!("/review/{id}/decide");

    let body = format!(
        "csrf={csrf}&decision=approved&comment=kept&field.amount=500&field.reason={}&field.channel=phone&field.notify=true",
        url_encode("too much")
    );
    let r = form_post(&server, &decide, Some(&cookie), &body, &[]);
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text.contains("response.amount must be at most 100"),
        "{}",
        r.text
    );
    for kept in [
        "value=\"500\"",
        "value=\"too much\"",
        "<option value=\"phone\" selected",
        "value=\"true\" form=\"decide-form\" checked",
        ">kept</textarea>",
    ] {
        assert!(r.text.contains(kept), "{kept} not kept: {}", r.text);
    }
    let body = format!("csrf={csrf}&decision=approved&field.amount=abc&field.reason=x");
    let r = form_post(&server, &decide, Some(&cookie), &body, &[]);
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text.contains("response.amount must be a number") && r.text.contains("value=\"abc\""),
        "{}",
        r.text
    );
    assert_eq!(server.status(&agent, &id)["status"], "pending");

    let body = format!(
        "csrf={csrf}&decision=approved&field.amount=12.50&field.reason=late&field.channel=&field.items="
    );
    let r = form_post(&server, &decide, Some(&cookie), &body, &[]);
    assert_eq!(r.status, 303, "{}", r.text);
    let status = server.status(&agent, &id);
    assert_eq!(status["status"], "approved");
    // The number keeps the digits typed.
    assert_eq!(
        status["response"].to_string(),
        r#"{"amount":12.50,"reason":"late","notify":false}"#
    );
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(
        html.contains("banner-approved") && html.contains("data-response"),
        "{html}"
    );
    assert!(html.contains("<dd>12.50</dd>"), "{html}");

    // Rejecting through the page needs nothing filled in.
    let other = create_with_form(&server, &agent);
    let r = form_post(
        &server,
        &format!("/review/{other}/decide"),
        Some(&cookie),
        &format!("csrf={csrf}&decision=rejected&field.amount=&field.reason="),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(server.status(&agent, &other)["status"], "rejected");
}

#[test]
fn a_question_with_a_form_is_answered_on_the_page() {
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&[]);
    let id = server.create(
        &agent,
        &json!({ "action": "How much?", "kind": "question", "responseSchema": refund_form() }),
    );
    let cookie = sign_in(&server, "alice@example.com", PASSWORD).unwrap();
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(
        html.contains("name=\"field.amount\"") && html.contains("Answer with the form"),
        "{html}"
    );
    let csrf = csrf_of(&html);
    let path = format!("/review/{id}/answer");
    let r = form_post(
        &server,
        &path,
        Some(&cookie),
        &format!("csrf={csrf}&field.reason=x"),
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text.contains("answer.amount is required") && r.text.contains("value=\"x\""),
        "{}",
        r.text
    );
    let r = form_post(
        &server,
        &path,
        Some(&cookie),
        &format!("csrf={csrf}&field.amount=7&field.reason=x"),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    let status = server.status(&agent, &id);
    assert_eq!(
        (&status["status"], &status["response"]),
        (
            &json!("answered"),
            &json!({ "amount": 7, "reason": "x", "notify": false })
        )
    );
}

#[test]
fn the_queue_never_approves_a_pause_with_a_form_in_bulk() {
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&[]);
    let form = create_with_form(&server, &agent);
    let plain = server.create(&agent, &json!({ "action": "Plain one" }));
    let cookie = sign_in(&server, "alice@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, "/", &cookie).text);

    // The confirmation leaves it out and says why.
    let ids = format!("id={form}&id={plain}");
    let r = form_post(
        &server,
        "/queue/bulk",
        Some(&cookie),
        &format!("csrf={csrf}&decision=approved&{ids}"),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("data-needs-form"), "{}", r.text);
    assert!(r.text.contains("cannot be approved together"), "{}", r.text);
    assert!(r.text.contains("Approve 1 pause?"), "{}", r.text);

    // Posted anyway: refused for it, in words; the other goes through.
    let r = form_post(
        &server,
        "/queue/bulk",
        Some(&cookie),
        &format!("csrf={csrf}&decision=approved&confirmed=1&{ids}"),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("asks for a form"), "{}", r.text);
    assert_eq!(server.status(&agent, &form)["status"], "pending");
    assert_eq!(server.status(&agent, &plain)["status"], "approved");

    // Rejecting in bulk needs no form.
    let r = form_post(
        &server,
        "/queue/bulk",
        Some(&cookie),
        &format!("csrf={csrf}&decision=rejected&confirmed=1&id={form}"),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(server.status(&agent, &form)["status"], "rejected");
}

#[test]
fn mail_for_a_pause_with_a_form_has_no_approve_link() {
    let smtp = SmtpServer::start(None);
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let agent = hitl.agent_key("bot");
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let server = hitl.serve(&["--smtp-url", &smtp_url, "--smtp-from", "hitl@example.com"]);
    let id = create_with_form(&server, &agent);
    let mail = smtp.wait_for(1, Duration::from_secs(10))[0].clone();
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("asks for a form"), "{text}");
    assert_eq!(text.matches("/mail/").count(), 1, "only Reject: {text}");
    let html = mail["html"].as_str().unwrap();
    assert!(
        html.contains("Fill in the form to approve") && html.contains(&format!("/review/{id}")),
        "{html}"
    );
    // The one link is Reject, and it works.
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/mail/"))
        .unwrap()
        .to_string();
    let path = link.strip_prefix(&server.url).unwrap();
    let r = request_raw("GET", &link, "", &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Reject"), "{}", r.text);
    let r = form_post(&server, path, None, "comment=no", &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(server.status(&agent, &id)["status"], "rejected");
}

#[test]
fn mcp_request_approval_takes_a_form_and_returns_the_response() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let asked = crate::mcp::structured(&crate::mcp::call(
        &server,
        &agent,
        "request_approval",
        json!({ "action": "Refund", "responseSchema": refund_form() }),
    ));
    let id = asked["watchId"].as_str().unwrap().to_string();
    assert_eq!(asked["response"], Value::Null);
    let r = approve(
        &server,
        &reviewer,
        &id,
        json!({ "decision": "approved", "response": { "amount": 3, "reason": "r" } }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let got = crate::mcp::structured(&crate::mcp::call(
        &server,
        &agent,
        "get_approval",
        json!({ "watchId": id }),
    ));
    assert_eq!(got["response"], json!({ "amount": 3, "reason": "r" }));
}

#[test]
fn a_reviewer_fills_the_form_in_a_browser_and_approves() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("bot");
    let id = create_with_form(&server, &agent);
    browser.goto(&format!("{}/review/{id}", server.url));
    // The browser holds back an approval with a required field empty.
    browser.click("button.approve");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.status(&agent, &id)["status"], "pending");

    browser.fill("input[name='field.amount']", "42");
    browser.fill("input[name='field.reason']", "late delivery");
    browser.js(
        "document.querySelector('select[name=\"field.channel\"]').value = 'mail'",
        vec![],
    );
    // Scrolled clear of the decision panel, which sticks to the bottom of the window.
    browser.js(
        "document.querySelector('input[name=\"field.notify\"]').scrollIntoView({block: 'center'})",
        vec![],
    );
    browser.click("input[name='field.notify']");
    browser.click("button.approve");
    browser.wait_until(
        "the decided banner",
        "document.querySelector('.banner-approved')",
        Duration::from_secs(8),
    );
    let status = server.status(&agent, &id);
    assert_eq!(
        status["response"],
        json!({ "amount": 42, "reason": "late delivery", "channel": "mail", "notify": true })
    );
    assert!(browser.text("dl.response").contains("late delivery"));
}
