//! `hitl ask`: the gate for shell scripts and CI. Creates a pause, prints the review
//! URL, waits for the decision and exits 0 approved, 1 rejected, 2 expired or
//! cancelled, 3 error (a usage error too). Ctrl-C or SIGTERM cancels the pause.
//! While the server cannot be reached it says so, and keeps trying until the
//! timeout (five minutes without one).

use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::client::{self, Answer};
use crate::cli::AskArgs;
use crate::clock;
use crate::domain::context;
use crate::domain::pauses::MAX_TIMEOUT_SECS;
use crate::secret;
use crate::urls::Urls;

const EXIT_ERROR: u8 = 3;
/// Each long-poll asks the server to hold this long.
const POLL_WAIT_SECS: u64 = 50;
/// Without `--timeout`, give up when the server has been unreachable this long in a row.
const GIVE_UP_AFTER: Duration = Duration::from_secs(300);
/// With one, keep trying this long after the pause expires, to learn that it did.
const EXPIRY_GRACE: Duration = Duration::from_secs(30);

enum Msg {
    Interrupted,
    Finished(Value),
    Failed(String),
}

fn error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_ERROR)
}

pub fn run(args: AskArgs) -> ExitCode {
    match prepare(&args) {
        Ok((base, key, body)) => ask(&args, &base, &key, &body),
        Err(e) => error(e),
    }
}

/// Prints clap's message for a command line it refused. `hitl ask` then exits 3
/// (its 2 means expired or cancelled); other commands keep clap's code.
pub fn usage_error(e: clap::Error, command: clap::Command) -> ExitCode {
    let _ = e.print();
    let code = e.exit_code();
    let is_ask = || {
        command
            .ignore_errors(true)
            .try_get_matches()
            .is_ok_and(|m| m.subcommand_name() == Some("ask"))
    };
    if e.use_stderr() && is_ask() {
        ExitCode::from(EXIT_ERROR)
    } else {
        ExitCode::from(u8::try_from(code).unwrap_or(EXIT_ERROR))
    }
}

/// Until when to keep trying while the server cannot be reached.
struct Patience {
    until: Instant,
}

impl Patience {
    fn lasting(wait: Duration) -> Patience {
        Patience {
            until: Instant::now() + wait,
        }
    }

    fn left(&self) -> Duration {
        self.until.saturating_duration_since(Instant::now())
    }

    /// "until 16:05:12 UTC (10m left)"
    fn describe(&self) -> String {
        let left = Duration::from_secs(self.left().as_secs_f64().round() as u64);
        let at = clock::now() + left.as_millis() as i64;
        format!(
            "until {} UTC ({} left)",
            clock::rfc3339(at).get(11..19).unwrap_or(""),
            humantime::format_duration(left)
        )
    }
}

/// Why a request did not reach the server, in a few words.
fn unreachable(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
            std::io::ErrorKind::ConnectionReset => "connection reset".into(),
            std::io::ErrorKind::TimedOut => "timed out".into(),
            _ => io.to_string(),
        },
        ureq::Error::Timeout(_) => "timed out".into(),
        other => other.to_string(),
    }
}

/// The body of the create request. The context goes as written (less whitespace), so
/// its digits and key order reach the reviewer as they are.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_timeout: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
}

fn prepare(args: &AskArgs) -> Result<(String, String, CreateBody), String> {
    let base = client::base_url(&args.client)?;
    let key = args
        .api_key
        .clone()
        .filter(|k| !k.trim().is_empty())
        .ok_or("set HITL_API_KEY to an agent key (create one with: hitl key create --name NAME)")?;
    let mut body = CreateBody {
        action: args.action.clone(),
        context: None,
        timeout_seconds: None,
        on_timeout: args.on_timeout.clone(),
        tags: args.tags.clone(),
    };
    if let Some(text) = &args.context {
        let context: Box<RawValue> =
            serde_json::from_str(text).map_err(|e| format!("--context is not valid JSON: {e}"))?;
        // The server refuses these too; say so before anything is sent.
        context::check_unique_keys(context.get()).map_err(|e| format!("--context: {e}"))?;
        body.context = Some(context);
    }
    if let Some(text) = &args.timeout {
        let duration = humantime::parse_duration(text).map_err(|e| {
            format!("--timeout {text:?} is not a duration such as 90s, 30m or 2h: {e}")
        })?;
        let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
        if secs == 0 || secs > MAX_TIMEOUT_SECS as u64 {
            return Err("--timeout must be from 1 second to 30 days".into());
        }
        body.timeout_seconds = Some(secs);
    }
    Ok((base, key.trim().to_string(), body))
}

fn ask(args: &AskArgs, base: &str, key: &str, body: &CreateBody) -> ExitCode {
    let (tx, rx) = mpsc::channel::<Msg>();
    let interrupt = tx.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = interrupt.send(Msg::Interrupted);
    }) {
        eprintln!("warning: Ctrl-C will not cancel the pause: {e}");
    }

    let auth = format!("Bearer {key}");
    let timeout = body.timeout_seconds.map(Duration::from_secs);
    let pause = match create(base, &auth, body, timeout, &rx) {
        Ok(Creation::Created(p)) => p,
        Ok(Creation::Interrupted(Some(p))) => {
            // An earlier attempt may have created it with its answer lost: cancel it.
            let watch_id = p["watchId"].as_str().unwrap_or_default();
            return cancel(base, &auth, watch_id, args.json);
        }
        Ok(Creation::Interrupted(None)) => {
            eprintln!(
                "Interrupted before the pause was created (the server could not be reached to make sure)."
            );
            return ExitCode::from(2);
        }
        Err(e) => return error(e),
    };
    let expires = timeout.map(|t| Instant::now() + t);
    let watch_id = pause["watchId"].as_str().unwrap_or_default().to_string();
    eprintln!("Waiting for a decision on: {}", args.action);
    eprintln!(
        "Review it at {}",
        pause["reviewUrl"].as_str().unwrap_or_default()
    );

    // An interrupt during the create is honoured now that there is a pause to cancel.
    if let Ok(Msg::Interrupted) = rx.try_recv() {
        return cancel(base, &auth, &watch_id, args.json);
    }

    let status_url = Urls::new(base).status_wait(&watch_id, POLL_WAIT_SECS);
    let poll_auth = auth.clone();
    let poll_base = base.to_string();
    let _poller = thread::spawn(move || {
        let _ = tx.send(poll(&poll_base, &status_url, &poll_auth, expires));
    });

    match rx.recv() {
        Ok(Msg::Finished(pause)) => report(&pause, args.json),
        Ok(Msg::Interrupted) => cancel(base, &auth, &watch_id, args.json),
        Ok(Msg::Failed(e)) => error(e),
        Err(_) => error("lost track of the pause"),
    }
}

/// How creating the pause ended.
enum Creation {
    Created(Value),
    /// Interrupted while waiting to retry; with the pause if one exists after all.
    Interrupted(Option<Value>),
}

/// Creates the pause, retrying transport failures with the same Idempotency-Key so
/// that a lost response never creates a second pause, until the timeout (or five
/// minutes). Interrupted while waiting to retry, it asks once more with the same key:
/// an attempt whose answer was lost may have created the pause, which must then be
/// cancelled rather than left pending.
fn create(
    base: &str,
    auth: &str,
    body: &CreateBody,
    timeout: Option<Duration>,
    interrupts: &mpsc::Receiver<Msg>,
) -> Result<Creation, String> {
    let agent = client::agent(Duration::from_secs(30));
    let idempotency_key = format!("ask-{}", secret::base62(24));
    let url = Urls::new(base).create();
    let patience = Patience::lasting(timeout.unwrap_or(GIVE_UP_AFTER));
    let mut backoff = Duration::from_secs(1);
    let attempt = |agent: &ureq::Agent| {
        agent
            .post(&url)
            .header("Authorization", auth)
            .header("Idempotency-Key", &idempotency_key)
            .send_json(body)
    };
    loop {
        let why = match attempt(&agent) {
            Ok(response) => {
                let answer = Answer::read(response);
                return match answer.status {
                    200 | 201 => Ok(Creation::Created(answer.body)),
                    _ => Err(format!(
                        "could not create the pause: {}",
                        answer.error_message()
                    )),
                };
            }
            Err(e) => unreachable(&e),
        };
        if patience.left().is_zero() {
            return Err(format!("could not reach {base} ({why}); gave up"));
        }
        eprintln!(
            "hitl ask: cannot reach {base} ({why}); retrying {}",
            patience.describe()
        );
        match interrupts.recv_timeout(backoff.min(patience.left())) {
            Ok(Msg::Interrupted) => {
                let last_try = client::agent(Duration::from_secs(5));
                let found = attempt(&last_try)
                    .ok()
                    .map(Answer::read)
                    .filter(|a| matches!(a.status, 200 | 201))
                    .map(|a| a.body);
                return Ok(Creation::Interrupted(found));
            }
            _ => backoff = (backoff * 2).min(Duration::from_secs(15)),
        }
    }
}

/// Long-polls until the pause is decided. Rides out an unreachable server until the
/// pause expires (or for five minutes in a row when it never does).
fn poll(base: &str, url: &str, auth: &str, expires: Option<Instant>) -> Msg {
    let agent = client::agent(Duration::from_secs(POLL_WAIT_SECS + 20));
    let mut patience: Option<Patience> = None;
    let mut backoff = Duration::from_millis(500);
    loop {
        let failure = match agent.get(url).header("Authorization", auth).call() {
            Ok(response) => {
                let answer = Answer::read(response);
                match answer.status {
                    200 => {
                        patience = None;
                        backoff = Duration::from_millis(500);
                        if answer.body["status"] != "pending" {
                            return Msg::Finished(answer.body);
                        }
                        continue;
                    }
                    500..=599 => format!("{base} answered {}", answer.error_message()),
                    _ => {
                        return Msg::Failed(format!(
                            "could not read the pause: {}",
                            answer.error_message()
                        ))
                    }
                }
            }
            Err(e) => format!("cannot reach {base} ({})", unreachable(&e)),
        };
        let patience = patience.get_or_insert_with(|| match expires {
            Some(at) => Patience {
                until: at.max(Instant::now()) + EXPIRY_GRACE,
            },
            None => Patience::lasting(GIVE_UP_AFTER),
        });
        if patience.left().is_zero() {
            return Msg::Failed(format!("{failure}; gave up"));
        }
        eprintln!("hitl ask: {failure}; retrying {}", patience.describe());
        thread::sleep(backoff.min(patience.left()));
        backoff = (backoff * 2).min(Duration::from_secs(15));
    }
}

fn cancel(base: &str, auth: &str, watch_id: &str, json: bool) -> ExitCode {
    eprintln!("Interrupted: cancelling the pause…");
    let agent = client::agent(Duration::from_secs(10));
    let url = Urls::new(base).cancel(watch_id);
    let response = agent
        .post(&url)
        .header("Authorization", auth)
        .send_json(json!({ "reason": "interrupted by the requester (hitl ask)" }));
    match response.map(Answer::read) {
        Ok(answer) if answer.status == 200 => report(&answer.body, json),
        // Decided just before the cancel arrived: report what was decided.
        Ok(answer) if answer.status == 409 => {
            let status = Urls::new(base).status(watch_id);
            match agent
                .get(&status)
                .header("Authorization", auth)
                .call()
                .map(Answer::read)
            {
                Ok(current) if current.status == 200 => report(&current.body, json),
                _ => {
                    error("the pause was decided while cancelling, and its state could not be read")
                }
            }
        }
        Ok(answer) => error(format!(
            "could not cancel the pause: {}",
            answer.error_message()
        )),
        Err(e) => error(format!("could not cancel the pause: {e}")),
    }
}

/// Prints the decision and returns the exit code that stands for it.
fn report(pause: &Value, json: bool) -> ExitCode {
    let status = pause["status"].as_str().unwrap_or("unknown");
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(pause).unwrap_or_default()
        );
    } else if status == "expired" {
        say!("expired: nobody decided in time");
    } else if pause["timedOut"] == true {
        say!("{status} by the timeout: nobody decided in time");
    } else {
        let by = pause["resolvedBy"]
            .as_str()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default();
        // `answer` for a question (hitl ask never asks one), else the comment.
        match pause["answer"].as_str().or(pause["comment"].as_str()) {
            Some(said) => say!("{status}{by}: {said}"),
            None => say!("{status}{by}"),
        }
    }
    match status {
        "approved" => ExitCode::SUCCESS,
        "rejected" => ExitCode::from(1),
        "expired" | "cancelled" => ExitCode::from(2),
        "answered" => {
            error("the pause was answered as a question, not approved: nothing may proceed")
        }
        _ => error(format!("unexpected status {status:?}")),
    }
}
