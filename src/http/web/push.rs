//! Web Push for the installed page: the service worker at `/sw.js` (scope `/`), a
//! browser's subscription handed in or withdrawn on the Account page (session and CSRF
//! token), and the notification's Approve action (`POST /push/approve`: the reviewer's
//! session and the notification's single-use token, which must name the same person).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{current_session, same_origin};
use crate::assets::Assets;
use crate::domain::push;
use crate::domain::sessions::Session;
use crate::domain::{Error, Status};
use crate::http::body::read_json;
use crate::http::error::ApiError;
use crate::http::AppState;

/// A subscription is a few hundred bytes; an Approve token less.
const MAX_BODY: usize = 8 * 1024;
/// The header the page's script sends the session's CSRF token in.
const CSRF_HEADER: &str = "x-csrf-token";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sw.js", web::get().to(service_worker))
        .route("/account/push", web::post().to(subscribe))
        .route("/account/push/remove", web::post().to(unsubscribe))
        .route("/push/approve", web::post().to(approve));
}

/// The service worker, from the root so that its scope may be the whole site; never
/// cached for long, so a new version reaches installed pages.
async fn service_worker() -> HttpResponse {
    let Some(file) = Assets::get("sw.js") else {
        return super::hardened(StatusCode::NOT_FOUND)
            .content_type("text/plain; charset=utf-8")
            .body("no service worker\n");
    };
    super::hardened(StatusCode::OK)
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Service-Worker-Allowed", "/"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(file.data.into_owned())
}

/// The signed-in session of a script's request, with its CSRF token and origin
/// checked; a JSON error otherwise.
async fn session_for_post(req: &HttpRequest, state: &AppState) -> Result<Session, ApiError> {
    let Some((session, _)) = current_session(req, state).await? else {
        return Err(Error::Unauthorized.into());
    };
    let csrf = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !session.csrf_ok(csrf) || !same_origin(req, state.urls.base()) {
        tracing::warn!(
            path = req.path(),
            "refused a state-changing request without a valid CSRF token or origin"
        );
        return Err(Error::Forbidden(
            "this request did not come from a hitl page of this session; reload the page".into(),
        )
        .into());
    }
    Ok(session)
}

#[derive(Deserialize)]
struct Keys {
    p256dh: String,
    auth: String,
}

/// `PushSubscription.toJSON()` (its `expirationTime` is ignored).
#[derive(Deserialize)]
struct Subscription {
    endpoint: String,
    keys: Keys,
}

async fn subscribe(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let session = session_for_post(&req, &state).await?;
    let sent: Subscription = read_json(&req, payload, MAX_BODY).await?;
    let new = push::check(&sent.endpoint, &sent.keys.p256dh, &sent.keys.auth)?;
    let user_id = session.user.user_id;
    let devices = state
        .write_as_session(session.id_hash, false, move |tx, me, now| {
            push::subscribe(tx, now, &me.actor(), user_id, &new)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "devices": devices })))
}

#[derive(Deserialize)]
struct Remove {
    /// This browser's subscription; without it, every browser's.
    endpoint: Option<String>,
    #[serde(default)]
    all: bool,
}

async fn unsubscribe(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let session = session_for_post(&req, &state).await?;
    let sent: Remove = read_json(&req, payload, MAX_BODY).await?;
    let endpoint =
        match (sent.endpoint, sent.all) {
            (Some(endpoint), false) => Some(endpoint),
            (None, true) => None,
            _ => return Err(Error::validation(
                "send either {\"endpoint\": ...} (this browser) or {\"all\": true} (every browser)",
            )
            .into()),
        };
    let user_id = session.user.user_id;
    let devices = state
        .write_as_session(session.id_hash, false, move |tx, me, now| {
            push::unsubscribe(tx, now, &me.actor(), user_id, endpoint.as_deref())
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "devices": devices })))
}

#[derive(Deserialize)]
struct Approve {
    token: String,
}

/// The notification's Approve: the service worker posts the token with the session
/// cookie. Without a session: 401, and the worker opens the review page instead.
async fn approve(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // The token is a secret only the notification holds, so no CSRF token is needed;
    // still, only this site's pages and worker may post it.
    if !same_origin(&req, state.urls.base()) {
        return Err(Error::Forbidden("cross-site request refused".into()).into());
    }
    let sent: Approve = read_json(&req, payload, MAX_BODY).await?;
    let Some((session, _)) = current_session(&req, &state).await? else {
        return Err(Error::Unauthorized.into());
    };
    let (key, channels) = (state.link_key.clone(), state.channels);
    let pause = state
        .write_as_session(session.id_hash, false, move |tx, me, now| {
            push::approve(tx, now, &key, &sent.token, me, &channels)
        })
        .await?;
    let message = if pause.status == Status::Pending {
        format!(
            "Approval recorded ({}): the pause waits for the other reviewers.",
            crate::views::approvals_progress(&pause)
        )
    } else {
        "Approved: the agent learns your decision now.".to_string()
    };
    Ok(HttpResponse::Ok().json(json!({
        "watchId": pause.watch_id,
        "status": pause.status.as_str(),
        "message": message,
    })))
}
