//! `/humanlayer/v1`: the endpoints the HumanLayer SDK (Python `humanlayer` 0.7.9)
//! calls, so that its `require_approval` and `human_as_tool` work unmodified against
//! hitl with `HUMANLAYER_API_BASE=<hitl>/humanlayer/v1` and an agent key.
//!
//! A function call becomes a decision, a contact request a question, both created
//! through [`AppState::create_pause`] under the same rules as `POST /api/pause`. The
//! client's `call_id` is the pause's Idempotency-Key (`hl:fn:{call_id}` or
//! `hl:hc:{call_id}`), which is how `GET .../{call_id}` finds it again; those keys are
//! kept past the usual 24 h window (see `db::pauses::idempotency_prune`). Every answer,
//! errors included, is JSON: the SDK parses the body before it looks at the status.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::body::read_json;
use super::error::ApiError;
use super::{allow, api_key, api_not_found, AppState};
use crate::clock;
use crate::db;
use crate::domain::pauses::{CreateRequest, Created, Pause, MAX_ACTION_BYTES};
use crate::domain::{Error, Kind, Principal, Status};
use crate::text::cut_bytes;

mod respond;

const TAG: &str = "humanlayer";
const MAX_CALL_ID_BYTES: usize = 200;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut scope = web::scope("/humanlayer/v1")
        .service(
            web::resource("/function_calls")
                .route(web::post().to(create_call))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/function_calls/{call_id}")
                .route(web::get().to(get_call))
                .default_service(allow("GET")),
        );
    // The SDK posts to /contact_requests; older clients and the docs say /human_contacts.
    for base in ["/contact_requests", "/human_contacts"] {
        scope = scope
            .service(
                web::resource(base)
                    .route(web::post().to(create_contact))
                    .default_service(allow("POST")),
            )
            .service(
                web::resource(format!("{base}/{{call_id}}"))
                    .route(web::get().to(get_contact))
                    .default_service(allow("GET")),
            );
    }
    scope = scope
        .service(
            web::resource("/agent/function_calls/{call_id}/respond")
                .route(web::post().to(respond::respond_call))
                .default_service(allow("POST")),
        )
        .service(
            web::resource("/agent/human_contacts/{call_id}/respond")
                .route(web::post().to(respond::respond_contact))
                .default_service(allow("POST")),
        );
    cfg.service(scope.default_service(web::to(api_not_found)));
}

/// A FunctionCall as the SDK sends it. Unknown fields are ignored: the SDK's models
/// gain fields between versions.
#[derive(Deserialize)]
struct FunctionCallIn {
    run_id: String,
    call_id: String,
    spec: FunctionSpecIn,
}

#[derive(Deserialize)]
struct FunctionSpecIn {
    #[serde(rename = "fn")]
    function: String,
    kwargs: Box<RawValue>,
    #[serde(default)]
    reject_options: Option<Vec<ResponseOption>>,
    #[serde(default)]
    state: Option<Box<RawValue>>,
}

/// A HumanContact as the SDK sends it.
#[derive(Deserialize)]
struct ContactIn {
    run_id: String,
    call_id: String,
    spec: ContactSpecIn,
}

#[derive(Deserialize)]
struct ContactSpecIn {
    msg: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    response_options: Option<Vec<ResponseOption>>,
    #[serde(default)]
    state: Option<Box<RawValue>>,
}

#[derive(Deserialize, Serialize, Clone)]
struct ResponseOption {
    name: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    prompt_fill: Option<String>,
}

/// The pause's context for a function call: what the reviewer sees, and what
/// `GET /function_calls/{call_id}` answers with. The kwargs are kept as sent.
#[derive(Serialize, Deserialize)]
struct FunctionContext<'a> {
    #[serde(rename = "fn")]
    function: String,
    #[serde(borrow)]
    kwargs: &'a RawValue,
    /// The reasons to reject the agent offered, shown to the reviewer as choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reject_options: Option<Vec<ResponseOption>>,
    run_id: String,
    call_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    state: Option<&'a RawValue>,
}

/// The pause's context for a contact request.
#[derive(Serialize, Deserialize)]
struct ContactContext<'a> {
    msg: String,
    subject: Option<String>,
    response_options: Option<Vec<ResponseOption>>,
    run_id: String,
    call_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    state: Option<&'a RawValue>,
}

/// `None` for an absent or explicit `null` value.
fn present(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|r| r.get().trim() != "null")
}

fn check_call_id(call_id: &str) -> Result<(), Error> {
    if call_id.is_empty()
        || call_id.len() > MAX_CALL_ID_BYTES
        || !call_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Error::validation(format!(
            "call_id must be 1 to {MAX_CALL_ID_BYTES} printable ASCII characters without spaces"
        )));
    }
    Ok(())
}

/// What the reviewer reads: `send_email(to="a@example.com", subject="Hi")`.
fn describe_call(function: &str, kwargs: &serde_json::Map<String, Value>) -> String {
    let args: Vec<String> = kwargs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    cut_bytes(
        &format!("{function}({})", args.join(", ")),
        MAX_ACTION_BYTES,
    )
}

/// What the reviewer picks from: each option's title, or its name when the titles are
/// missing or not distinct.
fn labels(options: &[ResponseOption]) -> Vec<String> {
    let titles: Vec<String> = options
        .iter()
        .map(|o| {
            o.title
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .unwrap_or(o.name.trim())
                .to_string()
        })
        .collect();
    let distinct = titles
        .iter()
        .enumerate()
        .all(|(i, t)| !titles[..i].contains(t));
    if distinct {
        titles
    } else {
        options.iter().map(|o| o.name.trim().to_string()).collect()
    }
}

fn to_raw<T: Serialize>(value: &T) -> Result<Box<RawValue>, Error> {
    serde_json::to_string(value)
        .and_then(RawValue::from_string)
        .map_err(Error::internal)
}

fn json_response(builder: &mut actix_web::HttpResponseBuilder, body: Value) -> HttpResponse {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

async fn create_call(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    let call: FunctionCallIn = read_model(&req, payload, &state, "FunctionCall").await?;
    check_call_id(&call.call_id)?;
    let kwargs: serde_json::Map<String, Value> = serde_json::from_str(call.spec.kwargs.get())
        .map_err(|_| Error::validation("spec.kwargs must be a JSON object"))?;
    if call.spec.function.trim().is_empty() {
        return Err(Error::validation("spec.fn must not be empty").into());
    }
    let action = describe_call(&call.spec.function, &kwargs);
    let reject_options = call.spec.reject_options.filter(|o| !o.is_empty());
    let options = reject_options.as_deref().map(labels);
    let context = to_raw(&FunctionContext {
        function: call.spec.function,
        kwargs: &call.spec.kwargs,
        reject_options,
        run_id: call.run_id,
        call_id: call.call_id.clone(),
        state: present(call.spec.state.as_deref()),
    })?;
    let request = CreateRequest {
        action,
        context: Some(context),
        webhook_url: None,
        timeout_seconds: None,
        tags: Some(vec![TAG.to_string()]),
        kind: None,
        options,
        ..CreateRequest::default()
    };
    let new = request.validate(state.limits, Some(&format!("hl:fn:{}", call.call_id)))?;
    let created = state.create_pause(token, new).await?;
    created_response(&created, function_call_json(&created.pause)?)
}

/// A request body that must be one of the SDK's models (`what`, for the message).
async fn read_model<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    what: &str,
) -> Result<T, Error> {
    let body: Box<RawValue> = read_json(req, payload, state.max_create_body()).await?;
    serde_json::from_str(body.get()).map_err(|e| Error::validation(format!("not a {what}: {e}")))
}

/// 201 for a new call, 200 for one posted again with its `call_id`.
fn created_response(created: &Created, body: Value) -> Result<HttpResponse, ApiError> {
    let mut builder = if created.replayed {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    Ok(json_response(&mut builder, body))
}

async fn get_call(
    req: HttpRequest,
    call_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    let call_id = call_id.into_inner();
    let pause = find(&state, token, "fn", Kind::Decision, call_id).await?;
    Ok(json_response(
        &mut HttpResponse::Ok(),
        function_call_json(&pause)?,
    ))
}

async fn create_contact(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    let contact: ContactIn = read_model(&req, payload, &state, "HumanContact").await?;
    check_call_id(&contact.call_id)?;
    let response_options = contact.spec.response_options.filter(|o| !o.is_empty());
    let options = response_options.as_deref().map(labels);
    let context = to_raw(&ContactContext {
        msg: contact.spec.msg.clone(),
        subject: contact.spec.subject,
        response_options,
        run_id: contact.run_id,
        call_id: contact.call_id.clone(),
        state: present(contact.spec.state.as_deref()),
    })?;
    let request = CreateRequest {
        action: cut_bytes(&contact.spec.msg, MAX_ACTION_BYTES),
        context: Some(context),
        webhook_url: None,
        timeout_seconds: None,
        tags: Some(vec![TAG.to_string()]),
        kind: Some("question".into()),
        options,
        ..CreateRequest::default()
    };
    let new = request.validate(state.limits, Some(&format!("hl:hc:{}", contact.call_id)))?;
    let created = state.create_pause(token, new).await?;
    created_response(&created, contact_json(&created.pause)?)
}

async fn get_contact(
    req: HttpRequest,
    call_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    let call_id = call_id.into_inner();
    let pause = find(&state, token, "hc", Kind::Question, call_id).await?;
    Ok(json_response(
        &mut HttpResponse::Ok(),
        contact_json(&pause)?,
    ))
}

/// The pause the bearer's agent key created for `call_id`; another key's is not found.
async fn find(
    state: &AppState,
    token: String,
    prefix: &'static str,
    kind: Kind,
    call_id: String,
) -> Result<Pause, Error> {
    let what = if kind == Kind::Decision {
        "function call"
    } else {
        "contact request"
    };
    let not_found = move |call_id: &str| {
        Error::NotFound(format!(
            "no {what} with call_id {:?} for this key",
            cut_bytes(call_id, MAX_CALL_ID_BYTES)
        ))
    };
    state
        .read_as(token, move |conn, principal| {
            let Principal::Agent(key) = principal else {
                return Err(Error::Forbidden(
                    "only the agent key that made a request reads it here".into(),
                ));
            };
            let idem = format!("hl:{prefix}:{call_id}");
            let Some(row) = db::pauses::idempotency_get(conn, &key.id, &idem)? else {
                return Err(not_found(&call_id));
            };
            match db::pauses::by_id(conn, row.pause_id)? {
                Some(p) if p.kind == kind && p.key_id == key.id => Ok(p),
                _ => Err(not_found(&call_id)),
            }
        })
        .await
}

fn stored_context(pause: &Pause) -> Result<&str, Error> {
    pause
        .context
        .as_deref()
        .ok_or_else(|| Error::internal("a HumanLayer pause without its context"))
}

/// The FunctionCall for a decision: while pending `approved` is null, never false; a
/// refusal of any kind carries a comment.
fn function_call_json(pause: &Pause) -> Result<Value, Error> {
    let context: FunctionContext = serde_json::from_str(stored_context(pause)?)
        .map_err(|e| Error::internal(format!("HumanLayer function call context: {e}")))?;
    let (approved, comment) = match pause.status {
        Status::Pending => (None, None),
        Status::Approved => (Some(true), pause.comment.clone()),
        Status::Rejected => (Some(false), Some(pause.comment.clone().unwrap_or_default())),
        Status::Expired => (
            Some(false),
            Some("Nobody decided before the request expired.".to_string()),
        ),
        Status::Cancelled => (Some(false), Some("The request was cancelled.".to_string())),
        Status::Answered => (
            Some(false),
            Some("The request was answered as a question, not approved.".to_string()),
        ),
    };
    Ok(json!({
        "run_id": context.run_id,
        "call_id": context.call_id,
        "spec": {
            "fn": context.function,
            "kwargs": context.kwargs,
            "channel": null,
            "reject_options": context.reject_options,
            "state": context.state,
        },
        "status": {
            "requested_at": clock::rfc3339(pause.created_at),
            "responded_at": pause.resolved_at.map(clock::rfc3339),
            "approved": approved,
            "comment": comment,
            "reject_option_name": option_name(context.reject_options.as_deref(), pause),
        },
    }))
}

/// The name of the option the reviewer picked (shown to them by its label), if any:
/// a question's answer, or a rejection's reason.
fn option_name(options: Option<&[ResponseOption]>, pause: &Pause) -> Option<String> {
    let (options, picked) = (options?, pause.answer.as_deref()?);
    options
        .iter()
        .zip(labels(options))
        .find(|(_, label)| label == picked)
        .map(|(o, _)| o.name.clone())
}

/// The HumanContact for a question: `response` is the answer as the reviewer gave it
/// and `response_option_name` the name of the option picked, if any. A question that
/// expired or was cancelled answers so in `response`, or the SDK would wait forever.
fn contact_json(pause: &Pause) -> Result<Value, Error> {
    let context: ContactContext = serde_json::from_str(stored_context(pause)?)
        .map_err(|e| Error::internal(format!("HumanLayer contact context: {e}")))?;
    let response = match pause.status {
        Status::Pending => None,
        Status::Expired => Some("No answer: nobody answered before the request expired.".into()),
        Status::Cancelled => Some("No answer: the request was cancelled.".into()),
        _ => pause.answer.clone(),
    };
    let option_name = option_name(context.response_options.as_deref(), pause);
    Ok(json!({
        "run_id": context.run_id,
        "call_id": context.call_id,
        "spec": {
            "msg": context.msg,
            "subject": context.subject,
            "channel": null,
            "response_options": context.response_options,
            "state": context.state,
        },
        "status": {
            "requested_at": clock::rfc3339(pause.created_at),
            "responded_at": pause.resolved_at.map(clock::rfc3339),
            "response": response,
            "response_option_name": option_name,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(name: &str, title: Option<&str>) -> ResponseOption {
        ResponseOption {
            name: name.into(),
            title: title.map(Into::into),
            description: None,
            prompt_fill: None,
        }
    }

    #[test]
    fn a_long_action_is_cut_on_a_character_boundary() {
        let long = "é".repeat(1_500);
        let action = describe_call("f", &serde_json::Map::new());
        assert_eq!(action, "f()");
        let cut_text = cut_bytes(&long, MAX_ACTION_BYTES);
        assert!(cut_text.len() <= MAX_ACTION_BYTES);
        assert!(cut_text.ends_with('…'));
    }

    #[test]
    fn kwargs_are_shown_as_json_in_order() {
        let kwargs = serde_json::from_str(r#"{"to":"a@example.com","n":2}"#).unwrap();
        assert_eq!(
            describe_call("send_email", &kwargs),
            r#"send_email(to="a@example.com", n=2)"#
        );
    }

    #[test]
    fn titles_are_shown_unless_they_repeat() {
        let opts = [option("yes", Some("Go ahead")), option("no", None)];
        assert_eq!(labels(&opts), ["Go ahead", "no"]);
        let opts = [option("a", Some("Same")), option("b", Some("Same"))];
        assert_eq!(labels(&opts), ["a", "b"]);
    }
}
