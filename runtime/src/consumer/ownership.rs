//! Ownership of partitions: the instances of a group share the partitions
//! of ordered categories, each partition read by one instance at a time.
//!
//! - **Membership.** Every instance beats into `<ns>:members:<group>`, a
//!   sorted set scored by expiry (Redis's clock), every [`WATCH`] (every
//!   200 ms while partitions change hands), and so sees a join or a leave
//!   within that long; members whose score passed are dropped. It renews
//!   its leases when the members change, and every third of the lease
//!   otherwise (at most a second apart).
//! - **Assignment.** The live members, sorted by name, take the
//!   partitions round robin: partition `i` (in the consumer's stream order)
//!   goes to member `i mod n`. Every instance computes the same answer.
//! - **Leases.** An instance reads a partition only while it holds its
//!   lease `<ns>:partition:<group>:<stream>` (`SET NX PX`), renewed with a
//!   compare-and-set on its token (`<consumer>/<run id>`), so a lease is
//!   never renewed or released by anyone but its holder. A restarted
//!   instance (same consumer name, new run) takes its predecessor's leases
//!   at once instead of waiting for them to expire.
//! - **Handover.** An instance that is no longer assigned a partition stops
//!   reading it, lets its running handlers finish, acks them, waits until
//!   no read it sent can still take entries (the replies of its reads in
//!   flight came, or their connection was closed long enough ago: a round
//!   trip when the partition is busy, 1.2 s when it is idle), and only then
//!   releases the lease; the next owner first
//!   finishes every entry still pending on the partition, in stream order,
//!   then reads new ones. So order per subject holds through joins, leaves
//!   and crashes (a crashed owner's lease expires after the lease time).
//!
//! Every command touches one key.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use redis::RedisError;
use tokio::sync::mpsc;

use super::lease::{self, millis};
use super::progress::ConsumerProgress;
use crate::connection::{Connection, Outage, bounded};

/// Beats membership and returns the live members (names), by Redis's clock.
const BEAT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)
return redis.call('ZRANGE', KEYS[1], 0, -1)
";

/// Takes or renews a lease: free, ours, or a predecessor's of the same
/// consumer name (`ARGV[3]`, a prefix of the token) → 1; else 0.
const ACQUIRE: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] or string.sub(holder, 1, #ARGV[3]) == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

/// How often rounds come while partitions change hands (an instance joined
/// or left): a handover takes a few of these, not a few lease thirds.
const HANDOVER_ROUND: Duration = Duration::from_millis(200);

/// How often a settled instance beats and looks at the members (one call):
/// a join or a leave is seen within this long.
const WATCH: Duration = Duration::from_millis(250);

/// What the owner tells the consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Change {
    /// The partition is ours: finish its pending entries, then read it.
    Acquired(Arc<str>),
    /// Another instance is to read it: stop reading, finish what runs,
    /// then send the stream back on the released channel.
    Revoked(Arc<str>),
    /// The lease was lost (it expired, someone else holds it): stop now.
    Lost(Arc<str>),
}

/// The owner's settings and state.
pub(super) struct Owner {
    pub connection: Connection,
    pub members: String,
    pub consumer: String,
    /// `<consumer>/<run id>`: who holds a lease.
    pub token: String,
    /// The partition streams, in the consumer's order, with their lease keys.
    pub streams: Vec<(Arc<str>, String)>,
    pub lease: Duration,
    pub limit: Duration,
    pub out: mpsc::UnboundedSender<Change>,
    /// Streams the consumer has let go of after a revoke.
    pub released: mpsc::UnboundedReceiver<Arc<str>>,
    pub progress: ConsumerProgress,
}

/// What the owner holds, and what it saw at its last full round.
#[derive(Debug, Default)]
struct Held {
    /// Leases held and being read.
    reading: HashSet<Arc<str>>,
    /// Leases held while the consumer finishes a revoked partition.
    releasing: HashSet<Arc<str>>,
    /// The live members (sorted) at the last full round.
    members: Vec<String>,
    /// When the last full round renewed the leases, if it was settled.
    settled_at: Option<tokio::time::Instant>,
}

impl Owner {
    /// Beats and rebalances every [`WATCH`], renews every third of the
    /// lease, until `stop` fires; then releases every lease and leaves the
    /// group's members.
    pub(super) async fn run(mut self, mut stop: tokio::sync::oneshot::Receiver<()>) {
        let mut held = Held::default();
        let mut outage = Outage::quiet("sharing partitions");
        // At most a second between renewals, whatever the lease.
        let steady = (self.lease / 3).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let mut next = tokio::time::Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => break,
                Some(stream) = self.released.recv() => {
                    self.release(&mut held, &stream).await;
                    // A handover just finished: let the next owner know soon.
                    next = next.min(tokio::time::Instant::now() + HANDOVER_ROUND.min(steady));
                }
                () = tokio::time::sleep_until(next) => {
                    let wait = match self.round(&mut held, steady).await {
                        Ok(settled) => {
                            outage.recovered();
                            self.progress.read_done();
                            if settled { WATCH.min(steady) } else { HANDOVER_ROUND.min(steady) }
                        }
                        Err(error) => {
                            let wait = outage.failed(&error).min(steady);
                            tracing::debug!(%error, ?wait, "could not renew partition leases");
                            wait
                        }
                    };
                    next = tokio::time::Instant::now() + wait;
                }
            }
        }
        let streams: Vec<Arc<str>> = held.reading.iter().chain(&held.releasing).cloned().collect();
        for stream in streams {
            self.release(&mut held, &stream).await;
        }
        let left: Result<(), RedisError> = bounded(
            self.limit,
            redis::cmd("ZREM")
                .arg(&self.members)
                .arg(&self.consumer)
                .query_async(&mut self.connection),
        )
        .await;
        if let Err(error) = left {
            tracing::debug!(%error, "could not leave the group's members");
        }
    }

    /// One round: beat; unless the last full round was settled, less than
    /// `renew_every` ago, with the same members: compute the assignment,
    /// renew what is held, give up what is no longer ours, try to take what
    /// is. Answers whether the assignment is settled (this instance reads
    /// exactly its partitions); while it is not, rounds come every
    /// [`HANDOVER_ROUND`].
    async fn round(&mut self, held: &mut Held, renew_every: Duration) -> Result<bool, RedisError> {
        let lease = millis(self.lease);
        let mut members: Vec<String> = bounded(
            self.limit,
            redis::cmd("EVAL")
                .arg(BEAT)
                .arg(1)
                .arg(&self.members)
                .arg(&self.consumer)
                .arg(lease)
                .query_async(&mut self.connection),
        )
        .await?;
        members.sort();
        let now = tokio::time::Instant::now();
        if members == held.members && held.settled_at.is_some_and(|at| now < at + renew_every) {
            return Ok(true);
        }
        let assigned = assignment(self.streams.len(), &members, &self.consumer);
        held.members = members;
        for (index, (stream, key)) in self.streams.clone().into_iter().enumerate() {
            let mine = assigned.contains(&index);
            if held.reading.contains(&stream) || held.releasing.contains(&stream) {
                if !bounded(
                    self.limit,
                    lease::renew(&mut self.connection, &key, &self.token, self.lease),
                )
                .await?
                {
                    tracing::warn!(%stream, "lost the lease on a partition (it expired): stopping its reads");
                    held.reading.remove(&stream);
                    held.releasing.remove(&stream);
                    let _ = self.out.send(Change::Lost(stream));
                } else if !mine && held.reading.remove(&stream) {
                    tracing::info!(%stream, "partition assigned to another instance: handing it over");
                    held.releasing.insert(stream.clone());
                    let _ = self.out.send(Change::Revoked(stream));
                }
            } else if mine && self.acquire(&key).await? {
                tracing::info!(%stream, "acquired a partition");
                held.reading.insert(stream.clone());
                let _ = self.out.send(Change::Acquired(stream));
            }
        }
        let settled = held.releasing.is_empty()
            && self
                .streams
                .iter()
                .enumerate()
                .all(|(index, (stream, _))| assigned.contains(&index) == held.reading.contains(stream));
        held.settled_at = settled.then_some(now);
        Ok(settled)
    }

    /// Releases the lease on `stream` (the consumer has let go of it).
    async fn release(&mut self, held: &mut Held, stream: &Arc<str>) {
        held.reading.remove(stream);
        held.releasing.remove(stream);
        let Some((_, key)) = self.streams.iter().find(|(s, _)| s == stream).cloned() else {
            return;
        };
        let released = bounded(self.limit, lease::release(&mut self.connection, &key, &self.token)).await;
        match released {
            Ok(_) => tracing::debug!(%stream, "released a partition"),
            Err(error) => tracing::debug!(%error, %stream, "could not release a partition; its lease will expire"),
        }
    }

    /// Takes the lease on `key` if it is free (or a predecessor's).
    async fn acquire(&mut self, key: &str) -> Result<bool, RedisError> {
        let taken: i64 = bounded(
            self.limit,
            redis::cmd("EVAL")
                .arg(ACQUIRE)
                .arg(1)
                .arg(key)
                .arg(&self.token)
                .arg(millis(self.lease))
                .arg(format!("{}/", self.consumer))
                .query_async(&mut self.connection),
        )
        .await?;
        Ok(taken == 1)
    }
}

/// The indices of the `partitions` assigned to `me` among `members`
/// (sorted): round robin, partition `i` to member `i mod n`.
fn assignment(partitions: usize, members: &[String], me: &str) -> HashSet<usize> {
    let Some(position) = members.iter().position(|member| member == me) else {
        return HashSet::new();
    };
    (0..partitions).filter(|i| i % members.len() == position).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_shared_round_robin_and_every_one_is_assigned_once() {
        let members: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let shares: Vec<HashSet<usize>> = members.iter().map(|m| assignment(8, &members, m)).collect();
        assert_eq!(shares.iter().map(HashSet::len).collect::<Vec<_>>(), [3, 3, 2]);
        let mut all: Vec<usize> = shares.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..8).collect::<Vec<_>>());
        assert!(assignment(8, &members, "stranger").is_empty());
        assert_eq!(assignment(2, &members, "c"), HashSet::new());
    }
}
