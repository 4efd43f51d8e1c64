//! The reclaimer: one task per consumer that takes over entries of
//! consumers that stopped (pending longer than the claim idle time, with
//! `XAUTOCLAIM`) on the streams that instances share, and removes departed
//! consumers from the group. It uses the consumer's connection for short
//! calls, never the readers' blocking ones, so its calls are answered at
//! once. Partitioned streams are not reclaimed: their owner takes over a
//! previous owner's entries when it acquires the partition.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::{RedisError, Value};
use tokio::sync::mpsc;

use super::Delivery;
use super::window::Window;
use crate::connection::{Connection, SlotPipeline, bounded};
use crate::stream;

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

/// The reclaimer's settings.
pub(super) struct Reclaimer {
    pub connection: Connection,
    /// Streams whose idle entries are claimed (shared, not partitioned).
    pub shared: Vec<(Arc<str>, Arc<str>)>,
    /// Every stream the consumer reads, for the removal of departed consumers.
    pub all: Vec<Arc<str>>,
    pub group: String,
    pub consumer: String,
    pub batch: usize,
    pub claim_idle: Duration,
    pub consumer_expiry: Duration,
    pub limit: Duration,
    pub window: Window,
    pub out: mpsc::UnboundedSender<Vec<Delivery>>,
}

impl Reclaimer {
    /// Reclaims every half claim idle time and removes departed consumers
    /// every quarter expiry, until its task is aborted.
    pub(super) async fn run(mut self) {
        let reclaim_every = (self.claim_idle / 2).max(Duration::from_millis(10));
        let cleanup_every = (self.consumer_expiry / 4).clamp(Duration::from_secs(1), Duration::from_secs(600));
        let mut reclaim = tokio::time::interval(reclaim_every);
        let mut cleanup = tokio::time::interval(cleanup_every);
        reclaim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        cleanup.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        cleanup.tick().await;
        loop {
            tokio::select! {
                _ = reclaim.tick() => self.reclaim().await,
                _ = cleanup.tick() => self.remove_departed().await,
            }
        }
    }

    /// Claims entries idle longer than the claim idle time, from any
    /// consumer, while there is room; records deleted ones as lost.
    async fn reclaim(&mut self) {
        for (stream, category) in self.shared.clone() {
            let mut cursor = "0-0".to_owned();
            loop {
                let room = self.window.try_room(self.batch);
                if room == 0 {
                    return;
                }
                match self.autoclaim(&stream, &cursor, room).await {
                    Ok((deliveries, lost, next)) => {
                        if !deliveries.is_empty() {
                            self.window.take(deliveries.len());
                            tracing::info!(%stream, entries = deliveries.len(), "claimed entries of a stopped consumer");
                            crate::telemetry::reclaimed(&category, &self.group, deliveries.len());
                            let _ = self.out.send(deliveries);
                        }
                        if !lost.is_empty() {
                            tracing::warn!(%stream, entries = lost.len(), "pending entries were trimmed from the stream before being handled; recording them as lost");
                            self.window.take(lost.len());
                            let _ = self.out.send(lost);
                        }
                        if next == "0-0" {
                            break;
                        }
                        cursor = next;
                    }
                    Err(error) => {
                        tracing::debug!(%error, %stream, "could not claim idle entries");
                        break;
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
            let mut pipe = SlotPipeline::new();
            for entry in &claimed.entries {
                pipe.cmd(stream, "XPENDING")
                    .arg(&**stream)
                    .arg(&self.group)
                    .arg(&entry.id)
                    .arg(&entry.id)
                    .arg(1)
                    .arg(&self.consumer);
            }
            let rows = bounded(self.limit, pipe.query(&mut self.connection)).await?;
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
                Delivery::new(stream, entry, count)
            })
            .collect();
        let lost = claimed
            .deleted
            .into_iter()
            .map(|id| Delivery::lost(stream, id, 0))
            .collect();
        Ok((deliveries, lost, claimed.next))
    }

    /// Removes departed consumers (long idle, holding nothing) from the group.
    async fn remove_departed(&mut self) {
        let expiry = u64::try_from(self.consumer_expiry.as_millis()).unwrap_or(u64::MAX);
        for stream in &self.all {
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
