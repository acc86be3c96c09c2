//! API keys (admin): create (shown once), edit, revoke.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{html_status, redirect, Admin, PageError};
use crate::clock;
use crate::domain::keys::{self, CreatedKey, NewKey};
use crate::domain::{users, Error};
use crate::http::AppState;
use crate::views::admin::{self, KeyForm, Keys};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/keys", web::get().to(page))
        .route("/keys", web::post().to(create))
        .route("/keys/{id}", web::post().to(update))
        .route("/keys/{id}/revoke", web::post().to(revoke));
}

struct Shown {
    created: Option<CreatedKey>,
    form: KeyForm,
    error: Option<String>,
    notice: Option<String>,
}

async fn render(
    admin: &Admin,
    state: &AppState,
    status: StatusCode,
    shown: Shown,
) -> Result<HttpResponse, PageError> {
    let (keys, users) = state
        .read(|conn| Ok((keys::list(conn, clock::now())?, users::list(conn)?)))
        .await?;
    Ok(html_status(
        status,
        admin::keys(
            &admin.0.viewer,
            &Keys {
                keys,
                users,
                created: shown.created,
                form: shown.form,
                error: shown.error,
                notice: shown.notice,
                now: clock::now(),
            },
        ),
    ))
}

#[derive(Deserialize)]
struct Flash {
    done: Option<String>,
}

async fn page(
    admin: Admin,
    q: web::Query<Flash>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let notice = match q.done.as_deref() {
        Some("revoked") => Some("The key is revoked.".to_string()),
        Some("saved") => Some("Saved.".to_string()),
        _ => None,
    };
    render(
        &admin,
        &state,
        StatusCode::OK,
        Shown {
            created: None,
            form: KeyForm::default(),
            error: None,
            notice,
        },
    )
    .await
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    csrf: String,
    name: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    webhook_url: String,
    #[serde(default)]
    monthly_limit: String,
}

fn parse_limit(text: &str) -> Result<Option<i64>, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<i64>()
        .map(Some)
        .map_err(|_| Error::validation("the monthly limit must be a whole number"))
}

async fn create(
    req: HttpRequest,
    admin: Admin,
    form: web::Form<CreateForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, &state.public_url)?;
    let form = form.into_inner();
    let sticky = KeyForm {
        name: form.name.clone(),
        user: form.user.clone(),
        webhook_url: form.webhook_url.clone(),
        monthly_limit: form.monthly_limit.clone(),
    };
    let actor = admin.0.principal().actor();
    let created = match parse_limit(&form.monthly_limit) {
        Ok(monthly_limit) => {
            let new = NewKey {
                name: form.name,
                user_email: Some(form.user.trim().to_string()).filter(|u| !u.is_empty()),
                webhook_url: Some(form.webhook_url.trim().to_string()).filter(|u| !u.is_empty()),
                monthly_limit,
            };
            state
                .writer
                .run(move |tx| keys::create(tx, clock::now(), &actor, new))
                .await
        }
        Err(e) => Err(e),
    };
    match created {
        // The key is in this response only: it is never stored, redirected to, or logged.
        Ok(created) => {
            render(
                &admin,
                &state,
                StatusCode::OK,
                Shown {
                    created: Some(created),
                    form: KeyForm::default(),
                    error: None,
                    notice: None,
                },
            )
            .await
        }
        Err(e @ (Error::Validation(_) | Error::Conflict(_))) => {
            render(
                &admin,
                &state,
                StatusCode::BAD_REQUEST,
                Shown {
                    created: None,
                    form: sticky,
                    error: Some(e.to_string()),
                    notice: None,
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct UpdateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    webhook_url: String,
    #[serde(default)]
    monthly_limit: String,
}

async fn update(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<UpdateForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, &state.public_url)?;
    let id = path.into_inner();
    let form = form.into_inner();
    let actor = admin.0.principal().actor();
    let result = match parse_limit(&form.monthly_limit) {
        Ok(limit) => {
            state
                .writer
                .run(move |tx| {
                    keys::update(
                        tx,
                        clock::now(),
                        &actor,
                        &id,
                        Some(&form.webhook_url),
                        limit,
                    )
                })
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(redirect("/keys?done=saved")),
        Err(e @ (Error::Validation(_) | Error::Conflict(_))) => {
            render(
                &admin,
                &state,
                StatusCode::BAD_REQUEST,
                Shown {
                    created: None,
                    form: KeyForm::default(),
                    error: Some(e.to_string()),
                    notice: None,
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn revoke(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, &state.public_url)?;
    let id = path.into_inner();
    let actor = admin.0.principal().actor();
    match state
        .writer
        .run(move |tx| keys::revoke(tx, clock::now(), &actor, &id))
        .await
    {
        Ok(_) => Ok(redirect("/keys?done=revoked")),
        Err(e @ Error::Conflict(_)) => {
            render(
                &admin,
                &state,
                StatusCode::CONFLICT,
                Shown {
                    created: None,
                    form: KeyForm::default(),
                    error: Some(e.to_string()),
                    notice: None,
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
