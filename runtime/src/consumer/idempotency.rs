//! The optional idempotency store: per group, the ids of events already
//! handled, so a handler runs once per event id even when the same event
//! arrives twice (re-published from an outbox, or re-delivered after a
//! consumer stalled past the claim idle time).
//!
//! One key per group and event id, `<ns>:handled:<group>:<event id>`:
//! - before the handler, `SET key running:<consumer> NX PX <lease> GET`
//!   takes a short lease (the claim idle time), so a second delivery of the
//!   event waits while the first one runs;
//! - after success, `SET key done PX <ttl>` records it for the TTL;
//! - after a failure, the lease is dropped so the retry can take it.
//!
//! A consumer that dies while handling leaves a lease that expires by itself
//! before its entries are reclaimed.

use std::time::Duration;

use redis::RedisError;

use crate::connection::Connection;

const DONE: &str = "done";

/// Where an event stands in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim {
    /// This delivery may run the handler.
    Acquired,
    /// The event was handled already: ack without running the handler.
    AlreadyHandled,
    /// Another delivery of the event is being handled right now.
    Busy,
}

/// The store of one consumer in one group.
#[derive(Debug, Clone)]
pub(crate) struct Idempotency {
    ttl: Duration,
    lease: Duration,
    running: String,
}

impl Idempotency {
    /// Handled ids kept for `ttl`; leases of running handlers last `lease`.
    pub(crate) fn new(ttl: Duration, lease: Duration, consumer: &str) -> Self {
        Idempotency {
            ttl,
            lease,
            running: format!("running:{consumer}"),
        }
    }

    /// Takes the lease on `key` unless the event is handled or leased.
    pub(crate) async fn claim(&self, connection: &mut Connection, key: &str) -> Result<Claim, RedisError> {
        let previous: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(&self.running)
            .arg("NX")
            .arg("PX")
            .arg(millis(self.lease))
            .arg("GET")
            .query_async(connection)
            .await?;
        Ok(match previous.as_deref() {
            None => Claim::Acquired,
            Some(DONE) => Claim::AlreadyHandled,
            Some(_) => Claim::Busy,
        })
    }

    /// Records the event as handled.
    pub(crate) async fn done(&self, connection: &mut Connection, key: &str) -> Result<(), RedisError> {
        redis::cmd("SET")
            .arg(key)
            .arg(DONE)
            .arg("PX")
            .arg(millis(self.ttl))
            .query_async(connection)
            .await
    }

    /// Drops the lease after a failed attempt.
    pub(crate) async fn release(&self, connection: &mut Connection, key: &str) -> Result<(), RedisError> {
        redis::cmd("DEL").arg(key).query_async(connection).await
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1)
}
