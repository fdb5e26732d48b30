//! Keyed token buckets: a per-principal request rate limit, and the limit
//! on how many rejected attempts per caller are written to the audit log.
//! (tower's `RateLimit` limits a whole service, not each caller; a keyed
//! bucket is a few lines.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before idle (full) ones are dropped.
const MAX_KEYS: usize = 10_000;

/// A rate: `per_second` on average, bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self {
            per_second: per_second.max(0.0),
            burst: burst.max(1.0),
        }
    }

    /// `count` per `period`, in bursts of up to `count`.
    pub fn per(count: u32, period: Duration) -> Self {
        Self::new(
            f64::from(count) / period.as_secs_f64().max(1e-9),
            f64::from(count),
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
    /// Calls refused since the last one let through.
    refused: u64,
}

/// A token bucket per key.
#[derive(Debug)]
pub struct KeyedLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// The outcome of [`KeyedLimiter::take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Allowed; `refused_before` calls were refused since the previous allowed one.
    Allowed {
        refused_before: u64,
    },
    Refused,
}

impl KeyedLimiter {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes one token from `key`'s bucket.
    pub fn take(&self, key: &str) -> Take {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &str, now: Instant) -> Take {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            let rate = self.rate;
            buckets.retain(|_, bucket| refill(rate, *bucket, now).tokens < rate.burst);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.rate.burst,
            last: now,
            refused: 0,
        });
        *bucket = refill(self.rate, *bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            let refused_before = std::mem::take(&mut bucket.refused);
            Take::Allowed { refused_before }
        } else {
            bucket.refused += 1;
            Take::Refused
        }
    }
}

fn refill(rate: Rate, bucket: Bucket, now: Instant) -> Bucket {
    let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
    Bucket {
        tokens: (bucket.tokens + elapsed * rate.per_second).min(rate.burst),
        last: now,
        refused: bucket.refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills_per_key() {
        let limiter = KeyedLimiter::new(Rate::new(2.0, 3.0));
        let start = Instant::now();
        for _ in 0..3 {
            assert!(matches!(limiter.take_at("a", start), Take::Allowed { .. }));
        }
        assert_eq!(limiter.take_at("a", start), Take::Refused);
        assert_eq!(limiter.take_at("a", start), Take::Refused);
        // Another key has its own bucket.
        assert!(matches!(limiter.take_at("b", start), Take::Allowed { .. }));
        // Half a second later one token is back, and the refusals are counted.
        let later = start + Duration::from_millis(500);
        assert_eq!(
            limiter.take_at("a", later),
            Take::Allowed { refused_before: 2 }
        );
        assert_eq!(limiter.take_at("a", later), Take::Refused);
    }
}
