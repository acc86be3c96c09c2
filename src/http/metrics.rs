//! `GET /metrics` for Prometheus, and the middleware that counts every request by its
//! matched route (see `crate::metrics`).

use std::future::Future;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, Header as _};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{allow, bearer, AppState};
use crate::db;
use crate::metrics::{self, Stored};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/metrics")
            .route(web::get().to(scrape))
            .default_service(allow("GET")),
    );
}

/// Every metric, as OpenMetrics text when the scraper asks for it first (Prometheus
/// does), else in the Prometheus text format. With `--metrics-token`, only for the
/// bearer of that token.
async fn scrape(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(expected) = &state.metrics_token {
        let given = bearer(&req).unwrap_or_default();
        if !crate::secret::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"hitl metrics\""))
                .content_type("text/plain; charset=utf-8")
                .body("/metrics needs Authorization: Bearer <the --metrics-token>\n");
        }
    }
    let stored = state
        .read(|conn| {
            db::read_tx(conn, |conn| {
                Ok(Stored {
                    pending_pauses: db::stats::count_pending(conn)?,
                    outbox: db::stats::outbox_backlog(conn)?,
                })
            })
        })
        .await;
    let stored = match stored {
        Ok(stored) => stored,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the database for /metrics");
            return HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("database unavailable\n");
        }
    };
    let long_polls = state.memory.long_polls();
    let (text, content_type) = if wants_openmetrics(&req) {
        (
            state.metrics.openmetrics(&stored, long_polls),
            metrics::OPENMETRICS_CONTENT_TYPE,
        )
    } else {
        (
            state.metrics.prometheus_text(&stored, long_polls),
            metrics::PROMETHEUS_CONTENT_TYPE,
        )
    };
    match text {
        Ok(text) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, content_type))
            .insert_header((header::VARY, "Accept"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "cannot write /metrics");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("cannot write the metrics\n")
        }
    }
}

/// The scraper's `Accept` (parsed by actix, by preference) puts OpenMetrics before the
/// plain text format. No header, or one that cannot be read: plain text.
fn wants_openmetrics(req: &HttpRequest) -> bool {
    let Ok(accept) = header::Accept::parse(req) else {
        return false;
    };
    for mime in accept.ranked() {
        let essence = mime.essence_str();
        if essence == "application/openmetrics-text" {
            return true;
        }
        if essence == "text/plain" || mime.type_() == "*" || essence == "text/*" {
            return false;
        }
    }
    false
}

/// Counts each request once answered: by the pattern of the route it matched (a
/// bounded set, never the raw path), its method and the status of its answer.
///
/// A plain function returning the future that waits: a held request keeps only what
/// the count needs and the inner layers' future, not the request it was given.
pub fn count<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> {
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| Arc::clone(&state.metrics));
    let route = req.match_pattern();
    let method = req.method().clone();
    let answered = next.call(req);
    async move {
        let result = answered.await;
        let status = match &result {
            Ok(res) => res.status(),
            Err(e) => e.as_response_error().status_code(),
        };
        if let Some(metrics) = metrics {
            metrics.http_request(route, &method, status.as_u16());
        }
        result
    }
}
