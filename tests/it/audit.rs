use serde_json::json;

use crate::harness::*;

#[test]
fn every_change_is_in_the_append_only_audit_log() {
    let hitl = Hitl::new();
    hitl.add_user("admin@example.com", "admin");
    let agent_json = hitl.key_json(&["--name", "bot"]);
    let agent = agent_json["key"].as_str().unwrap().to_string();
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let approved = server.create(&agent, &json!({ "action": "a" }));
    let cancelled = server.create(&agent, &json!({ "action": "b" }));
    server.decide(&reviewer, &approved, "approved", "fine");
    server.post(
        &format!("/api/pause/{cancelled}/cancel"),
        &agent,
        &json!({}),
    );
    hitl.ok(&["key", "revoke", agent_json["id"].as_str().unwrap()]);
    hitl.ok(&["user", "remove", "r@example.com"]);

    let agent_actor = format!("key:{}", agent_json["id"].as_str().unwrap());
    let a = hitl.audit_events(&approved);
    assert_eq!(a[0], ("pause.created".to_string(), agent_actor.clone()));
    assert_eq!(a[1].0, "pause.approved");
    assert!(
        a[1].1.starts_with("key:key_"),
        "a reviewer key decided: {:?}",
        a[1]
    );
    assert_eq!(
        hitl.audit_events(&cancelled)[1],
        ("pause.cancelled".to_string(), agent_actor)
    );

    let db = hitl.db();
    let mut stmt = db
        .prepare("SELECT event, actor, details FROM audit WHERE watch_id IS NULL ORDER BY id")
        .unwrap();
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let events: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        events,
        [
            "user.added",
            "key.created",
            "user.added",
            "key.created",
            "key.revoked",
            "user.removed"
        ]
    );
    assert!(rows.iter().all(|r| r.1 == "cli"));
    let at: i64 = db
        .query_row("SELECT min(at) FROM audit", [], |r| r.get(0))
        .unwrap();
    assert!(at > 1_700_000_000_000);
    drop(stmt);
    drop(db);

    // Append-only: the database itself refuses edits.
    let rw = rusqlite::Connection::open(hitl.db_path()).unwrap();
    let update = rw.execute("UPDATE audit SET actor = 'me'", []);
    assert!(update.unwrap_err().to_string().contains("append-only"));
    assert!(rw.execute("DELETE FROM audit", []).is_err());
}
