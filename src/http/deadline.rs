//! Request bodies arrive in bounded time and size. A client that sends its headers and
//! then trickles or stalls the body would otherwise hold a connection (and whatever
//! the handler holds) forever, without any credentials. Every body must arrive within
//! `--body-timeout` of the request's start, else the answer is 408 and the connection
//! is closed; a `Content-Length` above the largest body any route takes is refused with
//! 413 before a byte of it is read. Each route still applies its own, smaller limit.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, ConnectionType};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage as _, HttpResponse, ResponseError};
use futures_util::Stream;

use super::error::ApiError;
use super::web::PageError;
use crate::domain::Error;

/// The limits every request body is held to.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub timeout: Duration,
    /// The largest body any route accepts.
    pub max_bytes: u64,
}

/// The middleware: `App::wrap(from_fn(deadline::enforce))`, with [`BodyLimits`] in
/// the app data.
pub async fn enforce(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(limits) = req.app_data::<BodyLimits>().copied() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let api = req.path().starts_with("/api/");
    let headers = req.headers();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes) {
        let error = Error::PayloadTooLarge(format!(
            "the request body is larger than {} bytes",
            limits.max_bytes
        ));
        let response = Refusal { api, error }.error_response();
        return Ok(req.into_response(response));
    }
    let has_body =
        declared.is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING);
    if !has_body {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let expired = Arc::new(AtomicBool::new(false));
    let inner = req.take_payload();
    let stream: BoxedStream = Box::pin(Deadline {
        inner,
        sleep: Box::pin(tokio::time::sleep(limits.timeout)),
        expired: Arc::clone(&expired),
    });
    req.set_payload(Payload::from(stream));
    let response = next.call(req).await;
    if !expired.load(Ordering::Acquire) {
        return Ok(response?.map_into_boxed_body());
    }
    let error = Error::BodyTimeout(format!(
        "the request body did not arrive within {}",
        humantime::format_duration(limits.timeout)
    ));
    let refusal = Refusal { api, error };
    match response {
        Ok(res) => {
            tracing::info!(
                path = res.request().path(),
                "a request body did not arrive in time: 408, connection closed"
            );
            let timed_out = refusal.error_response();
            Ok(res.into_response(timed_out))
        }
        Err(_) => Err(refusal.into()),
    }
}

type BoxedStream = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

/// A body refused for its size or its slowness: the usual error (JSON on the API, a
/// page elsewhere), and the connection closed, since the rest of the body may still be
/// on its way.
#[derive(Debug)]
struct Refusal {
    api: bool,
    error: Error,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for Refusal {
    fn status_code(&self) -> actix_web::http::StatusCode {
        super::error::classify(&self.error).0
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = if self.api {
            ApiError(self.error.clone()).error_response()
        } else {
            PageError::Domain(self.error.clone()).error_response()
        };
        response
            .head_mut()
            .set_connection_type(ConnectionType::Close);
        response
    }
}

/// The request's body stream, cut off with an error once the deadline passes.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }
}
