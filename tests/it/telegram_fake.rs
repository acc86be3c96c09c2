//! A fake Telegram Bot API on 127.0.0.1, speaking its wire format: `POST
//! /bot<token>/<method>` with JSON, answers `{"ok":true,"result":…}` or
//! `{"ok":false,"error_code":…,"description":…}`. It knows getMe, getUpdates (a long
//! poll: queued updates are handed out until an offset past them confirms them),
//! sendMessage (numbered message ids), editMessageText and answerCallbackQuery, and
//! records every request.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const TOKEN: &str = "123:ABC";
pub const BOT: &str = "hitl_test_bot";

/// One request hitl made.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
    pub at: Instant,
}

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    /// Updates not yet confirmed by an offset past them.
    updates: Vec<Value>,
    next_update: i64,
    next_message: i64,
    /// Refusals to give instead of answering: (method, status, description, retry_after).
    refusals: VecDeque<(String, u16, String, Option<u64>)>,
    stopped: bool,
}

pub struct FakeTelegram {
    /// The value for `--telegram-api-url`.
    pub url: String,
    shared: Arc<(Mutex<State>, Condvar)>,
    server: Arc<tiny_http::Server>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeTelegram {
    pub fn start() -> FakeTelegram {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("fake Telegram port"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let shared: Arc<(Mutex<State>, Condvar)> = Arc::new((
            Mutex::new(State {
                next_update: 1000,
                next_message: 1,
                ..State::default()
            }),
            Condvar::new(),
        ));
        let (s, st) = (Arc::clone(&server), Arc::clone(&shared));
        let thread = thread::spawn(move || {
            for request in s.incoming_requests() {
                let st = Arc::clone(&st);
                thread::spawn(move || answer(request, &st));
            }
        });
        FakeTelegram {
            url: format!("http://127.0.0.1:{port}"),
            shared,
            server,
            thread: Some(thread),
        }
    }

    /// Queues an update (its `update_id` is set here) for the next getUpdates.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let (lock, wake) = &*self.shared;
        let mut state = lock.lock().unwrap();
        let id = state.next_update;
        state.next_update += 1;
        update["update_id"] = json!(id);
        state.updates.push(update);
        wake.notify_all();
        id
    }

    /// The next call of `method` is refused with this status.
    pub fn refuse_next(
        &self,
        method: &str,
        status: u16,
        description: &str,
        retry_after: Option<u64>,
    ) {
        let (lock, _) = &*self.shared;
        lock.lock().unwrap().refusals.push_back((
            method.to_string(),
            status,
            description.to_string(),
            retry_after,
        ));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.0.lock().unwrap().calls.clone()
    }

    /// The bodies of the calls of `method`, oldest first.
    pub fn bodies(&self, method: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .map(|c| c.body)
            .collect()
    }

    /// Waits for a call of `method` whose body `matches`, and returns its body.
    pub fn wait_for(&self, method: &str, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            if let Some(found) = self.bodies(method).into_iter().find(|b| matches(b)) {
                return found;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no {method} with {what}; calls: {:#?}",
                self.calls()
                    .iter()
                    .filter(|c| c.method != "getUpdates")
                    .map(|c| (&c.method, &c.body))
                    .collect::<Vec<_>>()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        {
            let (lock, wake) = &*self.shared;
            lock.lock().unwrap().stopped = true;
            wake.notify_all();
        }
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn ok(result: Value) -> (u16, Value) {
    (200, json!({ "ok": true, "result": result }))
}

fn refused(status: u16, description: &str, retry_after: Option<u64>) -> (u16, Value) {
    let mut body = json!({ "ok": false, "error_code": status, "description": description });
    if let Some(after) = retry_after {
        body["parameters"] = json!({ "retry_after": after });
    }
    (status, body)
}

fn answer(mut request: tiny_http::Request, shared: &Arc<(Mutex<State>, Condvar)>) {
    let mut text = String::new();
    let _ = request.as_reader().read_to_string(&mut text);
    let path = request.url().to_string();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let (status, reply) = match path.strip_prefix(&format!("/bot{TOKEN}/")) {
        None => refused(401, "Unauthorized", None),
        Some(method) => {
            let json_body = request.headers().iter().any(|h| {
                h.field.equiv("Content-Type") && h.value.as_str().starts_with("application/json")
            });
            if *request.method() != tiny_http::Method::Post || !json_body || body.is_null() {
                refused(400, "Bad Request: hitl must POST JSON", None)
            } else {
                respond(method, &body, shared)
            }
        }
    };
    let response = tiny_http::Response::from_string(reply.to_string())
        .with_status_code(status)
        .with_header(tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap());
    let _ = request.respond(response);
}

fn respond(method: &str, body: &Value, shared: &Arc<(Mutex<State>, Condvar)>) -> (u16, Value) {
    let (lock, wake) = &**shared;
    let mut state = lock.lock().unwrap();
    state.calls.push(Call {
        method: method.to_string(),
        body: body.clone(),
        at: Instant::now(),
    });
    if let Some(at) = state.refusals.iter().position(|r| r.0 == method) {
        let (_, status, description, after) = state.refusals.remove(at).unwrap();
        return refused(status, &description, after);
    }
    match method {
        "getMe" => ok(json!({ "id": 123, "is_bot": true, "first_name": "hitl", "username": BOT })),
        "getUpdates" => {
            let offset = body["offset"].as_i64().unwrap_or(0);
            let timeout = body["timeout"].as_u64().unwrap_or(0).min(50);
            // An offset confirms every update before it (Telegram forgets them).
            state
                .updates
                .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            let until = Instant::now() + Duration::from_secs(timeout);
            while state.updates.is_empty() && !state.stopped && Instant::now() < until {
                let left = until.saturating_duration_since(Instant::now());
                state = wake.wait_timeout(state, left).unwrap().0;
                state
                    .updates
                    .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            }
            ok(Value::Array(state.updates.clone()))
        }
        "sendMessage" => {
            if body["chat_id"].as_i64().is_none() || body["text"].as_str().is_none() {
                return refused(400, "Bad Request: chat_id and text are required", None);
            }
            let id = state.next_message;
            state.next_message += 1;
            ok(json!({
                "message_id": id,
                "chat": { "id": body["chat_id"], "type": "private" },
                "date": 0,
                "text": body["text"],
            }))
        }
        "editMessageText" => {
            if body["message_id"].as_i64().is_none() || body["text"].as_str().is_none() {
                return refused(400, "Bad Request: message_id and text are required", None);
            }
            ok(json!({ "message_id": body["message_id"], "text": body["text"] }))
        }
        "answerCallbackQuery" => {
            if body["callback_query_id"].as_str().is_none() {
                return refused(400, "Bad Request: callback_query_id is required", None);
            }
            ok(json!(true))
        }
        _ => refused(404, "Not Found", None),
    }
}
