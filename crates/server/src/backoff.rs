//! Exponential backoff with jitter, for everything that retries (the office
//! agent's pusher, reporting's change-log follower): the delay doubles per
//! consecutive failure up to a cap, and each delay is drawn from its upper
//! half, so that 63 offices (or replicas) cut off together do not all come
//! back in the same instant.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            failures: 0,
        }
    }

    /// The delay before the next attempt, after one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let delay = delay(self.initial, self.max, self.failures, rand::rng().random());
        self.failures = self.failures.saturating_add(1);
        delay
    }

    /// After a success: the next failure starts from the initial delay again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// The delay after `failures` earlier failures, with `unit` in [0, 1)
/// choosing where in the upper half of the capped delay it falls.
pub fn delay(initial: Duration, max: Duration, failures: u32, unit: f64) -> Duration {
    let factor = 2_u32.saturating_pow(failures.min(30));
    let capped = initial.saturating_mul(factor).min(max);
    capped.div_f64(2.0) + capped.div_f64(2.0).mul_f64(unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn delays_double_up_to_the_cap() {
        let (initial, max) = (100 * MS, 1000 * MS);
        assert_eq!(delay(initial, max, 0, 1.0), 100 * MS);
        assert_eq!(delay(initial, max, 1, 1.0), 200 * MS);
        assert_eq!(delay(initial, max, 3, 1.0), 800 * MS);
        assert_eq!(delay(initial, max, 4, 1.0), 1000 * MS);
        assert_eq!(delay(initial, max, 400, 1.0), 1000 * MS);
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let (initial, max) = (100 * MS, 1000 * MS);
        assert_eq!(delay(initial, max, 2, 0.0), 200 * MS);
        let mut backoff = Backoff::new(initial, max);
        for failures in 0..10 {
            let ceiling = delay(initial, max, failures, 1.0);
            let drawn = backoff.next_delay();
            assert!(
                drawn >= ceiling / 2 && drawn <= ceiling,
                "{drawn:?} vs {ceiling:?}"
            );
        }
        backoff.reset();
        assert_eq!(backoff.failures(), 0);
        assert!(backoff.next_delay() <= initial);
    }
}
