//! Slows down password guessing. Per account and per client address: a few failures
//! are free, then each further attempt must wait twice as long as the one before
//! (up to 5 minutes). Kept in memory: a restart forgives, which is acceptable for a
//! delay that only ever grows to minutes.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::Millis;

const FREE_FAILURES_ACCOUNT: u32 = 5;
const FREE_FAILURES_ADDRESS: u32 = 10;
const MAX_DELAY_MS: Millis = 5 * 60 * 1000;
/// Failures older than this are forgotten.
const FORGET_AFTER_MS: Millis = 3600 * 1000;
const CAPACITY: usize = 50_000;

#[derive(Default)]
pub struct Throttle {
    accounts: Mutex<HashMap<String, Failures>>,
    addresses: Mutex<HashMap<String, Failures>>,
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Millis,
}

fn wait_ms(f: &Failures, free: u32, now: Millis) -> Millis {
    if f.count < free || now - f.last >= FORGET_AFTER_MS {
        return 0;
    }
    let exponent = (f.count - free).min(20);
    let delay = (1000_i64 << exponent).min(MAX_DELAY_MS);
    (f.last + delay - now).max(0)
}

fn record(map: &Mutex<HashMap<String, Failures>>, key: &str, now: Millis) {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
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
    /// How long this account and address must still wait before trying again.
    pub fn wait_ms(&self, account: &str, address: &str, now: Millis) -> Millis {
        let lock = |m: &Mutex<HashMap<String, Failures>>, k: &str, free| {
            m.lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(k)
                .map_or(0, |f| wait_ms(f, free, now))
        };
        lock(&self.accounts, account, FREE_FAILURES_ACCOUNT).max(lock(
            &self.addresses,
            address,
            FREE_FAILURES_ADDRESS,
        ))
    }

    pub fn failed(&self, account: &str, address: &str, now: Millis) {
        record(&self.accounts, account, now);
        record(&self.addresses, address, now);
    }

    /// A successful sign-in clears the account's failures (not the address's).
    pub fn succeeded(&self, account: &str) {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(account);
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
            assert_eq!(t.wait_ms("a@x", "1.2.3.4", now), 0);
            t.failed("a@x", "1.2.3.4", now);
        }
        assert_eq!(t.wait_ms("a@x", "1.2.3.4", now), 1000);
        assert_eq!(
            t.wait_ms("b@x", "5.6.7.8", now),
            0,
            "other accounts and addresses are free"
        );
        now += 1000;
        t.failed("a@x", "1.2.3.4", now);
        assert_eq!(t.wait_ms("a@x", "1.2.3.4", now), 2000);
        for _ in 0..30 {
            t.failed("a@x", "9.9.9.9", now);
        }
        assert_eq!(t.wait_ms("a@x", "1.2.3.4", now), MAX_DELAY_MS);
        t.succeeded("a@x");
        assert_eq!(t.wait_ms("a@x", "1.2.3.4", now), 0);
        assert!(
            t.wait_ms("c@x", "9.9.9.9", now) > 0,
            "the guessing address stays slowed"
        );
        assert_eq!(t.wait_ms("c@x", "9.9.9.9", now + FORGET_AFTER_MS), 0);
    }
}
