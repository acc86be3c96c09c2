//! Slack's Web API, as the app calls it: JSON (or a query) with the bot token as a
//! bearer. Slack answers most failures with HTTP 200 and `{"ok": false, "error": ...}`:
//! those count as failures too, retried when Slack is only busy, else refused for good
//! with a sentence saying what to fix.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::SlackApp;
use crate::domain::outbox::{Attempt, Next};
use crate::notify::webhook::retry_after;

/// The most of an answer read (a `users.info` answer is a few KiB).
const ANSWER_LIMIT: u64 = 1024 * 1024;

/// A call that did not succeed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Worth trying again later (network, Slack busy or failing); `after`: the wait
    /// Slack asked for.
    Again {
        error: String,
        status: Option<u16>,
        after: Option<Duration>,
    },
    /// No retry can succeed (a wrong token or channel, a missing scope, no such user).
    Refused {
        error: String,
        status: Option<u16>,
        /// Slack's error code (`users_not_found`), if it gave one.
        code: Option<String>,
    },
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Again { error, .. } | Failure::Refused { error, .. } => error,
        }
    }

    /// Slack's error code, when Slack refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            Failure::Refused { code, .. } => code.as_deref(),
            Failure::Again { .. } => None,
        }
    }

    /// As an outbox attempt.
    pub fn attempt(&self, started: Instant) -> Attempt {
        let duration_ms = started.elapsed().as_millis() as i64;
        match self {
            Failure::Again {
                error,
                status,
                after,
            } => Attempt {
                ok: false,
                http_status: *status,
                error: Some(error.clone()),
                duration_ms,
                next: after.map_or(Next::Schedule, Next::After),
            },
            Failure::Refused { error, status, .. } => Attempt {
                ok: false,
                http_status: *status,
                error: Some(error.clone()),
                duration_ms,
                next: Next::Fail,
            },
        }
    }
}

/// Slack's error codes that a later attempt may get past.
const TRANSIENT: [&str; 6] = [
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// What to do about an error Slack gave, in plain words.
fn explain(method: &str, code: &str, needed: Option<&str>) -> String {
    let hint = match code {
        "channel_not_found" => {
            " (check --slack-channel: a channel id such as C0123456789 the app can see)".to_string()
        }
        "not_in_channel" => " (invite the app to the channel: /invite @yourapp)".to_string(),
        "is_archived" => " (the channel is archived)".to_string(),
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive" => {
            " (check --slack-bot-token: a bot token xoxb-… of an installed app)".to_string()
        }
        "missing_scope" => format!(
            " (give the app the scope {} and reinstall it)",
            needed.unwrap_or("it needs")
        ),
        "users_not_found" => " (no one in the workspace has this email)".to_string(),
        "message_not_found" | "cant_update_message" => " (the message was deleted)".to_string(),
        _ => String::new(),
    };
    format!("Slack refused {method}: {code}{hint}")
}

/// The Slack Web API of one app, through `agent` (its timeout is the calls' timeout).
pub struct Api<'a> {
    pub agent: &'a ureq::Agent,
    pub app: &'a SlackApp,
}

impl Api<'_> {
    /// `POST {api}/{method}` with a JSON body.
    pub fn post(&self, method: &str, body: &Value) -> Result<Value, Failure> {
        let response = self
            .agent
            .post(format!("{}/{method}", self.app.api_url))
            .header("authorization", &format!("Bearer {}", self.app.bot_token))
            .header("content-type", "application/json; charset=utf-8")
            .send(body.to_string());
        judge(method, response)
    }

    /// `GET {api}/{method}?query` (the methods that take no JSON, e.g. `users.info`).
    pub fn get(&self, method: &str, query: &[(&str, &str)]) -> Result<Value, Failure> {
        let mut request = self
            .agent
            .get(format!("{}/{method}", self.app.api_url))
            .header("authorization", &format!("Bearer {}", self.app.bot_token));
        for (name, value) in query {
            request = request.query(*name, *value);
        }
        judge(method, request.call())
    }
}

fn judge(
    method: &str,
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Value, Failure> {
    let mut response = response.map_err(|e| Failure::Again {
        error: match e {
            ureq::Error::Timeout(_) => format!("Slack did not answer {method} in time"),
            other => format!("cannot reach Slack for {method}: {other}"),
        },
        status: None,
        after: None,
    })?;
    let status = response.status().as_u16();
    let after = retry_after(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
    );
    let text = response
        .body_mut()
        .with_config()
        .limit(ANSWER_LIMIT)
        .read_to_string()
        .unwrap_or_default();
    match status {
        200..=299 => {}
        429 | 408 | 500..=599 => {
            return Err(Failure::Again {
                error: format!("Slack answered {method} with HTTP {status}"),
                status: Some(status),
                after,
            })
        }
        _ => {
            return Err(Failure::Refused {
                error: format!(
                    "Slack answered {method} with HTTP {status} (check --slack-api-url)"
                ),
                status: Some(status),
                code: None,
            })
        }
    }
    let Ok(body) = serde_json::from_str::<Value>(&text) else {
        return Err(Failure::Again {
            error: format!("Slack's answer to {method} is not JSON"),
            status: Some(status),
            after: None,
        });
    };
    if body["ok"] == true {
        return Ok(body);
    }
    let code = body["error"]
        .as_str()
        .unwrap_or("unknown_error")
        .to_string();
    let error = explain(method, &code, body["needed"].as_str());
    if TRANSIENT.contains(&code.as_str()) {
        Err(Failure::Again {
            error,
            status: Some(status),
            after,
        })
    } else {
        Err(Failure::Refused {
            error,
            status: Some(status),
            code: Some(code),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_to_fix() {
        assert_eq!(
            explain("chat.postMessage", "not_in_channel", None),
            "Slack refused chat.postMessage: not_in_channel (invite the app to the channel: /invite @yourapp)"
        );
        assert!(
            explain("users.info", "missing_scope", Some("users:read.email"))
                .contains("users:read.email")
        );
        assert_eq!(explain("x", "odd", None), "Slack refused x: odd");
    }
}
