//! The queue (home page) and its list fragment for live updates.

use actix_web::{web, HttpResponse};

use super::{html, PageError, SignedIn};
use crate::clock;
use crate::domain::pauses;
use crate::http::AppState;
use crate::views::queue::{self, Queue};

/// The queue shows at most this many pauses (oldest first).
const SHOWN: u32 = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page))
        .route("/fragments/queue", web::get().to(fragment));
}

async fn load(state: &AppState) -> Result<Queue, PageError> {
    let (items, pending) = state.read(|conn| pauses::queue(conn, SHOWN)).await?;
    Ok(Queue {
        items,
        pending,
        now: clock::now(),
        public_url: state.urls.base().to_string(),
    })
}

async fn page(who: SignedIn, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let q = load(&state).await?;
    let mut viewer = who.viewer;
    viewer.pending = q.pending;
    Ok(html(queue::view(&viewer, &q)))
}

async fn fragment(_who: SignedIn, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    Ok(html(queue::list(&load(&state).await?)))
}
