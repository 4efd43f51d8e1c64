//! Handovers under way: the partitions an instance has stopped reading
//! (revoked, or left at shutdown) and must not release before no read of
//! theirs can take entries anymore. Whatever such a read took would be
//! pending on this instance after the next owner finished the partition's
//! pending entries, and would break order per subject.
//!
//! A stopped reader reports its partition *quiet* once no read of its can
//! take entries (see the reader). One that has not within the patience
//! given (its task panicked, or is stuck connecting) is aborted, which
//! closes its connection, and the partition is quiet [`CLOSE_MARGIN`]
//! later.

use std::sync::Arc;
use std::time::{Duration, Instant};

use foldhash::HashMap;
use tokio::task::AbortHandle;

/// How long after a connection with reads in flight was closed Redis has
/// surely seen the close and dropped those reads (it drops a closed
/// client's blocked reads), even when the close had to be sent again over
/// a lossy network. Also how long after a stopped reader was aborted, or a
/// partition left with no reader running, it is quiet.
pub(super) const CLOSE_MARGIN: Duration = Duration::from_secs(1);

/// The partitions being handed over.
#[derive(Debug)]
pub(super) struct Handovers {
    partitions: HashMap<Arc<str>, Quieting>,
    /// How long a stopped reader may take to report its partition quiet.
    patience: Duration,
}

/// A partition whose reader was stopped, until it is quiet.
#[derive(Debug)]
struct Quieting {
    /// The reader's task, until it reports the partition quiet or is
    /// aborted.
    reader: Option<AbortHandle>,
    /// When the partition is quiet (once `reader` is none), or when the
    /// reader is overdue.
    at: Instant,
}

impl Handovers {
    /// No handover under way; a stopped reader gets `patience` to report
    /// its partition quiet.
    pub(super) fn new(patience: Duration) -> Self {
        Handovers {
            partitions: HashMap::default(),
            patience,
        }
    }

    /// Starts handing `stream` over: its `reader` was told to stop (`None`:
    /// no reader ran).
    pub(super) fn start(&mut self, stream: Arc<str>, reader: Option<AbortHandle>, now: Instant) {
        let at = now + if reader.is_some() { self.patience } else { CLOSE_MARGIN };
        self.partitions.insert(stream, Quieting { reader, at });
    }

    /// `stream`'s stopped reader, task `reader`, reported it quiet (a
    /// report of a reader no longer waited for changes nothing).
    pub(super) fn quiet(&mut self, stream: &Arc<str>, reader: tokio::task::Id, now: Instant) {
        if let Some(quieting) = self.partitions.get_mut(stream)
            && quieting.reader.as_ref().is_some_and(|handle| handle.id() == reader)
        {
            quieting.reader = None;
            quieting.at = now;
        }
    }

    /// `stream`'s handover is given up (its lease was lost): answers its
    /// reader, if one still runs, to abort.
    pub(super) fn cancel(&mut self, stream: &Arc<str>) -> Option<AbortHandle> {
        self.partitions.remove(stream)?.reader
    }

    /// Whether `stream` is being handed over.
    pub(super) fn contains(&self, stream: &Arc<str>) -> bool {
        self.partitions.contains_key(stream)
    }

    /// Whether no handover is under way.
    pub(super) fn is_empty(&self) -> bool {
        self.partitions.is_empty()
    }

    /// Aborts the stopped readers that are overdue; answers the partitions
    /// that are quiet.
    pub(super) fn quiet_ones(&mut self, now: Instant) -> Vec<Arc<str>> {
        for (stream, quieting) in &mut self.partitions {
            if quieting.at <= now
                && let Some(reader) = quieting.reader.take()
            {
                tracing::debug!(%stream, "a stopped reader did not report its partition quiet in time: aborting it");
                reader.abort();
                quieting.at = now + CLOSE_MARGIN;
            }
        }
        self.partitions
            .iter()
            .filter(|(_, quieting)| quieting.reader.is_none() && quieting.at <= now)
            .map(|(stream, _)| stream.clone())
            .collect()
    }

    /// `stream` is handed over (or given up).
    pub(super) fn remove(&mut self, stream: &Arc<str>) {
        self.partitions.remove(stream);
    }

    /// When a partition is next due to be quiet or its reader overdue, if
    /// one waits. A quiet partition waits for its handlers and acks
    /// instead, whose ends wake the consumer. Reads the clock only while a
    /// handover is under way (the consumer asks at every turn of its loop).
    pub(super) fn next_due(&self) -> Option<Instant> {
        if self.partitions.is_empty() {
            return None;
        }
        let now = Instant::now();
        self.partitions
            .values()
            .filter(|quieting| quieting.reader.is_some() || quieting.at > now)
            .map(|quieting| quieting.at)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task that runs until aborted, and its handle.
    fn reader() -> (tokio::task::JoinHandle<()>, AbortHandle) {
        let task = tokio::spawn(std::future::pending::<()>());
        let handle = task.abort_handle();
        (task, handle)
    }

    #[tokio::test]
    async fn a_partition_is_quiet_when_its_reader_says_so() {
        let now = Instant::now();
        let mut handovers = Handovers::new(Duration::from_secs(7));
        let (task, handle) = reader();
        let (stale, _) = reader();
        handovers.start(Arc::from("p0"), Some(handle), now);
        assert!(handovers.quiet_ones(now).is_empty());
        assert_eq!(handovers.next_due(), Some(now + Duration::from_secs(7)));
        handovers.quiet(&Arc::from("p0"), stale.id(), now);
        assert!(
            handovers.quiet_ones(now).is_empty(),
            "a report of another reader is not this one's"
        );
        stale.abort();
        handovers.quiet(&Arc::from("p0"), task.id(), now);
        assert_eq!(handovers.quiet_ones(now), [Arc::from("p0")]);
        assert_eq!(
            handovers.next_due(),
            None,
            "a quiet partition waits for its handlers, not a time"
        );
        assert!(!task.is_finished(), "a reader that reported quiet is not aborted");
        handovers.remove(&Arc::from("p0"));
        assert!(handovers.is_empty());
        task.abort();
    }

    #[tokio::test]
    async fn an_overdue_reader_is_aborted_and_its_partition_quiet_a_margin_later() {
        let start = Instant::now();
        let patience = Duration::from_secs(7);
        let mut handovers = Handovers::new(patience);
        let (task, handle) = reader();
        handovers.start(Arc::from("p0"), Some(handle), start);
        let overdue = start + patience;
        assert!(
            handovers.quiet_ones(overdue).is_empty(),
            "not quiet the moment it is aborted"
        );
        assert!(
            task.await.is_err_and(|error| error.is_cancelled()),
            "the overdue reader is aborted"
        );
        assert_eq!(handovers.next_due(), Some(overdue + CLOSE_MARGIN));
        assert!(handovers.quiet_ones(overdue + CLOSE_MARGIN / 2).is_empty());
        assert_eq!(handovers.quiet_ones(overdue + CLOSE_MARGIN), [Arc::from("p0")]);
    }

    #[tokio::test]
    async fn a_partition_left_with_no_reader_is_quiet_a_margin_later() {
        let now = Instant::now();
        let mut handovers = Handovers::new(Duration::from_secs(7));
        handovers.start(Arc::from("p1"), None, now);
        assert!(handovers.contains(&Arc::from("p1")));
        assert!(handovers.quiet_ones(now).is_empty());
        assert_eq!(handovers.quiet_ones(now + CLOSE_MARGIN), [Arc::from("p1")]);
        // A late report changes nothing.
        let (late, _) = reader();
        handovers.quiet(&Arc::from("p1"), late.id(), now + CLOSE_MARGIN);
        assert_eq!(handovers.quiet_ones(now + CLOSE_MARGIN), [Arc::from("p1")]);
        late.abort();
    }

    #[tokio::test]
    async fn a_lost_partition_is_no_longer_handed_over_and_its_reader_is_answered() {
        let now = Instant::now();
        let mut handovers = Handovers::new(Duration::from_secs(7));
        let (task, handle) = reader();
        handovers.start(Arc::from("p2"), Some(handle), now);
        let reader = handovers.cancel(&Arc::from("p2")).expect("the stopping reader");
        assert_eq!(reader.id(), task.id());
        assert!(!handovers.contains(&Arc::from("p2")));
        assert!(handovers.is_empty());
        assert_eq!(handovers.cancel(&Arc::from("p2")).map(|r| r.id()), None);
        reader.abort();
    }
}
