//! `/api/pause/:watchId/deliveries`: the webhooks (and, for reviewers, mail and Slack
//! messages) of a pause with every attempt, and sending one again by hand.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::{api_key, method_not_allowed, AppState};
use crate::domain::outbox;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/pause/{watch_id}/deliveries")
            .route(web::get().to(list))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/api/pause/{watch_id}/deliveries/{id}/retry")
            .route(web::post().to(retry))
            .default_service(web::to(method_not_allowed)),
    );
}

async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    let watch_id = path.into_inner();
    let items = state
        .read_as(token, move |conn, principal| {
            outbox::deliveries(conn, principal, &watch_id)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "items": items })))
}

async fn retry(
    req: HttpRequest,
    path: web::Path<(String, i64)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let caller = super::caller(&req, &state).await?;
    let (watch_id, id) = path.into_inner();
    let delivery = state
        .write_as_caller(caller, move |tx, principal, now| {
            outbox::retry(tx, now, principal, &watch_id, id)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(delivery))
}
