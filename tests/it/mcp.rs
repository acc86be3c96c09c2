//! `POST /mcp`: the MCP server, spoken to as JSON-RPC on the wire, and by the official
//! Python client.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;

pub fn rpc(server: &Server, key: &str, method: &str, params: Value) -> Resp {
    let body = json!({ "jsonrpc": "2.0", "id": 7, "method": method, "params": params });
    mcp_post(&server.url, Some(key), &body.to_string(), &[])
}

pub fn mcp_post(url: &str, key: Option<&str>, body: &str, headers: &[(&str, &str)]) -> Resp {
    let mut all = vec![("Accept", "application/json, text/event-stream")];
    all.extend_from_slice(headers);
    request("POST", &format!("{url}/mcp"), key, Some(body), &all)
}

/// A tools/call answered with a result: the result.
pub fn call(server: &Server, key: &str, tool: &str, arguments: Value) -> Value {
    let r = rpc(
        server,
        key,
        "tools/call",
        json!({ "name": tool, "arguments": arguments }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], 7);
    r.json["result"].clone()
}

/// The structured content of a successful call, checked against its text block.
pub fn structured(result: &Value) -> Value {
    assert_eq!(result["isError"], false, "{result}");
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, result["structuredContent"]);
    result["structuredContent"].clone()
}

/// The one text block of a permission_prompt answer, as JSON.
fn prompt_answer(result: &Value) -> Value {
    assert_eq!(result["content"].as_array().unwrap().len(), 1, "{result}");
    assert_eq!(result["content"][0]["type"], "text");
    serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap()
}

#[test]
fn initialize_negotiates_the_version_and_lists_four_tools() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let server = hitl.serve(&[]);
    for (asked, answered) in [
        ("2025-11-25", "2025-11-25"),
        ("2025-06-18", "2025-06-18"),
        ("2025-03-26", "2025-03-26"),
        ("1999-01-01", "2025-11-25"),
        // 2026-07-28 has no handshake: asked for in initialize, the newest handshake one.
        ("2026-07-28", "2025-11-25"),
    ] {
        let r = rpc(
            &server,
            &agent,
            "initialize",
            json!({ "protocolVersion": asked, "capabilities": {},
                    "clientInfo": { "name": "test", "version": "1" } }),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.headers["content-type"].starts_with("application/json"));
        assert_eq!(r.json["jsonrpc"], "2.0");
        assert_eq!(r.json["result"]["protocolVersion"], answered);
        assert_eq!(
            r.json["result"]["capabilities"],
            json!({ "tools": { "listChanged": false } })
        );
        assert_eq!(r.json["result"]["serverInfo"]["name"], "hitl");
    }
    // A notification: 202 and no body.
    let r = mcp_post(
        &server.url,
        Some(&agent),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        &[
            ("Mcp-Session-Id", "anything"),
            ("MCP-Protocol-Version", "2025-06-18"),
        ],
    );
    assert_eq!((r.status, r.text.as_str()), (202, ""));
    assert_eq!(
        rpc(&server, &agent, "ping", json!({})).json["result"],
        json!({})
    );

    let r = rpc(&server, &agent, "tools/list", json!({}));
    let tools = r.json["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "request_approval",
            "get_approval",
            "ask_human",
            "permission_prompt"
        ]
    );
    for tool in tools {
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert!(tool["description"].as_str().unwrap().len() > 20);
    }
    assert_eq!(tools[0]["inputSchema"]["required"], json!(["action"]));
    assert_eq!(tools[1]["outputSchema"]["type"], "object");
    assert_eq!(tools[2]["inputSchema"]["required"], json!(["question"]));
    assert_eq!(
        tools[2]["outputSchema"]["required"],
        json!([
            "watchId",
            "status",
            "answer",
            "resolvedBy",
            "reviewUrl",
            "receipt"
        ])
    );

    let r = request(
        "GET",
        &format!("{}/mcp", server.url),
        Some(&agent),
        None,
        &[],
    );
    assert_eq!(r.status, 405);
}

#[test]
fn request_then_wait_while_a_reviewer_approves() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let created = structured(&call(
        &server,
        &agent,
        "request_approval",
        json!({ "action": "deploy v2", "context": { "n": 1.50, "diff": "+x" },
                "tags": ["deploy"], "waitSeconds": 0 }),
    ));
    assert_eq!(created["status"], "pending");
    let id = created["watchId"].as_str().unwrap().to_string();
    assert!(created["reviewUrl"].as_str().unwrap().contains(&id));
    let status = server.status(&agent, &id);
    assert_eq!(status["action"], "deploy v2");
    assert_eq!(status["tags"], json!(["deploy"]));

    let (url, r_key, r_id) = (server.url.clone(), reviewer.clone(), id.clone());
    let decider = thread::spawn(move || {
        thread::sleep(Duration::from_millis(500));
        request(
            "POST",
            &format!("{url}/api/pause/{r_id}/approve"),
            Some(&r_key),
            Some(&json!({ "decision": "approved", "comment": "ship it" }).to_string()),
            &[],
        )
    });
    let start = Instant::now();
    let got = structured(&call(
        &server,
        &agent,
        "get_approval",
        json!({ "watchId": id, "waitSeconds": 30 }),
    ));
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(decider.join().unwrap().status, 200);
    assert_eq!(got["status"], "approved");
    assert_eq!(got["comment"], "ship it");
    assert_eq!(got["answer"], Value::Null);
    assert_eq!(got["resolvedBy"], "r@example.com");
}

#[test]
fn a_rejection_returns_its_comment_and_waiting_stops_at_the_wait() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let start = Instant::now();
    let pending = structured(&call(
        &server,
        &agent,
        "request_approval",
        json!({ "action": "drop table", "waitSeconds": 1 }),
    ));
    assert!(start.elapsed() >= Duration::from_millis(950));
    assert_eq!(pending["status"], "pending");
    let id = pending["watchId"].as_str().unwrap();
    server.decide(&reviewer, id, "rejected", "not on a Friday");
    let got = structured(&call(
        &server,
        &agent,
        "get_approval",
        json!({ "watchId": id }),
    ));
    assert_eq!(got["status"], "rejected");
    assert_eq!(got["comment"], "not on a Friday");
}

/// Calls permission_prompt in a thread and decides the pause it creates.
fn prompt_decided(decision: &str, comment: &str) -> Value {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    // Kept exactly as sent: key order, spacing of numbers, unicode.
    let input = r#"{"command":"rm -rf ./build","timeout":1.50,"description":"clean ✓"}"#;
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":"p1","method":"tools/call","params":{{"name":"permission_prompt","arguments":{{"tool_name":"Bash","input":{input},"tool_use_id":"toolu_1"}}}}}}"#
    );
    let (url, key) = (server.url.clone(), agent.clone());
    let caller = thread::spawn(move || mcp_post(&url, Some(&key), &body, &[]));
    let list = eventually(Duration::from_secs(20), "the prompt's pause", || {
        let r = server.get("/api/pause?status=pending", &agent);
        r.json["items"]
            .as_array()
            .filter(|i| !i.is_empty())
            .cloned()
    });
    let pause = &list[0];
    assert_eq!(pause["action"], "Bash: rm -rf ./build");
    assert_eq!(pause["tags"], json!(["claude-code"]));
    assert_eq!(
        pause["context"],
        json!({ "tool_name": "Bash", "input": serde_json::from_str::<Value>(input).unwrap(),
                "tool_use_id": "toolu_1" })
    );
    assert!(pause["expiresAt"].is_string(), "the prompt's pause expires");
    let id = pause["watchId"].as_str().unwrap();
    assert_eq!(server.decide(&reviewer, id, decision, comment).status, 200);
    let r = caller.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], "p1");
    // Answered: the pause keeps its decision (nothing cancels it afterwards).
    thread::sleep(Duration::from_millis(300));
    assert_eq!(server.status(&reviewer, id)["status"], decision);
    let answer = prompt_answer(&r.json["result"]);
    if answer["behavior"] == "allow" {
        // The input comes back byte for byte.
        assert_eq!(
            r.json["result"]["content"][0]["text"],
            format!(r#"{{"behavior":"allow","updatedInput":{input}}}"#)
        );
    }
    answer
}

#[test]
fn permission_prompt_allows_with_the_input_as_sent() {
    let answer = prompt_decided("approved", "");
    assert_eq!(answer["behavior"], "allow");
    assert_eq!(answer["updatedInput"]["command"], "rm -rf ./build");
}

#[test]
fn permission_prompt_denies_with_the_reviewers_comment() {
    let answer = prompt_decided("rejected", "use cargo clean instead");
    assert_eq!(
        answer,
        json!({ "behavior": "deny", "message": "use cargo clean instead" })
    );
}

#[test]
fn tool_failures_are_results_and_protocol_failures_are_errors() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let other = hitl.agent_key("b");
    let server = hitl.serve(&[]);
    for (tool, arguments, says) in [
        (
            "request_approval",
            json!({ "action": "  " }),
            "action must not be empty",
        ),
        (
            "request_approval",
            json!({ "action": "x", "bogus": 1 }),
            "unknown field",
        ),
        (
            "request_approval",
            json!({ "action": "x", "timeoutSeconds": 0 }),
            "timeoutSeconds",
        ),
        ("get_approval", json!({ "watchId": "wch_nope" }), "no pause"),
        ("get_approval", json!({}), "watchId"),
    ] {
        let result = call(&server, &agent, tool, arguments);
        assert_eq!(result["isError"], true, "{result}");
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(text.contains(says), "{tool}: {text}");
    }
    // Another agent key's pause is not found.
    let theirs = structured(&call(
        &server,
        &other,
        "request_approval",
        json!({ "action": "x" }),
    ));
    let result = call(
        &server,
        &agent,
        "get_approval",
        json!({ "watchId": theirs["watchId"] }),
    );
    assert_eq!(result["isError"], true);
    assert!(result["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("no pause"));

    let r = rpc(&server, &agent, "tools/call", json!({ "name": "nope" }));
    assert_eq!(r.json["error"]["code"], -32602, "{}", r.text);
    let r = rpc(&server, &agent, "tools/call", json!({ "arguments": {} }));
    assert_eq!(r.json["error"]["code"], -32602);
    let r = rpc(&server, &agent, "initialize", json!({}));
    assert_eq!(r.json["error"]["code"], -32602);
    let r = rpc(&server, &agent, "resources/list", json!({}));
    assert_eq!(
        (r.json["id"].clone(), r.json["error"]["code"].clone()),
        (json!(7), json!(-32601))
    );
    let r = mcp_post(
        &server.url,
        Some(&agent),
        r#"{"jsonrpc":"2.0","id":1,"#,
        &[],
    );
    assert_eq!(
        (r.status, r.json["error"]["code"].clone()),
        (400, json!(-32700))
    );
    assert_eq!(r.json["id"], Value::Null);
    let r = mcp_post(
        &server.url,
        Some(&agent),
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
        &[],
    );
    assert_eq!(r.json["error"]["code"], -32600);
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("batch"));
    let r = mcp_post(
        &server.url,
        Some(&agent),
        r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
        &[],
    );
    assert_eq!(r.json["error"]["code"], -32600);
    let r = mcp_post(
        &server.url,
        Some(&agent),
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
        &[("MCP-Protocol-Version", "1999-01-01")],
    );
    assert_eq!(r.status, 400);
    // An unknown version is answered as 2026-07-28 says: the versions this server speaks.
    assert_eq!(r.json["error"]["code"], -32022, "{}", r.text);
    assert_eq!(r.json["error"]["data"]["requested"], "1999-01-01");
    assert_eq!(r.json["error"]["data"]["supported"][0], "2026-07-28");
}

#[test]
fn a_key_is_required_and_a_foreign_origin_refused() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let server = hitl.serve(&[]);
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let last = if agent.ends_with('x') { 'y' } else { 'x' };
    let bad_key = format!("{}{last}", &agent[..agent.len() - 1]);
    for key in [None, Some("not-a-key"), Some(bad_key.as_str())] {
        let r = mcp_post(&server.url, key, ping, &[]);
        assert_eq!(r.status, 401, "{key:?}: {}", r.text);
        assert!(r.headers["www-authenticate"].starts_with("Bearer"));
        assert_eq!(r.code(), "unauthorized");
    }
    let r = mcp_post(
        &server.url,
        Some(&agent),
        ping,
        &[("Origin", "http://evil.test")],
    );
    assert_eq!(r.status, 403, "{}", r.text);
    // DNS rebinding: the attacker's name, pointing here, is in both Origin and Host.
    let port = server.url.rsplit(':').next().unwrap();
    let rebound = format!("http://evil.test:{port}");
    let host = format!("evil.test:{port}");
    let r = mcp_post(
        &server.url,
        Some(&agent),
        ping,
        &[("Origin", &rebound), ("Host", &host)],
    );
    assert_eq!(r.status, 403, "{}", r.text);
    let r = mcp_post(&server.url, Some(&agent), ping, &[("Origin", "null")]);
    assert_eq!(r.status, 403);
    let r = mcp_post(&server.url, Some(&agent), ping, &[("Origin", &server.url)]);
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn the_official_python_client_works() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let server = hitl.serve(&[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mcp_client.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(format!("{}/mcp", server.url))
        .env("HITL_API_KEY", &agent)
        .output()
        .expect("python3 (tests/run installs the mcp package)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        report["tools"],
        json!([
            "request_approval",
            "get_approval",
            "ask_human",
            "permission_prompt"
        ])
    );
    assert_eq!(report["created"]["status"], "pending");
    assert_eq!(report["got"]["watchId"], report["created"]["watchId"]);
    let status = server.status(&agent, report["created"]["watchId"].as_str().unwrap());
    assert_eq!(status["action"], "from python");
    // 2026-07-28, when the SDK speaks it (mcp 2.x): discovered, no handshake.
    let modern = &report["modern"];
    if !modern.is_null() {
        assert_eq!(modern["protocolVersion"], "2026-07-28", "{modern}");
        assert_eq!(modern["supportedVersions"][0], "2026-07-28");
        assert_eq!(modern["serverName"], "hitl");
        assert_eq!(modern["tools"], report["tools"]);
        assert_eq!(modern["created"]["status"], "pending");
        assert_eq!(modern["got"]["watchId"], modern["created"]["watchId"]);
        let status = server.status(&agent, modern["created"]["watchId"].as_str().unwrap());
        assert_eq!(status["action"], "from python, modern");
        assert_eq!(status["context"], json!({ "era": "2026-07-28" }));
    }
}

#[test]
fn permission_prompt_is_cancelled_when_its_client_goes_away() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("claude");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "permission_prompt",
                    "arguments": { "tool_name": "Bash", "input": { "command": "make deploy" } } } })
    .to_string();
    let stream = crate::slow_bodies::start_request(
        &server,
        "/mcp",
        &format!(
            "Authorization: Bearer {agent}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n",
            body.len()
        ),
        &body,
    );
    let id = eventually(Duration::from_secs(20), "the prompt's pause", || {
        server.get("/api/pause?status=pending", &reviewer).json["items"][0]["watchId"]
            .as_str()
            .map(str::to_string)
    });
    // `claude -p` stopped: the connection closes before any answer.
    drop(stream);
    let cancelled = eventually(Duration::from_secs(5), "the pause to be cancelled", || {
        let p = server.status(&reviewer, &id);
        (p["status"] != "pending").then_some(p)
    });
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["resolvedBy"], "claude");
    assert_eq!(
        cancelled["comment"],
        "the agent disconnected before a decision (the permission prompt stopped waiting)"
    );
    assert_eq!(server.decide(&reviewer, &id, "approved", "").status, 409);
}
