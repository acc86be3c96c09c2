//! Limits answer 429 with `Retry-After` and change nothing; paths outside the API do
//! not answer with the API's JSON errors.

use serde_json::{json, Value};

use crate::harness::*;

#[test]
fn monthly_limit_answers_429_with_retry_after() {
    let hitl = Hitl::new();
    let limited = hitl.key_json(&["--name", "free-plan", "--monthly-limit", "3"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let unlimited = hitl.agent_key("pro-plan");
    let server = hitl.serve(&[]);
    for i in 0..3 {
        server.create(&limited, &json!({ "action": format!("pause {i}") }));
    }
    let r = server.post("/api/pause", &limited, &json!({ "action": "one too many" }));
    assert_eq!((r.status, r.code()), (429, "quota_exceeded"), "{}", r.text);
    let retry_after: u64 = r
        .headers
        .get("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(
        retry_after > 0 && retry_after <= 31 * 24 * 3600,
        "{retry_after}"
    );
    // Other keys are not affected, and the refused pause does not exist.
    server.create(&unlimited, &json!({ "action": "fine" }));
    let items = server.get("/api/pause", &limited).json["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(items, 3);
    let list: Value = serde_json::from_str(&hitl.ok(&["key", "list", "--json"])).unwrap();
    let free = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "free-plan")
        .unwrap();
    assert_eq!(free["usedThisMonth"], 3);
    assert_eq!(free["monthlyLimit"], 3);
}

#[test]
fn non_api_paths_do_not_answer_json_errors_as_html_for_the_api() {
    let hitl = Hitl::new();
    let server = hitl.serve(&[]);
    let r = request(
        "POST",
        &format!("{}/api/pause/wch_x/approve", server.url),
        None,
        Some("{}"),
        &[],
    );
    assert_eq!((r.status, r.code()), (401, "unauthorized"));
    let r = request(
        "GET",
        &format!("{}/api/pause/wch_x/approve", server.url),
        None,
        None,
        &[],
    );
    assert_eq!((r.status, r.code()), (405, "method_not_allowed"));
    assert_eq!(r.headers.get("allow").map(String::as_str), Some("POST"));
}

#[test]
fn rate_limit_answers_429_with_retry_after_and_changes_nothing() {
    let hitl = Hitl::new();
    let busy = hitl.agent_key("looping-agent");
    let calm = hitl.agent_key("calm-agent");
    // 6 a minute: a burst of 6, then one every 10 seconds.
    let server = hitl.serve(&["--rate-limit", "6"]);
    let id = server.create(&busy, &json!({ "action": "first" }));
    for _ in 0..5 {
        assert_eq!(server.get(&format!("/api/pause/{id}"), &busy).status, 200);
    }
    let r = server.post("/api/pause", &busy, &json!({ "action": "one too many" }));
    assert_eq!((r.status, r.code()), (429, "rate_limited"), "{}", r.text);
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("6 a minute"));
    let retry_after: u64 = r
        .headers
        .get("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    let r = server.get(&format!("/api/pause/{id}"), &busy);
    assert_eq!((r.status, r.code()), (429, "rate_limited"));
    // Another key is not affected, and the refused pause does not exist.
    let items = server.get("/api/pause", &calm).json["items"].clone();
    assert_eq!(items, json!([]));
    let db = hitl.db();
    let pauses: i64 = db
        .query_row("SELECT count(*) FROM pauses", [], |r| r.get(0))
        .unwrap();
    assert_eq!(pauses, 1);

    let bad = hitl.cmd(&["serve", "--rate-limit", "lots"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--rate-limit"));
}
