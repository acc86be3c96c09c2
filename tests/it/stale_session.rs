//! A web page change acts as the session's user as they are when it is written, not as
//! they were when the request's session was first looked up: a user removed, or an
//! admin demoted, in between cannot act. The window is held open here by sending the
//! form's body slowly, after the session was checked.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use serde_json::json;

use crate::harness::*;
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};

/// A form POST whose body is held back until `between` has run; returns the status.
fn post_with_pause_before_body(
    server: &Server,
    path: &str,
    cookie: &str,
    body: &str,
    between: impl FnOnce(),
) -> (u16, String) {
    let addr = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("head");
    // The session is looked up as the head arrives; give that a moment.
    thread::sleep(Duration::from_millis(500));
    between();
    stream.write_all(body.as_bytes()).expect("body");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[test]
fn a_user_removed_while_deciding_cannot_decide() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    hitl.add_user("alice@example.com", "approver");
    hitl.add_user("root@example.com", "admin");
    let admin_key = hitl.key_json(&["--name", "ops", "--user", "root@example.com"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "Drop table users" }));
    let cookie = sign_in(&server, "alice@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, &format!("/review/{id}"), &cookie).text);

    let body = format!("csrf={}&decision=approved&comment=ok", url_encode(&csrf));
    let (status, answer) = post_with_pause_before_body(
        &server,
        &format!("/review/{id}/decide"),
        &cookie,
        &body,
        || {
            hitl.ok(&["user", "remove", "alice@example.com"]);
        },
    );
    assert_eq!(
        status, 403,
        "a removed user's decision is refused:\n{answer}"
    );
    assert!(answer.contains("sign in again"), "{answer}");
    assert_eq!(server.status(&agent, &id)["status"], "pending");
    // A reviewer who still exists decides as usual.
    let r = server.decide(&admin_key, &id, "rejected", "no");
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn a_session_decision_through_the_api_is_rechecked_too() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    hitl.add_user("alice@example.com", "approver");
    let server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "Rotate keys" }));
    let cookie = sign_in(&server, "alice@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, &format!("/review/{id}"), &cookie).text);

    let addr = server.url.trim_start_matches("http://");
    let body = r#"{"decision":"approved"}"#;
    let mut stream = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST /api/pause/{id}/approve HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\
         X-CSRF-Token: {csrf}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("head");
    thread::sleep(Duration::from_millis(500));
    hitl.ok(&["user", "remove", "alice@example.com"]);
    stream.write_all(body.as_bytes()).expect("body");
    let mut answer = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains(r#""code":"forbidden""#), "{answer}");
    assert_eq!(server.status(&agent, &id)["status"], "pending");
}

#[test]
fn an_admin_demoted_while_removing_a_user_cannot_remove_them() {
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "admin");
    hitl.add_user("bob@example.com", "admin");
    hitl.add_user("carol@example.com", "approver");
    let server = hitl.serve(&[]);
    let id_of = |email: &str| -> i64 {
        hitl.db()
            .query_row("SELECT id FROM users WHERE email = ?1", [email], |r| {
                r.get(0)
            })
            .unwrap()
    };
    let (bob, carol) = (id_of("bob@example.com"), id_of("carol@example.com"));
    let alice_cookie = sign_in(&server, "alice@example.com", PASSWORD).unwrap();
    let alice_csrf = csrf_of(&page(&server, "/users", &alice_cookie).text);
    let bob_cookie = sign_in(&server, "bob@example.com", PASSWORD).unwrap();
    let bob_csrf = csrf_of(&page(&server, "/users", &bob_cookie).text);

    let body = format!("csrf={}", url_encode(&bob_csrf));
    let (status, answer) = post_with_pause_before_body(
        &server,
        &format!("/users/{carol}/remove"),
        &bob_cookie,
        &body,
        || {
            let r = form_post(
                &server,
                &format!("/users/{bob}/role"),
                Some(&alice_cookie),
                &format!("csrf={}&role=approver", url_encode(&alice_csrf)),
                &[],
            );
            assert!(r.status == 303 || r.status == 200, "demote: {}", r.text);
        },
    );
    assert_eq!(status, 403, "a demoted admin is refused:\n{answer}");
    let still_there: i64 = hitl
        .db()
        .query_row(
            "SELECT count(*) FROM users WHERE email = 'carol@example.com'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(still_there, 1, "carol was not removed");
}
