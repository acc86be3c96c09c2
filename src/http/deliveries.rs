//! `/api/pause/:watchId/deliveries`: the webhooks (and, for reviewers, mail and Slack
//! messages) of a pause with every attempt, and sending one again by hand.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::{allow, api_key, AppState};
use crate::domain::outbox;
use crate::model::delivery::Delivery;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/pause/{watch_id}/deliveries")
            .route(web::get().to(list))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/api/pause/{watch_id}/deliveries/{id}/retry")
            .route(web::post().to(retry))
            .default_service(allow("POST")),
    );
}

/// A pause's deliveries.
#[derive(Serialize, ToSchema)]
#[schema(as = DeliveryList)]
struct ListBody {
    items: Vec<Delivery>,
}

/// The webhooks of a pause (for a reviewer key also its mail and Slack messages), each
/// with every attempt.
#[utoipa::path(
    get,
    path = "/api/pause/{watchId}/deliveries",
    tag = "deliveries",
    operation_id = "listDeliveries",
    params(("watchId" = String, Path, description = "The pause's id")),
    responses(
        (status = 200, description = "The deliveries", body = ListBody),
        (status = 404, description = "No such pause for this key", body = ErrorBody),
    ),
    security(("agentKey" = []), ("reviewerKey" = [])),
)]
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
        .json(ListBody { items }))
}

/// Send a delivery again now (reviewer key, or the web page's session).
#[utoipa::path(
    post,
    path = "/api/pause/{watchId}/deliveries/{id}/retry",
    tag = "deliveries",
    operation_id = "retryDelivery",
    params(
        ("watchId" = String, Path, description = "The pause's id"),
        ("id" = i64, Path, description = "The delivery's id"),
    ),
    responses(
        (status = 200, description = "Queued to be sent at once", body = Delivery),
        (status = 400, description = "The delivery id is not a number", body = ErrorBody),
        (status = 403, description = "An agent key", body = ErrorBody),
        (status = 404, description = "No such pause or delivery", body = ErrorBody),
        (status = 409, description = "The delivery is already on its way", body = ErrorBody),
    ),
    security(("reviewerKey" = [])),
)]
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
