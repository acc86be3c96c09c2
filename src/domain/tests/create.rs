//! Creating a pause: what a valid request stores, what an invalid one does not, and
//! who may create at all.

use serde_json::json;

use super::*;
use crate::domain::{Error, Status};

#[test]
fn a_valid_request_stores_a_pending_pause_with_its_audit_entry_and_event() {
    let mut w = World::new();
    let now = t0();
    let body = json!({
        "action": "Deploy to production (v2.4.1)",
        "context": { "environment": "prod", "commit": "a3f9b2e" },
        "timeoutSeconds": 3600,
        "tags": ["deploy", "prod", "deploy"],
    });
    let request: CreateRequest = serde_json::from_str(&body.to_string()).unwrap();
    let new = request.validate(LIMITS, None).unwrap();
    let (created, events) =
        w.db.write_ev(|tx| pauses::create(tx, now, &w.agent, None, new, &CHANNELS))
            .unwrap();
    assert!(!created.replayed);
    let p = created.pause;
    assert!(watch_id_tail(&p.watch_id).is_some(), "{}", p.watch_id);

    // What was returned is what was stored.
    let stored = w.db.stored(&p.watch_id);
    assert_eq!(stored.id, p.id);
    assert_eq!(stored.status, Status::Pending);
    assert_eq!(stored.action, "Deploy to production (v2.4.1)");
    assert_eq!(
        stored.context.as_deref(),
        Some(r#"{"environment":"prod","commit":"a3f9b2e"}"#)
    );
    assert_eq!(stored.tags, ["deploy", "prod"], "trimmed and deduplicated");
    assert_eq!(stored.key_id, w.agent.key_id().unwrap());
    assert_eq!(stored.key_name, "deploy-bot");
    assert_eq!(stored.created_at, now);
    assert_eq!(stored.expires_at, Some(now + 3600 * SECOND));
    assert_eq!(
        (stored.resolved_at, stored.resolved_by, stored.comment),
        (None, None, None)
    );
    assert_eq!(w.db.count("pause_tags"), 2);
    assert_eq!(w.db.usage(&w.agent, now), 1, "counted for the quota");

    let audit = w.db.audit(&p.watch_id);
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].event, "pause.created");
    assert_eq!(audit[0].actor, format!("key:{}", w.agent.key_id().unwrap()));
    assert_eq!(audit[0].at, now);
    assert_eq!(
        audit[0].details,
        format!(
            r#"{{"key":"deploy-bot","kind":"decision","tags":["deploy","prod"],"expiresAt":"{}","onTimeout":"expire","policy":null,"reviewers":null,"requiredApprovals":1}}"#,
            crate::clock::rfc3339(now + 3600 * SECOND)
        )
    );

    assert!(
        events.iter().any(|e| matches!(e,
            Event::PauseCreated { watch_id, wake_at, key_name }
                if *watch_id == p.watch_id && *wake_at == Some(now + 3600 * SECOND)
                    && *key_name == p.key_name)),
        "{events:?}"
    );
    // Mail to both users (both want mail by default) and one Slack message.
    let kinds: Vec<Kind> = w.db.outbox(&p.watch_id).into_iter().map(|r| r.0).collect();
    assert_eq!(kinds, [Kind::Email, Kind::Email, Kind::Slack]);
    assert!(events.iter().any(|e| matches!(e, Event::OutboxReady)));
}

#[test]
fn watch_ids_are_long_random_and_distinct() {
    let mut w = World::new();
    let a = w.db.pending(t0(), &w.agent, None).watch_id;
    let b = w.db.pending(t0(), &w.agent, None).watch_id;
    assert_ne!(a, b, "two pauses in the same millisecond");
    let (ta, tb) = (watch_id_tail(&a).unwrap(), watch_id_tail(&b).unwrap());
    // The same instant gives the same time prefix; the random part must differ.
    assert_ne!(ta[ta.len() - 22..], tb[tb.len() - 22..]);
    assert_eq!(watch_id_tail("wch_short"), None, "the check itself rejects");
}

#[test]
fn a_pause_without_a_timeout_never_expires_and_has_no_context() {
    let mut w = World::new();
    let p =
        w.db.create(
            t0(),
            &w.agent,
            r#"{"action": "Rotate keys", "context": null}"#,
        )
        .unwrap()
        .pause;
    let stored = w.db.stored(&p.watch_id);
    assert_eq!(stored.expires_at, None);
    assert_eq!(stored.context, None);
    assert!(stored.tags.is_empty());
}

#[test]
fn the_limits_themselves_are_allowed() {
    let mut w = World::new();
    let tags: Vec<String> = (0..pauses::MAX_TAGS).map(|i| format!("t{i}")).collect();
    let body = json!({
        "action": "x".repeat(pauses::MAX_ACTION_BYTES),
        "timeoutSeconds": pauses::MAX_TIMEOUT_SECS,
        "tags": tags,
        "context": { "pad": "y".repeat(LIMITS.max_context_bytes - 10) },
    });
    let p =
        w.db.create(t0(), &w.agent, &body.to_string())
            .unwrap()
            .pause;
    assert_eq!(p.tags.len(), pauses::MAX_TAGS);
    assert_eq!(p.expires_at, Some(t0() + pauses::MAX_TIMEOUT_SECS * SECOND));
    assert_eq!(p.context.map(|c| c.len()), Some(LIMITS.max_context_bytes));
}

/// Bodies the rules must refuse, each with a word its message must contain.
fn invalid_bodies() -> Vec<(String, &'static str)> {
    let tags: Vec<String> = (0..=pauses::MAX_TAGS).map(|i| format!("t{i}")).collect();
    vec![
        (json!({ "action": "" }).to_string(), "action"),
        (json!({ "action": " \n\t " }).to_string(), "action"),
        (
            json!({ "action": "\u{200B}\u{202E}\u{FEFF}" }).to_string(),
            "visible",
        ),
        (
            json!({ "action": "x".repeat(pauses::MAX_ACTION_BYTES + 1) }).to_string(),
            "action",
        ),
        // 1,001 two-byte characters: the limit is in bytes, not characters.
        (json!({ "action": "é".repeat(1_001) }).to_string(), "action"),
        (json!({ "action": "a", "tags": tags }).to_string(), "tags"),
        (
            json!({ "action": "a", "tags": ["ok", "  "] }).to_string(),
            "tags",
        ),
        (
            json!({ "action": "a", "tags": ["x".repeat(65)] }).to_string(),
            "tag",
        ),
        (
            json!({ "action": "a", "timeoutSeconds": 0 }).to_string(),
            "timeoutSeconds",
        ),
        (
            json!({ "action": "a", "timeoutSeconds": -5 }).to_string(),
            "timeoutSeconds",
        ),
        (
            json!({ "action": "a", "timeoutSeconds": pauses::MAX_TIMEOUT_SECS + 1 }).to_string(),
            "timeoutSeconds",
        ),
        (
            json!({ "action": "a", "webhookUrl": "not a url" }).to_string(),
            "webhookUrl",
        ),
        (
            json!({ "action": "a", "webhookUrl": "ftp://example.com/x" }).to_string(),
            "webhookUrl",
        ),
        (
            json!({ "action": "a", "webhookUrl": "file:///etc/passwd" }).to_string(),
            "webhookUrl",
        ),
        (
            r#"{"action": "a", "context": {"env": "dev", "env": "prod"}}"#.into(),
            "context.env",
        ),
        (
            r#"{"action": "a", "context": {"a": [{"b": 1, "b": 2}]}}"#.into(),
            "more than once",
        ),
    ]
}

#[test]
fn invalid_requests_are_refused_and_change_nothing() {
    let mut w = World::new();
    w.db.pending(t0(), &w.agent, None);
    let before = w.db.footprint();
    for (body, word) in invalid_bodies() {
        match w.db.create(t0(), &w.agent, &body) {
            Err(Error::Validation(message)) => {
                assert!(message.contains(word), "{message:?} for {body}")
            }
            Err(e) => panic!("expected a validation error for {body}, got {e:?}"),
            Ok(c) => panic!("accepted {body} as {}", c.pause.watch_id),
        }
        assert_eq!(w.db.footprint(), before, "after {body}");
    }
    assert_eq!(w.db.usage(&w.agent, t0()), 1);
}

#[test]
fn a_context_over_the_limit_is_too_large_and_changes_nothing() {
    let mut w = World::new();
    let before = w.db.footprint();
    let body = json!({ "action": "a", "context": { "pad": "y".repeat(LIMITS.max_context_bytes) } });
    assert_err!(
        w.db.create(t0(), &w.agent, &body.to_string()),
        Error::PayloadTooLarge(m) if m.contains("context")
    );
    assert_eq!(w.db.footprint(), before);
}

#[test]
fn reviewers_cannot_create_pauses() {
    let mut w = World::new();
    let before = w.db.footprint();
    for who in [&w.reviewer_key, &w.approver, &w.admin] {
        assert_err!(
            w.db.create(t0(), who, r#"{"action": "Approve myself"}"#),
            Error::Forbidden(_)
        );
    }
    assert_eq!(w.db.footprint(), before);
}
