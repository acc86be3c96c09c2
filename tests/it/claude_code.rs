//! Claude Code hooks: `POST /hooks/claude-code` (type `http`) and `hitl hook
//! claude-code` (type `command`). The hook's own JSON is the contract; every refusal
//! is a deny, never an error status.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

fn hook_input(event: &str, tool: &str, tool_input: Value) -> Value {
    let mut input = json!({
        "session_id": "abc123",
        "transcript_path": "/home/u/.claude/projects/p/abc123.jsonl",
        "cwd": "/home/u/project",
        "permission_mode": "default",
        "hook_event_name": event,
        "tool_name": tool,
        "tool_input": tool_input,
        "agent_id": "sub-1",
        "agent_type": "Explore",
        "a_field_from_a_later_version": {"x": 1}
    });
    if event == "PermissionRequest" {
        input["permission_suggestions"] = json!([{"type": "addRules"}]);
    }
    input
}

fn post_hook(server: &Server, query: &str, key: Option<&str>, body: &str) -> Resp {
    request(
        "POST",
        &format!("{}/hooks/claude-code{query}", server.url),
        key,
        Some(body),
        &[],
    )
}

/// Posts the hook on a thread, decides the pause it creates as `reviewer`, and returns
/// the hook's answer and the pause.
fn decided(
    server: &Server,
    agent: &str,
    reviewer: &str,
    input: &Value,
    decision: &str,
    comment: &str,
) -> (Resp, Value) {
    let (url, agent, body) = (server.url.clone(), agent.to_string(), input.to_string());
    let waiting = thread::spawn(move || {
        request(
            "POST",
            &format!("{url}/hooks/claude-code"),
            Some(&agent),
            Some(&body),
            &[],
        )
    });
    let pause = pending_hook_pause(server, reviewer);
    let id = pause["watchId"].as_str().unwrap();
    assert_eq!(server.decide(reviewer, id, decision, comment).status, 200);
    let answer = waiting.join().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text);
    (answer, pause)
}

fn pending_hook_pause(server: &Server, reviewer: &str) -> Value {
    eventually(Duration::from_secs(20), "the hook's pause", || {
        let items = server
            .get("/api/pause?status=pending&tag=claude-code", reviewer)
            .json["items"]
            .clone();
        items.as_array().and_then(|a| a.first().cloned())
    })
}

fn all_pauses(server: &Server, reviewer: &str) -> Vec<Value> {
    let r = server.get("/api/pause", reviewer);
    assert_eq!(r.status, 200);
    r.json["items"].as_array().unwrap().clone()
}

fn setup() -> (Hitl, Server, String, String) {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("claude");
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);
    (hitl, server, agent, reviewer)
}

#[test]
fn pre_tool_use_approved_allows_with_who_and_comment() {
    let (_hitl, server, agent, reviewer) = setup();
    let input = hook_input(
        "PreToolUse",
        "Bash",
        json!({"command": "rm -rf build", "description": "clean"}),
    );
    let (answer, pause) = decided(&server, &agent, &reviewer, &input, "approved", "fine");
    assert_eq!(
        answer.json,
        json!({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "permissionDecisionReason": "hitl: approved by alice@example.com: fine"
        }})
    );
    // The pause as a reviewer sees it: the action and the context of the contract.
    assert_eq!(pause["action"], "Bash: rm -rf build");
    assert_eq!(pause["tags"], json!(["claude-code"]));
    assert_eq!(
        pause["context"],
        json!({
            "tool_input": {"command": "rm -rf build", "description": "clean"},
            "cwd": "/home/u/project",
            "session_id": "abc123",
            "hook_event_name": "PreToolUse",
            "permission_mode": "default"
        })
    );
    assert!(
        pause["expiresAt"].is_string(),
        "the pause expires with the wait"
    );
}

#[test]
fn pre_tool_use_rejected_denies_with_the_comment() {
    let (_hitl, server, agent, reviewer) = setup();
    let input = hook_input(
        "PreToolUse",
        "Write",
        json!({"file_path": "/etc/hosts", "content": "x"}),
    );
    let (answer, pause) = decided(
        &server,
        &agent,
        &reviewer,
        &input,
        "rejected",
        "not that file",
    );
    assert_eq!(pause["action"], "Write: /etc/hosts");
    let out = &answer.json["hookSpecificOutput"];
    assert_eq!(out["hookEventName"], "PreToolUse");
    assert_eq!(out["permissionDecision"], "deny");
    assert_eq!(
        out["permissionDecisionReason"],
        "hitl: rejected by alice@example.com: not that file"
    );
}

#[test]
fn permission_request_approved_echoes_the_input_as_updated_input() {
    let (_hitl, server, agent, reviewer) = setup();
    let tool_input: Value = serde_json::from_str(
        r#"{"plan": "1. do it\n2. check", "n": 1.50, "nested": {"b": [1, 2], "a": null}}"#,
    )
    .unwrap();
    let input = hook_input("PermissionRequest", "ExitPlanMode", tool_input.clone());
    let (answer, pause) = decided(&server, &agent, &reviewer, &input, "approved", "");
    assert_eq!(
        answer.json,
        json!({"hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {"behavior": "allow", "updatedInput": tool_input}
        }})
    );
    // Digits and key order as sent.
    assert!(
        answer
            .text
            .contains(r#""n":1.50,"nested":{"b":[1,2],"a":null}"#),
        "{}",
        answer.text
    );
    assert_eq!(pause["context"]["hook_event_name"], "PermissionRequest");
    assert!(pause["action"]
        .as_str()
        .unwrap()
        .starts_with("ExitPlanMode: {\"plan\":"));
}

#[test]
fn permission_request_rejected_denies_with_a_message() {
    let (_hitl, server, agent, reviewer) = setup();
    let input = hook_input(
        "PermissionRequest",
        "WebFetch",
        json!({"url": "https://example.com/x", "prompt": "p"}),
    );
    let (answer, pause) = decided(&server, &agent, &reviewer, &input, "rejected", "no network");
    assert_eq!(pause["action"], "WebFetch: https://example.com/x");
    assert_eq!(
        answer.json,
        json!({"hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {
                "behavior": "deny",
                "message": "hitl: rejected by alice@example.com: no network",
                "interrupt": false
            }
        }})
    );
}

#[test]
fn a_bad_key_is_a_deny_and_creates_no_pause() {
    let (hitl, server, _agent, reviewer) = setup();
    let body = hook_input("PreToolUse", "Bash", json!({"command": "ls"})).to_string();
    let revoked = hitl.key_json(&["--name", "old"]);
    hitl.ok(&["key", "revoke", revoked["id"].as_str().unwrap()]);
    let bad_keys = [
        None,
        Some("hitl_NotARealKeyNotARealKeyNotARealKey00"),
        Some(revoked["key"].as_str().unwrap()),
        // A reviewer key cannot create pauses.
        Some(reviewer.as_str()),
    ];
    for key in bad_keys {
        let r = post_hook(&server, "", key, &body);
        assert_eq!(r.status, 200, "{key:?}: {}", r.text);
        let out = &r.json["hookSpecificOutput"];
        assert_eq!(out["permissionDecision"], "deny", "{key:?}");
        assert!(
            out["permissionDecisionReason"]
                .as_str()
                .unwrap()
                .starts_with("hitl: "),
            "{}",
            r.text
        );
    }
    // PermissionRequest gets its own form of deny.
    let body = hook_input("PermissionRequest", "Bash", json!({"command": "ls"})).to_string();
    let r = post_hook(&server, "", None, &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.json["hookSpecificOutput"]["decision"]["behavior"], "deny");
    assert!(all_pauses(&server, &reviewer).is_empty());
}

#[test]
fn a_body_that_is_not_a_hook_input_is_a_deny() {
    let (_hitl, server, agent, reviewer) = setup();
    let bodies = [
        "not json".to_string(),
        "".to_string(),
        "[1,2]".to_string(),
        json!({"hook_event_name": "PreToolUse", "tool_name": "Bash"}).to_string(),
        hook_input("PostToolUse", "Bash", json!({"command": "ls"})).to_string(),
    ];
    for body in &bodies {
        let r = post_hook(&server, "", Some(&agent), body);
        assert_eq!(r.status, 200, "{body}: {}", r.text);
        assert_eq!(r.json["hookSpecificOutput"]["hookEventName"], "PreToolUse");
        assert_eq!(
            r.json["hookSpecificOutput"]["permissionDecision"], "deny",
            "{body}"
        );
    }
    let mut missing = hook_input("PermissionRequest", "Bash", json!({}));
    missing.as_object_mut().unwrap().remove("tool_input");
    let r = post_hook(&server, "", Some(&agent), &missing.to_string());
    assert_eq!(r.status, 200);
    assert_eq!(r.json["hookSpecificOutput"]["decision"]["behavior"], "deny");
    let body = hook_input("PreToolUse", "Bash", json!({"command": "ls"})).to_string();
    let r = post_hook(&server, "?wait=591", Some(&agent), &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.json["hookSpecificOutput"]["permissionDecision"], "deny");
    assert!(all_pauses(&server, &reviewer).is_empty());
}

#[test]
fn a_tool_input_too_large_to_review_is_a_deny() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("claude");
    let server = hitl.serve(&["--max-context-bytes", "1024"]);
    // Over the context limit, within the body limit: the handler's deny.
    let body = hook_input(
        "PreToolUse",
        "Write",
        json!({"file_path": "/a", "content": "x".repeat(5_000)}),
    );
    let r = post_hook(&server, "", Some(&agent), &body.to_string());
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["hookSpecificOutput"]["permissionDecision"], "deny");
    // Over the body limit: refused before it is read, still a deny.
    let body = hook_input(
        "PreToolUse",
        "Write",
        json!({"file_path": "/a", "content": "x".repeat(100_000)}),
    );
    let r = post_hook(&server, "", Some(&agent), &body.to_string());
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["hookSpecificOutput"]["permissionDecision"], "deny");
}

#[test]
fn no_decision_in_time_is_a_deny_and_the_pause_expires() {
    let (_hitl, server, agent, reviewer) = setup();
    let body = hook_input("PreToolUse", "Bash", json!({"command": "make deploy"})).to_string();
    let r = post_hook(&server, "?wait=1", Some(&agent), &body);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json["hookSpecificOutput"],
        json!({
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": "hitl: no decision within 1 s; the request expired"
        })
    );
    let items = all_pauses(&server, &reviewer);
    assert_eq!(items.len(), 1);
    let id = items[0]["watchId"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(10), "the pause to expire", || {
        (server.status(&reviewer, &id)["status"] == "expired").then_some(())
    });
}

fn hook_command(url: &str, key: &str, input: &Value) -> std::process::Child {
    let mut child = Command::new(BIN)
        .args(["hook", "claude-code", "--wait", "60"])
        .env("HITL_URL", url)
        .env("HITL_API_KEY", key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hitl hook");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.to_string().as_bytes()).unwrap();
    drop(stdin);
    child
}

#[test]
fn the_command_form_asks_the_server() {
    let (_hitl, server, agent, reviewer) = setup();
    let tool_input = json!({"command": "terraform apply"});
    let input = hook_input("PermissionRequest", "Bash", tool_input.clone());
    let child = hook_command(&server.url, &agent, &input);
    let pause = pending_hook_pause(&server, &reviewer);
    assert_eq!(pause["action"], "Bash: terraform apply");
    let id = pause["watchId"].as_str().unwrap();
    assert_eq!(server.decide(&reviewer, id, "approved", "go").status, 200);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        answer,
        json!({"hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {"behavior": "allow", "updatedInput": tool_input}
        }})
    );
}

#[test]
fn the_command_form_blocks_when_the_server_cannot_answer() {
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for event in ["PreToolUse", "PermissionRequest"] {
        let input = hook_input(event, "Bash", json!({"command": "ls"}));
        let out = hook_command(&format!("http://127.0.0.1:{port}"), "hitl_x", &input)
            .wait_with_output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        let out_json = &answer["hookSpecificOutput"];
        assert_eq!(out_json["hookEventName"], event);
        let reason = if event == "PreToolUse" {
            assert_eq!(out_json["permissionDecision"], "deny");
            out_json["permissionDecisionReason"].as_str().unwrap()
        } else {
            assert_eq!(out_json["decision"]["behavior"], "deny");
            out_json["decision"]["message"].as_str().unwrap()
        };
        assert!(reason.contains("could not reach"), "{reason}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("could not reach"));
    }
}

#[test]
fn the_command_form_blocks_on_an_answer_that_is_not_a_hook_answer() {
    // Something else answers 200 on that address.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        use std::io::Read as _;
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 65536];
        let _ = conn.read(&mut buf);
        let _ =
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    });
    let input = hook_input("PreToolUse", "Bash", json!({"command": "ls"}));
    let out = hook_command(&url, "hitl_x", &input)
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["hookSpecificOutput"]["permissionDecision"], "deny");
}

/// Sends the hook's request on a raw connection and returns it unread, once the pause
/// it creates is pending: the pause.
fn hook_on_raw_connection(
    server: &Server,
    agent: &str,
    reviewer: &str,
    input: &Value,
) -> (std::net::TcpStream, Value) {
    let body = input.to_string();
    let stream = crate::slow_bodies::start_request(
        server,
        "/hooks/claude-code?wait=60",
        &format!(
            "Authorization: Bearer {agent}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ),
        &body,
    );
    let pause = pending_hook_pause(server, reviewer);
    (stream, pause)
}

#[test]
fn claude_code_going_away_cancels_the_pause() {
    let (_hitl, server, agent, reviewer) = setup();
    let input = hook_input("PreToolUse", "Bash", json!({"command": "make deploy"}));
    let (stream, pause) = hook_on_raw_connection(&server, &agent, &reviewer, &input);
    let id = pause["watchId"].as_str().unwrap().to_string();
    // Esc in Claude Code: the connection closes before any answer.
    drop(stream);
    let cancelled = eventually(Duration::from_secs(5), "the pause to be cancelled", || {
        let p = server.status(&reviewer, &id);
        (p["status"] != "pending").then_some(p)
    });
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["resolvedBy"], "claude");
    assert_eq!(
        cancelled["comment"],
        "the agent disconnected before a decision (the Claude Code hook stopped waiting)"
    );
    // Nobody can approve it any more.
    let r = server.decide(&reviewer, &id, "approved", "too late");
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(server.status(&reviewer, &id)["status"], "cancelled");
}

#[test]
fn an_answered_hook_keeps_its_decision_when_claude_code_closes_the_connection() {
    let (_hitl, server, agent, reviewer) = setup();
    let input = hook_input("PreToolUse", "Bash", json!({"command": "make test"}));
    let body = input.to_string();
    let mut stream = crate::slow_bodies::start_request(
        &server,
        "/hooks/claude-code?wait=60",
        &format!(
            "Authorization: Bearer {agent}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        ),
        &body,
    );
    let pause = pending_hook_pause(&server, &reviewer);
    let id = pause["watchId"].as_str().unwrap().to_string();
    assert_eq!(server.decide(&reviewer, &id, "approved", "ok").status, 200);
    let (answer, closed) = crate::slow_bodies::read_until_closed(&mut stream);
    assert!(closed && answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains(r#""permissionDecision":"allow""#),
        "{answer}"
    );
    drop(stream);
    thread::sleep(Duration::from_millis(500));
    let after = server.status(&reviewer, &id);
    assert_eq!(after["status"], "approved", "{after}");
    assert_eq!(after["comment"], "ok");
    assert_eq!(after["resolvedBy"], "alice@example.com");
}
