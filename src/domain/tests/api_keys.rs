//! API keys: what `create` refuses, and what a bearer token authenticates as.

use super::*;
use crate::domain::keys::{Authenticated, CreatedKey, Kind as KeyKind};
use crate::domain::{users, Error};

/// What a bearer token authenticates as, by the rules alone (what the server keeps
/// in memory is `crate::memory`'s business, tested there).
fn authenticate(conn: &rusqlite::Connection, token: &str, now: Millis) -> Result<Authenticated> {
    let hash = keys::token_hash(token)?;
    Ok(keys::lookup(conn, token, &hash)?.use_at(now))
}

fn new_key(w: &mut World, new: NewKey) -> Result<CreatedKey> {
    w.db.write(|tx| keys::create(tx, t0(), &Actor::Cli, new))
}

fn named(name: &str) -> NewKey {
    NewKey {
        name: name.into(),
        ..NewKey::default()
    }
}

#[test]
fn invalid_keys_are_refused_and_change_nothing() {
    let mut w = World::new();
    let before = (w.db.count("api_keys"), w.db.count("audit"));
    let refused = [
        named(""),
        named("  \t "),
        named(&"k".repeat(101)),
        named("bell\u{7}"),
        NewKey {
            webhook_url: Some("ftp://example.com".into()),
            ..named("ok")
        },
        NewKey {
            monthly_limit: Some(0),
            ..named("ok")
        },
        NewKey {
            user_email: Some("nobody@example.com".into()),
            ..named("ok")
        },
    ];
    for new in refused {
        let shown = format!("{new:?}");
        assert_err!(new_key(&mut w, new), Error::Validation(_));
        assert_eq!(
            (w.db.count("api_keys"), w.db.count("audit")),
            before,
            "{shown}"
        );
    }
}

#[test]
fn a_key_is_shown_once_and_authenticates_as_its_kind() {
    let mut w = World::new();
    let agent = new_key(
        &mut w,
        NewKey {
            monthly_limit: Some(5),
            ..named(" ci-bot ")
        },
    )
    .unwrap();
    let reviewer = new_key(
        &mut w,
        NewKey {
            user_email: Some(" ANN@example.com ".into()),
            ..named("ann-2")
        },
    )
    .unwrap();
    assert_eq!(agent.name, "ci-bot");
    assert_eq!(
        (agent.kind, reviewer.kind),
        (KeyKind::Agent, KeyKind::Reviewer)
    );
    assert!(keys::well_formed(&agent.key), "{}", agent.key);
    assert!(agent.key[5..].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(agent.key.starts_with(&agent.prefix));
    assert_ne!(agent.key, reviewer.key);
    // Only the hash is stored: no column holds the key itself.
    let stored: i64 =
        w.db.conn()
            .query_row(
                "SELECT count(*) FROM api_keys WHERE id = ?1 OR name = ?1 OR prefix = ?1
                OR key_hash = ?1 OR webhook_secret = ?1",
                [&agent.key],
                |r| r.get(0),
            )
            .unwrap();
    assert_eq!(stored, 0);
    let found = authenticate(w.db.conn(), &agent.key, t0()).unwrap();
    assert!(matches!(&found.principal, Principal::Agent(k) if k.id == agent.id));
    assert_eq!(found.monthly_limit, Some(5));
    let found = authenticate(w.db.conn(), &reviewer.key, t0()).unwrap();
    assert!(matches!(&found.principal,
        Principal::ReviewerKey(k, r) if k.id == reviewer.id && r.email == "ann@example.com"));

    // A well-formed stranger, one character changed, and a malformed token.
    let stranger = format!("hitl_{}", "A".repeat(40));
    let mut altered = agent.key.clone().into_bytes();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == b'a' { b'b' } else { b'a' };
    let altered = String::from_utf8(altered).unwrap();
    for token in [stranger.as_str(), altered.as_str(), "hitl_short", ""] {
        assert_err!(authenticate(w.db.conn(), token, t0()), Error::Unauthorized);
    }
}

#[test]
fn a_revoked_key_or_a_removed_users_key_no_longer_authenticates() {
    let mut w = World::new();
    let agent = new_key(&mut w, named("ci-bot")).unwrap();
    let reviewer = new_key(
        &mut w,
        NewKey {
            user_email: Some("ann@example.com".into()),
            ..named("ann-2")
        },
    )
    .unwrap();
    for key in [&agent.key, &reviewer.key] {
        assert!(authenticate(w.db.conn(), key, t0()).is_ok());
    }

    let later = t0() + HOUR;
    w.db.write(|tx| keys::revoke(tx, later, &Actor::Cli, &agent.id))
        .unwrap();
    assert_err!(
        authenticate(w.db.conn(), &agent.key, later),
        Error::Unauthorized
    );
    assert_err!(
        w.db.write(|tx| keys::revoke(tx, later, &Actor::Cli, &agent.id)),
        Error::Conflict(_)
    );

    w.db.write(|tx| users::remove(tx, later, &Actor::Cli, "ann@example.com"))
        .unwrap();
    assert_err!(
        authenticate(w.db.conn(), &reviewer.key, later),
        Error::Unauthorized
    );
}

#[test]
fn a_live_reviewer_key_whose_user_is_gone_acts_for_nobody() {
    let mut w = World::new();
    w.db.write(|tx| add_user(tx, "bob@example.com", Role::Approver))
        .unwrap();
    let bob = NewKey {
        user_email: Some("bob@example.com".into()),
        ..named("bob-script")
    };
    let key = new_key(&mut w, bob).unwrap();
    assert!(authenticate(w.db.conn(), &key.key, t0()).is_ok());
    // The user row goes without its keys being revoked (not the way `users::remove`
    // does it): the key, still live, must not act for anybody.
    w.db.conn()
        .execute("DELETE FROM users WHERE email = 'bob@example.com'", [])
        .unwrap();
    assert_err!(
        authenticate(w.db.conn(), &key.key, t0()),
        Error::Unauthorized
    );
}

#[test]
fn the_last_admin_cannot_be_removed_or_demoted() {
    let mut w = World::new();
    let Principal::User(admin) = &w.admin else {
        panic!("the fixture's admin is a user");
    };
    let before = w.db.count("users");
    assert_err!(
        w.db.write(|tx| users::remove(tx, t0(), &Actor::Cli, "root@example.com")),
        Error::Conflict(_)
    );
    assert_err!(
        w.db.write(|tx| users::set_role(tx, t0(), &Actor::Cli, admin.user_id, Role::Approver)),
        Error::Conflict(_)
    );
    assert_eq!(w.db.count("users"), before);
    assert_eq!(
        users::by_id(w.db.conn(), admin.user_id).unwrap().role,
        Role::Admin
    );
}
