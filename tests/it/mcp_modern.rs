//! `POST /mcp` in protocol version 2026-07-28 (SEP-2575): no handshake; every request
//! carries its version and the client's capabilities in `_meta`, mirrored in headers.
//! Also the JSON-RPC answers to bodies refused for their size or slowness.

use serde_json::{json, Value};

use crate::harness::*;
use crate::mcp::{mcp_post, structured};

const MODERN: &str = "2026-07-28";

/// The `_meta` every 2026-07-28 request carries.
fn envelope() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "it", "version": "1" }
    })
}

/// A 2026-07-28 request with `params` (and `_meta` added to them), sent with
/// `headers` as given: the test chooses which of the standard ones it sends.
fn modern_post(
    server: &Server,
    key: &str,
    method: &str,
    params: Value,
    headers: &[(&str, &str)],
) -> Resp {
    let mut params = params;
    if params.get("_meta").is_none() {
        params["_meta"] = envelope();
    }
    let body = json!({ "jsonrpc": "2.0", "id": "m1", "method": method, "params": params });
    mcp_post(&server.url, Some(key), &body.to_string(), headers)
}

/// A 2026-07-28 request with the standard headers right.
fn modern(server: &Server, key: &str, method: &str, params: Value) -> Resp {
    let name = params["name"].as_str().map(str::to_string);
    let mut headers = vec![("MCP-Protocol-Version", MODERN), ("Mcp-Method", method)];
    if let Some(name) = &name {
        headers.push(("Mcp-Name", name.as_str()));
    }
    modern_post(server, key, method, params, &headers)
}

/// A 2026-07-28 result: complete, and naming the server.
fn complete(r: &Resp) -> Value {
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.headers["content-type"].starts_with("application/json"));
    assert!(!r.headers.contains_key("mcp-session-id"), "no sessions");
    assert_eq!(r.json["jsonrpc"], "2.0");
    assert_eq!(r.json["id"], "m1");
    let result = r.json["result"].clone();
    assert_eq!(result["resultType"], "complete", "{result}");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "hitl"
    );
    result
}

/// A refusal: the HTTP status and the JSON-RPC error code, with the request's id.
fn refused(r: &Resp, status: u16, code: i64) -> String {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.json["jsonrpc"], "2.0");
    assert_eq!(r.json["id"], "m1", "{}", r.text);
    assert_eq!(r.json["error"]["code"], code, "{}", r.text);
    r.json["error"]["message"].as_str().unwrap().to_string()
}

fn tool_call(server: &Server, key: &str, tool: &str, arguments: Value) -> Value {
    let r = modern(
        server,
        key,
        "tools/call",
        json!({ "name": tool, "arguments": arguments }),
    );
    structured(&complete(&r))
}

#[test]
fn modern_discover_tells_the_versions_capabilities_and_identity() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let server = hitl.serve(&[]);
    let result = complete(&modern(&server, &agent, "server/discover", json!({})));
    assert_eq!(
        result["supportedVersions"],
        json!([
            "2026-07-28",
            "2025-11-25",
            "2025-06-18",
            "2025-03-26",
            "2024-11-05"
        ])
    );
    assert_eq!(
        result["capabilities"],
        json!({ "tools": { "listChanged": false } })
    );
    assert!(result["instructions"]
        .as_str()
        .unwrap()
        .contains("request_approval"));
    assert_eq!(result["ttlMs"], 3_600_000);
    assert_eq!(result["cacheScope"], "private");
    assert!(result["_meta"]["io.modelcontextprotocol/serverInfo"]["version"].is_string());
    // Without a key, refused as every request is.
    let body = json!({ "jsonrpc": "2.0", "id": "m1", "method": "server/discover",
                       "params": { "_meta": envelope() } });
    let r = mcp_post(
        &server.url,
        None,
        &body.to_string(),
        &[
            ("MCP-Protocol-Version", MODERN),
            ("Mcp-Method", "server/discover"),
        ],
    );
    assert_eq!(r.status, 401);
}

#[test]
fn modern_tools_are_listed_and_called_without_a_handshake() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let listed = complete(&modern(&server, &agent, "tools/list", json!({})));
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "request_approval",
            "get_approval",
            "ask_human",
            "permission_prompt"
        ]
    );
    assert_eq!(listed["ttlMs"], 3_600_000);
    assert_eq!(listed["cacheScope"], "private");

    let created = tool_call(
        &server,
        &agent,
        "request_approval",
        json!({ "action": "deploy v2", "context": { "env": "prod" }, "tags": ["m"] }),
    );
    assert_eq!(created["status"], "pending");
    let id = created["watchId"].as_str().unwrap().to_string();
    assert_eq!(server.status(&reviewer, &id)["action"], "deploy v2");
    assert_eq!(server.decide(&reviewer, &id, "approved", "go").status, 200);
    let got = tool_call(&server, &agent, "get_approval", json!({ "watchId": id }));
    assert_eq!(got["status"], "approved");
    assert_eq!(got["comment"], "go");
    assert_eq!(got["resolvedBy"], "r@example.com");

    // A tool's own refusal is still a result with isError, complete.
    let r = modern(
        &server,
        &agent,
        "tools/call",
        json!({ "name": "request_approval", "arguments": { "action": " " } }),
    );
    let result = complete(&r);
    assert_eq!(result["isError"], true, "{result}");

    // Mcp-Name may come Base64-encoded.
    let body = json!({ "name": "get_approval", "arguments": { "watchId": id } });
    let r = modern_post(
        &server,
        &agent,
        "tools/call",
        body,
        &[
            ("MCP-Protocol-Version", MODERN),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "=?base64?Z2V0X2FwcHJvdmFs?="),
        ],
    );
    assert_eq!(structured(&complete(&r))["status"], "approved");
}

#[test]
fn modern_requests_with_wrong_meta_or_headers_are_refused_and_change_nothing() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let server = hitl.serve(&[]);
    let std_headers =
        |method: &'static str| vec![("MCP-Protocol-Version", MODERN), ("Mcp-Method", method)];
    let approval = json!({ "name": "request_approval", "arguments": { "action": "x" } });
    let with_meta = |meta: Value| {
        let mut p = approval.clone();
        p["_meta"] = meta;
        p
    };
    let call_headers = [
        ("MCP-Protocol-Version", MODERN),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", "request_approval"),
    ];

    // No _meta at all, the header saying 2026-07-28: invalid params.
    let body = json!({ "jsonrpc": "2.0", "id": "m1", "method": "tools/call", "params": approval });
    let r = mcp_post(&server.url, Some(&agent), &body.to_string(), &call_headers);
    let message = refused(&r, 400, -32602);
    assert!(
        message.contains("io.modelcontextprotocol/protocolVersion"),
        "{message}"
    );
    // server/discover is of 2026-07-28 only: without _meta, the same.
    let body = r#"{"jsonrpc":"2.0","id":"m1","method":"server/discover"}"#;
    refused(&mcp_post(&server.url, Some(&agent), body, &[]), 400, -32602);
    // _meta without the client's capabilities.
    let mut meta = envelope();
    meta.as_object_mut()
        .unwrap()
        .remove("io.modelcontextprotocol/clientCapabilities");
    let r = modern_post(
        &server,
        &agent,
        "tools/call",
        with_meta(meta),
        &call_headers,
    );
    assert!(refused(&r, 400, -32602).contains("clientCapabilities"));
    // A version not spoken: the versions that are.
    let mut meta = envelope();
    meta["io.modelcontextprotocol/protocolVersion"] = json!("1900-01-01");
    let r = modern_post(
        &server,
        &agent,
        "tools/call",
        with_meta(meta),
        &[
            ("MCP-Protocol-Version", "1900-01-01"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "request_approval"),
        ],
    );
    refused(&r, 400, -32022);
    assert_eq!(
        r.json["error"]["data"],
        json!({ "supported": ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"],
                "requested": "1900-01-01" })
    );
    // A handshake version per request is not spoken either.
    let mut meta = envelope();
    meta["io.modelcontextprotocol/protocolVersion"] = json!("2025-11-25");
    let r = modern_post(
        &server,
        &agent,
        "tools/list",
        json!({ "_meta": meta }),
        &[
            ("MCP-Protocol-Version", "2025-11-25"),
            ("Mcp-Method", "tools/list"),
        ],
    );
    assert!(refused(&r, 400, -32022).contains("initialize"));
    // The headers must match the body, and be there.
    for headers in [
        vec![
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "request_approval"),
        ],
        vec![
            ("MCP-Protocol-Version", "2025-11-25"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "request_approval"),
        ],
        vec![
            ("MCP-Protocol-Version", MODERN),
            ("Mcp-Name", "request_approval"),
        ],
        vec![
            ("MCP-Protocol-Version", MODERN),
            ("Mcp-Method", "tools/list"),
            ("Mcp-Name", "request_approval"),
        ],
        vec![
            ("MCP-Protocol-Version", MODERN),
            ("Mcp-Method", "tools/call"),
        ],
        vec![
            ("MCP-Protocol-Version", MODERN),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "get_approval"),
        ],
        vec![
            ("MCP-Protocol-Version", MODERN),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "=?base64?!!?="),
        ],
    ] {
        let r = modern_post(&server, &agent, "tools/call", approval.clone(), &headers);
        let message = refused(&r, 400, -32020);
        assert!(
            message.starts_with("Header mismatch"),
            "{headers:?}: {message}"
        );
    }
    // Methods this revision does not have: 404 and method not found.
    for method in ["initialize", "ping", "resources/list"] {
        let r = modern_post(&server, &agent, method, json!({}), &std_headers(method));
        refused(&r, 404, -32601);
    }
    // None of it created a pause.
    let list = server.get("/api/pause", &agent);
    assert_eq!(list.json["items"], json!([]), "nothing was created");
}

#[test]
fn mcp_bodies_refused_for_size_or_slowness_get_json_rpc_errors() {
    use crate::slow_bodies::{read_until_closed, start_request};
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let server = hitl.serve(&["--body-timeout", "1s"]);
    let headers = format!(
        "Authorization: Bearer {agent}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
    );
    for (declared, sent, status) in [
        // Declared too large: refused before a byte of it is read.
        ("1000000000", "", "413"),
        // Declared small, never finished: the body timeout.
        ("100", r#"{"jsonrpc":"2.0","#, "408"),
    ] {
        let mut stream = start_request(
            &server,
            "/mcp",
            &format!("{headers}Content-Length: {declared}\r\n"),
            sent,
        );
        let (answer, closed) = read_until_closed(&mut stream);
        assert!(closed, "the connection is closed");
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{answer}"
        );
        let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["jsonrpc"], "2.0", "{body}");
        assert_eq!(body["id"], Value::Null);
        assert_eq!(body["error"]["code"], -32600);
        assert!(
            body["error"]["message"].as_str().unwrap().contains("body"),
            "{body}"
        );
    }
}
