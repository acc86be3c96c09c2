//! `--rate-limit`: API requests per minute per key, as a token bucket holding a
//! minute's worth, so that an agent stuck in a loop cannot crowd out the others.
//! Counted by the bearer token before it is checked: a refused request costs no
//! database work, and no token is kept (only a keyed hash of it).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::Instant;

/// Beyond this many tokens tracked, full buckets are dropped (they hold no state).
const MAX_TRACKED: usize = 10_000;

pub struct RateLimit {
    per_minute: u32,
    hasher: RandomState,
    buckets: Mutex<HashMap<u64, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    /// `per_minute` 0: no limit.
    pub fn new(per_minute: u32) -> RateLimit {
        RateLimit {
            per_minute,
            hasher: RandomState::new(),
            buckets: Mutex::default(),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes one request from the token's bucket; `Err(seconds)` until one is allowed.
    pub fn take(&self, token: &str, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let refill = |b: &mut Bucket| {
            if now > b.at {
                let elapsed = (now - b.at).as_secs_f64();
                b.tokens = (b.tokens + elapsed * per_second).min(capacity);
                b.at = now;
            }
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, b| {
                refill(b);
                b.tokens < capacity
            });
            // Many keys busy at once (or made-up keys): start over rather than scan
            // again on the next request.
            if buckets.len() > MAX_TRACKED / 2 {
                buckets.clear();
            }
        }
        let bucket = buckets
            .entry(self.hasher.hash_one(token))
            .or_insert(Bucket {
                tokens: capacity,
                at: now,
            });
        refill(bucket);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_minutes_worth_then_one_at_a_time() {
        let limit = RateLimit::new(60);
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(limit.take("hitl_a", t0).is_ok());
        }
        assert_eq!(limit.take("hitl_a", t0), Err(1));
        assert!(limit.take("hitl_b", t0).is_ok(), "every key has its own");
        let later = t0 + Duration::from_millis(1_100);
        assert!(limit.take("hitl_a", later).is_ok());
        assert!(limit.take("hitl_a", later).is_err());
    }

    #[test]
    fn many_tokens_stay_bounded() {
        let limit = RateLimit::new(6);
        let t0 = Instant::now();
        for i in 0..(3 * MAX_TRACKED) {
            assert!(limit.take(&format!("hitl_{i}"), t0).is_ok());
            assert!(limit.buckets.lock().unwrap().len() <= MAX_TRACKED);
        }
    }

    #[test]
    fn zero_is_no_limit() {
        let limit = RateLimit::new(0);
        let t0 = Instant::now();
        assert!((0..10_000).all(|_| limit.take("hitl_a", t0).is_ok()));
    }
}
