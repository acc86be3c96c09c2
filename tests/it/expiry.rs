use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

#[test]
fn a_pending_pause_expires_on_time_and_wakes_its_waiters() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let created = server.post(
        "/api/pause",
        &agent,
        &json!({ "action": "soon gone", "timeoutSeconds": 1 }),
    );
    let id = created.json["watchId"].as_str().unwrap().to_string();

    let started = Instant::now();
    let r = server.get(&format!("/api/pause/{id}?wait=20"), &agent);
    let waited = started.elapsed();
    assert_eq!(r.json["status"], "expired", "{}", r.text);
    assert!(
        waited < Duration::from_secs(10),
        "the waiter was not woken by the expiry ({waited:?})"
    );
    assert_eq!(r.json["resolvedBy"], "system");
    assert_eq!(r.json["resolvedAt"], created.json["expiresAt"]);

    // Expired is terminal, and never reported as rejected.
    let d = server.decide(&reviewer, &id, "approved", "too late");
    assert_eq!((d.status, d.code()), (409, "already_resolved"));
    assert_eq!(d.json["error"]["status"], "expired");
    assert_eq!(server.status(&agent, &id)["status"], "expired");
    let events: Vec<_> = hitl.audit_events(&id).into_iter().map(|(e, _)| e).collect();
    assert_eq!(events, ["pause.created", "pause.expired"]);
}

#[test]
fn expiry_works_across_a_restart() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let mut server = hitl.serve(&[]);
    let soon = server.create(
        &agent,
        &json!({ "action": "expires while down", "timeoutSeconds": 2 }),
    );
    let later = server.create(
        &agent,
        &json!({ "action": "expires after restart", "timeoutSeconds": 6 }),
    );
    let never = server.create(&agent, &json!({ "action": "no timeout" }));
    server.kill9();
    thread::sleep(Duration::from_millis(2500));
    server.restart();

    // Expired while the server was down: expired as soon as it is back.
    let r = server.get(&format!("/api/pause/{soon}?wait=5"), &agent);
    assert_eq!(r.json["status"], "expired", "{}", r.text);
    assert_eq!(r.json["resolvedAt"], r.json["expiresAt"]);
    // Still pending, and expires on its own time after the restart.
    assert_eq!(server.status(&agent, &later)["status"], "pending");
    let r = server.get(&format!("/api/pause/{later}?wait=20"), &agent);
    assert_eq!(r.json["status"], "expired");
    assert_eq!(server.status(&agent, &never)["status"], "pending");
    assert_eq!(server.decide(&reviewer, &never, "approved", "").status, 200);
    // The audit log only moves forward in time, even for what expired while down.
    let times: Vec<i64> = hitl
        .db()
        .prepare("SELECT at FROM audit ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

/// A server started after a long stop has a backlog of due pauses, expired a batch at
/// a time; SIGTERM still ends it within the 10 s it allows, between two batches, and
/// the rest is expired by the next start.
#[test]
fn a_stop_is_heeded_between_batches_of_a_backlog() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let mut server = hitl.serve(&[]);
    let first = server.create(
        &agent,
        &json!({ "action": "one of many", "timeoutSeconds": 3600 }),
    );
    server.kill9();
    // 50,000 copies of it, all due long ago: 100 batches.
    let db = rusqlite::Connection::open(hitl.db_path()).unwrap();
    let columns: Vec<String> = db
        .prepare("SELECT name FROM pragma_table_info('pauses') WHERE name NOT IN ('id', 'watch_id', 'expires_at')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let columns = columns.join(", ");
    let copied = db
        .execute(
            &format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
                 INSERT INTO pauses (watch_id, expires_at, {columns})
                 SELECT 'backlog-' || i, 1, {columns} FROM pauses, n WHERE watch_id = ?1"
            ),
            [&first],
        )
        .unwrap();
    assert_eq!(copied, 50_000);
    drop(db);
    let pending = |hitl: &Hitl| -> i64 {
        hitl.db()
            .query_row(
                "SELECT count(*) FROM pauses WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };

    let mut server = hitl.serve(&[]);
    // As the other SIGTERM tests: the signal handlers are in place.
    thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    let status = server.signal_and_wait("TERM");
    let took = asked.elapsed();
    assert!(status.success(), "{status:?}\n{}", server.log());
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?}");
    let left = pending(&hitl);
    assert!(
        left > 1,
        "the whole backlog was expired before the stop: {left} left"
    );

    // The next start expires the rest.
    let server = hitl.serve(&[]);
    eventually(Duration::from_secs(120), "the backlog expired", || {
        (pending(&hitl) == 1).then_some(())
    });
    assert_eq!(server.status(&agent, &first)["status"], "pending");
}
