//! The channels each reviewer chooses (ntfy, and the channel list itself) and the
//! team channels that only show a pause (Teams, Discord): real HTTP receivers on
//! 127.0.0.1 stand in for ntfy, the Teams Workflows webhook and Discord, and check the
//! exact requests hitl makes.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;
use crate::peers::Receiver;
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};

const HOSTILE: &str = "[Approve](http://evil.example) <@123> @everyone **now** <at>all</at>";

/// The topic URL of a receiver: its root and a topic.
fn topic_of(receiver: &Receiver, topic: &str) -> String {
    let root = receiver.url.trim_end_matches("/hook");
    format!("{root}/{topic}")
}

#[test]
fn ntfy_publishes_to_the_reviewers_topic_and_its_approve_action_works_once() {
    let hitl = Hitl::new();
    hitl.add_user("ann@example.com", "approver");
    hitl.add_user("bob@example.com", "approver");
    let ntfy = Receiver::start();
    let topic = topic_of(&ntfy, "ann-approvals");
    let token_file = hitl.path().join("ntfy-token");
    std::fs::write(&token_file, "tk_secret123\n").unwrap();
    let ntfy_root = ntfy.url.trim_end_matches("/hook").to_string();
    let out = hitl.ok(&["user", "set", "ann@example.com", "--ntfy", &topic]);
    assert!(out.contains("published to"), "{out}");
    // Bob's topic is on another server: the operator's token never goes there.
    let elsewhere = Receiver::start();
    hitl.ok(&[
        "user",
        "set",
        "bob@example.com",
        "--ntfy",
        &topic_of(&elsewhere, "bob"),
    ]);
    let agent = hitl.agent_key("deploy-bot");
    let server = hitl.serve(&[
        "--ntfy-token-file",
        token_file.to_str().unwrap(),
        "--ntfy-server",
        &ntfy_root,
    ]);

    let id = server.create(
        &agent,
        &json!({
            "action": format!("Deploy {HOSTILE}"),
            "context": { "commit": "a3f9b2e" },
            "risk": "medium",
            "timeoutSeconds": 3600
        }),
    );
    let got = ntfy.wait_for(1, Duration::from_secs(15));
    let bob = &elsewhere.wait_for(1, Duration::from_secs(15))[0];
    assert!(
        !bob.headers.contains_key("authorization"),
        "the token leaked: {:?}",
        bob.headers
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ntfy.received().len(), 1, "one message to ann's topic");
    let r = &got[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/"),
        "JSON goes to the root"
    );
    assert_eq!(r.headers["authorization"], "Bearer tk_secret123");
    assert_eq!(r.headers["content-type"], "application/json");
    let m = r.json();
    assert_eq!(m["topic"], "ann-approvals");
    assert_eq!(m["title"], "Approval needed · deploy-bot");
    assert_eq!(m["priority"], 3);
    assert_eq!(m["tags"], json!(["hitl"]));
    let review = format!("{}/review/{id}", server.url);
    assert_eq!(m["click"], review);
    assert!(m.get("markdown").is_none(), "plain text: {m}");
    let message = m["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("Deploy {HOSTILE}\nRisk: medium")),
        "{message}"
    );
    assert!(message.contains("a3f9b2e"), "{message}");
    assert_eq!(
        m["actions"][0],
        json!({ "action": "view", "label": "Review", "url": review, "clear": false })
    );
    let approve = &m["actions"][1];
    assert_eq!(approve["action"], "http");
    assert_eq!(approve["label"], "Approve");
    assert_eq!(approve["method"], "POST");
    assert_eq!(approve["clear"], true);
    let url = approve["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/mail/", server.url)), "{url}");

    // A GET (a preview, a scanner) decides nothing.
    let look = request_raw("GET", url, "", &[]);
    assert_eq!(look.status, 200);
    assert_eq!(server.status(&agent, &id)["status"], "pending");

    // ntfy's app sends the action as given: POST with its headers and body.
    let headers: Vec<(String, String)> = approve["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = approve["body"].as_str().unwrap();
    let first = request_raw("POST", url, body, &headers);
    assert_eq!(first.status, 200, "{}", first.text);
    let status = server.status(&agent, &id);
    assert_eq!(status["status"], "approved");
    assert_eq!(status["resolvedBy"], "ann@example.com");
    assert_eq!(status["comment"], "Approved from ntfy");

    // A replay does nothing.
    let again = request_raw("POST", url, body, &headers);
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(server.status(&agent, &id)["resolvedBy"], "ann@example.com");
    let decided: Vec<(String, String)> = hitl
        .audit_events(&id)
        .into_iter()
        .filter(|(event, _)| event == "pause.approved")
        .collect();
    assert_eq!(decided.len(), 1, "{decided:?}");
}

#[test]
fn ntfy_gives_no_one_tap_approval_for_high_risk_and_refusals_fail_at_once() {
    let hitl = Hitl::new();
    hitl.add_user("ann@example.com", "approver");
    let ntfy = Receiver::start();
    hitl.ok(&[
        "user",
        "set",
        "ann@example.com",
        "--ntfy",
        &topic_of(&ntfy, "t1"),
    ]);
    let agent = hitl.agent_key("ops-bot");
    // Reviewers see every delivery; agents only their webhooks.
    let boss = hitl.reviewer_key("boss@example.com");
    let server = hitl.serve(&[]);
    ntfy.reply(&[
        crate::peers::Reply::Status(200),
        crate::peers::Reply::Status(403),
    ]);

    let high = server.create(
        &agent,
        &json!({ "action": "drop table", "risk": "critical" }),
    );
    let m = ntfy.wait_for(1, Duration::from_secs(15))[0].json();
    assert_eq!(m["priority"], 5);
    assert_eq!(
        m["actions"].as_array().unwrap().len(),
        1,
        "Review only: {m}"
    );
    assert!(!ntfy.received()[0].headers.contains_key("authorization"));

    let refused = server.create(&agent, &json!({ "action": "restart", "risk": "low" }));
    ntfy.wait_for(2, Duration::from_secs(15));
    let deliveries = eventually(Duration::from_secs(10), "a failed ntfy delivery", || {
        let d = server.get(&format!("/api/pause/{refused}/deliveries"), &boss);
        let list = d.json["items"].as_array().cloned().unwrap_or_default();
        list.iter()
            .find(|d| d["kind"] == "ntfy" && d["state"] == "failed")
            .cloned()
    });
    assert_eq!(
        deliveries["target"], "ann@example.com",
        "the topic stays private"
    );
    let d = server.get(&format!("/api/pause/{high}/deliveries"), &boss);
    assert_eq!(d.json["items"][0]["state"], "delivered", "{}", d.text);
}

#[test]
fn each_reviewer_chooses_their_channels_and_only_routed_reviewers_are_told() {
    let hitl = Hitl::new();
    hitl.add_user("ann@example.com", "approver");
    hitl.add_user("bob@example.com", "approver");
    hitl.add_user("cid@example.com", "approver");
    let (a, b, c) = (Receiver::start(), Receiver::start(), Receiver::start());
    for (user, r) in [("ann", &a), ("bob", &b), ("cid", &c)] {
        hitl.ok(&[
            "user",
            "set",
            &format!("{user}@example.com"),
            "--ntfy",
            &topic_of(r, user),
        ]);
    }
    hitl.ok(&["group", "create", "ops"]);
    hitl.ok(&["group", "add", "ops", "ann@example.com", "bob@example.com"]);
    hitl.ok(&[
        "policy",
        "add",
        "prod",
        "--tag",
        "prod",
        "--reviewers",
        "ops",
    ]);
    // bob keeps mail only; the CLI says so.
    let out = hitl.ok(&["user", "set", "bob@example.com", "--notify", "email"]);
    assert!(out.contains("told of pauses by: email"), "{out}");
    let users: Value = serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    let bob = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "bob@example.com")
        .unwrap()
        .clone();
    assert_eq!(bob["notify"], json!(["email"]));
    let list = hitl.ok(&["user", "list"]);
    assert!(list.contains("email,slack,telegram,ntfy,push"), "{list}");

    let agent = hitl.agent_key("deploy-bot");
    let server = hitl.serve(&[]);
    server.create(&agent, &json!({ "action": "deploy", "tags": ["prod"] }));
    a.wait_for(1, Duration::from_secs(15));
    // Not routed to cid; bob turned ntfy off.
    server.create(&agent, &json!({ "action": "unrouted" }));
    a.wait_for(2, Duration::from_secs(15));
    c.wait_for(1, Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(b.received().len(), 0, "bob turned ntfy off");
    assert_eq!(
        c.received().len(),
        1,
        "cid only hears of the unrouted pause"
    );
    assert_eq!(c.received()[0].json()["message"], "unrouted");

    // Ann turns ntfy off in the page: unticking its box.
    let cookie = sign_in(&server, "ann@example.com", PASSWORD).unwrap();
    let account = page(&server, "/account", &cookie);
    assert!(
        account.text.contains("name=\"ntfy\" value=\"on\" checked"),
        "{}",
        account.text
    );
    assert!(
        !account.text.contains("name=\"telegram\""),
        "the server has no Telegram bot"
    );
    let csrf = csrf_of(&account.text);
    let r = form_post(
        &server,
        "/account/notify",
        Some(&cookie),
        &format!("csrf={csrf}&email=on"),
        &[],
    );
    assert_eq!(r.status, 303);
    let account = page(&server, "/account", &cookie);
    assert!(
        account.text.contains("name=\"ntfy\" value=\"on\">")
            || account.text.contains("name=\"ntfy\" value=\"on\" >"),
        "unticked now"
    );
    server.create(&agent, &json!({ "action": "third", "tags": ["prod"] }));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(a.received().len(), 2, "ann turned ntfy off");
    let users: Value = serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    let ann = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "ann@example.com")
        .unwrap()
        .clone();
    // Slack and Telegram are not on this server: they keep their setting.
    assert_eq!(ann["notify"], json!(["email", "slack", "telegram"]));
}

#[test]
fn bad_channel_settings_are_refused_and_change_nothing() {
    let hitl = Hitl::new();
    hitl.add_user("ann@example.com", "approver");
    for (args, says) in [
        (vec!["--notify", "email,pigeon"], "pigeon"),
        (vec!["--ntfy", "ftp://ntfy.example/topic"], "ntfy topic URL"),
        (
            vec!["--ntfy", "http://ntfy.example/topic"],
            "http:// only to this machine",
        ),
        (
            vec!["--ntfy", "https://ntfy.example/a/b"],
            "the path must be the topic",
        ),
        (
            vec!["--ntfy", "https://ntfy.example/"],
            "the path must be the topic",
        ),
        (
            vec!["--telegram-chat", "12ab"],
            "not the id of a private Telegram chat",
        ),
        (
            vec!["--telegram-chat", "-100123"],
            "not the id of a private Telegram chat",
        ),
        (
            vec!["--telegram-chat", "1", "--no-telegram"],
            "cannot be used with",
        ),
    ] {
        let mut all = vec!["user", "set", "ann@example.com"];
        all.extend(args.iter().copied());
        let out = hitl.cmd(&all);
        assert!(!out.status.success(), "{all:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{all:?}: {err}");
    }
    let users: Value = serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    assert_eq!(users[0]["ntfyUrl"], Value::Null);
    assert_eq!(users[0]["telegramChat"], Value::Null);
    assert_eq!(
        users[0]["notify"],
        json!(["email", "slack", "telegram", "ntfy", "push"])
    );
    let out = hitl.ok(&[
        "user",
        "set",
        "ann@example.com",
        "--telegram-chat",
        "100123",
        "--notify",
        "",
    ]);
    assert!(
        out.contains("Telegram chat 100123") && out.contains("nothing (all channels off)"),
        "{out}"
    );
    let out = hitl.ok(&["user", "set", "ann@example.com", "--no-telegram"]);
    assert!(out.contains("no Telegram chat linked"), "{out}");

    // The page refuses a bad topic with a readable message and keeps the old one.
    let server = hitl.serve(&[]);
    hitl.ok(&[
        "user",
        "set",
        "ann@example.com",
        "--ntfy",
        "https://ntfy.example/good",
    ]);
    let cookie = sign_in(&server, "ann@example.com", PASSWORD).unwrap();
    let csrf = csrf_of(&page(&server, "/account", &cookie).text);
    let r = form_post(
        &server,
        "/account/ntfy",
        Some(&cookie),
        &format!("csrf={csrf}&url={}", url_encode("javascript:alert(1)")),
        &[],
    );
    assert_eq!(r.status, 400);
    assert!(r.text.contains("is not an ntfy topic URL"), "{}", r.text);
    let users: Value = serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    assert_eq!(users[0]["ntfyUrl"], "https://ntfy.example/good");
    let r = form_post(
        &server,
        "/account/ntfy",
        Some(&cookie),
        &format!("csrf={csrf}&url=&clear=1"),
        &[],
    );
    assert_eq!(r.status, 303);
    let users: Value = serde_json::from_str(&hitl.ok(&["user", "list", "--json"])).unwrap();
    assert_eq!(users[0]["ntfyUrl"], Value::Null);
    // Without the CSRF token nothing changes.
    let r = form_post(
        &server,
        "/account/ntfy",
        Some(&cookie),
        "url=https%3A%2F%2Fntfy.example%2Fx",
        &[],
    );
    assert_eq!(r.status, 403);
}

#[test]
fn teams_and_discord_show_each_pause_with_a_review_link_and_agent_text_inert() {
    let hitl = Hitl::new();
    let teams = Receiver::start();
    let discord = Receiver::start();
    let agent = hitl.agent_key("deploy-bot");
    let teams_url = format!("{}?api-version=2016-06-01&sig=abc", teams.url);
    let server = hitl.serve(&[
        "--teams-webhook-url",
        &teams_url,
        "--discord-webhook-url",
        &discord.url,
    ]);
    let about = server.log();
    assert!(
        about.contains("Teams on") && about.contains("Discord on"),
        "{about}"
    );
    let reviewer = hitl.reviewer_key("ann@example.com");
    let id = server.create(
        &agent,
        &json!({ "action": HOSTILE, "risk": "high", "summary": "ships *it*", "context": { "x": "[y](http://z)" } }),
    );
    let review = format!("{}/review/{id}", server.url);

    let t = &teams.wait_for(1, Duration::from_secs(15))[0];
    assert_eq!(t.path, "/hook?api-version=2016-06-01&sig=abc");
    let card = &t.json()["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &card["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["body"][1]["type"], "RichTextBlock");
    assert_eq!(card["body"][1]["inlines"][0]["type"], "TextRun");
    assert_eq!(card["body"][1]["inlines"][0]["text"], HOSTILE);
    assert_eq!(
        card["body"][2]["facts"][1],
        json!({ "title": "Risk", "value": "high" })
    );
    assert!(
        !t.body.contains("\"TextBlock\""),
        "agent text never in Markdown: {}",
        t.body
    );
    assert_eq!(
        card["actions"][0],
        json!({ "type": "Action.OpenUrl", "title": "Review", "url": review })
    );

    let d = &discord.wait_for(1, Duration::from_secs(15))[0];
    let m = d.json();
    assert_eq!(m["allowed_mentions"], json!({ "parse": [] }));
    let embed = &m["embeds"][0];
    assert_eq!(embed["url"], review);
    assert_eq!(
        embed["title"],
        "\\[Approve\\]\\(http\\://evil.example\\) \\<\\@123\\> \\@everyone \\*\\*now\\*\\* \\<at\\>all\\</at\\>"
    );
    assert_eq!(embed["fields"][2]["value"], "ships \\*it\\*");
    assert!(
        embed["description"]
            .as_str()
            .unwrap()
            .contains("\\[y\\]\\(http\\://z\\)"),
        "{embed}"
    );
    assert_eq!(
        m["content"],
        format!("Approval needed · [Review in hitl]({review})")
    );

    // Decided: a short follow-up in each.
    server.decide(&reviewer, &id, "rejected", "not <@here> today");
    let t = &teams.wait_for(2, Duration::from_secs(15))[1];
    let card = &t.json()["attachments"][0]["content"];
    assert_eq!(
        card["body"][0]["inlines"][0]["text"],
        "Rejected by ann@example.com: not <@here> today"
    );
    let d = &discord.wait_for(2, Duration::from_secs(15))[1];
    assert_eq!(
        d.json()["content"],
        format!("Rejected by ann\\@example.com: not \\<\\@here\\> today · {} · [Open in hitl]({review})", "\\[Approve\\]\\(http\\://evil.example\\) \\<\\@123\\> \\@everyone \\*\\*now\\*\\* \\<at\\>all\\</at\\>")
    );
}

#[test]
fn chat_flags_are_checked_at_start() {
    let hitl = Hitl::new();
    for (args, says) in [
        (
            vec!["--slack-bot-token", "xoxb-1"],
            "both --slack-bot-token and --slack-signing-secret",
        ),
        (vec!["--slack-channel", "C1"], "--slack-channel needs"),
        (
            vec![
                "--slack-bot-token",
                "x",
                "--slack-signing-secret",
                "y",
                "--slack-channel",
                "#general",
            ],
            "channel id",
        ),
        (vec!["--telegram-bot-token", "nocolon"], "not a bot token"),
        (
            vec![
                "--telegram-bot-token",
                "1:a",
                "--telegram-webhook-secret",
                "a b",
            ],
            "1 to 256",
        ),
        (
            vec!["--telegram-webhook-secret", "abc"],
            "needs --telegram-bot-token",
        ),
        (vec!["--teams-webhook-url", "teams"], "--teams-webhook-url"),
        (
            vec!["--discord-webhook-url", "ftp://x/y"],
            "--discord-webhook-url",
        ),
        (
            vec![
                "--ntfy-token-file",
                "/nonexistent/token",
                "--ntfy-server",
                "https://ntfy.example",
            ],
            "cannot read it",
        ),
        (vec!["--ntfy-token-file", "/etc/hostname"], "--ntfy-server"),
    ] {
        let err = Server::try_start(hitl.path(), &args)
            .err()
            .unwrap_or_else(|| panic!("{args:?} started"));
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
