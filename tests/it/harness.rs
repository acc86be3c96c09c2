//! Starts the real `hitl` binary on a free port with a temporary data directory and
//! speaks HTTP to it. Nothing leaves 127.0.0.1.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_hitl");
pub const PASSWORD: &str = "correct horse battery staple";

/// A data directory and the CLI that works on it.
pub struct Hitl {
    pub dir: TempDir,
}

impl Hitl {
    pub fn new() -> Hitl {
        Hitl {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db_path(&self) -> PathBuf {
        self.path().join("hitl.db")
    }

    /// Runs `hitl --data-dir DIR ARGS...` and waits for it.
    pub fn cmd(&self, args: &[&str]) -> Output {
        self.cmd_stdin(args, "")
    }

    pub fn cmd_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(self.path())
            .args(args)
            .env_remove("HITL_URL")
            .env_remove("HITL_API_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hitl");
        if let Some(mut input) = child.stdin.take() {
            let _ = input.write_all(stdin.as_bytes());
        }
        child.wait_with_output().expect("hitl output")
    }

    /// Runs a command that must succeed and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "hitl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn agent_key(&self, name: &str) -> String {
        self.key_json(&["--name", name])["key"]
            .as_str()
            .expect("key")
            .to_string()
    }

    pub fn key_json(&self, extra: &[&str]) -> Value {
        let mut args = vec!["key", "create", "--json"];
        args.extend_from_slice(extra);
        serde_json::from_str(&self.ok(&args)).expect("key json")
    }

    pub fn add_user(&self, email: &str, role: &str) {
        let out = self.cmd_stdin(
            &["user", "add", email, "--role", role, "--password-stdin"],
            &format!("{PASSWORD}\n"),
        );
        assert!(
            out.status.success(),
            "user add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Adds a user (approver) and returns a reviewer key acting for them.
    pub fn reviewer_key(&self, email: &str) -> String {
        self.add_user(email, "approver");
        self.key_json(&["--name", &format!("review-{email}"), "--user", email])["key"]
            .as_str()
            .expect("key")
            .to_string()
    }

    pub fn serve(&self, extra: &[&str]) -> Server {
        Server::start(self.path(), extra)
    }

    /// A read-only look at the database, for what the API does not show.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open db")
    }

    pub fn audit_events(&self, watch_id: &str) -> Vec<(String, String)> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT event, actor FROM audit WHERE watch_id = ?1 ORDER BY id")
            .expect("prepare");
        stmt.query_map([watch_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }
}

/// A running `hitl serve`; killed when dropped.
pub struct Server {
    pub url: String,
    child: Child,
    log: Arc<Mutex<String>>,
    dir: PathBuf,
    extra: Vec<String>,
}

impl Server {
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        Self::try_start(dir, extra).unwrap_or_else(|log| panic!("hitl serve did not start:\n{log}"))
    }

    /// Starts the server; `Err` carries its output if it exits or never listens.
    pub fn try_start(dir: &Path, extra: &[&str]) -> Result<Server, String> {
        let listen: &[&str] = if extra.contains(&"--listen") {
            &[]
        } else {
            &["--listen", "127.0.0.1:0"]
        };
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(dir)
            .arg("--log")
            .arg("info")
            .arg("serve")
            .args(listen)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hitl serve");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let _ = tx.send(url);
                }
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => Ok(Server {
                url,
                child,
                log,
                dir: dir.to_path_buf(),
                extra: extra.iter().map(|s| s.to_string()).collect(),
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                thread::sleep(Duration::from_millis(100));
                let text = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
                Err(text)
            }
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The server's process id, for reading /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal by name (e.g. "TERM") and waits for the exit.
    pub fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        // stderr is read by another thread: give it a moment to see the end.
        std::thread::sleep(Duration::from_millis(300));
        let log = self.log();
        assert!(!log.contains("panicked"), "the server panicked:\n{log}");
        exit
    }

    /// Starts a new server process on the same data directory.
    pub fn restart(&mut self) {
        self.kill9();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let fresh = Server::start(&self.dir, &extra);
        let old = std::mem::replace(self, fresh);
        drop(old);
    }

    pub fn get(&self, path: &str, key: &str) -> Resp {
        request("GET", &format!("{}{path}", self.url), Some(key), None, &[])
    }

    pub fn post(&self, path: &str, key: &str, body: &Value) -> Resp {
        request(
            "POST",
            &format!("{}{path}", self.url),
            Some(key),
            Some(&body.to_string()),
            &[],
        )
    }

    /// Creates a pause and returns its watchId.
    pub fn create(&self, key: &str, body: &Value) -> String {
        let r = self.post("/api/pause", key, body);
        assert_eq!(r.status, 201, "create failed: {}", r.text);
        r.json["watchId"].as_str().expect("watchId").to_string()
    }

    pub fn decide(&self, key: &str, watch_id: &str, decision: &str, comment: &str) -> Resp {
        self.post(
            &format!("/api/pause/{watch_id}/approve"),
            key,
            &serde_json::json!({ "decision": decision, "comment": comment }),
        )
    }

    pub fn status(&self, key: &str, watch_id: &str) -> Value {
        let r = self.get(&format!("/api/pause/{watch_id}"), key);
        assert_eq!(r.status, 200, "status failed: {}", r.text);
        r.json
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response as the tests look at it.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub text: String,
    pub json: Value,
    pub headers: HashMap<String, String>,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(90)))
        .build()
        .into()
}

/// A request with exactly these headers (no key, no content type added).
pub fn request_raw(method: &str, url: &str, body: &str, headers: &[(&str, &str)]) -> Resp {
    let agent = agent();
    let result = if method == "GET" {
        let mut req = agent.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.call()
    } else {
        let mut req = agent.post(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send(body)
    };
    read_response(method, url, result)
}

fn read_response(
    method: &str,
    url: &str,
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Resp {
    let mut response = result.unwrap_or_else(|e| panic!("{method} {url} failed: {e}"));
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let text = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        text,
        json,
        headers,
    }
}

pub fn request(
    method: &str,
    url: &str,
    key: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Resp {
    let agent = agent();
    let result = match method {
        "GET" | "DELETE" => {
            let mut req = if method == "GET" {
                agent.get(url)
            } else {
                agent.delete(url)
            };
            if let Some(key) = key {
                req = req.header("Authorization", &format!("Bearer {key}"));
            }
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.call()
        }
        _ => {
            let mut req = match method {
                "POST" => agent.post(url),
                "PUT" => agent.put(url),
                _ => agent.patch(url),
            };
            if let Some(key) = key {
                req = req.header("Authorization", &format!("Bearer {key}"));
            }
            req = req.header("Content-Type", "application/json");
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.send(body.unwrap_or(""))
        }
    };
    read_response(method, url, result)
}

/// Polls `f` until it returns `Some`, or panics after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}
