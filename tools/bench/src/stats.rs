//! Latency samples and their percentiles, and rates: the figures every
//! benchmark prints.

use std::time::Duration;

/// Collected latencies; percentiles by the nearest-rank method.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    samples: Vec<Duration>,
    sorted: bool,
}

impl Latencies {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            samples: Vec::with_capacity(capacity),
            sorted: true,
        }
    }

    pub fn record(&mut self, latency: Duration) {
        self.samples.push(latency);
        self.sorted = false;
    }

    pub fn extend(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
        self.sorted = false;
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The `p`-th percentile (0 < p ≤ 100), nearest rank; `None` when empty.
    pub fn percentile(&mut self, p: f64) -> Option<Duration> {
        if self.samples.is_empty() {
            return None;
        }
        if !self.sorted {
            self.samples.sort_unstable();
            self.sorted = true;
        }
        let n = self.samples.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        Some(self.samples[rank.clamp(1, n) - 1])
    }

    /// "p50 1.23 ms, p99 4.56 ms (n = 1000)".
    pub fn summary(&mut self) -> String {
        match (self.percentile(50.0), self.percentile(99.0)) {
            (Some(p50), Some(p99)) => format!(
                "p50 {}, p99 {} (n = {})",
                millis(p50),
                millis(p99),
                self.samples.len()
            ),
            _ => "no samples".to_owned(),
        }
    }
}

/// A duration in milliseconds with two decimals.
pub fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// Items per second over `elapsed`.
pub fn rate(items: u64, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut latencies = Latencies::default();
        for ms in (1..=100).rev() {
            latencies.record(Duration::from_millis(ms));
        }
        assert_eq!(latencies.percentile(50.0), Some(Duration::from_millis(50)));
        assert_eq!(latencies.percentile(99.0), Some(Duration::from_millis(99)));
        assert_eq!(
            latencies.percentile(100.0),
            Some(Duration::from_millis(100))
        );
        assert_eq!(Latencies::default().percentile(50.0), None);
    }

    #[test]
    fn rates_are_per_second() {
        assert_eq!(rate(500, Duration::from_millis(250)), 2000.0);
    }
}
