//! Deciding: who may, what a decision records, and that exactly one decision wins.

use std::sync::Barrier;

use super::*;
use crate::db::Store;
use crate::domain::{Error, Status};

/// The webhook rows of a pause, as parsed payloads.
fn webhooks(db: &Db, watch_id: &str) -> Vec<(String, serde_json::Value)> {
    db.outbox(watch_id)
        .into_iter()
        .filter(|(kind, ..)| *kind == Kind::Webhook)
        .map(|(_, target, payload)| (target, serde_json::from_str(&payload).unwrap()))
        .collect()
}

#[test]
fn agent_keys_cannot_decide() {
    let mut w = World::new();
    let id = w.db.pending(t0(), &w.agent, None).watch_id;
    let before = w.db.footprint();
    for who in [&w.agent, &w.other_agent] {
        for decision in [Decision::Approved, Decision::Rejected] {
            assert_err!(
                w.db.decide(t0(), who, &id, decision, None),
                Error::Forbidden(_)
            );
        }
    }
    assert_eq!(w.db.stored(&id).status, Status::Pending);
    assert_eq!(w.db.footprint(), before);
}

#[test]
fn an_approval_records_who_when_and_why_and_queues_the_webhook() {
    let mut w = World::new();
    let id = w.db.pending(t0(), &w.agent, Some(600)).watch_id;
    let at = t0() + 5 * SECOND;
    let (p, events) =
        w.db.write_ev(|tx| {
            let comment = Some("  looks good \n".into());
            pauses::decide(
                tx,
                at,
                &w.approver,
                &id,
                pauses::Verdict::new(Decision::Approved, comment, None),
                &CHANNELS,
            )
        })
        .unwrap();
    let stored = w.db.stored(&id);
    for p in [&p, &stored] {
        assert_eq!(p.status, Status::Approved);
        assert_eq!(p.resolved_by.as_deref(), Some("ann@example.com"));
        assert_eq!(p.resolved_at, Some(at));
        assert_eq!(p.comment.as_deref(), Some("looks good"));
    }

    let audit = w.db.audit(&id);
    let last = audit.last().unwrap();
    assert_eq!(
        (last.event.as_str(), last.actor.as_str(), last.at),
        ("pause.approved", "user:ann@example.com", at)
    );

    assert!(events.iter().any(|e| matches!(e,
        Event::PauseResolved { watch_id, status: Status::Approved, .. } if *watch_id == id)));
    assert!(events.iter().any(|e| matches!(e, Event::OutboxReady)));

    let hooks = webhooks(&w.db, &id);
    assert_eq!(hooks.len(), 1);
    let (target, payload) = &hooks[0];
    assert_eq!(target, AGENT_HOOK);
    assert_eq!(payload["watchId"], id.as_str());
    assert_eq!(payload["status"], "approved");
    assert_eq!(payload["resolvedBy"], "ann@example.com");
    assert_eq!(payload["comment"], "looks good");
    assert_eq!(payload["resolvedAt"], clock::rfc3339(at).as_str());
    assert_eq!(payload["agentContext"]["action"], "Deploy v2.4.1");
    let slack = w.db.outbox(&id).into_iter().filter(|r| r.0 == Kind::Slack);
    assert_eq!(slack.count(), 2, "one when created, one when decided");
}

#[test]
fn a_rejection_by_a_reviewer_key_is_recorded_as_its_user() {
    let mut w = World::new();
    let id = w.db.pending(t0(), &w.agent, None).watch_id;
    let p =
        w.db.decide(
            t0() + 1,
            &w.reviewer_key,
            &id,
            Decision::Rejected,
            Some("   "),
        )
        .unwrap();
    assert_eq!(p.status, Status::Rejected);
    let stored = w.db.stored(&id);
    assert_eq!(stored.status, Status::Rejected);
    assert_eq!(stored.resolved_by.as_deref(), Some("ann@example.com"));
    assert_eq!(stored.comment, None, "a blank comment is no comment");
    let actor = format!("key:{}", w.reviewer_key.key_id().unwrap());
    assert_eq!(w.db.audit(&id).last().map(|e| e.actor.clone()), Some(actor));
    assert_eq!(webhooks(&w.db, &id)[0].1["status"], "rejected");
}

#[test]
fn the_webhook_goes_to_the_pause_url_else_the_key_url_else_nowhere() {
    let mut w = World::new();
    let own = r#"{"action": "a", "webhookUrl": "https://own.example.com/h"}"#;
    let own = w.db.create(t0(), &w.agent, own).unwrap().pause.watch_id;
    let silent = w.db.pending(t0(), &w.other_agent, None).watch_id;
    for id in [&own, &silent] {
        w.db.decide(t0(), &w.admin, id, Decision::Approved, None)
            .unwrap();
    }
    let targets: Vec<String> = webhooks(&w.db, &own).into_iter().map(|h| h.0).collect();
    assert_eq!(targets, ["https://own.example.com/h"]);
    assert!(webhooks(&w.db, &silent).is_empty());
}

#[test]
fn a_second_decision_is_already_resolved_with_the_current_status() {
    let mut w = World::new();
    let id = w.db.pending(t0(), &w.agent, None).watch_id;
    w.db.decide(t0(), &w.approver, &id, Decision::Approved, Some("ok"))
        .unwrap();
    let before = w.db.footprint();
    for (who, decision) in [
        (&w.admin, Decision::Rejected),
        (&w.reviewer_key, Decision::Approved),
    ] {
        assert_err!(
            w.db.decide(t0() + HOUR, who, &id, decision, Some("late")),
            Error::AlreadyResolved(Status::Approved)
        );
    }
    let stored = w.db.stored(&id);
    assert_eq!(
        (stored.status, stored.comment.as_deref(), stored.resolved_at),
        (Status::Approved, Some("ok"), Some(t0()))
    );
    assert_eq!(w.db.footprint(), before);

    let cancelled = w.db.pending(t0(), &w.agent, None).watch_id;
    w.db.cancel(t0(), &w.agent, &cancelled).unwrap();
    assert_err!(
        w.db.decide(t0(), &w.approver, &cancelled, Decision::Approved, None),
        Error::AlreadyResolved(Status::Cancelled)
    );
}

#[test]
fn a_pause_past_its_deadline_is_expired_even_before_the_sweep() {
    let mut w = World::new();
    let on_time = w.db.pending(t0(), &w.agent, Some(60)).watch_id;
    let late = w.db.pending(t0(), &w.agent, Some(60)).watch_id;
    let deadline = t0() + 60 * SECOND;
    w.db.decide(
        deadline - 1,
        &w.approver,
        &on_time,
        Decision::Approved,
        None,
    )
    .unwrap();
    let before = w.db.footprint();
    assert_err!(
        w.db.decide(deadline, &w.approver, &late, Decision::Approved, None),
        Error::AlreadyResolved(Status::Expired)
    );
    // The refusal changes nothing; the sweep records the expiry.
    assert_eq!(w.db.stored(&late).status, Status::Pending);
    assert_eq!(w.db.footprint(), before);
    assert_eq!(w.db.stored(&on_time).status, Status::Approved);
}

#[test]
fn an_unknown_pause_or_a_too_long_comment_is_refused() {
    let mut w = World::new();
    let id = w.db.pending(t0(), &w.agent, None).watch_id;
    assert_err!(
        w.db.decide(t0(), &w.approver, "wch_nope", Decision::Approved, None),
        Error::NotFound(_)
    );
    let long = "x".repeat(pauses::MAX_COMMENT_BYTES + 1);
    let before = w.db.footprint();
    assert_err!(
        w.db.decide(t0(), &w.approver, &id, Decision::Approved, Some(&long)),
        Error::Validation(m) if m.contains("comment")
    );
    assert_eq!(w.db.footprint(), before);
    assert_eq!(w.db.stored(&id).status, Status::Pending);
}

#[test]
fn two_decisions_in_turn_one_wins() {
    let mut w = World::new();
    let id = w.db.pending(t0(), &w.agent, None).watch_id;
    let first =
        w.db.decide(t0(), &w.approver, &id, Decision::Rejected, Some("no"));
    let second =
        w.db.decide(t0(), &w.reviewer_key, &id, Decision::Approved, Some("yes"));
    assert_eq!(first.unwrap().status, Status::Rejected);
    assert_err!(second, Error::AlreadyResolved(Status::Rejected));
    let hooks = webhooks(&w.db, &id);
    assert_eq!(
        hooks.len(),
        1,
        "one webhook, never two with different statuses"
    );
    assert_eq!(hooks[0].1["status"], "rejected");
    let decisions =
        w.db.audit(&id)
            .into_iter()
            .filter(|e| e.event != "pause.created");
    assert_eq!(decisions.count(), 1);
}

#[test]
fn two_threads_deciding_at_once_on_one_database_file_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = World::on(store.connect().unwrap());
    let mut conns = [store.connect().unwrap(), store.connect().unwrap()];
    let deciders = [
        (w.approver.clone(), Decision::Approved),
        (w.reviewer_key.clone(), Decision::Rejected),
    ];
    let mut wins = [0; 2];
    for round in 0..20 {
        let id = w.db.pending(t0() + round, &w.agent, None).watch_id;
        let start = Barrier::new(2);
        let results: Vec<Result<Pause>> = std::thread::scope(|s| {
            let threads: Vec<_> = conns
                .iter_mut()
                .zip(&deciders)
                .map(|(conn, (who, decision))| {
                    let (id, start) = (&id, &start);
                    s.spawn(move || {
                        start.wait();
                        db::with_tx(conn, |tx| {
                            pauses::decide(
                                tx,
                                t0() + HOUR,
                                who,
                                id,
                                pauses::Verdict::new(*decision, None, None),
                                &CHANNELS,
                            )
                        })
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let winner = match (&results[0], &results[1]) {
            (Ok(p), Err(Error::AlreadyResolved(s))) => {
                wins[0] += 1;
                assert_eq!((p.status, *s), (Status::Approved, Status::Approved));
                Status::Approved
            }
            (Err(Error::AlreadyResolved(s)), Ok(p)) => {
                wins[1] += 1;
                assert_eq!((p.status, *s), (Status::Rejected, Status::Rejected));
                Status::Rejected
            }
            other => panic!("round {round}: not exactly one winner: {other:?}"),
        };
        assert_eq!(w.db.stored(&id).status, winner);
        let hooks = webhooks(&w.db, &id);
        assert_eq!(hooks.len(), 1, "round {round}");
        assert_eq!(hooks[0].1["status"], winner.as_str());
    }
    assert_eq!(wins[0] + wins[1], 20);
}

/// One rule for every decision taken outside the review page (chat buttons, links,
/// notification actions): questions, forms and edited pauses only on the page; one
/// tap never approves a high or critical risk.
#[test]
fn decisions_outside_the_page_follow_one_rule() {
    use crate::domain::pauses::{allowed_outside, Outside};
    use crate::domain::Risk;
    let plain = crate::model::pause::Pause::example("wch_x", "deploy");
    for how in [Outside::Message, Outside::OneTap] {
        assert!(allowed_outside(&plain, Decision::Approved, how).is_ok());
        assert!(allowed_outside(&plain, Decision::Rejected, how).is_ok());
    }
    let question = crate::model::pause::Pause {
        kind: crate::domain::Kind::Question,
        ..plain.clone()
    };
    assert!(allowed_outside(&question, Decision::Rejected, Outside::Message).is_err());
    let form = crate::model::pause::Pause {
        response_schema: Some("{}".into()),
        ..plain.clone()
    };
    assert!(allowed_outside(&form, Decision::Approved, Outside::Message).is_err());
    assert!(allowed_outside(&form, Decision::Rejected, Outside::Message).is_ok());
    let edited = crate::model::pause::Pause {
        approved_context: Some(r#"{"env":"staging"}"#.into()),
        ..plain.clone()
    };
    assert_err!(
        allowed_outside(&edited, Decision::Approved, Outside::Message),
        Error::Conflict(m) if m.contains("changed what would be approved")
    );
    assert!(allowed_outside(&edited, Decision::Rejected, Outside::OneTap).is_ok());
    for risk in [Risk::High, Risk::Critical] {
        let risky = crate::model::pause::Pause {
            risk: Some(risk),
            ..plain.clone()
        };
        assert!(allowed_outside(&risky, Decision::Approved, Outside::Message).is_ok());
        assert!(allowed_outside(&risky, Decision::Approved, Outside::OneTap).is_err());
    }
}
