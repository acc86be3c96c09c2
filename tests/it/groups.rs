//! `hitl group ...`: named sets of users, stored, listed, and shown on the Groups page.

use serde_json::json;

use crate::harness::*;
use crate::web_http::{page, sign_in};

#[test]
fn groups_are_created_filled_emptied_and_listed() {
    let hitl = Hitl::new();
    hitl.add_user("ann@example.com", "admin");
    hitl.add_user("bob@example.com", "approver");
    hitl.ok(&["group", "create", "ops"]);
    let out = hitl.cmd(&["group", "create", "ops"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already named"));
    assert!(!hitl.cmd(&["group", "create", "two words"]).status.success());

    // One unknown email: nobody is added.
    let out = hitl.cmd(&[
        "group",
        "add",
        "ops",
        "bob@example.com",
        "nobody@example.com",
    ]);
    assert!(!out.status.success());
    let list: serde_json::Value =
        serde_json::from_str(&hitl.ok(&["group", "list", "--json"])).unwrap();
    assert_eq!(list[0]["members"], json!([]));

    hitl.ok(&["group", "add", "ops", "BOB@example.com", "ann@example.com"]);
    let list: serde_json::Value =
        serde_json::from_str(&hitl.ok(&["group", "list", "--json"])).unwrap();
    assert_eq!(list[0]["name"], "ops");
    assert_eq!(
        list[0]["members"],
        json!(["ann@example.com", "bob@example.com"])
    );
    assert!(hitl
        .ok(&["group", "list"])
        .contains("ann@example.com, bob@example.com"));

    hitl.ok(&["group", "remove", "ops", "ann@example.com"]);
    assert!(!hitl
        .cmd(&["group", "remove", "ops", "ann@example.com"])
        .status
        .success());
    assert!(!hitl
        .cmd(&["group", "add", "nope", "bob@example.com"])
        .status
        .success());
    let list: serde_json::Value =
        serde_json::from_str(&hitl.ok(&["group", "list", "--json"])).unwrap();
    assert_eq!(list[0]["members"], json!(["bob@example.com"]));

    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "ann@example.com", PASSWORD).unwrap();
    let html = page(&server, "/groups", &cookie).text;
    assert!(html.contains("data-groups"), "{html}");
    assert!(
        html.contains("<span class=\"key-name\">ops</span>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"member\">bob@example.com</span>"),
        "{html}"
    );
}
