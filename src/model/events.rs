//! What a write tells the rest of the process (through `crate::memory`): waiters to
//! wake, the expiry timer to re-arm, what memory may no longer trust. Events are collected in the write's
//! transaction. Just before the commit they are published as `Committing` (stop
//! trusting what they change), then as `Committed` or `Failed`: nobody hears that a
//! change happened before it is on disk, or at all if it did not happen.

use super::Status;
use crate::clock::Millis;

#[derive(Debug, Clone)]
pub enum Event {
    PauseCreated {
        watch_id: String,
        /// The first time a timer acts on it: its deadline, reminder or escalation.
        wake_at: Option<Millis>,
        /// The name of the key that created it (counted by key in `/metrics`).
        key_name: String,
    },
    PauseResolved {
        watch_id: String,
        status: Status,
        /// How long it was pending: from its creation to its resolution.
        pending_ms: Millis,
    },
    /// A pending pause's deadline moved.
    PauseExtended {
        watch_id: String,
        expires_at: Millis,
    },
    /// A pending pause changed and stays pending (an approval of several needed, an
    /// escalation): what is kept in memory of it is stale, but nobody waiting is woken.
    PauseUpdated { watch_id: String },
    /// Rows were added to the outbox (or made due again).
    OutboxReady,
    /// A key or a user changed: authentications kept in memory must be checked again.
    AuthChanged,
}

/// Where the write of an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Committing,
    Committed,
    Failed,
}

/// What the open pages hear of.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveEvent {
    pub kind: &'static str,
    pub watch_id: String,
    pub status: Status,
}
