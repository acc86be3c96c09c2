//! A local push service on 127.0.0.1 for the Web Push tests: it takes what hitl posts
//! (the encrypted body as bytes, and the headers) and answers as told (201 by
//! default, like real push services). The browser's side of the message (keys,
//! decryption, the VAPID check) is `push_browser.py`, independent of hitl's code.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Pushed {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// The statuses to answer with next, each with a `Retry-After` or not.
type Replies = Arc<Mutex<VecDeque<(u16, Option<String>)>>>;

pub struct PushService {
    /// The origin, e.g. `http://127.0.0.1:4711`.
    pub origin: String,
    received: Arc<Mutex<Vec<Pushed>>>,
    replies: Replies,
    server: Arc<tiny_http::Server>,
    thread: Option<thread::JoinHandle<()>>,
}

impl PushService {
    pub fn start() -> PushService {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("push port"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let received: Arc<Mutex<Vec<Pushed>>> = Arc::default();
        let replies: Replies = Arc::default();
        let (s, r, q) = (
            Arc::clone(&server),
            Arc::clone(&received),
            Arc::clone(&replies),
        );
        let thread = thread::spawn(move || {
            for mut request in s.incoming_requests() {
                let mut body = Vec::new();
                let _ = request.as_reader().read_to_end(&mut body);
                let headers = request
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            h.field.as_str().as_str().to_ascii_lowercase(),
                            h.value.as_str().to_string(),
                        )
                    })
                    .collect();
                r.lock().unwrap().push(Pushed {
                    path: request.url().to_string(),
                    headers,
                    body,
                });
                let (status, retry_after) = q.lock().unwrap().pop_front().unwrap_or((201, None));
                let mut response = tiny_http::Response::from_string("").with_status_code(status);
                if let Some(after) = retry_after {
                    response = response.with_header(
                        tiny_http::Header::from_bytes("Retry-After", after.as_bytes()).unwrap(),
                    );
                }
                let _ = request.respond(response);
            }
        });
        PushService {
            origin: format!("http://127.0.0.1:{port}"),
            received,
            replies,
            server,
            thread: Some(thread),
        }
    }

    /// A browser's endpoint at this service.
    pub fn endpoint(&self, name: &str) -> String {
        format!("{}/push/{name}", self.origin)
    }

    /// The statuses (with a Retry-After) of the next answers.
    pub fn reply(&self, replies: &[(u16, Option<&str>)]) {
        self.replies
            .lock()
            .unwrap()
            .extend(replies.iter().map(|(s, a)| (*s, a.map(str::to_string))));
    }

    pub fn received(&self) -> Vec<Pushed> {
        self.received.lock().unwrap().clone()
    }

    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Pushed> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < timeout,
                "the push service got {} of {n} messages",
                got.len()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PushService {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `push_browser.py COMMAND` with `input`; its JSON answer.
pub fn browser_side(command: &str, input: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/push_browser.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "push_browser.py {command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A browser's subscription keys: `private` (to decrypt), `p256dh` and `auth`.
pub struct BrowserKeys {
    pub private: String,
    pub p256dh: String,
    pub auth: String,
}

impl BrowserKeys {
    pub fn new() -> BrowserKeys {
        let k = browser_side("keys", &Value::Null);
        BrowserKeys {
            private: k["private"].as_str().unwrap().to_string(),
            p256dh: k["p256dh"].as_str().unwrap().to_string(),
            auth: k["auth"].as_str().unwrap().to_string(),
        }
    }

    /// `PushSubscription.toJSON()` for `endpoint`.
    pub fn subscription(&self, endpoint: &str) -> Value {
        serde_json::json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": { "p256dh": self.p256dh, "auth": self.auth },
        })
    }

    /// Decrypts a pushed body (as the browser would) and parses its JSON.
    pub fn decrypt(&self, body: &[u8]) -> Value {
        use base64::Engine as _;
        let out = browser_side(
            "decrypt",
            &serde_json::json!({
                "private": self.private,
                "auth": self.auth,
                "body": base64::engine::general_purpose::STANDARD.encode(body),
            }),
        );
        serde_json::from_str(out["plaintext"].as_str().unwrap()).unwrap()
    }
}
