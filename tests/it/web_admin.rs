//! The web page's screens over plain HTTP: history filters, managing users and keys,
//! passwords, cancelling from the review page.

use serde_json::json;

use crate::harness::*;
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};

fn listed(html: &str) -> Vec<String> {
    html.split("href=\"/review/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn history_filters_search_and_pages() {
    let hitl = Hitl::new();
    hitl.add_user("a@example.com", "admin");
    let reviewer = hitl.reviewer_key("r@example.com");
    let deploy = hitl.key_json(&["--name", "deploy-bot"]);
    let deploy_key = deploy["key"].as_str().unwrap().to_string();
    let other = hitl.agent_key("other-bot");
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "a@example.com", PASSWORD).unwrap();

    let a = server.create(
        &deploy_key,
        &json!({ "action": "Deploy 100% of traffic", "tags": ["prod"] }),
    );
    let b = server.create(
        &deploy_key,
        &json!({ "action": "Deploy canary_v2", "tags": ["staging"] }),
    );
    let c = server.create(
        &other,
        &json!({ "action": "Email the 100 customers", "tags": ["prod"] }),
    );
    let d = server.create(
        &other,
        &json!({ "action": "Rotate keys", "tags": ["security"] }),
    );
    server.decide(&reviewer, &a, "approved", "");
    server.decide(&reviewer, &b, "rejected", "");
    server.post(&format!("/api/pause/{d}/cancel"), &other, &json!({}));

    let get = |q: &str| listed(&page(&server, &format!("/history{q}"), &cookie).text);
    assert_eq!(get(""), vec![d.clone(), c.clone(), b.clone(), a.clone()]);
    assert_eq!(
        get("?status=approved&status=cancelled"),
        vec![d.clone(), a.clone()]
    );
    assert_eq!(get("?status=pending"), vec![c.clone()]);
    assert_eq!(get("?tag=prod"), vec![c.clone(), a.clone()]);
    assert_eq!(get("?tag=prod&status=approved"), vec![a.clone()]);
    assert_eq!(
        get(&format!("?key={}", deploy["id"].as_str().unwrap())),
        vec![b.clone(), a.clone()]
    );
    assert_eq!(
        get("?q=DEPLOY"),
        vec![b.clone(), a.clone()],
        "search ignores ASCII case"
    );
    assert_eq!(
        get("?q=100%25"),
        vec![a.clone()],
        "% is a character, not a wildcard"
    );
    assert_eq!(get("?q=canary_v"), vec![b.clone()]);
    assert_eq!(
        get("?q=canar__v"),
        Vec::<String>::new(),
        "_ is a character, not a wildcard"
    );
    assert_eq!(get("?from=2000-01-01&to=2000-01-31"), Vec::<String>::new());
    assert_eq!(get("?from=2000-01-01").len(), 4);
    let bad = page(&server, "/history?from=yesterday", &cookie);
    assert_eq!(bad.status, 200);
    assert!(bad.text.contains("From must be a date"), "a readable error");

    // Pages: 50 per page, Older then Newer brings the first page back.
    for i in 0..55 {
        server.create(&other, &json!({ "action": format!("bulk {i}") }));
    }
    let first = page(&server, "/history", &cookie).text;
    assert_eq!(listed(&first).len(), 50);
    let older = first
        .split("rel=\"next\"")
        .next()
        .unwrap()
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let second = page(&server, &older, &cookie).text;
    assert_eq!(listed(&second).len(), 9);
    assert!(!second.contains("rel=\"next\""));
    let newer = second
        .split("rel=\"prev\"")
        .next()
        .unwrap()
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert_eq!(listed(&page(&server, &newer, &cookie).text), listed(&first));
}

#[test]
fn admins_manage_users_and_keys_from_the_page() {
    let hitl = Hitl::new();
    hitl.add_user("root@example.com", "admin");
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "root@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, "/users", &cookie).text);
    let ok = |r: &Resp| assert_eq!(r.status, 303, "{}", r.text);

    // Add a user; a bad one gets a readable error and changes nothing.
    let add = |email: &str, password: &str| {
        form_post(
            &server,
            "/users",
            Some(&cookie),
            &format!(
                "csrf={csrf}&email={}&role=approver&password={}",
                url_encode(email),
                url_encode(password)
            ),
            &[],
        )
    };
    ok(&add("new@example.com", PASSWORD));
    let short = add("other@example.com", "short");
    assert_eq!(short.status, 400);
    assert!(short.text.contains("too short"));
    let dup = add("NEW@example.com", PASSWORD);
    assert_eq!(dup.status, 409);
    assert!(dup.text.contains("already exists"));
    let users: serde_json::Value =
        serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2);
    let new_id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "new@example.com")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let root_id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "root@example.com")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert!(
        sign_in(&server, "new@example.com", PASSWORD).is_ok(),
        "the new user can sign in"
    );

    // Role and notifications.
    ok(&form_post(
        &server,
        &format!("/users/{new_id}/role"),
        Some(&cookie),
        &format!("csrf={csrf}&role=admin"),
        &[],
    ));
    ok(&form_post(
        &server,
        &format!("/users/{new_id}/notify"),
        Some(&cookie),
        &format!("csrf={csrf}&on=false"),
        &[],
    ));
    let users: serde_json::Value =
        serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    let new = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "new@example.com")
        .unwrap()
        .clone();
    assert_eq!(
        (new["role"].as_str(), new["notifyEmail"].as_bool()),
        (Some("admin"), Some(false))
    );
    // The last admin stays one.
    ok(&form_post(
        &server,
        &format!("/users/{new_id}/role"),
        Some(&cookie),
        &format!("csrf={csrf}&role=approver"),
        &[],
    ));
    let last = form_post(
        &server,
        &format!("/users/{root_id}/role"),
        Some(&cookie),
        &format!("csrf={csrf}&role=approver"),
        &[],
    );
    assert_eq!(last.status, 409);
    assert!(last.text.contains("last admin"));

    // Keys: create a reviewer key for the new user, edit, then remove the user.
    let keys_page = |c: &str| page(&server, "/keys", c).text;
    let created = form_post(
        &server,
        "/keys",
        Some(&cookie),
        &format!(
            "csrf={csrf}&name=reviewer-bot&user=new%40example.com&webhook_url=&monthly_limit="
        ),
        &[],
    );
    assert_eq!(created.status, 200);
    let key = created
        .text
        .split("id=\"new-key\"")
        .nth(1)
        .unwrap()
        .split("value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(server.get("/api/pause", &key).status, 200);
    let bad = form_post(
        &server,
        "/keys",
        Some(&cookie),
        &format!("csrf={csrf}&name=x&webhook_url=ftp%3A%2F%2Fno&monthly_limit="),
        &[],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text.contains("webhookUrl"));
    let list: serde_json::Value =
        serde_json::from_str(&hitl.ok(&["key", "list", "--json"])).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_string();
    ok(&form_post(
        &server,
        &format!("/keys/{id}"),
        Some(&cookie),
        &format!("csrf={csrf}&webhook_url=http%3A%2F%2F127.0.0.1%3A9%2Fhook&monthly_limit=7"),
        &[],
    ));
    let list: serde_json::Value =
        serde_json::from_str(&hitl.ok(&["key", "list", "--json"])).unwrap();
    assert_eq!(list[0]["webhookUrl"], "http://127.0.0.1:9/hook");
    assert_eq!(list[0]["monthlyLimit"], 7);
    assert!(keys_page(&cookie).contains("reviewer-bot"));
    ok(&form_post(
        &server,
        &format!("/users/{new_id}/remove"),
        Some(&cookie),
        &format!("csrf={csrf}"),
        &[],
    ));
    assert_eq!(
        server.get("/api/pause", &key).status,
        401,
        "the removed user's key is revoked"
    );
    assert!(sign_in(&server, "new@example.com", PASSWORD).is_err());
    let self_remove = form_post(
        &server,
        &format!("/users/{root_id}/remove"),
        Some(&cookie),
        &format!("csrf={csrf}"),
        &[],
    );
    assert!(self_remove.text.contains("last admin"));

    // Approvers cannot use the admin forms.
    hitl.add_user("plain@example.com", "approver");
    let plain = sign_in(&server, "plain@example.com", PASSWORD).unwrap();
    let plain_csrf = csrf_of(&page(&server, "/account", &plain).text);
    let r = form_post(
        &server,
        "/users",
        Some(&plain),
        &format!(
            "csrf={plain_csrf}&email=x%40example.com&role=admin&password={}",
            url_encode(PASSWORD)
        ),
        &[],
    );
    assert_eq!(r.status, 403);
    assert_eq!(page(&server, "/audit", &plain).status, 403);
}

#[test]
fn changing_the_password_ends_other_sessions() {
    let hitl = Hitl::new();
    hitl.add_user("a@example.com", "approver");
    let server = hitl.serve(&[]);
    // A reset link issued earlier (and perhaps read by someone else) dies with the change.
    let reset = hitl.ok(&["user", "reset-password", "a@example.com"]);
    let reset = reset.lines().next().unwrap().trim().to_string();
    let one = sign_in(&server, "a@example.com", PASSWORD).unwrap();
    let two = sign_in(&server, "a@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, "/account", &one).text);
    let wrong = form_post(
        &server,
        "/account/password",
        Some(&one),
        &format!("csrf={csrf}&current=nope&new=a+new+passphrase&new_again=a+new+passphrase"),
        &[],
    );
    assert!(wrong.text.contains("The current password is wrong."));
    let r = form_post(
        &server,
        "/account/password",
        Some(&one),
        &format!(
            "csrf={csrf}&current={}&new=a+new+passphrase&new_again=a+new+passphrase",
            url_encode(PASSWORD)
        ),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(page(&server, "/", &one).status, 200, "this session stays");
    assert_eq!(
        page(&server, "/", &two).status,
        303,
        "the other session ended"
    );
    assert!(sign_in(&server, "a@example.com", PASSWORD).is_err());
    assert!(sign_in(&server, "a@example.com", "a new passphrase").is_ok());
    let link_page = request_raw("GET", &reset, "", &[]);
    assert!(
        !link_page.text.contains("name=\"password_again\""),
        "the reset link still works: {}",
        link_page.text
    );
}

#[test]
fn admins_cancel_from_the_review_page_and_approvers_cannot() {
    let hitl = Hitl::new();
    hitl.add_user("admin@example.com", "admin");
    hitl.add_user("a@example.com", "approver");
    let agent = hitl.agent_key("deploy-bot");
    let server = hitl.serve(&[]);
    let watch = server.create(&agent, &json!({"action": "Rotate the keys"}));
    let review = format!("/review/{watch}");
    let cancel = format!("/review/{watch}/cancel");

    let approver = sign_in(&server, "a@example.com", PASSWORD).unwrap();
    let html = page(&server, &review, &approver).text;
    assert!(!html.contains(&cancel), "no cancel form for an approver");
    let csrf = csrf_of(&html);
    let refused = form_post(
        &server,
        &cancel,
        Some(&approver),
        &format!("csrf={csrf}"),
        &[],
    );
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(server.status(&agent, &watch)["status"], "pending");

    let admin = sign_in(&server, "admin@example.com", PASSWORD).unwrap();
    let html = page(&server, &review, &admin).text;
    assert!(html.contains(&format!("action=\"{cancel}\"")), "{html}");
    let csrf = csrf_of(&html);
    let no_token = form_post(&server, &cancel, Some(&admin), "reason=x", &[]);
    assert_eq!(no_token.status, 403);
    assert_eq!(server.status(&agent, &watch)["status"], "pending");

    let r = form_post(
        &server,
        &cancel,
        Some(&admin),
        &format!("csrf={csrf}&reason=Superseded+by+%23412"),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    let p = server.status(&agent, &watch);
    assert_eq!(p["status"], "cancelled");
    assert_eq!(p["resolvedBy"], "admin@example.com");
    assert_eq!(p["comment"], "Superseded by #412");

    let again = form_post(&server, &cancel, Some(&admin), &format!("csrf={csrf}"), &[]);
    assert_eq!(again.status, 409);
    assert!(again.text.contains("Someone else decided first"));
    let events: Vec<String> = hitl.audit_events(&watch).into_iter().map(|e| e.0).collect();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.as_str() == "pause.cancelled")
            .count(),
        1,
        "{events:?}"
    );
}
