//! Signed decision receipts: in the status, the webhook, MCP results and `hitl ask
//! --json`; verified by `hitl receipt verify` and by a standard JOSE library (PyJWT,
//! through examples/receipts/guarded_tool.py), and refused when anything differs.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::harness::*;
use crate::peers::Receiver;

const GUARDED_TOOL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/receipts/guarded_tool.py"
);

const ACTION: &str = "Deploy v2.4.1 to production ✓";
/// Spelled with spaces, an unsorted key order and numbers as `1.50` and `1e2`: the
/// digest is of the canonical form, `{"a":[100,"x"],"b":1.5,"é":null}`.
const CONTEXT: &str = r#"{ "é": null, "b": 1.50, "a": [1e2, "x"] }"#;
const CANONICAL: &str = r#"{"a":[100,"x"],"b":1.5,"é":null}"#;

pub fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn b64url(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// The parts of a receipt: header and claims (not checked here: that is the point of
/// the verifiers below).
fn decode(receipt: &str) -> (Value, Value) {
    let parts: Vec<&str> = receipt.split('.').collect();
    assert_eq!(parts.len(), 3, "{receipt}");
    (
        serde_json::from_slice(&b64url(parts[0])).unwrap(),
        serde_json::from_slice(&b64url(parts[1])).unwrap(),
    )
}

fn jwks(server: &Server) -> Value {
    let r = request(
        "GET",
        &format!("{}/.well-known/jwks.json", server.url),
        None,
        None,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

/// `hitl receipt verify ARGS...`: exit code, stdout, stderr.
fn verify(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(["receipt", "verify"])
        .args(args)
        .env_remove("HITL_JWKS")
        .env_remove("HITL_JSON")
        .stdin(Stdio::null())
        .output()
        .expect("hitl receipt verify");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The example tool, with PyJWT: exit code, stdout, stderr.
fn guarded_tool(
    receipt: &str,
    jwks_url: &str,
    action: &str,
    context: Option<&str>,
) -> (i32, String, String) {
    let mut command = Command::new("python3");
    command.args([
        GUARDED_TOOL,
        receipt,
        "--jwks",
        jwks_url,
        "--action",
        action,
    ]);
    if let Some(context) = context {
        command.args(["--context", context]);
    }
    let out = command
        .stdin(Stdio::null())
        .output()
        .expect("python3 guarded_tool.py");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn require_python_modules() {
    for (module, spec) in [
        ("jwt", "PyJWT[crypto]>=2.8,<3"),
        ("cryptography", "cryptography"),
        ("rfc8785", "rfc8785>=0.1.4,<0.2"),
    ] {
        let ok = Command::new("python3")
            .args(["-c", &format!("import {module}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "python3 cannot import {module}: tests/run installs it (python3 -m pip install '{spec}')"
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// Flips one bit of the signature (a character in its middle: the last one also
/// holds padding bits).
fn tamper_signature(receipt: &str) -> String {
    let (rest, signature) = receipt.rsplit_once('.').unwrap();
    let mut sig = b64url(signature);
    sig[10] ^= 0x04;
    format!(
        "{rest}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    )
}

#[test]
fn a_decided_pause_carries_a_receipt_that_verifies_for_exactly_what_was_approved() {
    require_python_modules();
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let key = hitl.key_json(&["--name", "deploy-bot", "--webhook-url", &hook.url]);
    let agent = key["key"].as_str().unwrap();
    let key_id = key["id"].as_str().unwrap();
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);

    let set = jwks(&server);
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{set}");
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert_eq!(keys[0]["alg"], "EdDSA");
    let kid = keys[0]["kid"].as_str().unwrap();

    let body: Value = serde_json::from_str(&format!(
        r#"{{"action": {}, "context": {CONTEXT}}}"#,
        Value::from(ACTION)
    ))
    .unwrap();
    let id = server.create(agent, &body);
    // Pending: no receipt, in the status and the list alike.
    assert_eq!(server.status(agent, &id)["receipt"], Value::Null);
    let listed = server.get("/api/pause", agent).json;
    assert_eq!(listed["items"][0]["receipt"], Value::Null, "{listed}");

    let decided = server.decide(&reviewer, &id, "approved", "ship it");
    assert_eq!(decided.status, 200, "{}", decided.text);
    let status = server.status(agent, &id);
    let receipt = status["receipt"].as_str().expect("a receipt").to_string();
    // The same receipt wherever the pause is shown: deterministic signatures.
    assert_eq!(decided.json["receipt"], receipt);
    assert_eq!(
        server.get("/api/pause", agent).json["items"][0]["receipt"],
        receipt
    );

    let (header, claims) = decode(&receipt);
    assert_eq!(header, json!({ "alg": "EdDSA", "kid": kid, "typ": "JWT" }));
    assert_eq!(
        claims,
        json!({
            "iss": server.url,
            "watchId": id,
            "status": "approved",
            "resolvedAt": status["resolvedAt"],
            "resolvedBy": "alice@example.com",
            "keyId": key_id,
            "actionSha256": sha256_hex(ACTION),
            "contextSha256": sha256_hex(CANONICAL),
        })
    );

    // The webhook carries it too.
    let delivered = hook.wait_for(1, Duration::from_secs(20));
    assert_eq!(
        delivered[0].json()["receipt"],
        receipt,
        "{}",
        delivered[0].body
    );

    // hitl receipt verify: with the JWKS URL, the server's base URL, or a file.
    let dir = tempfile::tempdir().unwrap();
    let jwks_url = format!("{}/.well-known/jwks.json", server.url);
    let jwks_file = write(dir.path(), "jwks.json", &set.to_string());
    let context_file = write(
        dir.path(),
        "context.json",
        r#"{"a":[100.0,"x"],"b":1.5,"é":null}"#,
    );
    for source in [jwks_url.as_str(), server.url.as_str(), jwks_file.as_str()] {
        let (code, out, err) = verify(&[
            &receipt,
            "--jwks",
            source,
            "--action",
            ACTION,
            "--context",
            &context_file,
        ]);
        assert_eq!(code, 0, "{source}: {out}{err}");
        assert!(
            out.starts_with(&format!("valid: {id} approved by alice@example.com at ")),
            "{out}"
        );
        assert!(out.contains("signature, action, context match"), "{out}");
    }
    // From standard input, with the claims as JSON.
    let out = Command::new(BIN)
        .args(["receipt", "verify", "-", "--jwks", &jwks_file, "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(receipt.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        claims
    );

    // PyJWT, in the example tool: it acts.
    let (code, out, err) = guarded_tool(&receipt, &jwks_url, ACTION, Some(CONTEXT));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("verified: {id} approved by alice@example.com"))
            && out.contains(&format!("acting: {ACTION}")),
        "{out}{err}"
    );

    // Another context: refused.
    let other_context = write(
        dir.path(),
        "other.json",
        r#"{"a":[100,"x"],"b":1.6,"é":null}"#,
    );
    let (code, out, err) = verify(&[
        &receipt,
        "--jwks",
        &jwks_url,
        "--action",
        ACTION,
        "--context",
        &other_context,
    ]);
    assert_eq!(code, 5, "{out}{err}");
    assert!(
        err.starts_with("error: the context does not match"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, out, err) = guarded_tool(
        &receipt,
        &jwks_url,
        ACTION,
        Some(r#"{"a":[100,"x"],"b":1.6,"é":null}"#),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("refused: the context is not the one that was approved"),
        "{err}"
    );
    assert!(!out.contains("acting"), "{out}");
    // No context at all is another context too.
    let (code, out, err) = guarded_tool(&receipt, &jwks_url, ACTION, None);
    assert_eq!(code, 1, "{out}{err}");

    // Another action: refused.
    let (code, out, err) = verify(&[
        &receipt,
        "--jwks",
        &jwks_url,
        "--action",
        "Deploy v2.4.2 to production ✓",
    ]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(err.starts_with("error: the action does not match"), "{err}");
    let (code, out, err) = guarded_tool(
        &receipt,
        &jwks_url,
        "Deploy v2.4.2 to production ✓",
        Some(CONTEXT),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("refused: the action is not the one that was approved"),
        "{err}"
    );

    // A tampered signature: refused.
    let tampered = tamper_signature(&receipt);
    let (code, out, err) = verify(&[&tampered, "--jwks", &jwks_url]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.starts_with("error: the receipt's signature does not verify"),
        "{err}"
    );
    let (code, out, err) = guarded_tool(&tampered, &jwks_url, ACTION, Some(CONTEXT));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("refused: the receipt does not verify"),
        "{err}"
    );

    // A changed claim (rejected as approved, or another pause) breaks the signature.
    let parts: Vec<&str> = receipt.split('.').collect();
    let mut forged_claims = claims.clone();
    forged_claims["watchId"] = json!("wch_someotherpause0000000000");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
        parts[2]
    );
    let (code, _, err) = verify(&[&forged, "--jwks", &jwks_url]);
    assert_eq!(code, 1, "{err}");

    // Another server's JWKS: no key for this kid.
    let elsewhere = Hitl::new();
    let other_server = elsewhere.serve(&[]);
    let other_jwks = format!("{}/.well-known/jwks.json", other_server.url);
    assert_ne!(jwks(&other_server)["keys"][0]["kid"], kid);
    let (code, out, err) = verify(&[&receipt, "--jwks", &other_jwks, "--action", ACTION]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.starts_with(&format!(
            "error: no Ed25519 key in the JWKS has the receipt's kid {kid}"
        )),
        "{err}"
    );
    let (code, out, err) = guarded_tool(&receipt, &other_jwks, ACTION, Some(CONTEXT));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("refused: no key of"), "{err}");

    // What cannot be checked: exit 2, one line.
    let (code, _, err) = verify(&["not-a-receipt", "--jwks", &jwks_file]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("error: cannot check the receipt: "),
        "{err}"
    );
    let (code, _, err) = verify(&[
        &receipt,
        "--jwks",
        &dir.path().join("missing.json").to_string_lossy(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_rejection_has_a_receipt_that_is_not_an_approval() {
    require_python_modules();
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    let reviewer = hitl.reviewer_key("bob@example.com");
    let server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "drop table users" }));
    server.decide(&reviewer, &id, "rejected", "no");
    let receipt = server.status(&agent, &id)["receipt"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, claims) = decode(&receipt);
    assert_eq!(claims["status"], "rejected");
    assert_eq!(claims["contextSha256"], sha256_hex("null"));

    let jwks_url = format!("{}/.well-known/jwks.json", server.url);
    let (code, out, err) = verify(&[
        &receipt,
        "--jwks",
        &jwks_url,
        "--action",
        "drop table users",
    ]);
    assert_eq!(code, 6, "{out}{err}");
    assert!(
        err.starts_with(&format!(
            "error: the receipt records rejected of {id} by bob@example.com, not an approval"
        )),
        "{err}"
    );
    let (code, out, err) = verify(&[&receipt, "--jwks", &jwks_url, "--any-status"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!("valid: {id} rejected by bob@example.com")),
        "{out}"
    );
    let (code, out, err) = guarded_tool(&receipt, &jwks_url, "drop table users", None);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("refused: the receipt records rejected"),
        "{err}"
    );
}

#[test]
fn the_signing_key_survives_a_restart() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    let reviewer = hitl.reviewer_key("alice@example.com");
    // The same public URL after the restart (the port changes): the same `iss`.
    let mut server = hitl.serve(&["--public-url", "https://hitl.example.com"]);
    let before = jwks(&server);
    let id = server.create(
        &agent,
        &json!({ "action": "restart me", "context": [1, 2] }),
    );
    server.decide(&reviewer, &id, "approved", "");
    let receipt = server.status(&agent, &id)["receipt"].clone();
    assert_eq!(
        decode(receipt.as_str().unwrap()).1["iss"],
        "https://hitl.example.com"
    );

    server.restart();
    assert_eq!(jwks(&server), before);
    // The same key: the same receipt, and it still verifies.
    assert_eq!(server.status(&agent, &id)["receipt"], receipt);
    let (code, out, err) = verify(&[
        receipt.as_str().unwrap(),
        "--jwks",
        &server.url,
        "--action",
        "restart me",
    ]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn hitl_ask_json_and_mcp_results_carry_the_receipt() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("ci");
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);

    let child = Command::new(BIN)
        .args([
            "ask",
            "Deploy from CI",
            "--context",
            r#"{"sha":"a3f9b2e"}"#,
            "--json",
        ])
        .env("HITL_URL", &server.url)
        .env("HITL_API_KEY", &agent)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pending = eventually(Duration::from_secs(20), "the pause of hitl ask", || {
        let items = server.get("/api/pause?status=pending", &reviewer).json["items"].clone();
        items.as_array().and_then(|a| a.first().cloned())
    });
    assert_eq!(pending["receipt"], Value::Null);
    let id = pending["watchId"].as_str().unwrap();
    assert_eq!(server.decide(&reviewer, id, "approved", "").status, 200);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let receipt = printed["receipt"]
        .as_str()
        .expect("a receipt in ask --json");
    let dir = tempfile::tempdir().unwrap();
    let context = write(dir.path(), "context.json", r#"{"sha":"a3f9b2e"}"#);
    let (code, out, err) = verify(&[
        receipt,
        "--jwks",
        &server.url,
        "--action",
        "Deploy from CI",
        "--context",
        &context,
    ]);
    assert_eq!(code, 0, "{out}{err}");

    // MCP: request_approval while pending, get_approval once decided.
    let pending = crate::mcp::structured(&crate::mcp::call(
        &server,
        &agent,
        "request_approval",
        json!({ "action": "rotate keys" }),
    ));
    assert_eq!(pending["receipt"], Value::Null, "{pending}");
    let id = pending["watchId"].as_str().unwrap();
    server.decide(&reviewer, id, "approved", "");
    let got = crate::mcp::structured(&crate::mcp::call(
        &server,
        &agent,
        "get_approval",
        json!({ "watchId": id }),
    ));
    assert_eq!(got["receipt"], server.status(&agent, id)["receipt"]);
    let (code, out, err) = verify(&[
        got["receipt"].as_str().unwrap(),
        "--jwks",
        &server.url,
        "--action",
        "rotate keys",
    ]);
    assert_eq!(code, 0, "{out}{err}");
}
