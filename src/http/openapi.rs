//! `GET /api/openapi.json`: the OpenAPI 3.1 description of the HTTP API, generated
//! from the handlers' own types and annotations (utoipa), so it cannot drift from
//! what the handlers read and write.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::allow;
use super::error::{ErrorBody, ErrorCode, ErrorDetail};

pub const PATH: &str = "/api/openapi.json";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(PATH)
            .route(web::get().to(document))
            .default_service(allow("GET")),
    );
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hitl",
        description = "A human approval gate for AI agents and automation. An agent \
            creates a pause, a person approves or rejects it (or answers a question), and \
            the agent learns the decision by polling, long-polling or a signed webhook.\n\n\
            Every request under `/api` carries `Authorization: Bearer <key>`: an agent key \
            (`hitl_...`, creates and reads its own pauses) or a reviewer key (reads all, \
            decides). Every error is JSON: `{\"error\": {\"code\", \"message\", \"requestId\"}}`.\n\n\
            Claude Code hooks (`POST /hooks/claude-code`), the MCP server (`POST /mcp`) and \
            the HumanLayer SDK backend (`/humanlayer/v1`) speak their own peers' contracts \
            and are described in the README."
    ),
    paths(
        super::pause::create,
        super::pause::status,
        super::pause::list,
        super::pause::decide,
        super::pause::answer,
        super::extend::extend,
        super::pause::cancel,
        super::deliveries::list,
        super::deliveries::retry,
        super::rules::list,
        super::rules::revoke,
        super::health::healthz,
        super::jwks::jwks,
        document,
    ),
    components(schemas(ErrorBody, ErrorDetail, ErrorCode)),
    modifiers(&Security, &CommonErrors),
    tags(
        (name = "pauses", description = "Asking for a decision and learning it"),
        (name = "deliveries", description = "The webhooks, mail and Slack messages of a pause"),
        (name = "rules", description = "Standing approvals: what reviewers allowed for a while"),
        (name = "operations", description = "For the people running the server"),
    )
)]
struct ApiDoc;

/// The two kinds of key, both bearer tokens.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, description) in [
            (
                "agentKey",
                "An agent key: creates pauses and reads, lists and cancels its own",
            ),
            (
                "reviewerKey",
                "A reviewer key: reads every pause, decides and answers",
            ),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(description))
                        .build(),
                ),
            );
        }
    }
}

/// The answers any `/api` operation may give besides its own: a missing or bad key, a
/// body refused for its size or slowness, the rate limit, a server error.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let common = [
            (
                "401",
                "`unauthorized`: no key, an unknown key or a revoked key",
            ),
            ("405", "`method_not_allowed`: see the `Allow` header"),
            ("408", "`request_timeout`: the body did not arrive in time"),
            (
                "413",
                "`payload_too_large`: the body is larger than allowed",
            ),
            (
                "429",
                "`rate_limited` or `quota_exceeded`: try again after `Retry-After` seconds",
            ),
            (
                "500",
                "`internal`: the detail is in the server's log under the request id",
            ),
        ];
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/") || path == PATH {
                continue;
            }
            for operation in operations(item) {
                for (status, description) in common {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error_response(description));
                }
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// The document, rendered once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"the description did not render: {e}\"}}"))
});

/// This description of the API: OpenAPI 3.1, no key needed.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")),
    security(()),
)]
async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(DOCUMENT.as_str())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_renders_as_openapi_3_1() {
        let doc: serde_json::Value =
            serde_json::from_str(super::DOCUMENT.as_str()).expect("the document is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"]["/api/pause"]["post"].is_object());
    }
}
