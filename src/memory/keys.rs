//! Keys that authenticated recently, so that a request costs no key lookup. Which
//! keys are valid is decided in `crate::domain::keys`; this is only where the answers
//! are kept, and how they stop being trusted (see the module doc of `crate::memory`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::clock::Millis;
use crate::db;
use crate::domain::keys::{self, Authenticated, Valid};
use crate::domain::Result;

/// Beyond this many keys the cache starts over; it only ever holds valid keys.
const CAPACITY: usize = 10_000;

/// What the connection a key is looked up on reads.
#[derive(Clone, Copy)]
pub enum Source {
    /// Only committed data (a reader).
    Committed,
    /// The writer's transaction, which may hold key changes of earlier writes in its
    /// group commit that never commit; `committed_generation` is the auth generation
    /// of the last commit (`None`: unknown).
    Writer { committed_generation: Option<i64> },
}

/// Valid keys by the SHA-256 of their token.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
}

struct Entry {
    /// The database's auth generation the key was read (or last checked) under.
    generation: i64,
    /// The auth epoch when the entry was last checked against the database.
    epoch: u64,
    key: Valid,
}

impl KeyCache {
    fn entries(&self) -> MutexGuard<'_, HashMap<Vec<u8>, Entry>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets every key.
    pub fn clear(&self) {
        self.entries().clear();
    }

    /// The key whose token hashes to `hash`, if it was checked under `epoch` (the
    /// current one): no database read.
    pub fn cached(&self, hash: &[u8], epoch: u64, now: Millis) -> Option<Authenticated> {
        self.entries()
            .get_mut(hash)
            .filter(|e| e.epoch == epoch)
            .map(|e| e.key.use_at(now))
    }

    /// The key behind `token` (whose hash is `hash`), checked against `conn`: an entry
    /// read under the database's current auth generation is trusted (and now counts as
    /// checked under `epoch`); otherwise the key is looked up again.
    /// A key found is kept when what `conn` reads is committed data (see [`Source`]).
    pub fn authenticate(
        &self,
        conn: &rusqlite::Connection,
        token: &str,
        hash: Vec<u8>,
        epoch: u64,
        now: Millis,
        source: Source,
    ) -> Result<Authenticated> {
        let generation = db::keys::auth_generation(conn)?;
        let mut entries = self.entries();
        let entry = match entries.get_mut(&hash) {
            Some(entry) if entry.generation == generation => {
                entry.epoch = entry.epoch.max(epoch);
                entry
            }
            _ => {
                drop(entries);
                let mut key = keys::lookup(conn, token, &hash)?;
                let committed = match source {
                    Source::Committed => true,
                    // Every change to a key or a user moves the generation (triggers),
                    // so a transaction still at the last committed one holds none.
                    Source::Writer {
                        committed_generation,
                    } => committed_generation == Some(generation),
                };
                if !committed {
                    return Ok(key.use_at(now));
                }
                entries = self.entries();
                if entries.len() >= CAPACITY {
                    entries.clear();
                }
                entries
                    .entry(hash)
                    .insert_entry(Entry {
                        generation,
                        epoch,
                        key,
                    })
                    .into_mut()
            }
        };
        Ok(entry.key.use_at(now))
    }
}
