//! API keys (admin): create (shown once), edit, rotate the webhook secret, revoke.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{html_status, redirect, Admin, CsrfForm, PageError};
use crate::clock;
use crate::domain::keys::{self, CreatedKey, NewKey};
use crate::domain::{outbox, users, Error};
use crate::http::AppState;
use crate::views::admin::{self, KeyForm, Keys};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/keys", web::get().to(page))
        .route("/keys", web::post().to(create))
        .route("/keys/{id}", web::post().to(update))
        .route("/keys/{id}/revoke", web::post().to(revoke))
        .route("/keys/{id}/rotate-secret", web::post().to(rotate_secret))
        .route("/keys/{id}/test-webhook", web::post().to(test_webhook));
}

#[derive(Default)]
struct Shown {
    /// The key whose latest test webhook to show.
    tested: Option<String>,
    created: Option<CreatedKey>,
    rotated: Option<(String, String)>,
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
    let tested_key = shown.tested.clone();
    let (keys, users, tested) = state
        .read(move |conn| {
            let keys = keys::list(conn, clock::now())?;
            let tested = match tested_key {
                Some(id) => {
                    let name = keys
                        .iter()
                        .find(|k| k.id == id)
                        .map(|k| k.name.clone())
                        .unwrap_or_default();
                    outbox::tests_of_key(conn, &id)?
                        .into_iter()
                        .next()
                        .map(|d| (name, d))
                }
                None => None,
            };
            Ok((keys, users::list(conn)?, tested))
        })
        .await?;
    Ok(html_status(
        status,
        admin::keys(
            &admin.0.viewer,
            &Keys {
                keys,
                tested,
                users,
                created: shown.created,
                rotated: shown.rotated,
                form: shown.form,
                error: shown.error,
                notice: shown.notice,
                now: clock::now(),
            },
        ),
    ))
}

/// Shows the page again with an error the admin can fix (a 400 or 409); any other
/// error is an error page.
async fn refuse(
    admin: &Admin,
    state: &AppState,
    e: Error,
    form: KeyForm,
) -> Result<HttpResponse, PageError> {
    match e {
        Error::Validation(_) | Error::Conflict(_) => {
            let status = crate::http::error::classify(&e).0;
            let shown = Shown {
                form,
                error: Some(e.to_string()),
                ..Shown::default()
            };
            render(admin, state, status, shown).await
        }
        other => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct Flash {
    done: Option<String>,
    tested: Option<String>,
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
            tested: q.tested.clone(),
            notice,
            ..Shown::default()
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
    #[serde(default)]
    owner: String,
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
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let form = form.into_inner();
    let sticky = KeyForm {
        name: form.name.clone(),
        user: form.user.clone(),
        webhook_url: form.webhook_url.clone(),
        monthly_limit: form.monthly_limit.clone(),
        owner: form.owner.clone(),
    };
    let url_check = match form.webhook_url.trim() {
        "" => Ok(()),
        url => state.check_webhook_url(url).await,
    };
    let created = match url_check.and_then(|()| parse_limit(&form.monthly_limit)) {
        Ok(monthly_limit) => {
            let new = NewKey {
                name: form.name,
                user_email: Some(form.user.trim().to_string()).filter(|u| !u.is_empty()),
                webhook_url: Some(form.webhook_url.trim().to_string()).filter(|u| !u.is_empty()),
                monthly_limit,
                owner_email: Some(form.owner.trim().to_string()).filter(|o| !o.is_empty()),
            };
            admin
                .write(&state, move |tx, who, now| {
                    keys::create(tx, now, &who.actor(), new)
                })
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
                    ..Shown::default()
                },
            )
            .await
        }
        Err(e) => refuse(&admin, &state, e, sticky).await,
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
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let id = path.into_inner();
    let form = form.into_inner();
    let url_check = match form.webhook_url.trim() {
        "" => Ok(()),
        url => state.check_webhook_url(url).await,
    };
    let result = match url_check.and_then(|()| parse_limit(&form.monthly_limit)) {
        Ok(limit) => {
            admin
                .write(&state, move |tx, who, now| {
                    keys::update(tx, now, &who.actor(), &id, Some(&form.webhook_url), limit)
                })
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(redirect("/keys?done=saved")),
        Err(e) => refuse(&admin, &state, e, KeyForm::default()).await,
    }
}

async fn revoke(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let id = path.into_inner();
    match admin
        .write(&state, move |tx, who, now| {
            keys::revoke(tx, now, &who.actor(), &id)
        })
        .await
    {
        Ok(_) => Ok(redirect("/keys?done=revoked")),
        Err(e) => refuse(&admin, &state, e, KeyForm::default()).await,
    }
}

/// A new webhook secret, shown in this response only.
async fn rotate_secret(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let id = path.into_inner();
    match admin
        .write(&state, move |tx, who, now| {
            keys::rotate_secret(tx, now, &who.actor(), &id)
        })
        .await
    {
        Ok((key, secret)) => {
            let shown = Shown {
                rotated: Some((key.name, secret)),
                ..Shown::default()
            };
            render(&admin, &state, StatusCode::OK, shown).await
        }
        Err(e) => refuse(&admin, &state, e, KeyForm::default()).await,
    }
}

/// Queues a test webhook to the key's URL and shows how it went.
async fn test_webhook(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let id = path.into_inner();
    let key_id = id.clone();
    match admin
        .write(&state, move |tx, who, now| {
            outbox::test_webhook(tx, now, &who.actor(), &key_id)
        })
        .await
    {
        Ok(_) => {
            // Give a quick receiver the moment it needs, so the page can say how it went.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            Ok(redirect(&format!(
                "/keys?tested={}",
                crate::views::query_value(&id)
            )))
        }
        Err(e) => refuse(&admin, &state, e, KeyForm::default()).await,
    }
}
