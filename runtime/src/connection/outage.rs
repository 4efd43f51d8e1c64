//! One Redis outage as one task sees it: logged when it starts and ends,
//! with the delay before each retry.

use std::time::Duration;

use redis::RedisError;

use crate::backoff::Backoff;

/// Tracks one Redis outage as seen by one task, so that it is logged when
/// it starts and when it ends, not at every retry; also gives the delay
/// before the next retry (a [`Backoff`]).
#[derive(Debug)]
pub(crate) struct Outage {
    what: &'static str,
    backoff: Backoff,
    loud: bool,
}

impl Outage {
    /// An outage tracker for the task doing `what` (e.g. `reading`), which
    /// logs the start (warning) and end (info) of each outage.
    pub(crate) fn new(what: &'static str) -> Self {
        Outage {
            what,
            backoff: Backoff::DEFAULT,
            loud: true,
        }
    }

    /// A tracker that logs only at debug level, for tasks whose outage
    /// another task reports already.
    pub(crate) fn quiet(what: &'static str) -> Self {
        Outage {
            loud: false,
            ..Outage::new(what)
        }
    }

    /// Records a failure; returns how long to wait before retrying.
    pub(crate) fn failed(&mut self, error: &RedisError) -> Duration {
        if !self.backoff.is_failing() {
            if !self.loud {
                tracing::debug!(%error, "Redis is unavailable while {}", self.what);
            } else {
                tracing::warn!(%error, "Redis is unavailable while {}; retrying until it is back", self.what);
            }
        } else {
            tracing::debug!(%error, failures = self.backoff.failures(), "still no Redis while {}", self.what);
        }
        self.backoff.failed()
    }

    /// Records a success, logging the end of an outage if there was one.
    pub(crate) fn recovered(&mut self) {
        if let Some(recovered) = self.backoff.succeeded().filter(|_| self.loud) {
            tracing::info!(
                after = ?recovered.after,
                failures = recovered.failures,
                "Redis is back; {} resumes",
                self.what
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::ErrorKind;

    #[test]
    fn outage_delays_grow_and_reset() {
        let error = RedisError::from((ErrorKind::Io, "down"));
        let mut outage = Outage::new("testing");
        let first = outage.failed(&error);
        assert!(first <= Duration::from_millis(50));
        for _ in 0..30 {
            assert!(outage.failed(&error) <= Duration::from_secs(5));
        }
        assert!(outage.backoff.is_failing());
        outage.recovered();
        assert!(!outage.backoff.is_failing());
        assert!(outage.failed(&error) <= Duration::from_millis(50));
    }
}
