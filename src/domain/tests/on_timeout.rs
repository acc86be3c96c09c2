//! `onTimeout` and extending a pause's timeout: the timeout decides as asked, by
//! `system`, and says so; extending moves the deadline, for reviewers only, of
//! pending pauses only; refused requests change nothing.

use serde_json::json;

use super::*;
use crate::domain::{Error, OnTimeout, Status};

fn with_on_timeout(w: &mut World, on_timeout: &str, secs: i64) -> String {
    let body = json!({ "action": "Deploy", "timeoutSeconds": secs, "onTimeout": on_timeout });
    w.db.create(t0(), &w.agent, &body.to_string())
        .unwrap()
        .pause
        .watch_id
}

#[test]
fn the_timeout_ends_each_pause_as_its_on_timeout_says() {
    let mut w = World::new();
    let expire = with_on_timeout(&mut w, "expire", 10);
    let reject = with_on_timeout(&mut w, "reject", 10);
    let approve = with_on_timeout(&mut w, "approve", 10);
    assert_eq!(w.db.stored(&approve).on_timeout, OnTimeout::Approve);
    assert_eq!(w.db.expire(t0() + 11 * SECOND, 100).unwrap(), 3);
    for (id, status, event) in [
        (&expire, Status::Expired, "pause.expired"),
        (&reject, Status::Rejected, "pause.rejected"),
        (&approve, Status::Approved, "pause.approved"),
    ] {
        let p = w.db.stored(id);
        assert_eq!(p.status, status);
        assert_eq!(p.resolved_by.as_deref(), Some("system"));
        assert_eq!(p.resolved_at, Some(t0() + 10 * SECOND));
        assert!(p.timed_out());
        let last = w.db.audit(id).pop().unwrap();
        assert_eq!(
            (last.event.as_str(), last.actor.as_str()),
            (event, "system")
        );
        let details: serde_json::Value = serde_json::from_str(&last.details).unwrap();
        assert_eq!(details, json!({ "by": "system", "timedOut": true }));
        let hook =
            w.db.outbox(id)
                .into_iter()
                .find(|r| r.0 == Kind::Webhook)
                .unwrap();
        let hook: serde_json::Value = serde_json::from_str(&hook.2).unwrap();
        assert_eq!(hook["status"], status.as_str());
        assert_eq!(hook["timedOut"], true);
    }
}

#[test]
fn a_person_deciding_is_not_a_timeout() {
    let mut w = World::new();
    let id = with_on_timeout(&mut w, "approve", 10);
    let p =
        w.db.decide(t0() + SECOND, &w.approver, &id, Decision::Rejected, None)
            .unwrap();
    assert!(!p.timed_out());
    let hook =
        w.db.outbox(&id)
            .into_iter()
            .find(|r| r.0 == Kind::Webhook)
            .unwrap();
    let hook: serde_json::Value = serde_json::from_str(&hook.2).unwrap();
    assert_eq!(hook["timedOut"], false);
}

#[test]
fn a_bad_on_timeout_is_refused_and_stores_nothing() {
    let mut w = World::new();
    let before = w.db.footprint();
    for (body, word) in [
        (
            json!({ "action": "x", "timeoutSeconds": 5, "onTimeout": "deny" }),
            "onTimeout must be",
        ),
        (
            json!({ "action": "x", "onTimeout": "reject" }),
            "needs timeoutSeconds",
        ),
        (
            json!({ "action": "x", "kind": "question", "timeoutSeconds": 5, "onTimeout": "approve" }),
            "question",
        ),
    ] {
        let result = w.db.create(t0(), &w.agent, &body.to_string());
        assert_err!(result, Error::Validation(m) if m.contains(word));
    }
    assert_eq!(w.db.footprint(), before);
}

#[test]
fn without_on_timeout_the_digest_is_unchanged() {
    let request: CreateRequest = serde_json::from_str(r#"{"action": "Deploy"}"#).unwrap();
    let new = request.validate(LIMITS, None).unwrap();
    assert!(!serde_json::to_string(&new).unwrap().contains("on_timeout"));
    let mut w = World::new();
    let plain = r#"{"action": "Deploy", "timeoutSeconds": 5}"#;
    w.db.create_with(t0(), &w.agent, plain, Some("k1"), None)
        .unwrap();
    let other = r#"{"action": "Deploy", "timeoutSeconds": 5, "onTimeout": "approve"}"#;
    assert_err!(
        w.db.create_with(t0(), &w.agent, other, Some("k1"), None),
        Error::IdempotencyConflict
    );
}

#[test]
fn extending_moves_the_deadline_and_the_old_one_passes_quietly() {
    let mut w = World::new();
    let id = with_on_timeout(&mut w, "reject", 10);
    let (p, events) =
        w.db.write_ev(|tx| pauses::extend(tx, t0() + SECOND, &w.reviewer_key, &id, 60))
            .unwrap();
    assert_eq!(p.expires_at, Some(t0() + 70 * SECOND));
    assert!(events.iter().any(|e| matches!(e,
        Event::PauseExtended { watch_id, expires_at } if *watch_id == id && *expires_at == t0() + 70 * SECOND)));
    let last = w.db.audit(&id).pop().unwrap();
    assert_eq!(last.event, "pause.extended");
    let details: serde_json::Value = serde_json::from_str(&last.details).unwrap();
    assert_eq!(details["from"], clock::rfc3339(t0() + 10 * SECOND).as_str());
    assert_eq!(details["to"], clock::rfc3339(t0() + 70 * SECOND).as_str());
    assert_eq!(w.db.expire(t0() + 11 * SECOND, 100).unwrap(), 0);
    assert_eq!(w.db.stored(&id).status, Status::Pending);
    assert_eq!(w.db.expire(t0() + 70 * SECOND, 100).unwrap(), 1);
    assert_eq!(w.db.stored(&id).status, Status::Rejected);

    // Without a deadline: from now.
    let forever = w.db.pending(t0(), &w.agent, None).watch_id;
    let p =
        w.db.write(|tx| pauses::extend(tx, t0() + SECOND, &w.approver, &forever, 3600))
            .unwrap();
    assert_eq!(p.expires_at, Some(t0() + 3601 * SECOND));
}

#[test]
fn extending_is_refused_to_agents_out_of_range_and_once_decided() {
    let mut w = World::new();
    let id = w.db.pending(t0(), &w.agent, Some(10)).watch_id;
    let before = w.db.footprint();
    let now = t0() + SECOND;
    assert_err!(
        w.db.write(|tx| pauses::extend(tx, now, &w.agent, &id, 60)),
        Error::Forbidden(_)
    );
    for bad in [0, -5, pauses::MAX_TIMEOUT_SECS + 1] {
        assert_err!(
            w.db.write(|tx| pauses::extend(tx, now, &w.approver, &id, bad)),
            Error::Validation(_)
        );
    }
    assert_eq!(w.db.footprint(), before);
    w.db.decide(now, &w.approver, &id, Decision::Approved, None)
        .unwrap();
    assert_err!(
        w.db.write(|tx| pauses::extend(tx, now, &w.approver, &id, 60)),
        Error::AlreadyResolved(Status::Approved)
    );
    // Past its deadline but not yet swept: too late as well.
    let late = with_on_timeout(&mut w, "approve", 10);
    assert_err!(
        w.db.write(|tx| pauses::extend(tx, t0() + 10 * SECOND, &w.approver, &late, 60)),
        Error::AlreadyResolved(Status::Approved)
    );
}
