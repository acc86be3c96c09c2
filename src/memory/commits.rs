//! The writer's side of memory: what happens around each group commit (see the module
//! doc of `crate::memory`, "After a commit").

use rusqlite::Connection;

use super::Memory;
use crate::db;
use crate::db::writer::CommitListener;
use crate::domain::Status;
use crate::model::events::LiveEvent;
use crate::model::events::{Event, Stage};

impl CommitListener for Memory {
    /// The writer starts, having read the database's auth generation.
    fn writer_started(&self, generation: Option<i64>) {
        self.generation.start(generation);
    }

    /// The writer had nothing to do for `GENERATION_CHECK_EVERY` and read the auth
    /// generation again: keys or users changed by another process stop being trusted.
    fn writer_idle(&self, generation: Option<i64>) {
        if self.generation.moved(generation) {
            self.react(Stage::Committed, &Event::AuthChanged, None);
        }
    }

    /// The events of a group commit that is about to commit: stop trusting what they
    /// change.
    fn before_commit(&self, events: &[Event]) {
        for event in events {
            self.react(Stage::Committing, event, None);
        }
    }

    /// The group commit is on disk, and the auth generation read after it is
    /// `generation`; `conn` reads what it committed. Call before anyone hears back.
    fn after_commit(&self, conn: &Connection, generation: Option<i64>, events: &[Event]) {
        // First: a revoked key fails from the next request on.
        self.writer_idle(generation);
        for event in events {
            self.react(Stage::Committed, event, Some(conn));
        }
    }

    /// The group commit failed: nothing in `events` happened.
    fn commit_failed(&self, events: &[Event]) {
        for event in events {
            self.react(Stage::Failed, event, None);
        }
        // Keys were looked up inside this transaction: forget what it showed.
        self.react(Stage::Failed, &Event::AuthChanged, None);
    }
}

impl Memory {
    /// Everything in the process that hears of writes, by stage and event; `committed`
    /// reads what a commit wrote (the writer's connection, once it is on disk).
    fn react(&self, stage: Stage, event: &Event, committed: Option<&Connection>) {
        match (stage, event) {
            (
                Stage::Committing,
                Event::PauseResolved { watch_id, .. }
                | Event::PauseExtended { watch_id, .. }
                | Event::PauseUpdated { watch_id },
            ) => {
                self.pauses.changing(watch_id);
            }
            (
                Stage::Failed,
                Event::PauseResolved { watch_id, .. }
                | Event::PauseExtended { watch_id, .. }
                | Event::PauseUpdated { watch_id },
            ) => {
                self.pauses.changed(watch_id);
            }
            (
                Stage::Committed,
                Event::PauseExtended {
                    watch_id,
                    expires_at,
                },
            ) => {
                self.pauses.changed(watch_id);
                // An earlier deadline than the timer knows of re-arms it; a later one
                // is found when it wakes at the old one and finds nothing due.
                if let Some(expiry) = self.expiry.get() {
                    expiry.deadline(*expires_at);
                }
            }
            // Only the cached pause changes: waiters sleep on until it ends.
            (Stage::Committed, Event::PauseUpdated { watch_id }) => self.pauses.changed(watch_id),
            (Stage::Committed | Stage::Failed, Event::AuthChanged) => self.forget_keys(),
            (
                Stage::Committed,
                Event::PauseCreated {
                    watch_id, wake_at, ..
                },
            ) => {
                if let (Some(at), Some(expiry)) = (wake_at, self.expiry.get()) {
                    expiry.deadline(*at);
                }
                // Nobody listening is fine.
                let _ = self.live.send(LiveEvent {
                    kind: "created",
                    watch_id: watch_id.clone(),
                    status: Status::Pending,
                });
            }
            (
                Stage::Committed,
                Event::PauseResolved {
                    watch_id, status, ..
                },
            ) => {
                // Before waking: a woken waiter reads the pause again, from memory when
                // it is kept here.
                self.pauses.changed(watch_id);
                if let Some(conn) = committed {
                    self.keep_for_waiters(conn, watch_id);
                }
                self.waiters.wake(watch_id);
                let _ = self.live.send(LiveEvent {
                    kind: "resolved",
                    watch_id: watch_id.clone(),
                    status: *status,
                });
            }
            (Stage::Committed, Event::OutboxReady) => self.outbox.wake(),
            _ => {}
        }
    }

    /// Keeps a pause just decided, when requests wait on it: read by the writer's
    /// connection straight after the commit, so the woken waiters answer from memory.
    /// Otherwise each would go to a blocking thread to read it, the slowest part of
    /// its wake when the machine is busy. A pause nobody waits on is not read: an
    /// expiry may end thousands at once. Kept under the rules of any read: the epoch
    /// and the version taken first; a read that fails leaves the waiters to read it.
    fn keep_for_waiters(&self, conn: &Connection, watch_id: &str) {
        if !self.waiters.watched(watch_id) {
            return;
        }
        let (epoch, version) = (self.epoch.current(), self.pauses.version());
        match db::pauses::by_watch_id(conn, watch_id) {
            Ok(Some(pause)) => self.pauses.keep(&pause, epoch, version),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, watch_id, "reading a decided pause for its waiters failed")
            }
        }
    }
}
