//! Separation of duties and quorum: the owner of a key never decides its pauses, and a
//! pause that needs several approvals ends once, announced only at its end.

use super::*;
use crate::domain::{Error, Status};

/// An agent key run by ann (the world's approver).
fn owned_by_ann(w: &mut World) -> Principal {
    let new = NewKey {
        name: "ann-bot".into(),
        owner_email: Some(" ANN@example.com ".into()),
        ..NewKey::default()
    };
    let created =
        w.db.write(|tx| keys::create(tx, t0(), &Actor::Cli, new))
            .unwrap();
    assert_eq!(created.owner_email.as_deref(), Some("ann@example.com"));
    Principal::Agent(KeyRef {
        id: created.id,
        name: created.name,
    })
}

fn needing(w: &mut World, who: &Principal, n: u32) -> String {
    let body = serde_json::json!({ "action": "Deploy", "requiredApprovals": n });
    w.db.create(t0(), who, &body.to_string())
        .unwrap()
        .pause
        .watch_id
}

#[test]
fn the_owner_is_refused_on_every_path_and_nothing_changes() {
    let mut w = World::new();
    let agent = owned_by_ann(&mut w);
    let id = w.db.pending(t0(), &agent, None).watch_id;
    let before = w.db.footprint();
    for who in [&w.approver, &w.reviewer_key] {
        for decision in [Decision::Approved, Decision::Rejected] {
            assert_err!(
                w.db.decide(t0(), who, &id, decision, None),
                Error::SelfApproval(_)
            );
        }
    }
    assert_eq!(w.db.footprint(), before);
    let q =
        w.db.create(t0(), &agent, r#"{"action":"which?","kind":"question"}"#)
            .unwrap()
            .pause
            .watch_id;
    let before_q = w.db.footprint();
    assert_err!(
        w.db.write(|tx| pauses::answer(tx, t0(), &w.approver, &q, "x", &CHANNELS)),
        Error::SelfApproval(_)
    );
    assert_eq!(w.db.footprint(), before_q);
    assert_eq!(w.db.stored(&id).status, Status::Pending);
    // Another reviewer decides; an admin may still cancel.
    assert_eq!(
        w.db.decide(t0(), &w.admin, &id, Decision::Approved, None)
            .unwrap()
            .status,
        Status::Approved
    );
    assert_eq!(
        w.db.cancel(t0(), &w.admin, &q).unwrap().status,
        Status::Cancelled
    );
}

#[test]
fn a_quorum_counts_distinct_people_and_announces_only_its_end() {
    let mut w = World::new();
    let agent = w.agent.clone();
    let id = needing(&mut w, &agent, 2);
    let (p, events) =
        w.db.write_ev(|tx| {
            pauses::decide(
                tx,
                t0() + 1,
                &w.approver,
                &id,
                pauses::Verdict::new(Decision::Approved, Some("one".into()), None),
                &CHANNELS,
            )
        })
        .unwrap();
    assert_eq!(p.status, Status::Pending);
    assert_eq!(p.approvals.len(), 1);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::PauseResolved { .. })),
        "an intermediate approval wakes nobody"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::PauseUpdated { watch_id } if *watch_id == id)));
    assert!(w
        .db
        .outbox(&id)
        .iter()
        .all(|(kind, ..)| *kind != Kind::Webhook));

    // The same person again, by their key this time: refused, nothing changes.
    let before = w.db.footprint();
    assert_err!(
        w.db.decide(t0() + 2, &w.reviewer_key, &id, Decision::Approved, None),
        Error::AlreadyVoted
    );
    assert_eq!(w.db.footprint(), before);

    let (p, events) =
        w.db.write_ev(|tx| {
            pauses::decide(
                tx,
                t0() + 3,
                &w.admin,
                &id,
                pauses::Verdict::new(Decision::Approved, None, None),
                &CHANNELS,
            )
        })
        .unwrap();
    assert_eq!(p.status, Status::Approved);
    assert_eq!(w.db.stored(&id).approvals, p.approvals);
    assert_eq!(p.approvals.len(), 2);
    assert_eq!(p.approvals[0].comment.as_deref(), Some("one"));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::PauseResolved {
            status: Status::Approved,
            ..
        }
    )));
    let hooks: Vec<_> =
        w.db.outbox(&id)
            .into_iter()
            .filter(|(kind, ..)| *kind == Kind::Webhook)
            .collect();
    assert_eq!(hooks.len(), 1);
    let payload: serde_json::Value = serde_json::from_str(&hooks[0].2).unwrap();
    assert_eq!(payload["requiredApprovals"], 2);
    assert_eq!(payload["approvals"].as_array().unwrap().len(), 2);
}

#[test]
fn a_rejection_ends_a_quorum_and_bad_counts_are_refused() {
    let mut w = World::new();
    let agent = w.agent.clone();
    let id = needing(&mut w, &agent, 3);
    w.db.decide(t0(), &w.approver, &id, Decision::Approved, None)
        .unwrap();
    let p =
        w.db.decide(t0(), &w.admin, &id, Decision::Rejected, Some("no"))
            .unwrap();
    assert_eq!(p.status, Status::Rejected);
    let before = w.db.footprint();
    for bad in ["0", "11", "-3"] {
        let body = format!(r#"{{"action":"x","requiredApprovals":{bad}}}"#);
        assert_err!(w.db.create(t0(), &agent, &body), Error::Validation(_));
    }
    assert_eq!(w.db.footprint(), before);
}
