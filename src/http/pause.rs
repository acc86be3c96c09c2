//! `/api/pause`: create, status (with long-poll), list, decide, answer, cancel.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::body::read_json;
use super::error::ApiError;
use super::{api_key, method_not_allowed, AppState};
use crate::clock;
use crate::domain::pauses::{self, CreateRequest, Decision, ListQuery, Pause};
use crate::domain::{Error, Kind, Status};

const MAX_WAIT_SECS: u64 = 60;
/// Room for everything in a request body besides the context.
pub(super) const BODY_OVERHEAD: usize = 64 * 1024;
const SMALL_BODY: usize = 16 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/pause")
            .route(web::post().to(create))
            .route(web::get().to(list))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/api/pause/{watch_id}")
            .route(web::get().to(status))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/api/pause/{watch_id}/approve")
            .route(web::post().to(decide))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/api/pause/{watch_id}/answer")
            .route(web::post().to(answer))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/api/pause/{watch_id}/cancel")
            .route(web::post().to(cancel))
            .default_service(web::to(method_not_allowed)),
    );
}

/// The pause object of the API.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseBody<'a> {
    watch_id: &'a str,
    kind: Kind,
    status: Status,
    action: &'a str,
    options: Option<&'a [String]>,
    context: Option<&'a RawValue>,
    tags: &'a [String],
    created_at: String,
    expires_at: Option<String>,
    resolved_at: Option<String>,
    resolved_by: Option<&'a str>,
    comment: Option<&'a str>,
    answer: Option<&'a str>,
    status_url: String,
    review_url: String,
}

impl<'a> PauseBody<'a> {
    pub fn new(p: &'a Pause, state: &AppState) -> Self {
        PauseBody {
            watch_id: &p.watch_id,
            kind: p.kind,
            status: p.status,
            action: &p.action,
            options: p.options.as_deref(),
            // Stored context is the agent's JSON text, checked when it was created.
            context: p
                .context
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok()),
            tags: &p.tags,
            created_at: clock::rfc3339(p.created_at),
            expires_at: p.expires_at.map(clock::rfc3339),
            resolved_at: p.resolved_at.map(clock::rfc3339),
            resolved_by: p.resolved_by.as_deref(),
            comment: p.comment.as_deref(),
            answer: p.answer.as_deref(),
            status_url: state.urls.status(&p.watch_id),
            review_url: state.urls.review(&p.watch_id),
        }
    }
}

fn pause_response(
    mut builder: actix_web::HttpResponseBuilder,
    p: &Pause,
    state: &AppState,
) -> HttpResponse {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(PauseBody::new(p, state))
}

async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map_err(|_| Error::validation("Idempotency-Key must be printable ASCII"))
        })
        .transpose()?;
    let limits = state.limits;
    let request: CreateRequest = read_json(&req, payload, state.max_create_body(), false)
        .await?
        .ok_or_else(|| Error::InvalidJson("the request body is empty".into()))?;
    let new = request.validate(limits, idempotency_key)?;
    let created = state.create_pause(token, new).await?;
    let builder = if created.replayed {
        HttpResponse::Ok()
    } else {
        let mut b = HttpResponse::Created();
        b.insert_header((header::LOCATION, state.urls.status(&created.pause.watch_id)));
        b
    };
    Ok(pause_response(builder, &created.pause, &state))
}

#[derive(Deserialize)]
struct StatusQuery {
    wait: Option<String>,
}

fn parse_wait(raw: Option<&str>) -> Result<u64, Error> {
    match raw {
        None | Some("") => Ok(0),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|w| *w <= MAX_WAIT_SECS)
            .ok_or_else(|| {
                Error::validation(format!(
                    "wait must be a whole number of seconds from 0 to {MAX_WAIT_SECS}"
                ))
            }),
    }
}

/// The pause; with `?wait=N`, held until it leaves `pending` or N seconds pass.
async fn status(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<StatusQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    let wait = parse_wait(query.wait.as_deref())?;
    let pause = state
        .wait_for_decision(token, path.into_inner(), Duration::from_secs(wait))
        .await?;
    Ok(pause_response(HttpResponse::Ok(), &pause, &state))
}

#[derive(Deserialize)]
struct ListParams {
    status: Option<String>,
    tag: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl ListParams {
    fn into_query(self) -> Result<ListQuery, Error> {
        let status = match self.status.as_deref() {
            None | Some("") => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                Error::validation(
                    "status must be one of pending, approved, rejected, answered, expired, cancelled",
                )
            })?),
        };
        let limit = match self.limit.as_deref() {
            None | Some("") => pauses::DEFAULT_LIST_LIMIT,
            Some(l) => l
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=pauses::MAX_LIST_LIMIT).contains(l))
                .ok_or_else(|| {
                    Error::validation(format!(
                        "limit must be from 1 to {}",
                        pauses::MAX_LIST_LIMIT
                    ))
                })?,
        };
        let cursor = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(pauses::decode_cursor(c)?),
        };
        Ok(ListQuery {
            statuses: status.into_iter().collect(),
            tag: self.tag.filter(|t| !t.is_empty()),
            limit,
            cursor,
            ..ListQuery::default()
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListBody<'a> {
    items: Vec<PauseBody<'a>>,
    next_cursor: Option<String>,
}

async fn list(
    req: HttpRequest,
    params: web::Query<ListParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    let query = params.into_inner().into_query()?;
    let page = state
        .read_as(token, move |conn, principal| {
            pauses::list(conn, principal, &query)
        })
        .await?;
    let body = ListBody {
        items: page
            .items
            .iter()
            .map(|p| PauseBody::new(p, &state))
            .collect(),
        next_cursor: page.next_cursor,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideBody {
    decision: String,
    #[serde(default)]
    comment: Option<String>,
}

async fn decide(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // A reviewer key, or the web page's session with its CSRF token.
    let caller = super::caller(&req, &state).await?;
    let body: DecideBody = read_json(&req, payload, SMALL_BODY, false)
        .await?
        .ok_or_else(|| Error::InvalidJson("the request body is empty".into()))?;
    let decision = Decision::parse(&body.decision)?;
    let watch_id = path.into_inner();
    let channels = state.channels;
    let pause = state
        .write_as_caller(caller, move |tx, principal, now| {
            pauses::decide(
                tx,
                now,
                principal,
                &watch_id,
                decision,
                body.comment,
                &channels,
            )
        })
        .await?;
    Ok(pause_response(HttpResponse::Ok(), &pause, &state))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    answer: String,
}

/// Answers a question: a reviewer key, or the web page's session with its CSRF token.
async fn answer(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let caller = super::caller(&req, &state).await?;
    let body: AnswerBody = read_json(&req, payload, SMALL_BODY, false)
        .await?
        .ok_or_else(|| Error::InvalidJson("the request body is empty".into()))?;
    let watch_id = path.into_inner();
    let channels = state.channels;
    let pause = state
        .write_as_caller(caller, move |tx, principal, now| {
            pauses::answer(tx, now, principal, &watch_id, &body.answer, &channels)
        })
        .await?;
    Ok(pause_response(HttpResponse::Ok(), &pause, &state))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    #[serde(default)]
    reason: Option<String>,
}

async fn cancel(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    let body: CancelBody = read_json(&req, payload, SMALL_BODY, true)
        .await?
        .unwrap_or_default();
    let watch_id = path.into_inner();
    let channels = state.channels;
    let pause = state
        .write_as(token, move |tx, auth, now| {
            pauses::cancel(tx, now, &auth.principal, &watch_id, body.reason, &channels)
        })
        .await?;
    Ok(pause_response(HttpResponse::Ok(), &pause, &state))
}
