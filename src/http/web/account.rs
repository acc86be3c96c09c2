//! Getting in and out: sign-in, sign-out, first-run setup, and the account page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{
    clear_cookie, client_address, html, html_status, redirect, safe_next, session_cookie, CsrfForm,
    Flash, PageError, SignedIn,
};
use crate::clock;
use crate::domain::accounts::{self, Purpose};
use crate::domain::{audit, sessions, setup, users, Actor, Error};
use crate::http::AppState;
use crate::model::reach::Channel;
use crate::views::signin::{self, Account};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/signin", web::get().to(signin_page))
        .route("/signin", web::post().to(signin_post))
        .route("/signout", web::post().to(signout))
        .route("/setup/{token}", web::get().to(setup_page))
        .route("/setup/{token}", web::post().to(setup_post))
        .route("/password/{token}", web::get().to(password_page))
        .route("/password/{token}", web::post().to(password_post))
        .route("/account", web::get().to(account_page))
        .route("/account/password", web::post().to(change_password))
        .route("/account/notify", web::post().to(set_notify))
        .route("/account/ntfy", web::post().to(set_ntfy))
        .route("/account/away", web::post().to(set_away));
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn signin_page(
    req: HttpRequest,
    q: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let next = safe_next(q.next.as_deref().unwrap_or("/"));
    if super::current_session(&req, &state).await?.is_some() {
        return Ok(redirect(&next));
    }
    Ok(html(signin::signin(ways(&state), None, "", &next)))
}

#[derive(Deserialize)]
struct SigninForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

async fn signin_post(
    req: HttpRequest,
    form: web::Form<SigninForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let next = safe_next(&form.next);
    let email = form.email.trim().to_lowercase();
    let address = client_address(&req, state.web.trust_proxy);
    let refuse = |status: StatusCode, message: &str| {
        html_status(
            status,
            signin::signin(ways(&state), Some(message), &form.email, &next),
        )
    };
    if !state.web.password_sign_in {
        return Ok(refuse(
            StatusCode::FORBIDDEN,
            "Password sign-in is turned off: sign in with your identity provider.",
        ));
    }
    if !super::same_origin(&req, state.urls.base()) {
        return Err(PageError::CrossSite);
    }

    if let Err(wait) = state.throttle.begin(&email, &address, clock::now()) {
        tracing::warn!(email, address, "sign-in refused: too many failures");
        let secs = (wait as u64).div_ceil(1000);
        return Ok(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed sign-ins. Try again in {secs} seconds."),
        ));
    }

    let lookup_email = email.clone();
    let found = state
        .read(move |conn| users::credentials(conn, &lookup_email))
        .await?;
    let password = form.password.clone();
    let checked = web::block(move || users::check_password(found, &password))
        .await
        .map_err(Error::internal)?;
    let user = match checked {
        Ok(user) => user,
        Err(Error::Unauthorized) => {
            let details = json!({ "email": email, "address": address });
            state
                .writer
                .run(move |tx| {
                    audit::record(
                        tx,
                        clock::now(),
                        &Actor::Anonymous,
                        "signin.failed",
                        None,
                        details,
                    )
                })
                .await?;
            return Ok(refuse(StatusCode::UNAUTHORIZED, "Wrong email or password."));
        }
        Err(e) => return Err(e.into()),
    };
    state.throttle.succeeded(&email, &address);
    let reviewer = user.reviewer();
    let client = format!("{address} {}", user_agent(&req));
    let cookie = state
        .writer
        .run(move |tx| sessions::create(tx, clock::now(), &reviewer, &client))
        .await?;
    let mut response = redirect(&next);
    response
        .add_cookie(&session_cookie(cookie, state.web.secure_cookies))
        .map_err(Error::internal)?;
    Ok(response)
}

/// The ways in this server offers.
pub(super) fn ways(state: &AppState) -> signin::Ways {
    signin::Ways {
        password: state.web.password_sign_in,
        oidc: state.web.oidc.is_some(),
    }
}

pub(super) fn user_agent(req: &HttpRequest) -> String {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

async fn signout(
    req: HttpRequest,
    who: SignedIn,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, state.urls.base())?;
    let session = who.session.clone();
    state
        .writer
        .run(move |tx| sessions::end(tx, clock::now(), &session))
        .await?;
    let mut response = redirect("/signin");
    response
        .add_cookie(&clear_cookie(state.web.secure_cookies))
        .map_err(Error::internal)?;
    Ok(response)
}

async fn setup_page(
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let token = token.into_inner();
    let check = token.clone();
    match state
        .read(move |conn| setup::why_invalid(conn, &check, clock::now()))
        .await?
    {
        None => Ok(html(signin::setup(&token, None, ""))),
        Some(why) => Ok(html_status(StatusCode::NOT_FOUND, signin::setup_gone(&why))),
    }
}

#[derive(Deserialize)]
struct SetupForm {
    email: String,
    password: String,
    password_again: String,
}

async fn setup_post(
    req: HttpRequest,
    token: web::Path<String>,
    form: web::Form<SetupForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let token = token.into_inner();
    let form = form.into_inner();
    if !super::same_origin(&req, state.urls.base()) {
        return Err(PageError::CrossSite);
    }
    if form.password != form.password_again {
        return Ok(html_status(
            StatusCode::BAD_REQUEST,
            signin::setup(&token, Some("The two passwords differ."), &form.email),
        ));
    }
    let client = format!(
        "{} {}",
        client_address(&req, state.web.trust_proxy),
        user_agent(&req)
    );
    let (email, token_used) = (form.email.clone(), token.clone());
    let result = match super::hash_password(form.password.clone()).await? {
        Ok(hashed) => {
            state
                .writer
                .run(move |tx| {
                    let now = clock::now();
                    let user = setup::complete(tx, now, &token_used, &email, &hashed)?;
                    sessions::create(tx, now, &user.reviewer(), &client)
                })
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(cookie) => {
            let mut response = redirect("/");
            response
                .add_cookie(&session_cookie(cookie, state.web.secure_cookies))
                .map_err(Error::internal)?;
            Ok(response)
        }
        Err(Error::Validation(message)) => Ok(html_status(
            StatusCode::BAD_REQUEST,
            signin::setup(&token, Some(&message), &form.email),
        )),
        Err(Error::NotFound(message)) => Ok(html_status(
            StatusCode::NOT_FOUND,
            signin::setup_gone(&message),
        )),
        Err(e) => Err(e.into()),
    }
}

async fn password_page(
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let token = token.into_inner();
    let check = token.clone();
    match state
        .read(
            move |conn| match accounts::inspect(conn, &check, clock::now()) {
                Ok(found) => Ok(Ok(found)),
                Err(Error::NotFound(why)) => Ok(Err(why)),
                Err(e) => Err(e),
            },
        )
        .await?
    {
        Ok((purpose, user)) => Ok(html(signin::set_password(
            &token,
            &user.email,
            purpose == Purpose::Invite,
            None,
        ))),
        Err(why) => Ok(html_status(StatusCode::NOT_FOUND, signin::link_gone(&why))),
    }
}

#[derive(Deserialize)]
struct PasswordLinkForm {
    password: String,
    password_again: String,
}

/// Sets the password of an invitation or reset link and signs the person in.
async fn password_post(
    req: HttpRequest,
    token: web::Path<String>,
    form: web::Form<PasswordLinkForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let token = token.into_inner();
    let form = form.into_inner();
    if !super::same_origin(&req, state.urls.base()) {
        return Err(PageError::CrossSite);
    }
    let check = token.clone();
    let (purpose, user) = match state
        .read(
            move |conn| match accounts::inspect(conn, &check, clock::now()) {
                Ok(found) => Ok(Ok(found)),
                Err(Error::NotFound(why)) => Ok(Err(why)),
                Err(e) => Err(e),
            },
        )
        .await?
    {
        Ok(found) => found,
        Err(why) => return Ok(html_status(StatusCode::NOT_FOUND, signin::link_gone(&why))),
    };
    let again = |message: &str| {
        html_status(
            StatusCode::BAD_REQUEST,
            signin::set_password(
                &token,
                &user.email,
                purpose == Purpose::Invite,
                Some(message),
            ),
        )
    };
    if form.password != form.password_again {
        return Ok(again("The two passwords differ."));
    }
    let hashed = match super::hash_password(form.password).await? {
        Ok(hashed) => hashed,
        Err(e) => return Ok(again(&e.to_string())),
    };
    let client = format!(
        "{} {}",
        client_address(&req, state.web.trust_proxy),
        user_agent(&req)
    );
    let used = token.clone();
    let result = state
        .writer
        .run(move |tx| {
            let now = clock::now();
            let user = accounts::complete(tx, now, &used, &hashed)?;
            sessions::create(tx, now, &user.reviewer(), &client)
        })
        .await;
    match result {
        Ok(cookie) => {
            let mut response = redirect("/");
            response
                .add_cookie(&session_cookie(cookie, state.web.secure_cookies))
                .map_err(Error::internal)?;
            Ok(response)
        }
        Err(Error::NotFound(why)) => {
            Ok(html_status(StatusCode::NOT_FOUND, signin::link_gone(&why)))
        }
        Err(e) => Err(e.into()),
    }
}

/// The account page's state for the signed-in user, without a message.
async fn account_of(who: &SignedIn, state: &AppState) -> Result<Account, PageError> {
    let user_id = who.session.user.user_id;
    let user = state.read(move |conn| users::by_id(conn, user_id)).await?;
    let now = clock::now();
    Ok(Account {
        away: user
            .away_at(now)
            .map(|(until, delegate)| (clock::rfc3339(until), delegate.to_string())),
        user,
        channels: state.channels,
        error: None,
        notice: None,
        vapid_public_key: state.vapid.public_key().to_string(),
        telegram_bot: state
            .telegram
            .as_ref()
            .map(|_| super::telegram::bot_username(state)),
    })
}

async fn account_page(
    who: SignedIn,
    q: web::Query<Flash>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let notice = match q.done.as_deref() {
        Some("password") => {
            Some("Your password is changed. Your other sessions were signed out.".to_string())
        }
        Some("notify") => Some("Saved.".to_string()),
        Some("telegram") => Some("Telegram is unlinked: no more messages go there.".to_string()),
        Some("ntfy") => Some("Saved: new pauses are published to your ntfy topic.".to_string()),
        Some("ntfy-removed") => {
            Some("Removed: nothing is published to ntfy for you now.".to_string())
        }
        Some("away") => {
            Some("Saved: while you are away, pauses routed to you go to your delegate.".to_string())
        }
        Some("back") => Some("Welcome back: pauses routed to you come to you again.".to_string()),
        _ => None,
    };
    let account = Account {
        notice,
        ..account_of(&who, &state).await?
    };
    Ok(html(signin::account(&who.viewer, &account)))
}

#[derive(Deserialize)]
struct AwayForm {
    #[serde(default)]
    csrf: String,
    /// `away` (with `until` and `delegate`) or `back`.
    action: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    delegate: String,
}

/// Away until a date with a delegate, or back.
async fn set_away(
    req: HttpRequest,
    who: SignedIn,
    form: web::Form<AwayForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, state.urls.base())?;
    let form = form.into_inner();
    let back = form.action == "back";
    let user_id = who.session.user.user_id;
    let result = who
        .write(&state, move |tx, me, now| {
            let away = if back {
                None
            } else {
                Some(users::parse_away_until(&form.until, now)?)
            };
            let away = away.map(|until| (until, form.delegate.as_str()));
            users::set_away(tx, now, &me.actor(), user_id, away)
        })
        .await;
    match result {
        Ok(_) if back => Ok(redirect("/account?done=back")),
        Ok(_) => Ok(redirect("/account?done=away")),
        Err(e @ (Error::Validation(_) | Error::NotFound(_))) => {
            let account = Account {
                error: Some(e.to_string()),
                ..account_of(&who, &state).await?
            };
            Ok(html_status(
                StatusCode::BAD_REQUEST,
                signin::account(&who.viewer, &account),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current: String,
    new: String,
    new_again: String,
}

async fn change_password(
    req: HttpRequest,
    who: SignedIn,
    form: web::Form<PasswordForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, state.urls.base())?;
    let form = form.into_inner();
    let base = account_of(&who, &state).await?;
    let fail = |message: &str| {
        html_status(
            StatusCode::BAD_REQUEST,
            signin::account(
                &who.viewer,
                &Account {
                    error: Some(message.to_string()),
                    ..base.clone()
                },
            ),
        )
    };
    if form.new != form.new_again {
        return Ok(fail("The two new passwords differ."));
    }
    // Guessing the current password is slowed like guessing at sign-in.
    let email = who.session.user.email.clone();
    let address = client_address(&req, state.web.trust_proxy);
    if let Err(wait) = state.throttle.begin(&email, &address, clock::now()) {
        let secs = (wait as u64).div_ceil(1000);
        return Ok(fail(&format!(
            "Too many wrong passwords. Try again in {secs} seconds."
        )));
    }
    let lookup = email.clone();
    let found = state
        .read(move |conn| users::credentials(conn, &lookup))
        .await?;
    let current = form.current.clone();
    let checked = web::block(move || users::check_password(found, &current))
        .await
        .map_err(Error::internal)?;
    if checked.is_err() {
        return Ok(fail("The current password is wrong."));
    }
    state.throttle.succeeded(&email, &address);
    let hashed = match super::hash_password(form.new.clone()).await? {
        Ok(hashed) => hashed,
        Err(e) => return Ok(fail(&e.to_string())),
    };
    let (user_id, keep) = (who.session.user.user_id, who.session.id_hash.clone());
    match who
        .write(&state, move |tx, _, now| {
            users::change_password(tx, now, user_id, &hashed, &keep)
        })
        .await
    {
        Ok(()) => Ok(redirect("/account?done=password")),
        Err(Error::Validation(message)) => Ok(fail(&message)),
        Err(e) => Err(e.into()),
    }
}

/// The channel checkboxes: a box is sent only when ticked.
#[derive(Deserialize)]
struct ChannelsForm {
    #[serde(default)]
    csrf: String,
    email: Option<String>,
    slack: Option<String>,
    telegram: Option<String>,
    ntfy: Option<String>,
    push: Option<String>,
}

async fn set_notify(
    req: HttpRequest,
    who: SignedIn,
    form: web::Form<ChannelsForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, state.urls.base())?;
    let user_id = who.session.user.user_id;
    let channels = state.channels;
    let form = form.into_inner();
    who.write(&state, move |tx, me, now| {
        let user = users::by_id(tx, user_id)?;
        // A channel the server does not have is not on the form: it keeps its setting.
        let on: Vec<Channel> = Channel::ALL
            .into_iter()
            .filter(|c| {
                if !channels.offers(*c) {
                    return user.wants(*c);
                }
                let ticked = match c {
                    Channel::Email => &form.email,
                    Channel::Slack => &form.slack,
                    Channel::Telegram => &form.telegram,
                    Channel::Ntfy => &form.ntfy,
                    Channel::Push => &form.push,
                };
                ticked.is_some()
            })
            .collect();
        users::set_channels(tx, now, &me.actor(), user_id, &on)
    })
    .await?;
    Ok(redirect("/account?done=notify"))
}

#[derive(Deserialize)]
struct NtfyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    clear: Option<String>,
}

/// Sets or removes the person's ntfy topic.
async fn set_ntfy(
    req: HttpRequest,
    who: SignedIn,
    form: web::Form<NtfyForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, state.urls.base())?;
    let user_id = who.session.user.user_id;
    let form = form.into_inner();
    let url = (form.clear.is_none() && !form.url.trim().is_empty()).then_some(form.url);
    let set = url.is_some();
    let result = who
        .write(&state, move |tx, me, now| {
            users::set_ntfy_url(tx, now, &me.actor(), user_id, url.as_deref())
        })
        .await;
    match result {
        Ok(_) if set => Ok(redirect("/account?done=ntfy#notifications")),
        Ok(_) => Ok(redirect("/account?done=ntfy-removed#notifications")),
        Err(Error::Validation(message)) => {
            let account = Account {
                error: Some(message),
                ..account_of(&who, &state).await?
            };
            Ok(html_status(
                StatusCode::BAD_REQUEST,
                signin::account(&who.viewer, &account),
            ))
        }
        Err(e) => Err(e.into()),
    }
}
