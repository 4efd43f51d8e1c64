//! [`ConsumerProgress`]: a cheap, shared view of whether a consumer is
//! making progress, for health checks.
//!
//! The consumer updates it with a few atomic operations per entry; a
//! heartbeat (see [`health`](crate::health)) reads it. A consumer that holds
//! entries but has settled none of them for a while is stuck: a hung
//! handler, a dependency that never answers, a retry that never succeeds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where a consumer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsumerState {
    /// [`Consumer::run`](super::Consumer::run) has not been called yet.
    NotStarted,
    /// It is running.
    Running,
    /// It returned (shut down, or failed).
    Stopped,
}

/// A shared handle on one consumer's progress; clones see the same consumer.
///
/// Get it from [`Consumer::progress`](super::Consumer::progress) before
/// running the consumer, and hand it to a heartbeat.
#[derive(Debug, Clone)]
pub struct ConsumerProgress {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    group: String,
    consumer: String,
    /// When this handle was made; the times below count milliseconds from it.
    base: Instant,
    state: AtomicU8,
    held: AtomicUsize,
    settled: AtomicU64,
    /// When the consumer last went from holding nothing to holding entries.
    busy_since: AtomicU64,
    /// When the consumer last settled an entry (0: never).
    last_settled: AtomicU64,
    /// When a read of the consumer last came back from Redis (0: never):
    /// with entries, or empty after its block time.
    last_read: AtomicU64,
    /// Readers waiting for room in the window (it is full: not a reading fault).
    waiting_for_room: AtomicUsize,
    /// How long a running consumer may go without a read coming back, in
    /// milliseconds (set when it starts: block time plus call timeout, twice).
    read_patience: AtomicU64,
}

const NOT_STARTED: u8 = 0;
const RUNNING: u8 = 1;
const STOPPED: u8 = 2;

impl ConsumerProgress {
    /// A handle for consumer `consumer` of group `group`, not started.
    pub fn new(group: impl Into<String>, consumer: impl Into<String>) -> Self {
        ConsumerProgress {
            inner: Arc::new(Inner {
                group: group.into(),
                consumer: consumer.into(),
                base: Instant::now(),
                state: AtomicU8::new(NOT_STARTED),
                held: AtomicUsize::new(0),
                settled: AtomicU64::new(0),
                busy_since: AtomicU64::new(0),
                last_settled: AtomicU64::new(0),
                last_read: AtomicU64::new(0),
                waiting_for_room: AtomicUsize::new(0),
                read_patience: AtomicU64::new(u64::MAX),
            }),
        }
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.inner.group
    }

    /// The consumer's name in its group.
    pub fn consumer(&self) -> &str {
        &self.inner.consumer
    }

    /// Whether the consumer runs.
    pub fn state(&self) -> ConsumerState {
        match self.inner.state.load(Ordering::Relaxed) {
            NOT_STARTED => ConsumerState::NotStarted,
            RUNNING => ConsumerState::Running,
            _ => ConsumerState::Stopped,
        }
    }

    /// Entries held now: read or claimed, not yet settled (running, queued
    /// behind their subject, or waiting for a retry).
    pub fn held(&self) -> usize {
        self.inner.held.load(Ordering::Relaxed)
    }

    /// Entries settled so far (acknowledged or dead-lettered).
    pub fn settled(&self) -> u64 {
        self.inner.settled.load(Ordering::Relaxed)
    }

    /// How long ago the consumer last settled an entry; `None` if never.
    pub fn since_last_settled(&self) -> Option<Duration> {
        match self.inner.last_settled.load(Ordering::Relaxed) {
            0 => None,
            at => Some(self.elapsed().saturating_sub(Duration::from_millis(at))),
        }
    }

    /// How long the consumer has held entries without settling any: the
    /// time since it last settled one or, if later, since it began holding
    /// entries. `None` while it holds nothing.
    pub fn stalled_for(&self) -> Option<Duration> {
        if self.held() == 0 {
            return None;
        }
        let inner = &self.inner;
        let since = inner
            .busy_since
            .load(Ordering::Relaxed)
            .max(inner.last_settled.load(Ordering::Relaxed));
        Some(self.elapsed().saturating_sub(Duration::from_millis(since)))
    }

    /// How long the consumer has gone without a read coming back from
    /// Redis, when that is longer than a healthy consumer ever waits (its
    /// block time plus its call timeout, twice) and it is not merely waiting
    /// for room (a full window is reported by [`stalled_for`](Self::stalled_for)).
    /// `Some` means it is not reading: Redis is unreachable, or a reader
    /// failed. `None` while it reads, and when it is not running.
    pub fn not_reading_for(&self) -> Option<Duration> {
        let inner = &self.inner;
        if self.state() != ConsumerState::Running || inner.waiting_for_room.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let patience = Duration::from_millis(inner.read_patience.load(Ordering::Relaxed));
        let since = Duration::from_millis(inner.last_read.load(Ordering::Relaxed));
        let silent = self.elapsed().saturating_sub(since);
        (silent > patience).then_some(silent)
    }

    fn elapsed(&self) -> Duration {
        self.inner.base.elapsed()
    }

    /// Now, in milliseconds since `base` (at least 1, so 0 means "never").
    fn now(&self) -> u64 {
        u64::try_from(self.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }

    /// Marks the consumer running until the returned guard is dropped; a
    /// read must come back at least every `read_patience` while it runs.
    pub(crate) fn running(&self, read_patience: Duration) -> RunningGuard {
        let patience = u64::try_from(read_patience.as_millis()).unwrap_or(u64::MAX);
        self.inner.read_patience.store(patience, Ordering::Relaxed);
        self.read_done();
        self.inner.state.store(RUNNING, Ordering::Relaxed);
        RunningGuard(self.clone())
    }

    /// The consumer took `count` more entries.
    pub(crate) fn hold(&self, count: usize) {
        if count > 0 && self.inner.held.fetch_add(count, Ordering::Relaxed) == 0 {
            self.inner.busy_since.store(self.now(), Ordering::Relaxed);
        }
    }

    /// The consumer let go of one entry (settled or not).
    pub(crate) fn release(&self) {
        let _ = self
            .inner
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| held.checked_sub(1));
    }

    /// A read came back from Redis (or the consumer learnt it has nothing
    /// to read: it owns no partition).
    pub(crate) fn read_done(&self) {
        self.inner.last_read.store(self.now(), Ordering::Relaxed);
    }

    /// Marks a reader as waiting for room until the guard is dropped.
    pub(crate) fn waiting_for_room(&self) -> WaitingGuard {
        self.inner.waiting_for_room.fetch_add(1, Ordering::Relaxed);
        WaitingGuard(self.clone())
    }

    /// The consumer settled one entry.
    pub(crate) fn settle(&self) {
        self.inner.settled.fetch_add(1, Ordering::Relaxed);
        self.inner.last_settled.store(self.now(), Ordering::Relaxed);
    }
}

/// Counts a reader as waiting for room while it lives.
pub(crate) struct WaitingGuard(ConsumerProgress);

impl Drop for WaitingGuard {
    fn drop(&mut self) {
        self.0.inner.waiting_for_room.fetch_sub(1, Ordering::Relaxed);
        // Room was found (or the reader stopped): time to read starts now.
        self.0.read_done();
    }
}

/// Marks its consumer stopped, and holding nothing, when dropped.
pub(crate) struct RunningGuard(ConsumerProgress);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.inner.held.store(0, Ordering::Relaxed);
        self.0.inner.state.store(STOPPED, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumer_holding_entries_without_settling_is_stalled() {
        let progress = ConsumerProgress::new("audit", "a");
        assert_eq!(progress.state(), ConsumerState::NotStarted);
        assert_eq!(progress.stalled_for(), None);
        let running = progress.running(Duration::from_secs(60));
        assert_eq!(progress.state(), ConsumerState::Running);
        progress.hold(2);
        std::thread::sleep(Duration::from_millis(20));
        let stalled = progress.stalled_for().expect("holds entries");
        assert!(stalled >= Duration::from_millis(15), "{stalled:?}");
        progress.settle();
        progress.release();
        assert!(progress.stalled_for().expect("still holds one") < stalled);
        assert_eq!((progress.held(), progress.settled()), (1, 1));
        assert!(progress.since_last_settled().is_some());
        progress.release();
        progress.release();
        assert_eq!(progress.held(), 0);
        assert_eq!(progress.stalled_for(), None);
        progress.hold(1);
        drop(running);
        assert_eq!((progress.state(), progress.held()), (ConsumerState::Stopped, 0));
    }

    #[test]
    fn a_running_consumer_whose_reads_do_not_come_back_is_not_reading() {
        let progress = ConsumerProgress::new("audit", "a");
        let running = progress.running(Duration::from_millis(10));
        assert_eq!(progress.not_reading_for(), None);
        std::thread::sleep(Duration::from_millis(30));
        assert!(progress.not_reading_for().expect("silent") >= Duration::from_millis(20));
        progress.read_done();
        assert_eq!(progress.not_reading_for(), None);
        std::thread::sleep(Duration::from_millis(30));
        let waiting = progress.waiting_for_room();
        assert_eq!(progress.not_reading_for(), None, "a full window is no reading fault");
        drop(waiting);
        assert_eq!(progress.not_reading_for(), None);
        drop(running);
        assert_eq!(progress.not_reading_for(), None);
    }
}
