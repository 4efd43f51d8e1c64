//! The optional idempotency store: per group, the ids of events already
//! handled, so a handler runs once per event id even when the same event
//! arrives twice (re-published from an outbox, or re-delivered after a
//! consumer stalled past the claim idle time).
//!
//! One key per group and event id, `<ns>:handled:<group>:<event id>`:
//! - before the handler, a lease `running:<consumer>/<run id>/<entry id>`
//!   is taken unless the key exists; a second delivery of the event waits
//!   (without counting an attempt) while the first one runs;
//! - while the handler runs, the lease is renewed every third of its
//!   length, so a handler slower than the lease keeps it;
//! - after success, `done` is stored for the TTL; after a failure the lease
//!   is dropped so the retry can take it. Renewing and dropping compare the
//!   holder first: nobody ever drops another's lease or a `done` marker;
//! - a lease left by an earlier run of the *same consumer name* (a process
//!   killed mid-handler and restarted) is taken over at once: that run is
//!   dead, and its entries are this consumer's to finish;
//! - at shutdown, the leases of handlers abandoned at the timeout are
//!   dropped. A consumer that dies leaves leases that expire by themselves
//!   (after the claim idle time, when its entries are reclaimed).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use redis::RedisError;
use uuid::Uuid;

use super::lease::{self, millis};
use crate::connection::{Connection, bounded};

const DONE: &str = "done";

/// Takes the lease: `ARGV[1]` the lease, `ARGV[2]` its length (ms),
/// `ARGV[3]` this run's prefix, `ARGV[4]` this consumer's prefix. Answers
/// `acquired`, `done` or `busy`.
const CLAIM: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == 'done' then return 'done' end
if holder == false or holder == ARGV[1]
   or (string.sub(holder, 1, #ARGV[4]) == ARGV[4] and string.sub(holder, 1, #ARGV[3]) ~= ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'acquired'
end
return 'busy'
";

/// Where an event stands in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim {
    /// This delivery holds the lease and may run the handler.
    Acquired,
    /// The event was handled already: ack without running the handler.
    AlreadyHandled,
    /// Another delivery of the event is being handled right now.
    Busy,
}

/// One lease: the key and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lease {
    pub key: String,
    holder: String,
}

/// The store of one consumer (one run of it) in one group.
#[derive(Debug)]
pub(crate) struct Idempotency {
    ttl: Duration,
    lease: Duration,
    /// `running:<consumer>/`
    consumer_prefix: String,
    /// `running:<consumer>/<run id>/`
    run_prefix: String,
    /// Leases held now, so that those of abandoned handlers can be dropped.
    held: Mutex<HashMap<String, String>>,
}

impl Idempotency {
    /// Handled ids kept for `ttl`; leases of running handlers last `lease`
    /// unless renewed.
    pub(crate) fn new(ttl: Duration, lease: Duration, consumer: &str, run: Uuid) -> Self {
        Idempotency {
            ttl,
            lease,
            consumer_prefix: format!("running:{consumer}/"),
            run_prefix: format!("running:{consumer}/{run}/"),
            held: Mutex::new(HashMap::new()),
        }
    }

    /// How often a held lease is renewed.
    pub(crate) fn renew_every(&self) -> Duration {
        (self.lease / 3).max(Duration::from_millis(10))
    }

    /// How long a delivery that found the event busy waits before asking again.
    pub(crate) fn busy_wait(&self) -> Duration {
        (self.lease / 10).clamp(Duration::from_millis(50), Duration::from_secs(2))
    }

    /// The lease entry `entry_id` would hold on `key`.
    pub(crate) fn lease(&self, key: String, entry_id: &str) -> Lease {
        Lease {
            key,
            holder: format!("{}{entry_id}", self.run_prefix),
        }
    }

    /// Takes `lease` unless the event is handled or leased by a live delivery.
    pub(crate) async fn claim(&self, connection: &mut Connection, lease: &Lease) -> Result<Claim, RedisError> {
        let answer: String = redis::cmd("EVAL")
            .arg(CLAIM)
            .arg(1)
            .arg(&lease.key)
            .arg(&lease.holder)
            .arg(millis(self.lease))
            .arg(&self.run_prefix)
            .arg(&self.consumer_prefix)
            .query_async(connection)
            .await?;
        Ok(match answer.as_str() {
            "acquired" => {
                self.hold(lease, true);
                Claim::Acquired
            }
            DONE => Claim::AlreadyHandled,
            _ => Claim::Busy,
        })
    }

    /// Renews `lease`; `false` when it is no longer held (it expired and
    /// another delivery took it).
    pub(crate) async fn renew(&self, connection: &mut Connection, lease: &Lease) -> Result<bool, RedisError> {
        lease::renew(connection, &lease.key, &lease.holder, self.lease).await
    }

    /// Records the event as handled.
    pub(crate) async fn done(&self, connection: &mut Connection, lease: &Lease) -> Result<(), RedisError> {
        redis::cmd("SET")
            .arg(&lease.key)
            .arg(DONE)
            .arg("PX")
            .arg(millis(self.ttl))
            .query_async::<()>(connection)
            .await?;
        self.hold(lease, false);
        Ok(())
    }

    /// Drops `lease` after a failed attempt, if it is still held.
    pub(crate) async fn release(&self, connection: &mut Connection, lease: &Lease) -> Result<(), RedisError> {
        lease::release(connection, &lease.key, &lease.holder).await?;
        self.hold(lease, false);
        Ok(())
    }

    /// Drops the leases of handlers abandoned at shutdown (best effort,
    /// each call bounded by `limit`).
    pub(crate) async fn release_abandoned(&self, connection: &Connection, limit: Duration) {
        let abandoned: Vec<(String, String)> = self
            .held
            .lock()
            .map(|mut held| held.drain().collect())
            .unwrap_or_default();
        for (key, holder) in abandoned {
            let mut connection = connection.clone();
            if let Err(error) = bounded(limit, lease::release(&mut connection, &key, &holder)).await {
                tracing::debug!(%error, %key, "could not drop the lease of an abandoned handler; it will expire");
            }
        }
    }

    fn hold(&self, lease: &Lease, held: bool) {
        if let Ok(mut leases) = self.held.lock() {
            if held {
                leases.insert(lease.key.clone(), lease.holder.clone());
            } else {
                leases.remove(&lease.key);
            }
        }
    }
}
