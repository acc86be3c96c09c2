//! Standing approvals over HTTP: an approval that remembers makes a rule; the next
//! matching pause is answered 201 approved by `rule:<id>`, with its webhook and an
//! immediate long-poll; revoking stops it at once; the review page's buttons and the
//! Rules page do the same for people.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;
use crate::peers::Receiver;
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};

fn approve(server: &Server, key: &str, id: &str, remember: Value) -> Resp {
    server.post(
        &format!("/api/pause/{id}/approve"),
        key,
        &json!({ "decision": "approved", "remember": remember }),
    )
}

fn rules(server: &Server, key: &str) -> Vec<Value> {
    let r = server.get("/api/rules", key);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["items"].as_array().expect("items").clone()
}

fn delete(server: &Server, key: &str, path: &str) -> Resp {
    request(
        "DELETE",
        &format!("{}{path}", server.url),
        Some(key),
        None,
        &[],
    )
}

fn create(server: &Server, key: &str, action: &str) -> Value {
    let r = server.post("/api/pause", key, &json!({ "action": action }));
    assert_eq!(r.status, 201, "{}", r.text);
    r.json
}

#[test]
fn a_remembered_approval_approves_the_next_identical_pause_until_revoked() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let agent = hitl.key_json(&["--name", "deploy-bot", "--webhook-url", &hook.url])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let alice = hitl.reviewer_key("alice@example.com");
    let bob = hitl.reviewer_key("bob@example.com");
    let server = hitl.serve(&[]);

    let first = server.create(&agent, &json!({ "action": "Deploy v2.4.1 to staging" }));
    let r = approve(&server, &alice, &first, json!({ "for": "24h" }));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "approved");
    assert_eq!(r.json["resolvedBy"], "alice@example.com");
    hook.wait_for(1, Duration::from_secs(10));

    let listed = rules(&server, &bob);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let rule = &listed[0];
    let rule_id = rule["id"].as_i64().unwrap();
    assert_eq!(rule["keyName"], "deploy-bot");
    assert_eq!(rule["action"], "Deploy v2.4.1 to staging");
    assert_eq!(rule["isGlob"], false);
    assert_eq!(rule["createdBy"], "alice@example.com");
    assert_eq!(rule["watchId"], first.as_str());
    assert_eq!(rule["uses"], 0);
    assert_eq!(rule["maxUses"], Value::Null);
    assert_eq!(rule["lastUsedAt"], Value::Null);
    assert_eq!(rule["revokedAt"], Value::Null);
    assert_eq!(rule["active"], true);
    assert!(rule["createdAt"].is_string() && rule["expiresAt"].is_string());

    // The same action again: approved as it is created, by the rule.
    let second = create(&server, &agent, "Deploy v2.4.1 to staging");
    let by_rule = format!("rule:{rule_id}");
    assert_eq!(second["status"], "approved", "{second}");
    assert_eq!(second["resolvedBy"], by_rule.as_str());
    assert!(second["resolvedAt"].is_string());
    let id = second["watchId"].as_str().unwrap();
    // A long-poll answers at once.
    let started = Instant::now();
    let polled = server.get(&format!("/api/pause/{id}?wait=30"), &agent);
    assert_eq!(polled.status, 200);
    assert_eq!(polled.json["status"], "approved");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Its webhook arrives like any other.
    let got = hook.wait_for(2, Duration::from_secs(10));
    let body = got
        .iter()
        .map(|r| r.json())
        .find(|b| b["watchId"] == id)
        .expect("the webhook of the pause the rule approved");
    assert_eq!(body["status"], "approved");
    assert_eq!(body["resolvedBy"], by_rule.as_str());
    let events: Vec<String> = hitl.audit_events(id).into_iter().map(|e| e.0).collect();
    assert!(events.contains(&"pause.approved".to_string()), "{events:?}");
    assert!(events.contains(&"rule.used".to_string()), "{events:?}");
    let rule = &rules(&server, &alice)[0];
    assert_eq!(rule["uses"], 1);
    assert!(rule["lastUsedAt"].is_string());

    // Another action still waits.
    let other = create(&server, &agent, "Deploy v2.4.1 to production");
    assert_eq!(other["status"], "pending");

    // Revoking: not by an agent, not by another approver; unknown ids are 404.
    let path = format!("/api/rules/{rule_id}");
    let r = delete(&server, &agent, &path);
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    let r = delete(&server, &bob, &path);
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    let r = delete(&server, &alice, &format!("/api/rules/{}", rule_id + 1000));
    assert_eq!((r.status, r.code()), (404, "not_found"), "{}", r.text);
    let r = delete(&server, &alice, "/api/rules/first");
    assert_eq!(r.status, 400, "{}", r.text);
    let r = delete(&server, &alice, &path);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["revokedAt"].is_string());
    assert_eq!(r.json["revokedBy"], "alice@example.com");
    assert_eq!(r.json["active"], false);
    // At once: the next identical pause waits for a person.
    let third = create(&server, &agent, "Deploy v2.4.1 to staging");
    assert_eq!(third["status"], "pending");
    // Revoking again answers the rule as it is.
    let r = delete(&server, &alice, &path);
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn max_uses_and_a_pattern() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    let alice = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);
    let first = server.create(&agent, &json!({ "action": "Deploy v2.4.1 to staging" }));
    let r = approve(
        &server,
        &alice,
        &first,
        json!({ "for": "always", "maxUses": 1, "action": "Deploy * to staging" }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let rule = &rules(&server, &alice)[0];
    assert_eq!(rule["isGlob"], true);
    assert_eq!(rule["expiresAt"], Value::Null);
    assert_eq!(rule["maxUses"], 1);
    assert_eq!(
        create(&server, &agent, "Deploy v2.5.0 to production")["status"],
        "pending"
    );
    assert_eq!(
        create(&server, &agent, "Deploy v2.5.0 to staging")["status"],
        "approved"
    );
    assert_eq!(
        create(&server, &agent, "Deploy v2.5.1 to staging")["status"],
        "pending"
    );
    let rule = &rules(&server, &alice)[0];
    assert_eq!(
        (rule["uses"].as_i64(), rule["active"].as_bool()),
        (Some(1), Some(false))
    );
}

#[test]
fn bad_remember_values_are_refused_and_nothing_is_made() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    let alice = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "Deploy v2.4.1" }));
    for bad in [
        json!({ "for": "2h" }),
        json!({}),
        json!({ "for": 1 }),
        json!({ "for": "1h", "maxUses": 0 }),
        json!({ "for": "1h", "maxUses": 2_000_000 }),
        json!({ "for": "1h", "maxUses": "3" }),
        json!({ "for": "1h", "action": "" }),
        json!({ "for": "1h", "action": "*" }),
        json!({ "for": "1h", "action": "Rollback *" }),
        json!({ "for": "1h", "action": "Deploy [v2" }),
        json!({ "for": "1h", "until": "tomorrow" }),
        json!("1h"),
    ] {
        let r = approve(&server, &alice, &id, bad.clone());
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(r.code(), "validation_failed", "{bad}: {}", r.text);
    }
    // Only with an approval.
    let r = server.post(
        &format!("/api/pause/{id}/approve"),
        &alice,
        &json!({ "decision": "rejected", "remember": { "for": "1h" } }),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    // Never for a pause that needs two approvals (and the vote is not counted), nor a
    // critical risk.
    let quorum = server.create(
        &agent,
        &json!({ "action": "Deploy v2.4.1", "requiredApprovals": 2 }),
    );
    let r = approve(&server, &alice, &quorum, json!({ "for": "1h" }));
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("2 approvals"), "{}", r.text);
    assert_eq!(server.status(&agent, &quorum)["approvals"], json!([]));
    let critical = server.create(
        &agent,
        &json!({ "action": "Deploy v2.4.1", "risk": "critical" }),
    );
    let r = approve(&server, &alice, &critical, json!({ "for": "1h" }));
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(rules(&server, &alice).is_empty());
    assert_eq!(server.status(&agent, &id)["status"], "pending");
    assert_eq!(server.status(&agent, &critical)["status"], "pending");
    // `remember: null` is no rule, and the approval goes through.
    let r = approve(&server, &alice, &id, Value::Null);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(rules(&server, &alice).is_empty());
}

#[test]
fn agent_keys_are_refused_on_the_rules_api() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    let server = hitl.serve(&[]);
    let r = server.get("/api/rules", &agent);
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    let r = delete(&server, &agent, "/api/rules/1");
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    let r = request("GET", &format!("{}/api/rules", server.url), None, None, &[]);
    assert_eq!(r.status, 401);
    let r = server.post("/api/rules", &agent, &json!({}));
    assert_eq!(r.status, 405);
}

#[test]
fn the_review_page_makes_a_rule_and_the_rules_page_lists_and_revokes_it() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    hitl.add_user("alice@example.com", "approver");
    hitl.add_user("bob@example.com", "approver");
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "alice@example.com", PASSWORD).unwrap();

    let action = "Deploy v2.4.1 to staging";
    let id = server.create(&agent, &json!({ "action": action }));
    let review = page(&server, &format!("/review/{id}"), &cookie);
    assert_eq!(review.status, 200);
    for span in ["1h", "24h", "7d", "always"] {
        assert!(
            review
                .text
                .contains(&format!("name=\"remember\" value=\"{span}\"")),
            "no {span} button"
        );
    }
    assert!(review.text.contains("Approve &amp; allow for 24 h"));
    assert!(review.text.contains("name=\"remember_action\""));
    assert!(
        review.text.contains("href=\"/rules\""),
        "the nav links the Rules page"
    );
    let csrf = csrf_of(&review.text);

    // A bad use count is said on the page, and nothing is decided.
    let body = format!(
        "csrf={csrf}&remember=7d&remember_action={}&remember_uses=lots&comment=",
        url_encode("Deploy * to staging")
    );
    let r = form_post(
        &server,
        &format!("/review/{id}/decide"),
        Some(&cookie),
        &body,
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("whole number"), "{}", r.text);

    let body = format!(
        "csrf={csrf}&remember=7d&remember_action={}&remember_uses=5&comment=",
        url_encode("Deploy * to staging")
    );
    let r = form_post(
        &server,
        &format!("/review/{id}/decide"),
        Some(&cookie),
        &body,
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    let decided = page(&server, &format!("/review/{id}"), &cookie);
    assert!(
        decided.text.contains("standing approval #"),
        "{}",
        decided.text
    );

    let listed = page(&server, "/rules", &cookie);
    assert_eq!(listed.status, 200);
    assert!(
        listed.text.contains("Deploy * to staging"),
        "{}",
        listed.text
    );
    assert!(listed.text.contains("0 of 5"), "{}", listed.text);
    assert!(listed.text.contains("pattern"));
    let rule_id = {
        let at = listed.text.find("data-rule=\"").unwrap() + 11;
        listed.text[at..].split('"').next().unwrap().to_string()
    };

    // Used by the next matching pause, and shown so.
    let next = server.post(
        "/api/pause",
        &agent,
        &json!({ "action": "Deploy v2.5.0 to staging" }),
    );
    assert_eq!(next.json["status"], "approved", "{}", next.text);
    assert_eq!(next.json["resolvedBy"], format!("rule:{rule_id}").as_str());
    let listed = page(&server, "/rules", &cookie);
    assert!(listed.text.contains("1 of 5"), "{}", listed.text);
    let approved = page(
        &server,
        &format!("/review/{}", next.json["watchId"].as_str().unwrap()),
        &cookie,
    );
    assert!(
        approved.text.contains("by standing approval"),
        "{}",
        approved.text
    );

    // Bob sees it, but may not revoke it: no button, and a refused post is said in words.
    let bob = sign_in(&server, "bob@example.com", PASSWORD).unwrap();
    let bobs = page(&server, "/rules", &bob);
    assert!(bobs.text.contains("Deploy * to staging"));
    assert!(!bobs.text.contains(&format!("/rules/{rule_id}/revoke")));
    let bob_csrf = csrf_of(&bobs.text);
    let r = form_post(
        &server,
        &format!("/rules/{rule_id}/revoke"),
        Some(&bob),
        &format!("csrf={bob_csrf}"),
        &[],
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(
        r.text.contains("alice@example.com (who made it)"),
        "{}",
        r.text
    );

    // Without the form token: refused.
    let r = form_post(
        &server,
        &format!("/rules/{rule_id}/revoke"),
        Some(&cookie),
        "csrf=x",
        &[],
    );
    assert_eq!(r.status, 403);
    // Alice revokes it: post, redirect, get.
    let r = form_post(
        &server,
        &format!("/rules/{rule_id}/revoke"),
        Some(&cookie),
        &format!("csrf={csrf}"),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        r.headers.get("location").map(String::as_str),
        Some("/rules?done=revoked")
    );
    let after = page(&server, "/rules?done=revoked", &cookie);
    assert!(
        after.text.contains("The standing approval is revoked"),
        "{}",
        after.text
    );
    assert!(after.text.contains("revoked"), "{}", after.text);
    assert!(!after.text.contains(&format!("/rules/{rule_id}/revoke")));
    let again = server.post(
        "/api/pause",
        &agent,
        &json!({ "action": "Deploy v2.5.1 to staging" }),
    );
    assert_eq!(again.json["status"], "pending", "{}", again.text);
}

#[test]
fn the_review_page_offers_no_rule_for_a_quorum_or_a_critical_risk() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    hitl.add_user("alice@example.com", "approver");
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "alice@example.com", PASSWORD).unwrap();
    for body in [
        json!({ "action": "Deploy", "requiredApprovals": 2 }),
        json!({ "action": "Deploy", "risk": "critical" }),
    ] {
        let id = server.create(&agent, &body);
        let review = page(&server, &format!("/review/{id}"), &cookie);
        assert_eq!(review.status, 200);
        assert!(review.text.contains("data-decide"), "{body}");
        assert!(!review.text.contains("name=\"remember\""), "{body}");
    }
}

#[test]
fn max_uses_may_be_written_as_a_whole_float() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    let alice = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "Deploy" }));
    let r = approve(&server, &alice, &id, json!({ "for": "1h", "maxUses": 1.5 }));
    assert_eq!(r.status, 400, "{}", r.text);
    let r = approve(&server, &alice, &id, json!({ "for": "1h", "maxUses": 3.0 }));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(rules(&server, &alice)[0]["maxUses"], 3);
}

#[test]
fn in_a_browser_the_allow_buttons_approve_and_make_the_rule() {
    use crate::browser::Browser;
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = crate::web_pages::setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("deploy-bot");
    let id = server.create(&agent, &json!({ "action": "Rotate the staging logs" }));
    browser.set_viewport(1280, 800);
    browser.goto(&format!("{}/review/{id}", server.url));
    browser.click("details.remember > summary");
    browser.fill("input[name=remember_uses]", "2");
    browser.click("button[name=remember][value='7d']");
    browser.wait_until(
        "the decided banner",
        "document.querySelector('.banner-approved')",
        Duration::from_secs(5),
    );
    assert!(browser.text(".history").contains("standing approval #"));
    let rule = &rules(&server, &hitl.reviewer_key("bob@example.com"))[0];
    assert_eq!(rule["action"], "Rotate the staging logs");
    assert_eq!(rule["isGlob"], false);
    assert_eq!(rule["maxUses"], 2);
    assert_eq!(rule["createdBy"], "admin@example.com");
    let next = create(&server, &agent, "Rotate the staging logs");
    assert_eq!(next["status"], "approved");

    // On a phone it shows only once the comment fold is opened: the panel stays short.
    let other = server.create(&agent, &json!({ "action": "Rotate the prod logs" }));
    browser.set_viewport(390, 844);
    browser.goto(&format!("{}/review/{other}", server.url));
    let shown = browser.js(
        "return getComputedStyle(document.querySelector('details.remember')).display",
        vec![],
    );
    assert_eq!(shown, json!("none"));
    browser.click("details.comment-fold > summary");
    let shown = browser.js(
        "return getComputedStyle(document.querySelector('details.remember')).display",
        vec![],
    );
    assert_ne!(shown, json!("none"));
}
