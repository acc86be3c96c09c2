//! `hitl doctor`: a healthy data directory passes; each problem is named with its fix.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::harness::*;
use crate::peers::{free_port, SmtpServer};

fn doctor(hitl: &Hitl, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["doctor"];
    args.extend_from_slice(extra);
    let out = hitl.cmd(&args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn doctor_passes_a_healthy_directory_and_names_each_fix() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let smtp = SmtpServer::start(None);
    let smtp_url = format!("smtp://127.0.0.1:{}?tls=none", smtp.port);
    let server = hitl.serve(&[]);
    server.create(&agent, &json!({ "action": "x" }));
    let (code, out) = doctor(
        &hitl,
        &["--smtp-url", &smtp_url, "--smtp-from", "hitl@example.com"],
    );
    assert_eq!(code, Some(0), "{out}");
    for line in [
        "ok    a hitl serve runs on this directory",
        "ok    integrity check",
        "ok    audit chain intact",
        &format!(
            "ok    the public URL {} answers its health check",
            server.url
        ),
        "ok    the mail server accepts hitl",
        "nothing to fix",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }
    assert!(
        out.contains("schema version") && out.contains("this hitl's"),
        "{out}"
    );
    drop(server);

    // Stopped server, a data directory others can read, nothing at the mail address,
    // an edited audit log: each one named, with what to do.
    std::fs::set_permissions(hitl.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    rusqlite::Connection::open(hitl.db_path())
        .unwrap()
        .execute_batch("DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'user:mallory@example.com' WHERE id = 1;")
        .unwrap();
    let nothing = format!("smtp://127.0.0.1:{}?tls=none", free_port());
    let (code, out) = doctor(
        &hitl,
        &["--smtp-url", &nothing, "--smtp-from", "hitl@example.com"],
    );
    assert_eq!(code, Some(1), "{out}");
    for line in [
        "note  no hitl serve runs on this directory now",
        "FIX   the data directory",
        "chmod 700",
        "FIX   the audit chain breaks at entry 1",
        "does not answer",
        "FIX   mail:",
        "4 thing(s) to fix",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }

    // No database at all.
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["--data-dir", empty.path().to_str().unwrap(), "doctor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("there is no database here"));
}
