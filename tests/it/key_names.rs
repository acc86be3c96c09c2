//! Keys by name: unique names of active keys (CLI and web page), revoke by name,
//! webhook secret rotation, reviewer keys without a secret, the same JSON field names
//! everywhere; and the webhook address policy stored by `serve` for `key create`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;
use crate::peers::Receiver;
use crate::web_http::{csrf_of, form_post, page, sign_in};

fn keys(hitl: &Hitl) -> Vec<Value> {
    let list: Value = serde_json::from_str(&hitl.ok(&["key", "list", "--json"])).unwrap();
    list.as_array().unwrap().clone()
}

#[test]
fn active_key_names_are_unique_and_revoke_takes_a_name() {
    let hitl = Hitl::new();
    let first = hitl.key_json(&["--name", "deploy-bot"]);
    let out = hitl.cmd(&["key", "create", "--name", " deploy-bot "]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already named \"deploy-bot\""));
    assert_eq!(keys(&hitl).len(), 1, "the refused key was not stored");

    // Revoke by name; the name is free again, and a revoked key goes by its id.
    let out = hitl.ok(&["key", "revoke", "deploy-bot"]);
    assert!(out.contains(first["id"].as_str().unwrap()), "{out}");
    let second = hitl.key_json(&["--name", "deploy-bot"]);
    assert_ne!(first["id"], second["id"]);
    let again = hitl.cmd(&["key", "revoke", first["id"].as_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already revoked"));
    hitl.ok(&["key", "revoke", second["id"].as_str().unwrap()]);
    let missing = hitl.cmd(&["key", "revoke", "no-such-key"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no API key with id or name"));
    assert!(keys(&hitl).iter().all(|k| k["revokedAt"].is_string()));
}

#[test]
fn the_web_page_refuses_a_duplicate_name_and_rotates_secrets() {
    let hitl = Hitl::new();
    hitl.add_user("root@example.com", "admin");
    let hook = Receiver::start();
    let j = hitl.key_json(&["--name", "ci", "--webhook-url", &hook.url]);
    let reviewer = hitl.reviewer_key("rev@example.com");
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "root@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, "/keys", &cookie).text);
    let r = form_post(
        &server,
        "/keys",
        Some(&cookie),
        &format!("csrf={csrf}&name=ci"),
        &[],
    );
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("already named"));
    assert_eq!(keys(&hitl).len(), 2);

    // A new secret from the page, shown once; webhooks verify with it, not the old.
    let r = form_post(
        &server,
        &format!("/keys/{}/rotate-secret", j["id"].as_str().unwrap()),
        Some(&cookie),
        &format!("csrf={csrf}"),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let at = r.text.find("whsec_").expect("the new secret on the page");
    let new_secret: String = r.text[at..]
        .chars()
        .take_while(|c| *c != '"' && *c != '<')
        .collect();
    assert_ne!(new_secret, j["webhookSecret"].as_str().unwrap());
    assert!(!page(&server, "/keys", &cookie).text.contains(&new_secret));
    let id = server.create(j["key"].as_str().unwrap(), &json!({ "action": "x" }));
    server.decide(&reviewer, &id, "approved", "");
    let got = hook.wait_for(1, Duration::from_secs(10));
    got[0].verify(&new_secret).unwrap();
    assert!(got[0].verify(j["webhookSecret"].as_str().unwrap()).is_err());
}

#[test]
fn rotate_secret_from_the_command_line_changes_the_signature() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let j = hitl.key_json(&["--name", "signer", "--webhook-url", &hook.url]);
    let old = j["webhookSecret"].as_str().unwrap().to_string();
    let reviewer = hitl.reviewer_key("rev@example.com");
    let server = hitl.serve(&[]);
    let agent = j["key"].as_str().unwrap();

    let first = server.create(agent, &json!({ "action": "before" }));
    server.decide(&reviewer, &first, "approved", "");
    let got = hook.wait_for(1, Duration::from_secs(10));
    got[0].verify(&old).unwrap();

    let out = hitl.cmd(&["key", "rotate-secret", "signer"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(new.starts_with("whsec_") && new != old, "{new}");
    let second = server.create(agent, &json!({ "action": "after" }));
    server.decide(&reviewer, &second, "approved", "");
    let got = hook.wait_for(2, Duration::from_secs(10));
    got[1].verify(&new).unwrap();
    assert!(
        got[1].verify(&old).is_err(),
        "the old secret still verifies"
    );

    // --json, by id; the key itself keeps working.
    let j2: Value = serde_json::from_str(&hitl.ok(&[
        "key",
        "rotate-secret",
        j["id"].as_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!((&j2["id"], &j2["name"]), (&j["id"], &j["name"]));
    assert!(j2["webhookSecret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(server.get("/api/pause", agent).status, 200);

    // Reviewer keys have no secret to rotate; unknown keys are named.
    let rev_name = format!("review-{}", "rev@example.com");
    let out = hitl.cmd(&["key", "rotate-secret", &rev_name]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reviewer key"));
    let out = hitl.cmd(&["key", "rotate-secret", "nope"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn reviewer_keys_print_no_secret_and_json_names_agree() {
    let hitl = Hitl::new();
    hitl.add_user("rev@example.com", "approver");
    let out = hitl.ok(&["key", "create", "--name", "r", "--user", "rev@example.com"]);
    assert!(!out.contains("whsec_"), "{out}");
    assert!(out.contains("reviewer key for rev@example.com"));
    let j = hitl.key_json(&["--name", "r2", "--user", "rev@example.com"]);
    assert!(j["webhookSecret"].is_null(), "{j}");
    let refused = hitl.cmd(&[
        "key",
        "create",
        "--name",
        "r3",
        "--user",
        "rev@example.com",
        "--webhook-url",
        "http://127.0.0.1:9/x",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no webhooks"));

    // The fields of `key create --json` that `key list --json` also has carry the same
    // names and values.
    let agent = hitl.key_json(&["--name", "a", "--monthly-limit", "5"]);
    let listed = keys(&hitl);
    for created in [&j, &agent] {
        let row = listed.iter().find(|k| k["id"] == created["id"]).unwrap();
        for field in [
            "id",
            "name",
            "prefix",
            "kind",
            "userEmail",
            "webhookUrl",
            "monthlyLimit",
        ] {
            assert!(
                created.get(field).is_some(),
                "create lacks {field}: {created}"
            );
            assert_eq!(row[field], created[field], "{field}");
        }
    }
    assert_eq!(j["userEmail"], "rev@example.com");
    // User commands: camelCase too.
    let users: Value = serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    for field in [
        "id",
        "email",
        "role",
        "notifyEmail",
        "createdAt",
        "invitePending",
    ] {
        assert!(users[0].get(field).is_some(), "user list lacks {field}");
    }
}

#[test]
fn the_webhook_policy_of_serve_is_stored_and_refused_deliveries_fail_at_once() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let j = hitl.key_json(&["--name", "early", "--webhook-url", &hook.url]);
    let reviewer = hitl.reviewer_key("rev@example.com");
    let server = hitl.serve(&["--webhook-deny-private"]);
    // `key create` now checks the server's rules, while it runs and after it stopped.
    for _ in 0..2 {
        let out = hitl.cmd(&[
            "key",
            "create",
            "--name",
            "late",
            "--webhook-url",
            &hook.url,
        ]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("address refused") && err.contains("loopback"),
            "{err}"
        );
    }
    assert!(!keys(&hitl).iter().any(|k| k["name"] == "late"));

    // A delivery the policy refuses fails at the first attempt, with the default
    // retry schedule (which would retry for a day).
    let agent = j["key"].as_str().unwrap();
    let id = server.create(agent, &json!({ "action": "to a refused address" }));
    server.decide(&reviewer, &id, "approved", "");
    let delivery = eventually(Duration::from_secs(10), "the delivery to fail", || {
        let r = server.get(&format!("/api/pause/{id}/deliveries"), agent);
        let first = r.json["items"][0].clone();
        (first["state"] != "pending").then_some(first)
    });
    assert_eq!(delivery["state"], "failed");
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 1);
    assert!(hook.received().is_empty());
    drop(server);

    // Started without the flag, the stored policy follows.
    let server = hitl.serve(&[]);
    hitl.ok(&[
        "key",
        "create",
        "--name",
        "late",
        "--webhook-url",
        &hook.url,
    ]);
    drop(server);
}
