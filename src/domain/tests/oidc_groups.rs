//! Groups from a sign-in's groups claim: the claim decides the membership of every
//! existing group, unknown names are ignored, and only changes are audited.

use serde_json::{json, Value};

use super::*;
use crate::domain::groups::{self, MembershipChanges};
use crate::domain::Error;

/// ann in `ops` and `oncall`; `dev` exists and is empty; root is in `oncall` too.
fn world() -> (World, i64) {
    let mut w = World::new();
    let ann = vec!["ann@example.com".to_string()];
    w.db.write(|tx| {
        for name in ["dev", "ops", "oncall"] {
            groups::create(tx, t0(), &Actor::Cli, name)?;
        }
        groups::add(tx, t0(), &Actor::Cli, "ops", &ann)?;
        groups::add(
            tx,
            t0(),
            &Actor::Cli,
            "oncall",
            &["ann@example.com".into(), "root@example.com".into()],
        )?;
        Ok(())
    })
    .unwrap();
    let Principal::User(ann) = &w.approver else {
        unreachable!()
    };
    let id = ann.user_id;
    (w, id)
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Each group's members, by group name.
fn members(w: &World) -> Vec<(String, Vec<String>)> {
    groups::list(w.db.conn())
        .unwrap()
        .into_iter()
        .map(|g| (g.name, g.members))
        .collect()
}

/// The audit entries after the first `skip`: (actor, event, details).
fn audit_after(w: &World, skip: i64) -> Vec<(String, String, Value)> {
    let mut stmt =
        w.db.conn()
            .prepare("SELECT actor, event, details FROM audit WHERE id > ?1 ORDER BY id")
            .unwrap();
    stmt.query_map([skip], |r| {
        let details: String = r.get(2)?;
        Ok((
            r.get(0)?,
            r.get(1)?,
            serde_json::from_str(&details).unwrap(),
        ))
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

fn last_audit_id(w: &World) -> i64 {
    w.db.conn()
        .query_row("SELECT max(id) FROM audit", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn the_claim_adds_to_named_groups_and_removes_from_the_others() {
    let (mut w, ann) = world();
    let before = last_audit_id(&w);
    let actor = Actor::User("ann@example.com".into());
    let changes =
        w.db.write(|tx| groups::set_memberships(tx, t0(), &actor, ann, &names(&["dev", "ops"])))
            .unwrap();
    assert_eq!(
        changes,
        MembershipChanges {
            added: names(&["dev"]),
            removed: names(&["oncall"]),
        }
    );
    assert_eq!(
        members(&w),
        [
            ("dev".to_string(), names(&["ann@example.com"])),
            ("oncall".to_string(), names(&["root@example.com"])),
            ("ops".to_string(), names(&["ann@example.com"])),
        ]
    );
    assert_eq!(
        audit_after(&w, before),
        [
            (
                "user:ann@example.com".to_string(),
                "group.members_added".to_string(),
                json!({ "name": "dev", "added": ["ann@example.com"], "via": "oidc" })
            ),
            (
                "user:ann@example.com".to_string(),
                "group.member_removed".to_string(),
                json!({ "name": "oncall", "removed": "ann@example.com", "via": "oidc" })
            ),
        ]
    );
}

#[test]
fn unknown_names_are_ignored_and_no_group_is_created() {
    let (mut w, ann) = world();
    let actor = Actor::User("ann@example.com".into());
    let claim = names(&["ops", "oncall", "finance", "/engineering", "", "OPS"]);
    let changes =
        w.db.write(|tx| groups::set_memberships(tx, t0(), &actor, ann, &claim))
            .unwrap();
    assert_eq!(changes, MembershipChanges::default());
    let groups: Vec<String> = members(&w).into_iter().map(|(name, _)| name).collect();
    assert_eq!(groups, ["dev", "oncall", "ops"]);

    // Only unknown names: ann leaves every group, and still no group appears.
    let changes =
        w.db.write(|tx| groups::set_memberships(tx, t0(), &actor, ann, &names(&["finance"])))
            .unwrap();
    assert_eq!(changes.added, Vec::<String>::new());
    assert_eq!(changes.removed, names(&["oncall", "ops"]));
    assert_eq!(
        members(&w),
        [
            ("dev".to_string(), vec![]),
            ("oncall".to_string(), names(&["root@example.com"])),
            ("ops".to_string(), vec![]),
        ]
    );
}

#[test]
fn an_empty_claim_leaves_every_group_and_a_right_one_changes_nothing() {
    let (mut w, ann) = world();
    let actor = Actor::User("ann@example.com".into());
    let before = last_audit_id(&w);
    // Already right (names trimmed, repeats harmless): no change, no audit entry.
    let claim = names(&[" ops", "oncall", "ops"]);
    let changes =
        w.db.write(|tx| groups::set_memberships(tx, t0(), &actor, ann, &claim))
            .unwrap();
    assert_eq!(changes, MembershipChanges::default());
    assert!(audit_after(&w, before).is_empty());

    let changes =
        w.db.write(|tx| groups::set_memberships(tx, t0(), &actor, ann, &[]))
            .unwrap();
    assert_eq!(changes.removed, names(&["oncall", "ops"]));
    assert!(changes.added.is_empty());
    assert_eq!(audit_after(&w, before).len(), 2);
    // root's membership is not touched by ann's sign-in.
    assert_eq!(members(&w)[1].1, names(&["root@example.com"]));
}

#[test]
fn an_unknown_user_is_not_found_and_nothing_changes() {
    let (mut w, _) = world();
    let before = members(&w);
    assert_err!(
        w.db.write(|tx| groups::set_memberships(tx, t0(), &Actor::System, 9_999, &names(&["dev"]))),
        Error::NotFound(_)
    );
    assert_eq!(members(&w), before);
}
