use std::thread;

use serde_json::json;

use crate::harness::*;

fn create(server: &Server, key: &str, idem: &str, body: &str) -> Resp {
    request(
        "POST",
        &format!("{}/api/pause", server.url),
        Some(key),
        Some(body),
        &[("Idempotency-Key", idem)],
    )
}

#[test]
fn same_key_same_body_returns_the_same_pause() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let other = hitl.agent_key("b");
    let server = hitl.serve(&[]);
    let body = r#"{"action":"Deploy","context":{"v":1},"tags":["x"]}"#;

    let first = create(&server, &agent, "deploy-42", body);
    assert_eq!(first.status, 201);
    let again = create(&server, &agent, "deploy-42", body);
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json["watchId"], first.json["watchId"]);
    // The same body with other whitespace is the same request.
    let spaced = create(
        &server,
        &agent,
        "deploy-42",
        "{ \"action\": \"Deploy\", \"context\": {\"v\": 1}, \"tags\": [\"x\"] }",
    );
    assert_eq!(spaced.status, 200);
    assert_eq!(spaced.json["watchId"], first.json["watchId"]);

    // A different body under the same key is a conflict and creates nothing.
    let other_body = create(
        &server,
        &agent,
        "deploy-42",
        r#"{"action":"Deploy","context":{"v":2},"tags":["x"]}"#,
    );
    assert_eq!(
        (other_body.status, other_body.code()),
        (409, "idempotency_conflict")
    );

    // Keys are scoped per API key: another agent gets its own pause.
    let b = create(&server, &other, "deploy-42", body);
    assert_eq!(b.status, 201);
    assert_ne!(b.json["watchId"], first.json["watchId"]);

    assert_eq!(
        server.get("/api/pause", &agent).json["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A replay after the decision returns the pause as it is now.
    let reviewer = hitl.reviewer_key("r@example.com");
    server.decide(
        &reviewer,
        first.json["watchId"].as_str().unwrap(),
        "approved",
        "",
    );
    let replay = create(&server, &agent, "deploy-42", body);
    assert_eq!(replay.status, 200);
    assert_eq!(replay.json["status"], "approved");
}

#[test]
fn concurrent_requests_with_one_key_create_one_pause() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let server = hitl.serve(&[]);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (url, key) = (server.url.clone(), agent.clone());
            thread::spawn(move || {
                request(
                    "POST",
                    &format!("{url}/api/pause"),
                    Some(&key),
                    Some(r#"{"action":"once"}"#),
                    &[("Idempotency-Key", "same")],
                )
            })
        })
        .collect();
    let results: Vec<Resp> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.status == 201).count(), 1);
    assert_eq!(results.iter().filter(|r| r.status == 200).count(), 7);
    let ids: std::collections::HashSet<_> = results
        .iter()
        .map(|r| r.json["watchId"].to_string())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        server.get("/api/pause", &agent).json["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let _ = json!(null);
}
