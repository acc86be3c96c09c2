//! About: version, data directory and the effective settings, secrets redacted.

use actix_web::{web, HttpResponse};

use super::{html, PageError, SignedIn};
use crate::db;
use crate::domain::pauses;
use crate::http::AppState;
use crate::views::about::{self, About};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/about", web::get().to(page));
}

async fn page(who: SignedIn, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let counts = state.read(pauses::totals).await?;
    let head = state.read(db::audit::head).await?;
    Ok(html(about::view(
        &who.viewer,
        &About {
            version: env!("CARGO_PKG_VERSION"),
            schema_version: db::SCHEMA_VERSION,
            settings: state.web.settings.clone(),
            counts,
            audit_head: head.map(|(id, hash)| {
                (
                    id,
                    hash.map_or_else(|| "(not chained)".into(), |h| crate::secret::hex(&h)),
                )
            }),
        },
    )))
}
