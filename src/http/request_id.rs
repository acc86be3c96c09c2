//! A request id on every request. A client's own `X-Request-Id` is kept when it is
//! sane (1 to 128 visible ASCII characters); otherwise, or without one, hitl makes a
//! short random one. The id is echoed in the `X-Request-Id` response header, every log
//! line written while the request is handled carries it (a `request` span), and every
//! error body shows it (`requestId` in JSON, a line on the HTML error page).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};

use crate::secret;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The longest client-supplied id kept.
pub const MAX_LEN: usize = 128;
/// The length of the ids hitl makes (base62, about 95 random bits).
const MADE_LEN: usize = 16;

/// The request's id, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id of a request that went through [`middleware`].
    pub fn of(req: &HttpRequest) -> Option<String> {
        req.extensions().get::<RequestId>().map(|id| id.0.clone())
    }
}

tokio::task_local! {
    /// The id of the request being handled, for error renderers, which do not get
    /// the request (`ResponseError::error_response`).
    static CURRENT: String;
}

/// The id of the request this task is handling, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Visible ASCII (no spaces or control characters), 1 to [`MAX_LEN`] long: safe in a
/// header, a log line and an HTML page.
pub fn is_sane(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

fn pick(req: &ServiceRequest) -> String {
    req.headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_sane(id))
        .map(str::to_owned)
        .unwrap_or_else(|| secret::base62(MADE_LEN))
}

/// The middleware (`actix_web::middleware::from_fn`), outermost: everything inside it,
/// error pages included, runs with the id in the request's extensions, in the task
/// local [`current`] reads and in a `request` span ([`InSpan`]). A plain function
/// returning the future that waits, so that a held request keeps only the id and the
/// inner layers' future, not the request it was given.
pub fn middleware<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> {
    let id = pick(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let handled = InSpan(next.call(req));
    let answered = async move {
        let result = handled.await;
        let _logged_in = span().entered();
        // The id is the task local's, set for as long as this runs.
        let header = CURRENT
            .try_with(|id| HeaderValue::from_str(id))
            .ok()
            .and_then(Result::ok);
        match result {
            Ok(mut res) => {
                if failed(res.status()) {
                    let req = res.request();
                    // The route's pattern, not the path: a mailed link's path is a
                    // secret. A path that matches no route is shown.
                    let route = req
                        .match_pattern()
                        .unwrap_or_else(|| format!("(none) {}", req.path()));
                    log_failure(req.method(), &route, res.status(), res.response().error());
                }
                if let Some(value) = header {
                    res.headers_mut().insert(HEADER, value);
                }
                Ok(res)
            }
            // The app renders its errors itself, so this does not happen; if it did,
            // the error is rendered here, where the id is known.
            Err(e) => {
                let mut response = HttpResponse::from_error(e);
                log_failure(&method, "(unknown)", response.status(), response.error());
                if let Some(value) = header {
                    response.headers_mut().insert(HEADER, value);
                }
                let cause = response
                    .error()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                Err(InternalError::from_response(cause, response).into())
            }
        }
    };
    CURRENT.scope(id, answered)
}

/// A `request` span for the request this task is handling (none outside one).
fn span() -> tracing::Span {
    CURRENT
        .try_with(|id| tracing::info_span!("request", request_id = %id))
        .unwrap_or_else(|_| tracing::Span::none())
}

/// A future polled in a `request` span made for each poll, not one held open for the
/// whole request: an open span keeps a slot in the log subscriber's registry and its
/// formatted fields, and a held long-poll kept them for its whole wait (at the default
/// log level, 10,000 held cost +96.3 MiB with it, +91.2 without). Every line logged
/// inside reads the same. Most requests are polled once or twice; status reads and
/// creates measured no slower for it.
struct InSpan<F>(F);

impl<F: Future + Unpin> Future for InSpan<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _polled_in = span().entered();
        Pin::new(&mut self.0).poll(cx)
    }
}

fn failed(status: StatusCode) -> bool {
    status.is_client_error() || status.is_server_error()
}

/// One line for each failed request, under its id. A 500's cause is logged where it
/// happened; a refusal's reason is its error's message. Values are escaped.
fn log_failure(method: &Method, route: &str, status: StatusCode, error: Option<&actix_web::Error>) {
    let (method, status) = (method.as_str(), status.as_u16());
    if status >= 500 {
        tracing::error!(status, method, route = ?route, "request failed");
    } else if let Some(e) = error {
        let reason = e.to_string();
        tracing::info!(status, method, route = ?route, reason = ?reason, "request refused");
    } else {
        tracing::info!(status, method, route = ?route, "request refused");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicIsize, Ordering};
    use std::sync::{Arc, Mutex};
    use tracing::span;
    use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt as _};

    /// A log writer the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Counts the spans open in the subscriber (made and not yet closed).
    struct OpenSpans(Arc<AtomicIsize>);

    impl<S: tracing::Subscriber> Layer<S> for OpenSpans {
        fn on_new_span(&self, _: &span::Attributes<'_>, _: &span::Id, _: LayerContext<'_, S>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn on_close(&self, _: span::Id, _: LayerContext<'_, S>) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn every_poll_logs_in_the_request_span_and_none_is_open_between() {
        let log = Captured::default();
        let writer = log.clone();
        let open = Arc::new(AtomicIsize::new(0));
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(move || writer.clone())
                    .with_ansi(false),
            )
            .with(OpenSpans(Arc::clone(&open)));
        let open_between = tracing::subscriber::with_default(subscriber, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let handled = InSpan(Box::pin(async {
                tracing::info!("first poll");
                tokio::task::yield_now().await;
                tracing::info!("second poll");
            }));
            runtime.block_on(async {
                let mut scoped = std::pin::pin!(CURRENT.scope("abc".to_string(), handled));
                // The first poll logs and yields: the request is held, as a long-poll is.
                assert!(futures_util::poll!(scoped.as_mut()).is_pending());
                let open_between = open.load(Ordering::SeqCst);
                scoped.await;
                open_between
            })
        });
        assert_eq!(open_between, 0, "a request span stayed open between polls");
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        for message in ["first poll", "second poll"] {
            let line = text.lines().find(|l| l.contains(message));
            assert!(
                line.is_some_and(|l| l.contains("request{request_id=abc}")),
                "{message:?} not logged in the request's span:\n{text}"
            );
        }
    }

    #[test]
    fn sane_ids_are_visible_ascii_and_not_too_long() {
        assert!(is_sane("abc-123_DEF.4"));
        assert!(is_sane(&"a".repeat(MAX_LEN)));
        assert!(!is_sane(&"a".repeat(MAX_LEN + 1)));
        assert!(!is_sane(""));
        assert!(!is_sane("has space"));
        assert!(!is_sane("new\nline"));
        assert!(!is_sane("é"));
    }
}
