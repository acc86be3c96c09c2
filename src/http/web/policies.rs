//! Routing policies (admin): add, move up, remove. The same rules as `hitl policy`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{html_status, redirect, Admin, CsrfForm, Flash, PageError};
use crate::domain::policies::{self, NewPolicy};
use crate::domain::{groups, Error};
use crate::http::AppState;
use crate::views::admin::{self, Policies, PolicyForm};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/policies")
            // The add form is read by hand (`reviewers` repeats), so its size is capped here.
            .app_data(web::PayloadConfig::new(crate::http::FORM_LIMIT))
            .route(web::get().to(page))
            .route(web::post().to(add)),
    )
    .route("/policies/{name}/remove", web::post().to(remove))
    .route("/policies/{name}/move-up", web::post().to(move_up));
}

async fn render(
    admin: &Admin,
    state: &AppState,
    status: StatusCode,
    form: PolicyForm,
    error: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (policies, groups) = state
        .read(|conn| Ok((policies::list(conn)?, groups::list(conn)?)))
        .await?;
    Ok(html_status(
        status,
        admin::policies(
            &admin.0.viewer,
            &Policies {
                policies,
                groups,
                form,
                error,
                notice,
            },
        ),
    ))
}

/// Redirects after a change, or shows the page again with an error the admin can fix
/// (a 400 or 409) and the form as typed; any other error is an error page.
async fn outcome<T>(
    admin: &Admin,
    state: &AppState,
    result: Result<T, Error>,
    done: &str,
    form: PolicyForm,
) -> Result<HttpResponse, PageError> {
    match result {
        Ok(_) => Ok(redirect(&format!("/policies?done={done}"))),
        Err(e @ (Error::Validation(_) | Error::Conflict(_))) => {
            let status = crate::http::error::classify(&e).0;
            render(admin, state, status, form, Some(e.to_string()), None).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn page(
    admin: Admin,
    q: web::Query<Flash>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let notice = match q.done.as_deref() {
        Some("added") => {
            Some("Policy added. It is tried after the others: move it up to try it sooner.")
        }
        Some("moved") => Some("Moved up."),
        Some("removed") => Some("Policy removed. Pauses it already routed keep their reviewers."),
        _ => None,
    };
    render(
        &admin,
        &state,
        StatusCode::OK,
        PolicyForm::default(),
        None,
        notice.map(str::to_string),
    )
    .await
}

/// The reviewer checkboxes read from one form at most (a real form has one a group).
const MAX_REVIEWER_FIELDS: usize = 500;

/// The add form with its CSRF token: read by hand, since `reviewers` (a checkbox per
/// group) repeats and serde's form reader takes one value a name.
fn parse_add(body: &[u8]) -> (String, PolicyForm) {
    let (mut csrf, mut f) = (String::new(), PolicyForm::default());
    for (name, value) in url::form_urlencoded::parse(body) {
        let value = value.into_owned();
        match name.as_ref() {
            "csrf" => csrf = value,
            "name" => f.name = value,
            "tags" => f.tags = value,
            "key" => f.key = value,
            "action" => f.action = value,
            "risk" => f.risk = value,
            "reviewers"
                if f.reviewers.len() < MAX_REVIEWER_FIELDS && !f.reviewers.contains(&value) =>
            {
                f.reviewers.push(value)
            }
            "approvals" => f.approvals = value,
            "remind_every" => f.remind_every = value,
            "escalate_after" => f.escalate_after = value,
            "escalate_to" => f.escalate_to = value,
            "on_timeout" => f.on_timeout = value,
            _ => {}
        }
    }
    (csrf, f)
}

/// Text as typed to [`NewPolicy`]; an empty field is "not set".
fn new_policy(f: &PolicyForm) -> Result<NewPolicy, Error> {
    let optional = |text: &str| Some(text.trim().to_string()).filter(|t| !t.is_empty());
    let approvals = match f.approvals.trim() {
        "" => None,
        text => Some(
            text.parse::<u32>()
                .map_err(|_| Error::validation("approvals must be a whole number from 1 to 10"))?,
        ),
    };
    Ok(NewPolicy {
        name: f.name.clone(),
        tags: f
            .tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        key: optional(&f.key),
        action: optional(&f.action),
        risk: optional(&f.risk),
        reviewers: f.reviewers.clone(),
        approvals,
        remind_every: optional(&f.remind_every),
        escalate_after: optional(&f.escalate_after),
        escalate_to: optional(&f.escalate_to),
        on_timeout: optional(&f.on_timeout),
    })
}

async fn add(
    req: HttpRequest,
    admin: Admin,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let (csrf, form) = parse_add(&body);
    admin.0.check_post(&req, &csrf, state.urls.base())?;
    let result = match new_policy(&form) {
        Ok(new) => {
            admin
                .write(&state, move |tx, who, now| {
                    policies::add(tx, now, &who.actor(), new)
                })
                .await
        }
        Err(e) => Err(e),
    };
    outcome(&admin, &state, result, "added", form).await
}

async fn remove(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let name = path.into_inner();
    let result = admin
        .write(&state, move |tx, who, now| {
            policies::remove(tx, now, &who.actor(), &name)
        })
        .await;
    outcome(&admin, &state, result, "removed", PolicyForm::default()).await
}

/// Moves a policy one place up (see [`policies::move_up`]).
async fn move_up(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let name = path.into_inner();
    let result = admin
        .write(&state, move |tx, who, now| {
            policies::move_up(tx, now, &who.actor(), &name)
        })
        .await;
    outcome(&admin, &state, result, "moved", PolicyForm::default()).await
}
