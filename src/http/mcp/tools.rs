//! The MCP tools: `request_approval`, `get_approval`, `ask_human` and
//! `permission_prompt` (for `claude -p --permission-prompt-tool`). A refused argument, an unknown pause or a
//! refused request is a tool result with `isError`, not a protocol error.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::{Failure, RpcError};
use crate::domain::pauses::{CreateRequest, Pause};
use crate::domain::{Error, Status};
use crate::http::AppState;

/// The longest a tool call waits: most clients give up on one after 60 s.
pub const MAX_WAIT_SECS: u64 = 50;
/// A permission prompt's pause expires after this, a little before its wait ends, so
/// nobody approves what no one waits for any more.
const PROMPT_TIMEOUT_SECS: i64 = 48;
const PROMPT_TAG: &str = "claude-code";
/// The comment on a permission prompt's pause cancelled because its client went away.
const DISCONNECTED: &str =
    "the agent disconnected before a decision (the permission prompt stopped waiting)";

/// The `tools/list` entries.
/// The tool list, built once: it never changes.
pub fn list() -> &'static Value {
    static TOOLS: std::sync::LazyLock<Value> = std::sync::LazyLock::new(build_list);
    &TOOLS
}

fn build_list() -> Value {
    let receipt = json!({
        "type": ["string", "null"],
        "description": "The signed receipt of the decision (a compact JWS, EdDSA; null while pending): pass it to the tool that acts, which checks it against /.well-known/jwks.json and its own arguments."
    });
    let approval = json!({
        "type": "object",
        "properties": {
            "watchId": { "type": "string", "description": "The request's id, for get_approval." },
            "status": {
                "type": "string",
                "enum": ["pending", "approved", "rejected", "answered", "expired", "cancelled"],
                "description": "Act only on approved; pending means no decision yet."
            },
            "comment": { "type": ["string", "null"], "description": "The reviewer's comment." },
            "answer": { "type": ["string", "null"], "description": "A question's answer (null for a decision)." },
            "response": { "type": ["object", "null"], "description": "The form the reviewer filled in, when responseSchema asked for one." },
            "resolvedBy": { "type": ["string", "null"], "description": "Who decided." },
            "reviewUrl": { "type": "string", "description": "Where a reviewer decides." },
            "edited": { "type": "boolean", "description": "A reviewer changed the context before approving: act on approvedContext." },
            "approvedContext": { "description": "The context as the reviewer edited and approved it; null when not edited." },
            "receipt": receipt
        },
        "required": ["watchId", "status", "comment", "answer", "resolvedBy", "reviewUrl", "edited", "approvedContext", "receipt"]
    });
    let answered = json!({
        "type": "object",
        "properties": {
            "watchId": { "type": "string", "description": "The question's id, for get_approval." },
            "status": {
                "type": "string",
                "enum": ["pending", "answered", "expired", "cancelled"],
                "description": "answered once a person answered; pending means no answer yet."
            },
            "answer": { "type": ["string", "null"], "description": "The answer: one of the options if any were given." },
            "response": { "type": ["object", "null"], "description": "With responseSchema: the form the person filled in (answer holds the same as JSON text)." },
            "resolvedBy": { "type": ["string", "null"], "description": "Who answered." },
            "reviewUrl": { "type": "string", "description": "Where a reviewer answers." },
            "receipt": receipt
        },
        "required": ["watchId", "status", "answer", "resolvedBy", "reviewUrl", "receipt"]
    });
    let wait = json!({
        "type": "integer",
        "minimum": 0,
        "description": format!(
            "Seconds to wait for a decision before answering (at most {MAX_WAIT_SECS}; 0, the default, answers at once)."
        )
    });
    json!([
        {
            "name": "request_approval",
            "title": "Request approval",
            "description": "Ask a person to approve an action before you take it. Returns a watchId and the status; act only once the status is approved (poll with get_approval).",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "action": { "type": "string", "description": "What you want to do, in one line (at most 2,000 bytes)." },
                    "context": { "description": "Any JSON the reviewer should see: the command, the diff, the reason." },
                    "tags": { "type": "array", "items": { "type": "string" }, "description": "Labels for filtering (at most 20)." },
                    "timeoutSeconds": { "type": "integer", "minimum": 1, "description": "Expire the request after this many seconds." },
                    "onTimeout": { "type": "string", "enum": ["expire", "reject", "approve"], "description": "What the timeout does: expire (the default), or decide reject or approve." },
                    "risk": { "type": "string", "enum": ["low", "medium", "high", "critical"], "description": "How much harm the action could do if it goes wrong, as you rate it; shown beside the action." },
                    "responseSchema": { "type": "object", "description": "A form the person fills in: a JSON Schema object of string, number, integer, boolean and enum fields (required, minimum, maximum, maxLength, title, description). The result's response holds what they entered." },
                    "summary": { "type": "string", "maxLength": 1000, "description": "What will happen if approved, in plain words (at most 1,000 bytes); shown under the action." },
                    "waitSeconds": wait
                },
                "required": ["action"],
                "additionalProperties": false
            },
            "outputSchema": approval
        },
        {
            "name": "get_approval",
            "title": "Get an approval's status",
            "description": "The status of a request made with request_approval; with waitSeconds, waits until it is decided or the time passes.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "watchId": { "type": "string", "description": "The id request_approval returned." },
                    "waitSeconds": wait
                },
                "required": ["watchId"],
                "additionalProperties": false
            },
            "outputSchema": approval
        },
        {
            "name": "ask_human",
            "title": "Ask a person a question",
            "description": "Ask a person a question and get their answer: free text, or exactly one of the options if you give some. Returns a watchId and the status; with waitSeconds, waits for the answer (poll with get_approval).",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "question": { "type": "string", "description": "The question, in one line (at most 2,000 bytes)." },
                    "options": {
                        "type": "array",
                        "items": { "type": "string" },
                        "minItems": 1,
                        "maxItems": 20,
                        "description": "The choices the person picks one of (distinct, short); without them the answer is free text."
                    },
                    "responseSchema": { "type": "object", "description": "A form the person fills in: a JSON Schema object of string, number, integer, boolean and enum fields (required, minimum, maximum, maxLength, title, description). The result's response holds what they entered." },
                    "waitSeconds": wait
                },
                "required": ["question"],
                "additionalProperties": false
            },
            "outputSchema": answered
        },
        {
            "name": "permission_prompt",
            "title": "Claude Code permission prompt",
            "description": "For claude -p --permission-prompt-tool mcp__hitl__permission_prompt: asks a person whether a tool may run, waits for the decision, and answers allow or deny.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "tool_name": { "type": "string" },
                    "input": { "type": "object" },
                    "tool_use_id": { "type": "string" }
                },
                "required": ["tool_name", "input"]
            }
        }
    ])
}

#[derive(Deserialize)]
struct CallParams {
    name: String,
    #[serde(default)]
    arguments: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RequestArgs {
    action: String,
    #[serde(default)]
    context: Option<Box<RawValue>>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    timeout_seconds: Option<i64>,
    #[serde(default)]
    on_timeout: Option<String>,
    #[serde(default)]
    risk: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    response_schema: Option<Box<RawValue>>,
    #[serde(default)]
    wait_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AskArgs {
    question: String,
    #[serde(default)]
    options: Option<Vec<String>>,
    #[serde(default)]
    response_schema: Option<Box<RawValue>>,
    #[serde(default)]
    wait_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GetArgs {
    watch_id: String,
    #[serde(default)]
    wait_seconds: Option<u64>,
}

#[derive(Deserialize)]
struct PromptArgs {
    tool_name: String,
    input: Box<RawValue>,
    #[serde(default)]
    tool_use_id: Option<String>,
}

/// `tools/call`.
pub async fn call(
    state: &AppState,
    token: String,
    params: Option<&RawValue>,
) -> Result<Value, Failure> {
    let params: CallParams = params
        .ok_or_else(|| RpcError::invalid_params("tools/call needs params with a name"))
        .and_then(|p| {
            serde_json::from_str(p.get()).map_err(|e| {
                RpcError::invalid_params(format!("tools/call params are not valid: {e}"))
            })
        })?;
    let arguments = params.arguments.as_deref();
    let outcome = match params.name.as_str() {
        "request_approval" => match parse(arguments) {
            Ok(args) => request_approval(state, token, args).await,
            Err(message) => Err(Error::Validation(message)),
        },
        "get_approval" => match parse(arguments) {
            Ok(args) => get_approval(state, token, args).await,
            Err(message) => Err(Error::Validation(message)),
        },
        "ask_human" => match parse(arguments) {
            Ok(args) => ask_human(state, token, args).await,
            Err(message) => Err(Error::Validation(message)),
        },
        "permission_prompt" => match parse(arguments) {
            Ok(args) => permission_prompt(state, token, args).await,
            Err(message) => Err(Error::Validation(message)),
        },
        other => {
            return Err(RpcError::invalid_params(format!("unknown tool: {other}")).into());
        }
    };
    match outcome {
        Ok(result) => Ok(result),
        Err(e @ (Error::Unauthorized | Error::RateLimited { .. } | Error::Internal(_))) => {
            Err(e.into())
        }
        Err(e) => Ok(json!({
            "content": [{ "type": "text", "text": e.to_string() }],
            "isError": true
        })),
    }
}

/// The arguments as the tool takes them, or why not.
fn parse<T: DeserializeOwned>(arguments: Option<&RawValue>) -> Result<T, String> {
    let text = arguments.map_or("{}", RawValue::get);
    serde_json::from_str(text).map_err(|e| format!("the arguments are not valid: {e}"))
}

fn wait_for(seconds: Option<u64>) -> Duration {
    Duration::from_secs(seconds.unwrap_or(0).min(MAX_WAIT_SECS))
}

/// The object `request_approval` and `get_approval` answer, as structured content and
/// as the same JSON in one text block.
fn approval_result(pause: &Pause, state: &AppState) -> Value {
    tool_result(json!({
        "watchId": pause.watch_id,
        "status": pause.status,
        "comment": pause.comment,
        "answer": pause.answer,
        "response": response_of(pause),
        "resolvedBy": pause.resolved_by,
        "reviewUrl": state.urls.review(&pause.watch_id),
        "edited": pause.edited(),
        "approvedContext": pause.approved_context()
            .and_then(|c| serde_json::from_str::<Value>(c).ok()),
        "receipt": state.receipts.receipt(pause),
    }))
}

/// The reviewer's filled-in form, as JSON (stored as checked JSON text).
fn response_of(pause: &Pause) -> Value {
    pause
        .response
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(Value::Null)
}

/// The object `ask_human` answers.
fn answer_result(pause: &Pause, state: &AppState) -> Value {
    tool_result(json!({
        "watchId": pause.watch_id,
        "status": pause.status,
        "answer": pause.answer,
        "response": response_of(pause),
        "resolvedBy": pause.resolved_by,
        "reviewUrl": state.urls.review(&pause.watch_id),
        "receipt": state.receipts.receipt(pause),
    }))
}

/// `object` as structured content and as the same JSON in one text block.
fn tool_result(object: Value) -> Value {
    json!({
        "content": [{ "type": "text", "text": object.to_string() }],
        "structuredContent": object,
        "isError": false
    })
}

async fn request_approval(
    state: &AppState,
    token: String,
    args: RequestArgs,
) -> Result<Value, Error> {
    let wait = wait_for(args.wait_seconds);
    let new = CreateRequest {
        action: args.action,
        context: args.context,
        timeout_seconds: args.timeout_seconds,
        tags: args.tags,
        risk: args.risk,
        summary: args.summary,
        on_timeout: args.on_timeout,
        response_schema: args.response_schema,
        ..CreateRequest::default()
    }
    .validate(state.limits, None)?;
    let created = state.create_pause(token.clone(), new).await?;
    if wait.is_zero() {
        return Ok(approval_result(&created.pause, state));
    }
    let pause = state
        .wait_for_decision(token, created.pause.watch_id, wait)
        .await?;
    Ok(approval_result(&pause, state))
}

async fn ask_human(state: &AppState, token: String, args: AskArgs) -> Result<Value, Error> {
    let wait = wait_for(args.wait_seconds);
    let new = CreateRequest {
        action: args.question,
        kind: Some("question".to_string()),
        options: args.options,
        response_schema: args.response_schema,
        ..CreateRequest::default()
    }
    .validate(state.limits, None)?;
    let created = state.create_pause(token.clone(), new).await?;
    if wait.is_zero() {
        return Ok(answer_result(&created.pause, state));
    }
    let pause = state
        .wait_for_decision(token, created.pause.watch_id, wait)
        .await?;
    Ok(answer_result(&pause, state))
}

async fn get_approval(state: &AppState, token: String, args: GetArgs) -> Result<Value, Error> {
    let pause = state
        .wait_for_decision(token, args.watch_id, wait_for(args.wait_seconds))
        .await?;
    Ok(approval_result(&pause, state))
}

/// The one-line action a reviewer reads: the tool and what it works on.
fn prompt_action(tool_name: &str, input: &RawValue) -> String {
    let field = match tool_name {
        "Bash" => Some("command"),
        "Edit" | "MultiEdit" | "Write" | "Read" => Some("file_path"),
        _ => None,
    };
    crate::claude_code::tool_action(tool_name, input, field)
}

/// One text block holding Claude Code's permission answer.
fn prompt_answer(answer: String) -> Value {
    json!({ "content": [{ "type": "text", "text": answer }], "isError": false })
}

fn deny(message: &str) -> Value {
    prompt_answer(json!({ "behavior": "deny", "message": message }).to_string())
}

async fn permission_prompt(
    state: &AppState,
    token: String,
    args: PromptArgs,
) -> Result<Value, Error> {
    let action = prompt_action(&args.tool_name, &args.input);
    // Built as text so the input reaches the reviewer exactly as it was sent.
    let context = format!(
        r#"{{"tool_name":{},"input":{},"tool_use_id":{}}}"#,
        Value::from(args.tool_name.as_str()),
        args.input.get(),
        args.tool_use_id.map_or(Value::Null, Value::from),
    );
    let context = RawValue::from_string(context).map_err(Error::internal)?;
    let request = CreateRequest {
        action,
        context: Some(context),
        timeout_seconds: Some(PROMPT_TIMEOUT_SECS),
        tags: Some(vec![PROMPT_TAG.to_string()]),
        ..CreateRequest::default()
    };
    let created = match request.validate(state.limits, None) {
        Ok(new) => state.create_pause(token.clone(), new).await,
        Err(e) => Err(e),
    };
    let created = match created {
        Ok(created) => created,
        Err(e @ (Error::Unauthorized | Error::RateLimited { .. } | Error::Internal(_))) => {
            return Err(e)
        }
        // Fails closed: what cannot be asked is denied, with the reason.
        Err(e) => return Ok(deny(&format!("hitl could not ask for approval: {e}"))),
    };
    // Claude Code going away drops this future: the pause is then cancelled.
    let gone = state.cancel_on_drop(token.clone(), created.pause.watch_id.clone(), DISCONNECTED);
    let waited = state
        .wait_for_decision(
            token,
            created.pause.watch_id.clone(),
            Duration::from_secs(MAX_WAIT_SECS),
        )
        .await;
    gone.disarm();
    let pause = waited?;
    Ok(match pause.status {
        Status::Approved => {
            // The input a reviewer approved with changes, else the input as sent; an
            // edit that left no input has nothing safe to allow.
            let edited = crate::claude_code::edited_input(pause.approved_context(), "input");
            if pause.edited() && edited.is_none() {
                return Ok(deny(&format!(
                    "approved by {} with changes that leave no input to run; not allowed",
                    pause.resolved_by.as_deref().unwrap_or("a reviewer")
                )));
            }
            let input = edited.as_deref().unwrap_or(&args.input);
            prompt_answer(format!(
                r#"{{"behavior":"allow","updatedInput":{}}}"#,
                input.get()
            ))
        }
        status => {
            let reason = match (pause.comment.as_deref(), status) {
                (Some(comment), _) if !comment.trim().is_empty() => comment.to_string(),
                (_, Status::Rejected) => format!(
                    "rejected by {}",
                    pause.resolved_by.as_deref().unwrap_or("a reviewer")
                ),
                (_, Status::Pending | Status::Expired) => format!(
                    "hitl: no decision within {PROMPT_TIMEOUT_SECS} seconds; the request expired"
                ),
                _ => format!("hitl: the request was {status}"),
            };
            deny(&reason)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pauses::MAX_ACTION_BYTES;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn the_action_names_the_tool_and_what_it_works_on() {
        assert_eq!(
            prompt_action("Bash", &raw(r#"{"command":"rm -rf /tmp/x"}"#)),
            "Bash: rm -rf /tmp/x"
        );
        assert_eq!(
            prompt_action("Write", &raw(r#"{"file_path":"/etc/hosts","content":"x"}"#)),
            "Write: /etc/hosts"
        );
        assert_eq!(
            prompt_action("WebFetch", &raw(r#"{ "url": "https://x.test" }"#)),
            r#"WebFetch: {"url":"https://x.test"}"#
        );
    }

    #[test]
    fn a_long_action_is_cut_on_a_char_boundary() {
        let action = prompt_action(
            "Bash",
            &raw(&format!(r#"{{"command":"{}"}}"#, "é".repeat(3000))),
        );
        assert!(action.len() <= MAX_ACTION_BYTES);
        assert!(action.ends_with('…'));
    }
}
