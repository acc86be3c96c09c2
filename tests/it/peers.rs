//! Real peers on 127.0.0.1: an HTTP receiver for webhooks and Slack messages
//! (tiny_http), an SMTP server (mailin, in this process), and an attacker's site.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
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
    pub method: String,
    /// The path and query the request was sent to.
    pub path: String,
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
    /// A receiver on a port the system picks while binding it: a port picked first and
    /// bound later may be taken in between by another test.
    pub fn start() -> Receiver {
        Self::start_on(0)
    }

    /// A receiver on a given port (to come back after being down), or 0 for any.
    pub fn start_on(port: u16) -> Receiver {
        let server = Arc::new(tiny_http::Server::http(("127.0.0.1", port)).expect("receiver port"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
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
                    method: request.method().as_str().to_string(),
                    path: request.url().to_string(),
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

/// A real SMTP server on a free port of 127.0.0.1, in this process: mailin speaks
/// the protocol (with AUTH PLAIN and LOGIN over plain SMTP when given credentials, and
/// then required), mail-parser decodes what it accepts. Each message is kept as JSON:
/// envelope `from` and `to`, `subject`, the decoded `text` and `html` parts, and
/// whether it is `multipart`.
pub struct SmtpServer {
    pub port: u16,
    messages: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl SmtpServer {
    pub fn start(credentials: Option<(&str, &str)>) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("SMTP port");
        let port = listener.local_addr().unwrap().port();
        let mut builder = mailin::SessionBuilder::new("hitl-test-smtp");
        if credentials.is_some() {
            builder
                .enable_auth(mailin::AuthMechanism::Plain)
                .enable_auth(mailin::AuthMechanism::Login)
                .insecure_enable_plaintext_auth();
        }
        let sink = MailSink {
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
            messages: Arc::default(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let messages = Arc::clone(&sink.messages);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (builder, sink) = (builder.clone(), sink.clone());
                thread::spawn(move || {
                    if let Err(e) = smtp_session(stream, &builder, sink) {
                        eprintln!("test SMTP server: {e}");
                    }
                });
            }
        });
        SmtpServer {
            port,
            messages,
            stop,
            thread: Some(thread),
        }
    }

    /// The messages received so far, in order.
    pub fn messages(&self) -> Vec<Value> {
        self.messages.lock().unwrap().clone()
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
        // Wake the accept loop so that it sees the flag and ends.
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One SMTP connection: lines in, mailin's replies out.
fn smtp_session(
    stream: TcpStream,
    builder: &mailin::SessionBuilder,
    sink: MailSink,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let ip = stream.peer_addr()?.ip();
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut session = builder.build(ip, sink);
    session.greeting().write_to(&mut writer)?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let response = session.process(&line);
        match response.action {
            mailin::Action::Reply => response.write_to(&mut writer)?,
            mailin::Action::NoReply => {}
            // Close, or a STARTTLS this server never offers.
            mailin::Action::Close | mailin::Action::UpgradeTls => {
                response.write_to(&mut writer)?;
                return Ok(());
            }
        }
        writer.flush()?;
    }
}

/// Checks the credentials and keeps each message as JSON.
#[derive(Clone)]
struct MailSink {
    credentials: Option<(String, String)>,
    messages: Arc<Mutex<Vec<Value>>>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl MailSink {
    fn check(&self, user: &str, password: &str) -> mailin::Response {
        match &self.credentials {
            Some((u, p)) if u == user && p == password => mailin::response::AUTH_OK,
            _ => mailin::response::INVALID_CREDENTIALS,
        }
    }
}

impl mailin::Handler for MailSink {
    fn data_start(&mut self, _: &str, from: &str, _: bool, to: &[String]) -> mailin::Response {
        self.from = from.to_string();
        self.to = to.to_vec();
        self.data.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin::Response {
        let Some(message) = mail_parser::MessageParser::default().parse(&self.data) else {
            return mailin::response::TRANSACTION_FAILED;
        };
        let (mut text, mut html) = (String::new(), String::new());
        for part in &message.parts {
            match &part.body {
                mail_parser::PartType::Text(t) => text.push_str(t),
                mail_parser::PartType::Html(h) => html.push_str(h),
                _ => {}
            }
        }
        let record = serde_json::json!({
            "from": self.from,
            "to": self.to,
            "subject": message.subject().unwrap_or_default(),
            "text": text,
            "html": html,
            "multipart": matches!(message.root_part().body, mail_parser::PartType::Multipart(_)),
        });
        self.messages.lock().unwrap().push(record);
        mailin::response::OK
    }

    fn auth_plain(&mut self, _: &str, user: &str, password: &str) -> mailin::Response {
        self.check(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> mailin::Response {
        self.check(user, password)
    }
}

/// The attacker's site: one HTML page, whatever the path, on its own port of 127.0.0.1.
pub struct AttackerSite {
    pub port: u16,
    server: Arc<tiny_http::Server>,
    thread: Option<thread::JoinHandle<()>>,
}

impl AttackerSite {
    pub fn serve(page: String) -> AttackerSite {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let s = Arc::clone(&server);
        let thread = thread::spawn(move || {
            for request in s.incoming_requests() {
                let html =
                    tiny_http::Header::from_bytes("Content-Type", "text/html; charset=utf-8")
                        .unwrap();
                let _ = request.respond(tiny_http::Response::from_string(&page).with_header(html));
            }
        });
        AttackerSite {
            port,
            server,
            thread: Some(thread),
        }
    }
}

impl Drop for AttackerSite {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
