//! What `hitl serve` was started with that the command line must agree with, stored
//! with the data at every start: the webhook address policy (so that `hitl key create
//! --webhook-url` checks the rules the server delivers by), the public URL (for the
//! links `hitl user invite` prints) and whether mail is on.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Result;
use crate::db::{self, Tx};

/// `--webhook-deny-private` and `--webhook-allow`, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPolicy {
    pub deny_private: bool,
    pub allow: Vec<String>,
}

/// Records the settings of a starting server.
pub fn record_serve(
    tx: &mut Tx,
    policy: &WebhookPolicy,
    public_url: &str,
    email: bool,
) -> Result<()> {
    db::settings::set(tx, "webhook_policy", &json!(policy))?;
    db::settings::set(tx, "public_url", &json!(public_url))?;
    db::settings::set(tx, "email", &json!(email))?;
    Ok(())
}

/// Records whether the starting server leaves WAL checkpoints to Litestream
/// (`--litestream`): the command line's connections then leave them too.
pub fn record_litestream(tx: &mut Tx, on: bool) -> Result<()> {
    db::settings::set(tx, "litestream", &json!(on))
}

/// The policy of the last `hitl serve` on this data; the default (private addresses
/// allowed) if none ran yet.
pub fn webhook_policy(conn: &rusqlite::Connection) -> Result<WebhookPolicy> {
    Ok(db::settings::get(conn, "webhook_policy")?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}

/// The public URL of the last `hitl serve` on this data.
pub fn public_url(conn: &rusqlite::Connection) -> Result<Option<String>> {
    Ok(db::settings::get(conn, "public_url")?.and_then(|v| v.as_str().map(str::to_string)))
}

/// Whether the last `hitl serve` on this data had mail configured.
pub fn email_on(conn: &rusqlite::Connection) -> Result<bool> {
    Ok(db::settings::get(conn, "email")?.is_some_and(|v| v == json!(true)))
}
