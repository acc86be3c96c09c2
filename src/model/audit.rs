//! An entry of the append-only audit log, and the filters it is read with.

use serde::Serialize;

use crate::clock::Millis;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub id: i64,
    pub at: Millis,
    pub actor: String,
    pub event: String,
    pub watch_id: Option<String>,
    /// JSON text.
    pub details: String,
    /// The key's name when the actor is a key (`key:key_…`); revoked keys keep theirs.
    pub key_name: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub event: Option<String>,
    pub actor: Option<String>,
    pub watch_id: Option<String>,
    pub from: Option<Millis>,
    pub before: Option<Millis>,
}
