//! Deliveries: the outbox rows that carry webhooks, mail and Slack messages, and the
//! attempts made to send them.

use serde::Serialize;

use crate::clock::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = DeliveryKind)]
pub enum Kind {
    Webhook,
    Email,
    Slack,
    Telegram,
    Ntfy,
    Push,
    Teams,
    Discord,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Email => "email",
            Kind::Slack => "slack",
            Kind::Telegram => "telegram",
            Kind::Ntfy => "ntfy",
            Kind::Push => "push",
            Kind::Teams => "teams",
            Kind::Discord => "discord",
        }
    }
    pub const ALL: [Kind; 8] = [
        Kind::Webhook,
        Kind::Email,
        Kind::Slack,
        Kind::Telegram,
        Kind::Ntfy,
        Kind::Push,
        Kind::Teams,
        Kind::Discord,
    ];

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A row to add.
pub struct NewRow {
    pub kind: Kind,
    pub watch_id: String,
    pub event_id: String,
    pub target: String,
    pub key_id: Option<String>,
    pub user_id: Option<i64>,
    pub payload: String,
    pub at: Millis,
}

/// A row as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    pub id: i64,
    pub kind: Kind,
    #[serde(skip)]
    pub watch_id: String,
    /// The `webhook-id` every attempt of this delivery carries.
    #[serde(rename = "webhookId")]
    pub event_id: String,
    pub target: String,
    #[serde(skip)]
    pub key_id: Option<String>,
    #[serde(skip)]
    pub user_id: Option<i64>,
    #[serde(skip)]
    pub payload: String,
    /// `pending` (more attempts to come), `delivered`, `failed` (attempts used up),
    /// `gone` (the pause or key it was for is gone) or `skipped`.
    #[schema(example = "delivered")]
    pub state: String,
    #[serde(skip)]
    pub attempts: i64,
    #[serde(serialize_with = "super::ser_time")]
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: Millis,
    #[serde(serialize_with = "super::ser_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRow {
    #[serde(serialize_with = "super::ser_time")]
    #[schema(value_type = String, format = DateTime)]
    pub at: Millis,
    pub duration_ms: i64,
    #[schema(minimum = 100, maximum = 599)]
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub ok: bool,
}

/// A delivery and its attempts, as the API and the review page show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    #[serde(flatten)]
    pub stored: Stored,
    pub attempts: Vec<AttemptRow>,
}
