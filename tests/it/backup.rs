//! `hitl backup` while the server writes, and `hitl restore` into an empty data
//! directory: the copy is one moment's database, whole, and restores to an equal one.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::json;

use crate::harness::*;

/// Every row of every table (but the server's lock-free bookkeeping), as text, in order.
fn dump(db: &std::path::Path) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Vec::new();
    for table in tables {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY 1"))
            .unwrap();
        let columns = stmt.column_count();
        let rows: Vec<String> = stmt
            .query_map([], |r| {
                let mut line = format!("{table}:");
                for i in 0..columns {
                    let v: rusqlite::types::Value = r.get(i)?;
                    line.push_str(&format!("{v:?}|"));
                }
                Ok(line)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        out.extend(rows);
    }
    out
}

fn count(db: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_backup_under_write_load_restores_to_an_equal_database() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("writer");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (url, key, rkey, stop, acked) = (
                server.url.clone(),
                agent.clone(),
                reviewer.clone(),
                Arc::clone(&stop),
                Arc::clone(&acked),
            );
            thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let body = json!({ "action": format!("w{t} #{i}"), "context": { "i": i } })
                        .to_string();
                    let r = request(
                        "POST",
                        &format!("{url}/api/pause"),
                        Some(&key),
                        Some(&body),
                        &[],
                    );
                    assert_eq!(r.status, 201, "{}", r.text);
                    let id = r.json["watchId"].as_str().unwrap().to_string();
                    if i % 3 == 0 {
                        let d = request(
                            "POST",
                            &format!("{url}/api/pause/{id}/approve"),
                            Some(&rkey),
                            Some(r#"{"decision":"approved","comment":"ok"}"#),
                            &[],
                        );
                        assert_eq!(d.status, 200, "{}", d.text);
                    }
                    acked.lock().unwrap().push(id);
                    i += 1;
                }
            })
        })
        .collect();
    eventually(Duration::from_secs(30), "some pauses written", || {
        (acked.lock().unwrap().len() >= 100).then_some(())
    });
    let before: Vec<String> = acked.lock().unwrap().clone();
    let file = hitl.path().join("backup.db");
    let out = hitl.cmd(&["backup", file.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("integrity check ok"), "{said}");
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        !hitl.path().join("backup.db-wal").exists(),
        "one self-contained file"
    );

    // Every pause acknowledged before the backup began is in it; writes went on meanwhile.
    let in_backup = count(&file, "SELECT count(*) FROM pauses");
    let total = acked.lock().unwrap().len() as i64;
    assert!(
        in_backup >= before.len() as i64 && in_backup < total,
        "{in_backup} of {total}"
    );
    let conn = rusqlite::Connection::open(&file).unwrap();
    for id in &before {
        let found: i64 = conn
            .query_row(
                "SELECT count(*) FROM pauses WHERE watch_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, 1, "{id} missing from the backup");
    }
    // One moment's database: every decision in it has its audit entry.
    let unaudited = count(
        &file,
        "SELECT count(*) FROM pauses p WHERE p.status = 'approved' AND NOT EXISTS
           (SELECT 1 FROM audit a WHERE a.watch_id = p.watch_id AND a.event = 'pause.approved')",
    );
    assert_eq!(unaudited, 0);

    // Restore into a new directory: equal to the backup, and it serves.
    let restored = tempfile::tempdir().unwrap();
    let target = restored.path().join("data");
    let out = std::process::Command::new(BIN)
        .args([
            "--data-dir",
            target.to_str().unwrap(),
            "restore",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{in_backup} pauses")));
    assert_eq!(dump(&target.join("hitl.db")), dump(&file));
    let again = Server::start(&target, &[]);
    let id = &before[0];
    let status = again.status(&agent, id);
    assert_eq!(status["watchId"], id.as_str());
    assert_eq!(
        status["status"], "approved",
        "the first pause of each writer was approved"
    );
}

#[test]
fn backup_and_restore_refuse_what_would_lose_or_mix_data() {
    let hitl = Hitl::new();
    hitl.agent_key("a");
    let file = hitl.path().join("copy.db");
    let fail = |args: &[&str], says: &str| {
        let out = hitl.cmd(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    };
    // Never over an existing file.
    std::fs::write(&file, b"precious").unwrap();
    fail(&["backup", file.to_str().unwrap()], "exists already");
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");
    std::fs::remove_file(&file).unwrap();
    hitl.ok(&["backup", file.to_str().unwrap()]);

    // Never into a data directory that has a database, nor one a server uses.
    fail(&["restore", file.to_str().unwrap()], "not empty");
    let empty = tempfile::tempdir().unwrap();
    let busy = Server::start(empty.path(), &[]);
    let out = std::process::Command::new(BIN)
        .args([
            "--data-dir",
            empty.path().to_str().unwrap(),
            "restore",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another hitl serve"));
    drop(busy);

    // Not a backup: nothing is created.
    let junk = hitl.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, just some text").unwrap();
    let other = tempfile::tempdir().unwrap();
    let dir = other.path().join("new");
    let out = std::process::Command::new(BIN)
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "restore",
            junk.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a hitl backup"));
    assert!(!dir.join("hitl.db").exists());
    let sqlite = hitl.path().join("other.db");
    rusqlite::Connection::open(&sqlite)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let out = std::process::Command::new(BIN)
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "restore",
            sqlite.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no pauses table"));
    assert!(!dir.join("hitl.db").exists());

    // No database to back up.
    let out = std::process::Command::new(BIN)
        .args([
            "--data-dir",
            other.path().to_str().unwrap(),
            "backup",
            "/tmp/never.db",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("there is no database here"));
}
