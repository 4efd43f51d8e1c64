//! A reader: the task that takes entries of *one* stream from Redis for a
//! consumer. It first works off the pending entries it must finish (its
//! own, held before a restart; or, for a partition it was just given,
//! everyone's, in stream order), then reads new ones with `XREADGROUP …
//! BLOCK` on a connection of its own, so that no other command ever waits
//! behind a blocking read. One stream per read: `COUNT` holds for the
//! whole reply (it applies per stream), and no read spans two slots of a
//! Redis Cluster.
//!
//! A reader told to stop (its partition goes to another instance, or the
//! consumer shuts down) stops at its next safe point: it starts no more
//! calls, and waits up to [`STOP_GRACE`] for the replies of the reads it
//! has in flight (what they took stays pending, for the stream's next
//! reader). Replies that do not come in time (on an idle stream a read
//! waits its block time in Redis) it does not wait for: it closes its
//! connection and waits [`CLOSE_MARGIN`], until Redis has surely dropped
//! those reads. Then it reports the stream *quiet*: no read of its can take
//! entries anymore. A busy stream is quiet within a round trip, an idle one
//! [`STOP_GRACE`] + [`CLOSE_MARGIN`] after the stop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::RedisError;
use tokio::sync::{mpsc, oneshot};

use super::handover::CLOSE_MARGIN;
use super::pending::{self, Pass, Whose};
use super::progress::ConsumerProgress;
use super::window::Window;
use super::{Delivery, groups};
use crate::config::StartPosition;
use crate::connection::{Connection, Outage, ReadConnection, bounded, has_code};

/// New-entry reads kept in flight at once on the reader's connection:
/// Redis prepares one batch while the client decodes and hands on the
/// other; replies come back in order, so entries stay in stream order.
pub(super) const READS_IN_FLIGHT: usize = 2;

/// How long a stopping reader waits for the replies of its reads in flight
/// before it closes its connection instead: a busy stream's come within a
/// round trip.
const STOP_GRACE: Duration = Duration::from_millis(200);

/// A stopped reader's report: its stream is quiet, and which task it was
/// (a report that comes after the stream's handover ended names a reader
/// that is no longer waited for).
pub(super) type Quiet = (Arc<str>, tokio::task::Id);

/// One stream's reader: its settings and state.
pub(super) struct Reader {
    /// Its own connection, for blocking reads only.
    pub reads: ReadConnection,
    /// For the short calls (pending entries, groups).
    pub calls: Connection,
    pub stream: Arc<str>,
    pub group: String,
    pub consumer: String,
    /// Whose pending entries to finish before reading new ones.
    pub first: Whose,
    /// For a partition (which no reclaimer sweeps): how long an entry
    /// pending on this consumer may sit idle, not held, before the reader
    /// reads it again (every third of it, it looks for such entries).
    pub sweep_idle: Option<Duration>,
    pub batch: usize,
    pub block: Duration,
    /// Bound on every non-blocking call.
    pub limit: Duration,
    pub window: Window,
    pub out: mpsc::UnboundedSender<Vec<Delivery>>,
    /// Where a stopped reader reports its stream quiet.
    pub quiet: mpsc::UnboundedSender<Quiet>,
    pub progress: ConsumerProgress,
    /// When the reader's connection (or its predecessor's) last closed,
    /// reads in flight or not: Redis may run those until [`CLOSE_MARGIN`]
    /// after.
    pub closed: Option<Instant>,
}

/// Tells a reader to stop at its next safe point: given, or its sender
/// dropped.
pub(super) struct Stop {
    signal: oneshot::Receiver<()>,
    given: bool,
}

impl Stop {
    /// A stop, and what gives it.
    pub(super) fn new() -> (oneshot::Sender<()>, Stop) {
        let (give, signal) = oneshot::channel();
        (give, Stop { signal, given: false })
    }

    /// Whether the stop was given, without waiting.
    fn given(&mut self) -> bool {
        if !self.given {
            self.given = !matches!(self.signal.try_recv(), Err(oneshot::error::TryRecvError::Empty));
        }
        self.given
    }

    /// Waits until the stop is given (at once if it was). Cancel-safe.
    async fn wait(&mut self) {
        if !self.given {
            let _ = (&mut self.signal).await;
            self.given = true;
        }
    }
}

/// Whether `reply` came, and was no error, by `grace`.
async fn answered_by<T>(grace: Instant, reply: impl Future<Output = Result<T, RedisError>>) -> bool {
    matches!(tokio::time::timeout_at(grace.into(), reply).await, Ok(Ok(_)))
}

impl Reader {
    /// Reads until `stop` (then stops as the module says) or until its task
    /// is aborted.
    pub(super) async fn run(mut self, mut stop: Stop) {
        let mut outage = Outage::new("reading entries");
        if self.work_off(Pass::Take(self.first), &mut outage, &mut stop).await {
            return self.stop(0).await;
        }
        let mut in_flight = 0;
        let mut next_sweep = self.sweep_idle.map(|idle| Instant::now() + idle / 3);
        loop {
            if let (Some(due), Some(idle)) = (next_sweep, self.sweep_idle)
                && Instant::now() >= due
            {
                if self.work_off(Pass::Reread(Some(idle)), &mut outage, &mut stop).await {
                    return self.stop(in_flight).await;
                }
                next_sweep = Some(Instant::now() + idle / 3);
            }
            let mut sent = Ok(());
            while in_flight < READS_IN_FLIGHT && sent.is_ok() {
                let wanted = if in_flight == 0 {
                    tokio::select! {
                        biased;
                        () = stop.wait() => return self.stop(0).await,
                        room = self.window.room(self.batch) => room,
                    }
                } else {
                    self.window.try_room(self.batch)
                };
                if wanted == 0 {
                    break;
                }
                if stop.given() {
                    return self.stop(in_flight).await;
                }
                sent = self.reads.send(&self.read_new(wanted)).await;
                in_flight += usize::from(sent.is_ok());
            }
            let read = match sent {
                Ok(()) if in_flight > 0 => {
                    let mut reply = Box::pin(bounded(self.reply_limit(in_flight), self.reads.reply()));
                    tokio::select! {
                        biased;
                        read = &mut reply => read,
                        () = stop.wait() => {
                            // The reply under way gets the grace, as the others do.
                            let grace = Instant::now() + STOP_GRACE;
                            let in_flight = if answered_by(grace, reply).await {
                                in_flight - 1
                            } else {
                                self.close_reads();
                                0
                            };
                            return self.finish(in_flight, grace).await;
                        }
                    }
                }
                Ok(()) => continue,
                Err(error) => Err(error),
            };
            match read {
                Ok(streams) => {
                    in_flight -= 1;
                    outage.recovered();
                    self.progress.read_done();
                    if stop.given() {
                        return self.stop(in_flight).await;
                    }
                    let deliveries = streams
                        .into_iter()
                        .filter(|(name, _)| **name == *self.stream)
                        .flat_map(|(_, entries)| entries)
                        .map(|entry| Delivery::new(&self.stream, entry, 1))
                        .collect();
                    self.send(deliveries);
                }
                Err(error) => {
                    // A read that failed may still have taken entries: Redis
                    // ran it, and its reply was lost. Those are pending on
                    // this consumer and nobody would deliver them again: read
                    // them again before anything newer (dropping the other
                    // read in flight, whose reply would come after them). A
                    // redirected read (the stream's slot moved to another
                    // master) took nothing, and its connection knows where
                    // to go: no need to wait. The connection is closed first,
                    // so that no read still blocked on it takes entries after
                    // those are read again.
                    self.close_reads();
                    in_flight = 0;
                    if error.redirect_node().is_none() {
                        tokio::select! {
                            biased;
                            () = stop.wait() => return self.stop(0).await,
                            () = self.pause(&error, &mut outage) => {}
                        }
                    }
                    if self.work_off(Pass::Reread(None), &mut outage, &mut stop).await {
                        return self.stop(0).await;
                    }
                }
            }
        }
    }

    /// How long the reply of the oldest of `in_flight` reads may take: each
    /// may wait the block time in Redis, one after the other.
    fn reply_limit(&self, in_flight: usize) -> Duration {
        self.block * u32::try_from(in_flight).unwrap_or(u32::MAX) + self.limit
    }

    /// Closes the read connection, reads in flight or not.
    fn close_reads(&mut self) {
        self.reads.close();
        self.closed = Some(Instant::now());
    }

    /// Stops, at a safe point with `in_flight` reads sent and not answered.
    async fn stop(self, in_flight: usize) {
        self.finish(in_flight, Instant::now() + STOP_GRACE).await;
    }

    /// Waits until `grace` for the replies of the `in_flight` reads (what
    /// they took stays pending on this consumer, for the stream's next
    /// reader), else closes the connection; waits until every read on a
    /// closed connection is surely over; then reports the stream quiet.
    async fn finish(mut self, mut in_flight: usize, grace: Instant) {
        while in_flight > 0 {
            if !answered_by(grace, self.reads.reply()).await {
                self.close_reads();
                break;
            }
            in_flight -= 1;
        }
        if let Some(closed) = self.closed {
            tokio::time::sleep_until((closed + CLOSE_MARGIN).into()).await;
        }
        if let Some(task) = tokio::task::try_id() {
            let _ = self.quiet.send((self.stream.clone(), task));
        }
    }

    /// Counts entries into the window and hands them to the consumer
    /// (which, gone, means stopping).
    fn send(&self, deliveries: Vec<Delivery>) {
        if !deliveries.is_empty() {
            self.window.take(deliveries.len());
            let _ = self.out.send(deliveries);
        }
    }

    /// After a failed call: re-creates the group if Redis lost it (from the
    /// start of the stream, so nothing still in it is skipped), otherwise
    /// waits a growing delay (logging the outage once).
    async fn pause(&mut self, error: &RedisError, outage: &mut Outage) {
        if has_code(error, "NOGROUP") {
            tracing::warn!(%error, group = %self.group, stream = %self.stream, "consumer group is gone (Redis lost its data?): re-creating it from the start of the stream");
            let streams = [self.stream.clone()];
            let created = groups::create(
                &mut self.calls,
                &streams,
                &self.group,
                StartPosition::Beginning,
                self.limit,
            )
            .await;
            if let Err(error) = created {
                tokio::time::sleep(outage.failed(&error)).await;
            }
        } else {
            tokio::time::sleep(outage.failed(error)).await;
        }
    }

    /// Works off pending entries of the stream as `pass` says, in stream
    /// order: those this reader must finish first (`Take`), or this
    /// consumer's own again (`Reread`) after a read whose reply may have
    /// been lost: the consumer drops those it holds already, and acks again
    /// those it settled a moment ago (their ack was on the way). A read may
    /// also be lost without an error here (one the client gave up on while
    /// the server had yet to run it): the sweep of idle ones finds those.
    /// Answers whether `stop` came first (checked between calls).
    async fn work_off(&mut self, pass: Pass, outage: &mut Outage, stop: &mut Stop) -> bool {
        let mut after = "-".to_owned();
        loop {
            let wanted = tokio::select! {
                biased;
                () = stop.wait() => return true,
                room = self.window.room(self.batch) => room,
            };
            let page = pending::page(
                &mut self.calls,
                self.limit,
                &self.stream,
                &self.group,
                &self.consumer,
                pass,
                &after,
                wanted,
            )
            .await;
            match page {
                Ok((deliveries, last)) => {
                    let done = deliveries.is_empty();
                    if let Pass::Take(whose) = pass {
                        outage.recovered();
                        self.progress.read_done();
                        if !done {
                            let whose = match whose {
                                Whose::Own => "entries held before a restart",
                                Whose::Everyone => "entries left by the partition's previous owner",
                            };
                            tracing::info!(stream = %self.stream, entries = deliveries.len(), "resuming {whose}");
                        }
                    }
                    if stop.given() {
                        return true;
                    }
                    self.send(deliveries);
                    match last {
                        Some(last) if !done => after = format!("({last}"),
                        _ => return false,
                    }
                }
                Err(error) => tokio::select! {
                    biased;
                    () = stop.wait() => return true,
                    () = self.pause(&error, outage) => {}
                },
            }
        }
    }

    /// A read of up to `count` new entries, waiting up to the block time for some.
    fn read_new(&self, count: usize) -> redis::Cmd {
        let mut read = redis::cmd("XREADGROUP");
        read.arg("GROUP")
            .arg(&self.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(u64::try_from(self.block.as_millis()).unwrap_or(u64::MAX))
            .arg("STREAMS")
            .arg(&*self.stream)
            .arg(">");
        read
    }
}
