//! `/events`: Server-Sent Events that tell open pages a pause arrived or was decided.
//! Each message names the pause and its status; the page fetches what it shows.

use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use futures_util::stream;
use tokio::sync::broadcast;

use super::SignedIn;
use crate::http::AppState;

const HEARTBEAT: Duration = Duration::from_secs(15);

pub use crate::model::events::LiveEvent;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/events", web::get().to(events));
}

struct Feed {
    rx: broadcast::Receiver<LiveEvent>,
    stopping: tokio::sync::watch::Receiver<bool>,
    first: bool,
}

async fn next(mut feed: Feed) -> Option<(Result<Bytes, actix_web::Error>, Feed)> {
    if feed.first {
        feed.first = false;
        // Ask the browser to reconnect quickly after a restart.
        return Some((Ok(Bytes::from_static(b"retry: 2000\n\n")), feed));
    }
    if *feed.stopping.borrow() {
        return None;
    }
    let message = tokio::select! {
        received = feed.rx.recv() => match received {
            Ok(event) => {
                let data = serde_json::to_string(&event).unwrap_or_default();
                format!("event: pause\ndata: {data}\n\n")
            }
            // Missed some: tell the page to refresh what it shows.
            Err(broadcast::error::RecvError::Lagged(_)) => "event: resync\ndata: {}\n\n".to_string(),
            Err(broadcast::error::RecvError::Closed) => return None,
        },
        _ = tokio::time::sleep(HEARTBEAT) => ": keep-alive\n\n".to_string(),
        _ = feed.stopping.changed() => return None,
    };
    Some((Ok(Bytes::from(message)), feed))
}

async fn events(_who: SignedIn, state: web::Data<AppState>) -> HttpResponse {
    let feed = Feed {
        rx: state.live.subscribe(),
        stopping: state.stopping.clone(),
        first: true,
    };
    super::hardened(actix_web::http::StatusCode::OK)
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream::unfold(feed, next))
}
