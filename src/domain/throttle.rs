//! Slows down password guessing. Per account and per client address: a few failures
//! are free, then each further attempt must wait twice as long as the one before
//! (up to 5 minutes). Every attempt counts as a failure from the moment it starts,
//! so parallel guesses cannot slip past; a success takes its count back. Kept in
//! memory: a restart forgives, which is acceptable for a delay that only grows to
//! minutes.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::clock::Millis;

const FREE_FAILURES_ACCOUNT: u32 = 5;
const FREE_FAILURES_ADDRESS: u32 = 10;
const MAX_DELAY_MS: Millis = 5 * 60 * 1000;
/// Failures older than this are forgotten.
const FORGET_AFTER_MS: Millis = 3600 * 1000;
const CAPACITY: usize = 50_000;

type Counts = HashMap<String, Failures>;

#[derive(Default)]
pub struct Throttle {
    /// Both maps under one lock, so a check and its count are one step.
    counts: Mutex<(Counts, Counts)>,
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Millis,
}

fn wait_ms(f: Option<&Failures>, free: u32, now: Millis) -> Millis {
    let Some(f) = f else { return 0 };
    if f.count < free || now - f.last >= FORGET_AFTER_MS {
        return 0;
    }
    let exponent = (f.count - free).min(20);
    let delay = (1000_i64 << exponent).min(MAX_DELAY_MS);
    (f.last + delay - now).max(0)
}

fn count(map: &mut Counts, key: &str, now: Millis) {
    if map.len() >= CAPACITY {
        map.retain(|_, f| now - f.last < FORGET_AFTER_MS);
        if map.len() >= CAPACITY {
            map.clear();
        }
    }
    let entry = map.entry(key.to_string()).or_insert(Failures {
        count: 0,
        last: now,
    });
    if now - entry.last >= FORGET_AFTER_MS {
        entry.count = 0;
    }
    entry.count += 1;
    entry.last = now;
}

impl Throttle {
    fn lock(&self) -> MutexGuard<'_, (Counts, Counts)> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts an attempt: `Err(ms)` when the account or the address must still wait
    /// that long; otherwise the attempt counts as a failure until `succeeded`.
    pub fn begin(&self, account: &str, address: &str, now: Millis) -> Result<(), Millis> {
        let mut guard = self.lock();
        let (accounts, addresses) = &mut *guard;
        let wait = wait_ms(accounts.get(account), FREE_FAILURES_ACCOUNT, now).max(wait_ms(
            addresses.get(address),
            FREE_FAILURES_ADDRESS,
            now,
        ));
        if wait > 0 {
            return Err(wait);
        }
        count(accounts, account, now);
        count(addresses, address, now);
        Ok(())
    }

    /// The password was right: the account starts afresh and the address gets this
    /// attempt back.
    pub fn succeeded(&self, account: &str, address: &str) {
        let mut guard = self.lock();
        let (accounts, addresses) = &mut *guard;
        accounts.remove(account);
        if let Some(f) = addresses.get_mut(address) {
            f.count = f.count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_are_free_then_the_wait_doubles() {
        let t = Throttle::default();
        let mut now = 1_000_000;
        for _ in 0..5 {
            assert_eq!(t.begin("a@x", "1.2.3.4", now), Ok(()));
        }
        assert_eq!(
            t.begin("b@x", "5.6.7.8", now),
            Ok(()),
            "other accounts and addresses are free"
        );
        // A patient guesser waits out each delay: they double up to 5 minutes.
        let mut waits = Vec::new();
        for _ in 0..12 {
            match t.begin("a@x", "1.2.3.4", now) {
                Err(wait) => {
                    waits.push(wait);
                    now += wait;
                    assert_eq!(t.begin("a@x", "1.2.3.4", now), Ok(()));
                }
                Ok(()) => panic!("no wait after {} failures", waits.len() + 5),
            }
        }
        assert_eq!(&waits[..4], &[1000, 2000, 4000, 8000]);
        assert_eq!(*waits.last().unwrap_or(&0), MAX_DELAY_MS);
        // A right password clears the account; the address still remembers.
        t.succeeded("a@x", "1.2.3.4");
        assert_eq!(t.begin("a@x", "9.9.9.9", now), Ok(()));
        assert!(
            t.begin("c@x", "1.2.3.4", now).is_err(),
            "the guessing address stays slowed"
        );
        assert_eq!(
            t.begin("c@x", "1.2.3.4", now + FORGET_AFTER_MS),
            Ok(()),
            "an hour forgives"
        );
    }

    #[test]
    fn a_success_gives_the_address_its_attempt_back() {
        let t = Throttle::default();
        for i in 0..20 {
            assert_eq!(
                t.begin(&format!("user{i}"), "10.0.0.1", 0),
                Ok(()),
                "one office, many people"
            );
            t.succeeded(&format!("user{i}"), "10.0.0.1");
        }
    }
}
