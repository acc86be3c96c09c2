//! A web page session as stored (only the hash of its cookie is kept).

use super::Reviewer;
use crate::clock::Millis;

/// The row as stored.
pub struct Row {
    pub user: Reviewer,
    pub created_at: Millis,
    pub last_seen_at: Millis,
}
