//! Groups: names checked, members added all or none, audit kept.

use super::*;
use crate::domain::groups;
use crate::domain::Error;

#[test]
fn members_are_added_all_or_none_and_removed_once() {
    let mut w = World::new();
    for bad in ["", "two words", &"x".repeat(65)] {
        assert_err!(
            w.db.write(|tx| groups::create(tx, t0(), &Actor::Cli, bad)),
            Error::Validation(_)
        );
    }
    w.db.write(|tx| groups::create(tx, t0(), &Actor::Cli, "ops"))
        .unwrap();
    assert_err!(
        w.db.write(|tx| groups::create(tx, t0(), &Actor::Cli, "ops")),
        Error::Conflict(_)
    );
    let both = vec!["ann@example.com".to_string(), "nobody@example.com".into()];
    assert_err!(
        w.db.write(|tx| groups::add(tx, t0(), &Actor::Cli, "ops", &both)),
        Error::NotFound(_)
    );
    assert_eq!(groups::list(w.db.conn()).unwrap()[0].members.len(), 0);
    let ann = vec!["ANN@example.com".to_string()];
    let added =
        w.db.write(|tx| groups::add(tx, t0(), &Actor::Cli, "ops", &ann))
            .unwrap();
    assert_eq!(added, ["ann@example.com"]);
    let again =
        w.db.write(|tx| groups::add(tx, t0(), &Actor::Cli, "ops", &ann))
            .unwrap();
    assert!(again.is_empty());
    assert_eq!(
        groups::list(w.db.conn()).unwrap()[0].members,
        ["ann@example.com"]
    );
    w.db.write(|tx| groups::remove(tx, t0(), &Actor::Cli, "ops", "ann@example.com"))
        .unwrap();
    assert_err!(
        w.db.write(|tx| groups::remove(tx, t0(), &Actor::Cli, "ops", "ann@example.com")),
        Error::NotFound(_)
    );
}
