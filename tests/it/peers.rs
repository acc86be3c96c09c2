//! Real peers on 127.0.0.1: an HTTP receiver for webhooks and Slack messages
//! (tiny_http), and an SMTP server (Python's aiosmtpd, tests/fixtures/smtp_server.py).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// What the receiver answers to the next request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// 3xx with a Location.
    Redirect(String),
    /// The status with a `Retry-After` header.
    RetryAfter(u16, String),
    /// Wait, then 200.
    Slow(Duration),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// Verifies the Standard Webhooks signature with the key's secret.
    pub fn verify(&self, secret: &str) -> Result<(), String> {
        let mut headers = ureq::http::HeaderMap::new();
        for (k, v) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                ureq::http::HeaderName::from_bytes(k.as_bytes()),
                ureq::http::HeaderValue::from_str(v),
            ) {
                headers.insert(name, value);
            }
        }
        standardwebhooks::Webhook::new(secret)
            .map_err(|e| e.to_string())?
            .verify(self.body.as_bytes(), &headers)
            .map_err(|e| e.to_string())
    }
}

pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<thread::JoinHandle<()>>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Receiver {
    pub fn start() -> Receiver {
        Self::start_on(free_port())
    }

    /// A receiver on a given port (to come back after being down).
    pub fn start_on(port: u16) -> Receiver {
        let server = Arc::new(tiny_http::Server::http(("127.0.0.1", port)).expect("receiver port"));
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let replies: Arc<Mutex<VecDeque<Reply>>> = Arc::default();
        let (s, r, q) = (
            Arc::clone(&server),
            Arc::clone(&received),
            Arc::clone(&replies),
        );
        let thread = thread::spawn(move || {
            for mut request in s.incoming_requests() {
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
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
                let reply = q.lock().unwrap().pop_front().unwrap_or(Reply::Status(200));
                if let Reply::Slow(wait) = reply {
                    thread::sleep(wait);
                }
                r.lock().unwrap().push(Received {
                    headers,
                    body,
                    at: Instant::now(),
                });
                let response = match reply {
                    Reply::Status(code) => {
                        tiny_http::Response::from_string("ok").with_status_code(code)
                    }
                    Reply::Slow(_) => tiny_http::Response::from_string("ok"),
                    Reply::Redirect(to) => tiny_http::Response::from_string("moved")
                        .with_status_code(302)
                        .with_header(
                            tiny_http::Header::from_bytes("Location", to.as_bytes()).unwrap(),
                        ),
                    Reply::RetryAfter(code, after) => tiny_http::Response::from_string("later")
                        .with_status_code(code)
                        .with_header(
                            tiny_http::Header::from_bytes("Retry-After", after.as_bytes()).unwrap(),
                        ),
                };
                let _ = request.respond(response);
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            received,
            replies,
            server,
            thread: Some(thread),
        }
    }

    pub fn reply(&self, replies: &[Reply]) {
        self.replies.lock().unwrap().extend(replies.iter().cloned());
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < timeout,
                "receiver got {} of {n} requests in {timeout:?}",
                got.len()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// aiosmtpd on a free port, writing each message it accepts as JSON.
pub struct SmtpServer {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    pub fn start(credentials: Option<(&str, &str)>) -> SmtpServer {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp_server.py");
        let mut command = Command::new("python3");
        command.arg(&script).arg(port.to_string()).arg(dir.path());
        if let Some((user, password)) = credentials {
            command.args([user, password]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 for the SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "the SMTP test server did not start: install it with `pip install aiosmtpd`"
        );
        SmtpServer { port, child, dir }
    }

    /// The messages received so far, in order.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<(u32, PathBuf)> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|p| Some((p.file_stem()?.to_str()?.parse().ok()?, p)))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, p)| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < timeout,
                "SMTP server got {} of {n} messages",
                got.len()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
