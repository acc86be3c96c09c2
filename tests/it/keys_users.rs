use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;

#[test]
fn key_create_prints_the_key_alone_on_line_one() {
    let hitl = Hitl::new();
    let out = hitl.ok(&["key", "create", "--name", "deploy-bot"]);
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("hitl_") && first.len() >= 37, "{first:?}");
    assert!(first[5..].chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(out.contains("whsec_"));

    let j = hitl.key_json(&[
        "--name",
        "ci",
        "--webhook-url",
        "http://127.0.0.1:9/hook",
        "--monthly-limit",
        "50",
    ]);
    for field in ["id", "name", "key", "webhookSecret"] {
        assert!(j[field].is_string(), "{field} missing: {j}");
    }
    assert!(j["id"].as_str().unwrap().starts_with("key_"));
    assert!(j["webhookSecret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(j["name"], "ci");
    assert_eq!(j["kind"], "agent");
    assert_eq!(j["monthlyLimit"], 50);
}

#[test]
fn key_list_never_shows_a_secret_and_hashes_are_stored() {
    let hitl = Hitl::new();
    let j = hitl.key_json(&["--name", "deploy-bot"]);
    let key = j["key"].as_str().unwrap();
    let secret = j["webhookSecret"].as_str().unwrap();
    for args in [&["key", "list"][..], &["key", "list", "--json"][..]] {
        let out = hitl.ok(args);
        assert!(out.contains("deploy-bot"));
        assert!(
            out.contains(&key[..13]),
            "the visible prefix identifies the key"
        );
        assert!(!out.contains(key), "key list shows the key");
        assert!(!out.contains(secret), "key list shows the webhook secret");
        assert!(!out.contains("whsec_"));
    }
    // The database holds a hash, never the key.
    let db = hitl.db();
    let hash: Vec<u8> = db
        .query_row("SELECT key_hash FROM api_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(hash.len(), 32);
    let dump: String = db
        .query_row("SELECT group_concat(id || name || prefix || coalesce(webhook_url, ''), ' ') FROM api_keys", [], |r| r.get(0))
        .unwrap();
    assert!(!dump.contains(key));
}

#[test]
fn revoking_a_key_takes_effect_at_once_while_serving() {
    let hitl = Hitl::new();
    let server = hitl.serve(&[]);
    // Created while the server runs: usable at once.
    let j = hitl.key_json(&["--name", "late"]);
    let key = j["key"].as_str().unwrap();
    assert_eq!(server.get("/api/pause", key).status, 200);
    let id = server.create(key, &json!({ "action": "x" }));
    // Read twice: the key and the pause are now served from memory.
    for _ in 0..2 {
        assert_eq!(server.status(key, &id)["status"], "pending");
    }
    let out = hitl.ok(&["key", "revoke", j["id"].as_str().unwrap()]);
    assert!(out.contains("revoked"));
    let r = server.get(&format!("/api/pause/{id}"), key);
    assert_eq!((r.status, r.code()), (401, "unauthorized"));
    let r = server.get("/api/pause", key);
    assert_eq!((r.status, r.code()), (401, "unauthorized"));

    let again = hitl.cmd(&["key", "revoke", j["id"].as_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already revoked"));
    let unknown = hitl.cmd(&["key", "revoke", "key_nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("key_nope") && err.lines().count() == 1,
        "{err}"
    );

    let list: Value = serde_json::from_str(&hitl.ok(&["key", "list", "--json"])).unwrap();
    assert!(list[0]["revokedAt"].is_string());
    assert!(
        list[0]["lastUsedAt"].is_string(),
        "last use is recorded: {list}"
    );
}

#[test]
fn a_key_revoked_behind_the_servers_back_stops_within_seconds() {
    // Not through `hitl key revoke` (which tells the server at once): straight into
    // the database, as a command that died before telling it would leave it.
    let hitl = Hitl::new();
    let key = hitl.agent_key("a");
    let server = hitl.serve(&[]);
    let id = server.create(&key, &json!({ "action": "x" }));
    for _ in 0..2 {
        assert_eq!(server.status(&key, &id)["status"], "pending");
    }
    let db = rusqlite::Connection::open(hitl.db_path()).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    db.execute("UPDATE api_keys SET revoked_at = 1", [])
        .unwrap();
    let started = Instant::now();
    eventually(Duration::from_secs(5), "the revocation to hold", || {
        (server.get(&format!("/api/pause/{id}"), &key).status == 401).then_some(())
    });
    println!("noticed after {:?}", started.elapsed());
    assert_eq!(server.get("/api/pause", &key).status, 401);
}

#[test]
fn reviewer_keys_need_an_existing_user_and_die_with_it() {
    let hitl = Hitl::new();
    let out = hitl.cmd(&[
        "key",
        "create",
        "--name",
        "x",
        "--user",
        "nobody@example.com",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user with email nobody@example.com"));

    hitl.add_user("root@example.com", "admin");
    let reviewer = hitl.reviewer_key("Carol@Example.com");
    let agent = hitl.agent_key("a");
    let server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "x" }));
    for _ in 0..2 {
        assert_eq!(server.status(&reviewer, &id)["status"], "pending");
    }
    hitl.ok(&["user", "remove", "carol@example.com"]);
    let r = server.get(&format!("/api/pause/{id}"), &reviewer);
    assert_eq!(r.status, 401, "a removed user's key still works");
    let r = server.get("/api/pause", &reviewer);
    assert_eq!(r.status, 401, "a removed user's key still works");
    let list: Value = serde_json::from_str(&hitl.ok(&["key", "list", "--json"])).unwrap();
    let k = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "reviewer")
        .unwrap();
    assert!(k["revokedAt"].is_string());
}

#[test]
fn users_are_validated_case_folded_and_hashed() {
    let hitl = Hitl::new();
    hitl.add_user("Alice@Example.COM", "admin");
    let list: Value = serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    assert_eq!(list[0]["email"], "alice@example.com");
    assert_eq!(list[0]["role"], "admin");
    assert_eq!(list[0]["notifyEmail"], true);

    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["user", "add", "alice@example.com", "--password-stdin"],
            "long enough password\n",
            "already exists",
        ),
        (
            &["user", "add", "ALICE@example.com", "--password-stdin"],
            "long enough password\n",
            "already exists",
        ),
        (
            &["user", "add", "not-an-email", "--password-stdin"],
            "long enough password\n",
            "not a valid email",
        ),
        (
            &["user", "add", "bob@example.com", "--password-stdin"],
            "short\n",
            "too short",
        ),
        (&["user", "add", "bob@example.com"], "", "--password-stdin"),
        (&["user", "remove", "nobody@example.com"], "", "no user"),
        (&["user", "remove", "alice@example.com"], "", "last admin"),
    ];
    for (args, stdin, expected) in cases {
        let out = hitl.cmd_stdin(args, stdin);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let list: Value = serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "a failed add changed the users"
    );

    let hash: String = hitl
        .db()
        .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
        .unwrap();
    assert!(hash.starts_with("pbkdf2-sha256$600000$"), "{hash}");
    assert!(!hash.contains(PASSWORD));

    hitl.add_user("bob@example.com", "approver");
    hitl.ok(&["user", "remove", "bob@example.com"]);
    let out = hitl.ok(&["user", "list"]);
    assert!(out.contains("alice@example.com") && !out.contains("bob@"));
}

#[test]
fn key_create_into_head_is_not_a_broken_pipe() {
    let hitl = Hitl::new();
    // `head -1` closes the pipe after the key: hitl must not panic or fail.
    let script = format!(
        "set -o pipefail; for i in 1 2 3 4 5; do '{BIN}' --data-dir '{}' key create --name k$i | head -1 || exit 9; done; \
         '{BIN}' --data-dir '{0}' key create --name unread | true || exit 8",
        hitl.path().display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let keys: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(keys.len(), 5);
    assert!(keys.iter().all(|k| k.starts_with("hitl_")));
    // Nobody read the last key at all; it was still created.
    assert!(hitl.ok(&["key", "list"]).contains("unread"));
}

/// `hitl user add` without --password-stdin asks twice on the terminal (a real pty,
/// from util-linux's `script`).
#[test]
fn user_add_prompts_on_a_terminal() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let hitl = Hitl::new();
    let run = |email: &str, first: &str, second: &str| {
        let cmd = format!(
            "'{BIN}' --data-dir '{}' user add {email}",
            hitl.path().display()
        );
        let mut child = Command::new("script")
            .args(["-q", "-e", "-c", &cmd, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script(1) from util-linux");
        let mut stdin = child.stdin.take().unwrap();
        for line in [first, second] {
            std::thread::sleep(std::time::Duration::from_millis(300));
            writeln!(stdin, "{line}").unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run("tty@example.com", "typed password 1", "typed password 1");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Password:") && out.contains("Repeat it:"),
        "{out}"
    );
    assert!(
        !out.contains("typed password 1"),
        "the password was echoed: {out}"
    );
    let (code, out) = run("other@example.com", "typed password 1", "typed password 2");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("differ"), "{out}");
    let users = hitl.ok(&["user", "list"]);
    assert!(
        users.contains("tty@example.com") && !users.contains("other@"),
        "{users}"
    );
}
