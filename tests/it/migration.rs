//! A database created by an older hitl, upgraded by this one, equals a fresh one.

use std::process::Command;

use crate::harness::*;

/// Every table, index and trigger, as SQLite stores their definitions, and the search
/// index's settings.
fn schema_of(path: &std::path::Path) -> (i64, Vec<(String, String, String)>) {
    let db = rusqlite::Connection::open(path).unwrap();
    let version = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let mut stmt = db
        .prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .unwrap();
    let mut rows: Vec<(String, String, String)> = stmt
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
    // The search index's settings (version 16 turned its own merging off) are rows.
    rows.extend(
        db.prepare("SELECT 'fts5 config', k, CAST(v AS TEXT) FROM pause_search_config ORDER BY k")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap(),
    );
    (version, rows)
}

/// A data directory whose database is an empty one of schema `version`, made from
/// `tests/fixtures/schema-vVERSION.sql`, and a connection to it.
fn at_version(version: i64) -> (Hitl, rusqlite::Connection) {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/schema-v{version}.sql"));
    let sql = std::fs::read_to_string(&fixture)
        .unwrap_or_else(|_| panic!("{} is missing", fixture.display()));
    let old = Hitl::new();
    let db = rusqlite::Connection::open(old.db_path()).unwrap();
    db.execute_batch(&sql).unwrap();
    db.pragma_update(None, "user_version", version).unwrap();
    (old, db)
}

#[test]
fn every_older_schema_upgrades_to_the_fresh_one() {
    let fresh = Hitl::new();
    fresh.ok(&["key", "list"]);
    let (latest, fresh_schema) = schema_of(&fresh.db_path());

    let mut tested = 0;
    for version in 1..latest {
        let (old, db) = at_version(version);
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

/// A version 3 database with pauses (pending and decided), their tags and an
/// Idempotency-Key keeps every row and id through the rebuild of the pauses table,
/// keeps its foreign keys pointing at the new table, and then takes questions.
#[test]
fn a_v3_database_with_pauses_keeps_them_and_then_answers_questions() {
    let (old, db) = at_version(3);
    db.pragma_update(None, "foreign_keys", "ON").unwrap();
    db.execute_batch(
        "INSERT INTO api_keys (id, name, prefix, key_hash, kind, webhook_secret, created_at)
             VALUES ('key_old', 'old-bot', 'hitl_old', x'00', 'agent', 'whsec_AAAA', 1000);
         INSERT INTO pauses (id, watch_id, key_id, status, action, context, tags, created_at,
                             expires_at, resolved_at, resolved_by, comment)
             VALUES (5, 'wch_pending', 'key_old', 'pending', 'Deploy v1', '{\"a\":1}',
                     '[\"deploy\"]', 2000, 9999999999999, NULL, NULL, NULL),
                    (9, 'wch_decided', 'key_old', 'rejected', 'Drop the table', NULL,
                     '[\"db\",\"prod\"]', 3000, NULL, 4000, 'alice@example.com', 'no way');
         INSERT INTO pause_tags (tag, pause_id) VALUES ('deploy', 5), ('db', 9), ('prod', 9);
         INSERT INTO idempotency (key_id, idem_key, request_hash, pause_id, created_at)
             VALUES ('key_old', 'retry-1', x'0102', 5, 2000);
         INSERT INTO audit (at, actor, event, watch_id, details)
             VALUES (1000, 'cli', 'key.created', NULL, '{\"name\":\"old-bot\"}'),
                    (4000, 'user:alice@example.com', 'pause.rejected', 'wch_decided', '{}');",
    )
    .unwrap();
    drop(db);

    old.add_user("alice@example.com", "approver");
    // The upgrade chained the entries it found; new ones carry on the chain.
    let verified = old.ok(&["audit", "verify"]);
    assert!(
        verified.starts_with("audit log intact: 3 entries"),
        "{verified}"
    );
    let db = old.db();
    assert_eq!(
        db.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        19
    );
    // Every pause kept from before version 7 expires on its timeout, as it did.
    let on_timeout: Vec<String> = db
        .prepare("SELECT DISTINCT on_timeout FROM pauses")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(on_timeout, ["expire"]);
    type Row = (i64, String, String, String, Option<String>, Option<String>);
    let rows: Vec<Row> = db
        .prepare("SELECT id, watch_id, kind, status, comment, answer FROM pauses ORDER BY id")
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                5,
                "wch_pending".into(),
                "decision".into(),
                "pending".into(),
                None,
                None
            ),
            (
                9,
                "wch_decided".into(),
                "decision".into(),
                "rejected".into(),
                Some("no way".into()),
                None
            ),
        ]
    );
    let tags: i64 = db
        .query_row(
            "SELECT count(*) FROM pause_tags JOIN pauses ON pauses.id = pause_id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tags, 3);
    let idem: i64 = db
        .query_row(
            "SELECT pause_id FROM idempotency WHERE idem_key = 'retry-1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(idem, 5);
    let broken: i64 = db
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(broken, 0);
    let references: String = db
        .query_row("SELECT group_concat(sql, ' ') FROM sqlite_schema WHERE name IN ('pause_tags', 'idempotency')", [], |r| r.get(0))
        .unwrap();
    assert!(!references.contains("pauses_v3"), "{references}");
    drop(db);

    let agent = old.agent_key("new-bot");
    let reviewer = old.key_json(&["--name", "alice-bot", "--user", "alice@example.com"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let server = old.serve(&[]);
    let listed = server.get("/api/pause?tag=prod", &reviewer);
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json["items"][0]["watchId"], "wch_decided");
    assert_eq!(listed.json["items"][0]["kind"], "decision");
    assert_eq!(listed.json["items"][0]["answer"], serde_json::Value::Null);
    let r = server.decide(&reviewer, "wch_pending", "approved", "fine");
    assert_eq!(r.status, 200, "{}", r.text);

    let question = server.create(
        &agent,
        &serde_json::json!({"action": "Which region?", "kind": "question", "options": ["eu", "us"]}),
    );
    let r = server.post(
        &format!("/api/pause/{question}/answer"),
        &reviewer,
        &serde_json::json!({"answer": "eu"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "answered");
    assert_eq!(r.json["answer"], "eu");
    let id: i64 = old
        .db()
        .query_row(
            "SELECT id FROM pauses WHERE watch_id = ?1",
            [&question],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(id, 10, "new rows continue after the old ids");
}

/// A version 4 database (questions, options, answers) keeps every row, id and field
/// through the rebuild for risk and summary, the old pauses have neither, and new ones
/// take both.
#[test]
fn a_v4_database_keeps_its_pauses_and_then_takes_risk_and_summary() {
    let (old, db) = at_version(4);
    db.pragma_update(None, "foreign_keys", "ON").unwrap();
    db.execute_batch(
        "INSERT INTO api_keys (id, name, prefix, key_hash, kind, webhook_secret, created_at)
             VALUES ('key_old', 'old-bot', 'hitl_old', x'00', 'agent', 'whsec_AAAA', 1000);
         INSERT INTO pauses (id, watch_id, key_id, kind, status, action, options, context,
                             tags, webhook_url, created_at, expires_at, resolved_at,
                             resolved_by, comment, answer)
             VALUES (4, 'wch_question', 'key_old', 'question', 'answered', 'Which region?',
                     '[\"eu\",\"us\"]', NULL, '[\"ops\"]', 'http://127.0.0.1:9/h', 2000,
                     NULL, 2500, 'alice@example.com', NULL, 'eu'),
                    (7, 'wch_pending', 'key_old', 'decision', 'pending', 'Deploy v1', NULL,
                     '{\"a\":1}', '[]', NULL, 3000, 9999999999999, NULL, NULL, NULL, NULL);
         INSERT INTO pause_tags (tag, pause_id) VALUES ('ops', 4);
         INSERT INTO idempotency (key_id, idem_key, request_hash, pause_id, created_at)
             VALUES ('key_old', 'retry-1', x'0102', 7, 3000);",
    )
    .unwrap();
    drop(db);

    old.add_user("alice@example.com", "approver");
    let db = old.db();
    assert_eq!(
        db.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        19
    );
    type Row = (
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = db
        .prepare("SELECT id, watch_id, status, options, answer, webhook_url, risk, summary FROM pauses ORDER BY id")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                4,
                "wch_question".into(),
                "answered".into(),
                Some("[\"eu\",\"us\"]".into()),
                Some("eu".into()),
                Some("http://127.0.0.1:9/h".into()),
                None,
                None
            ),
            (
                7,
                "wch_pending".into(),
                "pending".into(),
                None,
                None,
                None,
                None,
                None
            ),
        ]
    );
    let linked: i64 = db
        .query_row(
            "SELECT (SELECT count(*) FROM pause_tags JOIN pauses ON pauses.id = pause_id)
                  + (SELECT count(*) FROM idempotency JOIN pauses ON pauses.id = pause_id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(linked, 2);
    let broken: i64 = db
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(broken, 0);
    let references: String = db
        .query_row("SELECT group_concat(sql, ' ') FROM sqlite_schema WHERE name IN ('pause_tags', 'idempotency')", [], |r| r.get(0))
        .unwrap();
    assert!(!references.contains("pauses_v4"), "{references}");
    drop(db);

    let agent = old.agent_key("new-bot");
    let reviewer = old.key_json(&["--name", "alice-bot", "--user", "alice@example.com"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let server = old.serve(&[]);
    let s = server.status(&reviewer, "wch_question");
    assert_eq!(
        (&s["answer"], &s["risk"], &s["summary"]),
        (
            &serde_json::json!("eu"),
            &serde_json::Value::Null,
            &serde_json::Value::Null
        )
    );
    let r = server.decide(&reviewer, "wch_pending", "approved", "fine");
    assert_eq!(r.status, 200, "{}", r.text);
    let id = server.create(
        &agent,
        &serde_json::json!({"action": "Drop it", "risk": "critical", "summary": "Gone for good."}),
    );
    let s = server.status(&reviewer, &id);
    assert_eq!(
        (&s["risk"], &s["summary"]),
        (
            &serde_json::json!("critical"),
            &serde_json::json!("Gone for good.")
        )
    );
    let row: i64 = old
        .db()
        .query_row("SELECT id FROM pauses WHERE watch_id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(row, 8, "new rows continue after the old ids");
}

/// Version 6 makes the names of active keys unique: an older database may hold
/// duplicates, renamed NAME-2, NAME-3 in creation order (NAME-ID when that is taken
/// too); revoked keys keep their names; the keys keep working.
#[test]
fn duplicate_key_names_are_renamed_deterministically() {
    let (old, db) = at_version(4);
    db.execute_batch(
        "INSERT INTO api_keys (id, name, prefix, key_hash, kind, webhook_secret, created_at, revoked_at) VALUES
            ('key_c', 'bot',   'hitl_c', x'00', 'agent', 'whsec_A', 3000, NULL),
            ('key_a', 'bot',   'hitl_a', x'00', 'agent', 'whsec_A', 1000, NULL),
            ('key_b', 'bot',   'hitl_b', x'00', 'agent', 'whsec_A', 2000, NULL),
            ('key_d', 'bot-2', 'hitl_d', x'00', 'agent', 'whsec_A', 500,  NULL),
            ('key_e', 'bot',   'hitl_e', x'00', 'agent', 'whsec_A', 100,  9000),
            ('key_f', 'solo',  'hitl_f', x'00', 'agent', 'whsec_A', 100,  NULL);",
    )
    .unwrap();
    drop(db);
    let listed: serde_json::Value =
        serde_json::from_str(&old.ok(&["key", "list", "--json"])).unwrap();
    let mut names: Vec<(String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["id"].as_str().unwrap().into(),
                k["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    names.sort();
    let expected: Vec<(String, String)> = [
        ("key_a", "bot"),
        ("key_b", "bot-key_b"),
        ("key_c", "bot-3"),
        ("key_d", "bot-2"),
        ("key_e", "bot"),
        ("key_f", "solo"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(names, expected);
    // Unique from now on: by name, one key.
    let out = old.cmd(&["key", "create", "--name", "bot-3"]);
    assert_eq!(out.status.code(), Some(1));
    let out = old.ok(&["key", "revoke", "bot"]);
    assert!(out.contains("key_a"), "{out}");
}

/// Version 15 rewrote the CHECKs of pauses and outbox in place: a version 14 database
/// keeps its rows, is whole, and still refuses every value the old CHECKs refused.
#[test]
fn a_v14_database_keeps_its_rows_and_refuses_the_same_values() {
    let (old, db) = at_version(14);
    db.execute_batch(
        "INSERT INTO api_keys (id, name, prefix, key_hash, kind, webhook_secret, created_at)
             VALUES ('key_old', 'old-bot', 'hitl_old', x'00', 'agent', 'whsec_AAAA', 1000);
         INSERT INTO pauses (id, watch_id, key_id, status, action, created_at, risk, on_timeout)
             VALUES (5, 'wch_kept', 'key_old', 'answered', 'Which region?', 2000, 'critical',
                     'reject');
         INSERT INTO outbox (kind, watch_id, event_id, target, payload, state, next_attempt_at,
                             created_at)
             VALUES ('discord', 'wch_kept', 'evt_1', 'https://example.com/', '{}', 'gone', 0,
                     2000);",
    )
    .unwrap();
    drop(db);

    old.ok(&["user", "list"]);
    let db = rusqlite::Connection::open(old.db_path()).unwrap();
    assert_eq!(
        db.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        19
    );
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let kept: (String, String, String) = db
        .query_row(
            "SELECT p.status, p.risk, o.state FROM pauses p JOIN outbox o USING (watch_id)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(kept, ("answered".into(), "critical".into(), "gone".into()));

    // A new pause with `value` in `column` and a valid value in the others.
    let pause = |column: &str, value: &str| {
        let of = |name: &str, valid: &'static str| if name == column { value } else { valid };
        db.execute(
            "INSERT INTO pauses (watch_id, key_id, action, created_at, status, risk, on_timeout)
             VALUES ('wch_' || hex(randomblob(8)), 'key_old', 'x', 1, ?1, ?2, ?3)",
            [
                of("status", "pending"),
                of("risk", "high"),
                of("on_timeout", "expire"),
            ],
        )
    };
    let outbox = |column: &str, value: &str| {
        let of = |name: &str, valid: &'static str| if name == column { value } else { valid };
        db.execute(
            "INSERT INTO outbox (watch_id, event_id, target, payload, next_attempt_at, created_at,
                                 kind, state)
             VALUES ('w', 'e', 't', '{}', 0, 1, ?1, ?2)",
            [of("kind", "email"), of("state", "pending")],
        )
    };
    for (column, good, bad) in [
        ("status", "cancelled", "paused"),
        ("risk", "low", "severe"),
        ("on_timeout", "approve", "retry"),
    ] {
        assert!(pause(column, good).is_ok(), "pauses.{column} = {good}");
        let refused = pause(column, bad).unwrap_err().to_string();
        assert!(refused.contains("CHECK constraint failed"), "{refused}");
    }
    for (column, good, bad) in [("kind", "teams", "fax"), ("state", "skipped", "lost")] {
        assert!(outbox(column, good).is_ok(), "outbox.{column} = {good}");
        let refused = outbox(column, bad).unwrap_err().to_string();
        assert!(refused.contains("CHECK constraint failed"), "{refused}");
    }
}
