//! Sign-in with the identity provider: `/signin/oidc` sends the browser there, and
//! `/signin/oidc/callback` takes it back, checks the ID token and opens a session.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::account::user_agent;
use super::{client_address, html_status, redirect, safe_next, session_cookie, PageError};
use crate::clock;
use crate::domain::{audit, groups, sessions, users, Actor, Error};
use crate::http::AppState;
use crate::oidc::{GroupsClaim, PENDING_TTL};
use crate::views::signin;

/// The cookie that ties the provider's answer to the browser that asked.
const STATE_COOKIE: &str = "hitl_oidc_state";
const COOKIE_PATH: &str = "/signin/oidc";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/signin/oidc", web::get().to(start))
        .route("/signin/oidc/callback", web::get().to(callback));
}

#[derive(Deserialize)]
struct StartQuery {
    next: Option<String>,
}

fn refused(status: StatusCode, message: &str) -> HttpResponse {
    html_status(status, signin::oidc_refused(message))
}

fn state_cookie(value: String, secure: bool, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(STATE_COOKIE, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .secure(secure)
        // Lax: the provider sends the browser back with a top-level GET.
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

async fn start(
    q: web::Query<StartQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(oidc) = state.web.oidc.clone() else {
        return Ok(refused(
            StatusCode::NOT_FOUND,
            "Sign-in with an identity provider is not set up on this server.",
        ));
    };
    let next = safe_next(q.next.as_deref().unwrap_or("/"));
    let (flow_state, url) = match oidc.begin(&next) {
        Ok(started) => started,
        Err(e) => {
            tracing::warn!("OpenID Connect sign-in not started: {e}");
            return Ok(refused(StatusCode::SERVICE_UNAVAILABLE, &e));
        }
    };
    let mut response = redirect(&url);
    response
        .add_cookie(&state_cookie(
            flow_state,
            state.web.secure_cookies,
            PENDING_TTL.as_secs() as i64,
        ))
        .map_err(Error::internal)?;
    Ok(response)
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    req: HttpRequest,
    q: web::Query<CallbackQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(oidc) = state.web.oidc.clone() else {
        return Ok(refused(
            StatusCode::NOT_FOUND,
            "Sign-in with an identity provider is not set up on this server.",
        ));
    };
    let q = q.into_inner();
    if let Some(error) = &q.error {
        let why = q.error_description.as_deref().unwrap_or(error);
        return Ok(refused(
            StatusCode::UNAUTHORIZED,
            &format!("The identity provider did not sign you in: {why}"),
        ));
    }
    let cookie = req.cookie(STATE_COOKIE).map(|c| c.value().to_string());
    let (Some(code), Some(flow_state)) = (q.code, q.state) else {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            "The identity provider's answer lacks its code or state.",
        ));
    };
    let expired =
        "This sign-in expired, was already used or did not start in this browser. Start again.";
    if cookie.as_deref() != Some(flow_state.as_str()) {
        return Ok(refused(StatusCode::BAD_REQUEST, expired));
    }
    let finish = oidc.clone();
    let finished = web::block(move || finish.finish(&flow_state, &code))
        .await
        .map_err(Error::internal)?;
    let (identity, next) = match finished {
        Ok(Some(done)) => done,
        Ok(None) => return Ok(refused(StatusCode::BAD_REQUEST, expired)),
        Err(e) => {
            tracing::warn!("OpenID Connect sign-in failed: {e}");
            return Ok(refused(
                StatusCode::BAD_GATEWAY,
                "The identity provider's answer could not be verified. Try again, or ask an admin to look at the server's log.",
            ));
        }
    };
    let Some(email) = identity.verified_email else {
        return Ok(refused(
            StatusCode::FORBIDDEN,
            "Your identity provider did not give a verified email address, so hitl cannot tell who you are.",
        ));
    };
    let claim = oidc.settings.groups_claim.as_deref().unwrap_or("");
    let group_names = match identity.groups {
        None => None,
        Some(GroupsClaim::Names(names)) => Some(names),
        Some(GroupsClaim::Absent) => {
            tracing::debug!(
                "the ID token for {email} has no {claim:?} claim: group memberships unchanged"
            );
            None
        }
        Some(GroupsClaim::Unusable(what)) => {
            tracing::warn!(
                "the ID token's {claim:?} claim for {email} is {what}, not an array of strings: ignored, group memberships unchanged"
            );
            None
        }
    };
    let auto_create = oidc.settings.auto_create;
    let address = client_address(&req, state.web.trust_proxy);
    let client = format!("{address} {}", user_agent(&req));
    let subject = identity.subject;
    let who = email.clone();
    let found = state
        .writer
        .run(move |tx| {
            let now = clock::now();
            let user = match crate::db::users::by_email(tx, &email)? {
                Some(user) => users::signed_in_with_provider(tx, user)?,
                None => match auto_create {
                    Some(role) => users::add_from_provider(tx, now, &email, role)?,
                    None => {
                        let details = json!({ "email": email, "via": "oidc", "subject": subject });
                        audit::record(tx, now, &Actor::Anonymous, "signin.failed", None, details)?;
                        return Ok(Err(email));
                    }
                },
            };
            // The claim decides every existing group's membership, in this transaction.
            let changes = match &group_names {
                Some(names) => {
                    let actor = Actor::User(user.email.clone());
                    Some(groups::set_memberships(tx, now, &actor, user.id, names)?)
                }
                None => None,
            };
            let cookie = sessions::create(tx, now, &user.reviewer(), &client)?;
            Ok(Ok((cookie, changes)))
        })
        .await?;
    let session = match found {
        Ok((session, changes)) => {
            if let Some(changes) = changes.filter(|c| !c.added.is_empty() || !c.removed.is_empty())
            {
                tracing::info!(
                    "groups of {who} from the identity provider: joined {:?}, left {:?}",
                    changes.added,
                    changes.removed
                );
            }
            session
        }
        Err(email) => {
            return Ok(refused(
                StatusCode::FORBIDDEN,
                &format!("{email} has no account on this hitl. Ask an admin to add you."),
            ))
        }
    };
    let mut response = redirect(&next);
    response
        .add_cookie(&session_cookie(session, state.web.secure_cookies))
        .map_err(Error::internal)?;
    let mut gone = state_cookie(String::new(), state.web.secure_cookies, 0);
    gone.make_removal();
    response.add_cookie(&gone).map_err(Error::internal)?;
    Ok(response)
}
