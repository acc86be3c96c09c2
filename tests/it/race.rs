//! Sixteen reviewers deciding one pause at once: exactly one wins.

use std::sync::{Arc, Barrier};
use std::thread;

use serde_json::json;

use crate::harness::*;

#[test]
fn sixteen_reviewers_one_winner() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("agent");
    let reviewers: Vec<String> = (0..16)
        .map(|i| hitl.reviewer_key(&format!("r{i}@example.com")))
        .collect();
    let server = hitl.serve(&[]);

    for round in 0..5 {
        let id = server.create(&agent, &json!({ "action": format!("race {round}") }));
        let barrier = Arc::new(Barrier::new(reviewers.len()));
        let handles: Vec<_> = reviewers
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let (key, url, id, barrier) = (
                    key.clone(),
                    server.url.clone(),
                    id.clone(),
                    Arc::clone(&barrier),
                );
                thread::spawn(move || {
                    let decision = if i % 2 == 0 { "approved" } else { "rejected" };
                    let body = json!({ "decision": decision, "comment": format!("reviewer {i}") })
                        .to_string();
                    barrier.wait();
                    let r = request(
                        "POST",
                        &format!("{url}/api/pause/{id}/approve"),
                        Some(&key),
                        Some(&body),
                        &[],
                    );
                    (i, decision, r)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<_> = results.iter().filter(|(_, _, r)| r.status == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {} winners", winners.len());
        for (_, _, r) in results.iter().filter(|(_, _, r)| r.status != 200) {
            assert_eq!(
                (r.status, r.code()),
                (409, "already_resolved"),
                "{}",
                r.text
            );
        }
        let (winner, decision, _) = winners[0];
        let expected_comment = format!("reviewer {winner}");
        for _ in 0..3 {
            let status = server.status(&agent, &id);
            assert_eq!(status["status"], *decision);
            assert_eq!(status["comment"], expected_comment.as_str());
            assert_eq!(status["resolvedBy"], format!("r{winner}@example.com"));
        }
        let decisions: Vec<_> = hitl
            .audit_events(&id)
            .into_iter()
            .filter(|(e, _)| e == "pause.approved" || e == "pause.rejected")
            .collect();
        assert_eq!(
            decisions.len(),
            1,
            "round {round}: audit shows {decisions:?}"
        );
    }
}
