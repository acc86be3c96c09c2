//! A database created by an older hitl, upgraded by this one, equals a fresh one.

use std::process::Command;

use crate::harness::*;

/// Every table, index and trigger, as SQLite stores their definitions.
fn schema_of(path: &std::path::Path) -> (i64, Vec<(String, String, String)>) {
    let db = rusqlite::Connection::open(path).unwrap();
    let version = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let mut stmt = db
        .prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get::<_, String>(2)?
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (version, rows)
}

#[test]
fn every_older_schema_upgrades_to_the_fresh_one() {
    let fresh = Hitl::new();
    fresh.ok(&["key", "list"]);
    let (latest, fresh_schema) = schema_of(&fresh.db_path());

    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut tested = 0;
    for version in 1..latest {
        let sql = std::fs::read_to_string(fixtures.join(format!("schema-v{version}.sql")))
            .unwrap_or_else(|_| panic!("tests/fixtures/schema-v{version}.sql is missing"));
        let old = Hitl::new();
        let db = rusqlite::Connection::open(old.db_path()).unwrap();
        db.execute_batch(&sql).unwrap();
        db.pragma_update(None, "user_version", version).unwrap();
        drop(db);
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(old.path())
            .args(["user", "list"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "upgrade from v{version}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (v, schema) = schema_of(&old.db_path());
        assert_eq!(v, latest);
        assert_eq!(
            schema, fresh_schema,
            "v{version} upgraded differs from a fresh database"
        );
        tested += 1;
    }
    assert_eq!(tested, latest - 1);
}
