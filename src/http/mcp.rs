//! `POST /mcp`: a Model Context Protocol server over Streamable HTTP, answering plain
//! JSON (no event streams) and keeping no sessions. JSON-RPC 2.0, one message per POST.
//! The handshake versions (2024-11-05 to 2025-11-25) are served here, the per-request
//! revision 2026-07-28 in `modern`, on the same endpoint. The tools are in `tools`.

mod modern;
mod tools;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::body::read_json;
use super::error::{public_message, ApiError};
use super::{allow, api_key, AppState};
use crate::clock;
use crate::domain::Error;

/// The protocol versions this server speaks through the `initialize` handshake, newest
/// first (the per-request ones are `modern::VERSIONS`).
pub const PROTOCOL_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

pub const PATH: &str = "/mcp";

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(PATH)
            .route(web::post().to(post))
            .default_service(allow("POST")),
    );
}

/// One JSON-RPC message as sent: a request, a notification, or a response.
#[derive(Deserialize)]
struct Message {
    jsonrpc: Option<String>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<Box<RawValue>>,
}

/// A JSON-RPC error, answered with the request's id.
pub struct RpcError {
    code: i64,
    message: String,
    data: Option<Value>,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub(super) fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }
}

/// What a method answers: a result, a JSON-RPC error, or an HTTP error (a key refused
/// or over its rate limit) that ends the exchange.
pub(super) enum Failure {
    Rpc(RpcError),
    Http(ApiError),
}

impl From<RpcError> for Failure {
    fn from(e: RpcError) -> Self {
        Failure::Rpc(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::Internal(_) => Failure::Rpc(RpcError::new(INTERNAL_ERROR, public_message(&e))),
            other => Failure::Http(ApiError(other)),
        }
    }
}

fn rpc_response(status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn rpc_error(status: StatusCode, id: &Value, e: RpcError) -> HttpResponse {
    let mut error = json!({ "code": e.code, "message": e.message });
    if let Some(data) = e.data {
        error["data"] = data;
    }
    rpc_response(
        status,
        json!({ "jsonrpc": "2.0", "id": id, "error": error }),
    )
}

/// The answer to a body refused before the handler read it (too large, or too slow to
/// arrive): a JSON-RPC error without an id, since the request was not read.
pub fn refused(status: StatusCode, error: &Error) -> HttpResponse {
    rpc_error(
        status,
        &Value::Null,
        RpcError::new(INVALID_REQUEST, public_message(error)),
    )
}

/// A browser page on another origin (DNS rebinding) must not reach the server: an
/// `Origin`, when sent, must be this server's public one.
fn origin_allowed(req: &HttpRequest, state: &AppState) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Ok(public)) = (
        origin.to_str().map(url::Url::parse),
        url::Url::parse(state.urls.base()),
    ) else {
        return false;
    };
    origin.is_ok_and(|o| o.origin().is_tuple() && o.origin() == public.origin())
}

async fn post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !origin_allowed(&req, &state) {
        return Err(Error::Forbidden(
            "MCP requests from a web page must come from this server's own origin".into(),
        )
        .into());
    }
    let token = api_key(&req, &state)?;
    check_key(&state, &token).await?;
    let raw: Box<RawValue> = match read_json(&req, payload, state.max_create_body()).await {
        Ok(raw) => raw,
        Err(Error::InvalidJson(_)) | Err(Error::Validation(_)) => {
            return Ok(rpc_error(
                StatusCode::BAD_REQUEST,
                &Value::Null,
                RpcError::new(PARSE_ERROR, "parse error: the body is not valid JSON"),
            ))
        }
        Err(Error::PayloadTooLarge(message)) => {
            return Ok(rpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &Value::Null,
                RpcError::new(INVALID_REQUEST, message),
            ))
        }
        Err(other) => return Err(other.into()),
    };
    let (id, method, params) = match parse_message(raw.get()) {
        Ok(Parsed::Call { id, method, params }) => (id, method, params),
        Ok(Parsed::Acknowledge) => return Ok(HttpResponse::Accepted().finish()),
        Err(e) => return Ok(rpc_error(StatusCode::BAD_REQUEST, &Value::Null, e)),
    };
    let params = params.as_deref();
    // The era is chosen per request, by the request alone (`modern`).
    let modern = match modern::check(&req, &method, params) {
        Ok(modern) => modern,
        Err((status, e)) => return Ok(rpc_error(status, &id, e)),
    };
    let outcome = if modern {
        modern::dispatch(&state, token, &method, params).await
    } else {
        dispatch(&state, token, &method, params).await
    };
    match outcome {
        Ok(result) => Ok(rpc_response(
            StatusCode::OK,
            json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        )),
        // 2026-07-28: a method this server does not implement is a 404.
        Err(Failure::Rpc(e)) if modern && e.code == METHOD_NOT_FOUND => {
            Ok(rpc_error(StatusCode::NOT_FOUND, &id, e))
        }
        Err(Failure::Rpc(e)) => Ok(rpc_error(StatusCode::OK, &id, e)),
        Err(Failure::Http(e)) => Err(e),
    }
}

/// What one JSON-RPC message asks for.
pub enum Parsed {
    /// A request to answer with its result.
    Call {
        id: Value,
        method: String,
        params: Option<Box<RawValue>>,
    },
    /// A notification, or a response to a request this server never sends: accepted
    /// and dropped.
    Acknowledge,
}

/// Reads a POST's JSON text as one JSON-RPC 2.0 message (no batches); the error is the
/// answer, with a null id.
pub fn parse_message(text: &str) -> Result<Parsed, RpcError> {
    if text.trim_start().starts_with('[') {
        return Err(RpcError::new(
            INVALID_REQUEST,
            "batch requests are not supported: send one JSON-RPC message per POST",
        ));
    }
    let message: Message = serde_json::from_str(text)
        .map_err(|e| RpcError::new(INVALID_REQUEST, format!("not a JSON-RPC message: {e}")))?;
    let id = message.id.unwrap_or(Value::Null);
    if message.jsonrpc.as_deref() != Some("2.0")
        || !(id.is_null() || id.is_string() || id.is_number())
    {
        return Err(RpcError::new(
            INVALID_REQUEST,
            "not a JSON-RPC 2.0 message: jsonrpc must be \"2.0\" and id a string or a number",
        ));
    }
    match message.method {
        // A notification (`notifications/initialized`, `notifications/cancelled`, …)
        // has no id.
        Some(method) if !id.is_null() => Ok(Parsed::Call {
            id,
            method,
            params: message.params,
        }),
        _ => Ok(Parsed::Acknowledge),
    }
}

/// Refuses a key that is unknown or revoked, from memory when it is kept there.
async fn check_key(state: &AppState, token: &str) -> Result<(), ApiError> {
    let (known, _) = state.memory.cached_key(token, clock::now());
    if let Some(auth) = known {
        state.touch_later(&auth);
        return Ok(());
    }
    state.read_as(token.to_string(), |_, _| Ok(())).await?;
    Ok(())
}

async fn dispatch(
    state: &AppState,
    token: String,
    method: &str,
    params: Option<&RawValue>,
) -> Result<Value, Failure> {
    match method {
        "initialize" => initialize(params).map_err(Failure::Rpc),
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({ "tools": tools::list() })),
        "tools/call" => tools::call(state, token, params).await,
        other => Err(RpcError::new(METHOD_NOT_FOUND, format!("method not found: {other}")).into()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitializeParams {
    protocol_version: String,
}

/// The client's protocol version when this server speaks it through the handshake,
/// else the newest such (2026-07-28 has no handshake: asked for in `initialize`, the
/// answer is 2025-11-25).
pub fn negotiate(requested: &str) -> &'static str {
    PROTOCOL_VERSIONS
        .into_iter()
        .find(|v| *v == requested)
        .unwrap_or(PROTOCOL_VERSIONS[0])
}

/// The answer to `initialize` (pure: the fuzz targets call it).
pub fn initialize(params: Option<&RawValue>) -> Result<Value, RpcError> {
    let params: InitializeParams = params
        .ok_or_else(|| RpcError::invalid_params("initialize needs params with protocolVersion"))
        .and_then(|p| {
            serde_json::from_str(p.get()).map_err(|e| {
                RpcError::invalid_params(format!("initialize params are not valid: {e}"))
            })
        })?;
    Ok(json!({
        "protocolVersion": negotiate(&params.protocol_version),
        "capabilities": capabilities(),
        "serverInfo": server_info(),
        "instructions": INSTRUCTIONS,
    }))
}

const INSTRUCTIONS: &str = "hitl asks a person to approve an action before you take it. \
    Call request_approval with the action, then get_approval until its status is \
    no longer pending; act only when it is approved.";

fn capabilities() -> Value {
    json!({ "tools": { "listChanged": false } })
}

fn server_info() -> Value {
    json!({ "name": "hitl", "version": env!("CARGO_PKG_VERSION") })
}

#[cfg(test)]
mod tests {
    use super::negotiate;

    #[test]
    fn a_known_version_is_kept_and_an_unknown_one_gets_the_newest() {
        assert_eq!(negotiate("2025-06-18"), "2025-06-18");
        assert_eq!(negotiate("2025-03-26"), "2025-03-26");
        assert_eq!(negotiate("2099-01-01"), "2025-11-25");
        assert_eq!(negotiate("2026-07-28"), "2025-11-25");
    }
}
