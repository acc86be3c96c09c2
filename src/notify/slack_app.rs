//! The Slack app (`--slack-bot-token`): every new pause posted to the team's channel
//! (`--slack-channel`) and sent as a direct message to each reviewer who keeps Slack
//! on, with Approve and Reject buttons; each message is kept (`chat_messages`) and
//! edited to show the outcome once the pause is decided. The buttons come back to
//! `POST /slack/interactions` (`crate::http::slack`).

pub mod api;
pub mod blocks;

use std::time::Instant;

use serde_json::{json, Value};

use super::{Sent, Worker};
use crate::db;
use crate::domain::outbox::{Attempt, Job, Next};
use crate::domain::pauses::Pause;
use crate::domain::Status;
use crate::model::delivery::Kind;
use crate::model::reach::Channel;
use api::{Api, Failure};
use blocks::Why;

/// A message Slack posted: its channel (a `D…` id for a direct message) and `ts`.
#[derive(Debug, Clone)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// `chat.postMessage` of `message` (its `text` and `blocks`) to `channel`.
pub fn post_message(api: &Api, channel: &str, message: &Value) -> Result<Posted, Failure> {
    let mut body = message.clone();
    body["channel"] = json!(channel);
    body["unfurl_links"] = json!(false);
    body["unfurl_media"] = json!(false);
    let answer = api.post("chat.postMessage", &body)?;
    match (answer["channel"].as_str(), answer["ts"].as_str()) {
        (Some(channel), Some(ts)) => Ok(Posted {
            channel: channel.to_string(),
            ts: ts.to_string(),
        }),
        _ => Err(Failure::Refused {
            error: "Slack's answer to chat.postMessage has no channel and ts".into(),
            status: Some(200),
            code: None,
        }),
    }
}

/// `chat.update` of a posted message to `message`.
pub fn update(api: &Api, channel: &str, ts: &str, message: &Value) -> Result<(), Failure> {
    let mut body = message.clone();
    body["channel"] = json!(channel);
    body["ts"] = json!(ts);
    api.post("chat.update", &body).map(|_| ())
}

/// What came of a row, short of a failed call.
enum Done {
    Sent,
    /// Sent, but something after it went wrong (said in the attempt's error).
    SentBut(String),
    Skipped(&'static str),
}

pub(super) fn send(worker: &Worker, job: &Job, agent: &ureq::Agent) -> Sent {
    let Some(app) = worker.settings.chat.slack_app.as_ref() else {
        return Sent::Skipped("not sent: the Slack app is not configured any more");
    };
    let Some(pause) = &job.pause else {
        return Sent::Skipped("not sent: the pause no longer exists");
    };
    let api = Api { agent, app };
    let payload: Value = serde_json::from_str(&job.row.payload).unwrap_or_default();
    let review = worker.settings.urls.review(&pause.watch_id);
    let started = Instant::now();
    let done = match payload["event"].as_str().unwrap_or_default() {
        "resolved" => edit(worker, &api, pause, payload["message"].as_i64(), &review),
        _ if job.row.target == "channel" => match app.channel.as_deref() {
            Some(channel) => to_channel(worker, &api, pause, channel, &review),
            None => Ok(Done::Skipped("not sent: no --slack-channel any more")),
        },
        event => direct(worker, &api, job, pause, event, &review),
    };
    let duration_ms = started.elapsed().as_millis() as i64;
    match done {
        Ok(Done::Skipped(why)) => Sent::Skipped(why),
        Ok(done) => Sent::Tried(Attempt {
            ok: true,
            http_status: Some(200),
            error: match done {
                Done::SentBut(why) => Some(why),
                _ => None,
            },
            duration_ms,
            next: Next::Schedule,
        }),
        Err(f @ Failure::Again { .. }) => Sent::Tried(f.attempt(started)),
        Err(Failure::Refused { error, .. }) => Sent::Impossible(error),
    }
}

/// A new pause in the team's channel. Posted as it is when claimed; if it was decided
/// while the message went out, the message is edited right away.
fn to_channel(
    worker: &Worker,
    api: &Api,
    pause: &Pause,
    channel: &str,
    review: &str,
) -> Result<Done, Failure> {
    let posted = post_message(api, channel, &blocks::current(pause, review, Why::New))?;
    keep(worker, api, pause, posted, None, review)
}

/// A direct message to a reviewer, found in Slack by their email.
fn direct(
    worker: &Worker,
    api: &Api,
    job: &Job,
    pause: &Pause,
    event: &str,
    review: &str,
) -> Result<Done, Failure> {
    let Some(user) = job.user.as_ref().filter(|u| u.wants(Channel::Slack)) else {
        return Ok(Done::Skipped(
            "not sent: the reviewer was removed or turned Slack off",
        ));
    };
    if pause.status != Status::Pending {
        return Ok(Done::Skipped(
            "not sent: the pause was decided before the message went out",
        ));
    }
    let found = api
        .get("users.lookupByEmail", &[("email", &user.email)])
        .map_err(|f| match f.code() {
            Some("users_not_found") => Failure::Refused {
                error: format!(
                    "no one in the Slack workspace has the email {}: they get no Slack messages until their Slack email is the one hitl knows",
                    user.email
                ),
                status: Some(200),
                code: None,
            },
            _ => f,
        })?;
    let Some(slack_user) = found["user"]["id"].as_str() else {
        return Err(Failure::Refused {
            error: "Slack's answer to users.lookupByEmail has no user id".into(),
            status: Some(200),
            code: None,
        });
    };
    let why = match event {
        "reminder" => Why::Reminder,
        "escalated" => Why::Escalated,
        _ => Why::New,
    };
    let posted = post_message(api, slack_user, &blocks::pending(pause, review, why))?;
    keep(worker, api, pause, posted, Some(user.id), review)
}

/// Keeps a posted message so that the pause's outcome edits it. Kept in the writer's
/// transaction that also reads the pause: decided before, the message is edited now;
/// decided after, the decision finds the message and queues its edit.
fn keep(
    worker: &Worker,
    api: &Api,
    pause: &Pause,
    posted: Posted,
    user_id: Option<i64>,
    review: &str,
) -> Result<Done, Failure> {
    let now = worker.keep_message(
        &pause.watch_id,
        Kind::Slack,
        posted.channel.clone(),
        posted.ts.clone(),
        user_id,
    );
    match now {
        Ok(Some(now)) if now.status != pause.status => update(
            api,
            &posted.channel,
            &posted.ts,
            &blocks::current(&now, review, Why::New),
        )
        .map(|()| Done::Sent)
        .or_else(|f| {
            Ok(Done::SentBut(format!(
                "posted, but the pause was decided meanwhile and the edit failed: {}",
                f.message()
            )))
        }),
        Ok(_) => Ok(Done::Sent),
        Err(e) => Ok(Done::SentBut(format!(
            "posted, but not kept to show the outcome later: {e}"
        ))),
    }
}

/// The outcome of a decided pause, shown in a message posted about it.
fn edit(
    worker: &Worker,
    api: &Api,
    pause: &Pause,
    message: Option<i64>,
    review: &str,
) -> Result<Done, Failure> {
    let Some(id) = message else {
        return Err(Failure::Refused {
            error: "the edit names no message".into(),
            status: None,
            code: None,
        });
    };
    let found = worker
        .reads
        .get()
        .map_err(|e| e.to_string())
        .and_then(|conn| db::chat::by_id(&conn, id).map_err(|e| e.to_string()));
    let message = match found {
        Ok(Some(message)) => message,
        Ok(None) => return Ok(Done::Skipped("not sent: the message is no longer kept")),
        Err(e) => {
            return Err(Failure::Again {
                error: format!("cannot read the message to edit: {e}"),
                status: None,
                after: None,
            })
        }
    };
    update(
        api,
        &message.chat,
        &message.message,
        &blocks::current(pause, review, Why::New),
    )?;
    Ok(Done::Sent)
}
