//! `onTimeout` (expire, reject or approve when the timeout passes) and extending a
//! pending pause's timeout, through the API and the review page.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;
use crate::peers::Receiver;
use crate::web_http::{csrf_of, form_post, page, sign_in};

fn audit_details(hitl: &Hitl, watch_id: &str, event: &str) -> Value {
    let text: String = hitl
        .db()
        .query_row(
            "SELECT details FROM audit WHERE watch_id = ?1 AND event = ?2",
            [watch_id, event],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn each_on_timeout_ends_the_pause_by_the_system_and_says_so() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let j = hitl.key_json(&["--name", "bot", "--webhook-url", &hook.url]);
    let agent = j["key"].as_str().unwrap().to_string();
    hitl.add_user("admin@example.com", "admin");
    let server = hitl.serve(&[]);
    let mut ids = Vec::new();
    for (on_timeout, status) in [
        (None, "expired"),
        (Some("expire"), "expired"),
        (Some("reject"), "rejected"),
        (Some("approve"), "approved"),
    ] {
        let mut body = json!({ "action": format!("timeout {on_timeout:?}"), "timeoutSeconds": 1 });
        if let Some(o) = on_timeout {
            body["onTimeout"] = json!(o);
        }
        let r = server.post("/api/pause", &agent, &body);
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.json["onTimeout"], on_timeout.unwrap_or("expire"));
        assert_eq!(r.json["timedOut"], false);
        ids.push((r.json["watchId"].as_str().unwrap().to_string(), status));
    }
    for (id, status) in &ids {
        let started = Instant::now();
        let r = server.get(&format!("/api/pause/{id}?wait=20"), &agent);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(r.json["status"], *status, "{}", r.text);
        assert_eq!(r.json["resolvedBy"], "system");
        assert_eq!(r.json["timedOut"], true);
        assert_eq!(r.json["resolvedAt"], r.json["expiresAt"]);
        let details = audit_details(&hitl, id, &format!("pause.{status}"));
        assert_eq!(details, json!({ "by": "system", "timedOut": true }));
    }

    // The webhooks carry the outcome and timedOut.
    let got = hook.wait_for(4, Duration::from_secs(15));
    for (id, status) in &ids {
        let payload = got
            .iter()
            .map(|g| g.json())
            .find(|p| p["watchId"] == *id.as_str())
            .unwrap_or_else(|| panic!("no webhook for {id}"));
        assert_eq!(payload["status"], *status);
        assert_eq!(payload["resolvedBy"], "system");
        assert_eq!(payload["timedOut"], true);
    }

    // The review page says who decided: the timeout.
    let cookie = sign_in(&server, "admin@example.com", PASSWORD).unwrap();
    let html = page(&server, &format!("/review/{}", ids[2].0), &cookie).text;
    assert!(html.contains("rejected by the timeout"), "{html}");
    let html = page(&server, &format!("/review/{}", ids[3].0), &cookie).text;
    assert!(html.contains("approved by the timeout"), "{html}");
    let html = page(&server, "/history", &cookie).text;
    assert!(html.contains("the timeout"), "{html}");
}

#[test]
fn a_reviewer_decision_is_not_timed_out_and_bad_on_timeout_is_refused() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let id = server.create(
        &agent,
        &json!({ "action": "x", "timeoutSeconds": 600, "onTimeout": "approve" }),
    );
    let d = server.decide(&reviewer, &id, "rejected", "no");
    assert_eq!(d.json["status"], "rejected");
    assert_eq!(d.json["timedOut"], false);
    assert_eq!(d.json["onTimeout"], "approve");

    for (body, what) in [
        (
            json!({ "action": "x", "timeoutSeconds": 5, "onTimeout": "later" }),
            "onTimeout must be",
        ),
        (
            json!({ "action": "x", "onTimeout": "approve" }),
            "needs timeoutSeconds",
        ),
        (
            json!({ "action": "x?", "kind": "question", "timeoutSeconds": 5, "onTimeout": "reject" }),
            "question",
        ),
    ] {
        let r = server.post("/api/pause", &agent, &body);
        assert_eq!(
            (r.status, r.code()),
            (400, "validation_failed"),
            "{}",
            r.text
        );
        assert!(r.text.contains(what), "{}", r.text);
    }
    let count: i64 = hitl
        .db()
        .query_row("SELECT count(*) FROM pauses", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 1, "a refused create stores nothing");
}

#[test]
fn a_reviewer_extends_and_the_pause_outlives_its_old_deadline() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let created = server.post(
        "/api/pause",
        &agent,
        &json!({ "action": "x", "timeoutSeconds": 2, "onTimeout": "reject" }),
    );
    let id = created.json["watchId"].as_str().unwrap().to_string();
    let old = created.json["expiresAt"].as_str().unwrap().to_string();

    let path = format!("/api/pause/{id}/extend");
    let r = server.post(&path, &agent, &json!({ "seconds": 3 }));
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    for bad in [
        json!({ "seconds": 0 }),
        json!({ "seconds": 2_592_001 }),
        json!({}),
    ] {
        let r = server.post(&path, &reviewer, &bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    assert_eq!(server.status(&agent, &id)["expiresAt"], old.as_str());

    let r = server.post(&path, &reviewer, &json!({ "seconds": 3 }));
    assert_eq!(r.status, 200, "{}", r.text);
    let new = r.json["expiresAt"].as_str().unwrap().to_string();
    let ms = |t: &str| {
        let at =
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap();
        (at.unix_timestamp_nanos() / 1_000_000) as i64
    };
    assert_eq!(ms(&new) - ms(&old), 3000);
    let details = audit_details(&hitl, &id, "pause.extended");
    assert_eq!(
        details,
        json!({ "by": "r@example.com", "from": old, "to": new })
    );

    // Past the old deadline: still pending.
    std::thread::sleep(Duration::from_millis(3000));
    let r = server.status(&agent, &id);
    assert_eq!(r["status"], "pending", "{r}");
    // Then the new one passes, and onTimeout applies.
    let r = server.get(&format!("/api/pause/{id}?wait=20"), &agent);
    assert_eq!(r.json["status"], "rejected", "{}", r.text);
    assert_eq!(r.json["resolvedAt"], new.as_str());
    assert_eq!(r.json["timedOut"], true);

    // Decided: 409.
    let r = server.post(&path, &reviewer, &json!({ "seconds": 60 }));
    assert_eq!(
        (r.status, r.code()),
        (409, "already_resolved"),
        "{}",
        r.text
    );
    assert_eq!(r.json["error"]["status"], "rejected");

    // A pause without a timeout gets one from now.
    let id = server.create(&agent, &json!({ "action": "forever" }));
    let r = server.post(
        &format!("/api/pause/{id}/extend"),
        &reviewer,
        &json!({ "seconds": 3600 }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["expiresAt"].is_string());
}

#[test]
fn the_review_page_extends_with_its_csrf_token() {
    let hitl = Hitl::new();
    hitl.add_user("a@example.com", "approver");
    let agent = hitl.agent_key("deploy-bot");
    let server = hitl.serve(&[]);
    let created = server.post(
        "/api/pause",
        &agent,
        &json!({ "action": "x", "timeoutSeconds": 600 }),
    );
    let id = created.json["watchId"].as_str().unwrap().to_string();
    let old = created.json["expiresAt"].as_str().unwrap().to_string();
    let cookie = sign_in(&server, "a@example.com", PASSWORD).unwrap();
    let extend = format!("/review/{id}/extend");
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(html.contains(&format!("action=\"{extend}\"")), "{html}");
    assert!(html.contains("value=\"86400\""), "{html}");
    let csrf = csrf_of(&html);

    let refused = form_post(&server, &extend, Some(&cookie), "seconds=86400", &[]);
    assert_eq!(refused.status, 403, "{}", refused.text);
    let junk = form_post(
        &server,
        &extend,
        Some(&cookie),
        &format!("csrf={csrf}&seconds=soon"),
        &[],
    );
    assert_eq!(junk.status, 400, "{}", junk.text);
    assert_eq!(server.status(&agent, &id)["expiresAt"], old.as_str());

    let r = form_post(
        &server,
        &extend,
        Some(&cookie),
        &format!("csrf={csrf}&seconds=86400"),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    let now = server.status(&agent, &id);
    assert_ne!(now["expiresAt"], old.as_str());
    let events: Vec<_> = hitl.audit_events(&id).into_iter().map(|(e, _)| e).collect();
    assert_eq!(events, ["pause.created", "pause.extended"]);
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(html.contains("timeout extended by a@example.com"), "{html}");
}

#[test]
fn mcp_request_approval_takes_on_timeout() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let server = hitl.serve(&[]);
    let result = crate::mcp::call(
        &server,
        &agent,
        "request_approval",
        json!({ "action": "Rotate", "timeoutSeconds": 1, "onTimeout": "approve", "waitSeconds": 10 }),
    );
    let got = crate::mcp::structured(&result);
    assert_eq!(got["status"], "approved", "{result}");
    assert_eq!(got["resolvedBy"], "system");
    let refused = crate::mcp::call(
        &server,
        &agent,
        "request_approval",
        json!({ "action": "x", "timeoutSeconds": 5, "onTimeout": "sometimes" }),
    );
    assert_eq!(refused["isError"], true, "{refused}");
    let listed = crate::mcp::rpc(&server, &agent, "tools/list", json!({}));
    let tools = listed.json["result"]["tools"].as_array().unwrap().clone();
    let request = tools
        .iter()
        .find(|t| t["name"] == "request_approval")
        .unwrap();
    assert_eq!(
        request["inputSchema"]["properties"]["onTimeout"]["enum"],
        json!(["expire", "reject", "approve"])
    );
}
