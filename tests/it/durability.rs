//! `kill -9` mid-work: nothing acknowledged is lost.

use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::json;

use crate::harness::*;

#[test]
fn kill_9_after_50_creates_loses_none() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let mut server = hitl.serve(&[]);

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..5)
        .map(|t| {
            let (url, key, acked) = (server.url.clone(), agent.clone(), Arc::clone(&acknowledged));
            thread::spawn(move || {
                for i in 0..10 {
                    let body =
                        json!({ "action": format!("thread {t} pause {i}"), "context": { "i": i } })
                            .to_string();
                    let r = request(
                        "POST",
                        &format!("{url}/api/pause"),
                        Some(&key),
                        Some(&body),
                        &[],
                    );
                    assert_eq!(r.status, 201);
                    acked
                        .lock()
                        .unwrap()
                        .push(r.json["watchId"].as_str().unwrap().to_string());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let created = acknowledged.lock().unwrap().clone();
    assert_eq!(created.len(), 50);

    // Decide ten of them; each 200 is a promise too.
    for id in &created[..10] {
        assert_eq!(server.decide(&reviewer, id, "approved", "ok").status, 200);
    }
    server.kill9();
    server.restart();

    for (i, id) in created.iter().enumerate() {
        let status = server.status(&agent, id);
        let expected = if i < 10 { "approved" } else { "pending" };
        assert_eq!(status["status"], expected, "{id} after kill -9");
    }
    assert_eq!(
        server.get("/api/pause?limit=100", &agent).json["items"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
}

#[test]
fn kill_9_during_writes_keeps_every_acknowledged_pause() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let mut server = hitl.serve(&[]);
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let (url, key, acked) = (server.url.clone(), agent.clone(), Arc::clone(&acknowledged));
            thread::spawn(move || {
                // Keep writing until the server dies under us.
                for i in 0.. {
                    let body = json!({ "action": format!("t{t} #{i}") }).to_string();
                    let sent = crate::harness::agent()
                        .post(&format!("{url}/api/pause"))
                        .header("Authorization", &format!("Bearer {key}"))
                        .send(&body);
                    match sent {
                        Ok(mut r) if r.status() == 201 => {
                            let v: serde_json::Value = r.body_mut().read_json().unwrap();
                            acked
                                .lock()
                                .unwrap()
                                .push(v["watchId"].as_str().unwrap().to_string());
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect();
    crate::harness::eventually(
        std::time::Duration::from_secs(30),
        "60 acknowledged creates",
        || (acknowledged.lock().unwrap().len() >= 60).then_some(()),
    );
    server.kill9();
    for h in handles {
        h.join().unwrap();
    }
    let acked = acknowledged.lock().unwrap().clone();
    server.restart();
    for id in &acked {
        assert_eq!(server.status(&agent, id)["status"], "pending", "{id} lost");
    }
}
