//! A decision's options: the reasons the reviewer may pick when rejecting. Only a
//! rejection may name one, it must be one of them exactly, and it is kept with the
//! pause (as the comment too when no comment was given).

use super::*;
use crate::domain::pauses::Decision;
use crate::domain::{Error, Kind as PauseKind, Status};

fn with_reasons(w: &mut World) -> String {
    let body = serde_json::json!({
        "action": "Delete 40 files",
        "options": [" Too risky ", "Wrong files"],
    });
    w.db.create(t0(), &w.agent, &body.to_string())
        .unwrap()
        .pause
        .watch_id
}

fn decide(
    w: &mut World,
    id: &str,
    decision: Decision,
    comment: Option<&str>,
    option: Option<&str>,
) -> Result<Pause> {
    let who = w.approver.clone();
    w.db.write(|tx| {
        pauses::decide(
            tx,
            t0() + SECOND,
            &who,
            id,
            pauses::Verdict::new(decision, comment.map(Into::into), option.map(Into::into)),
            &CHANNELS,
        )
    })
}

#[test]
fn a_decision_keeps_its_trimmed_reasons_to_reject() {
    let mut w = World::new();
    let id = with_reasons(&mut w);
    let p = w.db.stored(&id);
    assert_eq!(p.kind, PauseKind::Decision);
    assert_eq!(
        p.options,
        Some(vec!["Too risky".to_string(), "Wrong files".to_string()])
    );
}

#[test]
fn a_rejection_picks_one_reason_which_is_its_comment_unless_one_is_given() {
    let mut w = World::new();
    let id = with_reasons(&mut w);
    let p = decide(&mut w, &id, Decision::Rejected, None, Some("Too risky")).unwrap();
    for p in [p, w.db.stored(&id)] {
        assert_eq!(p.status, Status::Rejected);
        assert_eq!(p.answer.as_deref(), Some("Too risky"));
        assert_eq!(p.comment.as_deref(), Some("Too risky"));
    }

    let id = with_reasons(&mut w);
    let p = decide(
        &mut w,
        &id,
        Decision::Rejected,
        Some("keep the logs"),
        Some("Wrong files"),
    )
    .unwrap();
    assert_eq!(
        (p.answer.as_deref(), p.comment.as_deref()),
        (Some("Wrong files"), Some("keep the logs"))
    );

    // Reasons are offered, not required.
    let id = with_reasons(&mut w);
    let p = decide(&mut w, &id, Decision::Rejected, Some("no"), None).unwrap();
    assert_eq!((p.answer, p.comment.as_deref()), (None, Some("no")));
}

#[test]
fn a_bad_reason_is_refused_and_changes_nothing() {
    let mut w = World::new();
    let id = with_reasons(&mut w);
    let plain = w.db.pending(t0(), &w.agent, None).watch_id;
    let before = w.db.footprint();
    for (id, decision, option) in [
        (&id, Decision::Approved, "Too risky"),
        (&id, Decision::Rejected, "too risky"),
        (&id, Decision::Rejected, " Too risky"),
        (&id, Decision::Rejected, "Something else"),
        (&plain, Decision::Rejected, "Too risky"),
    ] {
        assert_err!(
            decide(&mut w, id, decision, None, Some(option)),
            Error::Validation(_)
        );
    }
    assert_eq!(w.db.footprint(), before);
    assert_eq!(w.db.stored(&id).status, Status::Pending);
    assert_eq!(w.db.stored(&plain).status, Status::Pending);
}
