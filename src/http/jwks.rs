//! `GET /.well-known/jwks.json`: the public key that signs decision receipts, as a
//! JWK Set (RFC 7517), for `hitl receipt verify` and any JOSE library.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::{allow, AppState};
use crate::receipt::Jwk;
use crate::urls;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(urls::JWKS)
            .route(web::get().to(jwks))
            .default_service(allow("GET")),
    );
}

/// A JWK Set: the server's one receipt signing key.
#[derive(Serialize, ToSchema)]
pub struct JwkSet {
    keys: Vec<Jwk>,
}

/// The public key that signs receipts: an OKP (Ed25519) JWK whose `kid`, its RFC 7638
/// thumbprint, is the `kid` in every receipt's header. It never changes.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "operations",
    operation_id = "jwks",
    responses((status = 200, description = "The JWK Set", body = JwkSet)),
    security(()),
)]
pub(super) async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .json(JwkSet {
            keys: vec![state.receipts.signer().jwk()],
        })
}
