//! The queue (home page), its list fragment for live updates, and deciding several
//! of its pauses at once.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{html, PageError, SignedIn};
use crate::clock;
use crate::domain::pauses::{self, Decision};
use crate::domain::Error;
use crate::http::AppState;
use crate::urls;
use crate::views::bulk::{self, Confirm, Outcome};
use crate::views::queue::{self, Queue};

/// The queue shows at most this many pauses (oldest first).
const SHOWN: u32 = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page))
        .route("/fragments/queue", web::get().to(fragment))
        .service(
            web::resource(urls::QUEUE_BULK)
                .app_data(web::PayloadConfig::new(crate::http::FORM_LIMIT))
                .route(web::post().to(bulk_decide)),
        );
}

async fn load(state: &AppState, seat: pauses::Seat) -> Result<Queue, PageError> {
    let (items, pending) = state
        .read(move |conn| pauses::queue(conn, SHOWN, seat))
        .await?;
    Ok(Queue {
        items,
        pending,
        now: clock::now(),
        public_url: state.urls.base().to_string(),
    })
}

async fn page(who: SignedIn, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let q = load(&state, who.seat()).await?;
    let mut viewer = who.viewer;
    viewer.pending = q.pending;
    Ok(html(queue::view(&viewer, &q)))
}

async fn fragment(who: SignedIn, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    Ok(html(queue::list(&load(&state, who.seat()).await?)))
}

/// The bulk form: `id` repeated, so read by hand (serde's form reader takes one).
struct BulkForm {
    csrf: String,
    decision: String,
    ids: Vec<String>,
    comment: String,
    confirmed: bool,
}

impl BulkForm {
    /// At most one id more than [`SHOWN`] is kept (enough to refuse too many).
    fn parse(body: &[u8]) -> BulkForm {
        let mut seen = std::collections::HashSet::new();
        let mut form = BulkForm {
            csrf: String::new(),
            decision: String::new(),
            ids: Vec::new(),
            comment: String::new(),
            confirmed: false,
        };
        for (key, value) in url::form_urlencoded::parse(body) {
            match key.as_ref() {
                "csrf" => form.csrf = value.into_owned(),
                "decision" => form.decision = value.into_owned(),
                "comment" => form.comment = value.into_owned(),
                "confirmed" => form.confirmed = value == "1",
                "id" if form.ids.len() <= SHOWN as usize && seen.insert(value.clone()) => {
                    form.ids.push(value.into_owned())
                }
                _ => {}
            }
        }
        form
    }
}

/// Several pauses approved or rejected in one step: first a page that lists them to
/// confirm, then each decided on its own through the one decision rule, so one already
/// decided elsewhere is reported and the others still go through.
async fn bulk_decide(
    req: HttpRequest,
    who: SignedIn,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = BulkForm::parse(&body);
    who.check_post(&req, &form.csrf, state.urls.base())?;
    let decision = Decision::parse(&form.decision)?;
    let approve = decision == Decision::Approved;
    if form.ids.is_empty() {
        return Err(Error::validation("select at least one pause in the queue first").into());
    }
    if form.ids.len() > SHOWN as usize {
        return Err(Error::validation(format!("select at most {SHOWN} pauses at once")).into());
    }
    if !form.confirmed {
        let (principal, ids) = (who.principal(), form.ids.clone());
        let (pauses, missing) = state
            .read(move |conn| {
                let (mut found, mut missing) = (Vec::new(), Vec::new());
                for id in ids {
                    match pauses::get(conn, &principal, &id) {
                        Ok(p) => found.push(p),
                        Err(Error::NotFound(_)) => missing.push(id),
                        Err(e) => return Err(e),
                    }
                }
                found.sort_by_key(|p| p.id);
                Ok((found, missing))
            })
            .await?;
        let c = Confirm {
            approve,
            pauses,
            missing,
        };
        return Ok(html(bulk::confirm(&who.viewer, &c)));
    }
    let mut outcomes = Vec::with_capacity(form.ids.len());
    for id in form.ids {
        let (watch_id, comment, channels) = (id.clone(), form.comment.clone(), state.channels);
        let result = who
            .write(&state, move |tx, principal, now| {
                pauses::decide_in_bulk(
                    tx,
                    now,
                    principal,
                    &watch_id,
                    pauses::Verdict::new(decision, Some(comment), None),
                    &channels,
                )
            })
            .await;
        let outcome = match result {
            Ok(p) => Outcome::Decided(p),
            Err(Error::AlreadyResolved(_)) => {
                let (principal, watch_id) = (who.principal(), id.clone());
                match state
                    .read(move |conn| pauses::get(conn, &principal, &watch_id))
                    .await
                {
                    Ok(p) => Outcome::AlreadyResolved(p),
                    Err(e) => Outcome::Refused(id, crate::http::error::public_message(&e)),
                }
            }
            // A signed-out or demoted session stops the rest; those decided are shown.
            Err(e @ (Error::Unauthorized | Error::Forbidden(_) | Error::Internal(_))) => {
                let message = crate::http::error::public_message(&e);
                let rest = format!("{message}; the rest were not decided");
                outcomes.push(Outcome::Refused(id, rest));
                break;
            }
            Err(e) => Outcome::Refused(id, crate::http::error::public_message(&e)),
        };
        outcomes.push(outcome);
    }
    let seat = who.seat();
    let mut viewer = who.viewer;
    viewer.pending = state
        .read(move |conn| pauses::pending_count(conn, seat))
        .await
        .unwrap_or(viewer.pending);
    Ok(html(bulk::done(&viewer, approve, &outcomes)))
}
