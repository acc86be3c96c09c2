//! Request bodies arrive in bounded time and size. A client that sends its headers and
//! then trickles or stalls the body would otherwise hold a connection (and whatever
//! the handler holds) forever, without any credentials. Every body must arrive within
//! `--body-timeout` of the request's start, else the answer is 408 and the connection
//! is closed. A `Content-Length` above the largest body any route takes is refused
//! with 413 before the handler runs or a byte is stored; each route still applies its
//! own, smaller limit. After an answer given before the whole body was read (such a
//! 413, or a handler's refusal), at most [`DRAIN_LIMIT`] more bytes are read and
//! thrown away, so a client still sending sees the answer instead of a broken pipe;
//! past that, or past the deadline, the connection is closed. (actix-http's own
//! "linger" for this is off, see `http::serve`: on a loaded machine it left some
//! connections open for good.)

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, ConnectionType};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage as _, HttpResponse, ResponseError};
use futures_util::future::{Either, FutureExt as _};
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

/// How much of an unread body is read and thrown away after an early answer (a 413,
/// or a refusal before the handler read the body), so that the client, still sending,
/// sees the answer rather than a broken connection. Beyond it the connection is closed.
const DRAIN_LIMIT: u64 = 1 << 20;

/// The middleware: `App::wrap(from_fn(deadline::enforce))`, with [`BodyLimits`] in
/// the app data.
///
/// A plain function: a request without a body (a long-poll, say) is passed on as it
/// is, and what it holds while it is handled is the inner layers' future alone, not
/// the room [`with_body`] needs.
pub fn enforce<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> impl Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>> {
    let limits = req.app_data::<BodyLimits>().copied();
    let headers = req.headers();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let has_body =
        declared.is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING);
    match limits.filter(|_| has_body) {
        None => Either::Left(
            next.call(req)
                .map(|answered| answered.map(ServiceResponse::map_into_boxed_body)),
        ),
        Some(limits) => Either::Right(Box::pin(with_body(req, next, limits, declared))),
    }
}

/// A request with a body: read within `limits`, and what an early answer left unread
/// drained or the connection closed.
async fn with_body<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
    limits: BodyLimits,
    declared: Option<u64>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let form = Form::for_path(req.path());
    let body = Rc::new(Body {
        payload: RefCell::new(req.take_payload()),
        deadline: RefCell::new(Box::pin(tokio::time::sleep(limits.timeout))),
        expired: Cell::new(false),
        finished: Cell::new(false),
    });

    if let Some(declared) = declared.filter(|n| *n > limits.max_bytes) {
        // Refused before the body is read; a body of a sane size is then thrown away.
        let error = Error::PayloadTooLarge(format!(
            "the request body is larger than {} bytes",
            limits.max_bytes
        ));
        let mut response = Refusal { form, error }.error_response();
        if declared - limits.max_bytes > DRAIN_LIMIT || !body.drain(declared).await {
            response = close_after(response, &body);
        }
        return Ok(req.into_response(response));
    }

    let stream: BoxedStream = Box::pin(Shared(Rc::clone(&body)));
    req.set_payload(Payload::from(stream));
    let response = next.call(req).await;
    if !body.expired.get() {
        let res = response?.map_into_boxed_body();
        // Answered before the whole body was read: read the rest (a bounded amount)
        // so the client sees the answer, else close.
        if !body.finished.get() && !body.drain(DRAIN_LIMIT).await {
            let (req, response) = res.into_parts();
            return Ok(ServiceResponse::new(req, close_after(response, &body)));
        }
        return Ok(res);
    }
    let error = Error::BodyTimeout(format!(
        "the request body did not arrive within {}",
        humantime::format_duration(limits.timeout)
    ));
    let refusal = Refusal { form, error };
    match response {
        Ok(res) => {
            tracing::info!(
                path = res.request().path(),
                "a request body did not arrive in time: 408, connection closed"
            );
            let timed_out = close_after(refusal.error_response(), &body);
            Ok(res.into_response(timed_out))
        }
        Err(_) => Err(refusal.into()),
    }
}

/// Closes the connection once `response` is written. The unread body stays alive
/// until the response's own body is sent (the response holds it): actix-http closes
/// a connection whose request body is unread, but waits for a dropped chunked body
/// to drain, which a stalled client never lets happen.
fn close_after(response: HttpResponse, body: &Rc<Body>) -> HttpResponse {
    let held = Rc::clone(body);
    let mut response =
        response.map_body(move |_, inner| BoxBody::new(Holding { inner, _held: held }));
    response
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    response
}

/// A response body that keeps a request's [`Body`] alive while it is sent.
struct Holding {
    inner: BoxBody,
    _held: Rc<Body>,
}

impl MessageBody for Holding {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_next(cx)
    }
}

type BoxedStream = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

/// How a refusal is answered on a path.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// A JSON error: the API, and the HumanLayer SDK, which parses every answer as
    /// JSON, refusals included.
    Json,
    /// A 200 deny: a Claude Code hook fails closed.
    HookDeny,
    /// A JSON-RPC error: MCP clients parse every answer as one.
    JsonRpc,
    /// An HTML page.
    Page,
}

impl Form {
    fn for_path(path: &str) -> Form {
        if path == super::hooks::PATH {
            Form::HookDeny
        } else if path == super::mcp::PATH {
            Form::JsonRpc
        } else if path.starts_with("/api/") || path.starts_with("/humanlayer/") {
            Form::Json
        } else {
            Form::Page
        }
    }
}

/// A body refused for its size or its slowness, answered in the path's [`Form`], and
/// the connection closed, since the rest of the body may still be on its way.
#[derive(Debug)]
struct Refusal {
    form: Form,
    error: Error,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for Refusal {
    fn status_code(&self) -> actix_web::http::StatusCode {
        match self.form {
            Form::HookDeny => actix_web::http::StatusCode::OK,
            Form::Json | Form::JsonRpc | Form::Page => super::error::classify(&self.error).0,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = match self.form {
            Form::HookDeny => super::hooks::refused(&self.error),
            Form::Json => ApiError(self.error.clone()).error_response(),
            Form::JsonRpc => super::mcp::refused(self.status_code(), &self.error),
            Form::Page => PageError::Domain(self.error.clone()).error_response(),
        };
        response
            .head_mut()
            .set_connection_type(ConnectionType::Close);
        response
    }
}

/// A request's body, shared by the handler (through [`Shared`]) and the middleware,
/// which reads what the handler left. Cut off with an error once the deadline passes.
struct Body {
    payload: RefCell<Payload>,
    deadline: RefCell<Pin<Box<tokio::time::Sleep>>>,
    expired: Cell<bool>,
    /// The whole body was read.
    finished: Cell<bool>,
}

impl Body {
    fn poll_chunk(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, PayloadError>>> {
        if self.expired.get() || self.finished.get() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut *self.payload.borrow_mut()).poll_next(cx) {
            if item.is_none() {
                self.finished.set(true);
            }
            return Poll::Ready(item);
        }
        if self.deadline.borrow_mut().as_mut().poll(cx).is_ready() {
            self.expired.set(true);
            return Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }

    /// Reads and throws away the rest of the body, at most `limit` bytes, within the
    /// deadline; true when it was all read.
    async fn drain(&self, limit: u64) -> bool {
        let mut read: u64 = 0;
        loop {
            match std::future::poll_fn(|cx| self.poll_chunk(cx)).await {
                None => return self.finished.get(),
                Some(Ok(chunk)) => {
                    read += chunk.len() as u64;
                    if read > limit {
                        return false;
                    }
                }
                Some(Err(_)) => return false,
            }
        }
    }
}

/// The handler's view of a [`Body`].
struct Shared(Rc<Body>);

impl Stream for Shared {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_chunk(cx)
    }
}
