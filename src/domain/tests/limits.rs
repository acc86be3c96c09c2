//! Idempotency-Key and the monthly quota: the two ways a create may not create.

use super::*;
use crate::domain::{Error, Status};

const BODY: &str = r#"{"action": "Deploy v2.4.1", "tags": ["deploy"], "timeoutSeconds": 600}"#;
/// The same request as understood: other whitespace and key order, an explicit null.
const SAME_BODY: &str =
    r#"{ "timeoutSeconds" : 600, "context": null, "tags": ["deploy"], "action": "Deploy v2.4.1" }"#;
const WINDOW: Millis = pauses::IDEMPOTENCY_WINDOW_MS;

#[test]
fn a_repeated_key_and_body_within_24_hours_replays_the_original() {
    let mut w = World::new();
    let first =
        w.db.create_with(t0(), &w.agent, BODY, Some("k-1"), None)
            .unwrap();
    assert!(!first.replayed);
    let before = w.db.footprint();
    for (at, body) in [(t0() + SECOND, BODY), (t0() + WINDOW - 1, SAME_BODY)] {
        let (again, events) =
            w.db.create_ev(at, &w.agent, body, Some("k-1"), None)
                .unwrap();
        assert!(again.replayed, "at {at}");
        assert_eq!(again.pause.watch_id, first.pause.watch_id);
        assert_eq!(again.pause.created_at, t0(), "the original, not a new one");
        assert!(events.is_empty(), "a replay announces nothing: {events:?}");
        assert_eq!(w.db.footprint(), before, "a replay stores nothing");
    }
    assert_eq!(w.db.usage(&w.agent, t0()), 1, "a replay is not counted");
}

#[test]
fn a_replay_after_the_decision_reports_the_decision() {
    let mut w = World::new();
    let first =
        w.db.create_with(t0(), &w.agent, BODY, Some("k-1"), None)
            .unwrap();
    let id = first.pause.watch_id;
    w.db.decide(
        t0() + SECOND,
        &w.approver,
        &id,
        Decision::Rejected,
        Some("no"),
    )
    .unwrap();
    let again =
        w.db.create_with(t0() + 2 * SECOND, &w.agent, BODY, Some("k-1"), None)
            .unwrap();
    assert!(again.replayed);
    assert_eq!(again.pause.watch_id, id);
    assert_eq!(again.pause.status, Status::Rejected);
    assert_eq!(again.pause.comment.as_deref(), Some("no"));
}

#[test]
fn the_same_key_with_another_body_is_a_conflict_and_creates_nothing() {
    let mut w = World::new();
    w.db.create_with(t0(), &w.agent, BODY, Some("k-1"), None)
        .unwrap();
    let before = w.db.footprint();
    for other in [
        r#"{"action": "Deploy v2.4.2", "tags": ["deploy"], "timeoutSeconds": 600}"#,
        r#"{"action": "Deploy v2.4.1", "tags": ["prod"], "timeoutSeconds": 600}"#,
        r#"{"action": "Deploy v2.4.1", "tags": ["deploy"]}"#,
        r#"{"action": "Deploy v2.4.1", "tags": ["deploy"], "timeoutSeconds": 600, "context": {}}"#,
    ] {
        assert_err!(
            w.db.create_with(t0() + HOUR, &w.agent, other, Some("k-1"), None),
            Error::IdempotencyConflict
        );
        assert_eq!(w.db.footprint(), before, "after {other}");
    }
}

#[test]
fn after_24_hours_the_same_key_creates_a_new_pause() {
    let mut w = World::new();
    let first =
        w.db.create_with(t0(), &w.agent, BODY, Some("k-1"), None)
            .unwrap();
    let later = t0() + WINDOW;
    let second =
        w.db.create_with(later, &w.agent, BODY, Some("k-1"), None)
            .unwrap();
    assert!(!second.replayed);
    assert_ne!(second.pause.watch_id, first.pause.watch_id);
    assert_eq!(w.db.count("pauses"), 2);
    // The key now stands for the new pause, for the next 24 hours.
    let third =
        w.db.create_with(later + HOUR, &w.agent, BODY, Some("k-1"), None)
            .unwrap();
    assert!(third.replayed);
    assert_eq!(third.pause.watch_id, second.pause.watch_id);
    // And once its window is over, even another body is welcome.
    let other = r#"{"action": "Something else"}"#;
    let fourth =
        w.db.create_with(later + WINDOW, &w.agent, other, Some("k-1"), None)
            .unwrap();
    assert!(!fourth.replayed);
    assert_eq!(w.db.count("pauses"), 3);
}

#[test]
fn idempotency_keys_are_scoped_per_api_key() {
    let mut w = World::new();
    let mine =
        w.db.create_with(t0(), &w.agent, BODY, Some("k-1"), None)
            .unwrap();
    let theirs =
        w.db.create_with(t0(), &w.other_agent, BODY, Some("k-1"), None)
            .unwrap();
    assert!(
        !theirs.replayed,
        "another key's Idempotency-Key is not ours"
    );
    assert_ne!(theirs.pause.watch_id, mine.pause.watch_id);
    assert_eq!(theirs.pause.key_id, w.other_agent.key_id().unwrap());
    // Nor is it a conflict for another key to send another body.
    let other = r#"{"action": "Something else"}"#;
    let third_key =
        w.db.create_with(t0(), &w.other_agent, other, Some("k-2"), None);
    assert!(!third_key.unwrap().replayed);
    let again =
        w.db.create_with(t0() + 1, &w.agent, BODY, Some("k-2"), None)
            .unwrap();
    assert!(!again.replayed);
    assert_eq!(w.db.count("pauses"), 4);
}

#[test]
fn a_malformed_idempotency_key_is_refused() {
    let mut w = World::new();
    let before = w.db.footprint();
    let long = "k".repeat(pauses::MAX_IDEMPOTENCY_KEY_BYTES + 1);
    for key in ["", "naïve", "tab\there", long.as_str()] {
        assert_err!(
            w.db.create_with(t0(), &w.agent, BODY, Some(key), None),
            Error::Validation(m) if m.contains("Idempotency-Key")
        );
    }
    assert_eq!(w.db.footprint(), before);
}

/// 2026-03-31T23:00:00Z: one hour before April.
fn last_hour_of_march() -> Millis {
    clock::parse_date("2026-03-31").unwrap() + 23 * HOUR
}

#[test]
fn the_create_over_the_monthly_limit_is_refused_until_the_next_month() {
    let mut w = World::new();
    let start = last_hour_of_march();
    for i in 0..3 {
        w.db.create_with(start + i, &w.agent, BODY, None, Some(3))
            .unwrap();
    }
    let before = w.db.footprint();
    assert_err!(
        w.db.create_with(start, &w.agent, BODY, None, Some(3)),
        Error::QuotaExceeded {
            limit: 3,
            retry_after_secs: 3_600
        }
    );
    // Part of a second left still rounds up: never "retry now" while it would fail.
    assert_err!(
        w.db.create_with(start + HOUR - 1, &w.agent, BODY, None, Some(3)),
        Error::QuotaExceeded {
            limit: 3,
            retry_after_secs: 1
        }
    );
    assert_eq!(w.db.footprint(), before, "a refusal stores nothing");
    assert_eq!(w.db.usage(&w.agent, start), 3, "refusals are not counted");

    let april = start + HOUR;
    assert_eq!(clock::month_of(april), "2026-04");
    let p = w.db.create_with(april, &w.agent, BODY, None, Some(3));
    assert!(!p.unwrap().replayed);
    assert_eq!(w.db.usage(&w.agent, april), 1);
    assert_eq!(w.db.usage(&w.agent, start), 3);
}

#[test]
fn the_monthly_limit_counts_each_key_apart() {
    let mut w = World::new();
    w.db.create_with(t0(), &w.agent, BODY, None, Some(1))
        .unwrap();
    assert_err!(
        w.db.create_with(t0(), &w.agent, BODY, None, Some(1)),
        Error::QuotaExceeded { limit: 1, .. }
    );
    w.db.create_with(t0(), &w.other_agent, BODY, None, Some(1))
        .unwrap();
    assert_eq!(w.db.usage(&w.other_agent, t0()), 1);
}

#[test]
fn a_replay_at_the_limit_is_not_refused_nor_counted() {
    let mut w = World::new();
    let first = w.db.create_with(t0(), &w.agent, BODY, Some("k-1"), Some(1));
    let first = first.unwrap().pause.watch_id;
    let again =
        w.db.create_with(t0() + HOUR, &w.agent, BODY, Some("k-1"), Some(1))
            .unwrap();
    assert!(again.replayed);
    assert_eq!(again.pause.watch_id, first);
    assert_eq!(w.db.usage(&w.agent, t0()), 1);
    assert_err!(
        w.db.create_with(t0() + HOUR, &w.agent, BODY, Some("k-2"), Some(1)),
        Error::QuotaExceeded { .. }
    );
}

#[test]
fn a_retry_matches_its_digest_whatever_the_default_timeout_became() {
    let mut w = World::new();
    let body = r#"{"action": "Deploy v2.4.1"}"#;
    let first =
        w.db.create_with(t0(), &w.agent, body, Some("k-9"), None)
            .unwrap();
    assert_eq!(first.pause.expires_at, None);
    // The server restarted with --default-timeout 1h; the agent retries.
    let with_default = Limits {
        default_timeout_secs: Some(3600),
        ..LIMITS
    };
    let agent = w.agent.clone();
    let retry =
        w.db.write(|tx| {
            let request: CreateRequest = serde_json::from_str(body).unwrap();
            let new = request.validate(with_default, Some("k-9"))?;
            pauses::create(tx, t0() + 1, &agent, None, new, &CHANNELS)
        })
        .unwrap();
    assert!(retry.replayed, "not an idempotency conflict");
    assert_eq!(retry.pause.watch_id, first.pause.watch_id);
    // A new request does take the default.
    let request: CreateRequest = serde_json::from_str(body).unwrap();
    let new =
        w.db.write(|tx| {
            let new = request.validate(with_default, None)?;
            pauses::create(tx, t0() + 2, &agent, None, new, &CHANNELS)
        })
        .unwrap();
    assert_eq!(new.pause.expires_at, Some(t0() + 2 + 3_600_000));
}
