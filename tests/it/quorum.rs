//! Separation of duties (a key's owner never decides its pauses) and quorum (a pause
//! that needs several distinct approvals).

use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;
use crate::peers::{Receiver, SmtpServer};
use crate::web_http::{form_post, page, sign_in};

#[test]
fn the_owner_of_a_key_cannot_decide_its_pauses_but_others_can() {
    let hitl = Hitl::new();
    let owner = hitl.reviewer_key("dev@example.com");
    let other = hitl.reviewer_key("lead@example.com");
    let j = hitl.key_json(&["--name", "bot", "--owner", "Dev@Example.com"]);
    assert_eq!(j["ownerEmail"], "dev@example.com");
    let agent = j["key"].as_str().unwrap().to_string();
    let server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "drop the table" }));

    for decision in ["approved", "rejected"] {
        let r = server.decide(&owner, &id, decision, "mine");
        assert_eq!((r.status, r.code()), (403, "self_approval"), "{}", r.text);
    }
    assert_eq!(server.status(&agent, &id)["status"], "pending");

    // The review page says why, and offers no decision.
    let cookie = sign_in(&server, "dev@example.com", PASSWORD).unwrap();
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(html.contains("data-self-approval"), "{html}");
    assert!(!html.contains(&format!("/review/{id}/decide")), "{html}");
    let cookie = sign_in(&server, "lead@example.com", PASSWORD).unwrap();
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(html.contains(&format!("/review/{id}/decide")));

    // A question of that key: no answer from its owner either.
    let q = server.create(&agent, &json!({ "action": "which?", "kind": "question" }));
    let r = server.post(
        &format!("/api/pause/{q}/answer"),
        &owner,
        &json!({ "answer": "x" }),
    );
    assert_eq!((r.status, r.code()), (403, "self_approval"), "{}", r.text);

    let r = server.decide(&other, &id, "approved", "fine");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["resolvedBy"], "lead@example.com");
}

#[test]
fn an_owner_is_an_agent_keys_and_must_be_an_email() {
    let hitl = Hitl::new();
    hitl.add_user("r@example.com", "approver");
    let out = hitl.cmd(&["key", "create", "--name", "x", "--owner", "not an email"]);
    assert!(!out.status.success());
    let out = hitl.cmd(&[
        "key",
        "create",
        "--name",
        "y",
        "--user",
        "r@example.com",
        "--owner",
        "d@example.com",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reviewer key"));
    assert!(!hitl.ok(&["key", "list"]).contains("y"));
}

#[test]
fn two_approvals_approve_and_the_same_person_counts_once() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let j = hitl.key_json(&["--name", "bot", "--webhook-url", &hook.url]);
    let agent = j["key"].as_str().unwrap().to_string();
    let alice = hitl.reviewer_key("alice@example.com");
    let bob = hitl.reviewer_key("bob@example.com");
    let server = hitl.serve(&[]);
    let id = server.create(
        &agent,
        &json!({ "action": "deploy", "requiredApprovals": 2 }),
    );
    let s = server.status(&agent, &id);
    assert_eq!(
        (s["requiredApprovals"].clone(), s["approvals"].clone()),
        (json!(2), json!([]))
    );

    // A waiter is not woken by the first approval.
    let (url, key, wid) = (server.url.clone(), agent.clone(), id.clone());
    let waiter = thread::spawn(move || {
        let start = Instant::now();
        let r = request(
            "GET",
            &format!("{url}/api/pause/{wid}?wait=4"),
            Some(&key),
            None,
            &[],
        );
        (r, start.elapsed())
    });
    thread::sleep(Duration::from_millis(500));
    let r = server.decide(&alice, &id, "approved", "looks fine");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "pending");
    assert_eq!(r.json["approvals"][0]["by"], "alice@example.com");
    assert_eq!(r.json["approvals"][0]["comment"], "looks fine");
    // What the agent reads (kept in memory since its first read) shows the approval.
    let s = server.status(&agent, &id);
    assert_eq!(
        (
            s["status"].clone(),
            s["approvals"].as_array().unwrap().len()
        ),
        (json!("pending"), 1)
    );
    let cookie = sign_in(&server, "alice@example.com", PASSWORD).unwrap();
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(
        html.contains("1 of 2 approvals") && html.contains("data-voted"),
        "{html}"
    );
    let r = server.decide(&alice, &id, "approved", "again");
    assert_eq!((r.status, r.code()), (409, "already_voted"), "{}", r.text);
    let (r, waited) = waiter.join().unwrap();
    assert_eq!(r.json["status"], "pending");
    assert!(waited >= Duration::from_secs(3), "woken after {waited:?}");
    thread::sleep(Duration::from_millis(500));
    assert!(hook.received().is_empty(), "no webhook before the quorum");

    // The queue shows the progress.
    let cookie = sign_in(&server, "bob@example.com", PASSWORD).unwrap();
    assert!(page(&server, "/", &cookie)
        .text
        .contains("1 of 2 approvals"));

    let r = server.decide(&bob, &id, "approved", "ok");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "approved");
    assert_eq!(r.json["resolvedBy"], "bob@example.com");
    assert_eq!(r.json["approvals"].as_array().unwrap().len(), 2);
    let r = server.decide(&alice, &id, "approved", "late");
    assert_eq!((r.status, r.code()), (409, "already_resolved"));

    let got = hook.wait_for(1, Duration::from_secs(10));
    let body = got[0].json();
    assert_eq!(body["status"], "approved");
    assert_eq!(body["requiredApprovals"], 2);
    assert_eq!(body["approvals"][0]["by"], "alice@example.com");
    assert_eq!(body["approvals"][1]["by"], "bob@example.com");
    thread::sleep(Duration::from_millis(800));
    assert_eq!(hook.received().len(), 1, "one webhook, at the end");
}

#[test]
fn a_rejection_ends_a_quorum_at_once() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let alice = hitl.reviewer_key("alice@example.com");
    let bob = hitl.reviewer_key("bob@example.com");
    let server = hitl.serve(&[]);
    let id = server.create(
        &agent,
        &json!({ "action": "deploy", "requiredApprovals": 3 }),
    );
    assert_eq!(server.decide(&alice, &id, "approved", "").status, 200);
    let r = server.decide(&bob, &id, "rejected", "not today");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "rejected");
    assert_eq!(r.json["comment"], "not today");
    let s = server.get(&format!("/api/pause/{id}?wait=5"), &agent);
    assert_eq!(s.json["status"], "rejected");
}

#[test]
fn required_approvals_is_checked() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&[]);
    for bad in [json!(0), json!(11), json!(-1), json!("2")] {
        let r = server.post(
            "/api/pause",
            &agent,
            &json!({ "action": "x", "requiredApprovals": bad }),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let r = server.post(
        "/api/pause",
        &agent,
        &json!({ "action": "x?", "kind": "question", "requiredApprovals": 2 }),
    );
    assert_eq!((r.status, r.code()), (400, "validation_failed"));
    let r = server.get("/api/pause", &agent);
    assert_eq!(r.json["items"], json!([]), "nothing was created");
}

#[test]
fn reviewers_approving_at_once_end_it_once() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let reviewers: Vec<String> = (0..6)
        .map(|i| hitl.reviewer_key(&format!("r{i}@example.com")))
        .collect();
    let server = hitl.serve(&[]);
    let id = server.create(
        &agent,
        &json!({ "action": "deploy", "requiredApprovals": 2 }),
    );
    let results: Vec<(u16, String)> = thread::scope(|s| {
        let handles: Vec<_> = reviewers
            .iter()
            .map(|key| {
                let (server, id) = (&server, &id);
                s.spawn(move || {
                    let r = server.decide(key, id, "approved", "");
                    (
                        r.status,
                        r.json["status"].as_str().unwrap_or(r.code()).to_string(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok: Vec<_> = results.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(ok.len(), 2, "{results:?}");
    assert_eq!(
        ok.iter().filter(|(_, st)| st == "approved").count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|(s, c)| *s == 200 || (*s == 409 && c == "already_resolved")),
        "{results:?}"
    );
    let s = server.status(&agent, &id);
    assert_eq!(s["status"], "approved");
    assert_eq!(s["approvals"].as_array().unwrap().len(), 2);
}

/// The Approve link in a mail's text, as a path.
pub fn approve_link(mail: &serde_json::Value, base: &str) -> String {
    let text = mail["text"].as_str().unwrap();
    let line = text.lines().find(|l| l.starts_with("Approve:")).unwrap();
    line.split_whitespace()
        .last()
        .unwrap()
        .trim_start_matches(base)
        .to_string()
}

#[test]
fn the_owner_is_not_mailed_and_a_mailed_link_votes_once() {
    let smtp = SmtpServer::start(None);
    let hitl = Hitl::new();
    hitl.add_user("dev@example.com", "approver");
    hitl.add_user("lead@example.com", "approver");
    hitl.add_user("qa@example.com", "approver");
    let j = hitl.key_json(&["--name", "bot", "--owner", "dev@example.com"]);
    let agent = j["key"].as_str().unwrap().to_string();
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let server = hitl.serve(&["--smtp-url", &smtp_url, "--smtp-from", "hitl@example.com"]);
    let id = server.create(
        &agent,
        &json!({ "action": "deploy", "timeoutSeconds": 3600, "requiredApprovals": 2 }),
    );
    // The owner may not decide, so is not asked: the two others are.
    let mails = smtp.wait_for(2, Duration::from_secs(15));
    let mut to: Vec<String> = mails
        .iter()
        .map(|m| m["to"][0].as_str().unwrap().to_string())
        .collect();
    to.sort();
    assert_eq!(to, ["lead@example.com", "qa@example.com"]);
    thread::sleep(Duration::from_millis(500));
    assert_eq!(smtp.messages().len(), 2, "no mail to the owner");
    let of = |email: &str| mails.iter().find(|m| m["to"][0] == email).unwrap().clone();
    let lead = approve_link(&of("lead@example.com"), &server.url);

    let r = form_post(&server, &lead, None, "comment=", &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("1 of 2 approvals"), "{}", r.text);
    let s = server.status(&agent, &id);
    assert_eq!(s["status"], "pending");
    assert_eq!(s["approvals"][0]["by"], "lead@example.com");
    // The link works once.
    let r = form_post(&server, &lead, None, "comment=", &[]);
    assert_ne!(r.status, 200, "{}", r.text);
    assert_eq!(
        server.status(&agent, &id)["approvals"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_keys_page_names_an_owner() {
    let hitl = Hitl::new();
    hitl.add_user("ann@example.com", "admin");
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "ann@example.com", PASSWORD).unwrap();
    let html = page(&server, "/keys", &cookie).text;
    assert!(html.contains("name=\"owner\""), "{html}");
    let body = format!(
        "csrf={}&name=owned-bot&owner=Dev%40example.com",
        crate::web_http::csrf_of(&html)
    );
    let r = form_post(
        &server,
        "/keys",
        Some(&cookie),
        &body,
        &[("Origin", &server.url)],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("owner dev@example.com"), "{}", r.text);
    let bad = format!(
        "csrf={}&name=bad-bot&owner=not-an-email",
        crate::web_http::csrf_of(&html)
    );
    let r = form_post(
        &server,
        "/keys",
        Some(&cookie),
        &bad,
        &[("Origin", &server.url)],
    );
    assert_ne!(r.status, 200);
    let keys: serde_json::Value =
        serde_json::from_str(&hitl.ok(&["key", "list", "--json"])).unwrap();
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["ownerEmail"], "dev@example.com");
}
