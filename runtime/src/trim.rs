//! How writers keep a stream within its retention and its cap with one
//! command per write: the cap (`MAXLEN ~ <cap>`) goes in every `XADD`, and
//! the age bound (`XTRIM <stream> MINID ~ <now − retention>`) goes in the
//! same round trip only once it has moved on by a hundredth of the
//! retention, at most [`AGE_STEP`], since this writer last sent it for that
//! stream (at the first write, and at once for a shorter retention). An
//! entry outlives its retention by that step at most, beyond what `~`
//! allows. A bound lost with a failed write goes with the next write past
//! the step.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// Looked up at every write: foldhash hashes a stream name for a fraction of
// SipHash's cost.
use foldhash::HashMap;

/// The longest an age bound is held back.
pub(crate) const AGE_STEP: Duration = Duration::from_secs(1);

/// The age bound last sent per stream (in milliseconds), shared by the
/// clones of one writer: one entry per stream written to.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgeTrims {
    sent: Arc<Mutex<HashMap<String, u64>>>,
}

impl AgeTrims {
    /// The streams among `streams` (name, retention) whose age bound is due
    /// now, with that bound in milliseconds; records them as sent.
    pub(crate) fn due<'s>(&self, streams: impl IntoIterator<Item = (&'s str, Duration)>) -> Vec<(&'s str, u64)> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.due_at(streams, now)
    }

    fn due_at<'s>(&self, streams: impl IntoIterator<Item = (&'s str, Duration)>, now: Duration) -> Vec<(&'s str, u64)> {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        let mut due = Vec::new();
        for (stream, retention) in streams {
            let min_id = u64::try_from(now.saturating_sub(retention).as_millis()).unwrap_or(u64::MAX);
            let step = u64::try_from(AGE_STEP.min(retention / 100).as_millis()).unwrap_or(u64::MAX);
            let moved_on = match sent.get_mut(stream) {
                Some(last) if min_id < last.saturating_add(step) => false,
                Some(last) => {
                    *last = min_id;
                    true
                }
                None => {
                    sent.insert(stream.to_owned(), min_id);
                    true
                }
            };
            if moved_on {
                due.push((stream, min_id));
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_age_bound_is_sent_once_it_moved_on_by_the_step() {
        let trims = AgeTrims::default();
        let day = Duration::from_secs(24 * 60 * 60);
        let at = |ms| Duration::from_millis(ms) + day;
        let streams = [("a", day), ("b", Duration::from_millis(50))];
        assert_eq!(trims.due_at(streams, at(1_000)), [("a", 1_000), ("b", 86_400_950)]);
        // A day's retention waits a second; under 100 ms, no wait at all.
        assert_eq!(trims.due_at(streams, at(1_999)), [("b", 86_401_949)]);
        assert_eq!(trims.due_at([streams[0]], at(2_000)), [("a", 2_000)]);
        // A shorter retention moves the bound on at once.
        let shorter = [("a", day - Duration::from_secs(60))];
        assert_eq!(trims.due_at(shorter, at(2_000)), [("a", 62_000)]);
    }
}
