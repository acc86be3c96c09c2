//! Users (admin): invite, make a password reset link, remove, set role, turn email
//! notifications on or off. (`POST /users` with a password still adds a user directly,
//! for scripts written before invitations.)

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{html_status, redirect, Admin, CsrfForm, Flash, NotifyForm, PageError};
use crate::clock;
use crate::domain::accounts::{self, Issued};
use crate::domain::{users, Error, Role};
use crate::http::AppState;
use crate::views::admin::{self, IssuedLink, Users};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(page))
        .route("/users", web::post().to(add))
        .route("/users/invite", web::post().to(invite))
        .route("/users/{id}/reset", web::post().to(reset))
        .route("/users/{id}/role", web::post().to(set_role))
        .route("/users/{id}/notify", web::post().to(set_notify))
        .route("/users/{id}/remove", web::post().to(remove));
}

async fn render(
    admin: &Admin,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    form_email: String,
    issued: Option<IssuedLink>,
) -> Result<HttpResponse, PageError> {
    let users = state.read(users::list).await?;
    Ok(html_status(
        status,
        admin::users(
            &admin.0.viewer,
            &Users {
                users,
                self_id: admin.0.session.user.user_id,
                issued,
                email_on: state.channels.email,
                error,
                notice,
                form_email,
                now: clock::now(),
            },
        ),
    ))
}

async fn page(
    admin: Admin,
    q: web::Query<Flash>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let notice = match q.done.as_deref() {
        Some("added") => Some("User added. They can sign in now.".to_string()),
        Some("removed") => Some("User removed; their reviewer keys are revoked.".to_string()),
        Some("saved") => Some("Saved.".to_string()),
        _ => None,
    };
    render(
        &admin,
        &state,
        StatusCode::OK,
        None,
        notice,
        String::new(),
        None,
    )
    .await
}

/// Shows the page again with the error for what users can fix; other errors are pages.
async fn outcome<T>(
    admin: &Admin,
    state: &AppState,
    result: Result<T, Error>,
    done: &str,
    form_email: String,
) -> Result<HttpResponse, PageError> {
    match result {
        Ok(_) => Ok(redirect(&format!("/users?done={done}"))),
        Err(e @ (Error::Validation(_) | Error::Conflict(_))) => {
            render(
                admin,
                state,
                crate::http::error::classify(&e).0,
                Some(e.to_string()),
                None,
                form_email,
                None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    csrf: String,
    email: String,
    role: String,
    password: String,
}

async fn add(
    req: HttpRequest,
    admin: Admin,
    form: web::Form<AddForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let form = form.into_inner();
    let email = form.email.clone();
    let result = match (
        Role::parse(&form.role),
        super::hash_password(form.password).await?,
    ) {
        (None, _) => Err(Error::validation("role must be admin or approver")),
        (_, Err(e)) => Err(e),
        (Some(role), Ok(hashed)) => {
            admin
                .write(&state, move |tx, who, now| {
                    users::add(tx, now, &who.actor(), &form.email, role, &hashed)
                })
                .await
        }
    };
    outcome(&admin, &state, result, "added", email).await
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    csrf: String,
    email: String,
    role: String,
}

/// Shows a link just made (in this response only: it is never stored or redirected
/// to), or the page with the error.
async fn show_link(
    admin: &Admin,
    state: &AppState,
    result: Result<Issued, Error>,
    form_email: String,
) -> Result<HttpResponse, PageError> {
    match result {
        Ok(issued) => {
            let link = IssuedLink {
                email: issued.user.email.clone(),
                invite: issued.purpose == accounts::Purpose::Invite,
                link: state.urls.password_link(&issued.token),
                expires_at: issued.expires_at,
                mailed: issued.mailed,
            };
            render(
                admin,
                state,
                StatusCode::OK,
                None,
                None,
                String::new(),
                Some(link),
            )
            .await
        }
        Err(e) => outcome(admin, state, Err::<(), _>(e), "", form_email).await,
    }
}

async fn invite(
    req: HttpRequest,
    admin: Admin,
    form: web::Form<InviteForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let form = form.into_inner();
    let email = form.email.clone();
    let mail = state.channels.email;
    let result = match Role::parse(&form.role) {
        None => Err(Error::validation("role must be admin or approver")),
        Some(role) => {
            admin
                .write(&state, move |tx, who, now| {
                    accounts::invite(tx, now, &who.actor(), &form.email, role, mail)
                })
                .await
        }
    };
    show_link(&admin, &state, result, email).await
}

async fn reset(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let id = path.into_inner();
    let mail = state.channels.email;
    let result = admin
        .write(&state, move |tx, who, now| {
            let user = users::by_id(tx, id)?;
            accounts::reset(tx, now, &who.actor(), &user.email, mail)
        })
        .await;
    show_link(&admin, &state, result, String::new()).await
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    csrf: String,
    role: String,
}

async fn set_role(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<i64>,
    form: web::Form<RoleForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let id = path.into_inner();
    let result = match Role::parse(&form.role) {
        Some(role) => {
            admin
                .write(&state, move |tx, who, now| {
                    users::set_role(tx, now, &who.actor(), id, role)
                })
                .await
        }
        None => Err(Error::validation("role must be admin or approver")),
    };
    outcome(&admin, &state, result, "saved", String::new()).await
}

async fn set_notify(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<i64>,
    form: web::Form<NotifyForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let (id, on) = (path.into_inner(), form.on == "true");
    let result = admin
        .write(&state, move |tx, who, now| {
            users::set_notify_email(tx, now, &who.actor(), id, on)
        })
        .await;
    outcome(&admin, &state, result, "saved", String::new()).await
}

async fn remove(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let id = path.into_inner();
    let result = admin
        .write(&state, move |tx, who, now| {
            users::remove_by_id(tx, now, &who.actor(), id)
        })
        .await;
    outcome(&admin, &state, result, "removed", String::new()).await
}
