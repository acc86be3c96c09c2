//! Retention: decided pauses lose their content and keep who decided what and when,
//! the digests their receipt signs, and the audit chain; space is given back.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::harness::*;

/// The claims of a receipt (a compact JWS), not checked here (tests/it/receipts.rs does).
fn claims(receipt: &str) -> Value {
    let payload = receipt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn purge_removes_content_and_keeps_the_decision_its_digests_and_the_audit() {
    let hitl = Hitl::new();
    let hook = crate::peers::Receiver::start();
    let agent = hitl.key_json(&["--name", "deployer", "--webhook-url", &hook.url])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let secret_context = json!({ "password": "hunter2", "rows": (0..300).map(|i| format!("row {i} of secret data")).collect::<Vec<_>>() });
    let mut decided = Vec::new();
    for i in 0..20 {
        let id = server.create(
            &agent,
            &json!({ "action": format!("deploy {i}"), "context": secret_context, "summary": "ships it" }),
        );
        server.decide(
            &reviewer,
            &id,
            if i % 2 == 0 { "approved" } else { "rejected" },
            "ok",
        );
        decided.push(id);
    }
    let pending = server.create(
        &agent,
        &json!({ "action": "still waiting", "context": secret_context }),
    );
    hook.wait_for(20, Duration::from_secs(20));
    let before = server.status(&agent, &decided[0]);
    let receipt_before = claims(before["receipt"].as_str().unwrap());

    // Not in the future; not a date.
    for (arg, says) in [
        ("2999-01-01", "in the future"),
        ("yesterday", "is not a date"),
    ] {
        let out = hitl.cmd(&["purge", "--before", arg]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains(says));
    }
    // --vacuum rewrites the file: not while the server runs.
    let busy = hitl.cmd(&["purge", "--before", "2020-01-01", "--vacuum"]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&busy.stderr).contains("stop it before --vacuum"));

    std::thread::sleep(Duration::from_millis(20));
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let out = hitl.ok(&["purge", "--before", &now]);
    assert!(out.contains("purged the content of 20 pauses"), "{out}");
    assert!(out.contains("gave free space back"), "{out}");
    let sizes: Vec<u64> = out
        .lines()
        .find(|l| l.starts_with("gave free space back"))
        .unwrap()
        .split_whitespace()
        .filter_map(|w| w.trim_end_matches(',').parse().ok())
        .collect();
    assert!(sizes[1] < sizes[0], "the file shrank: {sizes:?}");

    let after = server.status(&agent, &decided[0]);
    for field in ["context", "summary", "approvedContext"] {
        assert_eq!(after[field], Value::Null, "{field}");
    }
    assert!(after["purgedAt"].is_string());
    for field in ["status", "action", "resolvedBy", "resolvedAt", "comment"] {
        assert_eq!(after[field], before[field], "{field} is kept");
    }
    let receipt_after = claims(after["receipt"].as_str().unwrap());
    assert_eq!(
        receipt_after["contextSha256"],
        receipt_before["contextSha256"]
    );
    assert_eq!(receipt_after, receipt_before, "the receipt says the same");
    let still = server.status(&agent, &pending);
    assert_eq!(
        still["context"]["password"], "hunter2",
        "pending pauses are never purged"
    );
    assert_eq!(still["purgedAt"], Value::Null);

    let db = hitl.db();
    let leaked: i64 = db
        .query_row(
            "SELECT count(*) FROM outbox WHERE payload LIKE '%hunter2%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leaked, 0, "delivered webhook bodies are purged too");
    let purges: i64 = db
        .query_row(
            "SELECT count(*) FROM audit WHERE event = 'pauses.purged'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(purges, 1);
    let verify = hitl.ok(&["audit", "verify"]);
    assert!(verify.starts_with("audit log intact"), "{verify}");
    // Run again: nothing more to do.
    let again = hitl.ok(&["purge", "--before", &now]);
    assert!(again.contains("purged the content of 0 pauses"), "{again}");
}

#[test]
fn the_server_purges_by_itself_with_retention() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let (old, recent) = {
        let server = hitl.serve(&[]);
        let old = server.create(&agent, &json!({ "action": "old", "context": { "x": 1 } }));
        server.decide(&reviewer, &old, "approved", "fine");
        let recent = server.create(
            &agent,
            &json!({ "action": "recent", "context": { "y": 2 } }),
        );
        server.decide(&reviewer, &recent, "approved", "fine");
        (old, recent)
    };
    // As if `old` had been decided two hours ago.
    rusqlite::Connection::open(hitl.db_path())
        .unwrap()
        .execute(
            "UPDATE pauses SET resolved_at = resolved_at - 7200000 WHERE watch_id = ?1",
            [&old],
        )
        .unwrap();
    for bad in ["5m", "soon"] {
        let err = Server::try_start(hitl.path(), &["--retention", bad])
            .err()
            .unwrap();
        assert!(err.contains("--retention"), "{err}");
    }
    let server = hitl.serve(&["--retention", "1h"]);
    let purged = eventually(Duration::from_secs(10), "the old pause purged", || {
        let s = server.status(&agent, &old);
        s["purgedAt"].is_string().then_some(s)
    });
    assert_eq!(purged["context"], Value::Null);
    assert_eq!(purged["status"], "approved");
    assert_eq!(server.status(&agent, &recent)["context"], json!({ "y": 2 }));
}
