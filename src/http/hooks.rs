//! `POST /hooks/claude-code`: Claude Code hooks of type `http` (`PreToolUse` and
//! `PermissionRequest`). The hook's input becomes a pause; the answer is the hook's
//! own JSON once someone decides.
//!
//! It fails closed. Claude Code reads a non-2xx answer, a broken connection or its own
//! timeout as "no decision", and may then run the tool. So every refusal here (a
//! missing or revoked key, a body that is not a hook's input, an unknown event, a
//! server error, a pause that expired or was cancelled, no decision in time, the
//! server stopping) is a 200 with a deny and the reason. The wait ends before the
//! hook's own timeout: at most [`MAX_WAIT_SECS`], under its 600 s.

use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::body::read_json;
use super::error::public_message;
use super::{allow, api_key, AppState};
use crate::claude_code::{self, Event, Input, MAX_WAIT_SECS, TAG};
use crate::clock;
use crate::domain::pauses::{CreateRequest, Pause};
use crate::domain::{Error, Status};

pub const PATH: &str = "/hooks/claude-code";
/// How long past the expiry the answer waits for the expiry to be recorded.
const EXPIRY_GRACE: Duration = Duration::from_millis(500);
/// The most the wait may run past `?wait`: 590 s and this stay under the hook's 600 s.
const MAX_OVERRUN: Duration = Duration::from_secs(3);
/// The comment on a pause cancelled because Claude Code went away.
const DISCONNECTED: &str =
    "the agent disconnected before a decision (the Claude Code hook stopped waiting)";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(PATH)
            .route(web::post().to(hook))
            .default_service(allow("POST")),
    );
}

#[derive(Deserialize)]
struct HookQuery {
    wait: Option<String>,
}

fn answer(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn deny(event: Event, reason: &str) -> HttpResponse {
    answer(claude_code::deny(event, reason))
}

/// The answer to a body the server refused before the handler read it (too large, or
/// too slow to arrive): a `PreToolUse` deny, since the event is unknown. The connection
/// is closed by the caller, as for any such refusal.
pub fn refused(error: &Error) -> HttpResponse {
    deny(
        Event::PreToolUse,
        &format!("hitl: the hook's request was refused: {error}"),
    )
}

async fn hook(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let limit = state.max_create_body();
    let body: Box<serde_json::value::RawValue> = match read_json(&req, payload, limit).await {
        Ok(body) => body,
        Err(e) => return deny(Event::PreToolUse, &format!("hitl: {}", public_message(&e))),
    };
    let event = Event::guess(body.get().as_bytes());
    let input: Input = match serde_json::from_str(body.get()) {
        Ok(input) => input,
        Err(e) => {
            return deny(
                event,
                &format!("hitl: the body is not a Claude Code hook input: {e}"),
            )
        }
    };
    if Event::parse(&input.hook_event_name).is_none() {
        return deny(
            event,
            &format!(
                "hitl: the hook event {:?} is not supported; use hitl for PreToolUse or PermissionRequest",
                input.hook_event_name
            ),
        );
    }
    // `?wait=0` waits as long as the shortest expiry, one second.
    let wait = match wait_secs(req.query_string()).map(|w| w.max(1)) {
        Ok(wait) => wait,
        Err(e) => return deny(event, &format!("hitl: {e}")),
    };
    match decide(&req, &state, &input, wait, started).await {
        Ok(Outcome::Allowed(reason, edited)) => answer(claude_code::allow(
            event,
            &reason,
            &input.tool_input,
            edited.as_deref(),
        )),
        Ok(Outcome::Denied(reason)) => deny(event, &reason),
        Err(e) => deny(
            event,
            &format!("hitl: could not ask for approval: {}", public_message(&e)),
        ),
    }
}

/// `?wait=N`: seconds from 0 to [`MAX_WAIT_SECS`], that by default.
fn wait_secs(query: &str) -> Result<u64, String> {
    let query = web::Query::<HookQuery>::from_query(query)
        .map_err(|e| format!("the query string is not valid: {e}"))?;
    match query.wait.as_deref() {
        None | Some("") => Ok(MAX_WAIT_SECS),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|w| *w <= MAX_WAIT_SECS)
            .ok_or_else(|| {
                format!("wait must be a whole number of seconds from 0 to {MAX_WAIT_SECS}")
            }),
    }
}

enum Outcome {
    /// Allowed, with the reason and the tool input as a reviewer edited it, if they did.
    Allowed(String, Option<Box<RawValue>>),
    Denied(String),
}

/// Creates the pause and waits for it until `wait` seconds after `started`.
async fn decide(
    req: &HttpRequest,
    state: &AppState,
    input: &Input,
    wait: u64,
    started: Instant,
) -> Result<Outcome, Error> {
    let token = api_key(req, state).map_err(|e| e.0)?;
    let request = CreateRequest {
        action: input.action(),
        context: Some(input.context().map_err(Error::internal)?),
        // A pause nobody decided before the hook stops waiting expires: nobody
        // approves what no one waits for.
        timeout_seconds: Some(wait as i64),
        tags: Some(vec![TAG.to_string()]),
        ..CreateRequest::default()
    };
    let new = request.validate(state.limits, None)?;
    let created = state.create_pause(token.clone(), new).await?;
    let watch_id = created.pause.watch_id.clone();
    // Claude Code going away (Esc, the session ending) drops this future: the pause is
    // then cancelled, so nobody approves what no one waits for.
    let gone = state.cancel_on_drop(token.clone(), watch_id.clone(), DISCONNECTED);
    let waited = wait_for(state, token, watch_id, created.pause, wait, started).await;
    gone.disarm();
    waited
}

/// Waits for the pause until it is decided, expires, or the server stops.
async fn wait_for(
    state: &AppState,
    token: String,
    watch_id: String,
    created: Pause,
    wait: u64,
    started: Instant,
) -> Result<Outcome, Error> {
    // Wait until the pause expires (nobody can decide it after that), a moment more
    // for the expiry to be recorded, and never past the hook's own timeout.
    let expires_in = created
        .expires_at
        .map_or(0, |at| (at - clock::now()).max(0) as u64);
    let deadline = (Instant::now() + Duration::from_millis(expires_in) + EXPIRY_GRACE)
        .min(started + Duration::from_secs(wait) + MAX_OVERRUN);
    let mut stopping = state.stopping.clone();
    let mut pause = std::sync::Arc::new(created);
    while !pause.status.is_terminal() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || *stopping.borrow_and_update() {
            break;
        }
        pause = state
            .wait_for_decision(token.clone(), watch_id.clone(), left)
            .await?;
    }
    if !pause.status.is_terminal() {
        // A decision that landed just as the wait ended still counts.
        pause = state.pause_as(token, watch_id).await?;
    }
    let stopping_now = *stopping.borrow();
    Ok(outcome(&pause, wait, stopping_now))
}

fn outcome(pause: &Pause, wait: u64, stopping: bool) -> Outcome {
    let by = pause.resolved_by.as_deref().unwrap_or("someone");
    let said = |text: String| match pause.comment.as_deref() {
        Some(comment) if !comment.trim().is_empty() => format!("{text}: {comment}"),
        _ => text,
    };
    match pause.status {
        Status::Approved => match (
            pause.edited(),
            claude_code::edited_input(pause.approved_context(), "tool_input"),
        ) {
            // The edit left no tool input to run: nothing safe to allow.
            (true, None) => Outcome::Denied(format!(
                "hitl: approved by {by} with changes that leave no tool_input to run; not allowed"
            )),
            (_, edited) => Outcome::Allowed(said(format!("hitl: approved by {by}")), edited),
        },
        Status::Rejected => Outcome::Denied(said(format!("hitl: rejected by {by}"))),
        Status::Cancelled => Outcome::Denied(said(format!("hitl: cancelled by {by}"))),
        // Hooks only ask for decisions; an answer is not an approval.
        Status::Answered => Outcome::Denied(format!(
            "hitl: answered by {by} instead of approved; not allowed"
        )),
        Status::Pending if stopping => Outcome::Denied(
            "hitl: the server is stopping; no decision was made (ask again)".to_string(),
        ),
        Status::Expired | Status::Pending => Outcome::Denied(format!(
            "hitl: no decision within {wait} s; the request expired"
        )),
    }
}
