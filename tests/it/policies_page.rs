//! The Policies page (admin): add a routing policy through the form, move it up,
//! remove it; errors shown in the page with the form as typed; only admins, only with
//! the form's CSRF token.

use serde_json::{json, Value};

use crate::harness::*;
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};

fn policies(hitl: &Hitl) -> Value {
    serde_json::from_str(&hitl.ok(&["policy", "list", "--json"])).unwrap()
}

fn names(hitl: &Hitl) -> Vec<String> {
    policies(hitl)
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

/// A form's fields, in order.
type Fields<'a> = Vec<(&'a str, &'a str)>;

/// A form body from pairs, each value URL-encoded.
fn body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The names of the policies in the page's table, top to bottom.
fn listed(html: &str) -> Vec<String> {
    html.split("data-policy=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

fn setup() -> (Hitl, Server, String, String) {
    let hitl = Hitl::new();
    hitl.add_user("admin@example.com", "admin");
    hitl.add_user("ann@example.com", "approver");
    hitl.ok(&["group", "create", "ops"]);
    hitl.ok(&["group", "create", "sre-leads"]);
    hitl.ok(&["group", "add", "ops", "ann@example.com"]);
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "admin@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, "/policies", &cookie).text);
    (hitl, server, cookie, csrf)
}

#[test]
fn an_admin_adds_moves_and_removes_policies() {
    let (hitl, server, cookie, csrf) = setup();

    let empty = page(&server, "/policies", &cookie);
    assert_eq!(empty.status, 200);
    assert!(empty
        .text
        .contains("first policy below whose conditions all hold"));
    assert!(empty.text.contains("any approver"));
    assert!(empty.text.contains("No policies yet"));
    assert!(
        empty
            .text
            .contains(r#"href="/policies" aria-current="page""#),
        "the nav marks the page"
    );
    assert!(empty.text.contains(r#"name="reviewers" value="ops""#));
    assert!(empty.text.contains(r#"name="reviewers" value="sre-leads""#));

    let r = form_post(
        &server,
        "/policies",
        Some(&cookie),
        &body(&[
            ("csrf", &csrf),
            ("name", "prod-changes"),
            ("tags", "prod, billing"),
            ("key", ""),
            ("action", "Deploy <prod>*"),
            ("risk", "high"),
            ("reviewers", "ops"),
            ("approvals", "2"),
            ("remind_every", "30m"),
            ("escalate_after", "2h"),
            ("escalate_to", "sre-leads"),
            ("on_timeout", "reject"),
        ]),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.headers["location"], "/policies?done=added");

    let list = policies(&hitl);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let p = &list[0];
    assert_eq!(p["name"], "prod-changes");
    assert_eq!(p["position"], 1);
    assert_eq!(p["tags"], json!(["prod", "billing"]));
    assert_eq!(p["key"], Value::Null);
    assert_eq!(p["action"], "Deploy <prod>*");
    assert_eq!(p["risk"], "high");
    assert_eq!(p["reviewers"], json!(["ops"]));
    assert_eq!(p["approvals"], 2);
    assert_eq!(p["remindEvery"], "30m");
    assert_eq!(p["escalateAfter"], "2h");
    assert_eq!(p["escalateTo"], "sre-leads");
    assert_eq!(p["onTimeout"], "reject");

    let shown = page(&server, "/policies?done=added", &cookie);
    assert_eq!(shown.status, 200);
    assert!(shown.text.contains("Policy added."));
    assert_eq!(listed(&shown.text), vec!["prod-changes"]);
    assert!(shown.text.contains(
        "tagged prod or billing, action matches Deploy &lt;prod&gt;*, risk high or higher"
    ));
    assert!(
        !shown.text.contains("<prod>"),
        "typed text is escaped everywhere"
    );
    assert!(shown.text.contains(
        "ops (2 approvals), remind every 30m, escalate to sre-leads after 2h, on timeout reject"
    ));
    assert!(
        !shown.text.contains("/policies/prod-changes/move-up"),
        "the first policy cannot move up"
    );
    assert!(shown
        .text
        .contains(r#"action="/policies/prod-changes/remove""#));
    assert!(shown.text.contains("data-confirm=\"Remove the policy"));

    // A second one, with defaults: tried after the first, then moved up.
    let r = form_post(
        &server,
        "/policies",
        Some(&cookie),
        &body(&[
            ("csrf", &csrf),
            ("name", "deploys"),
            ("key", "deploy-bot"),
            ("reviewers", "sre-leads"),
            ("reviewers", "ops"),
            ("approvals", "1"),
            ("risk", ""),
            ("on_timeout", ""),
        ]),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    let list = policies(&hitl);
    assert_eq!(list[1]["name"], "deploys");
    assert_eq!(list[1]["position"], 2);
    assert_eq!(list[1]["reviewers"], json!(["sre-leads", "ops"]));
    assert_eq!(list[1]["approvals"], 1);
    assert_eq!(list[1]["tags"], json!([]));
    assert_eq!(list[1]["risk"], Value::Null);
    assert_eq!(list[1]["onTimeout"], Value::Null);
    assert_eq!(list[1]["remindEvery"], Value::Null);
    let shown = page(&server, "/policies", &cookie).text;
    assert_eq!(listed(&shown), vec!["prod-changes", "deploys"]);
    assert!(shown.contains(r#"action="/policies/deploys/move-up""#));

    let r = form_post(
        &server,
        "/policies/deploys/move-up",
        Some(&cookie),
        &body(&[("csrf", &csrf)]),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.headers["location"], "/policies?done=moved");
    let list = policies(&hitl);
    assert_eq!(list[0]["name"], "deploys");
    assert_eq!(list[0]["position"], 1);
    assert_eq!(list[1]["name"], "prod-changes");
    assert_eq!(list[1]["position"], 2);
    assert_eq!(
        listed(&page(&server, "/policies", &cookie).text),
        vec!["deploys", "prod-changes"]
    );

    // The first cannot move further up: said in the page, order unchanged.
    let r = form_post(
        &server,
        "/policies/deploys/move-up",
        Some(&cookie),
        &body(&[("csrf", &csrf)]),
        &[],
    );
    assert_eq!(r.status, 400);
    assert!(r.text.contains("already tried first"), "{}", r.text);
    assert_eq!(names(&hitl), vec!["deploys", "prod-changes"]);

    let r = form_post(
        &server,
        "/policies/deploys/remove",
        Some(&cookie),
        &body(&[("csrf", &csrf)]),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.headers["location"], "/policies?done=removed");
    assert_eq!(names(&hitl), vec!["prod-changes"]);
    let shown = page(&server, "/policies?done=removed", &cookie).text;
    assert!(shown.contains("Policy removed."));
    assert_eq!(listed(&shown), vec!["prod-changes"]);
    assert!(
        shown.contains(r##"<td data-label="#">1</td>"##),
        "numbered by place in the order"
    );

    // Removing one that is gone is a "not found" page; nothing else changes.
    let r = form_post(
        &server,
        "/policies/deploys/remove",
        Some(&cookie),
        &body(&[("csrf", &csrf)]),
        &[],
    );
    assert_eq!(r.status, 404);
    assert_eq!(names(&hitl), vec!["prod-changes"]);

    // Every change is in the audit log, by the admin.
    let db = hitl.db();
    let events: Vec<String> = db
        .prepare("SELECT event FROM audit WHERE event LIKE 'policy.%' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        events,
        vec![
            "policy.created",
            "policy.created",
            "policy.moved",
            "policy.removed"
        ]
    );
}

#[test]
fn bad_input_is_shown_in_the_page_and_changes_nothing() {
    let (hitl, server, cookie, csrf) = setup();
    hitl.ok(&["policy", "add", "existing", "--reviewers", "ops"]);
    let before = policies(&hitl);

    let good = [
        ("name", "new-one"),
        ("tags", "prod"),
        ("reviewers", "ops"),
        ("approvals", "2"),
        ("remind_every", "30m"),
    ];
    let with = |change: (&'static str, &'static str)| -> Vec<(&str, &str)> {
        let mut fields: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        fields.extend(good.iter().filter(|(k, _)| *k != change.0).copied());
        if !change.1.is_empty() {
            fields.push(change);
        }
        fields
    };
    let cases: Vec<(Fields, u16, &str)> = vec![
        (
            with(("reviewers", "nobody-here")),
            400,
            "there is no group named \"nobody-here\"",
        ),
        (with(("reviewers", "")), 400, "name the reviewers"),
        (
            with(("approvals", "11")),
            400,
            "approvals must be from 1 to 10",
        ),
        (
            with(("approvals", "two")),
            400,
            "approvals must be a whole number",
        ),
        (with(("remind_every", "soon")), 400, "is not a duration"),
        (
            with(("name", "existing")),
            409,
            "a policy is already named \"existing\"",
        ),
        (with(("name", "two words")), 400, "a policy name is 1 to 64"),
        (with(("risk", "extreme")), 400, "risk must be"),
    ];
    for (fields, status, message) in cases {
        let r = form_post(&server, "/policies", Some(&cookie), &body(&fields), &[]);
        assert_eq!(r.status, status, "{fields:?}: {}", r.text);
        assert!(
            r.text.contains(&maud_escaped(message)),
            "{fields:?} should say {message:?}: {}",
            r.text
        );
        assert!(r.text.contains("role=\"alert\""), "shown as an error");
        assert!(
            r.text.contains("<details class=\"create\" open"),
            "the form stays open"
        );
        // The form keeps what was typed.
        let name = fields.iter().find(|(k, _)| *k == "name").unwrap().1;
        assert!(
            r.text.contains(&format!(
                "name=\"name\" required maxlength=\"64\" value=\"{name}\""
            )),
            "name kept: {}",
            r.text
        );
        assert!(r.text.contains(r#"name="tags" value="prod""#));
        if fields.contains(&("reviewers", "ops")) {
            assert!(r.text.contains(r#"name="reviewers" value="ops" checked"#));
        }
        assert_eq!(policies(&hitl), before, "{fields:?} changed nothing");
    }

    // An escalation needs both halves.
    let mut fields = with(("escalate_after", "2h"));
    fields.push(("escalate_to", ""));
    let r = form_post(&server, "/policies", Some(&cookie), &body(&fields), &[]);
    assert_eq!(r.status, 400);
    assert!(r.text.contains("go together"));
    assert_eq!(policies(&hitl), before);
}

/// How maud writes text into HTML.
fn maud_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[test]
fn only_admins_with_the_form_token_change_policies() {
    let (hitl, server, cookie, csrf) = setup();
    hitl.ok(&["policy", "add", "first", "--reviewers", "ops"]);
    hitl.ok(&["policy", "add", "second", "--reviewers", "ops"]);
    let before = policies(&hitl);
    let add = |token: &str| {
        body(&[
            ("csrf", token),
            ("name", "sneaky"),
            ("reviewers", "ops"),
            ("approvals", "1"),
        ])
    };

    // No token, a wrong one, or another site: refused, nothing changed.
    for (path, form) in [
        ("/policies", add("")),
        ("/policies", "name=sneaky&reviewers=ops".to_string()),
        ("/policies", add("wrong")),
        ("/policies/second/move-up", String::new()),
        ("/policies/first/remove", "csrf=wrong".to_string()),
    ] {
        let r = form_post(&server, path, Some(&cookie), &form, &[]);
        assert_eq!(r.status, 403, "{path} {form}");
        assert!(r.text.contains("Nothing was changed"));
    }
    let r = form_post(
        &server,
        "/policies",
        Some(&cookie),
        &add(&csrf),
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(policies(&hitl), before);

    // An approver: no link, no page, no changes (even with their own valid token).
    let approver = sign_in(&server, "ann@example.com", PASSWORD).unwrap();
    let home = page(&server, "/", &approver);
    assert!(!home.text.contains("href=\"/policies\""));
    let own_csrf = csrf_of(&home.text);
    assert_eq!(page(&server, "/policies", &approver).status, 403);
    for (path, form) in [
        ("/policies", add(&own_csrf)),
        ("/policies/second/move-up", body(&[("csrf", &own_csrf)])),
        ("/policies/first/remove", body(&[("csrf", &own_csrf)])),
    ] {
        let r = form_post(&server, path, Some(&approver), &form, &[]);
        assert_eq!(r.status, 403, "{path}");
    }
    assert_eq!(policies(&hitl), before);

    // Signed out: to the sign-in page.
    let r = request_raw("GET", &format!("{}/policies", server.url), "", &[]);
    assert_eq!(r.status, 303);
    assert!(r.headers["location"].starts_with("/signin"));

    // The admin sees the link, right after Users.
    let admin_page = page(&server, "/policies", &cookie).text;
    let users_at = admin_page.find("href=\"/users\"").unwrap();
    let policies_at = admin_page.find("href=\"/policies\"").unwrap();
    let audit_at = admin_page.find("href=\"/audit\"").unwrap();
    assert!(users_at < policies_at && policies_at < audit_at);
}

#[test]
fn without_groups_the_form_says_where_to_make_one() {
    let hitl = Hitl::new();
    hitl.add_user("admin@example.com", "admin");
    let server = hitl.serve(&[]);
    let cookie = sign_in(&server, "admin@example.com", PASSWORD).unwrap();
    let r = page(&server, "/policies", &cookie);
    assert_eq!(r.status, 200);
    assert!(r.text.contains("There are no groups yet"));
    assert!(r.text.contains(r#"<a href="/groups">"#));
    assert!(r.text.contains("hitl group create NAME"));
    assert!(!r.text.contains(r#"name="reviewers""#));
    let csrf = csrf_of(&r.text);
    let r = form_post(
        &server,
        "/policies",
        Some(&cookie),
        &body(&[("csrf", &csrf), ("name", "p"), ("approvals", "1")]),
        &[],
    );
    assert_eq!(r.status, 400);
    assert!(r.text.contains("name the reviewers"));
    assert_eq!(policies(&hitl), json!([]));
}
