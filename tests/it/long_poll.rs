use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

#[test]
fn a_decision_wakes_every_waiter() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "wait for me" }));

    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let (url, key, id) = (server.url.clone(), agent.clone(), id.clone());
            thread::spawn(move || {
                let start = Instant::now();
                let r = request(
                    "GET",
                    &format!("{url}/api/pause/{id}?wait=30"),
                    Some(&key),
                    None,
                    &[],
                );
                (r, start.elapsed())
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(500));
    assert_eq!(server.decide(&reviewer, &id, "approved", "go").status, 200);
    for w in waiters {
        let (r, elapsed) = w.join().unwrap();
        assert_eq!(r.json["status"], "approved", "{}", r.text);
        assert_eq!(r.json["comment"], "go");
        assert!(
            elapsed < Duration::from_secs(20),
            "waiter ran into its timeout: {elapsed:?}"
        );
    }
}

#[test]
fn wait_returns_at_once_when_decided_and_after_n_seconds_when_not() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let decided = server.create(&agent, &json!({ "action": "done" }));
    server.decide(&reviewer, &decided, "rejected", "no");
    let start = Instant::now();
    let r = server.get(&format!("/api/pause/{decided}?wait=30"), &agent);
    assert_eq!(r.json["status"], "rejected");
    assert!(start.elapsed() < Duration::from_secs(10));
    // More than 60 seconds is not refused: it is treated as 60.
    let r = server.get(&format!("/api/pause/{decided}?wait=120"), &agent);
    assert_eq!((r.status, &r.json["status"]), (200, &json!("rejected")));

    let pending = server.create(&agent, &json!({ "action": "nobody decides" }));
    let start = Instant::now();
    let r = server.get(&format!("/api/pause/{pending}?wait=1"), &agent);
    let elapsed = start.elapsed();
    assert_eq!(r.status, 200);
    assert_eq!(r.json["status"], "pending");
    assert!(
        elapsed >= Duration::from_millis(950),
        "returned before the wait: {elapsed:?}"
    );
}

#[test]
fn stopping_the_server_answers_waiting_requests() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let mut server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "x" }));
    let (url, key) = (server.url.clone(), agent.clone());
    let waiter = thread::spawn(move || {
        request(
            "GET",
            &format!("{url}/api/pause/{id}?wait=60"),
            Some(&key),
            None,
            &[],
        )
    });
    thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    let status = server.signal_and_wait("TERM");
    assert!(
        status.success(),
        "server exit: {status:?}\n{}",
        server.log()
    );
    let r = waiter.join().unwrap();
    assert_eq!(r.json["status"], "pending");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "shutdown waited for the long-poll"
    );
}
