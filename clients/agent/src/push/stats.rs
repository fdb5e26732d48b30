//! Counters of what the pusher did in this process, for progress logs and
//! for the report of a push that ran until drained.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct PushStats {
    acknowledged: AtomicU64,
    duplicates: AtomicU64,
    parked: AtomicU64,
    retried: AtomicU64,
    link_failures: AtomicU64,
}

/// A snapshot of [`PushStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Updates the centre acknowledged (applied now or before).
    pub acknowledged: u64,
    /// Of those, the ones it had applied before (an earlier answer was lost).
    pub duplicates: u64,
    /// Updates the centre refused for good.
    pub parked: u64,
    /// Transient refusals of single updates (retried after a delay).
    pub retried: u64,
    /// Connections or streams that failed (retried after a backoff).
    pub link_failures: u64,
}

impl PushStats {
    pub fn acknowledged(&self, duplicate: bool) {
        self.acknowledged.fetch_add(1, Ordering::Relaxed);
        if duplicate {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn parked(&self) {
        self.parked.fetch_add(1, Ordering::Relaxed);
    }

    pub fn retried(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
    }

    pub fn link_failed(&self) {
        self.link_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn report(&self) -> PushReport {
        PushReport {
            acknowledged: self.acknowledged.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            parked: self.parked.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            link_failures: self.link_failures.load(Ordering::Relaxed),
        }
    }
}
