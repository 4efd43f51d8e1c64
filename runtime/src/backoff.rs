//! [`Backoff`]: a streak of failures of one task and the wait before its
//! next attempt (growing, with jitter), so that a caller can log a failure
//! when it starts and when it ends rather than at every retry.

use std::time::{Duration, Instant};

/// The failures in a row of one task; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    longest: Duration,
    since: Option<Instant>,
    failures: u32,
}

/// A streak of failures that ended with a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// How long the task kept failing.
    pub after: Duration,
    /// How many attempts failed.
    pub failures: u32,
}

impl Backoff {
    /// The runtime's waits: 50 ms, doubling up to 5 s.
    pub const DEFAULT: Backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));

    /// Waits of `first`, doubling per failure in a row up to `longest`.
    pub const fn new(first: Duration, longest: Duration) -> Self {
        Backoff {
            first,
            longest,
            since: None,
            failures: 0,
        }
    }

    /// Whether the task is failing now (no success since its last failure).
    pub fn is_failing(&self) -> bool {
        self.since.is_some()
    }

    /// Failed attempts in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records a failure; returns how long to wait before the next attempt:
    /// the doubled wait for this many failures in a row, times a random
    /// factor from 0.5 to 1 (so that tasks failing together do not retry in
    /// step). Call [`is_failing`](Self::is_failing) before it to tell
    /// whether this failure starts a streak.
    pub fn failed(&mut self) -> Duration {
        self.since.get_or_insert_with(Instant::now);
        self.failures = self.failures.saturating_add(1);
        let doublings = (self.failures - 1).min(16);
        let delay = self.first.saturating_mul(1 << doublings).min(self.longest);
        delay.mul_f64(0.5 + fastrand::f64() * 0.5)
    }

    /// Records a success; returns the streak it ended, if there was one.
    pub fn succeeded(&mut self) -> Option<Recovered> {
        let failures = std::mem::take(&mut self.failures);
        self.since.take().map(|since| Recovered {
            after: since.elapsed(),
            failures,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_longest_with_jitter_and_reset_on_success() {
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));
        assert!(!backoff.is_failing());
        for failures in 1..=40u32 {
            let nominal = Duration::from_millis(50 << (failures - 1).min(20)).min(Duration::from_secs(5));
            let delay = backoff.failed();
            assert!(
                delay >= nominal / 2 && delay <= nominal,
                "failure {failures}: {delay:?}"
            );
        }
        assert!(backoff.is_failing());
        assert_eq!(backoff.succeeded().map(|r| r.failures), Some(40));
        assert_eq!(backoff.succeeded(), None);
        assert!(backoff.failed() <= Duration::from_millis(50));
    }
}
