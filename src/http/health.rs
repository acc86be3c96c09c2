use actix_web::{web, HttpResponse};

use super::{allow, AppState};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(healthz))
            .default_service(allow("GET")),
    );
}

/// 200 `ok` when the database answers a read and its writer thread is running.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "health",
    responses(
        (status = 200, description = "Up: the database answers", body = String,
            content_type = "text/plain", example = "ok\n"),
        (status = 503, description = "The database is unavailable", body = String,
            content_type = "text/plain"),
    ),
    security(()),
)]
pub(super) async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    if !state.writer.is_alive() {
        tracing::error!("health check failed: the database writer has stopped");
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("database writer stopped\n");
    }
    let answer = state
        .read(|conn| {
            Ok(conn
                .prepare_cached("SELECT 1")?
                .query_row([], |r| r.get::<_, i64>(0))?)
        })
        .await;
    match answer {
        Ok(_) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok\n"),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("database unavailable\n")
        }
    }
}
