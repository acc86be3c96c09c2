//! A pause's risk and summary: stored as given, refused when wrong (and then nothing
//! is stored), and left out of the Idempotency-Key digest when absent.

use serde_json::json;

use super::*;
use crate::domain::{Error, Risk};

#[test]
fn risk_and_summary_are_stored_as_given() {
    let mut w = World::new();
    for (i, risk) in ["low", "medium", "high", "critical"]
        .into_iter()
        .enumerate()
    {
        let body = json!({
            "action": format!("Deploy {i}"),
            "risk": risk,
            "summary": "  Rolls out v2.4.1 to 12 hosts.\nThe old version stays.  ",
        });
        let p =
            w.db.create(t0(), &w.agent, &body.to_string())
                .unwrap()
                .pause;
        let stored = w.db.stored(&p.watch_id);
        assert_eq!(stored.risk.map(Risk::as_str), Some(risk));
        assert_eq!(
            stored.summary.as_deref(),
            Some("Rolls out v2.4.1 to 12 hosts.\nThe old version stays."),
            "trimmed, line breaks kept"
        );
    }
    let plain = w.db.pending(t0(), &w.agent, None);
    let stored = w.db.stored(&plain.watch_id);
    assert_eq!((stored.risk, stored.summary), (None, None));
    let at_limit = json!({ "action": "x", "summary": "s".repeat(pauses::MAX_SUMMARY_BYTES) });
    assert!(w.db.create(t0(), &w.agent, &at_limit.to_string()).is_ok());
}

#[test]
fn a_bad_risk_or_summary_is_refused_and_stores_nothing() {
    let mut w = World::new();
    let before = w.db.footprint();
    for (body, word) in [
        (json!({ "action": "x", "risk": "extreme" }), "risk"),
        (json!({ "action": "x", "risk": "HIGH" }), "risk"),
        (json!({ "action": "x", "risk": "" }), "risk"),
        (json!({ "action": "x", "summary": "" }), "summary"),
        (
            json!({ "action": "x", "summary": " \u{200B}\n" }),
            "summary",
        ),
        (
            json!({ "action": "x", "summary": "é".repeat(pauses::MAX_SUMMARY_BYTES / 2 + 1) }),
            "1000 bytes",
        ),
    ] {
        let result = w.db.create(t0(), &w.agent, &body.to_string());
        assert_err!(result, Error::Validation(m) if m.contains(word));
    }
    assert_eq!(w.db.footprint(), before);
}

#[test]
fn a_request_without_them_keeps_the_digest_it_always_had() {
    // The canonical form hashed for an Idempotency-Key, exactly as before risk and
    // summary existed: a retry of an older request still matches its stored digest.
    let request: CreateRequest =
        serde_json::from_str(r#"{"action": "Deploy", "tags": ["x"]}"#).unwrap();
    let new = request.validate(LIMITS, None).unwrap();
    assert_eq!(
        serde_json::to_string(&new).unwrap(),
        r#"{"action":"Deploy","context":null,"webhook_url":null,"timeout_seconds":null,"tags":["x"]}"#
    );

    let mut w = World::new();
    let old = r#"{"action": "Deploy", "tags": ["x"]}"#;
    let first =
        w.db.create_with(t0(), &w.agent, old, Some("k1"), None)
            .unwrap();
    let again =
        w.db.create_with(t0(), &w.agent, old, Some("k1"), None)
            .unwrap();
    assert!(again.replayed);
    assert_eq!(again.pause.watch_id, first.pause.watch_id);
    let riskier = r#"{"action": "Deploy", "tags": ["x"], "risk": "high"}"#;
    assert_err!(
        w.db.create_with(t0(), &w.agent, riskier, Some("k1"), None),
        Error::IdempotencyConflict
    );
    let summed = r#"{"action": "Deploy", "tags": ["x"], "summary": "more"}"#;
    assert_err!(
        w.db.create_with(t0(), &w.agent, summed, Some("k1"), None),
        Error::IdempotencyConflict
    );
}
