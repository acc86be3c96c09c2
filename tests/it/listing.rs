use std::collections::HashSet;

use serde_json::{json, Value};

use crate::harness::*;

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["watchId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn cursor_pagination_is_newest_first_and_stable() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let server = hitl.serve(&[]);
    let created: Vec<String> = (0..7)
        .map(|i| server.create(&agent, &json!({ "action": format!("p{i}") })))
        .collect();

    let page1 = server.get("/api/pause?limit=3", &agent).json;
    assert_eq!(
        ids(&page1),
        vec![created[6].clone(), created[5].clone(), created[4].clone()]
    );
    let cursor1 = page1["nextCursor"].as_str().unwrap().to_string();

    // New pauses arriving between pages do not shift the next page.
    server.create(&agent, &json!({ "action": "newcomer" }));
    let page2 = server
        .get(&format!("/api/pause?limit=3&cursor={cursor1}"), &agent)
        .json;
    assert_eq!(
        ids(&page2),
        vec![created[3].clone(), created[2].clone(), created[1].clone()]
    );
    let cursor2 = page2["nextCursor"].as_str().unwrap().to_string();
    let page3 = server
        .get(&format!("/api/pause?limit=3&cursor={cursor2}"), &agent)
        .json;
    assert_eq!(ids(&page3), vec![created[0].clone()]);
    assert_eq!(page3["nextCursor"], Value::Null);

    let all: HashSet<String> = ids(&page1)
        .into_iter()
        .chain(ids(&page2))
        .chain(ids(&page3))
        .collect();
    assert_eq!(all.len(), 7);
    // The default page holds them all, newest (the newcomer) first.
    let everything = server.get("/api/pause", &agent).json;
    assert_eq!(everything["items"].as_array().unwrap().len(), 8);
    assert_eq!(everything["items"][0]["action"], "newcomer");
}

#[test]
fn filters_by_status_and_tag() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let other = hitl.agent_key("b");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let deploy = server.create(
        &agent,
        &json!({ "action": "deploy", "tags": ["deploy", "prod"] }),
    );
    let email = server.create(&agent, &json!({ "action": "email", "tags": ["email"] }));
    let other_deploy = server.create(
        &other,
        &json!({ "action": "other deploy", "tags": ["deploy"] }),
    );
    server.decide(&reviewer, &email, "approved", "");

    assert_eq!(
        ids(&server.get("/api/pause?status=pending", &agent).json),
        vec![deploy.clone()]
    );
    assert_eq!(
        ids(&server.get("/api/pause?status=approved", &agent).json),
        vec![email.clone()]
    );
    assert_eq!(
        ids(&server.get("/api/pause?tag=deploy", &agent).json),
        vec![deploy.clone()]
    );
    assert_eq!(
        ids(&server.get("/api/pause?tag=deploy", &reviewer).json),
        vec![other_deploy.clone(), deploy.clone()]
    );
    assert_eq!(
        ids(&server
            .get("/api/pause?tag=deploy&status=approved", &reviewer)
            .json),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&server.get("/api/pause?tag=nothing", &reviewer).json),
        Vec::<String>::new()
    );

    // Paging through a tag filter.
    let page = server.get("/api/pause?tag=deploy&limit=1", &reviewer).json;
    assert_eq!(ids(&page), vec![other_deploy]);
    let next = page["nextCursor"].as_str().unwrap();
    let page = server
        .get(
            &format!("/api/pause?tag=deploy&limit=1&cursor={next}"),
            &reviewer,
        )
        .json;
    assert_eq!(ids(&page), vec![deploy]);
    assert_eq!(page["nextCursor"], Value::Null);
}
