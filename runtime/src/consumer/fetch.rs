//! The fetcher: the one task that takes entries from Redis for a consumer:
//! its own pending entries at start, new entries (`XREADGROUP … BLOCK`),
//! and entries of stopped consumers (`XAUTOCLAIM`). It never holds more
//! than the consumer's free capacity, and it keeps the groups in place.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use redis::{RedisError, Value};
use tokio::sync::{Semaphore, mpsc};

use super::Delivery;
use crate::config::StartPosition;
use crate::connection::{Connection, Outage, bounded, has_code};
use crate::stream::{self, Entry};

/// Removes, atomically, the consumers of a group that are idle longer than
/// `ARGV[2]` ms and hold no pending entry (never `ARGV[3]`, the caller).
const REMOVE_DEPARTED: &str = r"
local removed = {}
for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local c = {}
  for i = 1, #info, 2 do c[info[i]] = info[i + 1] end
  if c['name'] ~= ARGV[3] and c['pending'] == 0 and c['idle'] >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], c['name'])
    table.insert(removed, c['name'])
  end
end
return removed
";

/// New-entry reads kept in flight at once.
const READS_IN_FLIGHT: usize = 2;

/// Creates `group` on every stream that lacks it, from `start` (`MKSTREAM`).
pub(super) async fn create_groups(
    connection: &mut Connection,
    streams: &[Arc<str>],
    group: &str,
    start: StartPosition,
    limit: Duration,
) -> Result<(), RedisError> {
    for stream in streams {
        let created: Result<(), RedisError> = bounded(
            limit,
            redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&**stream)
                .arg(group)
                .arg(start.as_id())
                .arg("MKSTREAM")
                .query_async(connection),
        )
        .await;
        match created {
            Ok(()) => tracing::info!(%stream, group, start = %start, "created consumer group"),
            Err(error) if has_code(&error, "BUSYGROUP") => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// The fetcher's settings and state.
pub(super) struct Fetcher {
    pub connection: Connection,
    pub streams: Vec<Arc<str>>,
    pub group: String,
    pub consumer: String,
    pub batch: usize,
    pub block: Duration,
    pub claim_idle: Duration,
    pub consumer_expiry: Duration,
    /// Bound on every non-blocking call.
    pub limit: Duration,
    pub capacity: Arc<Semaphore>,
    pub out: mpsc::UnboundedSender<Vec<Delivery>>,
    pub outage: Outage,
}

impl Fetcher {
    /// Fetches until the consumer drops it (its task is aborted at shutdown).
    pub(super) async fn run(mut self) {
        self.own_pending().await;
        let reclaim_every = (self.claim_idle / 2).max(Duration::from_millis(10));
        let cleanup_every = (self.consumer_expiry / 4).clamp(Duration::from_secs(1), Duration::from_secs(600));
        let mut next_reclaim = Instant::now();
        let mut next_cleanup = Instant::now() + cleanup_every;
        let mut reads = FuturesOrdered::new();
        loop {
            if Instant::now() >= next_reclaim {
                self.reclaim().await;
                next_reclaim = Instant::now() + reclaim_every;
            }
            if Instant::now() >= next_cleanup {
                self.remove_departed().await;
                next_cleanup = Instant::now() + cleanup_every;
            }
            // Keep a second read queued behind the first, on the same
            // connection: Redis prepares one batch while the client parses
            // the other. Replies come back in order, so entries stay in
            // stream order.
            while reads.len() < READS_IN_FLIGHT {
                let wanted = if reads.is_empty() {
                    self.acquire(self.batch).await
                } else {
                    self.try_acquire(self.batch)
                };
                if wanted == 0 {
                    break;
                }
                reads.push_back(self.read_new(wanted));
            }
            let Some((wanted, read)) = reads.next().await else {
                continue;
            };
            match read {
                Ok(deliveries) => {
                    self.outage.recovered();
                    self.release(wanted - deliveries.len());
                    self.send(deliveries);
                }
                Err(error) => {
                    self.release(wanted);
                    self.pause(&error).await;
                }
            }
        }
    }

    /// Hands entries to the consumer (which, gone, means shutting down).
    fn send(&self, deliveries: Vec<Delivery>) {
        if !deliveries.is_empty() {
            let _ = self.out.send(deliveries);
        }
    }

    /// Waits until at least one entry can be held, then takes up to `max`.
    async fn acquire(&self, max: usize) -> usize {
        match self.capacity.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return 0,
        }
        1 + self.try_acquire(max - 1)
    }

    /// Takes up to `max` free places without waiting.
    fn try_acquire(&self, max: usize) -> usize {
        let mut taken = 0;
        while taken < max {
            match self.capacity.try_acquire() {
                Ok(permit) => permit.forget(),
                Err(_) => break,
            }
            taken += 1;
        }
        taken
    }

    fn release(&self, places: usize) {
        if places > 0 {
            self.capacity.add_permits(places);
        }
    }

    /// After a failed call: re-creates the groups if Redis lost them,
    /// otherwise waits a growing delay (logging the outage once).
    async fn pause(&mut self, error: &RedisError) {
        if has_code(error, "NOGROUP") {
            tracing::warn!(%error, group = %self.group, "consumer group is gone (Redis lost its data?): re-creating it from the start of each stream");
            let created = create_groups(
                &mut self.connection,
                &self.streams,
                &self.group,
                StartPosition::Beginning,
                self.limit,
            )
            .await;
            if let Err(error) = created {
                tokio::time::sleep(self.outage.failed(&error)).await;
            }
        } else {
            tokio::time::sleep(self.outage.failed(error)).await;
        }
    }

    /// Works off the entries this consumer name already held, stream by stream.
    async fn own_pending(&mut self) {
        for stream in self.streams.clone() {
            let mut after = "-".to_owned();
            loop {
                let wanted = self.acquire(self.batch).await;
                match self.claim_own(&stream, &after, wanted).await {
                    Ok((deliveries, last)) => {
                        self.outage.recovered();
                        self.release(wanted - deliveries.len());
                        let done = deliveries.is_empty();
                        if !done {
                            tracing::info!(%stream, entries = deliveries.len(), "resuming entries held before a restart");
                        }
                        self.send(deliveries);
                        match last {
                            Some(last) if !done => after = format!("({last}"),
                            _ => break,
                        }
                    }
                    Err(error) => {
                        self.release(wanted);
                        self.pause(&error).await;
                    }
                }
            }
        }
    }

    /// Up to `count` of this consumer's pending entries of `stream` after
    /// `after`, claimed again (which counts a delivery); and the last id seen.
    async fn claim_own(
        &mut self,
        stream: &Arc<str>,
        after: &str,
        count: usize,
    ) -> Result<(Vec<Delivery>, Option<String>), RedisError> {
        let pending = stream::pending_list(
            bounded(
                self.limit,
                redis::cmd("XPENDING")
                    .arg(&**stream)
                    .arg(&self.group)
                    .arg(after)
                    .arg("+")
                    .arg(count)
                    .arg(&self.consumer)
                    .query_async(&mut self.connection),
            )
            .await?,
        )?;
        let Some((last, _)) = pending.last() else {
            return Ok((Vec::new(), None));
        };
        let last = last.clone();
        let mut claim = redis::cmd("XCLAIM");
        claim.arg(&**stream).arg(&self.group).arg(&self.consumer).arg(0);
        for (id, _) in &pending {
            claim.arg(id);
        }
        let claimed: Value = bounded(self.limit, claim.query_async(&mut self.connection)).await?;
        let mut entries: HashMap<String, Entry> = stream::entry_list(claimed)?
            .into_iter()
            .map(|entry| (entry.id.clone(), entry))
            .collect();
        let deliveries = pending
            .into_iter()
            .map(|(id, count)| match entries.remove(&id) {
                Some(entry) => delivery(stream, entry, count.saturating_add(1)),
                None => lost(stream, id, count),
            })
            .collect();
        Ok((deliveries, Some(last)))
    }

    /// Reads up to `count` new entries from every stream, waiting up to the
    /// block time for some; resolves to `count` and the entries.
    fn read_new(&self, count: usize) -> impl Future<Output = (usize, Result<Vec<Delivery>, RedisError>)> + use<> {
        let mut read = redis::cmd("XREADGROUP");
        read.arg("GROUP")
            .arg(&self.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(u64::try_from(self.block.as_millis()).unwrap_or(u64::MAX))
            .arg("STREAMS");
        for stream in &self.streams {
            read.arg(&**stream);
        }
        for _ in &self.streams {
            read.arg(">");
        }
        let mut connection = self.connection.clone();
        let streams = self.streams.clone();
        // A read may wait behind another blocking read on the connection.
        let limit = self.block * READS_IN_FLIGHT as u32 + self.limit;
        async move {
            let read = async {
                let reply: Value = bounded(limit, read.query_async(&mut connection)).await?;
                let mut deliveries = Vec::new();
                for (name, entries) in stream::read_reply(reply)? {
                    let Some(stream) = streams.iter().find(|s| ***s == *name) else {
                        continue;
                    };
                    deliveries.extend(entries.into_iter().map(|entry| delivery(stream, entry, 1)));
                }
                Ok(deliveries)
            };
            (count, read.await)
        }
    }

    /// Claims entries idle longer than the claim idle time, from any
    /// consumer, while there is room; records deleted ones as lost.
    async fn reclaim(&mut self) {
        for stream in self.streams.clone() {
            let mut cursor = "0-0".to_owned();
            loop {
                let room = self.try_acquire(self.batch);
                if room == 0 {
                    return;
                }
                match self.autoclaim(&stream, &cursor, room).await {
                    Ok((deliveries, lost, next)) => {
                        self.outage.recovered();
                        self.release(room - deliveries.len());
                        if !deliveries.is_empty() {
                            tracing::info!(%stream, entries = deliveries.len(), "claimed entries of a stopped consumer");
                            let category = stream.rsplit(':').next().unwrap_or_default();
                            crate::telemetry::reclaimed(category, &self.group, deliveries.len());
                        }
                        self.send(deliveries);
                        if !lost.is_empty() {
                            tracing::warn!(%stream, entries = lost.len(), "pending entries were trimmed from the stream before being handled; recording them as lost");
                            let places = lost.len();
                            if let Ok(permits) = self.capacity.acquire_many(places as u32).await {
                                permits.forget();
                            }
                            self.send(lost);
                        }
                        if next == "0-0" {
                            break;
                        }
                        cursor = next;
                    }
                    Err(error) => {
                        self.release(room);
                        tracing::debug!(%error, %stream, "could not claim idle entries");
                        return;
                    }
                }
            }
        }
    }

    /// One `XAUTOCLAIM` step: claimed entries (with their delivery counts),
    /// deleted ones, and the next cursor.
    async fn autoclaim(
        &mut self,
        stream: &Arc<str>,
        cursor: &str,
        count: usize,
    ) -> Result<(Vec<Delivery>, Vec<Delivery>, String), RedisError> {
        let reply: Value = bounded(
            self.limit,
            redis::cmd("XAUTOCLAIM")
                .arg(&**stream)
                .arg(&self.group)
                .arg(&self.consumer)
                .arg(u64::try_from(self.claim_idle.as_millis()).unwrap_or(u64::MAX))
                .arg(cursor)
                .arg("COUNT")
                .arg(count)
                .query_async(&mut self.connection),
        )
        .await?;
        let claimed = stream::autoclaim_reply(reply)?;
        let counts = if claimed.entries.is_empty() {
            HashMap::new()
        } else {
            let mut pipe = redis::pipe();
            for entry in &claimed.entries {
                pipe.cmd("XPENDING")
                    .arg(&**stream)
                    .arg(&self.group)
                    .arg(&entry.id)
                    .arg(&entry.id)
                    .arg(1)
                    .arg(&self.consumer);
            }
            let rows: Vec<Value> = bounded(self.limit, pipe.query_async(&mut self.connection)).await?;
            let mut counts = HashMap::new();
            for row in rows {
                counts.extend(stream::pending_list(row)?);
            }
            counts
        };
        let deliveries = claimed
            .entries
            .into_iter()
            .map(|entry| {
                let count = counts.get(&entry.id).copied().unwrap_or(1);
                delivery(stream, entry, count)
            })
            .collect();
        let lost = claimed.deleted.into_iter().map(|id| lost(stream, id, 0)).collect();
        Ok((deliveries, lost, claimed.next))
    }

    /// Removes departed consumers (long idle, holding nothing) from the group.
    async fn remove_departed(&mut self) {
        let expiry = u64::try_from(self.consumer_expiry.as_millis()).unwrap_or(u64::MAX);
        for stream in &self.streams {
            let removed: Result<Vec<String>, RedisError> = bounded(
                self.limit,
                redis::cmd("EVAL")
                    .arg(REMOVE_DEPARTED)
                    .arg(1)
                    .arg(&**stream)
                    .arg(&self.group)
                    .arg(expiry)
                    .arg(&self.consumer)
                    .query_async(&mut self.connection),
            )
            .await;
            match removed {
                Ok(removed) if !removed.is_empty() => {
                    tracing::info!(%stream, group = %self.group, ?removed, "removed departed consumers");
                }
                Ok(_) => {}
                Err(error) => tracing::debug!(%error, %stream, "could not remove departed consumers"),
            }
        }
    }
}

fn delivery(stream: &Arc<str>, entry: Entry, count: u32) -> Delivery {
    Delivery {
        stream: stream.clone(),
        id: entry.id,
        fields: entry.fields,
        count,
        reclaim: false,
    }
}

fn lost(stream: &Arc<str>, id: String, count: u32) -> Delivery {
    Delivery {
        stream: stream.clone(),
        id,
        fields: None,
        count,
        reclaim: false,
    }
}
