//! Pauses read recently, so that an agent polling its pause costs no database read.
//! Entries are kept under the auth epoch they were read in; the writer marks a pause
//! `changing` before its commit and `changed` after (see `crate::memory`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::domain::pauses::Pause;

/// Beyond this many bytes of agent text the cache starts over.
const BUDGET_BYTES: usize = 8 << 20;
/// Larger pauses are read from the database every time.
const MAX_ENTRY_BYTES: usize = 64 << 10;

#[derive(Default)]
pub struct PauseCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    bytes: usize,
    /// Pauses whose change is being committed.
    changing: HashSet<String>,
    /// Moves on with every change: a read that began before may not be kept.
    version: u64,
}

struct Entry {
    epoch: u64,
    pause: Arc<Pause>,
    /// Counted against the budget.
    size: usize,
}

fn size_of(p: &Pause) -> usize {
    p.watch_id.len()
        + p.key_id.len()
        + p.key_name.len()
        + p.action.len()
        + p.context.as_ref().map_or(0, String::len)
        + p.tags.iter().map(String::len).sum::<usize>()
        + p.webhook_url.as_ref().map_or(0, String::len)
        + p.resolved_by.as_ref().map_or(0, String::len)
        + p.comment.as_ref().map_or(0, String::len)
        + p.answer.as_ref().map_or(0, String::len)
        + p.options.iter().flatten().map(String::len).sum::<usize>()
        + 128
}

impl PauseCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pause, if it was kept under this auth epoch.
    pub fn get(&self, watch_id: &str, epoch: u64) -> Option<Arc<Pause>> {
        let inner = self.lock();
        let entry = inner.entries.get(watch_id)?;
        (entry.epoch == epoch).then(|| Arc::clone(&entry.pause))
    }

    /// Take this before reading a pause from the database, and hand it to `keep`.
    pub fn version(&self) -> u64 {
        self.lock().version
    }

    /// Keeps a pause read from the database under `epoch`, unless a pause was
    /// forgotten since `version` (the read may predate that change).
    pub fn keep(&self, pause: &Pause, epoch: u64, version: u64) {
        let size = size_of(pause);
        if size > MAX_ENTRY_BYTES {
            return;
        }
        let mut inner = self.lock();
        if inner.version != version || inner.changing.contains(&pause.watch_id) {
            return;
        }
        if inner.bytes + size > BUDGET_BYTES {
            inner.entries.clear();
            inner.bytes = 0;
        }
        let entry = Entry {
            epoch,
            pause: Arc::new(pause.clone()),
            size,
        };
        inner.bytes += size;
        if let Some(old) = inner.entries.insert(pause.watch_id.clone(), entry) {
            inner.bytes -= old.size;
        }
    }

    /// A change to the pause is about to commit: stop serving and keeping it.
    pub fn changing(&self, watch_id: &str) {
        let mut inner = self.lock();
        inner.forget(watch_id);
        inner.changing.insert(watch_id.to_string());
    }

    /// The change committed (or failed): the pause may be read and kept again.
    pub fn changed(&self, watch_id: &str) {
        let mut inner = self.lock();
        inner.forget(watch_id);
        inner.changing.remove(watch_id);
    }
}

impl Inner {
    fn forget(&mut self, watch_id: &str) {
        self.version += 1;
        if let Some(old) = self.entries.remove(watch_id) {
            self.bytes -= old.size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;

    fn pause(watch_id: &str, status: Status) -> Pause {
        Pause {
            status,
            ..Pause::example(watch_id, "deploy")
        }
    }

    #[test]
    fn kept_pauses_hold_for_their_epoch_until_forgotten() {
        let cache = PauseCache::default();
        let v = cache.version();
        cache.keep(&pause("w1", Status::Pending), 3, v);
        assert_eq!(cache.get("w1", 3).map(|p| p.status), Some(Status::Pending));
        assert!(cache.get("w1", 4).is_none(), "another epoch");
        cache.changing("w1");
        assert!(cache.get("w1", 3).is_none());
    }

    #[test]
    fn nothing_read_around_a_commit_is_kept() {
        let cache = PauseCache::default();
        // A read that began before the writer marked the pause changing.
        let before = cache.version();
        cache.changing("w1");
        cache.keep(&pause("w1", Status::Pending), 0, before);
        assert!(cache.get("w1", 0).is_none());
        // A read that began while the commit was under way.
        let during = cache.version();
        cache.keep(&pause("w1", Status::Pending), 0, during);
        assert!(cache.get("w1", 0).is_none());
        cache.changed("w1");
        cache.keep(&pause("w1", Status::Pending), 0, during);
        assert!(
            cache.get("w1", 0).is_none(),
            "began before the commit ended"
        );
        // After: kept again.
        let after = cache.version();
        cache.keep(&pause("w1", Status::Approved), 0, after);
        assert_eq!(cache.get("w1", 0).map(|p| p.status), Some(Status::Approved));
    }

    #[test]
    fn the_budget_bounds_memory() {
        let cache = PauseCache::default();
        let mut big = pause("w0", Status::Pending);
        big.context = Some("x".repeat(MAX_ENTRY_BYTES + 1));
        cache.keep(&big, 0, cache.version());
        assert!(cache.get("w0", 0).is_none(), "too large to keep");
        let mut p = pause("w", Status::Pending);
        p.context = Some("x".repeat(MAX_ENTRY_BYTES - 1024));
        for i in 0..(2 * BUDGET_BYTES / MAX_ENTRY_BYTES) {
            p.watch_id = format!("w{i}");
            cache.keep(&p, 0, cache.version());
            assert!(cache.lock().bytes <= BUDGET_BYTES);
        }
    }
}
