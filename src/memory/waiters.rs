//! Long-poll waiters: a map from watchId to a notification. A waiting request costs
//! one map entry and one timer; a committed change to the pause wakes every waiter
//! on it at once (`crate::memory::Memory::after_commit`). No database work happens
//! while waiting.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

#[derive(Default)]
pub struct Waiters {
    slots: Mutex<HashMap<String, Slot>>,
    /// Set at shutdown: every long-poll answers at once, those registered later too.
    closed: AtomicBool,
    /// Registrations alive now: requests waiting for a decision (`/metrics`).
    held: AtomicUsize,
}

struct Slot {
    notify: Arc<Notify>,
    count: usize,
}

impl Waiters {
    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers interest in `watch_id`. Register before reading the pause's status,
    /// then await `changed()`: a change committed in between is not missed.
    pub fn register(self: &Arc<Self>, watch_id: &str) -> Registration {
        let mut slots = self.slots();
        let slot = slots.entry(watch_id.to_string()).or_insert_with(|| Slot {
            notify: Arc::new(Notify::new()),
            count: 0,
        });
        slot.count += 1;
        self.held.fetch_add(1, Ordering::Relaxed);
        Registration {
            waiters: Arc::clone(self),
            watch_id: watch_id.to_string(),
            notify: Arc::clone(&slot.notify),
        }
    }

    /// Wakes everyone waiting on `watch_id`.
    pub fn wake(&self, watch_id: &str) {
        if let Some(slot) = self.slots().get(watch_id) {
            slot.notify.notify_waiters();
        }
    }

    /// Wakes every waiter (the server is stopping), and every one registered after.
    pub fn wake_all(&self) {
        let slots = self.slots();
        // Under the lock: a registration made after this sees it (`changed`). SeqCst,
        // as tokio's `Notify` is: a `changed` that reads the flag unset was made
        // before this store, so its `Notified` is woken by the loop below.
        self.closed.store(true, Ordering::SeqCst);
        for slot in slots.values() {
            slot.notify.notify_waiters();
        }
    }

    /// How many requests wait now (one registration each).
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Whether any request waits on `watch_id` now.
    pub fn watched(&self, watch_id: &str) -> bool {
        self.slots().contains_key(watch_id)
    }

    /// How many pauses have someone waiting on them.
    #[cfg(test)]
    pub fn pauses_watched(&self) -> usize {
        self.slots().len()
    }
}

/// One waiting request's interest in one pause; dropping it unregisters.
pub struct Registration {
    waiters: Arc<Waiters>,
    watch_id: String,
    notify: Arc<Notify>,
}

impl Registration {
    /// A future that completes when the pause changes or the server stops. Create it
    /// before reading the status. One `Notified` and a flag: each held long-poll keeps
    /// this for its whole wait.
    pub fn changed(&self) -> impl std::future::Future<Output = ()> + '_ {
        // Made before the flag is read: a stop in between wakes it.
        let changed = self.notify.notified();
        let closed = self.waiters.closed.load(Ordering::SeqCst);
        async move {
            if !closed {
                changed.await;
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.waiters.held.fetch_sub(1, Ordering::Relaxed);
        let mut slots = self.waiters.slots();
        if let Some(slot) = slots.get_mut(&self.watch_id) {
            slot.count -= 1;
            if slot.count == 0 {
                slots.remove(&self.watch_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "current_thread")]
    async fn wake_reaches_a_waiter_registered_before_it() {
        let waiters = Arc::new(Waiters::default());
        let reg = waiters.register("wch_a");
        let changed = reg.changed();
        // The change happens before the waiter is polled: it must not be missed.
        waiters.wake("wch_a");
        tokio::time::timeout(Duration::from_secs(1), changed)
            .await
            .unwrap_or_else(|_| panic!("waiter missed the wake-up"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn registrations_are_removed_when_dropped() {
        let waiters = Arc::new(Waiters::default());
        let a = waiters.register("wch_a");
        let b = waiters.register("wch_a");
        assert_eq!(waiters.pauses_watched(), 1);
        assert_eq!(waiters.held(), 2);
        drop(a);
        assert_eq!(waiters.pauses_watched(), 1);
        assert_eq!(waiters.held(), 1);
        drop(b);
        assert_eq!(waiters.pauses_watched(), 0);
        assert_eq!(waiters.held(), 0);
        let other = waiters.register("wch_b");
        let changed = other.changed();
        waiters.wake("wch_a");
        assert!(tokio::time::timeout(Duration::from_millis(50), changed)
            .await
            .is_err());
    }
}
