//! Expiry: the sweep turns pending pauses past their deadline into `expired`, as of
//! the deadline, and reports when the next one is due.

use super::*;
use crate::domain::{Error, Status};

#[test]
fn nothing_expires_before_its_deadline() {
    let mut w = World::new();
    let id = w.db.pending(t0(), &w.agent, Some(60)).watch_id;
    w.db.pending(t0(), &w.agent, None);
    let before = w.db.footprint();
    assert_eq!(w.db.expire(t0() + 60 * SECOND - 1, 100).unwrap(), 0);
    assert_eq!(w.db.stored(&id).status, Status::Pending);
    assert_eq!(w.db.footprint(), before);
}

#[test]
fn the_sweep_expires_exactly_the_due_pauses_as_of_their_deadlines() {
    let mut w = World::new();
    let due_10 = w.db.pending(t0(), &w.agent, Some(10)).watch_id;
    let due_20 = w.db.pending(t0(), &w.other_agent, Some(20)).watch_id;
    let later = w.db.pending(t0(), &w.agent, Some(30)).watch_id;
    let forever = w.db.pending(t0(), &w.agent, None).watch_id;
    let decided = w.db.pending(t0(), &w.agent, Some(10)).watch_id;
    w.db.decide(
        t0() + SECOND,
        &w.approver,
        &decided,
        Decision::Approved,
        None,
    )
    .unwrap();

    let now = t0() + 25 * SECOND;
    let (expired, events) =
        w.db.write_ev(|tx| pauses::expire_due(tx, now, 100, &CHANNELS))
            .unwrap();
    assert_eq!(expired, 2);
    for (id, deadline) in [(&due_10, t0() + 10 * SECOND), (&due_20, t0() + 20 * SECOND)] {
        let p = w.db.stored(id);
        assert_eq!(p.status, Status::Expired);
        assert_eq!(
            p.resolved_at,
            Some(deadline),
            "as of the deadline, not the sweep"
        );
        assert_eq!(p.resolved_by.as_deref(), Some("system"));
        assert_eq!(p.comment, None);
        let audit = w.db.audit(id);
        let last = audit.last().unwrap();
        assert_eq!(
            (last.event.as_str(), last.actor.as_str(), last.at),
            ("pause.expired", "system", now),
            "the audit log records when it was written"
        );
        assert!(events.iter().any(|e| matches!(e,
            Event::PauseResolved { watch_id, status: Status::Expired, .. } if watch_id == id)));
    }
    assert_eq!(w.db.stored(&later).status, Status::Pending);
    assert_eq!(w.db.stored(&forever).status, Status::Pending);
    assert_eq!(w.db.stored(&decided).status, Status::Approved);

    // The agent's webhook hears "expired", never "rejected".
    let hooks: Vec<serde_json::Value> =
        w.db.outbox(&due_10)
            .into_iter()
            .filter(|r| r.0 == Kind::Webhook)
            .map(|r| serde_json::from_str(&r.2).unwrap())
            .collect();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["status"], "expired");
    assert_eq!(hooks[0]["resolvedBy"], "system");
    assert_eq!(
        hooks[0]["resolvedAt"],
        clock::rfc3339(t0() + 10 * SECOND).as_str()
    );

    // A second sweep at the same time finds nothing more.
    let before = w.db.footprint();
    assert_eq!(w.db.expire(now, 100).unwrap(), 0);
    assert_eq!(w.db.footprint(), before);
}

#[test]
fn the_sweep_takes_at_most_a_batch_earliest_deadline_first() {
    let mut w = World::new();
    // Created in the opposite order of their deadlines.
    let ids: Vec<String> = (1..=5)
        .rev()
        .map(|secs| w.db.pending(t0(), &w.agent, Some(secs)).watch_id)
        .collect();
    let now = t0() + HOUR;
    let expired_ids = |db: &Db| -> Vec<String> {
        ids.iter()
            .filter(|id| db.stored(id).status == Status::Expired)
            .cloned()
            .collect()
    };
    assert_eq!(w.db.expire(now, 2).unwrap(), 2);
    assert_eq!(expired_ids(&w.db), ids[3..], "deadlines 2s and 1s first");
    assert_eq!(w.db.expire(now, 2).unwrap(), 2);
    assert_eq!(w.db.expire(now, 2).unwrap(), 1);
    assert_eq!(w.db.expire(now, 2).unwrap(), 0);
    assert_eq!(expired_ids(&w.db), ids);
}

#[test]
fn next_expiry_is_the_earliest_pending_deadline() {
    let mut w = World::new();
    let next = |db: &Db| pauses::next_timer(db.conn()).unwrap();
    assert_eq!(next(&w.db), None, "no pauses");
    w.db.pending(t0(), &w.agent, None);
    assert_eq!(next(&w.db), None, "a pause without a timeout never expires");
    let later = w.db.pending(t0(), &w.agent, Some(30)).watch_id;
    let sooner = w.db.pending(t0() + SECOND, &w.agent, Some(10)).watch_id;
    assert_eq!(next(&w.db), Some(t0() + 11 * SECOND));
    w.db.decide(
        t0() + 2 * SECOND,
        &w.approver,
        &sooner,
        Decision::Approved,
        None,
    )
    .unwrap();
    assert_eq!(
        next(&w.db),
        Some(t0() + 30 * SECOND),
        "a decided one is not due"
    );
    assert_eq!(w.db.expire(t0() + 30 * SECOND, 100).unwrap(), 1);
    assert_eq!(w.db.stored(&later).status, Status::Expired);
    assert_eq!(next(&w.db), None);
}

#[test]
fn an_expired_pause_stays_expired() {
    let mut w = World::new();
    let id = w.db.pending(t0(), &w.agent, Some(10)).watch_id;
    assert_eq!(w.db.expire(t0() + 10 * SECOND, 100).unwrap(), 1);
    let before = w.db.footprint();
    let at = t0() + HOUR;
    assert_err!(
        w.db.decide(at, &w.approver, &id, Decision::Approved, None),
        Error::AlreadyResolved(Status::Expired)
    );
    assert_err!(
        w.db.cancel(at, &w.agent, &id),
        Error::AlreadyResolved(Status::Expired)
    );
    assert_eq!(w.db.footprint(), before);
    assert_eq!(w.db.stored(&id).resolved_at, Some(t0() + 10 * SECOND));
}
