//! The runnable examples in `examples/`, run as a user would run them against the real
//! server: each waits for a decision the test makes through the API, and must act on an
//! approval only. python3 with `requests`, node and npm are needed (tests/run installs
//! them, and runs `npm ci` in examples/typescript); a missing one fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

/// One run of an example: what it printed and how it exited.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Checks that `program --version` runs, or fails the test saying what to install.
fn require(program: &str, args: &[&str], install: &str) {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "`{program} {}` failed: {install}", args.join(" "));
}

fn require_python_module(module: &str, spec: &str) {
    require(
        "python3",
        &["-c", &format!("import {module}")],
        &format!("tests/run installs it (python3 -m pip install '{spec}')"),
    );
}

/// Waits for the child to exit (killing it after 60 s) and collects its output.
fn finish(mut child: std::process::Child) -> Run {
    let start = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    Run::from(child.wait_with_output().expect("output"))
}

/// Starts `command` against the server, waits for the pause it creates, checks what the
/// reviewer sees, decides it, and returns how the example ended.
fn decide_example(
    server: &Server,
    agent: &str,
    reviewer: &str,
    command: &mut Command,
    decision: &str,
    comment: &str,
) -> (Run, Value) {
    let child = command
        .env("HITL_URL", &server.url)
        .env("HITL_API_KEY", agent)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let mut child = Some(child);
    let pause = eventually(Duration::from_secs(30), "the example's pause", || {
        if let Some(status) = child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
            let mut out = child.take().unwrap().wait_with_output().unwrap();
            out.status = status;
            panic!("the example exited before a decision:\n{}", Run::from(out));
        }
        let r = server.get("/api/pause?status=pending", reviewer);
        r.json["items"].as_array()?.first().cloned()
    });
    let watch_id = pause["watchId"].as_str().unwrap();
    let r = server.decide(reviewer, watch_id, decision, comment);
    assert_eq!(r.status, 200, "{}", r.text);
    (finish(child.take().unwrap()), pause)
}

/// The pauses the examples create, as a reviewer sees them.
fn assert_deploy_pause(pause: &Value) {
    assert_eq!(pause["action"], "Deploy v2.4.1 to production", "{pause}");
    assert_eq!(pause["context"]["environment"], "prod", "{pause}");
    assert_eq!(pause["tags"], serde_json::json!(["deploy", "prod"]));
    assert!(pause["expiresAt"].is_string(), "{pause}");
}

/// Both paths and a bad key, for an example run by `command()`.
fn approve_reject_and_bad_key(command: impl Fn() -> Command) {
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    let reviewer = hitl.reviewer_key("rev@example.com");
    let server = hitl.serve(&[]);

    let (run, pause) = decide_example(
        &server,
        &agent,
        &reviewer,
        &mut command(),
        "approved",
        "ship it",
    );
    assert_deploy_pause(&pause);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout
            .contains("approved by rev@example.com: ship it\ndeploying v2.4.1 to production"),
        "{run}"
    );
    assert!(
        run.stderr.contains(pause["reviewUrl"].as_str().unwrap()),
        "{run}"
    );

    let (run, _) = decide_example(
        &server,
        &agent,
        &reviewer,
        &mut command(),
        "rejected",
        "not on a Friday",
    );
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stdout
            .contains("rejected by rev@example.com: not on a Friday"),
        "{run}"
    );
    assert!(!run.stdout.contains("deploying"), "it acted anyway: {run}");

    // An unknown key: hitl's JSON error is reported, and nothing is deployed.
    let run = finish(
        command()
            .env("HITL_URL", &server.url)
            .env("HITL_API_KEY", "hitl_unknownunknownunknownunknown00")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stderr.contains("401 unauthorized"), "{run}");
    assert!(!run.stdout.contains("deploying"), "{run}");
}

#[test]
fn the_python_example_deploys_only_when_approved() {
    require("python3", &["--version"], "install python3");
    require_python_module("requests", "requests>=2,<3");
    approve_reject_and_bad_key(|| {
        let mut c = Command::new("python3");
        c.arg(format!("{EXAMPLES}/python/approve_deploy.py"));
        c
    });
}

/// Compiles examples/typescript once (into its dist/, ignored by git) with the
/// TypeScript that `npm ci` installed there.
fn typescript_example() -> &'static Path {
    static COMPILED: OnceLock<PathBuf> = OnceLock::new();
    COMPILED.get_or_init(|| {
        require(
            "node",
            &["--version"],
            "install Node.js 20+ (apt-get install nodejs)",
        );
        require("npm", &["--version"], "install npm (apt-get install npm)");
        let dir = Path::new(EXAMPLES).join("typescript");
        assert!(
            dir.join("node_modules/.bin/tsc").exists(),
            "examples/typescript has no node_modules: tests/run runs `npm ci` there"
        );
        let out = Command::new("npx")
            .args(["--no", "--", "tsc"])
            .current_dir(&dir)
            .output()
            .expect("npx");
        assert!(out.status.success(), "npx tsc failed:\n{}", Run::from(out));
        dir.join("dist/approve-deploy.js")
    })
}

#[test]
fn the_typescript_example_deploys_only_when_approved() {
    let script = typescript_example();
    approve_reject_and_bad_key(|| {
        let mut c = Command::new("node");
        c.arg(script);
        c
    });
}

#[test]
fn the_langgraph_tool_runs_only_when_approved() {
    require("python3", &["--version"], "install python3");
    require_python_module("requests", "requests>=2,<3");
    require_python_module("langgraph", "langgraph>=1,<2");
    let hitl = Hitl::new();
    let agent = hitl.agent_key("langgraph-bot");
    let reviewer = hitl.reviewer_key("rev@example.com");
    let server = hitl.serve(&[]);
    let command = || {
        let mut c = Command::new("python3");
        c.arg(format!("{EXAMPLES}/langgraph/approval_tool.py"));
        c
    };

    let (run, pause) = decide_example(&server, &agent, &reviewer, &mut command(), "approved", "ok");
    assert_eq!(
        pause["action"], "deploy(version='v2.4.1', environment='production')",
        "{pause}"
    );
    assert_eq!(pause["context"]["tool"], "deploy", "{pause}");
    assert_eq!(pause["context"]["kwargs"]["version"], "v2.4.1", "{pause}");
    assert_eq!(pause["tags"], serde_json::json!(["langgraph", "deploy"]));
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout.contains(
            "deploying v2.4.1 to production\ntool result: Deployed v2.4.1 to production."
        ),
        "{run}"
    );

    let (run, _) = decide_example(
        &server,
        &agent,
        &reviewer,
        &mut command(),
        "rejected",
        "use the canary first",
    );
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stdout
            .contains("tool result: Not run: rejected by rev@example.com: use the canary first"),
        "{run}"
    );
    assert!(
        !run.stdout.contains("deploying"),
        "the tool ran anyway: {run}"
    );
}

/// The Agents SDK's approval loop, with the example's scripted stand-in for the model:
/// no OpenAI key, and tracing off, so nothing leaves the machine.
#[test]
fn the_openai_agents_loop_resumes_with_the_reviewers_decision() {
    require("python3", &["--version"], "install python3");
    require_python_module("requests", "requests>=2,<3");
    require_python_module("agents", "openai-agents>=0.24,<0.25");
    let hitl = Hitl::new();
    let agent = hitl.agent_key("agents-bot");
    let reviewer = hitl.reviewer_key("rev@example.com");
    let server = hitl.serve(&[]);
    let command = || {
        let mut c = Command::new("python3");
        c.arg(format!("{EXAMPLES}/openai-agents/approval_loop.py"))
            .arg("--scripted-model")
            .env_remove("OPENAI_API_KEY")
            .env("OPENAI_AGENTS_DISABLE_TRACING", "1");
        c
    };

    let (run, pause) = decide_example(&server, &agent, &reviewer, &mut command(), "approved", "ok");
    assert_eq!(
        pause["action"], r#"deploy({"version": "v2.4.1", "environment": "production"})"#,
        "{pause}"
    );
    assert_eq!(pause["context"]["tool"], "deploy", "{pause}");
    assert_eq!(pause["context"]["agent"], "Release manager", "{pause}");
    assert_eq!(pause["context"]["arguments"]["environment"], "production");
    assert_eq!(pause["tags"], serde_json::json!(["openai-agents"]));
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout.contains(
            "deploying v2.4.1 to production\n\
             final output: The deploy tool said: Deployed v2.4.1 to production."
        ),
        "{run}"
    );

    let (run, _) = decide_example(
        &server,
        &agent,
        &reviewer,
        &mut command(),
        "rejected",
        "freeze until Monday",
    );
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stdout.contains(
            "final output: The deploy tool said: Not run: rejected by rev@example.com: freeze until Monday"
        ),
        "{run}"
    );
    assert!(
        !run.stdout.contains("deploying"),
        "the tool ran anyway: {run}"
    );
}

/// examples/receipts: the tool acts on a receipt for what it is about to do, and
/// refuses one for anything else (tests/it/receipts.rs tries every way to differ).
#[test]
fn the_receipts_example_acts_only_on_a_matching_receipt() {
    require("python3", &["--version"], "install python3");
    require_python_module("jwt", "PyJWT[crypto]>=2.8,<3");
    require_python_module("cryptography", "cryptography");
    require_python_module("rfc8785", "rfc8785>=0.1.4,<0.2");
    let hitl = Hitl::new();
    let agent = hitl.agent_key("deploy-bot");
    let reviewer = hitl.reviewer_key("rev@example.com");
    let server = hitl.serve(&[]);
    let context = r#"{"environment":"prod","replicas":3}"#;
    let id = server.create(
        &agent,
        &serde_json::json!({
            "action": "Deploy v2.4.1 to production",
            "context": serde_json::from_str::<Value>(context).unwrap(),
        }),
    );
    server.decide(&reviewer, &id, "approved", "ok");
    let receipt = server.status(&agent, &id)["receipt"]
        .as_str()
        .expect("a receipt")
        .to_string();
    let jwks = format!("{}/.well-known/jwks.json", server.url);
    let run = |action: &str, context: &str| {
        finish(
            Command::new("python3")
                .arg(format!("{EXAMPLES}/receipts/guarded_tool.py"))
                .args([
                    &receipt,
                    "--jwks",
                    &jwks,
                    "--action",
                    action,
                    "--context",
                    context,
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn"),
        )
    };

    // The same context in another spelling is the same context.
    let acted = run(
        "Deploy v2.4.1 to production",
        r#"{ "replicas": 3.0, "environment": "prod" }"#,
    );
    assert_eq!(acted.code, 0, "{acted}");
    assert!(
        acted
            .stdout
            .contains(&format!("verified: {id} approved by rev@example.com"))
            && acted.stdout.contains("acting: Deploy v2.4.1 to production"),
        "{acted}"
    );
    let refused = run(
        "Deploy v2.4.1 to production",
        r#"{"environment":"prod","replicas":30}"#,
    );
    assert_eq!(refused.code, 1, "{refused}");
    assert!(
        refused
            .stderr
            .contains("refused: the context is not the one that was approved"),
        "{refused}"
    );
    assert!(!refused.stdout.contains("acting"), "{refused}");
}

/// The n8n workflow cannot run here without n8n, so the test reads it as n8n would:
/// the nodes and their order, then the create body its expression makes (evaluated by
/// node with a stand-in `$execution`), sent to the real server; the webhook reaches
/// the "resume URL" and the status read afterwards is what the IF node compares.
#[test]
fn the_n8n_workflow_creates_a_pause_that_resumes_its_wait_node() {
    require(
        "node",
        &["--version"],
        "install Node.js (apt-get install nodejs)",
    );
    let text = std::fs::read_to_string(format!("{EXAMPLES}/n8n/hitl-approval.json")).unwrap();
    let workflow: Value = serde_json::from_str(&text).expect("the workflow is JSON");
    let nodes = workflow["nodes"].as_array().expect("nodes");
    let node = |name: &str| {
        nodes
            .iter()
            .find(|n| n["name"] == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    };
    let next = |name: &str, output: usize| {
        workflow["connections"][name]["main"][output][0]["node"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} output {output} goes nowhere"))
            .to_string()
    };
    assert_eq!(next("Start", 0), "Ask hitl");
    assert_eq!(next("Ask hitl", 0), "Wait for the decision");
    assert_eq!(
        next("Wait for the decision", 0),
        "Read the decision from hitl"
    );
    assert_eq!(next("Read the decision from hitl", 0), "Approved?");
    assert_eq!(next("Approved?", 0), "Deploy", "the true branch deploys");
    assert_eq!(next("Approved?", 1), "Not approved");

    let ask = node("Ask hitl");
    assert_eq!(ask["type"], "n8n-nodes-base.httpRequest");
    let p = &ask["parameters"];
    assert_eq!(p["method"], "POST");
    assert_eq!(p["url"], "http://127.0.0.1:8080/api/pause");
    assert_eq!(p["genericAuthType"], "httpHeaderAuth");
    assert_eq!(
        p["headerParameters"]["parameters"][0]["name"],
        "Idempotency-Key"
    );
    assert_eq!(p["specifyBody"], "json");
    let wait = node("Wait for the decision");
    assert_eq!(wait["type"], "n8n-nodes-base.wait");
    assert_eq!(wait["parameters"]["resume"], "webhook");
    assert_eq!(
        wait["parameters"]["httpMethod"], "POST",
        "hitl's webhook is a POST"
    );
    let read = node("Read the decision from hitl");
    assert_eq!(read["parameters"]["method"], "GET");
    assert_eq!(
        read["parameters"]["url"],
        "={{ $('Ask hitl').item.json.statusUrl }}"
    );
    let condition = &node("Approved?")["parameters"]["conditions"]["conditions"][0];
    assert_eq!(condition["leftValue"], "={{ $json.status }}");
    assert_eq!(condition["rightValue"], "approved");
    assert_eq!(condition["operator"]["operation"], "equals");

    // The body the "Ask hitl" node sends, with the Wait node's resume URL in it.
    let resume = crate::peers::Receiver::start();
    let expression = p["jsonBody"].as_str().unwrap();
    let code = expression
        .strip_prefix("={{")
        .and_then(|e| e.strip_suffix("}}"))
        .expect("an n8n expression");
    let script = format!(
        "const $execution = {{ id: '42', resumeUrl: {} }};\nprocess.stdout.write({code});",
        serde_json::to_string(&resume.url).unwrap()
    );
    let out = Command::new("node").args(["-e", &script]).output().unwrap();
    assert!(out.status.success(), "{}", Run::from(out));
    let body: Value = serde_json::from_slice(&out.stdout).expect("the body is JSON");
    assert_eq!(body["webhookUrl"], resume.url.as_str());

    let hitl = Hitl::new();
    let agent = hitl.agent_key("n8n");
    let reviewer = hitl.reviewer_key("rev@example.com");
    let server = hitl.serve(&[]);
    let created = request(
        "POST",
        &format!("{}/api/pause", server.url),
        Some(&agent),
        Some(&body.to_string()),
        &[("Idempotency-Key", "n8n-42")],
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let watch_id = created.json["watchId"].as_str().unwrap();
    assert_eq!(
        server.decide(&reviewer, watch_id, "approved", "go").status,
        200
    );
    let got = resume.wait_for(1, Duration::from_secs(20));
    let event = got[0].json();
    assert_eq!(event["watchId"], watch_id);
    assert_eq!(event["status"], "approved");
    assert_eq!(event["agentContext"]["action"], body["action"]);
    let status_url = created.json["statusUrl"].as_str().unwrap();
    let read_back = request("GET", status_url, Some(&agent), None, &[]);
    assert_eq!(read_back.json["status"], "approved", "{}", read_back.text);
}
