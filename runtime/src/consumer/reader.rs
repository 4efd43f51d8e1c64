//! A reader: the task that takes entries of *one* stream from Redis for a
//! consumer. It first works off the pending entries it must finish (its
//! own, held before a restart; or, for a partition it was just given,
//! everyone's, in stream order), then reads new ones with `XREADGROUP …
//! BLOCK` on a connection of its own, so that no other command ever waits
//! behind a blocking read. One stream per read: `COUNT` holds for the
//! whole reply (it applies per stream), and no read spans two slots of a
//! Redis Cluster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::RedisError;
use tokio::sync::mpsc;

use super::pending::{self, Pass, Whose};
use super::progress::ConsumerProgress;
use super::window::Window;
use super::{Delivery, groups};
use crate::config::StartPosition;
use crate::connection::{Connection, Outage, ReadConnection, bounded, has_code};

/// New-entry reads kept in flight at once on the reader's connection:
/// Redis prepares one batch while the client decodes and hands on the
/// other; replies come back in order, so entries stay in stream order.
const READS_IN_FLIGHT: usize = 2;

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
    pub progress: ConsumerProgress,
}

impl Reader {
    /// Reads until its task is aborted (when the consumer stops, or gives
    /// the stream up).
    pub(super) async fn run(mut self) {
        let mut outage = Outage::new("reading entries");
        self.work_off(Pass::Take(self.first), &mut outage).await;
        let mut in_flight = 0;
        let mut next_sweep = self.sweep_idle.map(|idle| Instant::now() + idle / 3);
        loop {
            if let (Some(due), Some(idle)) = (next_sweep, self.sweep_idle)
                && Instant::now() >= due
            {
                self.work_off(Pass::Reread(Some(idle)), &mut outage).await;
                next_sweep = Some(Instant::now() + idle / 3);
            }
            let mut sent = Ok(());
            while in_flight < READS_IN_FLIGHT && sent.is_ok() {
                let wanted = if in_flight == 0 {
                    self.window.room(self.batch).await
                } else {
                    self.window.try_room(self.batch)
                };
                if wanted == 0 {
                    break;
                }
                sent = self.reads.send(&self.read_new(wanted)).await;
                in_flight += usize::from(sent.is_ok());
            }
            let read = match sent {
                Ok(()) if in_flight > 0 => {
                    // A read may wait behind the other one in flight.
                    let limit = self.block * READS_IN_FLIGHT as u32 + self.limit;
                    bounded(limit, self.reads.reply()).await
                }
                Ok(()) => continue,
                Err(error) => Err(error),
            };
            match read {
                Ok(streams) => {
                    in_flight -= 1;
                    outage.recovered();
                    self.progress.read_done();
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
                    self.reads.close();
                    in_flight = 0;
                    if error.redirect_node().is_none() {
                        self.pause(&error, &mut outage).await;
                    }
                    self.work_off(Pass::Reread(None), &mut outage).await;
                }
            }
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
    async fn work_off(&mut self, pass: Pass, outage: &mut Outage) {
        let mut after = "-".to_owned();
        loop {
            let wanted = self.window.room(self.batch).await;
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
                    self.send(deliveries);
                    match last {
                        Some(last) if !done => after = format!("({last}"),
                        _ => return,
                    }
                }
                Err(error) => self.pause(&error, outage).await,
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
