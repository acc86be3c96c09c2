//! `risk` and `summary` on `POST /api/pause`: returned by the API, sent in the webhook,
//! taken by MCP's request_approval, described in the OpenAPI document; a bad value is
//! a 400 that creates nothing.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;
use crate::peers::Receiver;

const SUMMARY: &str = "Rolls out v2.4.1 to the 12 production hosts.\nThe old version stays.";

#[test]
fn risk_and_summary_come_back_in_the_status_and_the_webhook() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let agent = hitl.key_json(&["--name", "deploy-bot", "--webhook-url", &hook.url])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);

    let r = server.post(
        "/api/pause",
        &agent,
        &json!({ "action": "Deploy", "risk": "critical", "summary": SUMMARY }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["risk"], "critical");
    assert_eq!(r.json["summary"], SUMMARY);
    let id = r.json["watchId"].as_str().unwrap().to_string();
    let status = server.status(&agent, &id);
    assert_eq!(
        (&status["risk"], &status["summary"]),
        (&json!("critical"), &json!(SUMMARY))
    );

    // Without them: null, for every value of risk the other way round.
    for risk in ["low", "medium", "high"] {
        let other = server.create(&agent, &json!({ "action": "x", "risk": risk }));
        let s = server.status(&reviewer, &other);
        assert_eq!((&s["risk"], &s["summary"]), (&json!(risk), &Value::Null));
    }
    let plain = server.create(&agent, &json!({ "action": "plain" }));
    let s = server.status(&agent, &plain);
    assert_eq!((&s["risk"], &s["summary"]), (&Value::Null, &Value::Null));

    server.decide(&reviewer, &id, "approved", "ok");
    let got = hook.wait_for(1, Duration::from_secs(10));
    let payload = got[0].json();
    assert_eq!(payload["watchId"], id.as_str());
    assert_eq!(payload["agentContext"]["risk"], "critical");
    assert_eq!(payload["agentContext"]["summary"], SUMMARY);
}

#[test]
fn a_bad_risk_or_summary_is_a_400_that_creates_nothing() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let server = hitl.serve(&[]);
    let long = "s".repeat(1001);
    for (body, code, word) in [
        (
            json!({ "action": "x", "risk": "extreme" }),
            "validation_failed",
            "risk",
        ),
        (
            json!({ "action": "x", "risk": "High" }),
            "validation_failed",
            "risk",
        ),
        (
            json!({ "action": "x", "risk": 3 }),
            "validation_failed",
            "expected a string",
        ),
        (
            json!({ "action": "x", "summary": "" }),
            "validation_failed",
            "summary",
        ),
        (
            json!({ "action": "x", "summary": long }),
            "validation_failed",
            "summary",
        ),
        (
            json!({ "action": "x", "summary": {"a": 1} }),
            "validation_failed",
            "expected a string",
        ),
    ] {
        let r = server.post("/api/pause", &agent, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.code(), code, "{body}: {}", r.text);
        assert!(
            r.json["error"]["message"].as_str().unwrap().contains(word),
            "{body}: {}",
            r.text
        );
    }
    let listed = server.get("/api/pause", &agent);
    assert_eq!(listed.json["items"], json!([]), "{}", listed.text);
}

#[test]
fn mcp_request_approval_and_the_openapi_document_know_them() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let server = hitl.serve(&[]);

    let result = crate::mcp::call(
        &server,
        &agent,
        "request_approval",
        json!({ "action": "Drop the table", "risk": "high", "summary": "Deletes 3 rows." }),
    );
    let id = crate::mcp::structured(&result)["watchId"]
        .as_str()
        .unwrap()
        .to_string();
    let s = server.status(&agent, &id);
    assert_eq!(
        (&s["risk"], &s["summary"]),
        (&json!("high"), &json!("Deletes 3 rows."))
    );
    let refused = crate::mcp::call(
        &server,
        &agent,
        "request_approval",
        json!({ "action": "x", "risk": "sky-high" }),
    );
    assert_eq!(refused["isError"], true, "{refused}");

    let listed = crate::mcp::rpc(&server, &agent, "tools/list", json!({}));
    let tools = listed.json["result"]["tools"].as_array().unwrap().clone();
    let request = tools
        .iter()
        .find(|t| t["name"] == "request_approval")
        .unwrap();
    let props = &request["inputSchema"]["properties"];
    assert_eq!(
        props["risk"]["enum"],
        json!(["low", "medium", "high", "critical"])
    );
    assert_eq!(props["summary"]["maxLength"], 1000);

    let r = request_raw("GET", &format!("{}/api/openapi.json", server.url), "", &[]);
    let doc: Value = serde_json::from_str(&r.text).unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Risk"]["enum"],
        json!(["low", "medium", "high", "critical"]),
        "{}",
        schemas["Risk"]
    );
    let create = &schemas["CreateRequest"]["properties"];
    assert_eq!(
        create["summary"]["maxLength"], 1000,
        "{}",
        create["summary"]
    );
    assert!(
        create["risk"].to_string().contains("Risk"),
        "{}",
        create["risk"]
    );
    assert!(schemas["Pause"]["properties"]["risk"]
        .to_string()
        .contains("Risk"));
    assert!(schemas["Pause"]["properties"]["summary"].is_object());
}
