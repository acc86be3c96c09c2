//! Approving with changes: the reviewer edits the context, the agent acts on
//! `approvedContext` (the API, the webhook, MCP and Claude Code answers), the agent's
//! own context is kept, and the change is audited as a JSON Patch.

use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::Browser;
use crate::harness::*;
use crate::peers::Receiver;
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};
use crate::web_pages::setup_admin;

fn approve_with(server: &Server, key: &str, id: &str, context: &str) -> Resp {
    request(
        "POST",
        &format!("{}/api/pause/{id}/approve", server.url),
        Some(key),
        Some(&format!(
            r#"{{"decision":"approved","comment":"smaller","context":{context}}}"#
        )),
        &[],
    )
}

/// The details of the pause's audit entries with this event.
fn audited(hitl: &Hitl, id: &str, event: &str) -> Vec<Value> {
    let db = hitl.db();
    let mut stmt = db
        .prepare("SELECT details FROM audit WHERE watch_id = ?1 AND event = ?2 ORDER BY id")
        .unwrap();
    stmt.query_map([id, event], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

#[test]
fn an_edited_approval_reaches_the_agent_everywhere_and_keeps_its_context() {
    let hitl = Hitl::new();
    let reviewer = hitl.reviewer_key("ann@example.com");
    let hook = Receiver::start();
    let agent = hitl.key_json(&["--name", "payer", "--webhook-url", &hook.url])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let server = hitl.serve(&[]);
    let sent = r#"{"to":"acme","amount":1000000.00,"cc":["ops"]}"#;
    let id = request(
        "POST",
        &format!("{}/api/pause", server.url),
        Some(&agent),
        Some(&format!(r#"{{"action":"pay","context":{sent}}}"#)),
        &[],
    )
    .json["watchId"]
        .as_str()
        .unwrap()
        .to_string();

    // Refused edits change nothing.
    let r = approve_with(&server, &reviewer, &id, r#"{"amount":1,"amount":2}"#);
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_failed"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("context.amount is given more than once"),
        "{}",
        r.text
    );
    let r = request(
        "POST",
        &format!("{}/api/pause/{id}/approve", server.url),
        Some(&reviewer),
        Some(r#"{"decision":"rejected","context":{"amount":1}}"#),
        &[],
    );
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_failed"),
        "{}",
        r.text
    );
    // An edit cannot make a standing approval: later pauses would carry the agent's
    // own context.
    let r = request(
        "POST",
        &format!("{}/api/pause/{id}/approve", server.url),
        Some(&reviewer),
        Some(r#"{"decision":"approved","context":{"amount":1},"remember":{"for":"1h"}}"#),
        &[],
    );
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_failed"),
        "{}",
        r.text
    );
    assert_eq!(server.status(&agent, &id)["status"], "pending");
    assert!(audited(&hitl, &id, "pause.edited").is_empty());

    // Digits and key order of the edit are kept as typed.
    let r = approve_with(
        &server,
        &reviewer,
        &id,
        r#"{"to":"acme","amount":500.50,"note":"split"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text
            .contains(r#""approvedContext":{"to":"acme","amount":500.50,"note":"split"}"#),
        "{}",
        r.text
    );
    assert_eq!(r.json["edited"], true);
    assert_eq!(r.json["status"], "approved");
    // The agent's context is what it sent.
    assert!(
        r.text.contains(&format!(r#""context":{sent}"#)),
        "{}",
        r.text
    );
    let s = server.status(&agent, &id);
    assert_eq!(s["approvedContext"]["note"], "split");

    let hooks = hook.wait_for(1, Duration::from_secs(15));
    let body = hooks[0].json();
    assert_eq!(body["edited"], true);
    // Digits as typed, in both.
    assert!(
        hooks[0]
            .body
            .contains(r#""approvedContext":{"to":"acme","amount":500.50,"note":"split"}"#),
        "{}",
        hooks[0].body
    );
    assert!(
        hooks[0].body.contains(&format!(r#""context":{sent}"#)),
        "{}",
        hooks[0].body
    );

    // The audit entry holds the change as an RFC 6902 JSON Patch.
    let edits = audited(&hitl, &id, "pause.edited");
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0]["by"], "ann@example.com");
    let patch = edits[0]["patch"].as_array().unwrap();
    let has = |op: &str, path: &str| patch.iter().any(|p| p["op"] == op && p["path"] == path);
    assert!(
        has("replace", "/amount") && has("remove", "/cc") && has("add", "/note"),
        "{patch:?}"
    );

    // The signed receipt is for the approved (edited) context, not the agent's.
    let receipt = s["receipt"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (edited_file, sent_file) = (dir.path().join("edited.json"), dir.path().join("sent.json"));
    std::fs::write(
        &edited_file,
        r#"{"note":"split","amount":500.50,"to":"acme"}"#,
    )
    .unwrap();
    std::fs::write(&sent_file, sent).unwrap();
    let jwks = format!("{}/.well-known/jwks.json", server.url);
    let verify = |file: &std::path::Path| {
        hitl.cmd(&[
            "receipt",
            "verify",
            &receipt,
            "--jwks",
            &jwks,
            "--action",
            "pay",
            "--context",
            file.to_str().unwrap(),
        ])
        .status
        .code()
    };
    assert_eq!(
        verify(&edited_file),
        Some(0),
        "any key order of the same JSON matches"
    );
    assert_eq!(
        verify(&sent_file),
        Some(5),
        "the agent's own context was not approved"
    );

    // An unedited approval says so.
    let plain = server.create(
        &agent,
        &json!({ "action": "pay less", "context": {"a": 1} }),
    );
    let r = server.decide(&reviewer, &plain, "approved", "");
    assert_eq!(
        (r.json["edited"].clone(), r.json["approvedContext"].clone()),
        (json!(false), Value::Null)
    );
    // The same content as sent is no edit.
    let same = server.create(
        &agent,
        &json!({ "action": "pay same", "context": {"a": 1} }),
    );
    let r = approve_with(&server, &reviewer, &same, r#"{ "a" : 1 }"#);
    assert_eq!(r.json["edited"], false, "{}", r.text);
}

#[test]
fn under_a_quorum_an_edit_restarts_the_count() {
    let hitl = Hitl::new();
    let ann = hitl.reviewer_key("ann@example.com");
    let bob = hitl.reviewer_key("bob@example.com");
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&[]);
    let id = server.create(
        &agent,
        &json!({ "action": "resize", "context": {"nodes": 10}, "requiredApprovals": 2 }),
    );
    assert_eq!(
        server.decide(&ann, &id, "approved", "ok").json["status"],
        "pending"
    );
    // Bob approves a different content: ann's approval was for the old one.
    let r = approve_with(&server, &bob, &id, r#"{"nodes":4}"#);
    assert_eq!(r.json["status"], "pending", "{}", r.text);
    let by: Vec<&str> = r.json["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["by"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["bob@example.com"]);
    assert_eq!(
        audited(&hitl, &id, "pause.edited")[0]["approvalsRestarted"],
        1
    );
    // Ann says what she read: the agent's context, which bob has changed since. Her
    // approval is refused, so nobody approves content they did not see.
    let read = crate::receipts::sha256_hex(r#"{"nodes":10}"#);
    let r = request(
        "POST",
        &format!("{}/api/pause/{id}/approve", server.url),
        Some(&ann),
        Some(&json!({ "decision": "approved", "contextSha256": read }).to_string()),
        &[],
    );
    assert_eq!((r.status, r.code()), (409, "conflict"), "{}", r.text);
    assert!(r.text.contains("changed since you read it"), "{}", r.text);
    // Ann approves the edited content: done, with the edit.
    let r = server.decide(&ann, &id, "approved", "fine");
    assert_eq!(r.json["status"], "approved", "{}", r.text);
    assert_eq!(r.json["approvedContext"], json!({"nodes": 4}));

    // An edit waiting for the rest of a quorum, then a rejection: nothing was approved
    // with the change, so the pause is not "edited" and its receipt is for the
    // agent's own context.
    let id = server.create(
        &agent,
        &json!({ "action": "resize again", "context": {"nodes": 10}, "requiredApprovals": 2 }),
    );
    let r = approve_with(&server, &bob, &id, r#"{"nodes":40}"#);
    assert_eq!(
        (r.json["status"].clone(), r.json["edited"].clone()),
        (json!("pending"), json!(true))
    );
    let r = server.decide(&ann, &id, "rejected", "no");
    assert_eq!(r.json["status"], "rejected", "{}", r.text);
    assert_eq!(
        (r.json["edited"].clone(), r.json["approvedContext"].clone()),
        (json!(false), Value::Null)
    );
}

#[test]
fn claude_code_and_mcp_get_the_edited_input_to_run() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("claude");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);

    // A PreToolUse hook of type http: the answer carries updatedInput.
    let input = json!({
        "session_id": "s1", "cwd": "/w", "hook_event_name": "PreToolUse",
        "tool_name": "Bash", "tool_input": {"command": "rm -rf /", "description": "clean"}
    });
    let (url, key, body) = (server.url.clone(), agent.clone(), input.to_string());
    let waiting = thread::spawn(move || {
        request(
            "POST",
            &format!("{url}/hooks/claude-code"),
            Some(&key),
            Some(&body),
            &[],
        )
    });
    let pending = eventually(Duration::from_secs(20), "the hook's pause", || {
        let items = server.get("/api/pause?status=pending", &reviewer).json["items"].clone();
        items.as_array().and_then(|a| a.first().cloned())
    });
    let id = pending["watchId"].as_str().unwrap().to_string();
    let mut edited = pending["context"].clone();
    edited["tool_input"]["command"] = json!("rm -rf ./build");
    let r = approve_with(&server, &reviewer, &id, &edited.to_string());
    assert_eq!(r.status, 200, "{}", r.text);
    let answer = waiting.join().unwrap();
    let out = &answer.json["hookSpecificOutput"];
    assert_eq!(out["permissionDecision"], "allow", "{}", answer.text);
    assert_eq!(
        out["updatedInput"],
        json!({"command": "rm -rf ./build", "description": "clean"})
    );

    // MCP permission_prompt: updatedInput is the edit; get_approval shows it.
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "permission_prompt",
                    "arguments": { "tool_name": "Bash", "input": {"command": "drop db"} } } });
    let (url, key) = (server.url.clone(), agent.clone());
    let caller =
        thread::spawn(move || crate::mcp::mcp_post(&url, Some(&key), &body.to_string(), &[]));
    let pending = eventually(Duration::from_secs(20), "the prompt's pause", || {
        let items = server.get("/api/pause?status=pending", &reviewer).json["items"].clone();
        items.as_array().and_then(|a| a.first().cloned())
    });
    let id = pending["watchId"].as_str().unwrap().to_string();
    let mut edited = pending["context"].clone();
    edited["input"]["command"] = json!("backup db");
    assert_eq!(
        approve_with(&server, &reviewer, &id, &edited.to_string()).status,
        200
    );
    let r = caller.join().unwrap();
    let text: Value =
        serde_json::from_str(r.json["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        text,
        json!({"behavior": "allow", "updatedInput": {"command": "backup db"}})
    );
    let got = crate::mcp::structured(&crate::mcp::call(
        &server,
        &agent,
        "get_approval",
        json!({ "watchId": id }),
    ));
    assert_eq!(
        (
            got["edited"].clone(),
            got["approvedContext"]["input"]["command"].clone()
        ),
        (json!(true), json!("backup db"))
    );
}

#[test]
fn the_review_page_approves_with_changes_and_shows_the_diff() {
    let hitl = Hitl::new();
    hitl.add_user("ann@example.com", "approver");
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&[]);
    let id = server.create(
        &agent,
        &json!({ "action": "mail customers", "context": {"to": "all", "subject": "<b>Hi</b>"} }),
    );
    let cookie = sign_in(&server, "ann@example.com", PASSWORD).unwrap();
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(html.contains("data-json-edit"), "{html}");
    // The form says which content was read (a later edit by someone else refuses it).
    let seen = crate::receipts::sha256_hex(r#"{"subject":"<b>Hi</b>","to":"all"}"#);
    assert!(
        html.contains(&format!(r#"name="seen" value="{seen}""#)),
        "{html}"
    );
    assert!(
        html.contains("&lt;b&gt;Hi&lt;/b&gt;"),
        "the editor's text is escaped: {html}"
    );
    let csrf = csrf_of(&html);
    let post = |context: &str| {
        form_post(
            &server,
            &format!("/review/{id}/decide"),
            Some(&cookie),
            &format!(
                "csrf={csrf}&decision=edit&comment=&edited_context={}",
                url_encode(context)
            ),
            &[("Origin", &server.url)],
        )
    };
    // A plain Approve with a changed Edit box does not drop the change unnoticed.
    let r = form_post(
        &server,
        &format!("/review/{id}/decide"),
        Some(&cookie),
        &format!(
            "csrf={csrf}&decision=approved&comment=&edited_context={}",
            url_encode(r#"{"to":"nobody"}"#)
        ),
        &[("Origin", &server.url)],
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("you changed the context"), "{}", r.text);
    assert_eq!(server.status(&agent, &id)["status"], "pending");
    // Not JSON: a readable error, the typed text kept, nothing decided.
    let r = post(r#"{"to": "beta testers""#);
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("not valid JSON"), "{}", r.text);
    assert!(r.text.contains("beta testers"), "{}", r.text);
    assert_eq!(server.status(&agent, &id)["status"], "pending");
    let r = post(r#"{"to":"beta testers","subject":"<b>Hi</b>"}"#);
    assert_eq!(r.status, 303, "{}", r.text);
    let s = server.status(&agent, &id);
    assert_eq!(
        (s["status"].clone(), s["approvedContext"]["to"].clone()),
        (json!("approved"), json!("beta testers"))
    );
    let html = page(&server, &format!("/review/{id}"), &cookie).text;
    assert!(html.contains("data-edit-diff"), "{html}");
    assert!(html.contains("<code>/to</code>"), "{html}");
    assert!(
        html.contains("&quot;all&quot;") || html.contains("\"all\""),
        "{html}"
    );
}

#[test]
fn in_the_browser_the_editor_refuses_bad_json_before_sending() {
    let hitl = Hitl::new();
    let browser = Browser::new();
    let server = setup_admin(&hitl, &browser);
    let agent = hitl.agent_key("bot");
    let id = server.create(
        &agent,
        &json!({ "action": "scale", "context": {"replicas": 3} }),
    );
    browser.goto(&format!("{}/review/{id}", server.url));
    browser.click("[data-edit-fold] summary");
    browser.js(
        "document.querySelector('[data-json-edit]').value = arguments[0];",
        vec![json!("{\"replicas\": ")],
    );
    browser.click("[data-edit-submit]");
    browser.wait_until(
        "the JSON error",
        "(() => { const e = document.querySelector('[data-json-error]'); return e && !e.hidden && e.textContent.includes('not valid JSON'); })()",
        Duration::from_secs(5),
    );
    assert_eq!(
        server.status(&agent, &id)["status"],
        "pending",
        "nothing was sent"
    );
    browser.js(
        "document.querySelector('[data-json-edit]').value = arguments[0];",
        vec![json!("{\"replicas\": 2}")],
    );
    browser.click("[data-edit-submit]");
    browser.wait_until(
        "the decided banner",
        "document.querySelector('.banner-approved')",
        Duration::from_secs(10),
    );
    let s = server.status(&agent, &id);
    assert_eq!(s["approvedContext"], json!({"replicas": 2}));
    assert!(browser.exists("[data-edit-diff]"));
}
