use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::harness::*;

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("HITL_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run hitl")
}

/// A start-up failure: non-zero exit, one clear `error:` line, no panic.
fn assert_one_line_failure(out: &Output, expected: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success: {err}"
    );
    assert!(!err.contains("panicked"), "panicked: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "want one error line: {err}");
    assert!(
        errors[0].contains(expected),
        "{:?} does not say {expected:?}",
        errors[0]
    );
}

#[test]
fn version_and_help_with_examples() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout)
        .starts_with(&format!("hitl {}", env!("CARGO_PKG_VERSION"))));
    let help = String::from_utf8_lossy(&run(&["--help"]).stdout).into_owned();
    for expected in [
        "serve",
        "key",
        "user",
        "ask",
        "healthcheck",
        "Examples:",
        "HITL_DATA_DIR",
    ] {
        assert!(help.contains(expected), "--help lacks {expected}");
    }
    let serve_help = String::from_utf8_lossy(&run(&["serve", "--help"]).stdout).into_owned();
    for expected in ["HITL_LISTEN", "HITL_PUBLIC_URL", "--max-context-bytes"] {
        assert!(
            serve_help.contains(expected),
            "serve --help lacks {expected}"
        );
    }
}

#[test]
fn env_vars_configure_like_flags() {
    let hitl = Hitl::new();
    let out = Command::new(BIN)
        .args(["key", "create"])
        .env("HITL_DATA_DIR", hitl.path())
        .env("HITL_KEY_NAME", "from-env")
        .env("HITL_JSON", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["name"], "from-env");
    assert!(hitl.path().join("hitl.db").exists());
}

#[test]
fn healthcheck_exit_codes() {
    let hitl = Hitl::new();
    let server = hitl.serve(&[]);
    let ok = run(&["healthcheck", "--url", &server.url]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let port = server.url.rsplit(':').next().unwrap().to_string();
    drop(server);
    let down = run(&["healthcheck", "--url", &format!("http://127.0.0.1:{port}")]);
    assert_eq!(down.status.code(), Some(1));
    assert_one_line_failure(&down, "did not answer");
    assert_one_line_failure(&run(&["healthcheck", "--url", "nonsense"]), "--url");
}

#[test]
fn data_directory_is_private_and_bad_ones_fail_cleanly() {
    let hitl = Hitl::new();
    let dir = hitl.path().join("nested/data");
    // A management command refuses a directory that does not exist (a typo would
    // otherwise make a new, empty database) and creates nothing.
    for args in [
        &["key", "list"][..],
        &["user", "list"],
        &["key", "create", "--name", "x"],
    ] {
        let mut all = vec!["--data-dir", dir.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = run(&all);
        assert_one_line_failure(&out, "does not exist");
        assert!(String::from_utf8_lossy(&out.stderr).contains(dir.to_str().unwrap()));
        assert!(!dir.exists());
    }
    std::fs::create_dir_all(&dir).unwrap();
    let out = run(&["--data-dir", dir.to_str().unwrap(), "key", "list"]);
    assert!(out.status.success());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let db_mode = std::fs::metadata(dir.join("hitl.db"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(db_mode, 0o600);

    let file = hitl.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let f = file.to_str().unwrap();
    assert_one_line_failure(
        &run(&["--data-dir", f, "serve", "--listen", "127.0.0.1:0"]),
        "not a directory",
    );
    assert_one_line_failure(
        &run(&["--data-dir", &format!("{f}/below"), "key", "list"]),
        "data directory",
    );
    assert_one_line_failure(&run(&["--data-dir", f, "key", "list"]), "not a directory");
    // /proc refuses new directories even to root.
    assert_one_line_failure(
        &run(&[
            "--data-dir",
            "/proc/hitl-test",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ]),
        "data directory",
    );

    let not_db = hitl.path().join("garbage");
    std::fs::create_dir(&not_db).unwrap();
    std::fs::write(not_db.join("hitl.db"), vec![7u8; 8192]).unwrap();
    assert_one_line_failure(
        &run(&["--data-dir", not_db.to_str().unwrap(), "key", "list"]),
        "not a SQLite database",
    );
}

#[test]
fn busy_port_and_bad_flags_fail_cleanly() {
    let hitl = Hitl::new();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let d = hitl.path().to_str().unwrap();
    assert_one_line_failure(
        &run(&["--data-dir", d, "serve", "--listen", &addr]),
        "already in use",
    );
    assert_one_line_failure(
        &run(&["--data-dir", d, "serve", "--listen", "localhost:8080"]),
        "--listen",
    );
    assert_one_line_failure(
        &run(&[
            "--data-dir",
            d,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "ftp://x",
        ]),
        "--public-url",
    );
}

#[test]
fn one_server_per_data_directory() {
    let hitl = Hitl::new();
    let _first = hitl.serve(&[]);
    let d = hitl.path().to_str().unwrap();
    assert_one_line_failure(
        &run(&["--data-dir", d, "serve", "--listen", "127.0.0.1:0"]),
        "another hitl serve is already using the data directory",
    );
    // Management commands still work beside it.
    hitl.ok(&["key", "list"]);
}

#[test]
fn a_database_from_a_newer_hitl_is_refused() {
    let hitl = Hitl::new();
    hitl.ok(&["key", "list"]);
    rusqlite::Connection::open(hitl.db_path())
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let d = hitl.path().to_str().unwrap();
    assert_one_line_failure(
        &run(&["--data-dir", d, "serve", "--listen", "127.0.0.1:0"]),
        "newer hitl",
    );
    assert_one_line_failure(
        &run(&["--data-dir", d, "key", "list"]),
        "schema version 999",
    );
    // Refusing changed nothing.
    let v: i64 = hitl
        .db()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 999);
}

#[test]
fn a_foreign_sqlite_database_is_refused() {
    let hitl = Hitl::new();
    rusqlite::Connection::open(hitl.db_path())
        .unwrap()
        .execute_batch("CREATE TABLE mine (x)")
        .unwrap();
    assert_one_line_failure(&hitl.cmd(&["key", "list"]), "not a hitl database");
}

#[test]
fn management_commands_work_while_the_server_writes() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("busy");
    let server = hitl.serve(&[]);
    let url = server.url.clone();
    let key = agent.clone();
    let writer = std::thread::spawn(move || {
        for i in 0..100 {
            let r = request(
                "POST",
                &format!("{url}/api/pause"),
                Some(&key),
                Some(&format!(r#"{{"action":"load {i}"}}"#)),
                &[],
            );
            assert_eq!(r.status, 201, "{}", r.text);
        }
    });
    for i in 0..5 {
        hitl.key_json(&["--name", &format!("concurrent-{i}")]);
        std::thread::sleep(Duration::from_millis(20));
    }
    writer.join().unwrap();
    assert_eq!(
        server.get("/api/pause?limit=200", &agent).json["items"]
            .as_array()
            .unwrap()
            .len(),
        100
    );
}

#[test]
fn serve_creates_its_data_directory() {
    let hitl = Hitl::new();
    let dir = hitl.path().join("fresh/data");
    let server = Server::start(&dir, &[]);
    assert!(dir.join("hitl.db").exists());
    drop(server);
    let out = run(&["--data-dir", dir.to_str().unwrap(), "key", "list"]);
    assert!(out.status.success());
}

#[test]
fn each_command_lists_only_its_own_flags() {
    let help = |args: &[&str]| String::from_utf8_lossy(&run(args).stdout).into_owned();
    let server_only = [
        "--listen",
        "--public-url",
        "--webhook-deny-private",
        "--webhook-allow",
        "--smtp-url",
        "--workers",
        "--trust-proxy",
        "--default-timeout",
    ];
    for args in [
        &["ask", "--help"][..],
        &["key", "--help"],
        &["key", "create", "--help"],
        &["user", "--help"],
        &["user", "invite", "--help"],
        &["healthcheck", "--help"],
        &["hook", "claude-code", "--help"],
    ] {
        let text = help(args);
        assert!(text.contains("Usage:"), "{args:?}: {text}");
        for flag in server_only {
            assert!(!text.contains(flag), "{args:?} --help lists {flag}");
        }
    }
    for args in [&["ask", "--help"][..], &["healthcheck", "--help"]] {
        assert!(
            !help(args).contains("--data-dir"),
            "{args:?} lists --data-dir"
        );
    }
    for args in [
        &["key", "list", "--help"][..],
        &["user", "invite", "--help"],
        &["serve", "--help"],
    ] {
        assert!(
            help(args).contains("--data-dir"),
            "{args:?} lacks --data-dir"
        );
    }
    let serve = help(&["serve", "--help"]);
    for flag in server_only {
        assert!(serve.contains(flag), "serve --help lacks {flag}");
    }
    // --data-dir works before and after the command.
    let hitl = Hitl::new();
    let d = hitl.path().to_str().unwrap();
    assert!(run(&["key", "create", "--name", "after", "--data-dir", d])
        .status
        .success());
    let listed =
        String::from_utf8_lossy(&run(&["--data-dir", d, "key", "list"]).stdout).into_owned();
    assert!(listed.contains("after"));
    // A server flag on a management command is an error, not silently ignored.
    let out = run(&["--data-dir", d, "key", "list", "--webhook-deny-private"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn boolean_environment_variables_take_the_usual_spellings() {
    let hitl = Hitl::new();
    let list = |value: &str| {
        Command::new(BIN)
            .args(["key", "list"])
            .env("HITL_DATA_DIR", hitl.path())
            .env("HITL_JSON", value)
            .output()
            .unwrap()
    };
    hitl.ok(&["key", "create", "--name", "k"]);
    for yes in ["1", "true", "TRUE", "yes", "Yes", "on"] {
        let out = list(yes);
        assert!(
            out.status.success(),
            "{yes}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("HITL_JSON={yes} printed no JSON"));
        assert_eq!(j[0]["name"], "k");
    }
    for no in ["0", "false", "False", "no", "NO", "off"] {
        let out = list(no);
        assert!(out.status.success(), "{no}");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("ID"),
            "HITL_JSON={no} printed JSON"
        );
    }
    let out = list("maybe");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("maybe"));

    // A server boolean too: HITL_TRUST_PROXY=yes is taken, nonsense refused.
    let d = hitl.path().to_str().unwrap();
    let out = Command::new(BIN)
        .args(["--data-dir", d, "serve", "--listen", "127.0.0.1:0"])
        .env("HITL_TRUST_PROXY", "perhaps")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("perhaps"));
    let server = Server::start(hitl.path(), &[]);
    drop(server);
}

#[test]
fn default_timeout_applies_to_pauses_without_one() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let d = hitl.path().to_str().unwrap();
    for bad in ["soon", "0s", "31d", "1500ms"] {
        assert_one_line_failure(
            &run(&[
                "--data-dir",
                d,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--default-timeout",
                bad,
            ]),
            "--default-timeout",
        );
    }
    let server = hitl.serve(&["--default-timeout", "2h"]);
    let without = server.create(&agent, &serde_json::json!({ "action": "no timeout given" }));
    let with = server.create(
        &agent,
        &serde_json::json!({ "action": "its own", "timeoutSeconds": 60 }),
    );
    let span = |id: &str| {
        let p = server.status(&agent, id);
        let at = |f: &str| chrono_ms(p[f].as_str().unwrap_or_else(|| panic!("{f} missing: {p}")));
        at("expiresAt") - at("createdAt")
    };
    assert_eq!(span(&without), 7_200_000);
    assert_eq!(span(&with), 60_000);
    drop(server);
    // Without the flag, such a pause has no timeout.
    let server = hitl.serve(&[]);
    let id = server.create(&agent, &serde_json::json!({ "action": "no timeout" }));
    assert!(server.status(&agent, &id)["expiresAt"].is_null());
}

/// Milliseconds since the epoch of an RFC 3339 UTC time with milliseconds.
fn chrono_ms(text: &str) -> i64 {
    let t = humantime::parse_rfc3339(text).unwrap();
    t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}
