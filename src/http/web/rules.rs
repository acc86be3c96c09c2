//! The Rules page: every reviewer sees the standing approvals; the reviewer who made
//! one, or an admin, revokes it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{html_status, redirect, CsrfForm, Flash, PageError, SignedIn};
use crate::clock;
use crate::domain::rules;
use crate::domain::Error;
use crate::http::AppState;
use crate::urls;
use crate::views::rules::{self as view, Rules};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(urls::RULES, web::get().to(page))
        .route("/rules/{id}/revoke", web::post().to(revoke));
}

async fn render(
    who: &SignedIn,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, PageError> {
    let principal = who.principal();
    let now = clock::now();
    let rules = state
        .read(move |conn| rules::list(conn, &principal, now))
        .await?;
    let revocable = rules
        .iter()
        .filter(|r| rules::may_revoke(&who.session.user, r))
        .map(|r| r.id)
        .collect();
    let model = Rules {
        rules,
        revocable,
        error,
        notice,
        now,
    };
    Ok(html_status(status, view::view(&who.viewer, &model)))
}

async fn page(
    who: SignedIn,
    q: web::Query<Flash>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let notice = match q.done.as_deref() {
        Some("revoked") => Some(
            "The standing approval is revoked: matching requests wait for a reviewer again."
                .to_string(),
        ),
        _ => None,
    };
    render(&who, &state, StatusCode::OK, None, notice).await
}

async fn revoke(
    req: HttpRequest,
    who: SignedIn,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    who.check_post(&req, &form.csrf, state.urls.base())?;
    let id = path.into_inner();
    match who
        .write(&state, move |tx, principal, now| {
            rules::revoke(tx, now, principal, id)
        })
        .await
    {
        Ok(_) => Ok(redirect(&format!("{}?done=revoked", urls::RULES))),
        // Said on the page, in words: someone else's rule, or one that is gone.
        Err(e @ (Error::Forbidden(_) | Error::NotFound(_))) => {
            let status = crate::http::error::classify(&e).0;
            render(&who, &state, status, Some(e.to_string()), None).await
        }
        Err(e) => Err(e.into()),
    }
}
