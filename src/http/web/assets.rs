//! Embedded assets with ETags: a versioned URL (`?v=hash`) is cached for a year.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::assets::Assets;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets/{path:.*}", web::get().to(asset))
        .route("/favicon.ico", web::get().to(favicon));
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

fn serve(req: &HttpRequest, path: &str) -> HttpResponse {
    let Some(file) = Assets::get(path) else {
        return super::hardened(StatusCode::NOT_FOUND)
            .content_type("text/plain; charset=utf-8")
            .body("no such asset\n");
    };
    let etag = format!("\"{}\"", crate::secret::hex(&file.metadata.sha256_hash()));
    let cache = if req.query_string().starts_with("v=") {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = super::hardened(if matches {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    });
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache));
    if matches {
        response.finish()
    } else {
        response
            .content_type(content_type(path))
            .body(file.data.into_owned())
    }
}

async fn asset(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    serve(&req, &path)
}

async fn favicon(req: HttpRequest) -> HttpResponse {
    serve(&req, "icons/logo.svg")
}
