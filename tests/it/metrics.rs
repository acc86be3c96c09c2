//! `GET /metrics`, read by the Prometheus project's own Python parsers
//! (`prometheus_client`: the OpenMetrics one and the classic text one), after doing
//! known things to a real server; `--metrics-token`; and `--log-format json`.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;
use crate::peers::{Receiver, Reply};

/// Prometheus asks for OpenMetrics first, as this does.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// Parses with `prometheus_client`'s parser for the format: every sample as
/// `{family, type, name, labels, value}`. Fails loudly when the parser is missing or
/// refuses the text.
const PARSE: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as classic
parse = openmetrics if sys.argv[1] == "openmetrics" else classic
samples = []
for family in parse(sys.stdin.read()):
    for s in family.samples:
        samples.append({"family": family.name, "type": family.type, "name": s.name,
                        "labels": s.labels, "value": s.value})
print(json.dumps(samples))
"#;

struct Sample {
    family: String,
    kind: String,
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

struct Scrape(Vec<Sample>);

impl Scrape {
    /// The value of the sample `name` with exactly these labels, if there is one.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let found: Vec<f64> = self
            .0
            .iter()
            .filter(|s| s.name == name && s.labels == want)
            .map(|s| s.value)
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?} appears twice");
        found.first().copied()
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name} {labels:?} in {}", self.names()))
    }

    /// Every sample of `name`, whatever its labels, added up.
    fn sum(&self, name: &str) -> f64 {
        self.0
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.value)
            .sum()
    }

    fn samples(&self, name: &str) -> Vec<&Sample> {
        self.0.iter().filter(|s| s.name == name).collect()
    }

    fn family_type(&self, family: &str) -> String {
        self.0
            .iter()
            .find(|s| s.family == family)
            .map(|s| s.kind.clone())
            .unwrap_or_else(|| panic!("no family {family} in {}", self.names()))
    }

    fn names(&self) -> String {
        let mut names: Vec<&str> = self.0.iter().map(|s| s.name.as_str()).collect();
        names.dedup();
        names.join(", ")
    }
}

fn parse(format: &str, text: &str) -> Scrape {
    let mut child = Command::new("python3")
        .args(["-c", PARSE, format])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed (tests/run installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client could not parse /metrics ({format}; tests/run installs the package):\n{}\n--- the text ---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    Scrape(
        samples
            .into_iter()
            .map(|s| Sample {
                family: s["family"].as_str().unwrap().to_string(),
                kind: s["type"].as_str().unwrap().to_string(),
                name: s["name"].as_str().unwrap().to_string(),
                labels: serde_json::from_value(s["labels"].clone()).unwrap(),
                value: s["value"].as_f64().unwrap(),
            })
            .collect(),
    )
}

/// `GET /metrics` as Prometheus asks for it (OpenMetrics), parsed by the OpenMetrics
/// parser; and as curl asks for it (the classic text format), parsed by that parser.
/// Both must say the same; the OpenMetrics one is returned.
fn scrape(server: &Server, token: Option<&str>) -> Scrape {
    let url = format!("{}/metrics", server.url);
    let mut headers = vec![("Accept", PROMETHEUS_ACCEPT)];
    let auth = token.map(|t| format!("Bearer {t}"));
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    let r = request_raw("GET", &url, "", &headers);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.headers["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(r.text.ends_with("# EOF\n"), "{}", r.text);
    let openmetrics = parse("openmetrics", &r.text);

    headers.remove(0);
    let r = request_raw("GET", &url, "", &headers);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let classic = parse("text", &r.text);
    for name in ["hitl_pauses_created_total", "hitl_decisions_total"] {
        assert_eq!(
            openmetrics.sum(name),
            classic.sum(name),
            "{name}: the two formats disagree"
        );
    }
    openmetrics
}

fn create_as(server: &Server, key: &str, body: &Value, idempotency: Option<&str>) -> Resp {
    let headers: Vec<(&str, &str)> = idempotency
        .map(|k| vec![("Idempotency-Key", k)])
        .unwrap_or_default();
    request(
        "POST",
        &format!("{}/api/pause", server.url),
        Some(key),
        Some(&body.to_string()),
        &headers,
    )
}

#[test]
fn metrics_count_what_was_done() {
    let hitl = Hitl::new();
    let alpha = hitl.agent_key("alpha");
    let beta = hitl.agent_key("beta");
    let reviewer = hitl.reviewer_key("r@example.com");
    let hook = Receiver::start();
    hook.reply(&vec![Reply::Status(500); 10]);
    let server = hitl.serve(&["--webhook-retry-schedule", "200ms"]);

    // Six pauses created: four by alpha (one of them asked twice with the same
    // Idempotency-Key: created once), two by beta; a refused create counts nothing.
    let a1 = server.create(&alpha, &json!({ "action": "a1" }));
    let a2 = server.create(&alpha, &json!({ "action": "a2" }));
    let a3 = server.create(&alpha, &json!({ "action": "a3", "webhookUrl": hook.url }));
    let first = create_as(&server, &alpha, &json!({ "action": "a4" }), Some("once"));
    assert_eq!(first.status, 201, "{}", first.text);
    let again = create_as(&server, &alpha, &json!({ "action": "a4" }), Some("once"));
    assert_eq!(again.status, 200, "a replay: {}", again.text);
    let refused = create_as(&server, &alpha, &json!({ "nothing": true }), None);
    assert_eq!(refused.status, 400, "{}", refused.text);
    let _b1 = server.create(&beta, &json!({ "action": "b1" }));
    let b2 = server.create(&beta, &json!({ "action": "b2" }));

    // Approved, rejected (its webhook fails), cancelled; three stay pending.
    assert_eq!(server.decide(&reviewer, &a1, "approved", "").status, 200);
    assert_eq!(server.decide(&reviewer, &a3, "rejected", "no").status, 200);
    let r = server.post(&format!("/api/pause/{b2}/cancel"), &beta, &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    // Two paths of one route: one series.
    assert_eq!(server.get("/api/pause/wch_nope1", &alpha).status, 404);
    assert_eq!(server.get("/api/pause/wch_nope2", &alpha).status, 404);
    assert_eq!(
        request_raw("GET", &format!("{}/no/such/page", server.url), "", &[]).status,
        404
    );

    // One request waits on a2.
    let waiter = {
        let (url, key, id) = (server.url.clone(), alpha.clone(), a2.clone());
        thread::spawn(move || {
            request(
                "GET",
                &format!("{url}/api/pause/{id}?wait=30"),
                Some(&key),
                None,
                &[],
            )
        })
    };
    eventually(Duration::from_secs(10), "the webhook to fail", || {
        let failed: i64 = hitl
            .db()
            .query_row(
                "SELECT count(*) FROM outbox WHERE kind = 'webhook' AND state = 'failed'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (failed == 1).then_some(())
    });
    let m = eventually(Duration::from_secs(10), "the long-poll to be held", || {
        let m = scrape(&server, None);
        (m.value("hitl_long_polls", &[]) == 1.0).then_some(m)
    });

    assert_eq!(m.family_type("hitl_pauses_created"), "counter");
    assert_eq!(
        m.value("hitl_pauses_created_total", &[("key", "alpha")]),
        4.0
    );
    assert_eq!(
        m.value("hitl_pauses_created_total", &[("key", "beta")]),
        2.0
    );
    assert_eq!(m.sum("hitl_pauses_created_total"), 6.0);

    assert_eq!(
        m.value("hitl_decisions_total", &[("status", "approved")]),
        1.0
    );
    assert_eq!(
        m.value("hitl_decisions_total", &[("status", "rejected")]),
        1.0
    );
    assert_eq!(
        m.value("hitl_decisions_total", &[("status", "cancelled")]),
        1.0
    );
    assert_eq!(m.sum("hitl_decisions_total"), 3.0);

    assert_eq!(m.family_type("hitl_decision_seconds"), "histogram");
    assert_eq!(m.sum("hitl_decision_seconds_count"), 3.0);
    assert_eq!(
        m.value("hitl_decision_seconds_count", &[("status", "approved")]),
        1.0
    );
    // Decided within seconds: in the one-day bucket, and the +Inf one.
    assert_eq!(
        m.value(
            "hitl_decision_seconds_bucket",
            &[("status", "rejected"), ("le", "86400.0")]
        ),
        1.0
    );
    assert_eq!(
        m.value(
            "hitl_decision_seconds_bucket",
            &[("status", "rejected"), ("le", "+Inf")]
        ),
        1.0
    );

    assert_eq!(m.family_type("hitl_pauses_pending"), "gauge");
    assert_eq!(m.value("hitl_pauses_pending", &[]), 3.0);
    assert_eq!(m.value("hitl_long_polls", &[]), 1.0);

    assert_eq!(
        m.value("hitl_outbox_failed", &[("channel", "webhook")]),
        1.0
    );
    assert_eq!(m.value("hitl_outbox_failed", &[("channel", "email")]), 0.0);
    let stored_pending: i64 = hitl
        .db()
        .query_row(
            "SELECT count(*) FROM outbox WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        m.sum("hitl_outbox_pending") as i64,
        stored_pending,
        "the outbox as stored"
    );
    assert_eq!(m.samples("hitl_outbox_pending").len(), 8, "every channel");

    let requests = |route: &str, method: &str, status: &str| {
        m.get(
            "hitl_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(requests("/api/pause", "POST", "201"), 6.0);
    assert_eq!(requests("/api/pause", "POST", "200"), 1.0);
    assert_eq!(requests("/api/pause", "POST", "400"), 1.0);
    assert_eq!(
        requests("/api/pause/{watch_id}/approve", "POST", "200"),
        2.0
    );
    assert_eq!(requests("/api/pause/{watch_id}/cancel", "POST", "200"), 1.0);
    assert_eq!(requests("/api/pause/{watch_id}", "GET", "404"), 2.0);
    assert_eq!(requests("unmatched", "GET", "404"), 1.0);
    // Only patterns: no raw path became a label.
    for s in m.samples("hitl_http_requests_total") {
        assert!(!s.labels["route"].contains("wch_"), "{:?}", s.labels);
    }

    assert!(m.value("hitl_writer_batch_size_count", &[]) > 0.0);
    assert_eq!(
        m.value("hitl_writer_batch_size_count", &[]),
        m.value("hitl_writer_commit_seconds_count", &[]),
        "one observation of each per commit"
    );
    assert!(m.value("process_resident_memory_bytes", &[]) > 1_000_000.0);
    assert_eq!(
        m.value("hitl_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
        1.0
    );

    // The waiter's pause decided: it answers, and nobody waits any more.
    assert_eq!(server.decide(&reviewer, &a2, "approved", "").status, 200);
    let answered = waiter.join().unwrap();
    assert_eq!(answered.json["status"], "approved", "{}", answered.text);
    let m = eventually(Duration::from_secs(10), "the long-poll to end", || {
        let m = scrape(&server, None);
        (m.value("hitl_long_polls", &[]) == 0.0).then_some(m)
    });
    assert_eq!(
        m.value("hitl_decisions_total", &[("status", "approved")]),
        2.0
    );
    assert_eq!(m.sum("hitl_decision_seconds_count"), 4.0);
    assert_eq!(m.value("hitl_pauses_pending", &[]), 2.0);
    // The earlier scrapes were counted too.
    assert!(
        m.value(
            "hitl_http_requests_total",
            &[("route", "/metrics"), ("method", "GET"), ("status", "200")]
        ) >= 2.0
    );

    // After a restart the counters start again; what is stored is read again.
    let mut server = server;
    server.restart();
    let m = scrape(&server, None);
    assert_eq!(m.value("hitl_pauses_pending", &[]), 2.0);
    assert_eq!(
        m.value("hitl_outbox_failed", &[("channel", "webhook")]),
        1.0
    );
    assert_eq!(m.sum("hitl_pauses_created_total"), 0.0);
}

#[test]
fn a_metrics_token_is_required_when_set() {
    const TOKEN: &str = "s3cret-metrics-token-0123456789";
    let hitl = Hitl::new();
    let server = hitl.serve(&["--metrics-token", TOKEN]);
    let url = format!("{}/metrics", server.url);
    for auth in [
        None,
        Some("Bearer wrong-token-wrong-token-00"),
        Some("Bearer s3cret-metrics-token-012345678"),
        Some("Basic czNjcmV0LW1ldHJpY3MtdG9rZW4tMDEyMzQ1Njc4OQ=="),
        Some(TOKEN),
    ] {
        let headers: Vec<(&str, &str)> =
            auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
        let r = request_raw("GET", &url, "", &headers);
        assert_eq!(r.status, 401, "{auth:?}: {}", r.text);
        assert_eq!(
            r.headers.get("www-authenticate").map(String::as_str),
            Some("Bearer realm=\"hitl metrics\""),
            "{auth:?}"
        );
        assert!(!r.text.contains("hitl_"), "{auth:?} saw metrics");
    }
    let m = scrape(&server, Some(TOKEN));
    assert_eq!(m.value("hitl_pauses_pending", &[]), 0.0);
    // Only GET.
    let r = request_raw(
        "POST",
        &url,
        "",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(r.status, 405, "{}", r.text);
}

#[test]
fn a_bad_metrics_token_is_refused_at_start() {
    let hitl = Hitl::new();
    for (token, says) in [
        ("short", "16 to 256 characters"),
        ("", "16 to 256 characters"),
        ("has a space in it, quite long", "visible ASCII"),
    ] {
        let out = hitl.cmd(&["serve", "--listen", "127.0.0.1:0", "--metrics-token", token]);
        assert!(!out.status.success(), "{token:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--metrics-token") && err.contains(says),
            "{token:?}: {err}"
        );
    }
    assert!(
        !hitl.db_path().exists(),
        "a refused start must not create the database"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("a");
    // The harness finds the URL in the "listening on" message, JSON or not.
    let mut server = hitl.serve(&["--log-format", "json"]);
    server.create(&agent, &json!({ "action": "logged" }));
    assert_eq!(server.get("/api/pause/wch_nope", &agent).status, 404);
    server.signal_and_wait("TERM");
    let log = server.log();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 4, "{log}");
    let mut messages = vec![];
    for line in &lines {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON object: {e}: {line:?}\n{log}"));
        assert!(entry["timestamp"].is_string(), "{line}");
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
                .contains(&entry["level"].as_str().unwrap_or("")),
            "{line}"
        );
        let message = entry["fields"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no message: {line}"));
        messages.push(message.to_string());
    }
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("listening on http://127.0.0.1:")),
        "{log}"
    );
    assert!(messages.iter().any(|m| m == "stopped"), "{log}");
    let refused = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["fields"]["message"] == "request refused")
        .unwrap_or_else(|| panic!("no refused request logged:\n{log}"));
    assert_eq!(refused["fields"]["status"], 404, "{refused}");
    assert_eq!(refused["level"], "INFO");

    // Text stays the default.
    let server = hitl.serve(&[]);
    assert!(serde_json::from_str::<Value>(server.log().lines().next().unwrap()).is_err());
}

#[test]
fn a_bad_log_format_is_refused() {
    let hitl = Hitl::new();
    let out = hitl.cmd(&["--log-format", "xml", "key", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value 'xml' for '--log-format <FORMAT>'")
            && err.contains("[possible values: text, json]"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
