//! `/mail/:token`: the Approve and Reject links of a mail. GET shows a confirm page
//! (link scanners and previews open links); one POST decides as the link's reviewer.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{html, html_status, PageError};
use crate::clock;
use crate::domain::{links, Error};
use crate::http::AppState;
use crate::views::mail::{self, Confirm};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/mail/{token}", web::get().to(page))
        .route("/mail/{token}", web::post().to(decide));
}

fn refused(e: &Error) -> HttpResponse {
    let (status, _) = crate::http::error::classify(e);
    html_status(
        status,
        mail::outcome("This link cannot be used", &e.to_string(), None),
    )
}

async fn page(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    let key = state.link_key.clone();
    let check = token.clone();
    let found = state
        .read(move |conn| Ok(links::inspect(conn, &key, &check, clock::now())))
        .await?;
    let (link, pause, user) = match found {
        Ok(found) => found,
        Err(e @ (Error::NotFound(_) | Error::Conflict(_))) => return Ok(refused(&e)),
        Err(e) => return Err(e.into()),
    };
    if pause.status.is_terminal() {
        return Ok(html_status(
            StatusCode::CONFLICT,
            mail::outcome("Already decided", "Nothing was changed.", Some(&pause)),
        ));
    }
    let context = pause
        .context
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok());
    Ok(html(mail::confirm(&Confirm {
        token,
        pause,
        context,
        decision: link.decision,
        reviewer: user.email,
        error: None,
    })))
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    comment: String,
}

async fn decide(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<DecideForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    if !super::same_origin(&req, state.urls.base()) {
        return Err(PageError::CrossSite);
    }
    let token = path.into_inner();
    let (key, channels, comment) = (
        state.link_key.clone(),
        state.channels,
        form.into_inner().comment,
    );
    let result = state
        .writer
        .run(move |tx| links::decide(tx, clock::now(), &key, &token, Some(comment), &channels))
        .await;
    match result {
        Ok(pause) if pause.status == crate::domain::Status::Pending => Ok(html(mail::outcome(
            "Approval recorded",
            &format!(
                "{}: the pause waits for the other reviewers.",
                crate::views::approvals_progress(&pause)
            ),
            Some(&pause),
        ))),
        Ok(pause) => Ok(html(mail::outcome(
            "Done",
            "The agent learns your decision now.",
            Some(&pause),
        ))),
        Err(Error::AlreadyResolved(_)) => Ok(html_status(
            StatusCode::CONFLICT,
            mail::outcome(
                "Already decided",
                "Someone decided first, or the pause expired. Nothing was changed.",
                None,
            ),
        )),
        Err(
            e @ (Error::NotFound(_)
            | Error::Conflict(_)
            | Error::Validation(_)
            | Error::SelfApproval(_)
            | Error::NotAReviewer(_)
            | Error::AlreadyVoted),
        ) => Ok(refused(&e)),
        Err(e) => Err(e.into()),
    }
}
