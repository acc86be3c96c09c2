//! Pauses read recently, so that an agent polling its pause costs no database read.
//! Entries are kept under the auth epoch they were read in; the writer marks a pause
//! `changing` before its commit and `changed` after (see `crate::memory`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::domain::pauses::Pause;

/// Beyond this many bytes of agent text the pauses kept longest are let go, one at a
/// time, so that the memory held stays level. (Starting over when full let it swing
/// by the whole budget, about 10 MB of the heap, every two minutes under
/// `bench/soak.py`.)
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
    /// The watch id of each entry by its `Entry::kept`: the first is let go first.
    order: BTreeMap<u64, String>,
    kept: u64,
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
    /// Its place in `Inner::order`.
    kept: u64,
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
        inner.forget_entry(&pause.watch_id);
        while inner.bytes + size > BUDGET_BYTES && inner.let_go_oldest() {}
        inner.kept += 1;
        let entry = Entry {
            epoch,
            pause: Arc::new(pause.clone()),
            size,
            kept: inner.kept,
        };
        inner.bytes += size;
        inner.order.insert(entry.kept, pause.watch_id.clone());
        inner.entries.insert(pause.watch_id.clone(), entry);
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
        self.forget_entry(watch_id);
    }

    fn forget_entry(&mut self, watch_id: &str) {
        if let Some(old) = self.entries.remove(watch_id) {
            self.bytes -= old.size;
            self.order.remove(&old.kept);
        }
    }

    /// Lets go of the entry kept longest ago; false if none is left.
    fn let_go_oldest(&mut self) -> bool {
        let Some((_, id)) = self.order.pop_first() else {
            return false;
        };
        self.forget_entry(&id);
        true
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
        let count = 2 * BUDGET_BYTES / MAX_ENTRY_BYTES;
        for i in 0..count {
            p.watch_id = format!("w{i}");
            cache.keep(&p, 0, cache.version());
            assert!(cache.lock().bytes <= BUDGET_BYTES);
        }
        // Full, it lets go of the oldest only: the newest half is all still there.
        let held = BUDGET_BYTES / size_of(&p);
        assert!(held > 100, "{held}");
        for i in count - held..count {
            assert!(cache.get(&format!("w{i}"), 0).is_some(), "w{i} let go");
        }
        assert!(cache.get(&format!("w{}", count - held - 1), 0).is_none());
        assert!(
            cache.lock().bytes > BUDGET_BYTES - size_of(&p),
            "not started over"
        );
    }

    #[test]
    fn pauses_kept_and_forgotten_leave_nothing_behind() {
        let cache = PauseCache::default();
        let p = pause("w", Status::Pending);
        for round in 0..10_000 {
            let id = format!("w{round}");
            let read = Pause {
                watch_id: id.clone(),
                ..p.clone()
            };
            cache.keep(&read, 0, cache.version());
            // Read again: still one entry, counted once.
            cache.keep(&read, 0, cache.version());
            if round % 10 != 0 {
                cache.changing(&id);
                cache.changed(&id);
            }
        }
        let inner = cache.lock();
        assert_eq!(inner.entries.len(), 1_000);
        let counted: usize = inner.entries.values().map(|e| e.size).sum();
        assert_eq!(inner.bytes, counted);
        assert!(
            inner.order.len() <= 2 * inner.entries.len() + 64,
            "{}",
            inner.order.len()
        );
    }
}
