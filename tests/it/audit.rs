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

/// `hitl audit verify` walks the hash chain: intact after real work, and the first
/// entry edited (or removed) behind the triggers' back is named. The CSV export and the
/// About page carry the same hashes; an upgraded database is chained by its upgrade.
#[test]
fn the_audit_chain_verifies_and_names_the_first_edited_entry() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("chain-bot");
    let reviewer = hitl.reviewer_key("chain@example.com");
    {
        let server = hitl.serve(&[]);
        for i in 0..4 {
            let id = server.create(&agent, &json!({ "action": format!("step {i}") }));
            server.decide(&reviewer, &id, "approved", "fine");
        }
    }
    let out = hitl.cmd(&["audit", "verify"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = hitl.db();
    let (entries, head): (i64, Vec<u8>) = db
        .query_row(
            "SELECT count(*), (SELECT hash FROM audit ORDER BY id DESC LIMIT 1) FROM audit",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let head_hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        said.trim(),
        format!("audit log intact: {entries} entries; head {head_hex}")
    );

    // The chain is what it says: SHA-256(previous hash || JCS of the columns).
    let (id, at, actor, event, details, hash): (i64, i64, String, String, String, Vec<u8>) = db
        .query_row(
            "SELECT id, at, actor, event, details, hash FROM audit WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap();
    let canonical = format!(
        "{{\"actor\":{},\"at\":{at},\"details\":{},\"event\":{},\"id\":{id},\"watchId\":null}}",
        serde_json::to_string(&actor).unwrap(),
        serde_json::to_string(&details).unwrap(),
        serde_json::to_string(&event).unwrap()
    );
    let mut input = vec![0u8; 32];
    input.extend_from_slice(canonical.as_bytes());
    assert_eq!(
        hash,
        ring::digest::digest(&ring::digest::SHA256, &input).as_ref(),
        "{canonical}"
    );

    // The export and the About page show the same hashes.
    let server = hitl.serve(&[]);
    hitl.add_user("root@example.com", "admin");
    let cookie = crate::web_http::sign_in(&server, "root@example.com", PASSWORD).unwrap();
    let csv = crate::web_http::page(&server, "/audit.csv", &cookie).text;
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with(",id,hash"), "{header}");
    assert!(
        csv.contains(&format!(
            ",1,{}",
            hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )),
        "{csv}"
    );
    let about = crate::web_http::page(&server, "/about", &cookie).text;
    assert!(about.contains("id=\"audit-head\""), "{about}");
    drop(server);

    // Edit one entry behind the append-only trigger's back: named, exit 1.
    let db = rusqlite::Connection::open(hitl.db_path()).unwrap();
    db.execute_batch(
        "DROP TRIGGER audit_no_update;
         UPDATE audit SET details = '{\"comment\":\"changed\"}' WHERE id = 3;",
    )
    .unwrap();
    let out = hitl.cmd(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("audit entry 3 (") && err.contains("the 2 entries before it are intact"),
        "{err}"
    );

    // Removing one breaks the chain at the next.
    let fresh = Hitl::new();
    fresh.agent_key("a");
    fresh.agent_key("b");
    fresh.agent_key("c");
    let db = rusqlite::Connection::open(fresh.db_path()).unwrap();
    db.execute_batch("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 2;")
        .unwrap();
    let out = fresh.cmd(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("audit entry 3 ("));
}
