//! Taking over pending entries before reading new ones: a consumer's own
//! (held before a restart) or, for a partition just acquired, every
//! consumer's (its previous owner's), in stream order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::{RedisError, Value};

use super::Delivery;
use crate::connection::{Connection, bounded};
use crate::stream::{self, Entry};

/// Whose pending entries to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Whose {
    /// This consumer's own, held before a restart.
    Own,
    /// Every consumer's: this consumer now owns the stream (a partition).
    Everyone,
}

/// Up to `count` pending entries of `stream` after `after` (exclusive
/// `(id` or `-`), claimed for `consumer` (which counts a delivery), in
/// stream order; and the last id seen, `None` when there are no more.
/// Entries gone from the stream come back as lost deliveries.
#[allow(clippy::too_many_arguments)]
pub(super) async fn take(
    connection: &mut Connection,
    limit: Duration,
    stream: &Arc<str>,
    group: &str,
    consumer: &str,
    whose: Whose,
    after: &str,
    count: usize,
) -> Result<(Vec<Delivery>, Option<String>), RedisError> {
    let mut list = redis::cmd("XPENDING");
    list.arg(&**stream).arg(group).arg(after).arg("+").arg(count);
    if whose == Whose::Own {
        list.arg(consumer);
    }
    let pending = stream::pending_list(bounded(limit, list.query_async(connection)).await?)?;
    let Some((last, _)) = pending.last() else {
        return Ok((Vec::new(), None));
    };
    let last = last.clone();
    let mut claim = redis::cmd("XCLAIM");
    claim.arg(&**stream).arg(group).arg(consumer).arg(0);
    for (id, _) in &pending {
        claim.arg(id);
    }
    let claimed: Value = bounded(limit, claim.query_async(connection)).await?;
    let mut entries: HashMap<String, Entry> = stream::entry_list(claimed)?
        .into_iter()
        .map(|entry| (entry.id.clone(), entry))
        .collect();
    let deliveries = pending
        .into_iter()
        .map(|(id, count)| match entries.remove(&id) {
            Some(entry) => Delivery::new(stream, entry, count.saturating_add(1)),
            None => Delivery::lost(stream, id, count),
        })
        .collect();
    Ok((deliveries, Some(last)))
}

/// Up to `count` of `consumer`'s own pending entries of `stream` after
/// `after` (exclusive `(id` or `-`), idle at least `min_idle` when given,
/// read again without claiming them (no delivery counted: they were
/// delivered, but the reply may never have arrived), in stream order; and
/// the last id seen, `None` when there are no more. Entries gone from the
/// stream come back as lost deliveries.
#[allow(clippy::too_many_arguments)]
pub(super) async fn reread_own(
    connection: &mut Connection,
    limit: Duration,
    stream: &Arc<str>,
    group: &str,
    consumer: &str,
    min_idle: Option<Duration>,
    after: &str,
    count: usize,
) -> Result<(Vec<Delivery>, Option<String>), RedisError> {
    let mut list = redis::cmd("XPENDING");
    list.arg(&**stream).arg(group);
    if let Some(idle) = min_idle {
        list.arg("IDLE")
            .arg(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX));
    }
    list.arg(after).arg("+").arg(count).arg(consumer);
    let pending = stream::pending_list(bounded(limit, list.query_async(connection)).await?)?;
    let Some((last, _)) = pending.last() else {
        return Ok((Vec::new(), None));
    };
    let last = last.clone();
    // Each entry on its own (one stream: one slot, one round trip): a range
    // from the first to the last could span any number of others' entries.
    let mut reads = redis::pipe();
    for (id, _) in &pending {
        reads.cmd("XRANGE").arg(&**stream).arg(id).arg(id);
    }
    let read: Vec<Value> = bounded(limit, reads.query_async(connection)).await?;
    let mut entries: HashMap<String, Entry> = HashMap::new();
    for reply in read {
        entries.extend(
            stream::entry_list(reply)?
                .into_iter()
                .map(|entry| (entry.id.clone(), entry)),
        );
    }
    let deliveries = pending
        .into_iter()
        .map(|(id, count)| match entries.remove(&id) {
            Some(entry) => Delivery::new(stream, entry, count),
            None => Delivery::lost(stream, id, count),
        })
        .collect();
    Ok((deliveries, Some(last)))
}
