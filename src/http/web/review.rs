//! A pause's page and the decision form.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{html, html_status, redirect, CsrfForm, PageError, SignedIn};
use crate::clock;
use crate::domain::pauses::{self, Decision};
use crate::domain::{audit, outbox, Error, Principal};
use crate::http::AppState;
use crate::views::review::{self, Notice, Review};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/review/{watch_id}", web::get().to(page))
        .route("/review/{watch_id}/decide", web::post().to(decide))
        .route(
            "/review/{watch_id}/deliveries/{id}/retry",
            web::post().to(retry),
        );
}

async fn load(
    state: &AppState,
    principal: Principal,
    watch_id: String,
) -> Result<Review, PageError> {
    let (pause, history, deliveries) = state
        .read(move |conn| {
            let pause = pauses::get(conn, &principal, &watch_id)?;
            let history = audit::for_pause(conn, &watch_id)?;
            let deliveries = outbox::deliveries(conn, &principal, &watch_id)?;
            Ok((pause, history, deliveries))
        })
        .await?;
    let context: Option<serde_json::Value> = pause
        .context
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok());
    let context_pretty = context
        .as_ref()
        .and_then(|c| serde_json::to_string_pretty(c).ok());
    Ok(Review {
        pause,
        context,
        context_pretty,
        history,
        deliveries,
        now: clock::now(),
        notice: None,
        comment: String::new(),
    })
}

async fn page(
    who: SignedIn,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let r = load(&state, who.principal(), path.into_inner()).await?;
    Ok(html(review::view(&who.viewer, &r)))
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    decision: String,
    #[serde(default)]
    comment: String,
}

async fn decide(
    req: HttpRequest,
    who: SignedIn,
    path: web::Path<String>,
    form: web::Form<DecideForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, &state.public_url)?;
    let watch_id = path.into_inner();
    let form = form.into_inner();
    let principal = who.principal();
    let outcome = match Decision::parse(&form.decision) {
        Ok(decision) => {
            let (id, comment, principal) =
                (watch_id.clone(), form.comment.clone(), principal.clone());
            let channels = state.channels;
            state
                .writer
                .run(move |tx| {
                    let now = clock::now();
                    pauses::decide(tx, now, &principal, &id, decision, Some(comment), &channels)
                })
                .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(redirect(&format!("/review/{watch_id}"))),
        Err(Error::AlreadyResolved(_)) => {
            let mut r = load(&state, principal, watch_id).await?;
            r.notice = Some(Notice::TooLate);
            Ok(html_status(
                StatusCode::CONFLICT,
                review::view(&who.viewer, &r),
            ))
        }
        Err(Error::Validation(message)) => {
            let mut r = load(&state, principal, watch_id).await?;
            r.notice = Some(Notice::Error(message));
            r.comment = form.comment;
            Ok(html_status(
                StatusCode::BAD_REQUEST,
                review::view(&who.viewer, &r),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// "Retry now" / "Send again" on a delivery.
async fn retry(
    req: HttpRequest,
    who: SignedIn,
    path: web::Path<(String, i64)>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, &state.public_url)?;
    let (watch_id, id) = path.into_inner();
    let (principal, w) = (who.principal(), watch_id.clone());
    state
        .writer
        .run(move |tx| outbox::retry(tx, clock::now(), &principal, &w, id))
        .await?;
    Ok(redirect(&format!("/review/{watch_id}")))
}
