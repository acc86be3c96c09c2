//! `POST /slack/interactions`: the Slack app's Approve and Reject buttons, and the
//! modal that asks why a pause is rejected. Every request is signed by Slack with the
//! app's signing secret (checked in constant time, within 5 minutes of its timestamp)
//! before anything is read. The person is the hitl user with the email of the Slack
//! user who pressed (`users.info`), and the decision is theirs through the one domain
//! function, with its rules (routing, self-approval, quorum). Slack wants an answer
//! within 3 s: button presses are answered at once and handled after; the modal's
//! submission waits for the decision (its refusal is shown in the modal).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest, HttpResponse};
use ring::hmac;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::{allow, AppState};
use crate::clock;
use crate::config::SlackApp;
use crate::db::{self, Tx};
use crate::domain::outbox::Channels;
use crate::domain::pauses::{self, Decision, Pause};
use crate::domain::{users, Error, Principal, Status};
use crate::notify::slack::escape;
use crate::notify::slack_app::api::{Api, Failure};
use crate::notify::slack_app::blocks::{self, RejectTarget, Why};
use crate::notify::slack_app::{self as app};

/// A button press carries the whole message it was on, percent-encoded: a message
/// with long agent text in other scripts (up to 3,000 characters a block, each up to 9
/// bytes encoded) can pass 64 KiB.
const BODY_LIMIT: usize = 128 * 1024;
/// How far a request's timestamp may be from now (Slack's own advice: 5 minutes).
const MAX_SKEW_SECS: i64 = 5 * 60;
/// Each Slack Web API call made while answering; Slack waits 3 s for the answer.
const CALL_TIMEOUT: Duration = Duration::from_millis(2500);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/slack/interactions")
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .route(web::post().to(interactions))
            .default_service(allow("POST")),
    );
}

/// Whether `body` carries Slack's signature: `X-Slack-Signature` = `v0=` + hex
/// HMAC-SHA256(signing secret, `v0:{timestamp}:{body}`), with `X-Slack-Request-Timestamp`
/// within 5 minutes of `now_secs`.
pub fn verify(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<(), &'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(timestamp) = header("x-slack-request-timestamp") else {
        return Err("X-Slack-Request-Timestamp is missing");
    };
    let Ok(at) = timestamp.parse::<i64>() else {
        return Err("X-Slack-Request-Timestamp is not a number");
    };
    if now_secs.abs_diff(at) > MAX_SKEW_SECS.unsigned_abs() {
        return Err("X-Slack-Request-Timestamp is more than 5 minutes from now");
    }
    let Some(signature) = header("x-slack-signature") else {
        return Err("X-Slack-Signature is missing");
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut mac = hmac::Context::with_key(&key);
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    let expected = format!("v0={}", crate::secret::hex(mac.sign().as_ref()));
    if crate::secret::constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        Ok(())
    } else {
        Err("X-Slack-Signature does not match")
    }
}

#[derive(Deserialize)]
struct Form {
    payload: String,
}

#[derive(Deserialize, Default)]
struct Interaction {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    user: Id,
    #[serde(default)]
    actions: Vec<Action>,
    trigger_id: Option<String>,
    container: Option<Container>,
    channel: Option<Id>,
    message: Option<Message>,
    view: Option<View>,
}

#[derive(Deserialize, Default, Clone)]
struct Id {
    #[serde(default)]
    id: String,
}

#[derive(Deserialize)]
struct Action {
    action_id: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct Container {
    channel_id: Option<String>,
    message_ts: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    ts: String,
}

#[derive(Deserialize)]
struct View {
    #[serde(default)]
    callback_id: String,
    #[serde(default)]
    private_metadata: String,
    #[serde(default)]
    state: ViewState,
}

#[derive(Deserialize, Default)]
struct ViewState {
    #[serde(default)]
    values: HashMap<String, HashMap<String, InputValue>>,
}

#[derive(Deserialize)]
struct InputValue {
    value: Option<String>,
}

fn refused(status: actix_web::http::StatusCode, why: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(format!("{why}\n"))
}

async fn interactions(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(slack) = state.chat.slack_app.clone() else {
        return Err(
            Error::NotFound("the Slack app is not configured (--slack-bot-token)".into()).into(),
        );
    };
    if let Err(why) = verify(
        &slack.signing_secret,
        req.headers(),
        &body,
        clock::now() / 1000,
    ) {
        tracing::info!(why, "refused a Slack interaction");
        return Ok(refused(actix_web::http::StatusCode::UNAUTHORIZED, why));
    }
    let interaction = serde_urlencoded::from_bytes::<Form>(&body)
        .map_err(|e| e.to_string())
        .and_then(|f| serde_json::from_str::<Interaction>(&f.payload).map_err(|e| e.to_string()));
    let interaction = match interaction {
        Ok(i) => i,
        Err(e) => {
            return Err(Error::validation(format!("not a Slack interaction payload: {e}")).into())
        }
    };
    let slack = Arc::new(slack);
    match interaction.kind.as_str() {
        "block_actions" => {
            let button = interaction
                .actions
                .iter()
                .find(|a| a.action_id == blocks::APPROVE || a.action_id == blocks::REJECT);
            if let Some(button) = button {
                let press = Press {
                    approve: button.action_id == blocks::APPROVE,
                    watch_id: button.value.clone(),
                    slack_user: interaction.user.id.clone(),
                    trigger_id: interaction.trigger_id.clone(),
                    place: place(&interaction),
                };
                // Answered now; the Slack calls and the decision follow.
                let state = state.clone();
                actix_web::rt::spawn(async move { pressed(&state, &slack, press).await });
            }
            Ok(HttpResponse::Ok().finish())
        }
        "view_submission" => Ok(submitted(&state, &slack, interaction).await),
        _ => Ok(HttpResponse::Ok().finish()),
    }
}

/// The message a button was on.
fn place(i: &Interaction) -> Option<RejectTarget> {
    let container = i.container.as_ref();
    let channel = container
        .and_then(|c| c.channel_id.clone())
        .or_else(|| i.channel.as_ref().map(|c| c.id.clone()))?;
    let ts = container
        .and_then(|c| c.message_ts.clone())
        .or_else(|| i.message.as_ref().map(|m| m.ts.clone()))?;
    Some(RejectTarget {
        watch_id: String::new(),
        channel,
        ts,
    })
}

struct Press {
    approve: bool,
    watch_id: String,
    slack_user: String,
    trigger_id: Option<String>,
    place: Option<RejectTarget>,
}

/// Runs Slack Web API calls off the async workers.
async fn call<R: Send + 'static>(
    state: &AppState,
    slack: &Arc<SlackApp>,
    f: impl FnOnce(&Api) -> Result<R, Failure> + Send + 'static,
) -> Result<R, Failure> {
    let (dns, slack) = (Arc::clone(&state.dns), Arc::clone(slack));
    web::block(move || {
        let agent = crate::notify::dns::agent(&dns, None, CALL_TIMEOUT);
        f(&Api {
            agent: &agent,
            app: &slack,
        })
    })
    .await
    .unwrap_or_else(|e| {
        Err(Failure::Again {
            error: e.to_string(),
            status: None,
            after: None,
        })
    })
}

/// Says to the Slack user alone, where they pressed, why nothing happened.
async fn tell(
    state: &AppState,
    slack: &Arc<SlackApp>,
    user: &str,
    place: Option<&RejectTarget>,
    text: String,
) {
    let Some(place) = place else {
        tracing::info!(
            text,
            "a Slack button press was refused, with no channel to say so"
        );
        return;
    };
    let body = json!({ "channel": place.channel, "user": user, "text": escape(&text) });
    if let Err(f) = call(state, slack, move |api| {
        api.post("chat.postEphemeral", &body)
    })
    .await
    {
        tracing::info!(
            error = f.message(),
            "could not tell a Slack user why nothing was decided"
        );
    }
}

/// Shows the pause as it is now in the message at `place`.
async fn show(state: &AppState, slack: &Arc<SlackApp>, place: &RejectTarget, pause: &Pause) {
    let message = blocks::current(pause, &state.urls.review(&pause.watch_id), Why::New);
    let (channel, ts) = (place.channel.clone(), place.ts.clone());
    if let Err(f) = call(state, slack, move |api| {
        app::update(api, &channel, &ts, &message)
    })
    .await
    {
        tracing::info!(error = f.message(), "could not update a Slack message");
    }
}

/// The email of a Slack user, as Slack confirmed it.
async fn email_of(
    state: &AppState,
    slack: &Arc<SlackApp>,
    slack_user: &str,
) -> Result<String, String> {
    let id = slack_user.to_string();
    let found = call(state, slack, move |api| {
        api.get("users.info", &[("user", &id)])
    })
    .await;
    let user = match found {
        Ok(answer) => answer["user"].clone(),
        Err(f) => {
            return Err(format!(
                "hitl could not look you up in Slack ({}); try again, or use the Review button",
                f.message()
            ))
        }
    };
    let email = user["profile"]["email"].as_str().unwrap_or_default();
    if email.is_empty() {
        return Err("hitl cannot see your Slack email (the app needs the users:read.email scope); use the Review button".into());
    }
    // Only an address Slack says was confirmed names a hitl user.
    if user["is_email_confirmed"] != true || user["deleted"] == true || user["is_bot"] == true {
        return Err("your Slack email is not confirmed; use the Review button".into());
    }
    Ok(email.to_string())
}

/// Decides as the hitl user with `email`, by the same rules as everywhere. A pause
/// with a form is not approved from Slack: nobody filled the form in.
fn decide_as(
    tx: &mut Tx,
    email: &str,
    watch_id: &str,
    decision: Decision,
    comment: Option<String>,
    channels: &Channels,
) -> crate::domain::Result<Pause> {
    let user = users::normalize_email(email)
        .ok()
        .and_then(|email| db::users::by_email(tx, &email).transpose())
        .transpose()?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "hitl has no user with your Slack email {email}; ask an admin to add you"
            ))
        })?;
    pauses::decide_outside(
        tx,
        clock::now(),
        &Principal::User(user.reviewer()),
        watch_id,
        pauses::Verdict::new(decision, comment, None),
        channels,
        pauses::Outside::Message,
    )
}

/// Why a decision was refused, for the person who tried.
fn refusal(e: &Error) -> String {
    match e {
        Error::AlreadyResolved(status) => {
            format!("Nothing was changed: this pause is already {status}.")
        }
        Error::Internal(_) => {
            "hitl could not record your decision (an internal error); try the Review button.".into()
        }
        other => format!("Nothing was decided: {other}"),
    }
}

async fn pressed(state: &AppState, slack: &Arc<SlackApp>, press: Press) {
    let place = press.place.as_ref();
    if press.approve {
        let email = match email_of(state, slack, &press.slack_user).await {
            Ok(email) => email,
            Err(why) => {
                return tell(
                    state,
                    slack,
                    &press.slack_user,
                    place,
                    format!("Nothing was decided: {why}"),
                )
                .await
            }
        };
        let (channels, watch_id) = (state.channels, press.watch_id.clone());
        let decided = state
            .writer
            .run(move |tx| decide_as(tx, &email, &watch_id, Decision::Approved, None, &channels))
            .await;
        match (decided, place) {
            (Ok(pause), Some(place)) => show(state, slack, place, &pause).await,
            (Ok(_), None) => {}
            (Err(e), _) => tell(state, slack, &press.slack_user, place, refusal(&e)).await,
        }
        return;
    }
    // Reject: the modal that asks why, opened at once (its trigger lives 3 s). The
    // person is checked when it is submitted.
    let watch_id = press.watch_id.clone();
    let found = state
        .read(move |conn| db::pauses::by_watch_id(conn, &watch_id))
        .await;
    let pause = match found {
        Ok(Some(pause)) if pause.status == Status::Pending => pause,
        Ok(Some(pause)) => {
            if let Some(place) = place {
                show(state, slack, place, &pause).await;
            }
            return tell(
                state,
                slack,
                &press.slack_user,
                place,
                refusal(&Error::AlreadyResolved(pause.status)),
            )
            .await;
        }
        Ok(None) => {
            return tell(
                state,
                slack,
                &press.slack_user,
                place,
                format!("Nothing was decided: there is no pause {}.", press.watch_id),
            )
            .await
        }
        Err(e) => return tell(state, slack, &press.slack_user, place, refusal(&e)).await,
    };
    let (Some(trigger), Some(place)) = (press.trigger_id.clone(), place) else {
        return;
    };
    let target = RejectTarget {
        watch_id: pause.watch_id.clone(),
        ..place.clone()
    };
    let view = blocks::reject_modal(&pause, &target);
    let opened = call(state, slack, move |api| {
        api.post(
            "views.open",
            &json!({ "trigger_id": trigger, "view": view }),
        )
    })
    .await;
    if let Err(f) = opened {
        tracing::info!(
            error = f.message(),
            "could not open the Slack reject dialog"
        );
        tell(
            state,
            slack,
            &press.slack_user,
            Some(place),
            "hitl could not open the dialog; try again, or use the Review button.".into(),
        )
        .await;
    }
}

/// The reject modal's answer: empty (the modal closes), or the refusal shown in it.
fn modal_error(text: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "response_action": "errors",
        "errors": { blocks::REASON: text }
    }))
}

async fn submitted(
    state: &web::Data<AppState>,
    slack: &Arc<SlackApp>,
    i: Interaction,
) -> HttpResponse {
    let Some(view) = i.view.filter(|v| v.callback_id == blocks::REJECT_VIEW) else {
        return HttpResponse::Ok().finish();
    };
    let Ok(target) = serde_json::from_str::<RejectTarget>(&view.private_metadata) else {
        return modal_error("This dialog is not one of hitl's; use the Review button.");
    };
    let reason = view
        .state
        .values
        .get(blocks::REASON)
        .and_then(|block| block.get(blocks::REASON))
        .and_then(|input| input.value.clone())
        .unwrap_or_default();
    if reason.trim().is_empty() {
        return modal_error("Say why: the agent is told.");
    }
    let email = match email_of(state, slack, &i.user.id).await {
        Ok(email) => email,
        Err(why) => return modal_error(&format!("Nothing was decided: {why}")),
    };
    let (channels, watch_id) = (state.channels, target.watch_id.clone());
    let decided = state
        .writer
        .run(move |tx| {
            decide_as(
                tx,
                &email,
                &watch_id,
                Decision::Rejected,
                Some(reason),
                &channels,
            )
        })
        .await;
    match decided {
        Ok(pause) => {
            let (state, slack) = (state.clone(), Arc::clone(slack));
            actix_web::rt::spawn(async move { show(&state, &slack, &target, &pause).await });
            HttpResponse::Ok().finish()
        }
        Err(e) => modal_error(&refusal(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-slack-request-timestamp", ts),
            ("x-slack-signature", sig),
        ] {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                h.insert(k, v);
            }
        }
        h
    }

    /// Slack's documented example request.
    #[test]
    fn verifies_slacks_example() {
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        let h = headers("1531420618", sig);
        assert_eq!(verify(secret, &h, body, 1_531_420_618 + 60), Ok(()));
        assert!(
            verify(secret, &h, body, 1_531_420_618 + 301).is_err(),
            "stale"
        );
        assert!(verify("another", &h, body, 1_531_420_618).is_err());
        assert!(verify(secret, &h, b"token=changed", 1_531_420_618).is_err());
        assert!(verify(secret, &HeaderMap::new(), body, 1_531_420_618).is_err());
    }
}
