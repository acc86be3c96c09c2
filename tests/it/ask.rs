//! `hitl ask`: the gate for shell scripts and CI.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::*;

fn ask(server_url: &str, key: &str, args: &[&str]) -> Child {
    Command::new(BIN)
        .arg("ask")
        .args(args)
        .env("HITL_URL", server_url)
        .env("HITL_API_KEY", key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hitl ask")
}

fn finish(mut child: Child) -> (i32, String, String) {
    let status = child.wait().expect("wait");
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code().unwrap_or(-1), out, err)
}

/// Waits for the single pending pause that `hitl ask` created.
fn pending_pause(server: &Server, reviewer: &str) -> Value {
    eventually(Duration::from_secs(20), "the pause of hitl ask", || {
        let items = server.get("/api/pause?status=pending", reviewer).json["items"].clone();
        items.as_array().and_then(|a| a.first().cloned())
    })
}

#[test]
fn approved_exits_0_and_prints_the_decision() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("ci");
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);
    let child = ask(
        &server.url,
        &agent,
        &[
            "Deploy v2.4.1 to prod",
            "--context",
            r#"{"commit":"a3f9b2e"}"#,
            "--timeout",
            "30m",
            "--tag",
            "deploy",
            "--tag",
            "prod",
        ],
    );
    let pause = pending_pause(&server, &reviewer);
    assert_eq!(pause["action"], "Deploy v2.4.1 to prod");
    assert_eq!(pause["context"]["commit"], "a3f9b2e");
    assert_eq!(pause["tags"], serde_json::json!(["deploy", "prod"]));
    assert!(pause["expiresAt"].is_string());
    let id = pause["watchId"].as_str().unwrap();
    assert_eq!(
        server.decide(&reviewer, id, "approved", "ship it").status,
        200
    );
    let (code, out, err) = finish(child);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "approved by alice@example.com: ship it");
    assert!(
        err.contains(&format!("{}/review/{id}", server.url)),
        "the review URL goes to stderr: {err}"
    );
}

#[test]
fn rejected_exits_1_and_stops_the_next_command() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("ci");
    let reviewer = hitl.reviewer_key("bob@example.com");
    let server = hitl.serve(&[]);
    let marker = hitl.path().join("dropped");
    let script = format!(
        "'{BIN}' ask 'Drop table users' && touch '{}'",
        marker.display()
    );
    let child = Command::new("sh")
        .args(["-c", &script])
        .env("HITL_URL", &server.url)
        .env("HITL_API_KEY", &agent)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pause = pending_pause(&server, &reviewer);
    server.decide(
        &reviewer,
        pause["watchId"].as_str().unwrap(),
        "rejected",
        "never",
    );
    let (code, out, _) = finish(child);
    assert_eq!(code, 1);
    assert_eq!(out.trim(), "rejected by bob@example.com: never");
    assert!(
        !marker.exists(),
        "the guarded command ran after a rejection"
    );
}

#[test]
fn expired_exits_2() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("ci");
    let server = hitl.serve(&[]);
    let (code, out, err) = finish(ask(
        &server.url,
        &agent,
        &["Nobody answers", "--timeout", "1s"],
    ));
    assert_eq!(code, 2, "{err}");
    assert!(out.starts_with("expired"), "{out}");
}

#[test]
fn on_timeout_decides_with_the_exit_code_of_its_outcome() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("ci");
    let server = hitl.serve(&[]);
    for (outcome, code) in [("reject", 1), ("approve", 0), ("expire", 2)] {
        let (got, out, err) = finish(ask(
            &server.url,
            &agent,
            &["Nobody answers", "--timeout", "1s", "--on-timeout", outcome],
        ));
        assert_eq!(got, code, "{outcome}: {err}");
        if outcome != "expire" {
            assert!(out.contains("by the timeout"), "{outcome}: {out}");
        }
    }
    // Without --timeout it would never apply: a usage error, nothing created.
    let out = hitl.cmd(&["ask", "x", "--on-timeout", "approve"]);
    assert_eq!(out.status.code(), Some(3));
    let out = hitl.cmd(&["ask", "x", "--timeout", "1s", "--on-timeout", "maybe"]);
    assert_eq!(out.status.code(), Some(3));
    let count: i64 = hitl
        .db()
        .query_row("SELECT count(*) FROM pauses", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 3);
}

#[test]
fn errors_exit_3_with_a_clear_line() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("ci");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let cases: Vec<(Vec<&str>, String, &str)> = vec![
        (vec!["x"], String::new(), "HITL_API_KEY"),
        (vec!["x"], "hitl_wrong".into(), "API key"),
        (
            vec!["x", "--context", "{not json"],
            agent.clone(),
            "--context is not valid JSON",
        ),
        (
            vec!["x", "--context", r#"{"amount":1,"amount":1000000}"#],
            agent.clone(),
            "context.amount is given more than once",
        ),
        (vec!["x", "--timeout", "soon"], agent.clone(), "--timeout"),
        (vec!["x", "--timeout", "31d"], agent.clone(), "30 days"),
        (vec![""], agent.clone(), "action must not be empty"),
        (vec!["x"], reviewer.clone(), "only agent keys"),
    ];
    for (args, key, expected) in cases {
        let (code, _, err) = finish(ask(&server.url, &key, &args));
        assert_eq!(code, 3, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
    // Nothing was created by any of them.
    assert_eq!(
        server.get("/api/pause", &reviewer).json["items"],
        serde_json::json!([])
    );

    let port = server.url.rsplit(':').next().unwrap().to_string();
    drop(server);
    let (code, _, err) = finish(ask(
        &format!("http://127.0.0.1:{port}"),
        &agent,
        &["x", "--timeout", "2s"],
    ));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("could not reach"), "{err}");
}

#[test]
fn usage_errors_exit_3() {
    let hitl = Hitl::new();
    for args in [
        vec!["ask"],
        vec!["ask", "x", "--no-such-flag"],
        vec!["ask", "x", "--context"],
        vec!["--log", "info", "ask", "x", "--tag"],
    ] {
        let out = hitl.cmd(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.starts_with("error:"), "{args:?}: {err}");
    }
    let help = hitl.cmd(&["ask", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    // Other commands keep clap's code.
    assert_eq!(hitl.cmd(&["key", "create"]).status.code(), Some(2));
    assert_eq!(hitl.cmd(&["no-such-command"]).status.code(), Some(2));
}

/// Ctrl-C, and SIGTERM as CI systems stop jobs, cancel the pause: the agent learns
/// `cancelled`, and the command exits 2.
#[test]
fn ctrl_c_and_sigterm_cancel_the_pause_and_exit_2() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("ci");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    for (signal, tag) in [("-INT", "int"), ("-TERM", "term")] {
        let child = ask(&server.url, &agent, &["Stop me", "--tag", tag]);
        let pause = eventually(Duration::from_secs(20), "the pending pause", || {
            let list = server.get(&format!("/api/pause?status=pending&tag={tag}"), &reviewer);
            list.json["items"].get(0).cloned()
        });
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let (code, out, err) = finish(child);
        assert_eq!(code, 2, "{signal}: {out}{err}");
        assert!(out.starts_with("cancelled"), "{signal}: {out}");
        let now = server.status(&reviewer, pause["watchId"].as_str().unwrap());
        assert_eq!(now["status"], "cancelled", "{signal}");
        assert_eq!(now["resolvedBy"], "ci", "{signal}");
    }
}

#[test]
fn an_unreachable_server_is_reported_and_retried_until_the_timeout() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("ci");
    let reviewer = hitl.reviewer_key("r@example.com");
    let port = crate::peers::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = ask(
        &base,
        &agent,
        &["Deploy once the server is up", "--timeout", "10m"],
    );
    let stderr = child.stderr.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = std::sync::Arc::clone(&lines);
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let mut all = sink.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    let said = eventually(Duration::from_secs(20), "a line saying so", || {
        let all = lines.lock().unwrap().clone();
        all.contains("retrying until").then_some(all)
    });
    let line = said.lines().find(|l| l.contains("retrying until")).unwrap();
    assert!(
        line.starts_with(&format!(
            "hitl ask: cannot reach {base} (connection refused); retrying until "
        )),
        "{line}"
    );
    assert!(
        line.ends_with(" left)") && line.contains(" UTC ("),
        "{line}"
    );
    assert!(
        line.contains("(9m 5") || line.contains("(10m left)"),
        "{line}"
    );
    // Still trying a few seconds later.
    std::thread::sleep(Duration::from_secs(3));
    assert!(child.try_wait().unwrap().is_none(), "gave up early: {said}");

    // The server comes up on that port; the pause is made and decided.
    let server = hitl.serve(&["--listen", &format!("127.0.0.1:{port}")]);
    let pause = pending_pause(&server, &reviewer);
    let id = pause["watchId"].as_str().unwrap();
    server.decide(&reviewer, id, "approved", "");
    let status = child.wait().unwrap();
    let log = lines.lock().unwrap().clone();
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(
        server.get("/api/pause", &reviewer).json["items"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "one pause, however many tries"
    );
}

/// The context goes to the server as written: digits and key order reach the reviewer.
#[test]
fn the_context_reaches_the_server_as_written() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("ci");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let context = r#"{"z":1,"amount":123456789012345678901234567890,"rate":1e400}"#;
    let child = ask(&server.url, &agent, &["Pay", "--context", context]);
    let pause = pending_pause(&server, &reviewer);
    let id = pause["watchId"].as_str().unwrap().to_string();
    let status = server.get(&format!("/api/pause/{id}"), &reviewer);
    assert!(
        status.text.contains(&format!(r#""context":{context}"#)),
        "{}",
        status.text
    );
    server.decide(&reviewer, &id, "approved", "ok");
    let (code, out, err) = finish(child);
    assert_eq!(code, 0, "{out}{err}");
}

/// Interrupted while retrying an unreachable server, `hitl ask` asks once more with
/// the same Idempotency-Key: a pause an earlier attempt created (its answer lost) is
/// cancelled, never left pending.
#[test]
fn an_interrupt_while_retrying_leaves_no_pending_pause() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("ci");
    let reviewer = hitl.reviewer_key("r@example.com");
    let port = crate::peers::free_port();
    let mut child = ask(
        &format!("http://127.0.0.1:{port}"),
        &agent,
        &["Deploy", "--timeout", "10m"],
    );
    let stderr = child.stderr.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = std::sync::Arc::clone(&lines);
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push_str(&format!("{line}\n"));
        }
    });
    // After the third failure it waits 4 s before trying again: the server comes up
    // and the interrupt arrives within that wait.
    eventually(Duration::from_secs(30), "three failed attempts", || {
        (lines.lock().unwrap().matches("retrying until").count() >= 3).then_some(())
    });
    let server = hitl.serve(&["--listen", &format!("127.0.0.1:{port}")]);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    let log = lines.lock().unwrap().clone();
    assert_eq!(code, Some(2), "{log}");
    let items = server.get("/api/pause", &reviewer).json["items"].clone();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 1, "{log}");
    assert_eq!(items[0]["status"], "cancelled", "{log}");
}
