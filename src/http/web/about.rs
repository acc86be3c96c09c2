//! About: version, data directory and the effective settings, secrets redacted.

use actix_web::{web, HttpResponse};

use super::{html, PageError, SignedIn};
use crate::db;
use crate::http::AppState;
use crate::views::about::{self, About};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/about", web::get().to(page));
}

async fn page(who: SignedIn, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let counts = state
        .read(|conn| {
            let count = |sql: &str| -> crate::domain::Result<i64> {
                Ok(conn.query_row(sql, [], |r| r.get(0))?)
            };
            Ok(vec![
                ("pauses".to_string(), count("SELECT count(*) FROM pauses")?),
                (
                    "pending".to_string(),
                    count("SELECT count(*) FROM pauses WHERE status = 'pending'")?,
                ),
                (
                    "API keys (active)".to_string(),
                    count("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL")?,
                ),
                ("users".to_string(), count("SELECT count(*) FROM users")?),
                (
                    "audit entries".to_string(),
                    count("SELECT count(*) FROM audit")?,
                ),
            ])
        })
        .await?;
    Ok(html(about::view(
        &who.viewer,
        &About {
            version: env!("CARGO_PKG_VERSION"),
            schema_version: db::SCHEMA_VERSION,
            settings: state.web.settings.clone(),
            counts,
        },
    )))
}
