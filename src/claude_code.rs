//! The wire contract of Claude Code hooks (`PreToolUse` and `PermissionRequest`): what
//! a hook sends, the pause it becomes, and the answers. Shared by the server's
//! `POST /hooks/claude-code` and the `hitl hook claude-code` command.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::domain::pauses::MAX_ACTION_BYTES;
use crate::text::cut_bytes;

/// The tag every pause from a hook carries.
pub const TAG: &str = "claude-code";
/// The longest a hook waits for a decision, in seconds: under the hook's 600 s timeout.
pub const MAX_WAIT_SECS: u64 = 590;

/// The hook events hitl answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    PreToolUse,
    PermissionRequest,
}

impl Event {
    pub fn parse(name: &str) -> Option<Event> {
        match name {
            "PreToolUse" => Some(Event::PreToolUse),
            "PermissionRequest" => Some(Event::PermissionRequest),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Event::PreToolUse => "PreToolUse",
            Event::PermissionRequest => "PermissionRequest",
        }
    }

    /// The event a body names, for answering even a body that is otherwise unusable:
    /// `PermissionRequest` when it says so, else `PreToolUse`.
    pub fn guess(body: &[u8]) -> Event {
        #[derive(Deserialize)]
        struct Probe {
            hook_event_name: Option<String>,
        }
        serde_json::from_slice::<Probe>(body)
            .ok()
            .and_then(|p| p.hook_event_name)
            .and_then(|name| Event::parse(&name))
            .unwrap_or(Event::PreToolUse)
    }
}

/// A hook's input. Fields hitl does not use (`transcript_path`,
/// `permission_suggestions`, `agent_id`, `agent_type`, and any added later) are ignored.
#[derive(Debug, Deserialize)]
pub struct Input {
    pub hook_event_name: String,
    pub tool_name: String,
    /// Kept as sent: it goes into the pause's context and back as `updatedInput`.
    pub tool_input: Box<RawValue>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub permission_mode: Option<String>,
}

/// The one-line action a reviewer reads for a tool call: `"{tool_name}: {subject}"`,
/// cut to the action limit on a character boundary. The subject is the input's `field`
/// when that is a string (a command, a file), else the input as compact JSON.
pub fn tool_action(tool_name: &str, input: &RawValue, field: Option<&str>) -> String {
    let value: Value = serde_json::from_str(input.get()).unwrap_or(Value::Null);
    let subject = match field.and_then(|f| value.get(f)).and_then(Value::as_str) {
        Some(text) => text.to_string(),
        None => value.to_string(),
    };
    cut_bytes(&format!("{tool_name}: {subject}"), MAX_ACTION_BYTES)
}

impl Input {
    /// The tool and its most telling field: the command of `Bash`, the file of `Edit`,
    /// `Write` and `Read`, the URL of `WebFetch` (see [`tool_action`]).
    pub fn action(&self) -> String {
        let field = match self.tool_name.as_str() {
            "Bash" => Some("command"),
            "Edit" | "Write" | "Read" => Some("file_path"),
            "WebFetch" => Some("url"),
            _ => None,
        };
        tool_action(&self.tool_name, &self.tool_input, field)
    }

    /// The pause's context, as JSON text: the input as sent and where it came from.
    pub fn context(&self) -> serde_json::Result<Box<RawValue>> {
        #[derive(Serialize)]
        struct Context<'a> {
            tool_input: &'a RawValue,
            cwd: &'a Option<String>,
            session_id: &'a Option<String>,
            hook_event_name: &'a str,
            permission_mode: &'a Option<String>,
        }
        let text = serde_json::to_string(&Context {
            tool_input: &self.tool_input,
            cwd: &self.cwd,
            session_id: &self.session_id,
            hook_event_name: &self.hook_event_name,
            permission_mode: &self.permission_mode,
        })?;
        RawValue::from_string(text)
    }
}

/// The tool input a reviewer approved with changes: the member `field` (`tool_input`
/// for a hook, `input` for the permission prompt) of the pause's edited context, as
/// its JSON text; `None` when the context was not edited or has no such member.
pub fn edited_input(approved_context: Option<&str>, field: &str) -> Option<Box<RawValue>> {
    let mut members: std::collections::HashMap<String, Box<RawValue>> =
        serde_json::from_str(approved_context?).ok()?;
    members.remove(field)
}

/// The answer that lets the tool run, with the input to run it with: the reviewer's
/// edit if they made one (`edited`), else the input as sent. A `PermissionRequest`
/// allow always carries the input as `updatedInput` (recent versions drop a bare
/// allow); a `PreToolUse` allow carries it only when it was edited.
pub fn allow(
    event: Event,
    reason: &str,
    tool_input: &RawValue,
    edited: Option<&RawValue>,
) -> Value {
    match event {
        Event::PreToolUse => {
            let mut out = json!({
                "hookEventName": "PreToolUse",
                "permissionDecision": "allow",
                "permissionDecisionReason": reason,
            });
            if let Some(edited) = edited {
                out["updatedInput"] = serde_json::from_str(edited.get()).unwrap_or(Value::Null);
            }
            json!({ "hookSpecificOutput": out })
        }
        Event::PermissionRequest => {
            let input = edited.unwrap_or(tool_input);
            let input: Value = serde_json::from_str(input.get()).unwrap_or(Value::Null);
            json!({
                "hookSpecificOutput": {
                    "hookEventName": "PermissionRequest",
                    "decision": { "behavior": "allow", "updatedInput": input },
                }
            })
        }
    }
}

/// The answer that stops the tool, with the reason Claude Code shows.
pub fn deny(event: Event, reason: &str) -> Value {
    match event {
        Event::PreToolUse => json!({
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": reason,
            }
        }),
        Event::PermissionRequest => json!({
            "hookSpecificOutput": {
                "hookEventName": "PermissionRequest",
                "decision": { "behavior": "deny", "message": reason, "interrupt": false },
            }
        }),
    }
}

/// Whether `answer` is a well-formed answer to `event` (what the command checks before
/// passing the server's answer on).
pub fn is_answer(event: Event, answer: &Value) -> bool {
    let out = &answer["hookSpecificOutput"];
    if out["hookEventName"] != event.as_str() {
        return false;
    }
    match event {
        Event::PreToolUse => {
            matches!(out["permissionDecision"].as_str(), Some("allow" | "deny"))
                && out["permissionDecisionReason"].is_string()
        }
        Event::PermissionRequest => match out["decision"]["behavior"].as_str() {
            Some("allow") => !out["decision"]["updatedInput"].is_null(),
            Some("deny") => out["decision"]["message"].is_string(),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn input(tool: &str, tool_input: &str) -> Input {
        serde_json::from_value(json!({
            "session_id": "s1", "transcript_path": "/t", "cwd": "/w",
            "permission_mode": "default", "hook_event_name": "PreToolUse",
            "tool_name": tool, "tool_input": serde_json::from_str::<Value>(tool_input).unwrap(),
            "agent_type": "Explore", "something_new": 1
        }))
        .unwrap()
    }

    #[test]
    fn the_action_names_the_tool_and_its_most_telling_field() {
        assert_eq!(
            input("Bash", r#"{"command":"rm -rf /tmp/x","description":"d"}"#).action(),
            "Bash: rm -rf /tmp/x"
        );
        assert_eq!(
            input("Write", r#"{"file_path":"/a.txt","content":"x"}"#).action(),
            "Write: /a.txt"
        );
        assert_eq!(
            input("WebFetch", r#"{"url":"https://e.com","prompt":"p"}"#).action(),
            "WebFetch: https://e.com"
        );
        assert_eq!(
            input("mcp__db__query", r#"{ "sql" : "drop table t", "n": 1.50 }"#).action(),
            r#"mcp__db__query: {"sql":"drop table t","n":1.50}"#
        );
        // A missing field falls back to the whole input.
        assert_eq!(input("Bash", r#"{"x":1}"#).action(), r#"Bash: {"x":1}"#);
    }

    #[test]
    fn a_long_action_is_cut_on_a_character_boundary() {
        let command = "é".repeat(3_000);
        let action = input("Bash", &json!({ "command": command }).to_string()).action();
        assert!(action.len() <= MAX_ACTION_BYTES);
        assert!(action.starts_with("Bash: éé") && action.ends_with('…'));
    }

    #[test]
    fn answers_are_recognised_for_their_event_only() {
        let raw = RawValue::from_string(r#"{"a":1}"#.into()).unwrap();
        for event in [Event::PreToolUse, Event::PermissionRequest] {
            assert!(is_answer(event, &allow(event, "ok", &raw, None)));
            assert!(is_answer(event, &allow(event, "ok", &raw, Some(&raw))));
            assert!(is_answer(event, &deny(event, "no")));
        }
        // An edit goes back as the input to run, for both events.
        let edited = RawValue::from_string(r#"{"a":2}"#.into()).unwrap();
        let pre = allow(Event::PreToolUse, "ok", &raw, Some(&edited));
        assert_eq!(pre["hookSpecificOutput"]["updatedInput"], json!({"a": 2}));
        assert!(
            allow(Event::PreToolUse, "ok", &raw, None)["hookSpecificOutput"]
                .get("updatedInput")
                .is_none()
        );
        let req = allow(Event::PermissionRequest, "ok", &raw, Some(&edited));
        assert_eq!(
            req["hookSpecificOutput"]["decision"]["updatedInput"],
            json!({"a": 2})
        );
        assert_eq!(
            edited_input(
                Some(r#"{"tool_input":{"command":"ls"},"cwd":"/w"}"#),
                "tool_input"
            )
            .map(|r| r.get().to_string()),
            Some(r#"{"command":"ls"}"#.to_string())
        );
        assert!(edited_input(None, "tool_input").is_none());
        assert!(edited_input(Some("[1]"), "tool_input").is_none());
        assert!(!is_answer(
            Event::PermissionRequest,
            &deny(Event::PreToolUse, "no")
        ));
        assert!(!is_answer(Event::PreToolUse, &json!({"error": {}})));
        assert_eq!(
            Event::guess(br#"{"hook_event_name":"PermissionRequest"}"#),
            Event::PermissionRequest
        );
        assert_eq!(Event::guess(b"not json"), Event::PreToolUse);
    }
}
