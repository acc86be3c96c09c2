//! Every bad input gets a clear JSON error with the right status and code, and
//! changes nothing.

use serde_json::json;

use crate::harness::*;

/// One table row: a request and the answer it must get.
struct Scenario {
    name: &'static str,
    method: &'static str,
    path: String,
    key: Option<String>,
    body: Option<String>,
    headers: Vec<(&'static str, String)>,
    status: u16,
    code: &'static str,
    message_contains: &'static str,
}

/// A table row; the arguments read left to right as in the table.
#[allow(clippy::too_many_arguments)]
fn s(
    name: &'static str,
    method: &'static str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
    status: u16,
    code: &'static str,
    message_contains: &'static str,
) -> Scenario {
    Scenario {
        name,
        method,
        path: path.to_string(),
        key: key.map(str::to_string),
        body: body.map(str::to_string),
        headers: Vec::new(),
        status,
        code,
        message_contains,
    }
}

fn count_rows(hitl: &Hitl, table: &str) -> i64 {
    hitl.db()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn bad_requests_get_json_errors_and_change_nothing() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("agent");
    let other = hitl.agent_key("other");
    let reviewer = hitl.reviewer_key("rev@example.com");
    let revoked = hitl.key_json(&["--name", "gone"]);
    hitl.ok(&["key", "revoke", revoked["id"].as_str().unwrap()]);
    let revoked = revoked["key"].as_str().unwrap().to_string();
    let server = hitl.serve(&["--max-context-bytes", "2048"]);
    let pending = server.create(&agent, &json!({ "action": "pending one" }));
    let decided = server.create(&agent, &json!({ "action": "decided one" }));
    assert_eq!(
        server.decide(&reviewer, &decided, "approved", "").status,
        200
    );

    let a = Some(agent.as_str());
    let r = Some(reviewer.as_str());
    let big_context = format!(
        r#"{{"action":"x","context":{{"blob":"{}"}}}}"#,
        "a".repeat(3000)
    );
    let huge_body = format!(r#"{{"action":"{}"}}"#, "a".repeat(200_000));
    let long_action = format!(r#"{{"action":"{}"}}"#, "a".repeat(2001));
    let too_many_tags =
        json!({ "action": "x", "tags": (0..21).map(|i| format!("t{i}")).collect::<Vec<_>>() })
            .to_string();
    let long_tag = json!({ "action": "x", "tags": ["a".repeat(65)] }).to_string();
    let long_comment = json!({ "decision": "approved", "comment": "c".repeat(4001) }).to_string();
    let approve_pending = format!("/api/pause/{pending}/approve");

    let mut table = vec![
        s(
            "no key",
            "POST",
            "/api/pause",
            None,
            Some(r#"{"action":"x"}"#),
            401,
            "unauthorized",
            "API key",
        ),
        s(
            "unknown key",
            "POST",
            "/api/pause",
            Some("hitl_0000000000000000000000000000000000000000"),
            Some(r#"{"action":"x"}"#),
            401,
            "unauthorized",
            "",
        ),
        s(
            "malformed key",
            "GET",
            "/api/pause",
            Some("not-a-key"),
            None,
            401,
            "unauthorized",
            "",
        ),
        s(
            "revoked key",
            "GET",
            "/api/pause",
            Some(&revoked),
            None,
            401,
            "unauthorized",
            "",
        ),
        s(
            "broken JSON",
            "POST",
            "/api/pause",
            a,
            Some(r#"{"action": "x""#),
            400,
            "invalid_json",
            "not valid JSON",
        ),
        s(
            "empty body",
            "POST",
            "/api/pause",
            a,
            Some(""),
            400,
            "invalid_json",
            "empty",
        ),
        s(
            "not an object",
            "POST",
            "/api/pause",
            a,
            Some("[1,2]"),
            400,
            "validation_failed",
            "",
        ),
        s(
            "missing action",
            "POST",
            "/api/pause",
            a,
            Some(r#"{"context":{}}"#),
            400,
            "validation_failed",
            "action",
        ),
        s(
            "empty action",
            "POST",
            "/api/pause",
            a,
            Some(r#"{"action":"   "}"#),
            400,
            "validation_failed",
            "action must not be empty",
        ),
        s(
            "action of invisible characters only",
            "POST",
            "/api/pause",
            a,
            Some("{\"action\":\"\\u200b\\u202e \\ufeff\"}"),
            400,
            "validation_failed",
            "visible text",
        ),
        s(
            "action too long",
            "POST",
            "/api/pause",
            a,
            Some(&long_action),
            400,
            "validation_failed",
            "2000",
        ),
        s(
            "unknown field",
            "POST",
            "/api/pause",
            a,
            Some(r#"{"action":"x","timeout":5}"#),
            400,
            "validation_failed",
            "unknown field",
        ),
        s(
            "timeout zero",
            "POST",
            "/api/pause",
            a,
            Some(r#"{"action":"x","timeoutSeconds":0}"#),
            400,
            "validation_failed",
            "timeoutSeconds",
        ),
        s(
            "timeout too long",
            "POST",
            "/api/pause",
            a,
            Some(r#"{"action":"x","timeoutSeconds":2592001}"#),
            400,
            "validation_failed",
            "timeoutSeconds",
        ),
        s(
            "timeout not a number",
            "POST",
            "/api/pause",
            a,
            Some(r#"{"action":"x","timeoutSeconds":"5"}"#),
            400,
            "validation_failed",
            "",
        ),
        s(
            "too many tags",
            "POST",
            "/api/pause",
            a,
            Some(&too_many_tags),
            400,
            "validation_failed",
            "20 tags",
        ),
        s(
            "empty tag",
            "POST",
            "/api/pause",
            a,
            Some(r#"{"action":"x","tags":[""]}"#),
            400,
            "validation_failed",
            "tags",
        ),
        s(
            "long tag",
            "POST",
            "/api/pause",
            a,
            Some(&long_tag),
            400,
            "validation_failed",
            "tag",
        ),
        s(
            "bad webhook URL",
            "POST",
            "/api/pause",
            a,
            Some(r#"{"action":"x","webhookUrl":"ftp://x"}"#),
            400,
            "validation_failed",
            "webhookUrl",
        ),
        s(
            "context over the limit",
            "POST",
            "/api/pause",
            a,
            Some(&big_context),
            413,
            "payload_too_large",
            "2048",
        ),
        s(
            "body over the limit",
            "POST",
            "/api/pause",
            a,
            Some(&huge_body),
            413,
            "payload_too_large",
            "larger than",
        ),
        s(
            "reviewer key creates",
            "POST",
            "/api/pause",
            r,
            Some(r#"{"action":"x"}"#),
            403,
            "forbidden",
            "agent keys",
        ),
        s(
            "agent decides",
            "POST",
            &approve_pending,
            a,
            Some(r#"{"decision":"approved"}"#),
            403,
            "forbidden",
            "cannot decide",
        ),
        s(
            "bad decision",
            "POST",
            &approve_pending,
            r,
            Some(r#"{"decision":"yes"}"#),
            400,
            "validation_failed",
            "approved",
        ),
        s(
            "missing decision",
            "POST",
            &approve_pending,
            r,
            Some(r#"{"comment":"hm"}"#),
            400,
            "validation_failed",
            "decision",
        ),
        s(
            "comment too long",
            "POST",
            &approve_pending,
            r,
            Some(&long_comment),
            400,
            "validation_failed",
            "comment",
        ),
        s(
            "decide unknown pause",
            "POST",
            "/api/pause/wch_doesnotexist0000000000/approve",
            r,
            Some(r#"{"decision":"approved"}"#),
            404,
            "not_found",
            "wch_doesnotexist",
        ),
        s(
            "decide decided pause",
            "POST",
            &format!("/api/pause/{decided}/approve"),
            r,
            Some(r#"{"decision":"rejected"}"#),
            409,
            "already_resolved",
            "approved",
        ),
        s(
            "cancel decided pause",
            "POST",
            &format!("/api/pause/{decided}/cancel"),
            a,
            None,
            409,
            "already_resolved",
            "",
        ),
        s(
            "cancel with bad body",
            "POST",
            &format!("/api/pause/{pending}/cancel"),
            a,
            Some(r#"{"why":"x"}"#),
            400,
            "validation_failed",
            "unknown field",
        ),
        s(
            "other agent's pause",
            "GET",
            &format!("/api/pause/{pending}"),
            Some(&other),
            None,
            404,
            "not_found",
            "",
        ),
        s(
            "unknown pause",
            "GET",
            "/api/pause/wch_nope",
            a,
            None,
            404,
            "not_found",
            "",
        ),
        s(
            "wait empty",
            "GET",
            &format!("/api/pause/{pending}?wait="),
            a,
            None,
            400,
            "validation_failed",
            "wait",
        ),
        s(
            "wait not a number",
            "GET",
            &format!("/api/pause/{pending}?wait=soon"),
            a,
            None,
            400,
            "validation_failed",
            "wait",
        ),
        s(
            "list limit zero",
            "GET",
            "/api/pause?limit=0",
            a,
            None,
            400,
            "validation_failed",
            "limit",
        ),
        s(
            "list limit too big",
            "GET",
            "/api/pause?limit=201",
            a,
            None,
            400,
            "validation_failed",
            "limit",
        ),
        s(
            "list bad status",
            "GET",
            "/api/pause?status=done",
            a,
            None,
            400,
            "validation_failed",
            "status",
        ),
        s(
            "list bad cursor",
            "GET",
            "/api/pause?cursor=%%%",
            a,
            None,
            400,
            "validation_failed",
            "",
        ),
        s(
            "list forged cursor",
            "GET",
            "/api/pause?cursor=bm90LWEtY3Vyc29y",
            a,
            None,
            400,
            "validation_failed",
            "cursor",
        ),
        s(
            "unknown endpoint",
            "GET",
            "/api/nothing-here",
            a,
            None,
            404,
            "not_found",
            "no such endpoint",
        ),
        s(
            "wrong method",
            "DELETE",
            "/api/pause",
            a,
            None,
            405,
            "method_not_allowed",
            "DELETE",
        ),
    ];
    let mut bad_idem = s(
        "bad Idempotency-Key",
        "POST",
        "/api/pause",
        a,
        Some(r#"{"action":"x"}"#),
        400,
        "validation_failed",
        "Idempotency-Key",
    );
    bad_idem.headers.push(("Idempotency-Key", "x".repeat(300)));
    table.push(bad_idem);

    let pauses_before = count_rows(&hitl, "pauses");
    let audit_before = count_rows(&hitl, "audit");
    let usage_before: i64 = hitl
        .db()
        .query_row("SELECT coalesce(sum(count), 0) FROM key_usage", [], |r| {
            r.get(0)
        })
        .unwrap();

    for sc in &table {
        let headers: Vec<(&str, &str)> = sc.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let resp = request(
            sc.method,
            &format!("{}{}", server.url, sc.path),
            sc.key.as_deref(),
            sc.body.as_deref(),
            &headers,
        );
        assert_eq!(resp.status, sc.status, "{}: {}", sc.name, resp.text);
        assert!(
            resp.headers
                .get("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{}: not JSON: {:?}",
            sc.name,
            resp.headers
        );
        assert_eq!(resp.code(), sc.code, "{}: {}", sc.name, resp.text);
        let message = resp.json["error"]["message"].as_str().unwrap_or("");
        assert!(!message.is_empty(), "{}: no message", sc.name);
        assert!(
            message.contains(sc.message_contains),
            "{}: message {message:?}",
            sc.name
        );
        if sc.status == 401 {
            assert!(resp.headers.contains_key("www-authenticate"), "{}", sc.name);
        }
    }

    assert_eq!(
        count_rows(&hitl, "pauses"),
        pauses_before,
        "a bad request created a pause"
    );
    assert_eq!(
        count_rows(&hitl, "audit"),
        audit_before,
        "a bad request wrote to the audit log"
    );
    let usage_after: i64 = hitl
        .db()
        .query_row("SELECT coalesce(sum(count), 0) FROM key_usage", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        usage_after, usage_before,
        "a bad request counted against a quota"
    );
    assert_eq!(server.status(&agent, &pending)["status"], "pending");
    assert_eq!(server.status(&agent, &decided)["status"], "approved");
}
