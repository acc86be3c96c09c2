//! A request body must arrive within `--body-timeout`: a client that sends headers and
//! then stalls or trickles its body is answered 408 and its connection closed, with or
//! without credentials. A declared body over the limit is refused with 413 before a
//! byte of it is read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

/// Opens a connection and sends a request's head and the start of its body.
pub fn start_request(server: &Server, path: &str, headers: &str, body_start: &str) -> TcpStream {
    let addr = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}\r\n{body_start}");
    stream.write_all(head.as_bytes()).expect("send head");
    stream
}

/// Reads until the server closes the connection (or 20 s pass): the whole answer.
pub fn read_until_closed(stream: &mut TcpStream) -> (String, bool) {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&answer).into(), true),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&answer).into(), true)
            }
            Err(_) => return (String::from_utf8_lossy(&answer).into(), false),
        }
    }
}

#[test]
fn a_stalled_body_gets_408_and_a_closed_connection_without_credentials() {
    let hitl = Hitl::new();
    let server = hitl.serve(&["--body-timeout", "1s"]);
    for (path, kind) in [
        ("/signin", "application/x-www-form-urlencoded"),
        ("/mail/not-a-token", "application/x-www-form-urlencoded"),
        ("/setup/not-a-token", "application/x-www-form-urlencoded"),
    ] {
        let started = Instant::now();
        let mut stream = start_request(
            &server,
            path,
            &format!("Content-Type: {kind}\r\nContent-Length: 100\r\n"),
            "email=a",
        );
        let (answer, closed) = read_until_closed(&mut stream);
        let took = started.elapsed();
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "{path}: expected 408, got {answer:?}"
        );
        assert!(closed, "{path}: the connection is closed");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(10),
            "{path}: answered after {took:?}, expected about the 1 s timeout"
        );
    }
}

#[test]
fn a_stalled_chunked_body_gets_408_too() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("chunky-bot");
    let server = hitl.serve(&["--body-timeout", "1s"]);
    let mut stream = start_request(
        &server,
        "/api/pause",
        &format!(
            "Authorization: Bearer {agent}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        ),
        "5\r\n{\"act\r\n",
    );
    let (answer, closed) = read_until_closed(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 408"), "got {answer:?}");
    assert!(closed, "the connection is closed");
    let list = server.get("/api/pause", &agent);
    assert_eq!(list.json["items"], json!([]), "nothing was created");
}

#[test]
fn a_trickled_api_body_gets_408_json_and_creates_nothing() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("slow-bot");
    let server = hitl.serve(&["--body-timeout", "1s"]);
    let body = json!({ "action": "Deploy", "context": { "x": "y".repeat(200) } }).to_string();
    let mut stream = start_request(
        &server,
        "/api/pause",
        &format!(
            "Authorization: Bearer {agent}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ),
        "",
    );
    // One byte every 100 ms: the whole body would take 20 s. After 3 s, stop.
    for byte in body.bytes().take(30) {
        if stream.write_all(&[byte]).is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let (answer, closed) = read_until_closed(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 408"), "got {answer:?}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    assert!(closed, "the connection is closed");
    let list = server.get("/api/pause", &agent);
    assert_eq!(list.json["items"], json!([]), "nothing was created");
    // A body that arrives in time still works.
    server.create(&agent, &json!({ "action": "Deploy" }));
}

#[test]
fn an_oversized_content_length_is_refused_before_the_body_is_sent() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("big-bot");
    let server = hitl.serve(&["--body-timeout", "30s"]);
    for (path, headers) in [
        (
            "/api/pause",
            format!("Authorization: Bearer {agent}\r\nContent-Type: application/json\r\n"),
        ),
        (
            "/api/pause/wch_x/approve",
            format!("Authorization: Bearer {agent}\r\nContent-Type: application/json\r\n"),
        ),
        (
            "/signin",
            "Content-Type: application/x-www-form-urlencoded\r\n".to_string(),
        ),
    ] {
        let started = Instant::now();
        let mut stream = start_request(
            &server,
            path,
            &format!("{headers}Content-Length: 1000000000\r\n"),
            "",
        );
        let (answer, closed) = read_until_closed(&mut stream);
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "{path}: expected 413, got {answer:?}"
        );
        assert!(closed, "{path}: the connection is closed");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{path}: refused at once, not after the body timeout"
        );
        if path.starts_with("/api/") {
            assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
        }
    }
}

#[test]
fn many_stalled_connections_do_not_starve_the_server() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("busy-bot");
    let server = hitl.serve(&["--body-timeout", "2s"]);
    let mut stalled: Vec<TcpStream> = (0..300)
        .map(|_| {
            start_request(
                &server,
                "/signin",
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n",
                "e",
            )
        })
        .collect();
    // While they stall, others are served.
    let id = server.create(&agent, &json!({ "action": "still served" }));
    assert_eq!(server.status(&agent, &id)["status"], "pending");
    let r = request_raw("GET", &format!("{}/healthz", server.url), "", &[]);
    assert_eq!(r.status, 200);
    // And every stalled one is answered and closed.
    for (i, stream) in stalled.iter_mut().enumerate() {
        let (answer, closed) = read_until_closed(stream);
        assert!(answer.starts_with("HTTP/1.1 408"), "{i}: got {answer:?}");
        assert!(closed, "{i}: the connection is closed after {answer:?}");
    }
}

#[test]
fn a_bad_body_timeout_is_refused_at_start() {
    let hitl = Hitl::new();
    for bad in ["0s", "soon", "2h"] {
        let err = Server::try_start(hitl.path(), &["--body-timeout", bad])
            .err()
            .unwrap_or_else(|| panic!("--body-timeout {bad} must be refused"));
        assert!(err.contains("--body-timeout"), "{bad}: {err}");
    }
}
