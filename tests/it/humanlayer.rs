//! `/humanlayer/v1`: the HumanLayer SDK's wire contract over HTTP, and the real SDK
//! (Python `humanlayer` 0.7.9, unmodified) against the server.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

const BASE: &str = "/humanlayer/v1";

fn function_call(call_id: &str) -> Value {
    json!({
        "run_id": "run-1",
        "call_id": call_id,
        "spec": {
            "fn": "send_email",
            "kwargs": { "to": "ops@example.com", "subject": "Deploy done" },
            "channel": null,
            "reject_options": null,
            "state": null
        },
        "status": null
    })
}

/// The watchId of the pause a HumanLayer call created (its context names the call).
fn watch_id_of(server: &Server, reviewer: &str, call_id: &str) -> Option<String> {
    let r = server.get("/api/pause?status=pending&tag=humanlayer", reviewer);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["items"].as_array()?.iter().find_map(|p| {
        (p["context"]["call_id"] == call_id).then(|| p["watchId"].as_str().unwrap().to_string())
    })
}

fn assert_json(r: &Resp) {
    assert_eq!(
        r.headers.get("content-type").map(String::as_str),
        Some("application/json"),
        "{} {}",
        r.status,
        r.text
    );
}

#[test]
fn a_function_call_is_a_decision_read_back_by_its_call_id() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let other = hitl.agent_key("other");
    let reviewer = hitl.reviewer_key("rev@example.com");
    let server = hitl.serve(&[]);

    let r = server.post(
        &format!("{BASE}/function_calls"),
        &agent,
        &function_call("call-a"),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_json(&r);
    assert_eq!(r.json["call_id"], "call-a");
    assert_eq!(r.json["run_id"], "run-1");
    assert_eq!(r.json["spec"]["fn"], "send_email");
    assert_eq!(
        r.json["spec"]["kwargs"],
        json!({ "to": "ops@example.com", "subject": "Deploy done" })
    );
    let status = &r.json["status"];
    assert!(status["requested_at"].is_string());
    for field in ["responded_at", "approved", "comment", "reject_option_name"] {
        assert!(
            status.get(field).is_some_and(Value::is_null),
            "{field}: {status}"
        );
    }

    // The same call again is the same pause.
    let again = server.post(
        &format!("{BASE}/function_calls"),
        &agent,
        &function_call("call-a"),
    );
    assert_eq!(again.status, 200, "{}", again.text);

    let pending = server.get(&format!("{BASE}/function_calls/call-a"), &agent);
    assert_eq!(pending.status, 200, "{}", pending.text);
    assert_json(&pending);
    assert!(pending.json["status"]["approved"].is_null());

    // What the reviewer sees.
    let watch_id = watch_id_of(&server, &reviewer, "call-a").expect("the pause");
    let pause = server.status(&reviewer, &watch_id);
    assert_eq!(pause["kind"], "decision");
    assert_eq!(
        pause["action"],
        r#"send_email(to="ops@example.com", subject="Deploy done")"#
    );
    assert_eq!(pause["tags"], json!(["humanlayer"]));
    assert_eq!(
        pause["context"],
        json!({
            "fn": "send_email",
            "kwargs": { "to": "ops@example.com", "subject": "Deploy done" },
            "run_id": "run-1",
            "call_id": "call-a"
        })
    );

    // Another agent key does not see it.
    let r = server.get(&format!("{BASE}/function_calls/call-a"), &other);
    assert_eq!(r.status, 404, "{}", r.text);
    assert_json(&r);

    assert_eq!(
        server.decide(&reviewer, &watch_id, "approved", "").status,
        200
    );
    let approved = server.get(&format!("{BASE}/function_calls/call-a"), &agent);
    assert_eq!(
        approved.json["status"]["approved"], true,
        "{}",
        approved.text
    );
    assert!(approved.json["status"]["responded_at"].is_string());

    // A rejection carries its comment.
    let r = server.post(
        &format!("{BASE}/function_calls"),
        &agent,
        &function_call("call-b"),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let watch_id = watch_id_of(&server, &reviewer, "call-b").expect("the pause");
    let r = server.decide(&reviewer, &watch_id, "rejected", "not to ops");
    assert_eq!(r.status, 200, "{}", r.text);
    let rejected = server.get(&format!("{BASE}/function_calls/call-b"), &agent);
    assert_eq!(
        rejected.json["status"]["approved"], false,
        "{}",
        rejected.text
    );
    assert_eq!(rejected.json["status"]["comment"], "not to ops");
}

#[test]
fn reject_options_are_the_reviewers_reasons_and_the_pick_comes_back_by_name() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let reviewer = hitl.reviewer_key("rev@example.com");
    let server = hitl.serve(&[]);
    let mut call = function_call("call-r");
    call["spec"]["reject_options"] = json!([
        { "name": "too_broad", "title": "Too many recipients", "description": null,
          "prompt_fill": null, "interactive": false },
        { "name": "later", "title": null, "description": null, "prompt_fill": null,
          "interactive": false },
    ]);
    let r = server.post(&format!("{BASE}/function_calls"), &agent, &call);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["spec"]["reject_options"][0]["name"], "too_broad");

    let watch_id = watch_id_of(&server, &reviewer, "call-r").expect("the pause");
    let pause = server.status(&reviewer, &watch_id);
    assert_eq!(pause["options"], json!(["Too many recipients", "later"]));
    // An approval cannot carry a reason to reject.
    let r = server.post(
        &format!("/api/pause/{watch_id}/approve"),
        &reviewer,
        &json!({ "decision": "approved", "option": "later" }),
    );
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_failed"),
        "{}",
        r.text
    );
    let r = server.post(
        &format!("/api/pause/{watch_id}/approve"),
        &reviewer,
        &json!({ "decision": "rejected", "option": "later", "comment": "after the freeze" }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let call = server.get(&format!("{BASE}/function_calls/call-r"), &agent);
    assert_eq!(call.json["status"]["approved"], false, "{}", call.text);
    assert_eq!(call.json["status"]["reject_option_name"], "later");
    assert_eq!(call.json["status"]["comment"], "after the freeze");
}

#[test]
fn a_reviewer_responds_through_the_agent_endpoints_and_bad_responses_change_nothing() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let other = hitl.agent_key("other");
    let reviewer = hitl.reviewer_key("rev@example.com");
    let server = hitl.serve(&[]);
    let mut call = function_call("call-x");
    call["spec"]["reject_options"] = json!([{ "name": "later", "title": "Not now" }]);
    assert_eq!(
        server
            .post(&format!("{BASE}/function_calls"), &agent, &call)
            .status,
        201
    );
    let respond = |key: &str, call_id: &str, body: Value| {
        let r = server.post(
            &format!("{BASE}/agent/function_calls/{call_id}/respond"),
            key,
            &body,
        );
        assert_json(&r);
        r
    };
    for (key, call_id, body, status) in [
        (&agent, "call-x", json!({ "approved": true }), 403),
        (&reviewer, "call-x", json!({ "approved": null }), 400),
        (
            &reviewer,
            "call-x",
            json!({ "approved": false, "reject_option_name": "nope" }),
            400,
        ),
        (&reviewer, "call-y", json!({ "approved": true }), 404),
    ] {
        let r = respond(key, call_id, body);
        assert_eq!(r.status, status, "{}", r.text);
    }
    let watch_id = watch_id_of(&server, &reviewer, "call-x").expect("the pause");
    assert_eq!(server.status(&reviewer, &watch_id)["status"], "pending");

    let r = respond(
        &reviewer,
        "call-x",
        json!({ "approved": false, "comment": null, "reject_option_name": "later" }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"]["reject_option_name"], "later");
    assert_eq!(r.json["status"]["comment"], "Not now");
    let again = respond(&reviewer, "call-x", json!({ "approved": true }));
    assert_eq!((again.status, again.code()), (409, "already_resolved"));

    // A call_id two agent keys used is ambiguous for a reviewer.
    for key in [&agent, &other] {
        let r = server.post(
            &format!("{BASE}/function_calls"),
            key,
            &function_call("dup"),
        );
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = respond(&reviewer, "dup", json!({ "approved": true }));
    assert_eq!((r.status, r.code()), (409, "conflict"), "{}", r.text);

    // The API does not take HumanLayer's call-id keys: no one plants a pause under
    // another agent's call id.
    let r = request(
        "POST",
        &format!("{}/api/pause", server.url),
        Some(&agent),
        Some(r#"{"action": "harmless"}"#),
        &[("Idempotency-Key", "hl:fn:call-z")],
    );
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_failed"),
        "{}",
        r.text
    );
    let r = respond(&reviewer, "call-z", json!({ "approved": true }));
    assert_eq!(r.status, 404, "{}", r.text);

    // A contact request, answered by option name.
    let mut contact = json!({
        "run_id": "run-1", "call_id": "ask-1",
        "spec": { "msg": "Which region?", "subject": null, "channel": null,
                  "response_options": [{ "name": "eu", "title": "Europe" }], "state": null },
        "status": null
    });
    assert_eq!(
        server
            .post(&format!("{BASE}/contact_requests"), &agent, &contact)
            .status,
        201
    );
    let r = server.post(
        &format!("{BASE}/agent/human_contacts/ask-1/respond"),
        &reviewer,
        &json!({ "response": null, "response_option_name": "eu" }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (
            &r.json["status"]["response"],
            &r.json["status"]["response_option_name"]
        ),
        (&json!("Europe"), &json!("eu"))
    );
    contact["call_id"] = json!("ask-2");
    assert_eq!(
        server
            .post(&format!("{BASE}/contact_requests"), &agent, &contact)
            .status,
        201
    );
    let r = server.post(
        &format!("{BASE}/agent/human_contacts/ask-2/respond"),
        &reviewer,
        &json!({ "response": null, "response_option_name": null }),
    );
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_failed"),
        "{}",
        r.text
    );
}

#[test]
fn a_contact_request_is_a_question_answered_through_the_api() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let reviewer = hitl.reviewer_key("rev@example.com");
    let server = hitl.serve(&[]);

    let contact = json!({
        "run_id": "run-2",
        "call_id": "call-q",
        "spec": {
            "msg": "Which region?",
            "subject": null,
            "channel": null,
            "response_options": [
                { "name": "eu", "title": "Europe", "description": null, "prompt_fill": null, "interactive": false },
                { "name": "us", "title": null, "description": null, "prompt_fill": null, "interactive": false }
            ],
            "state": null
        },
        "status": null
    });
    let r = server.post(&format!("{BASE}/contact_requests"), &agent, &contact);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_json(&r);
    assert_eq!(r.json["call_id"], "call-q");
    assert!(r.json["status"]["response"].is_null());

    let watch_id = watch_id_of(&server, &reviewer, "call-q").expect("the pause");
    let pause = server.status(&reviewer, &watch_id);
    assert_eq!(pause["kind"], "question");
    assert_eq!(pause["action"], "Which region?");
    assert_eq!(pause["options"], json!(["Europe", "us"]));

    let r = server.post(
        &format!("/api/pause/{watch_id}/answer"),
        &reviewer,
        &json!({ "answer": "Europe" }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    for path in ["contact_requests", "human_contacts"] {
        let r = server.get(&format!("{BASE}/{path}/call-q"), &agent);
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["status"]["response"], "Europe");
        assert_eq!(r.json["status"]["response_option_name"], "eu");
        assert!(r.json["status"]["responded_at"].is_string());
    }
    // A contact request is not a function call.
    let r = server.get(&format!("{BASE}/function_calls/call-q"), &agent);
    assert_eq!(r.status, 404, "{}", r.text);
}

#[test]
fn errors_are_json() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&[]);

    let r = request(
        "POST",
        &format!("{}{BASE}/function_calls", server.url),
        None,
        Some(&function_call("call-x").to_string()),
        &[],
    );
    assert_eq!(r.status, 401, "{}", r.text);
    assert_json(&r);
    assert_eq!(r.code(), "unauthorized");

    let r = server.get(&format!("{BASE}/function_calls/call-x"), "hitl_nope");
    assert_eq!(r.status, 401, "{}", r.text);
    assert_json(&r);

    let r = server.get(&format!("{BASE}/agent/function_calls/pending"), &agent);
    assert_eq!(r.status, 404, "{}", r.text);
    assert_json(&r);
    assert_eq!(r.code(), "not_found");

    let r = server.get(&format!("{BASE}/function_calls/unknown"), &agent);
    assert_eq!(r.status, 404, "{}", r.text);
    assert_json(&r);

    let r = server.post(
        &format!("{BASE}/function_calls"),
        &agent,
        &json!({ "call_id": "x" }),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_json(&r);
}

/// The SDK run from Python: one approval, one rejection, one answer (it polls every 3 s).
/// Runs the SDK's reviewer side (tests/fixtures/humanlayer_respond.py) with `key`.
fn sdk_respond(server: &Server, key: &str, args: &[&str]) -> std::process::Output {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/humanlayer_respond.py"
    );
    Command::new("python3")
        .arg(script)
        .args(args)
        .env("HUMANLAYER_API_BASE", format!("{}{BASE}", server.url))
        .env("HUMANLAYER_API_KEY", key)
        .output()
        .expect("python3 (tests/run installs humanlayer 0.7.9)")
}

fn sdk_output(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "the SDK's respond failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the SDK's JSON")
}

#[test]
fn the_unmodified_humanlayer_sdk_works_against_hitl() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("bot");
    let reviewer = hitl.reviewer_key("rev@example.com");
    let server = hitl.serve(&[]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/humanlayer_client.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .env("HUMANLAYER_API_BASE", format!("{}{BASE}", server.url))
        .env("HUMANLAYER_API_KEY", &agent)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (tests/run installs humanlayer 0.7.9)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_step = || -> Value {
        let line = lines.next().expect("a step").expect("a line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };
    let pending = |kind: &str| {
        eventually(Duration::from_secs(30), "the SDK's pause", || {
            let r = server.get("/api/pause?status=pending&tag=humanlayer", &reviewer);
            r.json["items"].as_array()?.iter().find_map(|p| {
                (p["kind"] == kind).then(|| (p["watchId"].as_str().unwrap().to_string(), p.clone()))
            })
        })
    };

    let (_, pause) = pending("decision");
    assert_eq!(
        pause["action"],
        r#"send_email(to="ops@example.com", subject="Deploy done")"#
    );
    // The reviewer's side of the SDK decides it.
    let call_id = pause["context"]["call_id"].as_str().unwrap();
    let call = sdk_respond(&server, &agent, &["call", call_id, "true", "fine"]);
    assert!(!call.status.success(), "an agent key may not respond");
    let stderr = String::from_utf8_lossy(&call.stderr);
    assert!(stderr.contains("use a reviewer key"), "{stderr}");
    let call = sdk_respond(&server, &reviewer, &["call", call_id, "true", "fine"]);
    let call = sdk_output(&call);
    assert_eq!(
        (&call["status"]["approved"], &call["status"]["comment"]),
        (&json!(true), &json!("fine"))
    );
    let step = next_step();
    assert_eq!(step["step"], "approved");
    assert_eq!(step["result"], "sent to ops@example.com");
    assert_eq!(step["calls"].as_array().unwrap().len(), 1);

    let (watch_id, _) = pending("decision");
    assert_eq!(
        server
            .decide(&reviewer, &watch_id, "rejected", "not to everyone")
            .status,
        200
    );
    let step = next_step();
    assert_eq!(step["step"], "rejected");
    assert_eq!(
        step["result"],
        "User denied send_email with message: not to everyone"
    );
    assert_eq!(
        step["calls"].as_array().unwrap().len(),
        1,
        "the function did not run"
    );

    // reject_options are the reviewer's reasons to reject, shown by their titles.
    let (watch_id, pause) = pending("decision");
    assert_eq!(pause["options"], json!(["Too many recipients", "Not now"]));
    let r = server.post(
        &format!("/api/pause/{watch_id}/approve"),
        &reviewer,
        &json!({ "decision": "rejected", "option": "Too many recipients" }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["rejectOption"], "Too many recipients");
    let step = next_step();
    assert_eq!(step["step"], "rejected with a reason");
    assert_eq!(
        step["result"],
        "User denied send_newsletter with message: Too many recipients"
    );
    assert_eq!(step["calls"].as_array().unwrap().len(), 1);

    let (_, pause) = pending("question");
    assert_eq!(pause["action"], "Which region should I deploy to?");
    let call_id = pause["context"]["call_id"].as_str().unwrap();
    let contact = sdk_respond(&server, &reviewer, &["contact", call_id, "eu-west-1"]);
    assert_eq!(sdk_output(&contact)["status"]["response"], "eu-west-1");
    let step = next_step();
    assert_eq!(step["step"], "answered");
    assert_eq!(step["result"], "eu-west-1");

    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the SDK script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
