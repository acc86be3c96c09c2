//! Signed webhooks that never get lost: real receivers on 127.0.0.1, verified with the
//! Standard Webhooks library.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;
use crate::peers::{Receiver, Reply};

const FAST_RETRIES: &[&str] = &["--webhook-retry-schedule", "300ms,300ms,300ms"];

fn key_with_hook(hitl: &Hitl, name: &str, url: &str) -> (String, String) {
    let j = hitl.key_json(&["--name", name, "--webhook-url", url]);
    (
        j["key"].as_str().unwrap().to_string(),
        j["webhookSecret"].as_str().unwrap().to_string(),
    )
}

fn deliveries(server: &Server, key: &str, id: &str) -> Value {
    let r = server.get(&format!("/api/pause/{id}/deliveries"), key);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["items"].clone()
}

/// Waits until the first delivery of a pause is no longer pending.
fn settled(server: &Server, key: &str, id: &str) -> Value {
    eventually(Duration::from_secs(15), "the delivery to settle", || {
        let items = deliveries(server, key, id);
        let first = items[0].clone();
        (first["state"] != "pending").then_some(first)
    })
}

#[test]
fn decisions_are_posted_signed_with_the_seed_payload() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let (agent, secret) = key_with_hook(&hitl, "deploy-bot", &hook.url);
    let reviewer = hitl.reviewer_key("alice@example.com");
    let server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "Deploy to production (v2.4.1)", "context": { "environment": "prod", "commit": "a3f9b2e" } }));
    assert!(hook.received().is_empty(), "nothing is sent while pending");
    server.decide(&reviewer, &id, "approved", "ship it");

    let got = hook.wait_for(1, Duration::from_secs(10));
    let request = &got[0];
    request
        .verify(&secret)
        .unwrap_or_else(|e| panic!("signature does not verify: {e}"));
    assert!(
        request
            .verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .is_err(),
        "another secret must not verify"
    );
    assert_eq!(request.headers["content-type"], "application/json");
    assert!(request.headers["webhook-id"].starts_with("msg_"));
    let ts: i64 = request.headers["webhook-timestamp"].parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - ts).abs() < 30, "timestamp {ts} vs now {now}");
    let body = request.json();
    let status = server.status(&agent, &id);
    assert_eq!(body["watchId"], id.as_str());
    assert_eq!(body["status"], "approved");
    assert_eq!(body["resolvedAt"], status["resolvedAt"]);
    assert_eq!(body["resolvedBy"], "alice@example.com");
    assert_eq!(body["comment"], "ship it");
    assert_eq!(
        body["agentContext"],
        json!({ "action": "Deploy to production (v2.4.1)", "context": { "environment": "prod", "commit": "a3f9b2e" } })
    );
    let delivery = settled(&server, &agent, &id);
    assert_eq!(delivery["state"], "delivered");
    assert_eq!(
        delivery["webhookId"],
        request.headers["webhook-id"].as_str()
    );
    assert_eq!(delivery["attempts"][0]["httpStatus"], 200);
    assert!(delivery["attempts"][0]["durationMs"].is_number());

    // Every terminal status is posted: expired and cancelled too.
    let expiring = server.create(
        &agent,
        &json!({ "action": "times out", "timeoutSeconds": 1 }),
    );
    let cancelled = server.create(&agent, &json!({ "action": "withdrawn" }));
    server.post(
        &format!("/api/pause/{cancelled}/cancel"),
        &agent,
        &json!({ "reason": "not needed" }),
    );
    let got = hook.wait_for(3, Duration::from_secs(10));
    let statuses: Vec<(String, String)> = got[1..]
        .iter()
        .map(|r| {
            (
                r.json()["watchId"].as_str().unwrap().to_string(),
                r.json()["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&(expiring.clone(), "expired".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(cancelled.clone(), "cancelled".into())),
        "{statuses:?}"
    );
    for r in &got {
        r.verify(&secret).unwrap();
    }
}

#[test]
fn a_failing_receiver_gets_retries_with_one_webhook_id() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    hook.reply(&[Reply::Status(500), Reply::Status(502)]);
    let (agent, secret) = key_with_hook(&hitl, "a", &hook.url);
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(FAST_RETRIES);
    let id = server.create(&agent, &json!({ "action": "retry me" }));
    server.decide(&reviewer, &id, "rejected", "no");
    let got = hook.wait_for(3, Duration::from_secs(10));
    let ids: Vec<&String> = got.iter().map(|r| &r.headers["webhook-id"]).collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "one webhook-id for every retry: {ids:?}"
    );
    for r in &got {
        r.verify(&secret)
            .unwrap_or_else(|e| panic!("retry not signed afresh: {e}"));
        assert_eq!(r.body, got[0].body, "the same payload every time");
    }
    let delivery = settled(&server, &agent, &id);
    assert_eq!(delivery["state"], "delivered");
    let attempts = delivery["attempts"].as_array().unwrap();
    let codes: Vec<&Value> = attempts.iter().map(|a| &a["httpStatus"]).collect();
    assert_eq!(codes, [&json!(500), &json!(502), &json!(200)]);
    assert_eq!(attempts[0]["ok"], false);
    assert_eq!(attempts[2]["ok"], true);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(hook.received().len(), 3, "nothing after success");
}

#[test]
fn after_the_schedule_a_delivery_is_marked_failed() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    hook.reply(&[
        Reply::Status(500),
        Reply::Status(500),
        Reply::Status(500),
        Reply::Status(500),
        Reply::Status(500),
    ]);
    let (agent, _) = key_with_hook(&hitl, "a", &hook.url);
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&["--webhook-retry-schedule", "200ms,200ms"]);
    let id = server.create(&agent, &json!({ "action": "never received" }));
    server.decide(&reviewer, &id, "approved", "");
    let delivery = settled(&server, &agent, &id);
    assert_eq!(delivery["state"], "failed");
    assert_eq!(
        delivery["attempts"].as_array().unwrap().len(),
        3,
        "the first try and two retries"
    );
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(hook.received().len(), 3);
}

#[test]
fn gone_stops_and_retry_after_is_honoured() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let (agent, _) = key_with_hook(&hitl, "a", &hook.url);
    let reviewer = hitl.reviewer_key("r@example.com");
    // The schedule alone would wait an hour: only Retry-After explains a quick retry.
    let server = hitl.serve(&["--webhook-retry-schedule", "1h,1h"]);
    hook.reply(&[Reply::Status(410)]);
    let gone = server.create(&agent, &json!({ "action": "gone" }));
    server.decide(&reviewer, &gone, "approved", "");
    let delivery = settled(&server, &agent, &gone);
    assert_eq!(delivery["state"], "gone");
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 1);

    hook.reply(&[Reply::RetryAfter(429, "1".into())]);
    let limited = server.create(&agent, &json!({ "action": "rate limited" }));
    server.decide(&reviewer, &limited, "approved", "");
    let got = hook.wait_for(3, Duration::from_secs(10));
    let gap = got[2].at - got[1].at;
    assert!(
        gap >= Duration::from_millis(900) && gap < Duration::from_secs(5),
        "retried after {gap:?}"
    );
    assert_eq!(settled(&server, &agent, &limited)["state"], "delivered");

    hook.reply(&[Reply::RetryAfter(
        503,
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2)),
    )]);
    let unavailable = server.create(&agent, &json!({ "action": "unavailable" }));
    server.decide(&reviewer, &unavailable, "approved", "");
    let got = hook.wait_for(5, Duration::from_secs(10));
    let gap = got[4].at - got[3].at;
    assert!(
        gap >= Duration::from_millis(900) && gap < Duration::from_secs(5),
        "retried after {gap:?}"
    );
}

#[test]
fn redirects_are_not_followed() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let elsewhere = Receiver::start();
    hook.reply(&[
        Reply::Redirect(elsewhere.url.clone()),
        Reply::Redirect(elsewhere.url.clone()),
    ]);
    let (agent, _) = key_with_hook(&hitl, "a", &hook.url);
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&["--webhook-retry-schedule", "200ms"]);
    let id = server.create(&agent, &json!({ "action": "x" }));
    server.decide(&reviewer, &id, "approved", "");
    let delivery = settled(&server, &agent, &id);
    assert_eq!(delivery["state"], "failed");
    assert_eq!(delivery["attempts"][0]["httpStatus"], 302);
    assert!(delivery["attempts"][0]["error"]
        .as_str()
        .unwrap()
        .contains("redirect not followed"));
    assert!(elsewhere.received().is_empty(), "the redirect was followed");
}

#[test]
fn a_pause_url_beats_the_keys() {
    let hitl = Hitl::new();
    let key_hook = Receiver::start();
    let pause_hook = Receiver::start();
    let (agent, secret) = key_with_hook(&hitl, "a", &key_hook.url);
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let own = server.create(
        &agent,
        &json!({ "action": "own URL", "webhookUrl": pause_hook.url }),
    );
    server.decide(&reviewer, &own, "approved", "");
    let got = pause_hook.wait_for(1, Duration::from_secs(10));
    got[0].verify(&secret).unwrap();
    assert_eq!(got[0].json()["watchId"], own.as_str());
    let plain = server.create(&agent, &json!({ "action": "key URL" }));
    server.decide(&reviewer, &plain, "approved", "");
    let got = key_hook.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].json()["watchId"],
        plain.as_str(),
        "the key's URL got the pause that had its own"
    );
    assert_eq!(pause_hook.received().len(), 1);
}

#[test]
fn forbidden_addresses_are_refused_when_set_and_when_sent() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/x",
        "http://0.0.0.0:80/x",
        "http://224.0.0.1/x",
        "http://[::ffff:169.254.169.254]/",
    ] {
        let r = server.post(
            "/api/pause",
            &agent,
            &json!({ "action": "x", "webhookUrl": url }),
        );
        assert_eq!(
            (r.status, r.code()),
            (400, "validation_failed"),
            "{url}: {}",
            r.text
        );
        assert!(
            r.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("may not go there"),
            "{}",
            r.text
        );
    }
    let out = hitl.cmd(&[
        "key",
        "create",
        "--name",
        "meta",
        "--webhook-url",
        "http://169.254.169.254/",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("link-local"));
    assert_eq!(
        server.get("/api/pause", &agent).json["items"],
        json!([]),
        "a refused URL created nothing"
    );
    drop(server);

    // Loopback was allowed when the URL was set; the server now refuses private
    // addresses, so the delivery fails at send time, recorded, and nothing arrives.
    let hook = Receiver::start();
    let (hooked, _) = key_with_hook(&hitl, "local", &hook.url);
    let server = hitl.serve(&[
        "--webhook-deny-private",
        "--webhook-retry-schedule",
        "200ms",
    ]);
    let r = server.post(
        "/api/pause",
        &hooked,
        &json!({ "action": "x", "webhookUrl": "http://127.0.0.1:9/x" }),
    );
    assert_eq!(
        r.status, 400,
        "loopback is refused with --webhook-deny-private"
    );
    let id = server.create(&hooked, &json!({ "action": "to a refused address" }));
    server.decide(&reviewer, &id, "approved", "");
    let delivery = settled(&server, &hooked, &id);
    assert_eq!(delivery["state"], "failed");
    let error = delivery["attempts"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("address refused") && error.contains("loopback"),
        "{error}"
    );
    assert!(hook.received().is_empty());
    drop(server);

    // An exception lets it through.
    let server = hitl.serve(&["--webhook-deny-private", "--webhook-allow", "127.0.0.1/32"]);
    let id = server.create(&hooked, &json!({ "action": "allowed by exception" }));
    server.decide(&reviewer, &id, "approved", "");
    hook.wait_for(1, Duration::from_secs(10));
}

#[test]
fn cloud_metadata_addresses_are_refused_with_and_without_deny_private() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    let refused = |server: &Server, url: &str| {
        let r = server.post(
            "/api/pause",
            &agent,
            &json!({ "action": "x", "webhookUrl": url }),
        );
        assert_eq!(
            (r.status, r.code()),
            (400, "validation_failed"),
            "{url}: {}",
            r.text
        );
        let message = r.json["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains("may not go there"), "{url}: {message}");
        message
    };
    // Nothing here is ever connected to: the address is refused as it is set.
    let server = hitl.serve(&[]);
    for url in [
        "http://100.100.100.200/x",
        "http://192.0.0.192/x",
        "http://[::ffff:100.100.100.200]/x",
        "http://[fd00:ec2::254]/x",
    ] {
        assert!(refused(&server, url).contains("cloud metadata"), "{url}");
    }
    let out = hitl.cmd(&[
        "key",
        "create",
        "--name",
        "alibaba",
        "--webhook-url",
        "http://100.100.100.200/latest/meta-data",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cloud metadata"));
    drop(server);

    // Not even an exception for the range lets them through; the rest of the range
    // is private.
    let server = hitl.serve(&[
        "--webhook-deny-private",
        "--webhook-allow",
        "192.0.0.0/24",
        "--webhook-allow",
        "100.64.0.0/10",
    ]);
    assert!(refused(&server, "http://192.0.0.192/").contains("cloud metadata"));
    assert!(refused(&server, "http://100.100.100.200/").contains("cloud metadata"));
    for url in [
        "http://198.51.100.7/x",
        "http://[2001:db8::1]/x",
        "http://240.0.0.1/x",
    ] {
        assert!(refused(&server, url).contains("deny-private"), "{url}");
    }
    assert_eq!(
        server.get("/api/pause", &agent).json["items"],
        json!([]),
        "a refused URL created nothing"
    );
}

#[test]
fn a_receiver_down_through_kill_9_gets_the_webhook_once_after_restart() {
    let hitl = Hitl::new();
    let port = crate::peers::free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let (agent, secret) = key_with_hook(&hitl, "a", &url);
    let reviewer = hitl.reviewer_key("r@example.com");
    let mut server = hitl.serve(&[
        "--webhook-retry-schedule",
        "500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms",
    ]);
    let id = server.create(&agent, &json!({ "action": "survive a crash" }));
    server.decide(&reviewer, &id, "approved", "");
    // The receiver is down: the first attempts fail (connection refused).
    eventually(Duration::from_secs(10), "a failed attempt", || {
        let items = deliveries(&server, &agent, &id);
        (items[0]["attempts"]
            .as_array()
            .is_some_and(|a| !a.is_empty()))
        .then_some(())
    });
    server.kill9();
    let hook = Receiver::start_on(port);
    server.restart();
    let got = hook.wait_for(1, Duration::from_secs(15));
    got[0].verify(&secret).unwrap();
    assert_eq!(got[0].json()["watchId"], id.as_str());
    assert_eq!(settled(&server, &agent, &id)["state"], "delivered");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(hook.received().len(), 1, "delivered more than once");
}

#[test]
fn stopping_lets_an_attempt_in_flight_finish() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    hook.reply(&[Reply::Slow(Duration::from_secs(2))]);
    let (agent, _) = key_with_hook(&hitl, "a", &hook.url);
    let reviewer = hitl.reviewer_key("r@example.com");
    let mut server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "slow receiver" }));
    server.decide(&reviewer, &id, "approved", "");
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let status = server.signal_and_wait("TERM");
    assert!(status.success());
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "the server did not wait for the attempt"
    );
    assert_eq!(hook.received().len(), 1);
    // The attempt was recorded: a restart does not send it again.
    server.restart();
    assert_eq!(settled(&server, &agent, &id)["state"], "delivered");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(hook.received().len(), 1);
}

/// SIGTERM ends the server within 10 s even when a receiver hangs: the attempt in
/// flight is left to the outbox and sent again after the restart.
#[test]
fn stopping_does_not_wait_for_a_hanging_receiver() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    // Longer than the 5 s shutdown grants deliveries (the attempt times out after 10 s).
    hook.reply(&[Reply::Slow(Duration::from_secs(11)), Reply::Status(200)]);
    let (agent, _) = key_with_hook(&hitl, "a", &hook.url);
    let reviewer = hitl.reviewer_key("r@example.com");
    let mut server = hitl.serve(&["--webhook-retry-schedule", "1s"]);
    let id = server.create(&agent, &json!({ "action": "hanging receiver" }));
    server.decide(&reviewer, &id, "approved", "");
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let status = server.signal_and_wait("TERM");
    let took = started.elapsed();
    assert!(status.success(), "{status:?}\n{}", server.log());
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        server.log().contains("left to the next start"),
        "{}",
        server.log()
    );
    server.restart();
    assert_eq!(settled(&server, &agent, &id)["state"], "delivered");
    assert!(
        server.log().contains("took over deliveries"),
        "{}",
        server.log()
    );
    assert_eq!(hook.received().len(), 2, "sent again after the restart");
}

#[test]
fn deliveries_are_listed_and_sent_again_by_hand() {
    let hitl = Hitl::new();
    let hook = Receiver::start();
    let (agent, secret) = key_with_hook(&hitl, "a", &hook.url);
    let other = hitl.agent_key("other");
    let reviewer = hitl.reviewer_key("r@example.com");
    let server = hitl.serve(&[]);
    let id = server.create(&agent, &json!({ "action": "x" }));
    server.decide(&reviewer, &id, "approved", "");
    let first = settled(&server, &agent, &id);
    let delivery_id = first["id"].as_i64().unwrap();

    let r = server.get(&format!("/api/pause/{id}/deliveries"), &other);
    assert_eq!(r.status, 404, "another agent's deliveries");
    let path = format!("/api/pause/{id}/deliveries/{delivery_id}/retry");
    let r = server.post(&path, &agent, &json!({}));
    assert_eq!(
        (r.status, r.code()),
        (403, "forbidden"),
        "agents cannot resend"
    );
    let r = server.post(
        &format!("/api/pause/{id}/deliveries/99999/retry"),
        &reviewer,
        &json!({}),
    );
    assert_eq!(r.status, 404);
    let r = server.post(&path, &reviewer, &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let got = hook.wait_for(2, Duration::from_secs(10));
    assert_eq!(got[1].headers["webhook-id"], got[0].headers["webhook-id"]);
    got[1].verify(&secret).unwrap();
    eventually(Duration::from_secs(10), "two recorded attempts", || {
        let d = &deliveries(&server, &reviewer, &id)[0];
        (d["attempts"].as_array().unwrap().len() == 2 && d["state"] == "delivered").then_some(())
    });
    let audited: i64 = hitl
        .db()
        .query_row(
            "SELECT count(*) FROM audit WHERE event = 'delivery.retried'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 1);
}
