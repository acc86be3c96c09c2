use actix_web::{web, HttpResponse};

use super::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz));
}

/// 200 `ok` when the database answers a read and its writer thread is running.
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
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
