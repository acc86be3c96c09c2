//! The Slack app: pauses posted to the team's channel and as direct messages with
//! Approve and Reject buttons, the signed interactions that come back deciding as the
//! hitl user with the presser's Slack email, and every message edited to show the
//! outcome. Slack's Web API is a local fake (`slack_fake`) reached by --slack-api-url.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;
use crate::slack_fake::{form, now_secs, sign, Call, SlackFake};

const SECRET: &str = "S";

struct Setup {
    hitl: Hitl,
    slack: SlackFake,
    server: Server,
    agent: String,
}

/// hitl with the Slack app; `people`: (Slack user id, email) of hitl approvers known
/// to Slack; `before` sets up more (groups, policies) before the server starts.
fn setup(people: &[(&str, &str)], before: impl FnOnce(&Hitl)) -> Setup {
    let slack = SlackFake::start();
    let hitl = Hitl::new();
    for (id, email) in people {
        hitl.add_user(email, "approver");
        slack.user(id, email);
    }
    before(&hitl);
    let agent = hitl.agent_key("deploy-bot");
    let server = hitl.serve(&[
        "--slack-bot-token",
        "xoxb-test",
        "--slack-signing-secret",
        SECRET,
        "--slack-channel",
        "C123",
        "--slack-api-url",
        &slack.api,
        "--webhook-retry-schedule",
        "300ms,300ms",
    ]);
    Setup {
        hitl,
        slack,
        server,
        agent,
    }
}

/// Posts an interaction signed as Slack signs it, `age` seconds old.
fn interact(server: &Server, payload: &Value, age: i64) -> Resp {
    let body = form(payload);
    let ts = now_secs() - age;
    let signature = sign(SECRET, ts, &body);
    request_raw(
        "POST",
        &format!("{}/slack/interactions", server.url),
        &body,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Slack-Request-Timestamp", &ts.to_string()),
            ("X-Slack-Signature", &signature),
        ],
    )
}

/// Where a message was posted: (channel, ts), as hitl kept it.
fn message_of(hitl: &Hitl, watch_id: &str, channel_prefix: &str) -> (String, String) {
    eventually(Duration::from_secs(15), "the message kept", || {
        hitl.db()
            .query_row(
                "SELECT chat, message FROM chat_messages WHERE watch_id = ?1 AND chat LIKE ?2",
                [watch_id, &format!("{channel_prefix}%")],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()
    })
}

/// A button press on the message at (channel, ts).
fn press(action: &str, watch_id: &str, user: &str, at: &(String, String)) -> Value {
    json!({
        "type": "block_actions",
        "user": { "id": user, "username": "someone", "team_id": "T1" },
        "api_app_id": "A1",
        "team": { "id": "T1", "domain": "example" },
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "container": { "type": "message", "message_ts": at.1, "channel_id": at.0, "is_ephemeral": false },
        "channel": { "id": at.0, "name": "approvals" },
        "message": { "type": "message", "ts": at.1, "text": "Approval needed" },
        "response_url": "http://127.0.0.1:9/unused",
        "actions": [{ "type": "button", "block_id": "hitl", "action_id": action,
                      "value": watch_id, "action_ts": "1700000000.1" }]
    })
}

fn status(s: &Setup, id: &str) -> Value {
    s.server.status(&s.agent, id)
}

/// All text of a message's blocks, as one string.
fn text_of(call: &Call) -> String {
    call.body["blocks"].to_string()
}

fn has_button(call: &Call, action: &str) -> bool {
    text_of(call).contains(&format!("\"action_id\":\"{action}\""))
}

#[test]
fn a_new_pause_is_posted_with_buttons_and_agent_text_stays_plain() {
    let s = setup(&[("UANN", "ann@example.com")], |_| {});
    let action = "<!channel> *bold* <http://evil|x>";
    let id = s.server.create(
        &s.agent,
        &json!({ "action": action, "risk": "high", "summary": "<!here> _wipes_ <https://evil|the db>" }),
    );
    let post = s.slack.wait_for("chat.postMessage", "to C123", |c| {
        c.body["channel"] == "C123"
    });
    assert_eq!(post.http_method, "POST");
    assert_eq!(post.headers["authorization"], "Bearer xoxb-test");
    assert!(
        post.headers["content-type"].starts_with("application/json"),
        "{:?}",
        post.headers
    );
    let plain = |text: &str| json!({ "type": "plain_text", "text": text, "emoji": false });
    let review = format!("{}/review/{id}", s.server.url);
    assert_eq!(
        post.body,
        json!({
            "text": "Approval needed: &lt;!channel&gt; *bold* &lt;http://evil|x&gt;",
            "blocks": [
                { "type": "header", "text": plain(action) },
                { "type": "context", "elements": [plain("Requested by deploy-bot · Risk: high")] },
                { "type": "section", "text": plain("<!here> _wipes_ <https://evil|the db>") },
                { "type": "actions", "block_id": "hitl", "elements": [
                    { "type": "button", "text": plain("Review"), "url": review, "action_id": "hitl_review" },
                    { "type": "button", "text": plain("Approve"), "style": "primary", "action_id": "hitl_approve", "value": id },
                    { "type": "button", "text": plain("Reject"), "style": "danger", "action_id": "hitl_reject", "value": id }
                ] }
            ],
            "channel": "C123",
            "unfurl_links": false,
            "unfurl_media": false
        })
    );

    // Ann, a reviewer who keeps Slack on, gets a direct message: found by her email.
    let lookup = s.slack.wait_for("users.lookupByEmail", "for ann", |_| true);
    assert_eq!(lookup.query["email"], "ann@example.com");
    assert_eq!(lookup.headers["authorization"], "Bearer xoxb-test");
    let dm = s.slack.wait_for("chat.postMessage", "to ann", |c| {
        c.body["channel"] == "UANN"
    });
    assert_eq!(dm.body["blocks"], post.body["blocks"]);
    // Both are kept to be edited once decided; the direct message with Ann's id.
    message_of(&s.hitl, &id, "C123");
    message_of(&s.hitl, &id, "DANN");
    let user: Option<i64> = s
        .hitl
        .db()
        .query_row(
            "SELECT user_id FROM chat_messages WHERE chat = 'DANN'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(user.is_some());

    // A question and a pause with a form get only the Review button.
    let q = s.server.create(
        &s.agent,
        &json!({ "action": "Which region?", "kind": "question", "options": ["eu", "us"] }),
    );
    let post = s
        .slack
        .wait_for("chat.postMessage", "of the question", |c| {
            c.body["channel"] == "C123" && text_of(c).contains(&q)
        });
    assert!(!has_button(&post, "hitl_approve") && !has_button(&post, "hitl_reject"));
    assert!(post.body["text"]
        .as_str()
        .unwrap()
        .starts_with("Question: "));
}

#[test]
fn approve_in_slack_decides_as_the_hitl_user_and_edits_the_messages() {
    let s = setup(&[("UANN", "ann@example.com")], |_| {});
    let id = s
        .server
        .create(&s.agent, &json!({ "action": "deploy api" }));
    let at = message_of(&s.hitl, &id, "C123");
    let dm = message_of(&s.hitl, &id, "DANN");

    let r = interact(&s.server, &press("hitl_approve", &id, "UANN", &at), 0);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "", "Slack ignores the body of block_actions");
    let pause = eventually(Duration::from_secs(15), "the approval", || {
        Some(status(&s, &id)).filter(|p| p["status"] == "approved")
    });
    assert_eq!(pause["resolvedBy"], "ann@example.com");
    let info = s.slack.wait_for("users.info", "for UANN", |_| true);
    assert_eq!(info.query["user"], "UANN");
    assert_eq!(info.headers["authorization"], "Bearer xoxb-test");

    // The message pressed is edited at once; the direct message by its edit row.
    for (channel, ts) in [&at, &dm] {
        let update = s.slack.wait_for("chat.update", "with the outcome", |c| {
            c.body["channel"] == *channel && c.body["ts"] == *ts
        });
        assert!(
            text_of(&update).contains("Approved by ann@example.com"),
            "{}",
            text_of(&update)
        );
        assert!(!has_button(&update, "hitl_approve") && has_button(&update, "hitl_review"));
    }
    // A second press: already decided, said to the presser alone.
    let r = interact(&s.server, &press("hitl_approve", &id, "UANN", &at), 0);
    assert_eq!(r.status, 200);
    let told = s
        .slack
        .wait_for("chat.postEphemeral", "already decided", |_| true);
    assert_eq!(told.body["user"], "UANN");
    assert_eq!(told.body["channel"], at.0.as_str());
    assert!(
        told.body["text"]
            .as_str()
            .unwrap()
            .contains("already approved"),
        "{}",
        told.body
    );
}

#[test]
fn a_quorum_shows_its_progress_and_keeps_the_buttons() {
    let s = setup(
        &[("UANN", "ann@example.com"), ("UBOB", "bob@example.com")],
        |_| {},
    );
    let id = s.server.create(
        &s.agent,
        &json!({ "action": "drop table", "requiredApprovals": 2 }),
    );
    let at = message_of(&s.hitl, &id, "C123");
    assert_eq!(
        interact(&s.server, &press("hitl_approve", &id, "UANN", &at), 0).status,
        200
    );
    let update = s.slack.wait_for("chat.update", "with the progress", |c| {
        c.body["ts"] == at.1.as_str()
    });
    assert!(
        text_of(&update).contains("1 of 2 approvals so far: ann@example.com"),
        "{}",
        text_of(&update)
    );
    assert!(has_button(&update, "hitl_approve"));
    assert_eq!(status(&s, &id)["status"], "pending");
    assert_eq!(
        interact(&s.server, &press("hitl_approve", &id, "UBOB", &at), 0).status,
        200
    );
    let pause = eventually(Duration::from_secs(15), "the second approval", || {
        Some(status(&s, &id)).filter(|p| p["status"] == "approved")
    });
    assert_eq!(pause["resolvedBy"], "bob@example.com");
}

#[test]
fn unsigned_stale_or_forged_interactions_decide_nothing() {
    let s = setup(&[("UANN", "ann@example.com")], |_| {});
    let id = s
        .server
        .create(&s.agent, &json!({ "action": "deploy api" }));
    let at = message_of(&s.hitl, &id, "C123");
    let payload = press("hitl_approve", &id, "UANN", &at);
    let body = form(&payload);
    let url = format!("{}/slack/interactions", s.server.url);
    let now = now_secs().to_string();
    let stale = now_secs() - 6 * 60;
    let good = sign(SECRET, now_secs(), &body);
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "a wrong signature",
            vec![
                ("X-Slack-Request-Timestamp", now.clone()),
                ("X-Slack-Signature", sign("not S", now_secs(), &body)),
            ],
        ),
        (
            "a 6 minutes old request",
            vec![
                ("X-Slack-Request-Timestamp", stale.to_string()),
                ("X-Slack-Signature", sign(SECRET, stale, &body)),
            ],
        ),
        (
            "no signature",
            vec![("X-Slack-Request-Timestamp", now.clone())],
        ),
        ("no timestamp", vec![("X-Slack-Signature", good.clone())]),
        (
            "a signature of another body",
            vec![
                ("X-Slack-Request-Timestamp", now.clone()),
                (
                    "X-Slack-Signature",
                    sign(SECRET, now_secs(), "payload=%7B%7D"),
                ),
            ],
        ),
    ];
    for (what, headers) in cases {
        let mut h: Vec<(&str, &str)> = vec![("Content-Type", "application/x-www-form-urlencoded")];
        h.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
        let r = request_raw("POST", &url, &body, &h);
        assert_eq!(r.status, 401, "{what}: {}", r.text);
    }
    // Signed, but not a Slack payload: 400.
    let junk = "payload=not-json";
    let ts = now_secs();
    let r = request_raw(
        "POST",
        &url,
        junk,
        &[
            ("X-Slack-Request-Timestamp", &ts.to_string()),
            ("X-Slack-Signature", &sign(SECRET, ts, junk)),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.text);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status(&s, &id)["status"], "pending");
    assert!(
        s.slack.calls("users.info").is_empty(),
        "nothing was looked up"
    );
    assert!(s.slack.calls("chat.update").is_empty());

    // Without the Slack app the endpoint is not there.
    let plain = Hitl::new();
    let server = plain.serve(&[]);
    let r = interact(&server, &payload, 0);
    assert_eq!(r.status, 404, "{}", r.text);
}

#[test]
fn reject_asks_why_in_a_modal_and_the_reason_is_the_comment() {
    let s = setup(&[("UANN", "ann@example.com")], |_| {});
    let id = s
        .server
        .create(&s.agent, &json!({ "action": "<b>rotate</b> keys" }));
    let at = message_of(&s.hitl, &id, "C123");
    let r = interact(&s.server, &press("hitl_reject", &id, "UANN", &at), 0);
    assert_eq!((r.status, r.text.as_str()), (200, ""));
    let open = s.slack.wait_for("views.open", "for the reason", |_| true);
    assert_eq!(
        open.body["trigger_id"],
        "13345224609.738474920.8088930838d88f008e0"
    );
    let view = &open.body["view"];
    assert_eq!(view["type"], "modal");
    assert_eq!(view["callback_id"], "hitl_reject");
    assert_eq!(view["blocks"][1]["element"]["type"], "plain_text_input");
    assert_eq!(view["blocks"][1]["element"]["multiline"], true);
    assert_eq!(view["blocks"][1]["optional"], Value::Null, "required");
    assert_eq!(status(&s, &id)["status"], "pending", "nothing decided yet");
    let metadata = view["private_metadata"].as_str().unwrap().to_string();
    let submit = |reason: &str| {
        json!({
            "type": "view_submission",
            "user": { "id": "UANN" },
            "view": {
                "id": "V123", "type": "modal", "callback_id": "hitl_reject",
                "private_metadata": metadata,
                "state": { "values": { "reason": { "reason": { "type": "plain_text_input", "value": reason } } } }
            }
        })
    };
    // An empty reason is refused in the modal.
    let r = interact(&s.server, &submit("   "), 0);
    assert_eq!(r.status, 200);
    assert_eq!(r.json["response_action"], "errors", "{}", r.text);
    assert!(r.json["errors"]["reason"].is_string());
    assert_eq!(status(&s, &id)["status"], "pending");

    let r = interact(&s.server, &submit("not on a Friday <!here>"), 0);
    assert_eq!((r.status, r.text.as_str()), (200, ""), "the modal closes");
    let pause = status(&s, &id);
    assert_eq!(pause["status"], "rejected");
    assert_eq!(pause["resolvedBy"], "ann@example.com");
    assert_eq!(pause["comment"], "not on a Friday <!here>");
    let update = s.slack.wait_for("chat.update", "with the rejection", |c| {
        c.body["channel"] == at.0.as_str() && c.body["ts"] == at.1.as_str()
    });
    assert!(
        text_of(&update).contains("Rejected by ann@example.com: not on a Friday <!here>"),
        "{}",
        text_of(&update)
    );
    let note = update.body["text"].as_str().unwrap();
    assert!(
        note.contains("&lt;!here&gt;") && !note.contains("<!here>"),
        "{note}"
    );

    // Submitted again (decided meanwhile): refused in the modal.
    let r = interact(&s.server, &submit("again"), 0);
    assert_eq!(r.json["response_action"], "errors", "{}", r.text);
    assert!(r.text.contains("already rejected"), "{}", r.text);
}

#[test]
fn people_hitl_does_not_know_or_does_not_route_to_are_told_why() {
    let s = setup(
        &[("UANN", "ann@example.com"), ("UBOB", "bob@example.com")],
        |hitl| {
            hitl.ok(&["group", "create", "ops"]);
            hitl.ok(&["group", "add", "ops", "bob@example.com"]);
            hitl.ok(&[
                "policy",
                "add",
                "prod",
                "--tag",
                "prod",
                "--reviewers",
                "ops",
            ]);
        },
    );
    s.slack.user("UEVE", "eve@example.com");
    let id = s.server.create(
        &s.agent,
        &json!({ "action": "deploy api", "tags": ["prod"] }),
    );
    let at = message_of(&s.hitl, &id, "C123");
    // Only Bob, who is routed to, gets a direct message.
    message_of(&s.hitl, &id, "DBOB");
    let lookups: Vec<String> = s
        .slack
        .calls("users.lookupByEmail")
        .iter()
        .map(|c| c.query["email"].clone())
        .collect();
    assert_eq!(lookups, ["bob@example.com"]);

    let cases = [
        ("UEVE", "no user with your Slack email eve@example.com"),
        ("UANN", "ops"),
        ("UNOBODY", "could not look you up in Slack"),
    ];
    for (user, why) in cases {
        let r = interact(&s.server, &press("hitl_approve", &id, user, &at), 0);
        assert_eq!(r.status, 200);
        let told = s
            .slack
            .wait_for("chat.postEphemeral", user, |c| c.body["user"] == user);
        assert_eq!(told.body["channel"], at.0.as_str());
        let text = told.body["text"].as_str().unwrap();
        assert!(
            text.starts_with("Nothing was decided: ") && text.contains(why),
            "{user}: {text}"
        );
    }
    assert_eq!(status(&s, &id)["status"], "pending");
    assert_eq!(status(&s, &id)["approvals"], json!([]));
    assert!(s.slack.calls("chat.update").is_empty());

    // The person who runs the agent may not decide its pauses, from Slack either.
    let owned = s
        .hitl
        .key_json(&["--name", "ann-bot", "--owner", "ann@example.com"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = s
        .server
        .create(&owned, &json!({ "action": "my own deploy" }));
    let at = message_of(&s.hitl, &mine, "C123");
    assert_eq!(
        interact(&s.server, &press("hitl_approve", &mine, "UANN", &at), 0).status,
        200
    );
    let told = s.slack.wait_for("chat.postEphemeral", "to the owner", |c| {
        c.body["text"]
            .as_str()
            .unwrap_or("")
            .contains("another reviewer must decide")
    });
    assert_eq!(told.body["user"], "UANN");
    assert_eq!(s.server.status(&owned, &mine)["status"], "pending");
}

#[test]
fn a_pause_decided_on_the_page_edits_its_slack_messages() {
    let s = setup(&[("UANN", "ann@example.com")], |_| {});
    let reviewer = s
        .hitl
        .key_json(&["--name", "ann-key", "--user", "ann@example.com"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let id = s
        .server
        .create(&s.agent, &json!({ "action": "deploy api" }));
    let at = message_of(&s.hitl, &id, "C123");
    let dm = message_of(&s.hitl, &id, "DANN");
    let r = s
        .server
        .decide(&reviewer, &id, "rejected", "not today & <!here>");
    assert_eq!(r.status, 200, "{}", r.text);
    for (channel, ts) in [&at, &dm] {
        let update = s.slack.wait_for("chat.update", "with the outcome", |c| {
            c.body["channel"] == *channel && c.body["ts"] == *ts
        });
        assert!(
            text_of(&update).contains("Rejected by ann@example.com: not today & <!here>"),
            "{}",
            text_of(&update)
        );
        assert!(!has_button(&update, "hitl_reject"));
        assert!(update.body["text"]
            .as_str()
            .unwrap()
            .starts_with("Rejected by ann@example.com: not today &amp; &lt;!here&gt;"));
    }
}

#[test]
fn slack_refusals_fail_the_delivery_with_a_reason() {
    let slack = SlackFake::start();
    slack.answer(
        "chat.postMessage",
        json!({ "ok": false, "error": "ratelimited" }),
    );
    slack.answer(
        "chat.postMessage",
        json!({ "ok": false, "error": "not_in_channel" }),
    );
    let hitl = Hitl::new();
    hitl.add_user("zed@example.com", "approver");
    let agent = hitl.agent_key("deploy-bot");
    let server = hitl.serve(&[
        "--slack-bot-token",
        "xoxb-test",
        "--slack-signing-secret",
        SECRET,
        "--slack-channel",
        "C123",
        "--slack-api-url",
        &slack.api,
        "--webhook-retry-schedule",
        "300ms,300ms",
    ]);
    let id = server.create(&agent, &json!({ "action": "deploy api" }));
    let states = |target: &str| -> Option<(String, i64, String)> {
        hitl.db()
            .query_row(
                "SELECT o.state, o.attempts, coalesce(a.error, '') FROM outbox o
                 JOIN delivery_attempts a ON a.outbox_id = o.id
                 WHERE o.watch_id = ?1 AND o.target = ?2 AND o.state != 'pending'
                 ORDER BY a.id DESC LIMIT 1",
                [&id, target],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .ok()
    };
    // Rate limited: tried again; then not in the channel: failed for good.
    let (state, attempts, error) =
        eventually(Duration::from_secs(15), "the channel row settled", || {
            states("channel")
        });
    assert_eq!(state, "gone");
    assert_eq!(attempts, 2);
    assert!(
        error.contains("not_in_channel") && error.contains("/invite"),
        "{error}"
    );
    // Nobody in Slack has Zed's email: said so, no retry.
    let (state, _, error) = eventually(Duration::from_secs(15), "zed's row settled", || {
        states("zed@example.com")
    });
    assert_eq!(state, "gone");
    assert!(error.contains("zed@example.com"), "{error}");
}
