//! `/account/telegram/…`: a signed-in user links a Telegram chat (a one-time code for
//! the bot) or unlinks it.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{html, redirect, CsrfForm, PageError, SignedIn};
use crate::clock;
use crate::domain::{telegram, Error};
use crate::http::AppState;
use crate::views;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/telegram/link", web::post().to(link))
        .route("/account/telegram/unlink", web::post().to(unlink));
}

/// The bot's username, once Telegram told it (for the Account page's section).
pub fn bot_username(state: &AppState) -> Option<String> {
    state.telegram.as_ref().and_then(|bot| bot.username())
}

fn offered(state: &AppState) -> Result<(), PageError> {
    match state.telegram {
        Some(_) => Ok(()),
        None => Err(Error::NotFound(
            "Telegram is not set up on this server (no --telegram-bot-token)".into(),
        )
        .into()),
    }
}

/// A new one-time code (older ones are void), shown once: only its hash is kept.
async fn link(
    req: HttpRequest,
    who: SignedIn,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, state.urls.base())?;
    offered(&state)?;
    let user_id = who.session.user.user_id;
    let (code, expires_at) = who
        .write(&state, move |tx, _, now| {
            telegram::new_code(tx, now, user_id)
        })
        .await?;
    let bot = bot_username(&state);
    Ok(html(views::telegram::link_page(
        &who.viewer,
        bot.as_deref(),
        &code,
        &clock::rfc3339(expires_at),
    )))
}

async fn unlink(
    req: HttpRequest,
    who: SignedIn,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, state.urls.base())?;
    let user_id = who.session.user.user_id;
    who.write(&state, move |tx, me, now| {
        telegram::unlink(tx, now, &me.actor(), user_id)
    })
    .await?;
    Ok(redirect("/account?done=telegram"))
}
