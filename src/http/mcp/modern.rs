//! Protocol version 2026-07-28 (SEP-2575), served on the same endpoint as the
//! handshake versions: no `initialize`; every request carries its version and the
//! client's capabilities in `params._meta`, mirrored in the `MCP-Protocol-Version`,
//! `Mcp-Method` and `Mcp-Name` headers, which must match the body; `server/discover`
//! tells a client what this server speaks; every result carries `resultType`.
//!
//! A request is served in this revision when its `_meta` names a protocol version, when
//! its `MCP-Protocol-Version` header names a version that is not a handshake one, or
//! when it is `server/discover`; any other request is served as before (the handshake
//! versions).

use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::{tools, AppState, Failure, RpcError, INVALID_PARAMS, METHOD_NOT_FOUND};

/// The per-request protocol versions this server speaks, newest first.
pub const VERSIONS: [&str; 1] = ["2026-07-28"];

/// The headers mirror the body; they did not match it (or were missing or malformed).
const HEADER_MISMATCH: i64 = -32020;
/// The request's protocol version is not one this server speaks.
const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// How long a client may keep `server/discover` and `tools/list` (they change only
/// with the server's version), and that only for the same key.
const TTL_MS: u64 = 3_600_000;
const CACHE_SCOPE: &str = "private";

/// Every version this server speaks, per request or through the handshake, newest first.
pub fn supported() -> Vec<&'static str> {
    VERSIONS
        .iter()
        .chain(super::PROTOCOL_VERSIONS.iter())
        .copied()
        .collect()
}

/// What a request's params carry for this check.
#[derive(Deserialize, Default)]
struct Envelope {
    #[serde(rename = "_meta", default)]
    meta: Option<Map<String, Value>>,
    #[serde(default)]
    name: Option<Value>,
    #[serde(default)]
    uri: Option<Value>,
}

/// A request refused before it is dispatched: the HTTP status and the JSON-RPC error.
pub(super) type Refusal = (StatusCode, RpcError);

fn bad_request(code: i64, message: impl Into<String>) -> Refusal {
    (StatusCode::BAD_REQUEST, RpcError::new(code, message))
}

fn unsupported(requested: &str) -> Refusal {
    let supported = supported();
    let message = if super::PROTOCOL_VERSIONS.contains(&requested) {
        format!(
            "Unsupported protocol version: {requested} is spoken through the initialize \
             handshake, not per request; per request this server speaks {}",
            VERSIONS.join(", ")
        )
    } else {
        format!(
            "Unsupported protocol version: {requested:?}; supported: {}",
            supported.join(", ")
        )
    };
    let (status, mut error) = bad_request(UNSUPPORTED_PROTOCOL_VERSION, message);
    error.data = Some(json!({ "supported": supported, "requested": requested }));
    (status, error)
}

/// A header's value as text: `None` when absent, `Some(Err)` when it is not visible ASCII.
fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<Result<&'a str, ()>> {
    req.headers().get(name).map(|v| v.to_str().map_err(|_| ()))
}

/// `Mcp-Name` as sent: plain, or `=?base64?…?=` around the UTF-8 name in Base64.
fn decode_name(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        None => Some(value.to_string()),
    }
}

/// Whether the request is one of this revision (`Ok(true)`), one of the handshake
/// versions (`Ok(false)`), or refused. A request of this revision is checked whole:
/// its `_meta` and its headers, against each other and the body.
pub(super) fn check(
    req: &HttpRequest,
    method: &str,
    params: Option<&RawValue>,
) -> Result<bool, Refusal> {
    let envelope: Envelope = params
        .and_then(|p| serde_json::from_str(p.get()).ok())
        .unwrap_or_default();
    let meta = envelope.meta.unwrap_or_default();
    let version_header = header(req, "mcp-protocol-version");
    let Some(version) = meta.get(META_VERSION) else {
        return match version_header {
            Some(Ok(v)) if super::PROTOCOL_VERSIONS.contains(&v) => {
                if method == "server/discover" {
                    Err(missing_meta(method))
                } else {
                    Ok(false)
                }
            }
            Some(Ok(v)) if !VERSIONS.contains(&v) => Err(unsupported(v)),
            Some(Err(())) => Err(bad_request(
                HEADER_MISMATCH,
                "Header mismatch: the MCP-Protocol-Version header is not valid text",
            )),
            Some(Ok(_)) => Err(missing_meta(method)),
            None if method == "server/discover" => Err(missing_meta(method)),
            None => Ok(false),
        };
    };
    let Some(version) = version.as_str() else {
        return Err(bad_request(
            INVALID_PARAMS,
            format!("params._meta[\"{META_VERSION}\"] must be a string"),
        ));
    };
    if !VERSIONS.contains(&version) {
        return Err(unsupported(version));
    }
    match version_header {
        Some(Ok(v)) if v == version => {}
        Some(Ok(v)) => {
            return Err(bad_request(
                HEADER_MISMATCH,
                format!(
                    "Header mismatch: MCP-Protocol-Version header value {v:?} does not match \
                     the body value {version:?}"
                ),
            ))
        }
        _ => {
            return Err(bad_request(
                HEADER_MISMATCH,
                "Header mismatch: the MCP-Protocol-Version header is required and must match \
                 the body's protocol version",
            ))
        }
    }
    if !meta.get(META_CAPABILITIES).is_some_and(Value::is_object) {
        return Err(bad_request(
            INVALID_PARAMS,
            format!(
                "params._meta[\"{META_CAPABILITIES}\"] is required: an object of the client's \
                 capabilities ({{}} for none)"
            ),
        ));
    }
    match header(req, "mcp-method") {
        Some(Ok(m)) if m == method => {}
        Some(Ok(m)) => {
            return Err(bad_request(
                HEADER_MISMATCH,
                format!("Header mismatch: Mcp-Method header value {m:?} does not match the body value {method:?}"),
            ))
        }
        _ => {
            return Err(bad_request(
                HEADER_MISMATCH,
                "Header mismatch: the Mcp-Method header is required and must match the method",
            ))
        }
    }
    let named = match method {
        "tools/call" | "prompts/get" => envelope.name,
        "resources/read" => envelope.uri,
        _ => None,
    };
    // A name that is not a string is refused by the method itself.
    if let Some(Value::String(name)) = named {
        match header(req, "mcp-name") {
            Some(Ok(sent)) => match decode_name(sent) {
                Some(decoded) if decoded == name => {}
                Some(decoded) => {
                    return Err(bad_request(
                        HEADER_MISMATCH,
                        format!("Header mismatch: Mcp-Name header value {decoded:?} does not match the body value {name:?}"),
                    ))
                }
                None => {
                    return Err(bad_request(
                        HEADER_MISMATCH,
                        "Header mismatch: the Mcp-Name header is not valid Base64 of UTF-8 text",
                    ))
                }
            },
            _ => {
                return Err(bad_request(
                    HEADER_MISMATCH,
                    format!("Header mismatch: the Mcp-Name header is required for {method} and must match the name"),
                ))
            }
        }
    }
    Ok(true)
}

fn missing_meta(method: &str) -> Refusal {
    bad_request(
        INVALID_PARAMS,
        format!(
            "{method} at protocol version {} needs params._meta with \"{META_VERSION}\" and \
             \"{META_CAPABILITIES}\" (without them, start with initialize for 2025-11-25 and \
             earlier)",
            VERSIONS[0]
        ),
    )
}

/// A method of this revision, answered with its result (`resultType` and the server's
/// identity added) or an error; the HTTP status goes with the error.
pub(super) async fn dispatch(
    state: &AppState,
    token: String,
    method: &str,
    params: Option<&RawValue>,
) -> Result<Value, Failure> {
    let result = match method {
        "server/discover" => json!({
            "supportedVersions": supported(),
            "capabilities": super::capabilities(),
            "instructions": super::INSTRUCTIONS,
            "ttlMs": TTL_MS,
            "cacheScope": CACHE_SCOPE,
        }),
        "tools/list" => json!({
            "tools": tools::list(),
            "ttlMs": TTL_MS,
            "cacheScope": CACHE_SCOPE,
        }),
        "tools/call" => tools::call(state, token, params).await?,
        "initialize" => {
            return Err(RpcError::new(
                METHOD_NOT_FOUND,
                format!(
                    "Method not found: initialize is not part of protocol version {} (no \
                     handshake: every request carries its _meta); send it without _meta and \
                     without that MCP-Protocol-Version for {}",
                    VERSIONS[0],
                    super::PROTOCOL_VERSIONS.join(", ")
                ),
            )
            .into())
        }
        other => {
            return Err(RpcError::new(
                METHOD_NOT_FOUND,
                format!(
                    "Method not found: {other} (at protocol version {})",
                    VERSIONS[0]
                ),
            )
            .into())
        }
    };
    Ok(complete(result))
}

/// A result of this revision: `resultType` and the server's identity in `_meta`.
fn complete(mut result: Value) -> Value {
    if let Value::Object(fields) = &mut result {
        fields.insert("resultType".into(), json!("complete"));
        let meta = fields
            .entry("_meta")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(meta) = meta {
            meta.insert(META_SERVER_INFO.into(), super::server_info());
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcp_name_is_plain_or_base64_between_the_markers() {
        assert_eq!(decode_name("get_approval").as_deref(), Some("get_approval"));
        assert_eq!(
            decode_name("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(decode_name("=?base64?not base64!?="), None);
        // Markers are case-sensitive: anything else is a plain value.
        assert_eq!(
            decode_name("=?BASE64?SGk=?=").as_deref(),
            Some("=?BASE64?SGk=?=")
        );
    }

    #[test]
    fn every_version_is_listed_modern_first() {
        assert_eq!(
            supported(),
            [
                "2026-07-28",
                "2025-11-25",
                "2025-06-18",
                "2025-03-26",
                "2024-11-05"
            ]
        );
    }
}
