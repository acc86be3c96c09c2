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
    /// SHA-256 of the previous entry's hash and this entry's content.
    #[serde(serialize_with = "hex_hash")]
    pub hash: Option<Vec<u8>>,
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

fn hex_hash<S: serde::Serializer>(hash: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match hash {
        Some(h) => s.serialize_str(&crate::secret::hex(h)),
        None => s.serialize_none(),
    }
}
