//! Who sees which pause, and who may withdraw one.

use super::*;
use crate::domain::{Error, Status};

#[test]
fn an_agent_key_sees_only_its_own_pauses() {
    let mut w = World::new();
    let mine = w.db.pending(t0(), &w.agent, None).watch_id;
    let theirs = w.db.pending(t0() + 1, &w.other_agent, None).watch_id;

    assert_eq!(w.db.get(&w.agent, &mine).unwrap().watch_id, mine);
    assert_eq!(w.db.get(&w.other_agent, &theirs).unwrap().watch_id, theirs);
    // Another key's pause does not exist for it: the same answer as an unknown id.
    assert_err!(w.db.get(&w.agent, &theirs), Error::NotFound(m) if m.contains(&theirs));
    assert_err!(w.db.get(&w.other_agent, &mine), Error::NotFound(_));
    assert_err!(w.db.get(&w.agent, "wch_unknown"), Error::NotFound(_));

    assert_eq!(w.db.list(&w.agent), [mine]);
    assert_eq!(w.db.list(&w.other_agent), [theirs]);
}

#[test]
fn an_agent_key_lists_only_its_own_even_with_filters() {
    let mut w = World::new();
    let tagged = r#"{"action": "a", "tags": ["prod"]}"#;
    let mine = w.db.create(t0(), &w.agent, tagged).unwrap().pause.watch_id;
    w.db.create(t0() + 1, &w.other_agent, tagged).unwrap();
    let q = ListQuery {
        tag: Some("prod".into()),
        statuses: vec![Status::Pending],
        limit: 10,
        ..ListQuery::default()
    };
    let page = pauses::list(w.db.conn(), &w.agent, &q).unwrap();
    let ids: Vec<String> = page.items.into_iter().map(|p| p.watch_id).collect();
    assert_eq!(ids, [mine]);
}

#[test]
fn reviewers_see_every_pause() {
    let mut w = World::new();
    let mine = w.db.pending(t0(), &w.agent, None).watch_id;
    let theirs = w.db.pending(t0() + 1, &w.other_agent, None).watch_id;
    for who in [&w.reviewer_key, &w.approver, &w.admin] {
        for id in [&mine, &theirs] {
            assert_eq!(&w.db.get(who, id).unwrap().watch_id, id, "{who:?}");
        }
        assert_eq!(
            w.db.list(who),
            [theirs.clone(), mine.clone()],
            "newest first"
        );
    }
}

#[test]
fn an_agent_key_cancels_its_own_pause_as_its_name() {
    let mut w = World::new();
    let id = w.db.pending(t0(), &w.agent, Some(600)).watch_id;
    let at = t0() + 5 * SECOND;
    let (p, events) =
        w.db.write_ev(|tx| {
            let reason = Some("  superseded by v2.4.2 ".into());
            pauses::cancel(tx, at, &w.agent, &id, reason, &CHANNELS)
        })
        .unwrap();
    assert_eq!(p.status, Status::Cancelled);
    let stored = w.db.stored(&id);
    assert_eq!(stored.status, Status::Cancelled);
    assert_eq!(stored.resolved_by.as_deref(), Some("deploy-bot"));
    assert_eq!(stored.resolved_at, Some(at));
    assert_eq!(stored.comment.as_deref(), Some("superseded by v2.4.2"));

    let audit = w.db.audit(&id);
    assert_eq!(
        audit.last().map(|e| e.event.as_str()),
        Some("pause.cancelled")
    );
    assert!(events.iter().any(|e| matches!(e,
        Event::PauseResolved { watch_id, status: Status::Cancelled, .. } if *watch_id == id)));
    let hooks: Vec<_> =
        w.db.outbox(&id)
            .into_iter()
            .filter(|r| r.0 == Kind::Webhook)
            .collect();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].1, AGENT_HOOK);
    let payload: serde_json::Value = serde_json::from_str(&hooks[0].2).unwrap();
    assert_eq!(payload["status"], "cancelled");
    assert_eq!(payload["resolvedBy"], "deploy-bot");
}

#[test]
fn another_agent_key_cannot_cancel_and_is_told_not_found() {
    let mut w = World::new();
    let id = w.db.pending(t0(), &w.agent, None).watch_id;
    let before = w.db.footprint();
    assert_err!(w.db.cancel(t0(), &w.other_agent, &id), Error::NotFound(_));
    assert_eq!(w.db.stored(&id).status, Status::Pending);
    assert_eq!(w.db.footprint(), before);
}

#[test]
fn an_approver_cannot_cancel() {
    let mut w = World::new();
    let id = w.db.pending(t0(), &w.agent, None).watch_id;
    let before = w.db.footprint();
    for who in [&w.approver, &w.reviewer_key] {
        assert_err!(w.db.cancel(t0(), who, &id), Error::Forbidden(_));
    }
    assert_eq!(w.db.stored(&id).status, Status::Pending);
    assert_eq!(w.db.footprint(), before);
}

#[test]
fn an_admin_cancels_any_pause_as_their_email() {
    let mut w = World::new();
    let id = w.db.pending(t0(), &w.other_agent, None).watch_id;
    let p = w.db.cancel(t0() + SECOND, &w.admin, &id).unwrap();
    assert_eq!(p.status, Status::Cancelled);
    let stored = w.db.stored(&id);
    assert_eq!(stored.status, Status::Cancelled);
    assert_eq!(stored.resolved_by.as_deref(), Some("root@example.com"));
    assert_eq!(stored.resolved_at, Some(t0() + SECOND));
    let audit = w.db.audit(&id);
    assert_eq!(
        audit.last().map(|e| e.actor.as_str()),
        Some("user:root@example.com")
    );
}

#[test]
fn a_terminal_pause_cannot_be_cancelled() {
    let mut w = World::new();
    let approved = w.db.pending(t0(), &w.agent, None).watch_id;
    w.db.decide(t0(), &w.approver, &approved, Decision::Approved, None)
        .unwrap();
    let cancelled = w.db.pending(t0(), &w.agent, None).watch_id;
    w.db.cancel(t0(), &w.agent, &cancelled).unwrap();
    let lapsed = w.db.pending(t0(), &w.agent, Some(60)).watch_id;

    let before = w.db.footprint();
    let later = t0() + HOUR;
    for who in [&w.agent, &w.admin] {
        assert_err!(
            w.db.cancel(later, who, &approved),
            Error::AlreadyResolved(Status::Approved)
        );
        assert_err!(
            w.db.cancel(later, who, &cancelled),
            Error::AlreadyResolved(Status::Cancelled)
        );
        // Past its deadline, not yet swept: expired all the same.
        assert_err!(
            w.db.cancel(later, who, &lapsed),
            Error::AlreadyResolved(Status::Expired)
        );
    }
    assert_eq!(w.db.footprint(), before);
    assert_eq!(
        w.db.stored(&approved).resolved_by.as_deref(),
        Some("ann@example.com")
    );
}
