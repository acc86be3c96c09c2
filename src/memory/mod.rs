//! What `hitl serve` keeps in memory, and how it stops trusting it.
//!
//! # What is kept
//!
//! - **Keys** ([`keys`]): the keys that authenticated recently, by the SHA-256 of their
//!   token, so that a request costs no key lookup. Only valid keys are kept (which keys
//!   are valid is decided in `crate::domain::keys`). Each entry carries the database's
//!   *auth generation* it was read under and the *auth epoch* it was last checked under.
//! - **Pauses** ([`pauses`]): the pauses read recently, so that an agent polling its
//!   pause costs no database read. Each entry carries the auth epoch it was read under,
//!   since a pause shows its key's name: renaming a key moves the epoch on. Beside the
//!   entries: the set of pauses whose change is being committed ("changing"), and a
//!   version that moves on with every change.
//! - **Waiters** ([`waiters`]): long-polling requests, by watchId. A waiting request
//!   costs one map entry and one timer, and no database work while it waits.
//!
//! # The auth epoch, and who moves it
//!
//! The epoch ([`epoch`]) is a counter. A key or a pause kept in memory is trusted
//! without reading the database only while the epoch is the one it was kept under.
//! Every authentication first takes the epoch ([`Memory::cached_key`],
//! [`Memory::authenticate`]); the epoch moves on when:
//! - the server's own writer commits a change to a key or a user: after every commit it
//!   reads the database's auth generation (triggers bump it on every change to a key or
//!   a user, made by any process) and hands it to [`Memory::after_commit`]. When it
//!   moved, every kept key is forgotten and the epoch moves on, before the commit's
//!   other events are published and before anyone hears back: a revoked key fails from
//!   the next request on;
//! - a group commit fails: keys were looked up inside that transaction, so what it
//!   showed is forgotten the same way ([`Memory::commit_failed`]);
//! - another process (`hitl key …`, `hitl user …`) announces a change by rewriting
//!   `auth.changed` in the data directory ([`announce`]), which the server watches with
//!   inotify. The command writes after its commit and the server looks (one
//!   non-blocking read) each time it takes the epoch, before trusting its memory, so a
//!   revocation made from the command line holds for the very next request;
//! - the idle writer finds, once a second ([`crate::db::writer::GENERATION_CHECK_EVERY`],
//!   [`Memory::writer_idle`]), that the auth generation moved anyway (a command that
//!   died between its commit and its announcement, or an edit made some other way). An
//!   unreadable generation counts as moved;
//! - inotify is unavailable, or the watch was lost and cannot be set again: then the
//!   epoch moves on every time it is taken, nothing in memory is trusted, and every
//!   request reads the keys from the database.
//!
//! A key not kept under the current epoch is checked against the database: when its
//! entry was read under the database's current auth generation it is still valid, and
//! now counts as checked under the epoch taken *before* that generation was read (a
//! change after the read moves the epoch on); otherwise it is looked up again. The
//! writer's own transaction may hold key changes that never commit: a key it looks up
//! is kept only when the transaction's auth generation is still the last committed
//! one (every key or user change moves it, so the transaction holds none).
//!
//! # Pauses being changed
//!
//! Only `hitl serve` changes pauses, only one `hitl serve` runs on a data directory (it
//! holds a lock), and every change goes through its writer. Just before the commit,
//! [`Memory::before_commit`] marks each pause the commit decides as *changing*: it is
//! forgotten, and from then on neither served nor kept. Once the commit is done,
//! [`Memory::after_commit`] marks it *changed* (forgotten again, and free to be kept
//! again) before anyone hears of the change; a failed commit releases it the same way.
//! Every mark moves the version on. A reader takes the epoch and the version *before*
//! reading the database and hands both to [`Memory::keep_pause`], which keeps nothing
//! when the version moved since: the read may predate the change.
//!
//! # After a commit
//!
//! The writer calls [`Memory::before_commit`] with the events of a group commit, then
//! [`Memory::after_commit`] or [`Memory::commit_failed`]; nobody hears of a change
//! before it is on disk, or at all if it did not happen. After the commit, in order:
//! the auth generation is compared (and keys forgotten, the epoch moved); then for each
//! event: a created pause arms the expiry timer and is shown to open pages; a decided
//! pause is marked changed, then, when requests wait on it, read by the writer's
//! connection (the commit done) and kept, *then* its waiters are woken (a woken waiter
//! reads the pause again, from memory when it was kept) and open pages are told; new
//! outbox rows wake the delivery workers.
//!
//! # Guarantees
//!
//! 1. **Revocation takes effect.** Once a change to a key or a user is committed by the
//!    writer, or committed and announced by a command, no request that starts after it
//!    is authenticated from memory; an unannounced change stops being trusted within a
//!    second.
//! 2. **A changing pause is never served stale.** A pause marked changing is neither
//!    served nor kept; a read that began before a change is not kept after it; once the
//!    change is committed, the next read comes from the database, or from the writer's
//!    own read of it made after the commit.
//! 3. **Every waiter wakes.** A committed decision wakes every request waiting on that
//!    pause (and only those); stopping the server wakes all of them. A waiter registers
//!    before reading the pause's status, so a change committed in between is not
//!    missed.

mod commits;
pub mod epoch;
pub mod keys;
pub mod pauses;
#[cfg(test)]
mod tests;
pub mod waiters;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::clock::Millis;
use crate::domain::keys::{self as domain_keys, Authenticated};
use crate::domain::pauses::Pause;
use crate::domain::Result;
use crate::expiry::Expiry;
use crate::model::events::LiveEvent;
use crate::notify::Waker;

pub use epoch::announce;
pub use waiters::Registration;

/// A bearer token's hash and the auth epoch it was presented under
/// ([`Memory::present`]).
pub struct Presented {
    hash: Vec<u8>,
    epoch: u64,
}

/// Everything the server keeps in memory, and everything that hears of commits. Built
/// once by `hitl serve`, shared by the handlers and the writer.
pub struct Memory {
    epoch: epoch::Epoch,
    /// The auth generation the writer saw last.
    generation: epoch::SeenGeneration,
    keys: keys::KeyCache,
    pauses: pauses::PauseCache,
    waiters: Arc<waiters::Waiters>,
    /// Open pages (Server-Sent Events); nobody listening is fine.
    live: tokio::sync::broadcast::Sender<LiveEvent>,
    /// Wakes the delivery workers.
    outbox: Waker,
    /// The expiry timer needs the writer and the writer's events need the timer: it is
    /// set once the timer exists.
    expiry: OnceLock<Expiry>,
}

impl Memory {
    /// Memory for a server on the data directory `dir` (whose `auth.changed` it
    /// watches). Committed changes are told to `live` and `outbox` too.
    pub fn new(
        dir: &Path,
        live: tokio::sync::broadcast::Sender<LiveEvent>,
        outbox: Waker,
    ) -> Memory {
        Memory {
            epoch: epoch::Epoch::new(dir),
            generation: epoch::SeenGeneration::default(),
            keys: keys::KeyCache::default(),
            pauses: pauses::PauseCache::default(),
            waiters: Arc::default(),
            live,
            outbox,
            expiry: OnceLock::new(),
        }
    }

    /// From now on, created pauses arm `expiry`.
    pub fn set_expiry(&self, expiry: Expiry) {
        let _ = self.expiry.set(expiry);
    }

    /// The key behind a bearer token without reading the database, if it is kept
    /// under the current auth epoch; and that epoch, taken before anything else.
    pub fn cached_key(&self, token: &str, now: Millis) -> (Option<Authenticated>, u64) {
        let epoch = self.epoch.current();
        let Ok(hash) = domain_keys::token_hash(token) else {
            return (None, epoch);
        };
        (self.keys.cached(&hash, epoch, now), epoch)
    }

    /// Finds the key behind a bearer token, from memory when its entry still holds,
    /// else from `conn`. Unknown, malformed and revoked keys are all `Unauthorized`.
    /// `committed`: `conn` sees only committed data (false in the writer's
    /// transaction, whose keys are kept only while it holds no key change).
    pub fn authenticate(
        &self,
        conn: &rusqlite::Connection,
        token: &str,
        now: Millis,
        committed: bool,
    ) -> Result<Authenticated> {
        let presented = self.present(token)?;
        self.authenticate_presented(conn, token, presented, now, committed)
    }

    /// The first half of [`Memory::authenticate`], for a caller that hands the second
    /// to the writer: the token's hash and the auth epoch, taken now so that the
    /// writer's thread spends no time on them. An epoch taken earlier than the writer's
    /// read of the generation is as good as one taken just before it: a change after
    /// it still moves the epoch on.
    pub fn present(&self, token: &str) -> Result<Presented> {
        let hash = domain_keys::token_hash(token)?;
        // The epoch before the generation: a change after this read moves the epoch on.
        let epoch = self.epoch.current();
        Ok(Presented { hash, epoch })
    }

    /// The second half of [`Memory::authenticate`].
    pub fn authenticate_presented(
        &self,
        conn: &rusqlite::Connection,
        token: &str,
        presented: Presented,
        now: Millis,
        committed: bool,
    ) -> Result<Authenticated> {
        let Presented { hash, epoch } = presented;
        let source = if committed {
            keys::Source::Committed
        } else {
            keys::Source::Writer {
                committed_generation: self.generation.get(),
            }
        };
        self.keys
            .authenticate(conn, token, hash, epoch, now, source)
    }

    /// The pause, if it was kept under this auth epoch (from `cached_key`).
    pub fn cached_pause(&self, watch_id: &str, epoch: u64) -> Option<Arc<Pause>> {
        self.pauses.get(watch_id, epoch)
    }

    /// Take this (and the epoch) before reading a pause from the database, and hand it
    /// to `keep_pause`.
    pub fn pause_version(&self) -> u64 {
        self.pauses.version()
    }

    /// Keeps a pause read from the database under `epoch`, unless a pause changed
    /// since `version` or this one is changing now.
    pub fn keep_pause(&self, pause: &Pause, epoch: u64, version: u64) {
        self.pauses.keep(pause, epoch, version);
    }

    /// Registers interest in a pause. Register before reading its status, then await
    /// `Registration::changed()`: a change committed in between is not missed.
    pub fn register(&self, watch_id: &str) -> Registration {
        self.waiters.register(watch_id)
    }

    /// How many requests wait for a decision now.
    pub fn long_polls(&self) -> usize {
        self.waiters.held()
    }

    /// Wakes every waiter (the server is stopping).
    pub fn wake_all(&self) {
        self.waiters.wake_all();
    }

    /// Forgets every kept key and moves the epoch on: nothing kept before is trusted.
    fn forget_keys(&self) {
        self.keys.clear();
        self.epoch.bump();
    }
}
