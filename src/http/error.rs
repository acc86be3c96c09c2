//! The one HTTP error type: every domain error maps to one status and one stable code,
//! answered as JSON with the request's id. A 500 shows only the request id; the cause
//! goes to the log.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::request_id;
use crate::domain::{Error, Status};
use crate::secret;

/// Every error answer of the API: `{"error": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for a program (`code`) and for a person (`message`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// A sentence for a person; its wording may change, the code does not.
    #[schema(example = "action must not be empty")]
    pub message: String,
    /// The request's id, also in the `X-Request-Id` header and the server's log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// With `already_resolved`: the status the pause has now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: String, request_id: Option<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code,
                message,
                request_id,
                status: None,
            },
        }
    }
}

/// The stable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ValidationFailed,
    InvalidJson,
    PayloadTooLarge,
    RequestTimeout,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    AlreadyResolved,
    /// Separation of duties: the owner of a pause's agent key may not decide it.
    SelfApproval,
    /// The pause is routed to groups this reviewer is not in (nor a delegate for).
    NotAReviewer,
    /// This reviewer has already approved the pause; it needs other reviewers.
    AlreadyVoted,
    IdempotencyConflict,
    Conflict,
    QuotaExceeded,
    RateLimited,
    Internal,
}

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
pub fn classify(e: &Error) -> (StatusCode, ErrorCode) {
    use ErrorCode as C;
    match e {
        Error::Validation(_) => (StatusCode::BAD_REQUEST, C::ValidationFailed),
        Error::InvalidJson(_) => (StatusCode::BAD_REQUEST, C::InvalidJson),
        Error::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, C::PayloadTooLarge),
        Error::BodyTimeout(_) => (StatusCode::REQUEST_TIMEOUT, C::RequestTimeout),
        Error::Unauthorized => (StatusCode::UNAUTHORIZED, C::Unauthorized),
        Error::Forbidden(_) => (StatusCode::FORBIDDEN, C::Forbidden),
        Error::NotFound(_) => (StatusCode::NOT_FOUND, C::NotFound),
        Error::AlreadyResolved(_) => (StatusCode::CONFLICT, C::AlreadyResolved),
        Error::SelfApproval(_) => (StatusCode::FORBIDDEN, C::SelfApproval),
        Error::NotAReviewer(_) => (StatusCode::FORBIDDEN, C::NotAReviewer),
        Error::AlreadyVoted => (StatusCode::CONFLICT, C::AlreadyVoted),
        Error::IdempotencyConflict => (StatusCode::CONFLICT, C::IdempotencyConflict),
        Error::Conflict(_) => (StatusCode::CONFLICT, C::Conflict),
        Error::QuotaExceeded { .. } => (StatusCode::TOO_MANY_REQUESTS, C::QuotaExceeded),
        Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, C::RateLimited),
        Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, C::Internal),
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
        let mut body = ErrorBody::new(code, public_message(&self.0), request_id::current());
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
                body.error.status = Some(*status);
            }
            _ => {}
        }
        response.json(body)
    }
}

pub fn json_error(e: Error) -> actix_web::Error {
    ApiError(e).into()
}
