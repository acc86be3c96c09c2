//! Reading a JSON request body with a size limit and clear errors.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;

use crate::domain::Error;

/// Reads at most `limit` bytes and parses them as `T`. Syntax errors are
/// `invalid_json` (an empty body too); well-formed JSON of the wrong shape is
/// `validation_failed`. A `Content-Length` over the limit is refused before anything
/// is read.
pub async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<T, Error> {
    read(req, payload, limit, false)
        .await?
        .ok_or_else(|| Error::InvalidJson("the request body is empty; send a JSON object".into()))
}

/// As [`read_json`], but an empty body (or only whitespace) is `None`.
pub async fn read_optional_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Option<T>, Error> {
    read(req, payload, limit, true).await
}

async fn read<T: DeserializeOwned>(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    allow_empty: bool,
) -> Result<Option<T>, Error> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => too_large(limit),
            other => Error::InvalidJson(format!("could not read the request body: {other}")),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return if allow_empty {
            Ok(None)
        } else {
            Err(Error::InvalidJson(
                "the request body is empty; send a JSON object".into(),
            ))
        };
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| match e.classify() {
            serde_json::error::Category::Data => Error::Validation(e.to_string()),
            _ => Error::InvalidJson(format!("the request body is not valid JSON: {e}")),
        })
}

fn too_large(limit: usize) -> Error {
    Error::PayloadTooLarge(format!("the request body is larger than {limit} bytes"))
}
