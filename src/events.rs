//! What a committed write tells the rest of the process: waiters to wake, the expiry
//! timer to re-arm, cached reads to forget. Events are collected in the write's transaction and published only
//! after it commits, so nobody hears of a change that did not happen.

use crate::clock::Millis;
use crate::domain::Status;

#[derive(Debug, Clone)]
pub enum Event {
    PauseCreated {
        watch_id: String,
        expires_at: Option<Millis>,
    },
    PauseResolved {
        watch_id: String,
        status: Status,
    },
    /// Rows were added to the outbox (or made due again).
    OutboxReady,
    /// A key or a user changed: authentications kept in memory must be checked again.
    AuthChanged,
}

/// Receives the events of every committed write.
pub type Sink = std::sync::Arc<dyn Fn(&Event) + Send + Sync>;
