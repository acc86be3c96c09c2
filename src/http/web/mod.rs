//! The reviewer's web page: sessions, CSRF and origin checks, HTML errors, and one
//! module per screen. Decisions go through the same domain function as the API.

mod about;
mod account;
pub mod assets;
mod audit;
mod groups;
mod history;
mod keys;
mod live;
mod mail;
mod oidc;
mod policies;
mod push;
mod queue;
mod review;
mod rules;
pub mod telegram;
mod users;

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use maud::Markup;

use super::AppState;
use crate::clock::{self, Millis};
use crate::db::Tx;
use crate::domain::sessions::{self, Session};
use crate::domain::{self, Error, Role};
use crate::views::{self, Viewer};

pub use live::LiveEvent;

/// The session cookie's name; `__Host-` (Secure, whole site, no Domain) over https.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-hitl_session"
    } else {
        "hitl_session"
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(assets::configure)
        .configure(account::configure)
        .configure(oidc::configure)
        .configure(queue::configure)
        .configure(live::configure)
        .configure(review::configure)
        .configure(history::configure)
        .configure(rules::configure)
        .configure(keys::configure)
        .configure(users::configure)
        .configure(groups::configure)
        .configure(policies::configure)
        .configure(audit::configure)
        .configure(about::configure)
        .configure(mail::configure)
        .configure(push::configure)
        .configure(telegram::configure);
}

/// An HTML page.
pub fn html(markup: Markup) -> HttpResponse {
    html_status(StatusCode::OK, markup)
}

/// The page's Content-Security-Policy: nothing from elsewhere, no inline script or
/// style, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Every response of the web page carries these (the JSON API does not need them).
pub fn hardened(status: StatusCode) -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::build(status);
    builder
        .insert_header(("Content-Security-Policy", CSP))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Cross-Origin-Opener-Policy", "same-origin"));
    builder
}

pub fn html_status(status: StatusCode, markup: Markup) -> HttpResponse {
    hardened(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

pub fn redirect(to: &str) -> HttpResponse {
    hardened(StatusCode::SEE_OTHER)
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// An error shown as a page.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in: go to the sign-in page, then back to `next`.
    SignIn {
        next: String,
    },
    Domain(Error),
    /// A state-changing request without this session's CSRF token or from another origin.
    CrossSite,
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        PageError::Domain(e)
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::SignIn { .. } => f.write_str("sign in first"),
            PageError::Domain(e) => e.fmt(f),
            PageError::CrossSite => f.write_str("cross-site request refused"),
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn { .. } => StatusCode::SEE_OTHER,
            PageError::Domain(e) => super::error::classify(e).0,
            PageError::CrossSite => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (status, title, message) = match self {
            PageError::SignIn { next } => {
                return redirect(&crate::urls::signin_then(next));
            }
            PageError::CrossSite => (
                StatusCode::FORBIDDEN,
                "Request refused",
                "This request did not come from a hitl page of this session (a missing or \
                 wrong form token, or another site). Nothing was changed. Reload the page and try again."
                    .to_string(),
            ),
            PageError::Domain(e) => {
                let (status, _) = super::error::classify(e);
                let title = match status.as_u16() {
                    403 => "Not allowed",
                    404 => "Not found",
                    409 => "Conflict",
                    429 => "Too many requests",
                    400 | 413 => "Cannot do that",
                    408 => "Too slow",
                    _ => "Something went wrong",
                };
                (status, title, super::error::public_message(e))
            }
        };
        let request_id = super::request_id::current();
        html_status(
            status,
            views::signin::error(
                None,
                status.as_u16(),
                title,
                &message,
                request_id.as_deref(),
            ),
        )
    }
}

/// The client's address for the sign-in throttle and the audit log. Behind a reverse
/// proxy (`--trust-proxy`), the address it reports.
pub fn client_address(req: &HttpRequest, trust_proxy: bool) -> String {
    if trust_proxy {
        if let Some(ip) = req.connection_info().realip_remote_addr() {
            return ip.to_string();
        }
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// True when a state-changing request comes from one of our own pages.
///
/// Browsers say where a request comes from in `Sec-Fetch-Site` (Fetch Metadata) and
/// `Origin`. Our pages send `Referrer-Policy: no-referrer`, under which a browser's own
/// same-origin form posts carry `Origin: null`; so `null` is accepted only when Fetch
/// Metadata vouches for the request. Any other origin must be this server as the
/// browser addressed it, or the public URL. Requests with neither header do not come
/// from a browser form; the CSRF token, checked as well, guards those.
pub fn same_origin(req: &HttpRequest, public_url: &str) -> bool {
    let headers = req.headers();
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if fetch_site.is_some_and(|site| site != "same-origin") {
        return false;
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match origin {
        None => true,
        Some("null") => fetch_site == Some("same-origin"),
        Some(claimed) => {
            let Ok(url) = url::Url::parse(claimed) else {
                return false;
            };
            let host_port = match url.port() {
                Some(port) => format!("{}:{port}", url.host_str().unwrap_or("")),
                None => url.host_str().unwrap_or("").to_string(),
            };
            let host_header = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let public_origin = url::Url::parse(public_url)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default();
            url.origin().ascii_serialization() == public_origin
                || host_port.eq_ignore_ascii_case(host_header)
        }
    }
}

/// The signed-in user of a request, and what every page shows about them.
pub struct SignedIn {
    pub session: Session,
    pub viewer: Viewer,
}

impl SignedIn {
    pub fn principal(&self) -> domain::Principal {
        domain::Principal::User(self.session.user.clone())
    }

    /// Whose queue to show, now.
    pub fn seat(&self) -> domain::pauses::Seat {
        domain::pauses::Seat::of(&self.session.user, clock::now())
    }

    /// Runs a change as this session's user, checked again inside the writing
    /// transaction (see [`AppState::write_as_session`]).
    pub async fn write<R, F>(&self, state: &AppState, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx, &domain::Principal, Millis) -> Result<R, Error> + Send + 'static,
    {
        state
            .write_as_session(self.session.id_hash.clone(), false, f)
            .await
    }

    /// Refuses a state-changing request that lacks this session's CSRF token or comes
    /// from another origin.
    pub fn check_post(
        &self,
        req: &HttpRequest,
        csrf: &str,
        public_url: &str,
    ) -> Result<(), PageError> {
        if self.session.csrf_ok(csrf) && same_origin(req, public_url) {
            Ok(())
        } else {
            tracing::warn!(
                path = req.path(),
                "refused a state-changing request without a valid CSRF token or origin"
            );
            Err(PageError::CrossSite)
        }
    }
}

/// Looks up the session behind the request's cookie (and touches it now and then).
pub async fn current_session(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(Session, i64)>, Error> {
    let Some(cookie) = req.cookie(cookie_name(state.web.secure_cookies)) else {
        return Ok(None);
    };
    let value = cookie.value().to_string();
    let now = clock::now();
    let found = state
        .read(move |conn| {
            let Some(session) = sessions::lookup(conn, &value, now)? else {
                return Ok(None);
            };
            let seat = crate::domain::pauses::Seat::of(&session.user, now);
            let pending = crate::domain::pauses::pending_count(conn, seat)?;
            Ok(Some((session, pending)))
        })
        .await?;
    if let Some((session, _)) = &found {
        if session.needs_touch {
            let id_hash = session.id_hash.clone();
            state
                .writer
                .spawn(move |tx| sessions::touch(tx, &id_hash, clock::now()));
        }
    }
    Ok(found)
}

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| PageError::Domain(Error::internal("application state missing")))?;
            let next = match req.query_string() {
                "" => req.path().to_string(),
                q => format!("{}?{q}", req.path()),
            };
            let Some((session, pending)) = current_session(&req, state).await? else {
                return Err(PageError::SignIn { next });
            };
            let viewer = Viewer {
                email: session.user.email.clone(),
                is_admin: session.user.role == Role::Admin,
                csrf: session.csrf.clone(),
                pending,
            };
            Ok(SignedIn { session, viewer })
        })
    }
}

/// A signed-in admin; others get 403.
pub struct Admin(pub SignedIn);

impl FromRequest for Admin {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed_in = SignedIn::from_request(req, payload);
        Box::pin(async move {
            let s = signed_in.await?;
            if s.viewer.is_admin {
                Ok(Admin(s))
            } else {
                Err(PageError::Domain(Error::Forbidden(
                    "only admins can open this page".into(),
                )))
            }
        })
    }
}

impl Admin {
    /// Runs a change that needs an admin; the session's user must still be one inside
    /// the writing transaction.
    pub async fn write<R, F>(&self, state: &AppState, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx, &domain::Principal, Millis) -> Result<R, Error> + Send + 'static,
    {
        state
            .write_as_session(self.0.session.id_hash.clone(), true, f)
            .await
    }
}

/// `?done=…` after a change: which notice the page it redirects to shows.
#[derive(serde::Deserialize)]
pub struct Flash {
    pub done: Option<String>,
}

/// A form that carries only its CSRF token (sign-out, revoke, remove, retry…).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// Email notifications on or off (a user's own, or an admin's for a user).
#[derive(serde::Deserialize)]
pub struct NotifyForm {
    #[serde(default)]
    pub csrf: String,
    pub on: String,
}

/// The session cookie for a new session.
pub fn session_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(cookie_name(secure), value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::milliseconds(
            sessions::ABSOLUTE_MS,
        ))
        .finish()
}

/// A cookie that removes the session cookie.
pub fn clear_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = Cookie::build(cookie_name(secure), "")
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish();
    cookie.make_removal();
    cookie
}

/// Checks and hashes a new password on a blocking thread (PBKDF2 takes ~0.2 s).
/// The outer error is a failure to run; the inner one breaks the password rule.
pub async fn hash_password(
    password: String,
) -> Result<Result<crate::domain::password::Hashed, Error>, Error> {
    web::block(move || crate::domain::password::Hashed::new(&password).map_err(Error::Validation))
        .await
        .map_err(Error::internal)
}

/// Only a local path may be a redirect target after sign-in (no open redirects).
/// The URL is read the way a browser reads it (tabs and newlines dropped, `\\` as
/// `/`), and only a path on this server survives.
pub fn safe_next(next: &str) -> String {
    const BASE: &str = "http://hitl.invalid/";
    let Ok(base) = url::Url::parse(BASE) else {
        return "/".into();
    };
    match base.join(next) {
        Ok(url) if next.starts_with('/') && url.origin() == base.origin() => {
            let mut local = url.path().to_string();
            // `/.//evil.example` normalises to `//evil.example`: another site.
            if local.starts_with("//") || local.starts_with("/\\") {
                return "/".into();
            }
            if let Some(q) = url.query() {
                local.push('?');
                local.push_str(q);
            }
            local
        }
        _ => "/".into(),
    }
}

/// Parses a `YYYY-MM-DD` date of a filter into the UTC midnight that starts it.
pub fn parse_date(text: &str, what: &str) -> Result<Option<clock::Millis>, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    clock::parse_date(text)
        .map(Some)
        .ok_or_else(|| Error::validation(format!("{what} must be a date such as 2026-03-30")))
}
