//! Questions: what a question may offer, who may answer it, what an answer must be,
//! and that it ends once, like a decision.

use super::*;
use crate::domain::{links, Error, Kind as PauseKind, Status};

fn question(w: &mut World, body: serde_json::Value) -> String {
    w.db.create(t0(), &w.agent, &body.to_string())
        .unwrap()
        .pause
        .watch_id
}

fn answer(w: &mut World, who: &Principal, watch_id: &str, text: &str) -> Result<Pause> {
    let who = who.clone();
    w.db.write(|tx| pauses::answer(tx, t0() + SECOND, &who, watch_id, text, &CHANNELS))
}

#[test]
fn a_question_is_stored_with_its_kind_and_trimmed_options() {
    let mut w = World::new();
    let id = question(
        &mut w,
        serde_json::json!({"action": "Which region?", "kind": "question", "options": [" eu ", "us"]}),
    );
    let p = w.db.stored(&id);
    assert_eq!(p.kind, PauseKind::Question);
    assert_eq!(p.status, Status::Pending);
    assert_eq!(p.options, Some(vec!["eu".to_string(), "us".to_string()]));
    assert_eq!(p.answer, None);
    let decision = w.db.pending(t0(), &w.agent, None);
    assert_eq!(
        (decision.kind, decision.options),
        (PauseKind::Decision, None)
    );
}

#[test]
fn bad_kinds_and_options_are_refused_and_change_nothing() {
    let mut w = World::new();
    let before = w.db.footprint();
    let many: Vec<String> = (0..21).map(|i| format!("o{i}")).collect();
    for body in [
        serde_json::json!({"action": "x", "kind": "poll"}),
        serde_json::json!({"action": "x", "kind": "question", "options": []}),
        serde_json::json!({"action": "x", "kind": "question", "options": many}),
        serde_json::json!({"action": "x", "kind": "question", "options": ["a", "a"]}),
        serde_json::json!({"action": "x", "kind": "question", "options": ["a", " a"]}),
        serde_json::json!({"action": "x", "kind": "question", "options": ["a", "  "]}),
        serde_json::json!({"action": "x", "kind": "question", "options": ["a", "\u{200b}"]}),
        serde_json::json!({"action": "x", "kind": "question", "options": ["a\nb"]}),
        serde_json::json!({"action": "x", "kind": "question", "options": ["x".repeat(201)]}),
    ] {
        assert_err!(
            w.db.create(t0(), &w.agent, &body.to_string()),
            Error::Validation(_)
        );
    }
    assert_eq!(w.db.footprint(), before);
    let twenty: Vec<String> = (0..20).map(|i| format!("o{i}")).collect();
    question(
        &mut w,
        serde_json::json!({"action": "x", "kind": "question", "options": twenty}),
    );
}

#[test]
fn an_answer_records_who_when_and_what_and_queues_the_webhook() {
    let mut w = World::new();
    let id = question(
        &mut w,
        serde_json::json!({"action": "Which region?", "kind": "question", "options": ["eu", "us"]}),
    );
    let (p, events) =
        w.db.write_ev(|tx| pauses::answer(tx, t0() + SECOND, &w.approver, &id, "us", &CHANNELS))
            .unwrap();
    for p in [&p, &w.db.stored(&id)] {
        assert_eq!(p.status, Status::Answered);
        assert_eq!(p.answer.as_deref(), Some("us"));
        assert_eq!(p.resolved_by.as_deref(), Some("ann@example.com"));
        assert_eq!(p.resolved_at, Some(t0() + SECOND));
        assert_eq!(p.comment, None);
    }
    let last = w.db.audit(&id).pop().unwrap();
    assert_eq!(
        (last.event.as_str(), last.actor.as_str()),
        ("pause.answered", "user:ann@example.com")
    );
    assert!(
        last.details.contains("\"answer\":\"us\""),
        "{}",
        last.details
    );
    assert!(events.iter().any(|e| matches!(e,
        Event::PauseResolved { watch_id, status: Status::Answered, .. } if *watch_id == id)));
    let hooks: Vec<serde_json::Value> =
        w.db.outbox(&id)
            .into_iter()
            .filter(|(kind, ..)| *kind == Kind::Webhook)
            .map(|(.., payload)| serde_json::from_str(&payload).unwrap())
            .collect();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["status"], "answered");
    assert_eq!(hooks[0]["kind"], "question");
    assert_eq!(hooks[0]["answer"], "us");
    assert_eq!(hooks[0]["comment"], serde_json::Value::Null);
}

#[test]
fn an_answer_must_be_one_of_the_options_exactly() {
    let mut w = World::new();
    let id = question(
        &mut w,
        serde_json::json!({"action": "Which region?", "kind": "question", "options": ["eu", "us"]}),
    );
    let before = w.db.footprint();
    let approver = w.approver.clone();
    for wrong in ["EU", " eu", "eu ", "asia", ""] {
        assert_err!(answer(&mut w, &approver, &id, wrong), Error::Validation(_));
    }
    assert_eq!(w.db.footprint(), before);
    assert_eq!(w.db.stored(&id).status, Status::Pending);
    let reviewer_key = w.reviewer_key.clone();
    let p = answer(&mut w, &reviewer_key, &id, "eu").unwrap();
    assert_eq!(p.answer.as_deref(), Some("eu"));
}

#[test]
fn a_free_text_answer_is_trimmed_visible_and_at_most_4000_bytes() {
    let mut w = World::new();
    let approver = w.approver.clone();
    let id = question(
        &mut w,
        serde_json::json!({"action": "Why?", "kind": "question"}),
    );
    for wrong in ["", "   \n", "\u{200b}\u{200b}", &"é".repeat(2001)] {
        assert_err!(answer(&mut w, &approver, &id, wrong), Error::Validation(_));
    }
    let p = answer(&mut w, &approver, &id, &format!(" {} ", "x".repeat(4000))).unwrap();
    assert_eq!(p.answer.map(|a| a.len()), Some(4000));
}

#[test]
fn agent_keys_cannot_answer() {
    let mut w = World::new();
    let id = question(
        &mut w,
        serde_json::json!({"action": "Why?", "kind": "question"}),
    );
    let before = w.db.footprint();
    for who in [w.agent.clone(), w.other_agent.clone()] {
        assert_err!(answer(&mut w, &who, &id, "because"), Error::Forbidden(_));
    }
    assert_eq!(w.db.footprint(), before);
}

#[test]
fn a_decision_is_not_answered_and_a_question_is_not_decided() {
    let mut w = World::new();
    let approver = w.approver.clone();
    let decision = w.db.pending(t0(), &w.agent, None).watch_id;
    assert_err!(
        answer(&mut w, &approver, &decision, "yes"),
        Error::Validation(m) if m.contains("is a decision")
    );
    let id = question(
        &mut w,
        serde_json::json!({"action": "Why?", "kind": "question"}),
    );
    for d in [Decision::Approved, Decision::Rejected] {
        assert_err!(
            w.db.decide(t0(), &approver, &id, d, None),
            Error::Validation(m) if m.contains("is a question")
        );
    }
    assert_eq!(w.db.stored(&id).status, Status::Pending);
    assert_eq!(w.db.stored(&decision).status, Status::Pending);
}

#[test]
fn a_question_is_answered_once_and_expires_and_cancels_like_a_decision() {
    let mut w = World::new();
    let approver = w.approver.clone();
    let id = question(
        &mut w,
        serde_json::json!({"action": "Why?", "kind": "question"}),
    );
    answer(&mut w, &approver, &id, "first").unwrap();
    assert_err!(
        answer(&mut w, &approver, &id, "second"),
        Error::AlreadyResolved(Status::Answered)
    );
    assert_eq!(w.db.stored(&id).answer.as_deref(), Some("first"));

    let body = serde_json::json!({"action": "Soon?", "kind": "question", "timeoutSeconds": 1});
    let soon = question(&mut w, body);
    assert_eq!(w.db.expire(t0() + HOUR, 10).unwrap(), 1);
    assert_eq!(w.db.stored(&soon).status, Status::Expired);
    assert_err!(
        answer(&mut w, &approver, &soon, "late"),
        Error::AlreadyResolved(Status::Expired)
    );

    let withdrawn = question(
        &mut w,
        serde_json::json!({"action": "Hm?", "kind": "question"}),
    );
    let agent = w.agent.clone();
    assert_eq!(
        w.db.cancel(t0(), &agent, &withdrawn).unwrap().status,
        Status::Cancelled
    );
}

#[test]
fn a_mail_link_never_works_on_a_question() {
    let mut w = World::new();
    let id = question(
        &mut w,
        serde_json::json!({"action": "Why?", "kind": "question"}),
    );
    let user_id = match &w.approver {
        Principal::User(r) => r.user_id,
        _ => unreachable!(),
    };
    let key = [7u8; 32];
    let token = links::sign(
        &key,
        &links::Link {
            watch_id: id.clone(),
            user_id,
            decision: Decision::Approved,
            expires: t0() / 1000 + 3600,
        },
    );
    assert_err!(
        links::inspect(w.db.conn(), &key, &token, t0()),
        Error::Conflict(_)
    );
    assert_err!(
        w.db.write(|tx| links::decide(tx, t0(), &key, &token, None, &CHANNELS)),
        Error::Conflict(_)
    );
    assert_eq!(w.db.stored(&id).status, Status::Pending);
}

#[test]
fn an_idempotency_key_digest_of_a_decision_is_as_before_questions() {
    let mut w = World::new();
    let first =
        w.db.create_with(t0(), &w.agent, r#"{"action":"x"}"#, Some("k1"), None)
            .unwrap();
    let again =
        w.db.create_with(
            t0() + SECOND,
            &w.agent,
            r#"{"action":"x","kind":"decision"}"#,
            Some("k1"),
            None,
        )
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.pause.watch_id, first.pause.watch_id);
    assert_err!(
        w.db.create_with(
            t0() + SECOND,
            &w.agent,
            r#"{"action":"x","kind":"question"}"#,
            Some("k1"),
            None
        ),
        Error::IdempotencyConflict
    );
}
