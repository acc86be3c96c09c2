//! Web Push: one outbox row per pause per browser a reviewer turned notifications on
//! in. The message is encrypted to the browser's key (aes128gcm, RFC 8291, by
//! `web-push-native`), signed with the server's VAPID key (RFC 8292) and posted to the
//! push service the browser named (RFC 8030), through the webhook address policy (the
//! address is the browser's choice, not the operator's).

use std::time::Instant;

use web_push_native::{p256, Auth};

use super::{Sent, Worker};
use crate::clock;
use crate::db;
use crate::domain::outbox::{Attempt, Job, Next};
use crate::domain::push::{self, Vapid};
use crate::domain::{Risk, Status};
use crate::model::reach::Channel;
use crate::secret;

pub(super) fn send(worker: &Worker, job: &Job, agent: &ureq::Agent) -> Sent {
    let Some(pause) = job.pause.as_ref().filter(|p| p.status == Status::Pending) else {
        return Sent::Skipped("not sent: the pause was decided before the notification went out");
    };
    let Some(user) = job.user.as_ref().filter(|u| u.wants(Channel::Push)) else {
        return Sent::Skipped("not sent: the reviewer was removed or turned notifications off");
    };
    let payload: serde_json::Value = serde_json::from_str(&job.row.payload).unwrap_or_default();
    let Some(id) = payload["subscription"].as_i64() else {
        return Sent::Impossible("the row names no subscription".into());
    };
    let found = worker
        .reads
        .get()
        .map_err(|e| e.to_string())
        .and_then(|conn| {
            let subscription = db::push::by_id(&conn, id).map_err(|e| e.to_string())?;
            let key = db::outbox::secret(&conn, push::KEY).map_err(|e| e.to_string())?;
            Ok((subscription, key))
        });
    let (subscription, key) = match found {
        Ok(found) => found,
        Err(e) => return Sent::Tried(failed(format!("cannot read the subscription: {e}"))),
    };
    // Gone, or handed to someone else who signed in on that browser since.
    let Some(subscription) = subscription.filter(|s| s.user_id == user.id) else {
        return Sent::Skipped("not sent: notifications were turned off in that browser");
    };
    let Some(key) = key else {
        return Sent::Impossible("the VAPID key is missing from the database".into());
    };
    let vapid = match Vapid::new(&key, worker.settings.urls.base()) {
        Ok(v) => v,
        Err(e) => return Sent::Impossible(e.to_string()),
    };
    let now = clock::now();
    let event = payload["event"].as_str().unwrap_or("created");
    let token = push::approve_token(&worker.link_key, pause, user.id, now);
    let review = worker.settings.urls.review(&pause.watch_id);
    let message = push::message(pause, event, &review, token.as_deref());
    let request = Request {
        ttl: push::ttl_secs(pause, now),
        urgency: if matches!(pause.risk, Some(Risk::High | Risk::Critical)) {
            "high"
        } else {
            "normal"
        },
        // A reminder replaces the first notice if that one still waits at the service.
        topic: secret::b64url(&secret::sha256(pause.watch_id.as_bytes()))[..32].to_string(),
    };
    let attempt = match deliver(agent, &vapid, &subscription, &message, &request, now) {
        Ok(attempt) => attempt,
        Err(why) => return Sent::Impossible(why),
    };
    if attempt.next == Next::Stop {
        let removed = worker
            .writer
            .run_blocking(move |tx| db::push::delete(tx, id, None));
        if let Err(e) = removed {
            tracing::warn!(error = %e, "could not remove a push subscription the service says is gone");
        }
    }
    Sent::Tried(attempt)
}

fn failed(error: String) -> Attempt {
    Attempt {
        ok: false,
        http_status: None,
        error: Some(error),
        duration_ms: 0,
        next: Next::Schedule,
    }
}

/// The headers of one push besides the encryption's and VAPID's.
struct Request {
    /// Seconds the push service keeps it for an offline browser.
    ttl: i64,
    urgency: &'static str,
    topic: String,
}

/// Encrypts and posts one message; `Err` when it can never be sent (a stored key that
/// is not one).
fn deliver(
    agent: &ureq::Agent,
    vapid: &Vapid,
    subscription: &db::push::Subscription,
    message: &str,
    request: &Request,
    now: clock::Millis,
) -> Result<Attempt, String> {
    let endpoint = url::Url::parse(&subscription.endpoint)
        .map_err(|e| format!("the stored endpoint is not a URL: {e}"))?;
    let public = secret::b64url_decode(&subscription.p256dh)
        .and_then(|k| p256::PublicKey::from_sec1_bytes(&k).ok())
        .ok_or("the stored browser key is not a P-256 key")?;
    let auth = secret::b64url_decode(&subscription.auth)
        .filter(|a| a.len() == 16)
        .ok_or("the stored auth secret is not 16 bytes")?;
    let body = web_push_native::encrypt(
        message.as_bytes().to_vec(),
        &public,
        &Auth::clone_from_slice(&auth),
    )
    .map_err(|e| format!("cannot encrypt the message: {e}"))?;
    let authorization = vapid
        .authorization(&endpoint, now)
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let response = agent
        .post(endpoint.as_str())
        .header("TTL", &request.ttl.to_string())
        .header("Urgency", request.urgency)
        .header("Topic", &request.topic)
        .header("Content-Encoding", "aes128gcm")
        .header("Content-Type", "application/octet-stream")
        .header("Authorization", &authorization)
        .send(&body[..]);
    Ok(judge(response, started))
}

/// 2xx: delivered. 404 and 410: the subscription is gone (stop; the caller removes
/// it). 429 and 5xx: again later (after `Retry-After` if given). Another 4xx: the
/// service refuses this message for good.
fn judge(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    started: Instant,
) -> Attempt {
    let duration_ms = started.elapsed().as_millis() as i64;
    let mut response = match response {
        Ok(r) => r,
        Err(e) => {
            let next = if super::dns::refused_by_policy(&e) {
                Next::Fail
            } else {
                Next::Schedule
            };
            return Attempt {
                ok: false,
                http_status: None,
                error: Some(match e {
                    ureq::Error::Timeout(_) => "no answer within 10 s".to_string(),
                    other => other.to_string(),
                }),
                duration_ms,
                next,
            };
        }
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let _ = response
        .body_mut()
        .with_config()
        .limit(16 * 1024)
        .read_to_vec();
    let (ok, error, next) = match status {
        200..=299 => (true, None, Next::Schedule),
        404 | 410 => (
            false,
            Some(format!(
                "HTTP {status}: the push service says the browser unsubscribed; its subscription is removed"
            )),
            Next::Stop,
        ),
        429 | 500..=599 => (
            false,
            Some(format!("HTTP {status}")),
            super::webhook::retry_after(retry_after.as_deref()).map_or(Next::Schedule, Next::After),
        ),
        300..=399 => (
            false,
            Some(format!("HTTP {status}: a redirect is not followed")),
            Next::Schedule,
        ),
        _ => (
            false,
            Some(format!("HTTP {status}: the push service refused the message")),
            Next::Fail,
        ),
    };
    Attempt {
        ok,
        http_status: Some(status),
        error,
        duration_ms,
        next,
    }
}
