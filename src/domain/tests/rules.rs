//! Standing approvals: an approval that remembers makes a rule; the rule approves the
//! next matching pause of the same key at creation, until it is revoked, expires or is
//! used up; never for a quorum, a critical risk or a question.

use super::*;
use crate::domain::policies::{self, NewPolicy};
use crate::domain::rules::{self, Remember, Rule};
use crate::domain::{groups, Error, Status};

fn remember(duration: &str, max_uses: Option<i64>, action: Option<&str>) -> Remember {
    Remember {
        duration: duration.into(),
        max_uses,
        action: action.map(Into::into),
    }
}

/// Approves `watch_id` as `who`, remembering.
fn approve_remembering(
    w: &mut World,
    now: Millis,
    who: &Principal,
    watch_id: &str,
    r: Remember,
) -> Result<Pause> {
    w.db.write(|tx| {
        pauses::decide(
            tx,
            now,
            who,
            watch_id,
            pauses::Verdict::new(Decision::Approved, None, None).remembering(Some(r)),
            &CHANNELS,
        )
    })
}

fn create(w: &mut World, now: Millis, who: &Principal, body: serde_json::Value) -> Pause {
    w.db.create(now, who, &body.to_string()).unwrap().pause
}

fn deploy(w: &mut World, now: Millis) -> Pause {
    let agent = w.agent.clone();
    create(
        w,
        now,
        &agent,
        serde_json::json!({ "action": "Deploy v2.4.1" }),
    )
}

fn all_rules(w: &World) -> Vec<Rule> {
    rules::list(w.db.conn(), &w.admin, t0()).unwrap()
}

/// A first deploy approved by ann with `r`: the rule it made.
fn rule_from(w: &mut World, r: Remember) -> Rule {
    let first = deploy(w, t0());
    let approver = w.approver.clone();
    approve_remembering(w, t0(), &approver, &first.watch_id, r).unwrap();
    all_rules(w).remove(0)
}

#[test]
fn a_rule_approves_the_next_identical_pause_at_creation() {
    let mut w = World::new();
    let first = deploy(&mut w, t0());
    let approver = w.approver.clone();
    let approved = approve_remembering(
        &mut w,
        t0(),
        &approver,
        &first.watch_id,
        remember("24h", None, None),
    )
    .unwrap();
    assert_eq!(approved.status, Status::Approved);
    assert_eq!(approved.resolved_by.as_deref(), Some("ann@example.com"));
    let rule = all_rules(&w).remove(0);
    assert_eq!(rule.key_name, "deploy-bot");
    assert_eq!(rule.action, "Deploy v2.4.1");
    assert!(!rule.is_glob && rule.active);
    assert_eq!(rule.created_by, "ann@example.com");
    assert_eq!(rule.watch_id.as_deref(), Some(first.watch_id.as_str()));
    assert_eq!(rule.expires_at, Some(t0() + 24 * HOUR));
    assert_eq!((rule.uses, rule.max_uses), (0, None));
    assert!(w
        .db
        .audit(&first.watch_id)
        .iter()
        .any(|e| e.event == "rule.created"));

    let at = t0() + HOUR;
    let agent = w.agent.clone();
    let (created, events) =
        w.db.create_ev(at, &agent, r#"{"action":"Deploy v2.4.1"}"#, None, None)
            .unwrap();
    let p = created.pause;
    let stored = w.db.stored(&p.watch_id);
    for p in [&p, &stored] {
        assert_eq!(p.status, Status::Approved);
        assert_eq!(
            p.resolved_by.as_deref(),
            Some(format!("rule:{}", rule.id).as_str())
        );
        assert_eq!(p.resolved_at, Some(at));
    }
    // Waiters and the live page hear of it; the webhook is queued; nobody is mailed.
    assert!(events.iter().any(|e| matches!(e,
        Event::PauseResolved { watch_id, status: Status::Approved, .. } if *watch_id == p.watch_id)));
    let kinds: Vec<Kind> = w.db.outbox(&p.watch_id).into_iter().map(|r| r.0).collect();
    assert!(kinds.contains(&Kind::Webhook), "{kinds:?}");
    assert!(!kinds.contains(&Kind::Email), "{kinds:?}");
    let audit = w.db.audit(&p.watch_id);
    let approved = audit.iter().find(|e| e.event == "pause.approved").unwrap();
    assert!(
        approved.details.contains(&format!("rule:{}", rule.id)),
        "{}",
        approved.details
    );
    assert!(audit.iter().any(|e| e.event == "rule.used"));
    let rule = all_rules(&w).remove(0);
    assert_eq!((rule.uses, rule.last_used_at), (1, Some(at)));

    // Another action, or another key, still waits.
    let other = create(
        &mut w,
        at,
        &agent,
        serde_json::json!({ "action": "Deploy v2.4.2" }),
    );
    assert_eq!(other.status, Status::Pending);
    let other_agent = w.other_agent.clone();
    let other_key = create(
        &mut w,
        at,
        &other_agent,
        serde_json::json!({ "action": "Deploy v2.4.1" }),
    );
    assert_eq!(other_key.status, Status::Pending);
}

#[test]
fn a_revoked_rule_stops_at_once() {
    let mut w = World::new();
    let rule = rule_from(&mut w, remember("always", None, None));
    assert_eq!(rule.expires_at, None);
    assert_eq!(deploy(&mut w, t0()).status, Status::Approved);
    // Not the agent's, not another approver's; the admin may.
    let (agent, approver, admin) = (w.agent.clone(), w.approver.clone(), w.admin.clone());
    assert_err!(
        w.db.write(|tx| rules::revoke(tx, t0(), &agent, rule.id)),
        Error::Forbidden(_)
    );
    assert_err!(
        w.db.write(|tx| rules::revoke(tx, t0(), &admin, rule.id + 100)),
        Error::NotFound(_)
    );
    let revoked =
        w.db.write(|tx| rules::revoke(tx, t0() + SECOND, &approver, rule.id))
            .unwrap();
    assert_eq!(revoked.revoked_at, Some(t0() + SECOND));
    assert_eq!(revoked.revoked_by.as_deref(), Some("ann@example.com"));
    assert!(!revoked.active);
    assert_eq!(deploy(&mut w, t0() + 2 * SECOND).status, Status::Pending);
    // Revoking again changes nothing.
    let again =
        w.db.write(|tx| rules::revoke(tx, t0() + 3 * SECOND, &admin, rule.id))
            .unwrap();
    assert_eq!(again.revoked_at, Some(t0() + SECOND));
}

#[test]
fn only_its_maker_or_an_admin_revokes_a_rule() {
    let mut w = World::new();
    let first = deploy(&mut w, t0());
    let admin = w.admin.clone();
    approve_remembering(
        &mut w,
        t0(),
        &admin,
        &first.watch_id,
        remember("1h", None, None),
    )
    .unwrap();
    let rule = all_rules(&w).remove(0);
    let approver = w.approver.clone();
    assert_err!(
        w.db.write(|tx| rules::revoke(tx, t0(), &approver, rule.id)),
        Error::Forbidden(_)
    );
    assert!(w
        .db
        .write(|tx| rules::revoke(tx, t0(), &admin, rule.id))
        .is_ok());
}

#[test]
fn a_rule_expires() {
    let mut w = World::new();
    let rule = rule_from(&mut w, remember("1h", None, None));
    assert_eq!(rule.expires_at, Some(t0() + HOUR));
    assert_eq!(
        deploy(&mut w, t0() + HOUR - SECOND).status,
        Status::Approved
    );
    assert_eq!(deploy(&mut w, t0() + HOUR).status, Status::Pending);
    assert!(all_rules(&w)[0].active);
    let later = rules::list(w.db.conn(), &w.admin, t0() + HOUR).unwrap();
    assert!(!later[0].active);
}

#[test]
fn a_rule_is_used_up_after_max_uses() {
    let mut w = World::new();
    rule_from(&mut w, remember("7d", Some(2), None));
    assert_eq!(deploy(&mut w, t0()).status, Status::Approved);
    assert_eq!(deploy(&mut w, t0()).status, Status::Approved);
    assert_eq!(deploy(&mut w, t0()).status, Status::Pending);
    let rule = all_rules(&w).remove(0);
    assert_eq!((rule.uses, rule.max_uses, rule.active), (2, Some(2), false));
}

#[test]
fn a_pattern_widens_the_action() {
    let mut w = World::new();
    rule_from(&mut w, remember("24h", None, Some("Deploy v2.*")));
    let rule = all_rules(&w).remove(0);
    assert!(rule.is_glob);
    assert_eq!(rule.action, "Deploy v2.*");
    let agent = w.agent.clone();
    for (action, status) in [
        ("Deploy v2.5.0", Status::Approved),
        ("Deploy v2.", Status::Approved),
        ("Deploy v3.0.0", Status::Pending),
        ("deploy v2.5.0", Status::Pending),
    ] {
        let p = create(
            &mut w,
            t0(),
            &agent,
            serde_json::json!({ "action": action }),
        );
        assert_eq!(p.status, status, "{action}");
    }
}

#[test]
fn the_action_itself_makes_an_exact_rule_even_with_pattern_characters() {
    let mut w = World::new();
    let agent = w.agent.clone();
    let action = "Run [tests] *now*\nthen report";
    let first = create(
        &mut w,
        t0(),
        &agent,
        serde_json::json!({ "action": action }),
    );
    let approver = w.approver.clone();
    // As a browser sends a text box: lines end with \r\n.
    let typed = action.replace('\n', "\r\n");
    approve_remembering(
        &mut w,
        t0(),
        &approver,
        &first.watch_id,
        remember("1h", None, Some(&typed)),
    )
    .unwrap();
    let rule = all_rules(&w).remove(0);
    assert!(!rule.is_glob);
    assert_eq!(rule.action, action);
    let again = create(
        &mut w,
        t0(),
        &agent,
        serde_json::json!({ "action": action }),
    );
    assert_eq!(again.status, Status::Approved);
    let near = create(
        &mut w,
        t0(),
        &agent,
        serde_json::json!({ "action": "Run t *now*\nthen report" }),
    );
    assert_eq!(near.status, Status::Pending);
}

#[test]
fn bad_remember_values_refuse_the_approval_and_change_nothing() {
    let mut w = World::new();
    let p = deploy(&mut w, t0());
    let approver = w.approver.clone();
    let before = w.db.footprint();
    for bad in [
        remember("2h", None, None),
        remember("", None, None),
        remember("1h", Some(0), None),
        remember("1h", Some(rules::MAX_USES + 1), None),
        remember("1h", None, Some("")),
        remember("1h", None, Some("*")),
        remember("1h", None, Some("* ?")),
        remember("1h", None, Some("Rollback *")),
        remember("1h", None, Some("Deploy [v2")),
    ] {
        assert_err!(
            approve_remembering(&mut w, t0(), &approver, &p.watch_id, bad.clone()),
            Error::Validation(_)
        );
    }
    // With a rejection, remember is refused too.
    assert_err!(
        w.db.write(|tx| pauses::decide(
            tx,
            t0(),
            &approver,
            &p.watch_id,
            pauses::Verdict::new(Decision::Rejected, None, None)
                .remembering(Some(remember("1h", None, None))),
            &CHANNELS,
        )),
        Error::Validation(_)
    );
    assert_eq!(w.db.footprint(), before);
    assert_eq!(w.db.count("rules"), 0);
    assert_eq!(w.db.stored(&p.watch_id).status, Status::Pending);
}

#[test]
fn no_rule_for_a_quorum_or_a_critical_risk() {
    let mut w = World::new();
    let agent = w.agent.clone();
    let approver = w.approver.clone();
    for body in [
        serde_json::json!({ "action": "Deploy v2.4.1", "requiredApprovals": 2 }),
        serde_json::json!({ "action": "Deploy v2.4.1", "risk": "critical" }),
    ] {
        let p = create(&mut w, t0(), &agent, body.clone());
        assert_err!(
            approve_remembering(&mut w, t0(), &approver, &p.watch_id, remember("1h", None, None)),
            Error::Validation(m) if m.contains("no standing approval")
        );
        assert_eq!(w.db.stored(&p.watch_id).approvals.len(), 0, "{body}");
    }
    assert_eq!(w.db.count("rules"), 0);
}

#[test]
fn a_rule_never_applies_to_a_quorum_a_critical_risk_or_a_question() {
    let mut w = World::new();
    rule_from(&mut w, remember("always", None, Some("Deploy *")));
    let agent = w.agent.clone();
    for body in [
        serde_json::json!({ "action": "Deploy v2.4.1", "requiredApprovals": 2 }),
        serde_json::json!({ "action": "Deploy v2.4.1", "risk": "critical" }),
        serde_json::json!({ "action": "Deploy v2.4.1", "kind": "question" }),
    ] {
        let p = create(&mut w, t0(), &agent, body.clone());
        assert_eq!(p.status, Status::Pending, "{body}");
    }
    // A higher risk than the pause the rule was made on (unrated) is not allowed
    // either; the same or no rating is.
    let high = create(
        &mut w,
        t0(),
        &agent,
        serde_json::json!({ "action": "Deploy v2.4.1", "risk": "high" }),
    );
    assert_eq!(high.status, Status::Pending);
    let unrated = create(
        &mut w,
        t0(),
        &agent,
        serde_json::json!({ "action": "Deploy v2.4.1" }),
    );
    assert_eq!(unrated.status, Status::Approved);
    // A policy that asks for two approvals: no rule applies.
    w.db.write(|tx| {
        groups::create(tx, t0(), &Actor::Cli, "ops")?;
        groups::add(tx, t0(), &Actor::Cli, "ops", &["ann@example.com".into()])?;
        policies::add(
            tx,
            t0(),
            &Actor::Cli,
            NewPolicy {
                name: "two".into(),
                reviewers: vec!["ops".into()],
                approvals: Some(2),
                ..NewPolicy::default()
            },
        )
    })
    .unwrap();
    let routed = create(
        &mut w,
        t0(),
        &agent,
        serde_json::json!({ "action": "Deploy v2.4.1" }),
    );
    assert_eq!(routed.status, Status::Pending);
    assert_eq!(all_rules(&w)[0].uses, 1);
}

#[test]
fn a_rule_applies_only_where_its_maker_could_decide() {
    let mut w = World::new();
    rule_from(&mut w, remember("always", None, None));
    // A policy now routes the action to a group ann is not in: her rule stays out.
    w.db.write(|tx| {
        groups::create(tx, t0(), &Actor::Cli, "leads")?;
        groups::add(tx, t0(), &Actor::Cli, "leads", &["root@example.com".into()])?;
        policies::add(
            tx,
            t0(),
            &Actor::Cli,
            NewPolicy {
                name: "leads-only".into(),
                reviewers: vec!["leads".into()],
                ..NewPolicy::default()
            },
        )
    })
    .unwrap();
    assert_eq!(deploy(&mut w, t0()).status, Status::Pending);
    assert_eq!(all_rules(&w)[0].uses, 0);
}

#[test]
fn only_a_routed_reviewer_makes_a_rule_and_never_the_keys_owner() {
    let mut w = World::new();
    w.db.write(|tx| {
        groups::create(tx, t0(), &Actor::Cli, "leads")?;
        groups::add(tx, t0(), &Actor::Cli, "leads", &["root@example.com".into()])?;
        policies::add(
            tx,
            t0(),
            &Actor::Cli,
            NewPolicy {
                name: "leads-only".into(),
                reviewers: vec!["leads".into()],
                ..NewPolicy::default()
            },
        )
    })
    .unwrap();
    let p = deploy(&mut w, t0());
    let approver = w.approver.clone();
    assert_err!(
        approve_remembering(
            &mut w,
            t0(),
            &approver,
            &p.watch_id,
            remember("1h", None, None)
        ),
        Error::NotAReviewer(_)
    );
    assert_eq!(w.db.count("rules"), 0);
    // The routed admin may; the next pause is routed to them as well: approved.
    let admin = w.admin.clone();
    approve_remembering(
        &mut w,
        t0(),
        &admin,
        &p.watch_id,
        remember("1h", None, None),
    )
    .unwrap();
    assert_eq!(deploy(&mut w, t0()).status, Status::Approved);

    // The owner of a key is refused, as for any decision.
    let mut w = World::new();
    let owned =
        w.db.write(|tx| {
            keys::create(
                tx,
                t0(),
                &Actor::Cli,
                NewKey {
                    name: "ann-bot".into(),
                    owner_email: Some("ann@example.com".into()),
                    ..NewKey::default()
                },
            )
        })
        .unwrap();
    let owned = Principal::Agent(KeyRef {
        id: owned.id,
        name: owned.name,
    });
    let p = create(&mut w, t0(), &owned, serde_json::json!({ "action": "x" }));
    let approver = w.approver.clone();
    assert_err!(
        approve_remembering(
            &mut w,
            t0(),
            &approver,
            &p.watch_id,
            remember("1h", None, None)
        ),
        Error::SelfApproval(_)
    );
    assert_eq!(w.db.count("rules"), 0);
}

#[test]
fn agents_cannot_list_rules() {
    let w = World::new();
    assert_err!(
        rules::list(w.db.conn(), &w.agent, t0()),
        Error::Forbidden(_)
    );
    assert!(rules::list(w.db.conn(), &w.reviewer_key, t0())
        .unwrap()
        .is_empty());
}

#[test]
fn an_exact_rule_allows_its_action_only_with_the_same_context() {
    let mut w = World::new();
    let agent = w.agent.clone();
    let approver = w.approver.clone();
    // Approved once: write this file with this content.
    let first = create(
        &mut w,
        t0(),
        &agent,
        serde_json::json!({ "action": "Write: /etc/app.conf", "context": {"content": "debug=false"}, "risk": "low" }),
    );
    approve_remembering(
        &mut w,
        t0(),
        &approver,
        &first.watch_id,
        remember("1h", None, None),
    )
    .unwrap();
    let body = |content: &str, risk: &str| serde_json::json!({ "action": "Write: /etc/app.conf", "context": {"content": content}, "risk": risk });
    // The same write: approved by the rule.
    assert_eq!(
        create(&mut w, t0() + 1, &agent, body("debug=false", "low")).status,
        Status::Approved
    );
    // Another content for the same file, or a higher risk: asked again.
    assert_eq!(
        create(&mut w, t0() + 2, &agent, body("rm -rf /", "low")).status,
        Status::Pending
    );
    assert_eq!(
        create(&mut w, t0() + 3, &agent, body("debug=false", "high")).status,
        Status::Pending
    );
}
