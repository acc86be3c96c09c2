//! Routing policies: the first match routes a pause; only its routed reviewers (or an
//! away member's delegate, while away) decide; reminders and escalation fall due on the
//! timer's clock.

use super::*;
use crate::domain::policies::{self, NewPolicy};
use crate::domain::{groups, users, Error, Risk, Status};

/// ann (approver) in `ops`; bob (approver) in `leads`; root (admin) in neither.
fn world_with_groups() -> (World, Principal) {
    let mut w = World::new();
    let bob =
        w.db.write(|tx| {
            let id = db::users::insert(
                tx,
                "bob@example.com",
                Role::Approver,
                "pbkdf2-sha256$1$x$x",
                t0(),
            )?;
            groups::create(tx, t0(), &Actor::Cli, "ops")?;
            groups::create(tx, t0(), &Actor::Cli, "leads")?;
            groups::add(tx, t0(), &Actor::Cli, "ops", &["ann@example.com".into()])?;
            groups::add(tx, t0(), &Actor::Cli, "leads", &["bob@example.com".into()])?;
            Ok(Reviewer {
                user_id: id,
                email: "bob@example.com".into(),
                role: Role::Approver,
            })
        })
        .unwrap();
    (w, Principal::User(bob))
}

fn add_policy(w: &mut World, new: NewPolicy) -> policies::Policy {
    w.db.write(|tx| policies::add(tx, t0(), &Actor::Cli, new))
        .unwrap()
}

fn routed_to_ops(name: &str) -> NewPolicy {
    NewPolicy {
        name: name.into(),
        reviewers: vec!["ops".into()],
        ..NewPolicy::default()
    }
}

#[test]
fn conditions_all_hold_and_the_first_match_wins() {
    let policy = policies::Policy {
        name: "p".into(),
        position: 1,
        tags: vec!["prod".into(), "live".into()],
        key: Some("deploy-bot".into()),
        action: Some("Deploy *".into()),
        risk: Some(Risk::High),
        reviewers: vec!["ops".into()],
        approvals: 1,
        remind_every: None,
        escalate_after: None,
        escalate_to: None,
        on_timeout: None,
        created_at: 0,
    };
    let tags = ["live".to_string()];
    let request = |key, action, risk| policies::Request {
        key_name: key,
        action,
        tags: &tags,
        risk,
    };
    assert!(policy.matches(&request("deploy-bot", "Deploy api", Some(Risk::Critical))));
    assert!(!policy.matches(&request("deploy-bot", "Deploy api", Some(Risk::Medium))));
    assert!(!policy.matches(&request("deploy-bot", "Deploy api", None)));
    assert!(!policy.matches(&request("other-bot", "Deploy api", Some(Risk::High))));
    assert!(!policy.matches(&request("deploy-bot", "Rollback api", Some(Risk::High))));
    let untagged = policies::Request {
        tags: &[],
        ..request("deploy-bot", "Deploy api", Some(Risk::High))
    };
    assert!(!policy.matches(&untagged));
    let catch_all = policies::Policy {
        tags: vec![],
        key: None,
        action: None,
        risk: None,
        ..policy
    };
    assert!(catch_all.matches(&untagged));

    let (mut w, _) = world_with_groups();
    add_policy(
        &mut w,
        NewPolicy {
            tags: vec!["prod".into()],
            approvals: Some(2),
            ..routed_to_ops("prod")
        },
    );
    add_policy(
        &mut w,
        NewPolicy {
            reviewers: vec!["leads".into()],
            ..routed_to_ops("rest")
        },
    );
    let agent = w.agent.clone();
    let p =
        w.db.create(t0(), &agent, r#"{"action":"a","tags":["prod"]}"#)
            .unwrap()
            .pause;
    // The audit entry says where it went, in this form.
    assert_eq!(
        w.db.audit(&p.watch_id)[0].details,
        r#"{"key":"deploy-bot","kind":"decision","tags":["prod"],"expiresAt":null,"onTimeout":"expire","policy":"prod","reviewers":["ops"],"requiredApprovals":2}"#
    );
    let r = p.routing.unwrap();
    assert_eq!(
        (r.policy.as_str(), r.reviewers),
        ("prod", vec!["ops".to_string()])
    );
    assert_eq!(p.required_approvals, 2);
    let p =
        w.db.create(t0(), &agent, r#"{"action":"a"}"#)
            .unwrap()
            .pause;
    assert_eq!(p.routing.unwrap().policy, "rest");
    // Moved first, "rest" catches everything.
    w.db.write(|tx| policies::move_before(tx, t0(), &Actor::Cli, "rest", "prod"))
        .unwrap();
    let p =
        w.db.create(t0(), &agent, r#"{"action":"a","tags":["prod"]}"#)
            .unwrap()
            .pause;
    assert_eq!(p.routing.unwrap().policy, "rest");
    assert_eq!(p.required_approvals, 1);
}

#[test]
fn only_routed_reviewers_decide_and_a_refusal_changes_nothing() {
    let (mut w, bob) = world_with_groups();
    add_policy(&mut w, routed_to_ops("all"));
    let agent = w.agent.clone();
    let id = w.db.pending(t0(), &agent, Some(3600)).watch_id;
    let before = w.db.footprint();
    for who in [&w.admin, &bob] {
        assert_err!(
            w.db.decide(t0(), who, &id, Decision::Approved, None),
            Error::NotAReviewer(m) if m.contains("ops")
        );
        assert_err!(
            w.db.write(|tx| pauses::extend(tx, t0(), who, &id, 60)),
            Error::NotAReviewer(_)
        );
    }
    assert_eq!(w.db.footprint(), before);
    // The queue of each: only what is theirs.
    let seat = |p: &Principal| pauses::Seat::of(p.reviewer().unwrap(), t0());
    let (queue, n) = pauses::queue(w.db.conn(), 50, seat(&w.admin)).unwrap();
    assert!(queue.is_empty() && n == 0);
    let (queue, n) = pauses::queue(w.db.conn(), 50, seat(&w.approver)).unwrap();
    assert_eq!((queue.len(), n), (1, 1));
    // The reviewer key of an ops member decides.
    let p =
        w.db.decide(t0(), &w.reviewer_key, &id, Decision::Approved, None)
            .unwrap();
    assert_eq!(p.status, Status::Approved);
}

#[test]
fn a_delegate_stands_in_only_while_the_member_is_away() {
    let (mut w, bob) = world_with_groups();
    add_policy(&mut w, routed_to_ops("all"));
    let agent = w.agent.clone();
    let ann_id = w.approver.reviewer().unwrap().user_id;
    let until = t0() + HOUR;
    w.db.write(|tx| {
        users::set_away(
            tx,
            t0(),
            &Actor::Cli,
            ann_id,
            Some((until, "bob@example.com")),
        )
    })
    .unwrap();
    let first = w.db.pending(t0(), &agent, None).watch_id;
    let second = w.db.pending(t0(), &agent, None).watch_id;
    // Mail goes to the delegate in ann's place.
    let to: Vec<String> =
        w.db.outbox(&first)
            .into_iter()
            .filter(|(k, _, _)| *k == Kind::Email)
            .map(|(_, t, _)| t)
            .collect();
    assert_eq!(to, ["bob@example.com"]);
    // While away, bob holds ann's seat and she does not: the two never count twice.
    assert_err!(
        w.db.decide(t0() + 1, &w.approver, &first, Decision::Approved, None),
        Error::NotAReviewer(_)
    );
    let p =
        w.db.decide(t0() + 1, &bob, &first, Decision::Approved, None)
            .unwrap();
    assert_eq!(p.resolved_by.as_deref(), Some("bob@example.com"));
    // The absence is over at `until`: bob no longer stands in.
    assert_err!(
        w.db.decide(until, &bob, &second, Decision::Approved, None),
        Error::NotAReviewer(_)
    );
    // Nobody delegates to themselves, or to someone unknown, or into the past.
    assert_err!(
        w.db.write(|tx| users::set_away(
            tx,
            t0(),
            &Actor::Cli,
            ann_id,
            Some((until, "ann@example.com"))
        )),
        Error::Validation(_)
    );
    assert_err!(
        w.db.write(|tx| users::set_away(
            tx,
            t0(),
            &Actor::Cli,
            ann_id,
            Some((until, "x@example.com"))
        )),
        Error::NotFound(_)
    );
    assert_err!(
        users::parse_away_until("2026-03-14", t0()),
        Error::Validation(_)
    );
    assert_eq!(
        users::parse_away_until("2026-03-20", t0()).unwrap(),
        clock::parse_date("2026-03-21").unwrap()
    );
}

#[test]
fn reminders_skip_voters_and_missed_turns_and_escalation_adds_the_group_once() {
    let (mut w, bob) = world_with_groups();
    add_policy(
        &mut w,
        NewPolicy {
            approvals: Some(2),
            remind_every: Some("10m".into()),
            escalate_after: Some("1h".into()),
            escalate_to: Some("leads".into()),
            ..routed_to_ops("slow")
        },
    );
    let agent = w.agent.clone();
    let id = w.db.pending(t0(), &agent, None).watch_id;
    assert_eq!(
        pauses::next_timer(w.db.conn()).unwrap(),
        Some(t0() + 10 * 60 * SECOND)
    );
    let nudge = |w: &mut World, at| {
        w.db.write(|tx| pauses::nudge_due(tx, at, 100, &CHANNELS))
            .unwrap()
    };
    let reminders = |w: &World| {
        w.db.outbox(&id)
            .into_iter()
            .filter(|(_, _, payload)| payload.contains("reminder"))
            .count()
    };
    assert_eq!(nudge(&mut w, t0() + 9 * 60 * SECOND), 0);
    assert_eq!(nudge(&mut w, t0() + 10 * 60 * SECOND), 1);
    assert_eq!(reminders(&w), 1);
    // Down for 35 minutes: one reminder, and the next on the 10-minute grid.
    assert_eq!(nudge(&mut w, t0() + 45 * 60 * SECOND), 1);
    assert_eq!(reminders(&w), 2);
    let r = w.db.stored(&id).routing.unwrap();
    assert_eq!(r.remind_at, Some(t0() + 50 * 60 * SECOND));
    // Ann approves: no reminder for her (the only member), so none is mailed or audited.
    let p =
        w.db.decide(
            t0() + 46 * 60 * SECOND,
            &w.approver,
            &id,
            Decision::Approved,
            None,
        )
        .unwrap();
    assert_eq!(p.status, Status::Pending);
    nudge(&mut w, t0() + 50 * 60 * SECOND);
    assert_eq!(reminders(&w), 2);
    // Before the escalation bob is refused; after it he may vote, and was mailed.
    assert_err!(
        w.db.decide(t0() + 59 * 60 * SECOND, &bob, &id, Decision::Approved, None),
        Error::NotAReviewer(_)
    );
    nudge(&mut w, t0() + HOUR);
    let r = w.db.stored(&id).routing.unwrap();
    assert_eq!(r.reviewers, ["ops", "leads"]);
    assert_eq!(r.escalate_at, None);
    assert!(w
        .db
        .outbox(&id)
        .iter()
        .any(|(_, to, payload)| to == "bob@example.com" && payload.contains("escalated")));
    let events: Vec<String> = w.db.audit(&id).into_iter().map(|e| e.event).collect();
    assert_eq!(events.iter().filter(|e| *e == "pause.escalated").count(), 1);
    let p =
        w.db.decide(t0() + HOUR + 1, &bob, &id, Decision::Approved, None)
            .unwrap();
    assert_eq!(p.status, Status::Approved);
    // Decided: nothing more falls due.
    assert_eq!(nudge(&mut w, t0() + 5 * HOUR), 0);
    assert_eq!(pauses::next_timer(w.db.conn()).unwrap(), None);
}

#[test]
fn the_owner_of_a_key_cannot_hand_its_pauses_to_a_delegate() {
    let (mut w, bob) = world_with_groups();
    add_policy(&mut w, routed_to_ops("all"));
    // ann runs the key and is in ops; she names bob (outside ops) while "away".
    let new = keys::NewKey {
        name: "ann-bot".into(),
        owner_email: Some("ann@example.com".into()),
        ..keys::NewKey::default()
    };
    let key =
        w.db.write(|tx| keys::create(tx, t0(), &Actor::Cli, new))
            .unwrap();
    let agent = Principal::Agent(KeyRef {
        id: key.id,
        name: key.name,
    });
    let ann_id = w.approver.reviewer().unwrap().user_id;
    let until = t0() + HOUR;
    w.db.write(|tx| {
        users::set_away(
            tx,
            t0(),
            &Actor::Cli,
            ann_id,
            Some((until, "bob@example.com")),
        )
    })
    .unwrap();
    let own = w.db.pending(t0(), &agent, None).watch_id;
    assert_err!(
        w.db.decide(t0() + 1, &bob, &own, Decision::Approved, None),
        Error::NotAReviewer(_)
    );
    // Nor is bob mailed about it.
    assert!(w
        .db
        .outbox(&own)
        .iter()
        .all(|(_, to, _)| to != "bob@example.com"));
    // For another key's pause, bob stands in for ann as usual.
    let other = w.agent.clone();
    let theirs = w.db.pending(t0(), &other, None).watch_id;
    assert_eq!(
        w.db.decide(t0() + 1, &bob, &theirs, Decision::Approved, None)
            .unwrap()
            .status,
        Status::Approved
    );
}

#[test]
fn a_question_is_routed_but_keeps_one_answer_and_only_expires() {
    let (mut w, _) = world_with_groups();
    add_policy(
        &mut w,
        NewPolicy {
            approvals: Some(3),
            on_timeout: Some("approve".into()),
            ..routed_to_ops("strict")
        },
    );
    let agent = w.agent.clone();
    let q =
        w.db.create(
            t0(),
            &agent,
            r#"{"action":"which region?","kind":"question","timeoutSeconds":60}"#,
        )
        .unwrap()
        .pause;
    assert_eq!(
        q.routing.as_ref().map(|r| r.policy.as_str()),
        Some("strict")
    );
    assert_eq!(
        (q.required_approvals, q.on_timeout),
        (1, crate::domain::OnTimeout::Expire)
    );
    let d = w.db.pending(t0(), &agent, Some(60));
    assert_eq!(
        (d.required_approvals, d.on_timeout),
        (3, crate::domain::OnTimeout::Approve)
    );
}
