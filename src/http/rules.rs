//! `/api/rules`: the standing approvals, and revoking one.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::{allow, api_key, AppState};
use crate::clock;
use crate::domain::rules::{self, Rule};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/rules")
            .route(web::get().to(list))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/api/rules/{id}")
            .route(web::delete().to(revoke))
            .default_service(allow("DELETE")),
    );
}

/// Every standing approval, newest first.
#[derive(Serialize, ToSchema)]
#[schema(as = RuleList)]
struct ListBody {
    items: Vec<Rule>,
}

/// The standing approvals (reviewer keys): active, expired, used up and revoked,
/// newest first.
#[utoipa::path(
    get,
    path = "/api/rules",
    tag = "rules",
    operation_id = "listRules",
    responses(
        (status = 200, description = "The rules", body = ListBody),
        (status = 403, description = "An agent key", body = ErrorBody),
    ),
    security(("reviewerKey" = [])),
)]
async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    let items = state
        .read_as(token, move |conn, principal| {
            rules::list(conn, principal, clock::now())
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ListBody { items }))
}

/// Revoke a standing approval at once: the next matching pause waits for a person.
/// By the reviewer who made it or an admin; a revoked rule is answered as it is.
#[utoipa::path(
    delete,
    path = "/api/rules/{id}",
    tag = "rules",
    operation_id = "revokeRule",
    params(("id" = i64, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "Revoked", body = Rule),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 403, description = "An agent key, or a reviewer who neither made it nor is an admin", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
    ),
    security(("reviewerKey" = [])),
)]
async fn revoke(
    req: HttpRequest,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let caller = super::caller(&req, &state).await?;
    let id = path.into_inner();
    let rule = state
        .write_as_caller(caller, move |tx, principal, now| {
            rules::revoke(tx, now, principal, id)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(rule))
}
