//! Forms: a pause's responseSchema, and the response every way of deciding or
//! answering must give for it.

use serde_json::json;

use super::*;
use crate::domain::{audit, links, Error, Status};

const FORM: &str = r#"{"type": "object", "properties": {
    "amount": {"type": "number", "maximum": 100, "title": "Refund"},
    "reason": {"type": "string", "maxLength": 20}},
  "required": ["amount"]}"#;

fn with_form(w: &mut World, extra: &str) -> String {
    let body = format!(r#"{{"action": "Refund order 42", "responseSchema": {FORM}{extra}}}"#);
    w.db.create(t0(), &w.agent, &body).unwrap().pause.watch_id
}

fn approve(w: &mut World, id: &str, response: Option<serde_json::Value>) -> Result<Pause> {
    approve_as(w, &w.approver.clone(), id, response)
}

fn approve_as(
    w: &mut World,
    who: &Principal,
    id: &str,
    response: Option<serde_json::Value>,
) -> Result<Pause> {
    w.db.write(|tx| {
        pauses::decide(
            tx,
            t0() + SECOND,
            who,
            id,
            pauses::Verdict {
                response,
                ..pauses::Verdict::new(Decision::Approved, None, None)
            },
            &CHANNELS,
        )
    })
}

#[test]
fn the_schema_is_stored_compact_and_an_unsupported_one_is_refused() {
    let mut w = World::new();
    let id = with_form(&mut w, "");
    let stored = w.db.stored(&id).response_schema.unwrap();
    assert!(
        stored.starts_with(r#"{"type":"object","properties":{"amount""#),
        "{stored}"
    );
    for (body, says) in [
        (
            r#"{"action": "a", "responseSchema": {"type": "object", "properties": {"f": {"type": "string", "format": "email"}}}}"#,
            "\"format\"",
        ),
        (
            r#"{"action": "a", "responseSchema": {"type": "object", "properties": {"f": {"type": "object"}}}}"#,
            "\"object\" is not supported",
        ),
        (
            r#"{"action": "a", "responseSchema": "text"}"#,
            "must be an object",
        ),
        (
            r#"{"action": "a", "kind": "question", "options": ["x"], "responseSchema": {"type": "object", "properties": {"f": {"type": "string"}}}}"#,
            "leave out options",
        ),
    ] {
        assert_err!(w.db.create(t0(), &w.agent, body), Error::Validation(m) if m.contains(says));
    }
}

#[test]
fn an_approval_needs_a_valid_response_and_keeps_it() {
    let mut w = World::new();
    let id = with_form(&mut w, "");
    assert_err!(approve(&mut w, &id, None), Error::Validation(m) if m == "response.amount is required");
    assert_err!(
        approve(&mut w, &id, Some(json!({"amount": 101}))),
        Error::Validation(m) if m == "response.amount must be at most 100"
    );
    assert_err!(
        approve(&mut w, &id, Some(json!({"amount": 1, "other": true}))),
        Error::Validation(m) if m == "response.other is not a field of this form"
    );
    assert_eq!(w.db.stored(&id).status, Status::Pending);

    let p = approve(&mut w, &id, Some(json!({"amount": 40, "reason": "late"}))).unwrap();
    assert_eq!(p.status, Status::Approved);
    assert_eq!(
        p.response.as_deref(),
        Some(r#"{"amount":40,"reason":"late"}"#)
    );
    assert_eq!(w.db.stored(&id).response, p.response);
    let entry = audit::for_pause(w.db.conn(), &id)
        .unwrap()
        .into_iter()
        .find(|e| e.event == "pause.approved")
        .unwrap();
    assert!(
        entry.details.contains(r#""response":{"amount":40"#),
        "{}",
        entry.details
    );
}

#[test]
fn a_rejection_needs_no_response_and_a_pause_without_a_form_takes_none() {
    let mut w = World::new();
    let id = with_form(&mut w, "");
    let approver = w.approver.clone();
    assert_err!(
        w.db.write(|tx| pauses::decide(
            tx,
            t0(),
            &approver,
            &id,
            pauses::Verdict {
                response: Some(json!({"amount": 1})),
                ..pauses::Verdict::new(Decision::Rejected, None, None)
            },
            &CHANNELS
        )),
        Error::Validation(m) if m.contains("rejection carries none")
    );
    let p =
        w.db.decide(t0(), &approver, &id, Decision::Rejected, Some("no"))
            .unwrap();
    assert_eq!((p.status, p.response), (Status::Rejected, None));

    let plain = w.db.pending(t0(), &w.agent, None).watch_id;
    assert_err!(
        approve(&mut w, &plain, Some(json!({"amount": 1}))),
        Error::Validation(m) if m.contains("no form")
    );
    assert_eq!(approve(&mut w, &plain, None).unwrap().response, None);
}

#[test]
fn a_quorum_approves_one_answer_to_the_form() {
    let mut w = World::new();
    let id = with_form(&mut w, r#", "requiredApprovals": 2"#);
    let (ann, root) = (w.approver.clone(), w.admin.clone());
    assert_err!(approve_as(&mut w, &ann, &id, None), Error::Validation(_));
    let p = approve_as(&mut w, &ann, &id, Some(json!({"amount": 10}))).unwrap();
    assert_eq!(p.status, Status::Pending);
    assert_eq!(
        p.response.as_deref(),
        Some(r#"{"amount":10}"#),
        "the answer the votes are for"
    );
    // Another answer is other content: ann's approval was not for it, the count restarts.
    let p = approve_as(&mut w, &root, &id, Some(json!({"amount": 20}))).unwrap();
    assert_eq!(p.status, Status::Pending);
    let by: Vec<&str> = p.approvals.iter().map(|a| a.by.as_str()).collect();
    assert_eq!(by, ["root@example.com"]);
    // Ann approves the same answer: done, with it.
    let p = approve_as(&mut w, &ann, &id, Some(json!({"amount": 20}))).unwrap();
    assert_eq!(p.status, Status::Approved);
    assert_eq!(p.response.as_deref(), Some(r#"{"amount":20}"#));
}

#[test]
fn a_question_with_a_form_is_answered_with_an_object() {
    let mut w = World::new();
    let body =
        format!(r#"{{"action": "How much?", "kind": "question", "responseSchema": {FORM}}}"#);
    let id = w.db.create(t0(), &w.agent, &body).unwrap().pause.watch_id;
    let who = w.approver.clone();
    let reply = |w: &mut World, reply: pauses::Reply| {
        w.db.write(|tx| pauses::reply(tx, t0(), &who, &id, reply, &CHANNELS))
    };
    assert_err!(
        reply(&mut w, pauses::Reply::Text("40".into())),
        Error::Validation(m) if m.contains("asks for a form")
    );
    assert_err!(
        reply(&mut w, pauses::Reply::Form(json!({"amount": "forty"}))),
        Error::Validation(m) if m == "answer.amount must be a number"
    );
    let p = reply(&mut w, pauses::Reply::Form(json!({"amount": 40}))).unwrap();
    assert_eq!(p.status, Status::Answered);
    assert_eq!(p.response.as_deref(), Some(r#"{"amount":40}"#));
    assert_eq!(p.answer, p.response);
}

#[test]
fn bulk_and_mail_links_never_approve_a_pause_with_a_form() {
    let mut w = World::new();
    let id = with_form(&mut w, "");
    let approver = w.approver.clone();
    assert_err!(
        w.db.write(|tx| pauses::decide_in_bulk(
            tx,
            t0(),
            &approver,
            &id,
            pauses::Verdict::new(Decision::Approved, None, None),
            &CHANNELS
        )),
        Error::Validation(m) if m.contains("review page")
    );
    let user_id = match &approver {
        Principal::User(r) => r.user_id,
        _ => unreachable!(),
    };
    let key = [7u8; 32];
    let link = |decision| {
        links::sign(
            &key,
            &links::Link {
                watch_id: id.clone(),
                user_id,
                decision,
                expires: t0() / 1000 + 3600,
            },
        )
    };
    let approve_link = link(Decision::Approved);
    assert_err!(
        links::inspect(w.db.conn(), &key, &approve_link, t0()),
        Error::Conflict(m) if m.contains("asks for a form")
    );
    assert_eq!(w.db.stored(&id).status, Status::Pending);
    // Rejecting needs no form: its link works, and so does a bulk rejection.
    let reject_link = link(Decision::Rejected);
    let p =
        w.db.write(|tx| links::decide(tx, t0(), &key, &reject_link, None, &CHANNELS))
            .unwrap();
    assert_eq!(p.status, Status::Rejected);
}
