//! `POST /api/pause/:watchId/extend`: more time for a pending pause.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::read_json;
use super::error::{ApiError, ErrorBody};
use super::pause::{pause_response, PauseBody, SMALL_BODY};
use super::AppState;
use crate::domain::pauses;
use crate::domain::Error;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ExtendRequest)]
struct ExtendBody {
    /// Seconds added to the current `expiresAt` (from now if it has none), 1 to 30 days.
    /// A whole number; `3600.0` counts as 3600, as JSON Schema says.
    #[schema(value_type = i64, minimum = 1, maximum = 2592000)]
    seconds: serde_json::Number,
}

/// A JSON number that is a whole number of seconds, however it is written.
fn whole_seconds(n: &serde_json::Number) -> Result<i64, Error> {
    n.as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        })
        .ok_or_else(|| Error::validation("seconds must be a whole number"))
}

/// Give a pending pause more time (reviewer key, or the web page's session): `seconds`
/// are added to its `expiresAt`, or counted from now if it has none.
#[utoipa::path(
    post,
    path = "/api/pause/{watchId}/extend",
    tag = "pauses",
    operation_id = "extendPause",
    params(("watchId" = String, Path, description = "The pause's id")),
    request_body = ExtendBody,
    responses(
        (status = 200, description = "Extended: the pause with its new `expiresAt`", body = PauseBody),
        (status = 400, description = "Not JSON, or `seconds` out of range", body = ErrorBody),
        (status = 403, description = "An agent key", body = ErrorBody),
        (status = 404, description = "No such pause", body = ErrorBody),
        (status = 409, description = "`already_resolved`", body = ErrorBody),
    ),
    security(("reviewerKey" = [])),
)]
pub(super) async fn extend(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let caller = super::caller(&req, &state).await?;
    let body: ExtendBody = read_json(&req, payload, SMALL_BODY).await?;
    let seconds = whole_seconds(&body.seconds)?;
    let watch_id = path.into_inner();
    let pause = state
        .write_as_caller(caller, move |tx, principal, now| {
            pauses::extend(tx, now, principal, &watch_id, seconds)
        })
        .await?;
    Ok(pause_response(HttpResponse::Ok(), &pause, &state))
}

#[cfg(test)]
mod tests {
    #[test]
    fn extend_seconds_are_whole_numbers_however_written() {
        let n = |t: &str| serde_json::from_str::<serde_json::Number>(t).ok();
        for (text, want) in [("3600", Some(3600)), ("3600.0", Some(3600)), ("1.5", None)] {
            let got = n(text).and_then(|n| super::whole_seconds(&n).ok());
            assert_eq!(got, want, "{text}");
        }
    }
}
