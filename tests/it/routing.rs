//! Routing policies: who decides which pauses, and what happens while nobody does
//! (reminders, escalation, the timeout), with delegation while a reviewer is away.

use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;
use crate::peers::{Receiver, SmtpServer};
use crate::quorum::approve_link;
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};

/// A reviewer key for a user of the given role.
fn key_for(hitl: &Hitl, email: &str, role: &str) -> String {
    hitl.add_user(email, role);
    hitl.key_json(&["--name", &format!("review-{email}"), "--user", email])["key"]
        .as_str()
        .unwrap()
        .to_string()
}

fn policy_list(hitl: &Hitl) -> Value {
    serde_json::from_str(&hitl.ok(&["policy", "list", "--json"])).unwrap()
}

fn fails(hitl: &Hitl, args: &[&str]) -> String {
    let out = hitl.cmd(args);
    assert!(!out.status.success(), "hitl {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn recipients(mails: &[Value]) -> Vec<String> {
    let mut to: Vec<String> = mails
        .iter()
        .map(|m| m["to"][0].as_str().unwrap().to_string())
        .collect();
    to.sort();
    to
}

/// The README's worked example: two approvals from `ops` for anything tagged `prod`.
#[test]
fn two_approvals_from_ops_for_anything_tagged_prod() {
    let hitl = Hitl::new();
    let ann = key_for(&hitl, "ann@example.com", "approver");
    let bob = key_for(&hitl, "bob@example.com", "approver");
    let boss = key_for(&hitl, "boss@example.com", "admin");
    hitl.ok(&["group", "create", "ops"]);
    hitl.ok(&["group", "add", "ops", "ann@example.com", "bob@example.com"]);
    let out = hitl.ok(&[
        "policy",
        "add",
        "prod-changes",
        "--tag",
        "prod",
        "--reviewers",
        "ops",
        "--approvals",
        "2",
    ]);
    assert!(out.contains("prod-changes"), "{out}");
    let hook = Receiver::start();
    let agent = hitl.key_json(&["--name", "deployer", "--webhook-url", &hook.url])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let server = hitl.serve(&[]);

    let r = server.post(
        "/api/pause",
        &agent,
        &json!({ "action": "deploy api", "tags": ["prod"], "requiredApprovals": 1 }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    // Never fewer approvals than the policy asks.
    assert_eq!(r.json["policy"], "prod-changes");
    assert_eq!(r.json["reviewers"], json!(["ops"]));
    assert_eq!(r.json["requiredApprovals"], 2);
    let id = r.json["watchId"].as_str().unwrap().to_string();

    // An admin outside ops may not decide (nor extend); the pause is untouched.
    let r = server.decide(&boss, &id, "approved", "lgtm");
    assert_eq!((r.status, r.code()), (403, "not_a_reviewer"), "{}", r.text);
    assert!(r.text.contains("ops"), "{}", r.text);
    let r = server.post(
        &format!("/api/pause/{id}/extend"),
        &boss,
        &json!({ "seconds": 60 }),
    );
    assert_eq!((r.status, r.code()), (403, "not_a_reviewer"), "{}", r.text);
    assert_eq!(server.status(&agent, &id)["approvals"], json!([]));

    // The first member's vote; the same person again is refused.
    let r = server.decide(&ann, &id, "approved", "fine by me");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "pending");
    let r = server.decide(&ann, &id, "approved", "again");
    assert_eq!((r.status, r.code()), (409, "already_voted"), "{}", r.text);
    // The second member's approves it.
    let r = server.decide(&bob, &id, "approved", "ok");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "approved");
    assert_eq!(r.json["resolvedBy"], "bob@example.com");

    let hooks = hook.wait_for(1, Duration::from_secs(15));
    let body = hooks[0].json();
    assert_eq!(body["status"], "approved");
    assert_eq!(body["policy"], "prod-changes");
    assert_eq!(body["reviewers"], json!(["ops"]));
    let by: Vec<&str> = body["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["by"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["ann@example.com", "bob@example.com"]);

    // No tag prod: no policy, any approver alone, as before; an agent may ask for more.
    let r = server.post("/api/pause", &agent, &json!({ "action": "read logs" }));
    assert_eq!(r.json["policy"], Value::Null);
    assert_eq!(r.json["reviewers"], Value::Null);
    let other = r.json["watchId"].as_str().unwrap().to_string();
    let r = server.decide(&boss, &other, "approved", "");
    assert_eq!(r.json["status"], "approved", "{}", r.text);
    let r = server.post(
        "/api/pause",
        &agent,
        &json!({ "action": "deploy db", "tags": ["prod"], "requiredApprovals": 3 }),
    );
    assert_eq!(r.json["requiredApprovals"], 3, "{}", r.text);

    // An admin may still cancel a pause routed elsewhere.
    let id3 = r.json["watchId"].as_str().unwrap().to_string();
    let r = server.post(&format!("/api/pause/{id3}/cancel"), &boss, &json!({}));
    assert_eq!(r.json["status"], "cancelled", "{}", r.text);
}

#[test]
fn a_rejection_by_a_routed_reviewer_ends_the_quorum_and_the_page_tells_outsiders_why() {
    let hitl = Hitl::new();
    let ann = key_for(&hitl, "ann@example.com", "approver");
    let bob = key_for(&hitl, "bob@example.com", "approver");
    hitl.add_user("eve@example.com", "admin");
    hitl.ok(&["group", "create", "ops"]);
    hitl.ok(&["group", "add", "ops", "ann@example.com", "bob@example.com"]);
    hitl.ok(&[
        "policy",
        "add",
        "risky",
        "--risk",
        "high",
        "--reviewers",
        "ops",
        "--approvals",
        "2",
    ]);
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&[]);
    let id = server.create(
        &agent,
        &json!({ "action": "drop table users", "risk": "critical" }),
    );
    let low = server.create(&agent, &json!({ "action": "vacuum", "risk": "low" }));
    assert_eq!(server.status(&agent, &low)["policy"], Value::Null);

    // The outsider's queue does not list it; the review page says why, with no buttons.
    let eve = sign_in(&server, "eve@example.com", PASSWORD).unwrap();
    let queue = page(&server, "/", &eve).text;
    assert!(!queue.contains(&id), "routed away from eve: {queue}");
    assert!(queue.contains(&low), "{queue}");
    let html = page(&server, &format!("/review/{id}"), &eve).text;
    assert!(html.contains("data-not-a-reviewer"), "{html}");
    assert!(
        html.contains("data-routing") && html.contains("Routed by the policy “risky” to ops"),
        "{html}"
    );
    assert!(!html.contains(&format!("/review/{id}/decide")), "{html}");
    // And a forged form post decides nothing.
    let csrf = csrf_of(&page(&server, "/account", &eve).text);
    let r = form_post(
        &server,
        &format!("/review/{id}/decide"),
        Some(&eve),
        &format!("csrf={csrf}&decision=approved&comment="),
        &[("Origin", &server.url)],
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("routes this pause to ops"), "{}", r.text);

    let ann_page = sign_in(&server, "ann@example.com", PASSWORD).unwrap();
    assert!(page(&server, "/", &ann_page).text.contains(&id));
    assert!(page(&server, &format!("/review/{id}"), &ann_page)
        .text
        .contains(&format!("/review/{id}/decide")));

    let r = server.decide(&ann, &id, "approved", "ok");
    assert_eq!(r.json["status"], "pending", "{}", r.text);
    let r = server.decide(&bob, &id, "rejected", "not on a Friday");
    assert_eq!(r.json["status"], "rejected", "{}", r.text);
    assert_eq!(r.json["comment"], "not on a Friday");
}

#[test]
fn reminders_and_escalation_reach_the_right_people_by_mail() {
    let smtp = SmtpServer::start(None);
    let hitl = Hitl::new();
    let ann = key_for(&hitl, "ann@example.com", "approver");
    hitl.add_user("bob@example.com", "approver");
    let lead = key_for(&hitl, "lead@example.com", "approver");
    hitl.add_user("other@example.com", "approver");
    hitl.ok(&["group", "create", "ops"]);
    hitl.ok(&["group", "create", "leads"]);
    hitl.ok(&["group", "add", "ops", "ann@example.com", "bob@example.com"]);
    hitl.ok(&["group", "add", "leads", "lead@example.com"]);
    hitl.ok(&[
        "policy",
        "add",
        "deploys",
        "--action",
        "deploy *",
        "--reviewers",
        "ops",
        "--approvals",
        "2",
        "--remind-every",
        "2s",
        "--escalate-after",
        "5s",
        "--escalate-to",
        "leads",
    ]);
    let agent = hitl.agent_key("bot");
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let server = hitl.serve(&["--smtp-url", &smtp_url, "--smtp-from", "hitl@example.com"]);
    let id = server.create(
        &agent,
        &json!({ "action": "deploy web", "timeoutSeconds": 3600 }),
    );

    // Created: the two ops members only.
    let mails = smtp.wait_for(2, Duration::from_secs(15));
    assert_eq!(
        recipients(&mails[..2]),
        ["ann@example.com", "bob@example.com"]
    );
    // Before the escalation the lead may not decide.
    let r = server.decide(&lead, &id, "approved", "");
    assert_eq!((r.status, r.code()), (403, "not_a_reviewer"), "{}", r.text);
    // Ann votes: reminders go to bob alone from then on.
    let r = server.decide(&ann, &id, "approved", "");
    assert_eq!(r.json["status"], "pending", "{}", r.text);

    let reminder = eventually(Duration::from_secs(15), "a reminder", || {
        smtp.messages()
            .into_iter()
            .skip(2)
            .find(|m| m["subject"].as_str().unwrap_or("").starts_with("Reminder:"))
    });
    assert_eq!(reminder["to"][0], "bob@example.com", "{reminder}");
    assert!(reminder["text"]
        .as_str()
        .unwrap()
        .contains("policy deploys"));

    let escalated = eventually(Duration::from_secs(20), "an escalation mail", || {
        smtp.messages().into_iter().find(|m| {
            m["subject"]
                .as_str()
                .unwrap_or("")
                .starts_with("Escalated to you:")
        })
    });
    assert_eq!(escalated["to"][0], "lead@example.com", "{escalated}");
    let s = server.status(&agent, &id);
    assert_eq!(s["reviewers"], json!(["ops", "leads"]));
    assert_eq!(s["status"], "pending");
    // Nobody outside the route was ever mailed, and ann never got a reminder.
    for m in smtp.messages() {
        assert_ne!(m["to"][0], "other@example.com");
        if m["to"][0] == "ann@example.com" {
            assert!(
                !m["subject"].as_str().unwrap().starts_with("Reminder:"),
                "{m}"
            );
        }
    }
    // The escalation let the lead in; their mailed link is their vote.
    let link = approve_link(&escalated, &server.url);
    let r = form_post(&server, &link, None, "comment=", &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    let s = server.status(&agent, &id);
    assert_eq!(s["status"], "approved", "{s}");
    assert_eq!(s["resolvedBy"], "lead@example.com");
    let events: Vec<String> = hitl.audit_events(&id).into_iter().map(|(e, _)| e).collect();
    assert!(events.contains(&"pause.reminded".to_string()), "{events:?}");
    assert!(
        events.contains(&"pause.escalated".to_string()),
        "{events:?}"
    );

    // Reminders stop once it is decided.
    let before = smtp.messages().len();
    thread::sleep(Duration::from_secs(3));
    assert_eq!(
        smtp.messages().len(),
        before,
        "no reminder after the decision"
    );
}

#[test]
fn an_away_reviewers_delegate_decides_and_is_told_until_they_are_back() {
    let smtp = SmtpServer::start(None);
    let hitl = Hitl::new();
    hitl.add_user("ann@example.com", "approver");
    let dee = key_for(&hitl, "dee@example.com", "approver");
    hitl.ok(&["group", "create", "ops"]);
    hitl.ok(&["group", "add", "ops", "ann@example.com"]);
    hitl.ok(&["policy", "add", "all", "--reviewers", "ops"]);
    let agent = hitl.agent_key("bot");

    // Bad inputs change nothing.
    assert!(fails(
        &hitl,
        &[
            "user",
            "set",
            "ann@example.com",
            "--away-until",
            "2020-01-01",
            "--delegate",
            "dee@example.com"
        ]
    )
    .contains("future"));
    assert!(fails(
        &hitl,
        &[
            "user",
            "set",
            "ann@example.com",
            "--away-until",
            "soon",
            "--delegate",
            "dee@example.com"
        ]
    )
    .contains("not a date"));
    assert!(fails(
        &hitl,
        &[
            "user",
            "set",
            "ann@example.com",
            "--away-until",
            "2099-01-01",
            "--delegate",
            "dee@example.com"
        ]
    )
    .contains("a year"));
    assert!(fails(
        &hitl,
        &[
            "user",
            "set",
            "ann@example.com",
            "--away-until",
            "2027-01-01",
            "--delegate",
            "ann@example.com"
        ]
    )
    .contains("someone else"));
    assert!(fails(
        &hitl,
        &[
            "user",
            "set",
            "ann@example.com",
            "--away-until",
            "2027-01-01",
            "--delegate",
            "nobody@example.com"
        ]
    )
    .contains("nobody@example.com"));

    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let server = hitl.serve(&["--smtp-url", &smtp_url, "--smtp-from", "hitl@example.com"]);

    // Ann marks herself away on the Account page, naming dee.
    let ann = sign_in(&server, "ann@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, "/account", &ann).text);
    let until = time_in_days(30);
    let r = form_post(
        &server,
        "/account/away",
        Some(&ann),
        &format!(
            "csrf={csrf}&action=away&until={until}&delegate={}",
            url_encode("dee@example.com")
        ),
        &[("Origin", &server.url)],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    let html = page(&server, "/account", &ann).text;
    assert!(
        html.contains("data-away") && html.contains("dee@example.com"),
        "{html}"
    );
    let users: Value = serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    let ann_row = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "ann@example.com")
        .unwrap();
    assert_eq!(ann_row["delegate"], "dee@example.com");

    let id = server.create(&agent, &json!({ "action": "rotate keys" }));
    let mails = smtp.wait_for(1, Duration::from_secs(15));
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        recipients(&smtp.messages()),
        ["dee@example.com"],
        "the delegate is told, not ann"
    );
    assert!(mails[0]["text"].as_str().unwrap().contains("rotate keys"));
    let r = server.decide(&dee, &id, "approved", "for ann");
    assert_eq!(r.json["status"], "approved", "{}", r.text);

    // Back: the delegate may no longer decide ann's pauses.
    let csrf = csrf_of(&page(&server, "/account", &ann).text);
    let r = form_post(
        &server,
        "/account/away",
        Some(&ann),
        &format!("csrf={csrf}&action=back"),
        &[("Origin", &server.url)],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    let id2 = server.create(&agent, &json!({ "action": "rotate more keys" }));
    let r = server.decide(&dee, &id2, "approved", "");
    assert_eq!((r.status, r.code()), (403, "not_a_reviewer"), "{}", r.text);

    // A bad date on the page is a readable error.
    let csrf = csrf_of(&page(&server, "/account", &ann).text);
    let r = form_post(
        &server,
        "/account/away",
        Some(&ann),
        &format!(
            "csrf={csrf}&action=away&until=yesterday&delegate={}",
            url_encode("dee@example.com")
        ),
        &[("Origin", &server.url)],
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("is not a date"), "{}", r.text);
}

/// `YYYY-MM-DD`, `days` from today (UTC).
fn time_in_days(days: i64) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + days * 86_400;
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%d"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_policy_decides_the_timeout_outcome_and_an_agent_may_not_make_it_approve() {
    let hitl = Hitl::new();
    hitl.add_user("ann@example.com", "approver");
    hitl.ok(&["group", "create", "ops"]);
    hitl.ok(&["group", "add", "ops", "ann@example.com"]);
    hitl.ok(&[
        "policy",
        "add",
        "strict",
        "--key",
        "bot",
        "--reviewers",
        "ops",
        "--on-timeout",
        "reject",
    ]);
    hitl.ok(&["policy", "add", "loose", "--reviewers", "ops"]);
    let bot = hitl.agent_key("bot");
    let other = hitl.agent_key("other");
    let server = hitl.serve(&[]);

    // The key's policy: rejected by the timeout, whatever the agent asked.
    let r = server.post(
        "/api/pause",
        &bot,
        &json!({ "action": "x", "timeoutSeconds": 1, "onTimeout": "expire" }),
    );
    assert_eq!(r.json["policy"], "strict", "{}", r.text);
    assert_eq!(r.json["onTimeout"], "reject");
    let id = r.json["watchId"].as_str().unwrap().to_string();
    let s = eventually(Duration::from_secs(10), "the timeout", || {
        let s = server.status(&bot, &id);
        (s["status"] != "pending").then_some(s)
    });
    assert_eq!(s["status"], "rejected");
    assert_eq!(s["resolvedBy"], "system");
    assert_eq!(s["timedOut"], true);

    // Another key falls to the catch-all policy, which sets no outcome: the agent's
    // choice, but never approve.
    let r = server.post(
        "/api/pause",
        &other,
        &json!({ "action": "y", "timeoutSeconds": 60, "onTimeout": "approve" }),
    );
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_failed"),
        "{}",
        r.text
    );
    assert!(r.text.contains("loose"), "{}", r.text);
    let r = server.post(
        "/api/pause",
        &other,
        &json!({ "action": "y", "timeoutSeconds": 60, "onTimeout": "reject" }),
    );
    assert_eq!(
        (r.json["policy"].clone(), r.json["onTimeout"].clone()),
        (json!("loose"), json!("reject"))
    );
}

#[test]
fn the_policy_command_checks_what_it_is_given_and_keeps_order() {
    let hitl = Hitl::new();
    hitl.ok(&["group", "create", "ops"]);
    hitl.ok(&["group", "create", "leads"]);
    assert!(policy_list(&hitl).as_array().unwrap().is_empty());

    // Bad inputs: a clear message, nothing stored.
    for (args, says) in [
        (vec!["--reviewers", "nobody"], "no group named \"nobody\""),
        (
            vec!["--reviewers", "ops", "--approvals", "11"],
            "approvals must be from 1 to 10",
        ),
        (
            vec!["--reviewers", "ops", "--remind-every", "soon"],
            "not a duration",
        ),
        (
            vec!["--reviewers", "ops", "--remind-every", "60d"],
            "from 1s to 30d",
        ),
        (vec!["--reviewers", "ops", "--risk", "huge"], "risk must be"),
        (
            vec!["--reviewers", "ops", "--action", "deploy [x"],
            "not a valid pattern",
        ),
        (
            vec!["--reviewers", "ops", "--on-timeout", "maybe"],
            "on-timeout must be",
        ),
        (
            vec![
                "--reviewers",
                "ops",
                "--escalate-after",
                "1h",
                "--escalate-to",
                "ghosts",
            ],
            "no group named \"ghosts\"",
        ),
        (vec!["--reviewers", ","], "name the reviewers"),
    ] {
        let mut full = vec!["policy", "add", "p1"];
        full.extend(args.iter().copied());
        let err = fails(&hitl, &full);
        assert!(err.contains(says), "{full:?}: {err}");
    }
    let err = fails(&hitl, &["policy", "add", "bad name!", "--reviewers", "ops"]);
    assert!(err.contains("policy name"), "{err}");
    // Escalation needs both halves (the parser says so).
    let err = fails(
        &hitl,
        &[
            "policy",
            "add",
            "p1",
            "--reviewers",
            "ops",
            "--escalate-after",
            "1h",
        ],
    );
    assert!(err.contains("--escalate-to"), "{err}");
    assert!(policy_list(&hitl).as_array().unwrap().is_empty());

    hitl.ok(&[
        "policy",
        "add",
        "first",
        "--tag",
        "prod",
        "--tag",
        "live",
        "--reviewers",
        "ops,leads",
        "--approvals",
        "2",
        "--remind-every",
        "90m",
        "--escalate-after",
        "4h",
        "--escalate-to",
        "leads",
        "--on-timeout",
        "reject",
    ]);
    hitl.ok(&["policy", "add", "second", "--reviewers", "ops"]);
    let err = fails(&hitl, &["policy", "add", "second", "--reviewers", "ops"]);
    assert!(err.contains("already named"), "{err}");
    let list = policy_list(&hitl);
    assert_eq!(list[0]["name"], "first");
    assert_eq!(list[0]["tags"], json!(["prod", "live"]));
    assert_eq!(list[0]["reviewers"], json!(["ops", "leads"]));
    assert_eq!(list[0]["remindEvery"], "1h 30m");
    assert_eq!(list[0]["escalateAfter"], "4h");
    assert_eq!(list[0]["onTimeout"], "reject");
    assert_eq!(list[1]["position"], 2);
    let table = hitl.ok(&["policy", "list"]);
    assert!(
        table.contains("tagged prod or live") && table.contains("ops, leads (2 approvals)"),
        "{table}"
    );

    hitl.ok(&["policy", "move", "second", "--before", "first"]);
    let names: Vec<String> = policy_list(&hitl)
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["second", "first"]);
    assert!(fails(&hitl, &["policy", "move", "second", "--before", "second"]).contains("itself"));
    assert!(
        fails(&hitl, &["policy", "move", "nope", "--before", "first"]).contains("no policy named")
    );
    hitl.ok(&["policy", "remove", "second"]);
    assert!(fails(&hitl, &["policy", "remove", "second"]).contains("no policy named"));
    let list = policy_list(&hitl);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["position"], 1, "numbered without a gap: {list}");
    let db = hitl.db();
    let audited: i64 = db
        .query_row(
            "SELECT count(*) FROM audit WHERE event LIKE 'policy.%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 4, "two added, one moved, one removed");
}
