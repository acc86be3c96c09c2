//! The one HTTP error type: every domain error maps to one status and one stable code,
//! answered as JSON with the request's id. A 500 shows only the request id; the cause
//! goes to the log.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use super::request_id;
use crate::domain::Error;
use crate::secret;

#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Status and stable code of each domain error.
pub fn classify(e: &Error) -> (StatusCode, &'static str) {
    match e {
        Error::Validation(_) => (StatusCode::BAD_REQUEST, "validation_failed"),
        Error::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
        Error::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        Error::BodyTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
        Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
        Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        Error::AlreadyResolved(_) => (StatusCode::CONFLICT, "already_resolved"),
        Error::IdempotencyConflict => (StatusCode::CONFLICT, "idempotency_conflict"),
        Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        Error::QuotaExceeded { .. } => (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded"),
        Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// The message shown to the client: the error's own words, except for a 500, whose
/// detail is logged under the request's id instead.
pub fn public_message(e: &Error) -> String {
    match e {
        Error::Internal(detail) => {
            // Outside a request (never in the server) a fresh id still ties the two.
            let request_id = request_id::current().unwrap_or_else(|| secret::base62(16));
            tracing::error!(request_id, detail = %detail, "internal error");
            format!("internal error (request id {request_id})")
        }
        other => other.to_string(),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        classify(&self.0).0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = classify(&self.0);
        let mut error = json!({ "code": code, "message": public_message(&self.0) });
        if let Some(id) = request_id::current() {
            error["requestId"] = json!(id);
        }
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match &self.0 {
            Error::QuotaExceeded {
                retry_after_secs, ..
            }
            | Error::RateLimited {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Error::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"hitl\""));
            }
            Error::AlreadyResolved(status) => {
                error["status"] = json!(status);
            }
            _ => {}
        }
        response.json(json!({ "error": error }))
    }
}

pub fn json_error(e: Error) -> actix_web::Error {
    ApiError(e).into()
}
