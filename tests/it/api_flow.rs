use serde_json::json;

use crate::harness::*;

fn is_rfc3339_millis(v: &serde_json::Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.'
}

/// The seed's flow: create, poll, decide, and the poll sees the decision.
#[test]
fn create_poll_decide_poll() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);

    let created = server.post(
        "/api/pause",
        &agent,
        &json!({
            "action": "Deploy to production (v2.4.1)",
            "context": { "environment": "prod", "commit": "a3f9b2e" },
            "timeoutSeconds": 3600,
            "tags": ["deploy", "prod"]
        }),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let body = &created.json;
    let watch_id = body["watchId"].as_str().expect("watchId");
    assert!(
        watch_id.starts_with("wch_") && watch_id.len() >= 26,
        "{watch_id}"
    );
    assert!(watch_id[4..].chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(body["status"], "pending");
    assert_eq!(
        body["statusUrl"],
        format!("{}/api/pause/{watch_id}", server.url)
    );
    assert_eq!(
        body["reviewUrl"],
        format!("{}/review/{watch_id}", server.url)
    );
    assert_eq!(
        created.headers.get("location").map(String::as_str),
        body["statusUrl"].as_str()
    );
    assert!(
        is_rfc3339_millis(&body["createdAt"]),
        "{}",
        body["createdAt"]
    );
    assert!(is_rfc3339_millis(&body["expiresAt"]));

    // Poll: the agent sees its pause, pending, with its context in the order sent.
    let status = server.status(&agent, watch_id);
    assert_eq!(status["status"], "pending");
    assert_eq!(status["action"], "Deploy to production (v2.4.1)");
    assert_eq!(
        status["context"],
        json!({ "environment": "prod", "commit": "a3f9b2e" })
    );
    assert_eq!(
        serde_json::to_string(&status["context"]).unwrap(),
        r#"{"environment":"prod","commit":"a3f9b2e"}"#
    );
    assert_eq!(status["tags"], json!(["deploy", "prod"]));
    assert_eq!(status["resolvedAt"], serde_json::Value::Null);

    assert_eq!(server.status(&agent, watch_id)["status"], "pending");

    // Decide with a reviewer key.
    let decided = server.decide(&reviewer, watch_id, "approved", "ship it");
    assert_eq!(decided.status, 200, "{}", decided.text);
    assert_eq!(decided.json["status"], "approved");

    // The agent's next poll sees the decision and the comment.
    let status = server.status(&agent, watch_id);
    assert_eq!(status["status"], "approved");
    assert_eq!(status["resolvedBy"], "alice@example.com");
    assert_eq!(status["comment"], "ship it");
    assert!(is_rfc3339_millis(&status["resolvedAt"]));
}

#[test]
fn rejection_reaches_the_agent_with_its_comment() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("mailer");
    let reviewer = hitl.reviewer_key("bob@example.com");
    let server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "Email 1,204 customers" }));
    let r = server.decide(&reviewer, &id, "rejected", "wrong segment");
    assert_eq!(r.status, 200);
    let status = server.status(&agent, &id);
    assert_eq!(status["status"], "rejected");
    assert_eq!(status["comment"], "wrong segment");
    assert_eq!(status["context"], serde_json::Value::Null);
    assert_eq!(status["expiresAt"], serde_json::Value::Null);
}

#[test]
fn cancel_by_its_agent_and_by_an_admin_only() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let other_agent = hitl.agent_key("b");
    let approver = hitl.reviewer_key("approver@example.com");
    hitl.add_user("admin@example.com", "admin");
    let admin = hitl.key_json(&["--name", "admin-key", "--user", "admin@example.com"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let server = hitl.serve(&[]);

    let id = server.create(&agent, &json!({ "action": "x" }));
    // Read twice: from the second read on, the pause is served from memory.
    for _ in 0..2 {
        assert_eq!(server.status(&agent, &id)["status"], "pending");
    }
    let r = server.post(&format!("/api/pause/{id}/cancel"), &other_agent, &json!({}));
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = server.post(&format!("/api/pause/{id}/cancel"), &approver, &json!({}));
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let r = request(
        "POST",
        &format!("{}/api/pause/{id}/cancel", server.url),
        Some(&agent),
        None,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "cancelled");
    assert_eq!(r.json["resolvedBy"], "a");
    assert_eq!(server.status(&agent, &id)["status"], "cancelled");
    let r = server.post(&format!("/api/pause/{id}/cancel"), &agent, &json!({}));
    assert_eq!((r.status, r.code()), (409, "already_resolved"));
    let r = server.decide(&approver, &id, "approved", "");
    assert_eq!((r.status, r.code()), (409, "already_resolved"));
    assert_eq!(r.json["error"]["status"], "cancelled");

    let id2 = server.create(&agent, &json!({ "action": "y" }));
    let r = server.post(
        &format!("/api/pause/{id2}/cancel"),
        &admin,
        &json!({ "reason": "duplicate" }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["resolvedBy"], "admin@example.com");
    assert_eq!(r.json["comment"], "duplicate");
}

#[test]
fn agent_keys_see_only_their_own_pauses() {
    let hitl = Hitl::new();
    let a = hitl.agent_key("a");
    let b = hitl.agent_key("b");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let id = server.create(&a, &json!({ "action": "a's action" }));

    let r = server.get(&format!("/api/pause/{id}"), &b);
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = server.get(&format!("/api/pause/{id}?wait=1"), &b);
    assert_eq!((r.status, r.code()), (404, "not_found"));
    assert_eq!(server.get("/api/pause", &b).json["items"], json!([]));
    assert_eq!(
        server.get("/api/pause", &a).json["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(server.status(&reviewer, &id)["action"], "a's action");
    assert_eq!(
        server.get("/api/pause", &reviewer).json["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn healthz_answers_ok() {
    let hitl = Hitl::new();
    let server = hitl.serve(&[]);
    let r = request("GET", &format!("{}/healthz", server.url), None, None, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text.trim(), "ok");
}

#[test]
fn public_url_builds_the_links() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let server = hitl.serve(&["--public-url", "https://hitl.example.com/"]);
    let r = server.post("/api/pause", &agent, &json!({ "action": "x" }));
    let id = r.json["watchId"].as_str().unwrap();
    assert_eq!(
        r.json["statusUrl"],
        format!("https://hitl.example.com/api/pause/{id}")
    );
    assert_eq!(
        r.json["reviewUrl"],
        format!("https://hitl.example.com/review/{id}")
    );
}
