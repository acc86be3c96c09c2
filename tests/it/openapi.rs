//! `GET /api/openapi.json`: the description itself, and schemathesis (the real tool,
//! `python3 -m schemathesis.cli`) run against the real server with it: every
//! operation, with the stateful links, for an agent key and a reviewer key at once,
//! all its checks, no server error and no answer that breaks the description.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

/// Every operation of the public API, as `METHOD path`.
const OPERATIONS: [&str; 14] = [
    "POST /api/pause",
    "GET /api/pause",
    "GET /api/pause/{watchId}",
    "POST /api/pause/{watchId}/approve",
    "POST /api/pause/{watchId}/answer",
    "POST /api/pause/{watchId}/extend",
    "POST /api/pause/{watchId}/cancel",
    "GET /api/pause/{watchId}/deliveries",
    "POST /api/pause/{watchId}/deliveries/{id}/retry",
    "GET /api/rules",
    "DELETE /api/rules/{id}",
    "GET /healthz",
    "GET /api/openapi.json",
    "GET /.well-known/jwks.json",
];

fn document(server: &Server) -> Value {
    let r = request_raw("GET", &format!("{}/api/openapi.json", server.url), "", &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    r.json
}

#[test]
fn the_description_is_openapi_3_1_of_every_operation_with_errors_and_auth() {
    let hitl = Hitl::new();
    let server = hitl.serve(&[]);
    // No key needed to read it.
    let doc = document(&server);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    let mut found = vec![];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            found.push(format!("{} {path}", method.to_uppercase()));
            let responses = op["responses"].as_object().expect("responses");
            if path.starts_with("/api/pause") || path.starts_with("/api/rules") {
                // Every API operation names its key and its errors, all one schema.
                assert!(op["security"].is_array(), "{method} {path}: no security");
                for status in ["401", "404", "405", "408", "413", "429", "500"] {
                    if status == "404" && (path == "/api/pause" || path == "/api/rules") {
                        continue;
                    }
                    let schema = &responses
                        .get(status)
                        .unwrap_or_else(|| panic!("{method} {path}: no {status}"))["content"]
                        ["application/json"]["schema"]["$ref"];
                    assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path}");
                }
            }
        }
    }
    found.sort();
    let mut expected: Vec<String> = OPERATIONS.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(found, expected);

    let schemes = &doc["components"]["securitySchemes"];
    for name in ["agentKey", "reviewerKey"] {
        assert_eq!(schemes[name]["type"], "http", "{name}");
        assert_eq!(schemes[name]["scheme"], "bearer", "{name}");
    }
    let schemas = &doc["components"]["schemas"];
    let codes: Vec<&str> = schemas["ErrorCode"]["enum"]
        .as_array()
        .expect("error codes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for code in [
        "validation_failed",
        "invalid_json",
        "unauthorized",
        "forbidden",
        "not_found",
        "already_resolved",
        "idempotency_conflict",
        "payload_too_large",
        "rate_limited",
        "quota_exceeded",
        "internal",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    // The pause object lists what the server sends, the request what it reads.
    let pause = schemas["Pause"]["properties"].as_object().expect("Pause");
    for field in [
        "watchId",
        "kind",
        "status",
        "action",
        "context",
        "comment",
        "answer",
        "statusUrl",
        "reviewUrl",
        "receipt",
    ] {
        assert!(pause.contains_key(field), "Pause lacks {field}");
    }
    // The receipts' key is public: the JWK Set needs no key.
    let jwks = &doc["paths"]["/.well-known/jwks.json"]["get"];
    assert_eq!(jwks["security"], json!([{}]), "{jwks}");
    assert!(
        schemas["Jwk"]["properties"]["kid"].is_object(),
        "{}",
        schemas["Jwk"]
    );
    assert_eq!(
        schemas["CreateRequest"]["required"],
        json!(["action"]),
        "{}",
        schemas["CreateRequest"]
    );
    assert_eq!(schemas["Decision"]["enum"], json!(["approved", "rejected"]));
    // A standing approval: how long, as four words.
    assert_eq!(
        schemas["RememberFor"]["enum"],
        json!(["1h", "24h", "7d", "always"])
    );
    assert!(schemas["DecideRequest"]["properties"]["remember"].is_object());
    assert_eq!(schemas["Remember"]["required"], json!(["for"]));
}

/// A reviewer who decides every pending pause within a moment, so that a long-poll on
/// a pause schemathesis created ends quickly, and decisions race the tool's requests.
fn reviewer_at_work(server: &Server, key: String, stop: Arc<AtomicBool>) -> Arc<AtomicUsize> {
    let decided = Arc::new(AtomicUsize::new(0));
    let (url, count) = (server.url.clone(), Arc::clone(&decided));
    thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let auth = format!("Bearer {key}");
            let r = request_raw(
                "GET",
                &format!("{url}/api/pause?status=pending&limit=200"),
                "",
                &[("Authorization", &auth)],
            );
            for p in r.json["items"].as_array().into_iter().flatten() {
                let id = p["watchId"].as_str().unwrap_or_default();
                let (path, body) = if p["kind"] == "question" {
                    let answer = p["options"][0].as_str().unwrap_or("an answer");
                    ("answer", json!({ "answer": answer }))
                } else {
                    (
                        "approve",
                        json!({ "decision": "rejected", "comment": "no" }),
                    )
                };
                let r = request_raw(
                    "POST",
                    &format!("{url}/api/pause/{id}/{path}"),
                    &body.to_string(),
                    &[
                        ("Authorization", &auth),
                        ("Content-Type", "application/json"),
                    ],
                );
                if r.status == 200 {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    decided
}

fn schemathesis(server: &Server, key: &str, work_dir: &Path) -> Output {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml");
    Command::new("python3")
        .args([
            "-m",
            "schemathesis.cli",
            "--no-color",
            "--config-file",
            config,
        ])
        .args(["run", &format!("{}/api/openapi.json", server.url)])
        .args(["--header", &format!("Authorization: Bearer {key}")])
        .args(["--checks", "all", "--max-examples", "25"])
        .args(["--request-timeout", "70", "--output-truncate", "true"])
        // Every generated webhookUrl is swapped for one on loopback: no name lookups.
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", fixtures)
        .current_dir(work_dir)
        .stdin(Stdio::null())
        .output()
        .expect("python3 -m schemathesis.cli (tests/run installs schemathesis)")
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_outside_the_description() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("fuzz-agent");
    hitl.add_user("admin@example.com", "admin");
    let reviewer = hitl.key_json(&["--name", "fuzz-reviewer", "--user", "admin@example.com"])
        ["key"]
        .as_str()
        .expect("key")
        .to_string();
    // No rate limit: the tool sends hundreds of requests a minute with each key.
    let server = hitl.serve(&["--rate-limit", "0"]);
    let stop = Arc::new(AtomicBool::new(false));
    let decided = reviewer_at_work(&server, reviewer.clone(), Arc::clone(&stop));

    let work = tempfile::tempdir().expect("temp dir");
    let runs: Vec<(&str, Output)> = thread::scope(|s| {
        let runs = [("agent key", &agent), ("reviewer key", &reviewer)].map(|(who, key)| {
            let (server, dir) = (&server, work.path().join(who.replace(' ', "-")));
            std::fs::create_dir_all(&dir).expect("work dir");
            s.spawn(move || (who, schemathesis(server, key, &dir)))
        });
        runs.into_iter()
            .map(|h| h.join().expect("schemathesis thread"))
            .collect()
    });
    stop.store(true, Ordering::Relaxed);

    for (who, out) in &runs {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis with the {who} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // It really ran: every operation (but the description itself, which the tool
        // leaves out as the document it loaded), cases generated, none failed.
        assert!(stdout.contains("Selected: 13/13"), "{who}:\n{stdout}");
        assert!(stdout.contains("Tested: 13"), "{who}:\n{stdout}");
        assert!(stdout.contains(" passed"), "{who}:\n{stdout}");
        assert!(!stdout.contains("Server error"), "{who}:\n{stdout}");
    }
    // Pauses were created, and decided while the tool polled them.
    assert!(decided.load(Ordering::Relaxed) > 0);
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains("internal error"), "{log}");
}
