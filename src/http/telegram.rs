//! `POST /telegram/webhook`: Telegram's updates in webhook mode
//! (`--telegram-webhook-secret`). Telegram sends the secret given to `setWebhook` as
//! `X-Telegram-Bot-Api-Secret-Token`; without it, nothing is done.

use actix_web::{web as aweb, HttpRequest, HttpResponse};

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::request_id::RequestId;
use super::AppState;
use crate::domain::Error;
use crate::secret;

pub fn configure(cfg: &mut aweb::ServiceConfig) {
    cfg.route("/telegram/webhook", aweb::post().to(webhook));
}

async fn webhook(
    req: HttpRequest,
    body: aweb::Bytes,
    state: aweb::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (Some(bot), Some(expected)) = (
        state.telegram.clone(),
        state
            .chat
            .telegram
            .as_ref()
            .and_then(|t| t.webhook_secret.clone()),
    ) else {
        return Err(Error::NotFound(
            "Telegram's webhook is off: start hitl with --telegram-webhook-secret".into(),
        )
        .into());
    };
    let given = req
        .headers()
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !secret::constant_time_eq(given, expected.as_bytes()) {
        tracing::warn!("refused a Telegram webhook without the right secret token");
        let body = ErrorBody::new(
            ErrorCode::Unauthorized,
            "X-Telegram-Bot-Api-Secret-Token is missing or wrong: it must be the secret_token given to setWebhook (--telegram-webhook-secret)".into(),
            RequestId::of(&req),
        );
        return Ok(HttpResponse::Unauthorized().json(body));
    }
    let update: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| Error::InvalidJson(format!("the update is not JSON: {e}")))?;
    if !update.is_object() {
        return Err(Error::validation("the update must be a JSON object").into());
    }
    // Answered once handled; a failure is told in the chat or logged, and not worth a
    // retry by Telegram (which would repeat the same failure).
    aweb::block(move || bot.handle(&update))
        .await
        .map_err(Error::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body("{\"ok\":true}"))
}
