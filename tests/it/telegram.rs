//! Telegram, against a fake Bot API on 127.0.0.1 (tests/it/telegram_fake.rs): linking
//! a chat with a one-time code from the Account page, messages about pauses with
//! signed buttons, deciding by a button press (and refusing changed buttons and other
//! chats), the webhook's secret, the long poll's offset across a restart, and a prompt
//! stop.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;
use crate::telegram_fake::{FakeTelegram, BOT, TOKEN};
use crate::web_http::{csrf_of, form_post, page, sign_in, url_encode};

const REVIEWER: &str = "rev@example.com";
const CHAT: i64 = 5001;

fn serve(hitl: &Hitl, fake: &FakeTelegram, extra: &[&str]) -> Server {
    let mut args = vec![
        "--telegram-bot-token",
        TOKEN,
        "--telegram-api-url",
        &fake.url,
    ];
    args.extend_from_slice(extra);
    hitl.serve(&args)
}

/// Presses Link Telegram on the Account page as `cookie`'s user; the code shown.
fn new_code(server: &Server, cookie: &str) -> String {
    let account = page(server, "/account", cookie);
    assert_eq!(account.status, 200);
    let csrf = csrf_of(&account.text);
    let r = form_post(
        server,
        "/account/telegram/link",
        Some(cookie),
        &format!("csrf={}", url_encode(&csrf)),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let at = r.text.find("/start ").expect("the /start command") + 7;
    let code: String = r.text[at..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    assert_eq!(code.len(), 24, "{}", r.text);
    // The bot's name comes from getMe at start-up.
    assert!(
        r.text.contains(&format!("https://t.me/{BOT}?start={code}")),
        "{}",
        r.text
    );
    code
}

fn start_message(chat: i64, text: &str) -> Value {
    json!({ "message": {
        "message_id": 1,
        "from": { "id": chat, "is_bot": false, "first_name": "R" },
        "chat": { "id": chat, "type": "private" },
        "date": 0,
        "text": text,
    }})
}

fn press(id: &str, from: i64, chat: i64, message_id: i64, data: &str) -> Value {
    json!({ "callback_query": {
        "id": id,
        "from": { "id": from, "is_bot": false, "first_name": "R" },
        "message": { "message_id": message_id, "chat": { "id": chat, "type": "private" }, "date": 0 },
        "chat_instance": "1",
        "data": data,
    }})
}

fn linked_chat(hitl: &Hitl, email: &str) -> Option<String> {
    hitl.db()
        .query_row(
            "SELECT telegram_chat FROM users WHERE email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap()
}

fn user_id(hitl: &Hitl, email: &str) -> i64 {
    hitl.db()
        .query_row("SELECT id FROM users WHERE email = ?1", [email], |r| {
            r.get(0)
        })
        .unwrap()
}

/// Waits until the server learnt the bot's name (getMe answered).
fn wait_for_get_me(fake: &FakeTelegram) {
    fake.wait_for("getMe", "any body", |_| true);
    std::thread::sleep(Duration::from_millis(200));
}

/// Links `CHAT` to the reviewer through the Account page and `/start <code>`.
fn link(hitl: &Hitl, server: &Server, fake: &FakeTelegram) -> String {
    wait_for_get_me(fake);
    let cookie = sign_in(server, REVIEWER, PASSWORD).unwrap();
    let code = new_code(server, &cookie);
    fake.push_update(start_message(CHAT, &format!("/start {code}")));
    let reply = fake.wait_for("sendMessage", "the link's answer", |b| {
        b["chat_id"] == CHAT && b["text"].as_str().unwrap_or("").starts_with("Linked")
    });
    assert_eq!(
        reply["text"],
        format!("Linked to hitl as {REVIEWER}. Pauses for you will come here.")
    );
    assert_eq!(linked_chat(hitl, REVIEWER).as_deref(), Some("5001"));
    cookie
}

/// The message about `watch_id` sent to `chat`.
fn message_about(fake: &FakeTelegram, chat: i64, watch_id: &str) -> Value {
    fake.wait_for("sendMessage", "the pause's message", |b| {
        b["chat_id"] == chat && b["reply_markup"].to_string().contains(watch_id)
    })
}

#[test]
fn a_chat_links_with_a_one_time_code_and_bad_codes_link_nothing() {
    let hitl = Hitl::new();
    hitl.add_user(REVIEWER, "approver");
    let fake = FakeTelegram::start();
    let server = serve(&hitl, &fake, &[]);
    let cookie = link(&hitl, &server, &fake);
    let audit: Vec<(String, String)> = hitl
        .db()
        .prepare("SELECT event, actor FROM audit WHERE event = 'user.telegram_changed'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        audit,
        [(
            "user.telegram_changed".to_string(),
            format!("user:{REVIEWER}")
        )]
    );

    // Unknown, used, replaced codes, a group chat: nothing linked, a clear answer.
    let first = new_code(&server, &cookie);
    let second = new_code(&server, &cookie);
    let stored: i64 = hitl
        .db()
        .query_row("SELECT count(*) FROM telegram_codes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 1, "a new code replaces the older one");
    let code_hash: Vec<u8> = hitl
        .db()
        .query_row("SELECT code_hash FROM telegram_codes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(code_hash.len(), 32, "only the SHA-256 is kept");
    assert!(!code_hash
        .windows(second.len())
        .any(|w| w == second.as_bytes()));
    for (chat, text) in [
        (6001, "/start NotARealCode123".to_string()),
        (6002, format!("/start {first}")),
        (6003, "/start ../../etc".to_string()),
    ] {
        fake.push_update(start_message(chat, &text));
        let reply = fake.wait_for("sendMessage", "a refusal", |b| b["chat_id"] == chat);
        assert!(
            reply["text"].as_str().unwrap().starts_with(
                "Nothing was linked: this link code is unknown, expired or used already"
            ),
            "{reply}"
        );
    }
    let mut group = start_message(-100_777, &format!("/start {second}"));
    group["message"]["chat"]["type"] = json!("group");
    fake.push_update(group);
    let reply = fake.wait_for("sendMessage", "the group's answer", |b| {
        b["chat_id"] == -100_777
    });
    assert_eq!(
        reply["text"],
        "Link hitl in a private chat with me, not in a group."
    );
    assert_eq!(linked_chat(&hitl, REVIEWER).as_deref(), Some("5001"));
    // The second code still works once (from another private chat), then never again.
    fake.push_update(start_message(6004, &format!("/start {second}")));
    fake.wait_for("sendMessage", "the second link", |b| {
        b["chat_id"] == 6004 && b["text"].as_str().unwrap().starts_with("Linked to hitl as")
    });
    assert_eq!(linked_chat(&hitl, REVIEWER).as_deref(), Some("6004"));
    fake.push_update(start_message(6005, &format!("/start {second}")));
    let reply = fake.wait_for("sendMessage", "a used code", |b| b["chat_id"] == 6005);
    assert!(reply["text"]
        .as_str()
        .unwrap()
        .starts_with("Nothing was linked"));
    assert_eq!(linked_chat(&hitl, REVIEWER).as_deref(), Some("6004"));

    // Unlink: the form needs the CSRF token; then no messages go to the chat.
    let r = form_post(
        &server,
        "/account/telegram/unlink",
        Some(&cookie),
        "csrf=wrong",
        &[],
    );
    assert_eq!(r.status, 403);
    assert_eq!(linked_chat(&hitl, REVIEWER).as_deref(), Some("6004"));
    let csrf = csrf_of(&page(&server, "/account", &cookie).text);
    let r = form_post(
        &server,
        "/account/telegram/unlink",
        Some(&cookie),
        &format!("csrf={}", url_encode(&csrf)),
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(linked_chat(&hitl, REVIEWER), None);
    let key = hitl.agent_key("bot");
    let watch_id = server.create(&key, &json!({ "action": "after unlinking" }));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !fake
            .bodies("sendMessage")
            .iter()
            .any(|b| b.to_string().contains(&watch_id)),
        "nothing is sent to an unlinked chat"
    );
}

#[test]
fn a_pause_arrives_as_plain_text_with_signed_buttons_and_reject_decides() {
    let hitl = Hitl::new();
    hitl.add_user(REVIEWER, "approver");
    let fake = FakeTelegram::start();
    let server = serve(&hitl, &fake, &[]);
    link(&hitl, &server, &fake);
    let key = hitl.agent_key("deploy-bot");
    let action = "<b>Deploy</b> *prod* [x](http://evil) @channel \u{202E}gpj.exe";
    let watch_id = server.create(
        &key,
        &json!({ "action": action, "risk": "high", "context": { "commit": "a3f9b2e" } }),
    );
    let message = message_about(&fake, CHAT, &watch_id);
    assert!(message.get("parse_mode").is_none(), "{message}");
    let text = message["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            "Approval needed\n<b>Deploy</b> *prod* [x](http://evil) @channel ⟨RLO⟩gpj.exe\nRisk: high\nRequested by deploy-bot\n"
        ),
        "{text}"
    );
    assert!(text.contains("\"commit\": \"a3f9b2e\""), "{text}");
    let uid = user_id(&hitl, REVIEWER);
    let keyboard = &message["reply_markup"]["inline_keyboard"];
    let approve = keyboard[0][0]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    let reject = keyboard[0][1]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        message["reply_markup"],
        json!({ "inline_keyboard": [
            [
                { "text": "Approve", "callback_data": approve },
                { "text": "Reject", "callback_data": reject }
            ],
            [ { "text": "Review", "url": format!("{}/review/{watch_id}", server.url) } ]
        ]})
    );
    for (data, letter) in [(&approve, "a"), (&reject, "r")] {
        assert!(data.len() <= 64, "{data}");
        assert!(
            data.starts_with(&format!("{letter}:{watch_id}:{uid}:")),
            "{data}"
        );
    }
    let message_id = fake
        .calls()
        .iter()
        .filter(|c| c.method == "sendMessage")
        .position(|c| c.body == message)
        .unwrap() as i64
        + 1;
    // Recorded once Telegram's answer is back: moments after the fake saw the call.
    let kept: (String, String, i64) = eventually(
        Duration::from_secs(10),
        "the message kept",
        || {
            hitl.db()
            .query_row(
                "SELECT chat, message, user_id FROM chat_messages WHERE watch_id = ?1 AND kind = 'telegram'",
                [&watch_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .ok()
        },
    );
    assert_eq!(kept, ("5001".into(), message_id.to_string(), uid));

    // A changed token (one character, or the other action's letter), another chat:
    // nothing decided, and the person is told why.
    let mut chars: Vec<char> = reject.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == 'x' { 'y' } else { 'x' };
    let one_char: String = chars.into_iter().collect();
    let other_letter = format!("a{}", &reject[1..]);
    let refusals = [
        (
            "t1",
            CHAT,
            CHAT,
            one_char.as_str(),
            "This button is not valid",
        ),
        (
            "t2",
            CHAT,
            CHAT,
            other_letter.as_str(),
            "This button is not valid",
        ),
        (
            "t3",
            7001,
            7001,
            reject.as_str(),
            "This button is not for this chat",
        ),
        (
            "t4",
            7001,
            CHAT,
            reject.as_str(),
            "This button is not for this chat",
        ),
    ];
    for (id, from, chat, data, why) in refusals {
        fake.push_update(press(id, from, chat, message_id, data));
        let answer = fake.wait_for("answerCallbackQuery", id, |b| b["callback_query_id"] == id);
        assert!(
            answer["text"].as_str().unwrap().starts_with(why),
            "{answer}"
        );
        assert!(
            answer["text"]
                .as_str()
                .unwrap()
                .contains("nothing was decided"),
            "{answer}"
        );
    }
    assert_eq!(server.status(&key, &watch_id)["status"], "pending");
    assert!(fake.bodies("editMessageText").is_empty());

    // Reject decides at once as the reviewer.
    fake.push_update(press("ok1", CHAT, CHAT, message_id, &reject));
    let answer = fake.wait_for("answerCallbackQuery", "ok1", |b| {
        b["callback_query_id"] == "ok1"
    });
    assert_eq!(answer["text"], "Rejected");
    let status = server.status(&key, &watch_id);
    assert_eq!(status["status"], "rejected");
    assert_eq!(status["resolvedBy"], REVIEWER);
    assert_eq!(status["comment"], "Rejected from Telegram");
    let edit = fake.wait_for("editMessageText", "the outcome", |_| true);
    assert_eq!(edit["chat_id"], CHAT);
    assert_eq!(edit["message_id"], message_id);
    assert!(edit.get("reply_markup").is_none(), "{edit}");
    assert!(edit.get("parse_mode").is_none(), "{edit}");
    assert!(
        edit["text"].as_str().unwrap().starts_with(&format!(
            "Rejected by {REVIEWER}: Rejected from Telegram\n<b>Deploy</b>"
        )),
        "{edit}"
    );
    let events = hitl.audit_events(&watch_id);
    assert!(
        events.contains(&("pause.rejected".to_string(), format!("user:{REVIEWER}"))),
        "{events:?}"
    );
    // The outbox row of the outcome edits the same message too.
    crate::harness::eventually(Duration::from_secs(10), "the outcome row", || {
        (fake.bodies("editMessageText").len() >= 2).then_some(())
    });

    // Pressed again: already decided, nothing changes.
    fake.push_update(press("ok2", CHAT, CHAT, message_id, &approve));
    let answer = fake.wait_for("answerCallbackQuery", "ok2", |b| {
        b["callback_query_id"] == "ok2"
    });
    assert_eq!(answer["text"], "Already rejected: nothing was changed.");
    assert_eq!(server.status(&key, &watch_id)["status"], "rejected");

    // A form or a question gets only Review.
    for body in [
        json!({ "action": "fill it", "responseSchema": { "type": "object", "properties": { "note": { "type": "string" } } } }),
        json!({ "action": "which one?", "kind": "question" }),
    ] {
        let r = server.post("/api/pause", &key, &body);
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.json["watchId"].as_str().unwrap().to_string();
        let message = fake.wait_for("sendMessage", "the message", |b| {
            b["reply_markup"].to_string().contains(&id)
        });
        assert_eq!(
            message["reply_markup"],
            json!({ "inline_keyboard": [[{ "text": "Review", "url": format!("{}/review/{id}", server.url) }]] })
        );
    }
}

#[test]
fn a_quorum_shows_progress_and_keeps_the_buttons() {
    let hitl = Hitl::new();
    hitl.add_user(REVIEWER, "approver");
    let other = hitl.reviewer_key("other@example.com");
    let fake = FakeTelegram::start();
    let server = serve(&hitl, &fake, &[]);
    link(&hitl, &server, &fake);
    let key = hitl.agent_key("bot");
    let watch_id = server.create(&key, &json!({ "action": "deploy", "requiredApprovals": 2 }));
    let message = message_about(&fake, CHAT, &watch_id);
    assert!(message["text"]
        .as_str()
        .unwrap()
        .contains("Needs 2 approvals (0 so far)"));
    let approve = message["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    fake.push_update(press("q1", CHAT, CHAT, 1, &approve));
    let answer = fake.wait_for("answerCallbackQuery", "q1", |b| {
        b["callback_query_id"] == "q1"
    });
    assert_eq!(answer["text"], "Approval recorded: 1 of 2 approvals");
    let edit = fake.wait_for("editMessageText", "the progress", |_| true);
    assert!(
        edit["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("1 of 2 approvals: {REVIEWER}\n")),
        "{edit}"
    );
    assert_eq!(
        edit["reply_markup"], message["reply_markup"],
        "the buttons stay"
    );
    // Twice is once.
    fake.push_update(press("q2", CHAT, CHAT, 1, &approve));
    let answer = fake.wait_for("answerCallbackQuery", "q2", |b| {
        b["callback_query_id"] == "q2"
    });
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .starts_with("Not decided: you have already approved"),
        "{answer}"
    );
    assert_eq!(server.status(&key, &watch_id)["status"], "pending");
    let r = server.decide(&other, &watch_id, "approved", "");
    assert_eq!(r.status, 200, "{}", r.text);
    let last = fake.wait_for("editMessageText", "the outcome", |b| {
        b["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("Approved by other@example.com")
    });
    assert!(last.get("reply_markup").is_none());
}

#[test]
fn the_webhook_needs_its_secret() {
    let hitl = Hitl::new();
    hitl.add_user(REVIEWER, "approver");
    let fake = FakeTelegram::start();
    let secret = "s3cret-Token_1";
    let server = serve(&hitl, &fake, &["--telegram-webhook-secret", secret]);
    wait_for_get_me(&fake);
    let cookie = sign_in(&server, REVIEWER, PASSWORD).unwrap();
    let code = new_code(&server, &cookie);
    let update = json!({ "update_id": 1 })
        .as_object()
        .unwrap()
        .clone()
        .into_iter()
        .chain(
            start_message(CHAT, &format!("/start {code}"))
                .as_object()
                .unwrap()
                .clone(),
        )
        .collect::<serde_json::Map<_, _>>();
    let body = Value::Object(update).to_string();
    let url = format!("{}/telegram/webhook", server.url);
    for headers in [
        vec![("Content-Type", "application/json")],
        vec![
            ("Content-Type", "application/json"),
            ("X-Telegram-Bot-Api-Secret-Token", "s3cret-Token_2"),
        ],
        vec![
            ("Content-Type", "application/json"),
            ("X-Telegram-Bot-Api-Secret-Token", ""),
        ],
    ] {
        let r = request_raw("POST", &url, &body, &headers);
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.json["error"]["code"], "unauthorized", "{}", r.text);
        assert!(
            r.text.contains("X-Telegram-Bot-Api-Secret-Token"),
            "{}",
            r.text
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        linked_chat(&hitl, REVIEWER),
        None,
        "a wrong secret does nothing"
    );
    assert!(fake.bodies("sendMessage").is_empty());
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Telegram-Bot-Api-Secret-Token", secret),
    ];
    let r = request_raw("POST", &url, "{not json", &headers);
    assert_eq!(r.status, 400, "{}", r.text);
    let r = request_raw("POST", &url, &body, &headers);
    assert_eq!(r.status, 200, "{}", r.text);
    // Handled before the answer.
    assert_eq!(linked_chat(&hitl, REVIEWER).as_deref(), Some("5001"));
    let reply = fake.bodies("sendMessage");
    assert_eq!(reply.len(), 1);
    assert_eq!(reply[0]["chat_id"], CHAT);
    assert!(
        fake.bodies("getUpdates").is_empty(),
        "no long poll with a webhook"
    );

    // Without the flag there is no webhook.
    drop(server);
    let plain = serve(&hitl, &fake, &[]);
    let r = request_raw(
        "POST",
        &format!("{}/telegram/webhook", plain.url),
        &body,
        &headers,
    );
    assert_eq!(r.status, 404, "{}", r.text);
}

#[test]
fn a_restart_does_not_handle_old_updates_and_stopping_is_prompt() {
    let hitl = Hitl::new();
    hitl.add_user(REVIEWER, "approver");
    let fake = FakeTelegram::start();
    let mut server = serve(&hitl, &fake, &[]);
    link(&hitl, &server, &fake);
    let key = hitl.agent_key("bot");
    let watch_id = server.create(&key, &json!({ "action": "deploy" }));
    let message = message_about(&fake, CHAT, &watch_id);
    let reject = message["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    let last = fake.push_update(press("r1", CHAT, CHAT, 2, &reject));
    fake.wait_for("answerCallbackQuery", "r1", |b| {
        b["callback_query_id"] == "r1"
    });
    let offset = eventually(Duration::from_secs(5), "the offset kept", || {
        hitl.db()
            .query_row(
                "SELECT value FROM settings WHERE name = 'telegram_offset'",
                [],
                |r| r.get::<_, String>(0),
            )
            .ok()
            .filter(|v| *v == (last + 1).to_string())
    });
    assert_eq!(offset, (last + 1).to_string());

    // Killed before its next poll confirmed the update to Telegram: the fake still
    // holds it, and the new process must not handle it again.
    server.kill9();
    let killed = Instant::now();
    let mut server = serve(&hitl, &fake, &[]);
    let first = eventually(Duration::from_secs(10), "the new process's poll", || {
        fake.calls()
            .into_iter()
            .find(|c| c.method == "getUpdates" && c.at > killed)
    });
    assert_eq!(first.body["offset"], last + 1, "{:?}", first.body);
    let newest = fake.bodies("getUpdates").last().cloned().unwrap();
    assert_eq!(newest["offset"], last + 1);
    assert_eq!(
        newest["allowed_updates"],
        json!(["message", "callback_query"])
    );
    std::thread::sleep(Duration::from_millis(500));
    let answers = fake.bodies("answerCallbackQuery");
    assert_eq!(answers.len(), 1, "handled once: {answers:?}");

    // A held long poll does not slow the stop.
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let exit = server.signal_and_wait("TERM");
    assert!(exit.success(), "{exit:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stopping took {:?}",
        started.elapsed()
    );
    assert!(
        !server.log().contains("did not stop in time"),
        "{}",
        server.log()
    );
}

#[test]
fn refusals_by_telegram_are_retried_or_failed() {
    let hitl = Hitl::new();
    hitl.add_user(REVIEWER, "approver");
    let fake = FakeTelegram::start();
    let server = serve(&hitl, &fake, &[]);
    link(&hitl, &server, &fake);
    let key = hitl.agent_key("bot");
    let state = |watch_id: &str| -> (String, i64) {
        hitl.db()
            .query_row(
                "SELECT state, attempts FROM outbox WHERE kind = 'telegram' AND watch_id = ?1",
                [watch_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };

    // 429: again after retry_after.
    fake.refuse_next(
        "sendMessage",
        429,
        "Too Many Requests: retry after 1",
        Some(1),
    );
    let slow = server.create(&key, &json!({ "action": "slow down" }));
    let sends = eventually(Duration::from_secs(10), "the retry", || {
        let sends: Vec<Instant> = fake
            .calls()
            .iter()
            .filter(|c| {
                c.method == "sendMessage"
                    && c.body["text"].as_str().unwrap_or("").contains("slow down")
            })
            .map(|c| c.at)
            .collect();
        (sends.len() >= 2).then_some(sends)
    });
    assert_eq!(sends.len(), 2);
    assert!(
        sends[1] - sends[0] >= Duration::from_millis(900),
        "{:?}",
        sends[1] - sends[0]
    );
    eventually(Duration::from_secs(5), "delivered", || {
        (state(&slow) == ("delivered".to_string(), 2)).then_some(())
    });

    // 403 (blocked): failed for good, with a clear error.
    fake.refuse_next(
        "sendMessage",
        403,
        "Forbidden: bot was blocked by the user",
        None,
    );
    let blocked = server.create(&key, &json!({ "action": "blocked" }));
    eventually(Duration::from_secs(10), "failed", || {
        (state(&blocked).0 == "failed").then_some(())
    });
    let error: String = hitl
        .db()
        .query_row(
            "SELECT a.error FROM delivery_attempts a JOIN outbox o ON o.id = a.outbox_id WHERE o.watch_id = ?1 AND o.kind = 'telegram'",
            [&blocked],
            |r| r.get(0),
        )
        .unwrap();
    assert!(error.contains("blocked the bot"), "{error}");
    assert!(
        !error.contains("ABC"),
        "the token never reaches a record: {error}"
    );

    // A Review button's address refused (Telegram refuses localhost): the link goes
    // into the text, the decision buttons stay.
    fake.refuse_next("sendMessage", 400, "Bad Request: BUTTON_URL_INVALID", None);
    let local = server.create(&key, &json!({ "action": "local" }));
    let resent = fake.wait_for("sendMessage", "the message without a URL button", |b| {
        b["text"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("Review: {}/review/{local}", server.url))
    });
    let rows = resent["reply_markup"]["inline_keyboard"]
        .as_array()
        .unwrap();
    assert_eq!(rows.len(), 1, "{resent}");
    assert_eq!(rows[0][0]["text"], "Approve");
    assert_eq!(rows[0][1]["text"], "Reject");
    eventually(Duration::from_secs(5), "delivered", || {
        (state(&local).0 == "delivered").then_some(())
    });
}
