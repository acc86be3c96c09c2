//! `POST /agent/function_calls/{call_id}/respond` and
//! `POST /agent/human_contacts/{call_id}/respond`: the SDK's
//! `respond_to_function_call` and `respond_to_human_contact`, for a reviewer's own
//! tooling. They decide (or answer) through the same rules as every other way: a
//! reviewer key only (an agent key may not approve its own request), exactly one
//! decision wins, a pick must be one of the offered options.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{
    check_call_id, contact_json, function_call_json, json_response, labels, read_model,
    ContactContext, FunctionContext, ResponseOption,
};
use crate::db::{self, Tx};
use crate::domain::pauses::{self, Decision, Pause};
use crate::domain::{Error, Kind, Principal};
use crate::http::error::ApiError;
use crate::http::{api_key, AppState};

/// The SDK's FunctionCallStatus as a reviewer sends it (other fields are ignored).
#[derive(Deserialize)]
struct CallStatusIn {
    #[serde(default)]
    approved: Option<bool>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    reject_option_name: Option<String>,
}

/// The SDK's HumanContactStatus as a reviewer sends it.
#[derive(Deserialize)]
struct ContactStatusIn {
    #[serde(default)]
    response: Option<String>,
    #[serde(default)]
    response_option_name: Option<String>,
}

pub(super) async fn respond_call(
    req: HttpRequest,
    call_id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    let call_id = call_id.into_inner();
    check_call_id(&call_id)?;
    let status: CallStatusIn = read_model(&req, payload, &state, "FunctionCallStatus").await?;
    let decision = match status.approved {
        Some(true) => Decision::Approved,
        Some(false) => Decision::Rejected,
        None => return Err(Error::validation("approved must be true or false").into()),
    };
    let channels = state.channels;
    let pause = state
        .write_as(token, move |tx, auth, now| {
            let pause = reviewed(tx, &auth.principal, "fn", Kind::Decision, &call_id)?;
            let option = match status.reject_option_name {
                None => None,
                Some(name) => {
                    let context: FunctionContext = parse_context(&pause)?;
                    Some(label_of(context.reject_options.as_deref(), &name)?)
                }
            };
            pauses::decide(
                tx,
                now,
                &auth.principal,
                &pause.watch_id,
                pauses::Verdict::new(decision, status.comment, option),
                &channels,
            )
        })
        .await?;
    Ok(json_response(
        &mut HttpResponse::Ok(),
        function_call_json(&pause)?,
    ))
}

pub(super) async fn respond_contact(
    req: HttpRequest,
    call_id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = api_key(&req, &state)?;
    let call_id = call_id.into_inner();
    check_call_id(&call_id)?;
    let status: ContactStatusIn = read_model(&req, payload, &state, "HumanContactStatus").await?;
    let channels = state.channels;
    let pause = state
        .write_as(token, move |tx, auth, now| {
            let pause = reviewed(tx, &auth.principal, "hc", Kind::Question, &call_id)?;
            let answer = match (status.response_option_name, status.response) {
                (Some(name), _) => {
                    let context: ContactContext = parse_context(&pause)?;
                    label_of(context.response_options.as_deref(), &name)?
                }
                (None, Some(response)) => response,
                (None, None) => {
                    return Err(Error::validation(
                        "a response or a response_option_name is needed",
                    ))
                }
            };
            pauses::answer(
                tx,
                now,
                &auth.principal,
                &pause.watch_id,
                &answer,
                &channels,
            )
        })
        .await?;
    Ok(json_response(
        &mut HttpResponse::Ok(),
        contact_json(&pause)?,
    ))
}

/// The pause any agent key created for `call_id`, for a reviewer. Call ids are the
/// agents' own, so two keys may have used one: then the caller must use the API.
fn reviewed(
    tx: &Tx,
    principal: &Principal,
    prefix: &str,
    kind: Kind,
    call_id: &str,
) -> Result<Pause, Error> {
    if principal.reviewer().is_none() {
        return Err(Error::Forbidden(
            "an agent key cannot respond to a request, its own included; use a reviewer key".into(),
        ));
    }
    let mut found = vec![];
    for pause_id in db::pauses::idempotency_pause_ids(tx, &format!("hl:{prefix}:{call_id}"))? {
        let humanlayer = |p: &Pause| p.kind == kind && p.tags.iter().any(|t| t == super::TAG);
        if let Some(p) = db::pauses::by_id(tx, pause_id)?.filter(humanlayer) {
            found.push(p);
        }
    }
    match found.len() {
        0 => Err(Error::NotFound(format!("no request with call_id {call_id}"))),
        1 => Ok(found.remove(0)),
        n => Err(Error::Conflict(format!(
            "{n} agent keys made a request with call_id {call_id}; decide it in the web page or with POST /api/pause/:watchId/approve"
        ))),
    }
}

fn parse_context<'a, T: Deserialize<'a>>(pause: &'a Pause) -> Result<T, Error> {
    let text = pause
        .context
        .as_deref()
        .ok_or_else(|| Error::internal("a HumanLayer pause without its context"))?;
    serde_json::from_str(text).map_err(|e| Error::internal(format!("HumanLayer context: {e}")))
}

/// The label the reviewer sees for the option named `name`.
fn label_of(options: Option<&[ResponseOption]>, name: &str) -> Result<String, Error> {
    let options = options.unwrap_or_default();
    options
        .iter()
        .zip(labels(options))
        .find(|(o, _)| o.name == name)
        .map(|(_, label)| label)
        .ok_or_else(|| Error::validation(format!("no option named {name:?} was offered")))
}
