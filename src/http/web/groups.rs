//! Groups (admin): see every group with its members, create a group, add members,
//! take one out. Each change is one domain call in one transaction, audited there,
//! exactly as `hitl group` does it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{html_status, redirect, Admin, Flash, PageError};
use crate::clock;
use crate::domain::{groups, users, Error};
use crate::http::AppState;
use crate::urls;
use crate::views::groups::{self as view, GroupForm, Groups};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(urls::GROUPS, web::get().to(page))
        .route(urls::GROUPS, web::post().to(create))
        .route("/groups/{name}/members", web::post().to(add))
        .route("/groups/{name}/members/remove", web::post().to(remove));
}

async fn render(
    admin: &Admin,
    state: &AppState,
    status: StatusCode,
    form: GroupForm,
    error: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (groups, emails) = state
        .read(|conn| {
            let emails = users::list(conn)?.into_iter().map(|u| u.email).collect();
            Ok((groups::list(conn)?, emails))
        })
        .await?;
    Ok(html_status(
        status,
        view::groups(
            &admin.0.viewer,
            &Groups {
                groups,
                emails,
                form,
                error,
                notice,
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
        Some("created") => Some("Group created. Add its members below."),
        Some("added") => Some("Members added."),
        Some("unchanged") => Some("Nothing to add: they are all in the group already."),
        Some("removed") => Some("Member removed from the group."),
        _ => None,
    };
    render(
        &admin,
        &state,
        StatusCode::OK,
        GroupForm::default(),
        None,
        notice.map(str::to_string),
    )
    .await
}

/// Back to the page (at the group) with a notice; or the page again with the error
/// for what the admin can fix (a bad name, a taken name, an unknown email or group),
/// nothing changed. Other errors are error pages.
async fn outcome(
    admin: &Admin,
    state: &AppState,
    result: Result<(&str, String), Error>,
    form: GroupForm,
) -> Result<HttpResponse, PageError> {
    match result {
        Ok((done, group)) => Ok(redirect(&format!(
            "{}?done={done}#{}",
            urls::GROUPS,
            urls::query_value(&format!("group-{group}"))
        ))),
        Err(e @ (Error::Validation(_) | Error::Conflict(_) | Error::NotFound(_))) => {
            let status = crate::http::error::classify(&e).0;
            let message = format!("Nothing was changed: {e}");
            render(admin, state, status, form, Some(message), None).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

async fn create(
    req: HttpRequest,
    admin: Admin,
    form: web::Form<CreateForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let CreateForm { name, .. } = form.into_inner();
    let sticky = GroupForm {
        name: name.clone(),
        creating: true,
        ..GroupForm::default()
    };
    let result = admin
        .write(&state, move |tx, who, now| {
            groups::create(tx, now, &who.actor(), &name)
        })
        .await
        .map(|name| ("created", name));
    outcome(&admin, &state, result, sticky).await
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    csrf: String,
    /// One or more emails, separated by commas, semicolons or white space.
    #[serde(default)]
    emails: String,
}

/// The emails of an add form, as typed between the separators.
fn split_emails(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

async fn add(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<AddForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let group = path.into_inner();
    let typed = form.into_inner().emails;
    let sticky = GroupForm {
        adding: Some((group.clone(), typed.clone())),
        ..GroupForm::default()
    };
    let emails = split_emails(&typed);
    let result = admin
        .write(&state, move |tx, who, now| {
            let added = groups::add(tx, now, &who.actor(), &group, &emails)?;
            let done = if added.is_empty() {
                "unchanged"
            } else {
                "added"
            };
            Ok((done, group))
        })
        .await;
    outcome(&admin, &state, result, sticky).await
}

#[derive(Deserialize)]
struct RemoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

async fn remove(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<RemoveForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    admin.0.check_post(&req, &form.csrf, state.urls.base())?;
    let group = path.into_inner();
    let email = form.into_inner().email;
    let result = admin
        .write(&state, move |tx, who, now| {
            groups::remove(tx, now, &who.actor(), &group, &email)?;
            Ok(("removed", group))
        })
        .await;
    outcome(&admin, &state, result, GroupForm::default()).await
}

#[cfg(test)]
mod tests {
    use super::split_emails;

    #[test]
    fn emails_split_on_commas_semicolons_and_spaces() {
        assert_eq!(
            split_emails(" a@example.com, b@example.com;c@example.com\n d@example.com ,"),
            [
                "a@example.com",
                "b@example.com",
                "c@example.com",
                "d@example.com"
            ]
        );
        assert!(split_emails(" , ; ").is_empty());
    }
}
