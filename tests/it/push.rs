//! Web Push to the installed page: a browser's subscription handed in on the Account
//! page, each pause pushed to it encrypted (aes128gcm) and VAPID-signed, decrypted here
//! by an independent implementation (Python's http_ece), the Approve action with the
//! reviewer's session, and a subscription the push service says is gone removed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::harness::*;
use crate::push_fake::{browser_side, BrowserKeys, PushService, Pushed};
use crate::web_http::{csrf_of, page, sign_in};

const WAIT: Duration = Duration::from_secs(15);

/// Signed in: the session cookie and the page's CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

fn session(server: &Server, email: &str) -> Session {
    let cookie = sign_in(server, email, PASSWORD).unwrap();
    let html = page(server, "/account", &cookie).text;
    Session {
        csrf: csrf_of(&html),
        cookie,
    }
}

fn post_json(server: &Server, path: &str, s: Option<&Session>, body: &str) -> Resp {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(s) = s {
        headers.push(("Cookie", &s.cookie));
        headers.push(("X-CSRF-Token", &s.csrf));
    }
    request_raw("POST", &format!("{}{path}", server.url), body, &headers)
}

fn subscribe(server: &Server, s: &Session, subscription: &Value) -> Resp {
    post_json(server, "/account/push", Some(s), &subscription.to_string())
}

fn approve(server: &Server, cookie: Option<&str>, token: &str) -> Resp {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(c) = cookie {
        headers.push(("Cookie", c));
    }
    request_raw(
        "POST",
        &format!("{}/push/approve", server.url),
        &json!({ "token": token }).to_string(),
        &headers,
    )
}

fn subscriptions(hitl: &Hitl) -> i64 {
    hitl.db()
        .query_row("SELECT count(*) FROM push_subscriptions", [], |r| r.get(0))
        .unwrap()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The VAPID header checked by PyJWT: signed by `k`, for the service's origin,
/// expiring within a day. Returns `k`.
fn check_vapid(pushed: &Pushed, service: &PushService) -> String {
    let checked = browser_side(
        "vapid",
        &json!({
            "authorization": pushed.headers["authorization"],
            "audience": service.origin,
        }),
    );
    let exp = checked["claims"]["exp"].as_i64().unwrap();
    let now = now_secs();
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp}, now {now}");
    assert_eq!(checked["claims"]["aud"], service.origin.as_str());
    let sub = checked["claims"]["sub"].as_str().unwrap();
    assert!(
        sub.starts_with("mailto:") || sub.starts_with("https://"),
        "{sub}"
    );
    checked["k"].as_str().unwrap().to_string()
}

#[test]
fn a_pause_reaches_the_browser_encrypted_and_its_approve_works_once() {
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let agent = hitl.agent_key("deploy-bot");
    let server = hitl.serve(&[]);
    let service = PushService::start();
    let alice = session(&server, "alice@example.com");
    let account = page(&server, "/account", &alice.cookie).text;
    let page_key = account
        .split("data-vapid-key=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    assert!(account.contains("data-push-devices>0<"), "{account}");

    let keys = BrowserKeys::new();
    let r = subscribe(
        &server,
        &alice,
        &keys.subscription(&service.endpoint("alice")),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["devices"], 1);
    assert_eq!(subscriptions(&hitl), 1);
    let account = page(&server, "/account", &alice.cookie).text;
    assert!(account.contains("data-push-devices>1<"), "{account}");

    let watch_id = server.create(
        &agent,
        &json!({ "action": "Deploy <b>v2</b>\u{202e} to prod", "risk": "medium", "timeoutSeconds": 7200 }),
    );
    let got = service.wait_for(1, WAIT);
    let pushed = &got[0];
    assert_eq!(pushed.path, "/push/alice");
    assert_eq!(pushed.headers["content-encoding"], "aes128gcm");
    assert_eq!(pushed.headers["content-type"], "application/octet-stream");
    assert_eq!(pushed.headers["urgency"], "normal");
    let ttl: i64 = pushed.headers["ttl"].parse().unwrap();
    assert!(
        (7000..=7200).contains(&ttl),
        "TTL {ttl}: the pause's 2 hours"
    );
    assert!(pushed.headers.contains_key("topic"));
    assert_eq!(check_vapid(pushed, &service), page_key);

    let message = keys.decrypt(&pushed.body);
    assert_eq!(message["title"], "Approval needed");
    let body = message["body"].as_str().unwrap();
    assert!(
        body.starts_with("Deploy <b>v2</b>⟨RLO⟩ to prod\ndeploy-bot · risk medium"),
        "{body}"
    );
    assert_eq!(
        message["url"],
        format!("{}/review/{watch_id}", server.url).as_str()
    );
    assert_eq!(message["tag"], watch_id.as_str());
    let token = message["approve"].as_str().unwrap().to_string();
    assert!(pushed.body.len() < 4096);

    // The token is no mail link.
    let as_mail = request_raw(
        "POST",
        &format!("{}/mail/{token}", server.url),
        "comment=",
        &[("Content-Type", "application/x-www-form-urlencoded")],
    );
    assert_ne!(as_mail.status, 200, "{}", as_mail.text);
    assert_eq!(server.status(&agent, &watch_id)["status"], "pending");

    let r = approve(&server, Some(&alice.cookie), &token);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "approved");
    let status = server.status(&agent, &watch_id);
    assert_eq!(status["status"], "approved");
    assert_eq!(status["resolvedBy"], "alice@example.com");

    // Once only.
    let again = approve(&server, Some(&alice.cookie), &token);
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(
        hitl.audit_events(&watch_id)
            .iter()
            .filter(|(e, _)| e.contains("approved"))
            .count(),
        1,
        "{:?}",
        hitl.audit_events(&watch_id)
    );
}

#[test]
fn approve_needs_the_session_of_the_person_it_was_sent_to() {
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    hitl.add_user("bob@example.com", "approver");
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&[]);
    let service = PushService::start();
    let alice = session(&server, "alice@example.com");
    let bob = session(&server, "bob@example.com");
    let keys = BrowserKeys::new();
    assert_eq!(
        subscribe(&server, &alice, &keys.subscription(&service.endpoint("a"))).status,
        200
    );

    let watch_id = server.create(&agent, &json!({ "action": "Rotate the keys" }));
    let message = keys.decrypt(&service.wait_for(1, WAIT)[0].body);
    let token = message["approve"].as_str().unwrap().to_string();

    let r = approve(&server, None, &token);
    assert_eq!(r.status, 401, "no session: {}", r.text);
    let r = approve(&server, Some(&bob.cookie), &token);
    assert_eq!(r.status, 403, "another person's session: {}", r.text);
    let mut forged = token.clone();
    forged.replace_range(forged.len() - 3.., "AAA");
    let r = approve(&server, Some(&alice.cookie), &forged);
    assert_eq!(r.status, 404, "a forged token: {}", r.text);
    let r = approve(&server, Some(&alice.cookie), "");
    assert_eq!(r.status, 404, "{}", r.text);
    let r = request_raw(
        "POST",
        &format!("{}/push/approve", server.url),
        &json!({ "token": token }).to_string(),
        &[
            ("Content-Type", "application/json"),
            ("Cookie", &alice.cookie),
            ("Origin", "http://evil.example"),
        ],
    );
    assert_eq!(r.status, 403, "another site: {}", r.text);
    assert_eq!(server.status(&agent, &watch_id)["status"], "pending");

    // High risk, a question, a form: Review only.
    server.create(
        &agent,
        &json!({ "action": "Drop the table", "risk": "critical" }),
    );
    server.create(
        &agent,
        &json!({ "action": "Which region?", "kind": "question", "options": ["eu", "us"] }),
    );
    let got = service.wait_for(3, WAIT);
    let mut titles = Vec::new();
    for pushed in &got[1..] {
        let m = keys.decrypt(&pushed.body);
        assert!(m.get("approve").is_none(), "{m}");
        titles.push(m["title"].as_str().unwrap().to_string());
        if m["body"].as_str().unwrap().contains("risk critical") {
            assert_eq!(pushed.headers["urgency"], "high");
            assert_eq!(m["urgent"], true);
        }
    }
    titles.sort();
    assert_eq!(titles, ["Approval needed", "Question"]);

    // Alice's own session approves.
    let r = approve(&server, Some(&alice.cookie), &token);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(server.status(&agent, &watch_id)["status"], "approved");
}

#[test]
fn bad_subscriptions_are_refused_and_change_nothing() {
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let server = hitl.serve(&[]);
    let alice = session(&server, "alice@example.com");
    let keys = BrowserKeys::new();
    let good = keys.subscription("https://push.example/abc");
    let with = |path: &str, value: Value| {
        let mut s = good.clone();
        let mut at = &mut s;
        let parts: Vec<&str> = path.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            at = &mut at[*p];
        }
        at[parts[parts.len() - 1]] = value;
        s
    };
    for (bad, why) in [
        (
            with("endpoint", json!("http://push.example/abc")),
            "plain http elsewhere",
        ),
        (
            with("endpoint", json!("ftp://push.example/abc")),
            "not http",
        ),
        (
            with("endpoint", json!("https://u:p@push.example/abc")),
            "credentials",
        ),
        (
            with(
                "endpoint",
                json!(format!("https://push.example/{}", "a".repeat(3000))),
            ),
            "too long",
        ),
        (with("endpoint", json!(7)), "not a string"),
        (with("keys.p256dh", json!(&keys.p256dh[..40])), "short key"),
        (
            with("keys.p256dh", json!(format!("B{}", "A".repeat(86)))),
            "not on the curve",
        ),
        (with("keys.auth", json!("c2hvcnQ")), "short auth"),
        (json!({ "endpoint": "https://push.example/abc" }), "no keys"),
    ] {
        let r = subscribe(&server, &alice, &bad);
        assert_eq!(r.status, 400, "{why}: {}", r.text);
        assert!(r.json["error"]["message"].is_string(), "{why}: {}", r.text);
    }
    let r = post_json(&server, "/account/push", Some(&alice), "{not json");
    assert_eq!(r.status, 400, "{}", r.text);
    let huge = json!({ "endpoint": "https://push.example/abc", "pad": "x".repeat(20_000) });
    let r = post_json(&server, "/account/push", Some(&alice), &huge.to_string());
    assert_eq!(r.status, 413, "{}", r.text);
    // No session, or no CSRF token.
    let r = post_json(&server, "/account/push", None, &good.to_string());
    assert_eq!(r.status, 401, "{}", r.text);
    let r = request_raw(
        "POST",
        &format!("{}/account/push", server.url),
        &good.to_string(),
        &[
            ("Content-Type", "application/json"),
            ("Cookie", &alice.cookie),
        ],
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(subscriptions(&hitl), 0);

    // The good one, then off by its endpoint; and every device at once.
    assert_eq!(subscribe(&server, &alice, &good).status, 200);
    let again = subscribe(&server, &alice, &good);
    assert_eq!(
        again.json["devices"], 1,
        "the same browser again: {}",
        again.text
    );
    let second = keys.subscription("http://127.0.0.1:9/other");
    assert_eq!(subscribe(&server, &alice, &second).json["devices"], 2);
    let r = post_json(
        &server,
        "/account/push/remove",
        Some(&alice),
        &json!({ "endpoint": "https://push.example/abc" }).to_string(),
    );
    assert_eq!(r.json["devices"], 1, "{}", r.text);
    let r = post_json(&server, "/account/push/remove", Some(&alice), "{}");
    assert_eq!(r.status, 400, "{}", r.text);
    let r = post_json(
        &server,
        "/account/push/remove",
        Some(&alice),
        &json!({ "all": true }).to_string(),
    );
    assert_eq!(r.json["devices"], 0, "{}", r.text);
    assert_eq!(subscriptions(&hitl), 0);
}

#[test]
fn a_gone_subscription_is_removed_and_busy_services_are_retried() {
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let agent = hitl.agent_key("bot");
    let server = hitl.serve(&["--webhook-retry-schedule", "200ms,200ms"]);
    let service = PushService::start();
    let alice = session(&server, "alice@example.com");
    let keys = BrowserKeys::new();
    assert_eq!(
        subscribe(&server, &alice, &keys.subscription(&service.endpoint("a"))).status,
        200
    );

    // Busy, then down, then taken.
    service.reply(&[(429, Some("1")), (503, None), (201, None)]);
    let first = server.create(&agent, &json!({ "action": "One" }));
    let got = service.wait_for(3, WAIT);
    assert!(
        got[1].headers.contains_key("authorization"),
        "every attempt is signed"
    );
    assert_eq!(keys.decrypt(&got[2].body)["tag"], first.as_str());
    let state = || -> Vec<String> {
        let db = hitl.db();
        let mut stmt = db
            .prepare("SELECT state FROM outbox WHERE kind = 'push' ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    eventually(WAIT, "the first delivered", || {
        (state() == ["delivered"]).then_some(())
    });

    // The browser unsubscribed: 410, and the subscription is gone.
    service.reply(&[(410, None)]);
    server.create(&agent, &json!({ "action": "Two" }));
    service.wait_for(4, WAIT);
    eventually(WAIT, "the subscription removed", || {
        (subscriptions(&hitl) == 0).then_some(())
    });
    eventually(WAIT, "the row given up", || {
        (state() == ["delivered", "gone"]).then_some(())
    });
    let account = page(&server, "/account", &alice.cookie).text;
    assert!(account.contains("data-push-devices>0<"));

    // Nothing more is sent to it.
    server.create(&agent, &json!({ "action": "Three" }));
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(service.received().len(), 4);
}

#[test]
fn the_page_installs_with_a_manifest_and_a_service_worker() {
    let hitl = Hitl::new();
    hitl.add_user("alice@example.com", "approver");
    let server = hitl.serve(&[]);

    // The worker from the root, as a script the whole site may be controlled by.
    let sw = request_raw("GET", &format!("{}/sw.js", server.url), "", &[]);
    assert_eq!(sw.status, 200);
    assert!(sw.headers["content-type"].starts_with("text/javascript"));
    assert_eq!(sw.headers["service-worker-allowed"], "/");
    assert!(sw.text.contains("notificationclick") && sw.text.contains("/push/approve"));

    let browser = crate::browser::Browser::new();
    browser.sign_in(&server.url, "alice@example.com", PASSWORD);
    browser.goto(&format!("{}/account", server.url));
    // The manifest the page links to: installable (name, start URL, standalone, icons).
    browser.js(
        "fetch(document.querySelector('link[rel=manifest]').href)\
           .then(r => r.json()).then(m => { window.__manifest = m; });\
         navigator.serviceWorker.ready.then(r => { window.__scope = r.scope; });\
         return true;",
        vec![],
    );
    browser.wait_until(
        "the manifest and the service worker",
        "window.__manifest && window.__scope",
        Duration::from_secs(15),
    );
    let manifest = browser.js("return window.__manifest;", vec![]);
    assert_eq!(manifest["name"], "hitl");
    assert_eq!(manifest["start_url"], "/");
    assert_eq!(manifest["display"], "standalone");
    let icons = manifest["icons"].as_array().unwrap();
    for (size, purpose) in [
        ("192x192", "any"),
        ("512x512", "any"),
        ("512x512", "maskable"),
    ] {
        let icon = icons
            .iter()
            .find(|i| i["sizes"] == size && i["purpose"] == purpose)
            .unwrap_or_else(|| panic!("no {size} {purpose} icon"));
        let src = icon["src"].as_str().unwrap();
        let r = request_raw("GET", &format!("{}{src}", server.url), "", &[]);
        assert_eq!(r.status, 200, "{src}");
        assert_eq!(r.headers["content-type"], "image/png", "{src}");
    }
    let scope = browser.js("return window.__scope;", vec![]);
    assert_eq!(scope, format!("{}/", server.url).as_str());
    // The Account page offers to turn notifications on in this browser.
    browser.wait_until(
        "the Turn on button",
        "!document.querySelector('[data-push-on]').hidden \
         && document.querySelector('[data-push-unsupported]').hidden",
        Duration::from_secs(10),
    );
    assert!(browser
        .text("[data-push-on]")
        .contains("Turn on notifications on this device"));
}
