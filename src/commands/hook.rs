//! `hitl hook claude-code`: Claude Code hooks of type `command`. The hook's input comes
//! on standard input and goes as it is to the server's `POST /hooks/claude-code`, which
//! creates the pause and waits; its answer goes to standard output.
//!
//! It fails closed: when the server cannot be reached, or answers anything but a hook
//! answer, a deny goes to standard output, the reason to standard error, and the exit
//! code is 2, which Claude Code reads as "block".

use std::io::Read as _;
use std::process::ExitCode;
use std::time::Duration;

use super::client::{self, Answer};
use crate::claude_code::{self, Event};
use crate::cli::HookArgs;

/// How much longer than the server's wait the request may take.
const REQUEST_MARGIN: Duration = Duration::from_secs(5);

pub fn claude_code(args: &HookArgs) -> ExitCode {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        return block(
            Event::PreToolUse,
            &format!("hitl: could not read the hook's input: {e}"),
        );
    }
    let event = Event::guess(&input);
    match ask(args, input, event) {
        Ok(answer) => {
            say!("{answer}");
            ExitCode::SUCCESS
        }
        Err(reason) => block(event, &format!("hitl: {reason}")),
    }
}

/// Sends the input to the server and returns its answer, if it is one.
fn ask(args: &HookArgs, input: Vec<u8>, event: Event) -> Result<serde_json::Value, String> {
    let base = client::base_url(&args.client)?;
    if args.wait > claude_code::MAX_WAIT_SECS {
        return Err(format!(
            "--wait must be from 0 to {} seconds",
            claude_code::MAX_WAIT_SECS
        ));
    }
    let url = format!("{base}/hooks/claude-code?wait={}", args.wait);
    let agent = client::agent(Duration::from_secs(args.wait.max(1)) + REQUEST_MARGIN);
    let mut request = agent.post(&url).header("Content-Type", "application/json");
    if let Some(key) = args.api_key.as_deref().filter(|k| !k.trim().is_empty()) {
        request = request.header("Authorization", &format!("Bearer {}", key.trim()));
    }
    let answer = request
        .send(&input[..])
        .map(Answer::read)
        .map_err(|e| format!("could not reach {base}: {e}"))?;
    if answer.status != 200 {
        return Err(format!(
            "could not ask for approval: {}",
            answer.error_message()
        ));
    }
    if !claude_code::is_answer(event, &answer.body) {
        return Err(format!(
            "{base} did not answer as a hitl server does (is HITL_URL right?)"
        ));
    }
    Ok(answer.body)
}

/// A deny on standard output, the reason on standard error, and exit code 2.
fn block(event: Event, reason: &str) -> ExitCode {
    say!("{}", claude_code::deny(event, reason));
    eprintln!("{reason}");
    ExitCode::from(2)
}
