//! `/api/pause`: create, status (with long-poll), list, decide, answer, extend, cancel.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::body::{read_json, read_optional_json};
use super::error::{ApiError, ErrorBody};
use super::{allow, api_key, AppState};
use crate::clock;
use crate::domain::pauses::{self, CreateRequest, Decision, ListQuery, Pause};
use crate::domain::{Error, Kind, OnTimeout, Risk, Status};
use crate::model::pause::Approval;

const MAX_WAIT_SECS: u64 = 60;
/// Room for everything in a request body besides the context.
pub(super) const BODY_OVERHEAD: usize = 64 * 1024;
/// The bodies of decide, answer and cancel: room for their 4,000-byte texts however
/// they are escaped (a `\uXXXX` escape is 6 bytes for 1 to 3 bytes of text).
pub(super) const SMALL_BODY: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/pause")
            .route(web::post().to(create))
            .route(web::get().to(list))
            .default_service(allow("GET, POST")),
    )
    .service(
        web::resource("/api/pause/{watch_id}")
            .route(web::get().to(status))
            .default_service(allow("GET")),
    )
    .service(
        web::resource("/api/pause/{watch_id}/approve")
            .route(web::post().to(decide))
            .default_service(allow("POST")),
    )
    .service(
        web::resource("/api/pause/{watch_id}/answer")
            .route(web::post().to(answer))
            .default_service(allow("POST")),
    )
    .service(
        web::resource("/api/pause/{watch_id}/extend")
            .route(web::post().to(super::extend::extend))
            .default_service(allow("POST")),
    )
    .service(
        web::resource("/api/pause/{watch_id}/cancel")
            .route(web::post().to(cancel))
            .default_service(allow("POST")),
    );
}

/// The pause object of the API.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Pause)]
pub struct PauseBody<'a> {
    #[schema(example = "wch_4Jd8sK2mQ9xV7bN1pL3cR5tY")]
    watch_id: &'a str,
    kind: Kind,
    status: Status,
    /// What the agent wants to do, or a question.
    action: &'a str,
    /// A question's choices, or a decision's reasons to reject.
    options: Option<&'a [String]>,
    /// The context as the agent sent it (never changed by an edit).
    #[schema(value_type = Option<serde_json::Value>)]
    context: Option<&'a RawValue>,
    /// The context as a reviewer edited and approved it; null when not edited.
    #[schema(value_type = Option<serde_json::Value>)]
    approved_context: Option<&'a RawValue>,
    /// A reviewer changed the context before approving: act on `approvedContext`.
    edited: bool,
    tags: &'a [String],
    /// The agent's rating of the action's risk, if it gave one.
    risk: Option<Risk>,
    /// What will happen if approved, as the agent put it, if given.
    summary: Option<&'a str>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    #[schema(format = DateTime)]
    resolved_at: Option<String>,
    /// What the timeout does when it passes: expire, or decide reject or approve.
    on_timeout: OnTimeout,
    /// The deciding user's email, `system` for the timeout, the key's name for a cancel.
    resolved_by: Option<&'a str>,
    /// The timeout ended it: expired, or approved or rejected by `onTimeout`.
    timed_out: bool,
    /// The reviewer's comment, or the reason of a cancel.
    comment: Option<&'a str>,
    /// A question's answer.
    answer: Option<&'a str>,
    /// A decision rejected with one of its options: that option.
    reject_option: Option<&'a str>,
    /// The form the reviewer fills in (`responseSchema` as sent at create), if any.
    #[schema(value_type = Option<Object>)]
    response_schema: Option<&'a RawValue>,
    /// The form as the reviewer filled it in: set when a pause with a
    /// `responseSchema` is approved (or its question answered); null otherwise.
    #[schema(value_type = Option<Object>, example = json!({"amount": 40}))]
    response: Option<&'a RawValue>,
    /// How many distinct approvals approve it (1 to 10).
    #[schema(minimum = 1, maximum = 10)]
    required_approvals: u32,
    /// The approvals given so far, oldest first: "1 of 2 approvals" while pending.
    approvals: &'a [Approval],
    /// The routing policy that matched when it was created, if one did.
    policy: Option<&'a str>,
    /// The groups whose members decide it (an escalation adds one); null: any approver.
    reviewers: Option<&'a [String]>,
    #[schema(format = "uri")]
    status_url: String,
    /// The review page of the pause.
    #[schema(format = "uri")]
    review_url: String,
    /// The signed receipt of the decision, once the pause has left `pending` (null
    /// while pending): a compact JWS (EdDSA) of its `iss`, `watchId`, `status`,
    /// `resolvedAt`, `resolvedBy`, `keyId`, `actionSha256` and `contextSha256`,
    /// verifiable with the key at `/.well-known/jwks.json`.
    receipt: Option<String>,
    /// When retention removed its content (`context`, `approvedContext`, `summary`,
    /// `answer` and `response` are null since); null while it is kept.
    #[schema(format = DateTime)]
    purged_at: Option<String>,
}

impl<'a> PauseBody<'a> {
    pub fn new(p: &'a Pause, state: &AppState) -> Self {
        Self::with_receipt(p, state, state.receipts.receipt(p))
    }

    /// With its receipt already signed (see `list`).
    fn with_receipt(p: &'a Pause, state: &AppState, receipt: Option<String>) -> Self {
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
            approved_context: p
                .approved_context()
                .and_then(|c| serde_json::from_str(c).ok()),
            edited: p.edited(),
            tags: &p.tags,
            risk: p.risk,
            summary: p.summary.as_deref(),
            created_at: clock::rfc3339(p.created_at),
            expires_at: p.expires_at.map(clock::rfc3339),
            resolved_at: p.resolved_at.map(clock::rfc3339),
            on_timeout: p.on_timeout,
            resolved_by: p.resolved_by.as_deref(),
            timed_out: p.timed_out(),
            comment: p.comment.as_deref(),
            answer: p.question_answer(),
            reject_option: p.reject_option(),
            // Both stored as JSON text checked when they were written.
            response_schema: p
                .response_schema
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok()),
            response: p
                .response
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok()),
            required_approvals: p.required_approvals,
            approvals: &p.approvals,
            policy: p.routing.as_ref().map(|r| r.policy.as_str()),
            reviewers: p.routing.as_ref().map(|r| r.reviewers.as_slice()),
            status_url: state.urls.status(&p.watch_id),
            review_url: state.urls.review(&p.watch_id),
            receipt,
            purged_at: p.purged_at.map(clock::rfc3339),
        }
    }
}

pub(super) fn pause_response(
    mut builder: actix_web::HttpResponseBuilder,
    p: &Pause,
    state: &AppState,
) -> HttpResponse {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(PauseBody::new(p, state))
}

/// Create a pause: ask for a decision (or, with `kind: question`, an answer).
///
/// Answered 201 only once the pause is on disk. With an `Idempotency-Key` already used
/// by this key in the last 24 hours for the same body, the original pause is returned
/// with 200; for a different body, 409 `idempotency_conflict`.
#[utoipa::path(
    post,
    path = "/api/pause",
    tag = "pauses",
    operation_id = "createPause",
    request_body = CreateRequest,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes a retried create safe: printable ASCII, at most 255 bytes")),
    responses(
        (status = 201, description = "Created", body = PauseBody,
            headers(("Location" = String, description = "The pause's status URL")),
            links(
                ("status" = (operation_id = "getPause",
                    parameters(("watchId" = "$response.body#/watchId")))),
                ("cancel" = (operation_id = "cancelPause",
                    parameters(("watchId" = "$response.body#/watchId")))),
                ("deliveries" = (operation_id = "listDeliveries",
                    parameters(("watchId" = "$response.body#/watchId")))),
            )),
        (status = 200, description = "An Idempotency-Key replay: the original pause", body = PauseBody),
        (status = 400, description = "Not JSON, or a field breaks a rule", body = ErrorBody),
        (status = 403, description = "A reviewer key: only agent keys create pauses", body = ErrorBody),
        (status = 409, description = "`idempotency_conflict`: the key was used with another body", body = ErrorBody),
    ),
    security(("agentKey" = [])),
)]
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
    // `hl:` keys are the HumanLayer endpoints' call ids: another agent could otherwise
    // plant a pause under someone else's call id.
    if idempotency_key.is_some_and(|k| k.starts_with("hl:")) {
        return Err(Error::validation(
            "Idempotency-Key values starting with \"hl:\" are reserved for /humanlayer/v1",
        )
        .into());
    }
    let limits = state.limits;
    let request: CreateRequest = read_json(&req, payload, state.max_create_body()).await?;
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatusQuery {
    /// Hold the answer until the pause leaves `pending`, at most this many seconds;
    /// values above 60 are treated as 60.
    #[param(value_type = Option<u32>, minimum = 0)]
    wait: Option<String>,
}

/// `?wait=N`: a whole number of seconds (an int32, as the API description says); above
/// `MAX_WAIT_SECS` it is clamped, so a client asking for longer simply polls again.
/// Empty, negative or not a number is refused.
fn parse_wait(raw: Option<&str>) -> Result<u64, Error> {
    match raw {
        None => Ok(0),
        Some(text) => text
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| text.parse::<i32>().ok())
            .flatten()
            .map(|w| (w as u64).min(MAX_WAIT_SECS))
            .ok_or_else(|| {
                Error::validation(format!(
                    "wait must be a whole number of seconds (0 to {MAX_WAIT_SECS}; more counts as {MAX_WAIT_SECS})"
                ))
            }),
    }
}

/// The pause; with `?wait=N`, held until it leaves `pending` or N seconds pass.
///
/// An agent key sees only the pauses it created (others are 404); a reviewer key sees
/// all. Waiting costs no database work.
#[utoipa::path(
    get,
    path = "/api/pause/{watchId}",
    tag = "pauses",
    operation_id = "getPause",
    params(("watchId" = String, Path, description = "The pause's id"), StatusQuery),
    responses(
        (status = 200, description = "The pause", body = PauseBody),
        (status = 400, description = "`wait` out of range", body = ErrorBody),
        (status = 404, description = "No such pause for this key", body = ErrorBody),
    ),
    security(("agentKey" = []), ("reviewerKey" = [])),
)]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only pauses with this status.
    #[param(value_type = Option<Status>)]
    status: Option<String>,
    /// Only pauses with this tag.
    tag: Option<String>,
    /// How many pauses per page (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// The `nextCursor` of the page before.
    cursor: Option<String>,
}

impl ListParams {
    fn into_query(self) -> Result<ListQuery, Error> {
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                Error::validation(
                    "status must be one of pending, approved, rejected, answered, expired, cancelled",
                )
            })?),
        };
        let limit = match self.limit.as_deref() {
            None => pauses::DEFAULT_LIST_LIMIT,
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

/// One page of pauses, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PauseList)]
struct ListBody<'a> {
    items: Vec<PauseBody<'a>>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    next_cursor: Option<String>,
}

/// List pauses, newest first: an agent key's own, or all for a reviewer key.
#[utoipa::path(
    get,
    path = "/api/pause",
    tag = "pauses",
    operation_id = "listPauses",
    params(ListParams),
    responses(
        (status = 200, description = "A page of pauses", body = ListBody),
        (status = 400, description = "A filter breaks a rule", body = ErrorBody),
    ),
    security(("agentKey" = []), ("reviewerKey" = [])),
)]
async fn list(
    req: HttpRequest,
    params: web::Query<ListParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    let query = params.into_inner().into_query()?;
    let signer = std::sync::Arc::clone(&state.receipts);
    // The receipts are signed on the blocking thread: a page may hold 200 large contexts
    // to canonicalize.
    let (page, receipts) = state
        .read_as(token, move |conn, principal| {
            let page = pauses::list(conn, principal, &query)?;
            let receipts: Vec<_> = page.items.iter().map(|p| signer.receipt(p)).collect();
            Ok((page, receipts))
        })
        .await?;
    let body = ListBody {
        items: page
            .items
            .iter()
            .zip(receipts)
            .map(|(p, receipt)| PauseBody::with_receipt(p, &state, receipt))
            .collect(),
        next_cursor: page.next_cursor,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = DecideRequest)]
struct DecideBody {
    #[schema(value_type = Decision)]
    decision: String,
    /// Returned to the agent with either decision (at most 4,000 bytes).
    #[serde(default)]
    #[schema(max_length = 4000)]
    comment: Option<String>,
    /// With `rejected`: one of the pause's options, its reasons to reject, exactly.
    /// Without a comment, it is the comment too.
    #[serde(default)]
    option: Option<String>,
    /// With `approved`: the context as the reviewer edited it (approve with changes),
    /// by the rules of a new pause's context. The agent's `context` is kept; the pause
    /// gains `approvedContext` and `edited`.
    #[serde(default)]
    #[schema(value_type = Option<serde_json::Value>)]
    context: Option<Box<RawValue>>,
    /// With `approved`, for a pause with a `responseSchema`: the form filled in, an
    /// object that meets the schema (checked; a missing required field or a value out
    /// of range is 400 `validation_failed` naming the field). Refused with
    /// `rejected` and for a pause without a form.
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"amount": 40}))]
    response: Option<serde_json::Value>,
    /// With `approved`: allow the same again for a while, a standing approval. New
    /// pauses of this key with this action (or matching `action`, a pattern) are then
    /// approved at creation. Refused for a pause that needs several approvals, has a
    /// critical risk, or is a question.
    #[serde(default)]
    remember: Option<pauses::Remember>,
    /// The `contextSha256` of the context you reviewed (lowercase hex SHA-256 of its
    /// RFC 8785 form, as in a receipt): if a reviewer has edited it since, the decision
    /// is refused with 409 `conflict`.
    #[serde(default)]
    #[schema(pattern = "^[0-9a-f]{64}$")]
    context_sha256: Option<String>,
}

/// Approve or reject a pending pause (reviewer key, or the web page's session).
///
/// Of two reviewers deciding at once exactly one wins; the other gets 409
/// `already_resolved` with the pause's status.
#[utoipa::path(
    post,
    path = "/api/pause/{watchId}/approve",
    tag = "pauses",
    operation_id = "decidePause",
    params(("watchId" = String, Path, description = "The pause's id")),
    request_body = DecideBody,
    responses(
        (status = 200, description = "Decided", body = PauseBody),
        (status = 400, description = "Not JSON, a field breaks a rule (a `response` that does not meet the form names the field), the pause is a question, or `remember` cannot be made for it", body = ErrorBody),
        (status = 403, description = "An agent key, the key's owner, or a reviewer the pause is not routed to", body = ErrorBody),
        (status = 404, description = "No such pause", body = ErrorBody),
        (status = 409, description = "`already_resolved`", body = ErrorBody),
    ),
    security(("reviewerKey" = [])),
)]
async fn decide(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // A reviewer key, or the web page's session with its CSRF token.
    let caller = super::caller(&req, &state).await?;
    // An edited context may be as large as a new pause's.
    let body: DecideBody = read_json(&req, payload, state.max_create_body()).await?;
    let decision = Decision::parse(&body.decision)?;
    let edited = body
        .context
        .as_deref()
        .map(|raw| pauses::edited_context(raw, state.limits))
        .transpose()?;
    let watch_id = path.into_inner();
    let channels = state.channels;
    let pause = state
        .write_as_caller(caller, move |tx, principal, now| {
            let verdict = pauses::Verdict {
                context: edited,
                response: body.response,
                seen: body.context_sha256,
                ..pauses::Verdict::new(decision, body.comment, body.option)
            }
            .remembering(body.remember);
            pauses::decide(tx, now, principal, &watch_id, verdict, &channels)
        })
        .await?;
    Ok(pause_response(HttpResponse::Ok(), &pause, &state))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AnswerRequest)]
struct AnswerBody {
    /// Free text, or one of the question's options (at most 4,000 bytes); for a
    /// question with a `responseSchema`, an object of its form's fields (it becomes the
    /// pause's `response`, and `answer` holds the same as JSON text).
    #[schema(schema_with = answer_schema)]
    answer: AnswerValue,
}

/// An answer as sent: text, or a form's fields.
#[derive(Deserialize)]
#[serde(untagged)]
enum AnswerValue {
    Text(String),
    Form(serde_json::Map<String, serde_json::Value>),
}

/// `answer`: a string of 1 to 4,000 characters, or an object.
fn answer_schema() -> impl Into<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>> {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(4000)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Object))
}

/// Answers a question: a reviewer key, or the web page's session with its CSRF token.
#[utoipa::path(
    post,
    path = "/api/pause/{watchId}/answer",
    tag = "pauses",
    operation_id = "answerPause",
    params(("watchId" = String, Path, description = "The pause's id")),
    request_body = AnswerBody,
    responses(
        (status = 200, description = "Answered", body = PauseBody),
        (status = 400, description = "Not JSON, not one of the options, a form answer that does not meet its schema, or the pause is not a question", body = ErrorBody),
        (status = 403, description = "An agent key", body = ErrorBody),
        (status = 404, description = "No such pause", body = ErrorBody),
        (status = 409, description = "`already_resolved`", body = ErrorBody),
    ),
    security(("reviewerKey" = [])),
)]
async fn answer(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let caller = super::caller(&req, &state).await?;
    let body: AnswerBody = read_json(&req, payload, SMALL_BODY).await?;
    let watch_id = path.into_inner();
    let channels = state.channels;
    let pause = state
        .write_as_caller(caller, move |tx, principal, now| {
            let reply = match body.answer {
                AnswerValue::Text(text) => pauses::Reply::Text(text),
                AnswerValue::Form(map) => pauses::Reply::Form(serde_json::Value::Object(map)),
            };
            pauses::reply(tx, now, principal, &watch_id, reply, &channels)
        })
        .await?;
    Ok(pause_response(HttpResponse::Ok(), &pause, &state))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CancelRequest)]
struct CancelBody {
    /// Why, shown as the pause's comment (at most 4,000 bytes).
    #[serde(default)]
    #[schema(max_length = 4000)]
    reason: Option<String>,
}

/// Withdraw a pending pause: the agent key that created it, or an admin's reviewer
/// key. The body is optional.
#[utoipa::path(
    post,
    path = "/api/pause/{watchId}/cancel",
    tag = "pauses",
    operation_id = "cancelPause",
    params(("watchId" = String, Path, description = "The pause's id")),
    request_body(content = Option<CancelBody>, description = "Optional"),
    responses(
        (status = 200, description = "Cancelled", body = PauseBody),
        (status = 400, description = "Not JSON, or a field breaks a rule", body = ErrorBody),
        (status = 403, description = "A reviewer key of a user who is not an admin", body = ErrorBody),
        (status = 404, description = "No such pause for this key", body = ErrorBody),
        (status = 409, description = "`already_resolved`", body = ErrorBody),
    ),
    security(("agentKey" = []), ("reviewerKey" = [])),
)]

async fn cancel(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    // No body, or `null`, is the same as `{}`.
    let body: CancelBody = read_optional_json::<Option<CancelBody>>(&req, payload, SMALL_BODY)
        .await?
        .flatten()
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

#[cfg(test)]
mod tests {
    use super::parse_wait;

    #[test]
    fn waits_above_the_maximum_are_clamped_and_junk_is_refused() {
        assert_eq!(parse_wait(None).ok(), Some(0));
        assert_eq!(parse_wait(Some("0")).ok(), Some(0));
        assert_eq!(parse_wait(Some("60")).ok(), Some(60));
        assert_eq!(parse_wait(Some("120")).ok(), Some(60));
        assert_eq!(parse_wait(Some("2147483647")).ok(), Some(60));
        for bad in ["", "soon", "-1", "1.5", " 5", "+5", "2147483648"] {
            assert!(parse_wait(Some(bad)).is_err(), "{bad:?} accepted");
        }
    }
}
