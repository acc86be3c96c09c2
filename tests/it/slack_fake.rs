//! A fake of Slack's Web API on 127.0.0.1 (tiny_http): it records every call (HTTP
//! method, API method, query, headers, JSON body) and answers as Slack does: `ok`,
//! the channel and a `ts` for a posted message (a direct message to `U…` lands in a
//! `D…` channel), a user's profile email, a user found by email, or `ok: false` with
//! Slack's error code. Also signs interactions exactly as Slack does.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ring::hmac;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Call {
    pub http_method: String,
    /// The Web API method, e.g. `chat.postMessage`.
    pub method: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    calls: Vec<Call>,
    /// Slack user id → profile email.
    emails: HashMap<String, String>,
    /// Answers given instead of the usual one, per API method, in order.
    forced: HashMap<String, VecDeque<Value>>,
    next_ts: u64,
}

pub struct SlackFake {
    /// The `--slack-api-url`.
    pub api: String,
    shared: Arc<Mutex<Shared>>,
    server: Arc<tiny_http::Server>,
    thread: Option<thread::JoinHandle<()>>,
}

impl SlackFake {
    pub fn start() -> SlackFake {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("fake Slack port"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let shared: Arc<Mutex<Shared>> = Arc::default();
        let (s, state) = (Arc::clone(&server), Arc::clone(&shared));
        let thread = thread::spawn(move || {
            for mut request in s.incoming_requests() {
                let mut text = String::new();
                let _ = request.as_reader().read_to_string(&mut text);
                let url = url::Url::parse(&format!("http://fake{}", request.url())).unwrap();
                let call = Call {
                    http_method: request.method().as_str().to_string(),
                    method: url.path().trim_start_matches("/api/").to_string(),
                    query: url.query_pairs().into_owned().collect(),
                    headers: request
                        .headers()
                        .iter()
                        .map(|h| {
                            (
                                h.field.as_str().as_str().to_ascii_lowercase(),
                                h.value.as_str().to_string(),
                            )
                        })
                        .collect(),
                    body: serde_json::from_str(&text).unwrap_or(Value::Null),
                };
                let answer = {
                    let mut shared = state.lock().unwrap();
                    let answer = answer(&mut shared, &call);
                    shared.calls.push(call);
                    answer
                };
                let response = tiny_http::Response::from_string(answer.to_string()).with_header(
                    tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap(),
                );
                let _ = request.respond(response);
            }
        });
        SlackFake {
            api: format!("http://127.0.0.1:{port}/api"),
            shared,
            server,
            thread: Some(thread),
        }
    }

    /// A Slack user and their profile email.
    pub fn user(&self, id: &str, email: &str) {
        let mut shared = self.shared.lock().unwrap();
        shared.emails.insert(id.to_string(), email.to_string());
    }

    /// The next answer to `method`, instead of the usual one.
    pub fn answer(&self, method: &str, answer: Value) {
        let mut shared = self.shared.lock().unwrap();
        shared
            .forced
            .entry(method.to_string())
            .or_default()
            .push_back(answer);
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        let shared = self.shared.lock().unwrap();
        shared
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Waits until a call to `method` matches `pred`.
    pub fn wait_for(&self, method: &str, what: &str, pred: impl Fn(&Call) -> bool) -> Call {
        let start = Instant::now();
        loop {
            if let Some(call) = self.calls(method).into_iter().find(|c| pred(c)) {
                return call;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "no {method} call {what}; calls: {:#?}",
                self.shared.lock().unwrap().calls
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SlackFake {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(shared: &mut Shared, call: &Call) -> Value {
    if let Some(forced) = shared
        .forced
        .get_mut(&call.method)
        .and_then(VecDeque::pop_front)
    {
        return forced;
    }
    let body = &call.body;
    match call.method.as_str() {
        "chat.postMessage" => {
            shared.next_ts += 1;
            let to = body["channel"].as_str().unwrap_or_default();
            let channel = match to.strip_prefix('U') {
                Some(user) => format!("D{user}"),
                None => to.to_string(),
            };
            let ts = format!("1700000000.{:06}", shared.next_ts);
            json!({ "ok": true, "channel": channel, "ts": ts, "message": { "text": body["text"] } })
        }
        "chat.update" => json!({ "ok": true, "channel": body["channel"], "ts": body["ts"] }),
        "chat.postEphemeral" => json!({ "ok": true, "message_ts": "1700000001.000001" }),
        "views.open" => json!({ "ok": true, "view": { "id": "V123" } }),
        "users.info" => {
            let id = call.query.get("user").cloned().unwrap_or_default();
            match shared.emails.get(&id) {
                Some(email) => json!({ "ok": true, "user": {
                    "id": id, "name": "someone", "deleted": false, "is_bot": false,
                    "is_email_confirmed": true,
                    "profile": { "email": email, "real_name": "Someone" } } }),
                None => json!({ "ok": false, "error": "user_not_found" }),
            }
        }
        "users.lookupByEmail" => {
            let email = call.query.get("email").cloned().unwrap_or_default();
            match shared.emails.iter().find(|(_, e)| **e == email) {
                Some((id, _)) => {
                    json!({ "ok": true, "user": { "id": id, "profile": { "email": email } } })
                }
                None => json!({ "ok": false, "error": "users_not_found" }),
            }
        }
        _ => json!({ "ok": false, "error": "unknown_method" }),
    }
}

/// `v0=` + hex HMAC-SHA256(secret, `v0:{timestamp}:{body}`), as Slack signs.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("v0:{timestamp}:{body}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("v0={hex}")
}

/// The form body Slack posts for an interaction: `payload=<json>`.
pub fn form(payload: &Value) -> String {
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
