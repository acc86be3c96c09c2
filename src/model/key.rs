//! API keys as stored (never their secret).

use serde::Serialize;

use super::Reviewer;
use crate::clock::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Agent,
    Reviewer,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Agent => "agent",
            Kind::Reviewer => "reviewer",
        }
    }
}

/// A stored key, without its secret.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub kind: Kind,
    pub user_email: Option<String>,
    pub webhook_url: Option<String>,
    pub monthly_limit: Option<i64>,
    pub used_this_month: i64,
    #[serde(serialize_with = "super::ser_time")]
    pub created_at: Millis,
    #[serde(serialize_with = "super::ser_opt_time")]
    pub last_used_at: Option<Millis>,
    #[serde(serialize_with = "super::ser_opt_time")]
    pub revoked_at: Option<Millis>,
    /// The person who runs an agent key: they may never decide its pauses.
    pub owner_email: Option<String>,
}

/// The row `authenticate` compares against.
pub struct Candidate {
    pub id: String,
    pub name: String,
    pub key_hash: Vec<u8>,
    pub kind: Kind,
    pub user: Option<Reviewer>,
    pub monthly_limit: Option<i64>,
    pub last_used_at: Option<Millis>,
    pub revoked: bool,
}
