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

/// How a pass over pending entries takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pass {
    /// Claims `Whose` entries for this consumer, counting a delivery.
    Take(Whose),
    /// Reads this consumer's own again without claiming them (no delivery
    /// counted: they were delivered, but the reply may never have arrived),
    /// those idle at least the given time when given.
    Reread(Option<Duration>),
}

/// Up to `count` pending entries of `stream` after `after` (exclusive
/// `(id` or `-`), taken for `consumer` as `pass` says, in stream order; and
/// the last id seen, `None` when there are no more. Entries gone from the
/// stream come back as lost deliveries.
#[allow(clippy::too_many_arguments)]
pub(super) async fn page(
    connection: &mut Connection,
    limit: Duration,
    stream: &Arc<str>,
    group: &str,
    consumer: &str,
    pass: Pass,
    after: &str,
    count: usize,
) -> Result<(Vec<Delivery>, Option<String>), RedisError> {
    let mut list = redis::cmd("XPENDING");
    list.arg(&**stream).arg(group);
    if let Pass::Reread(Some(idle)) = pass {
        list.arg("IDLE")
            .arg(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX));
    }
    list.arg(after).arg("+").arg(count);
    if pass != Pass::Take(Whose::Everyone) {
        list.arg(consumer);
    }
    let pending = stream::pending_list(bounded(limit, list.query_async(connection)).await?)?;
    let Some((last, _)) = pending.last() else {
        return Ok((Vec::new(), None));
    };
    let last = last.clone();
    let replies: Vec<Value> = match pass {
        Pass::Take(_) => {
            let mut claim = redis::cmd("XCLAIM");
            claim.arg(&**stream).arg(group).arg(consumer).arg(0);
            for (id, _) in &pending {
                claim.arg(id);
            }
            vec![bounded(limit, claim.query_async(connection)).await?]
        }
        Pass::Reread(_) => {
            // Each entry on its own (one stream: one slot, one round trip): a
            // range from the first to the last could span any number of
            // others' entries.
            let mut reads = redis::pipe();
            for (id, _) in &pending {
                reads.cmd("XRANGE").arg(&**stream).arg(id).arg(id);
            }
            bounded(limit, reads.query_async(connection)).await?
        }
    };
    let mut entries: HashMap<String, Entry> = HashMap::new();
    for reply in replies {
        entries.extend(
            stream::entry_list(reply)?
                .into_iter()
                .map(|entry| (entry.id.clone(), entry)),
        );
    }
    let counted = u32::from(matches!(pass, Pass::Take(_)));
    let deliveries = pending
        .into_iter()
        .map(|(id, count)| match entries.remove(&id) {
            Some(entry) => Delivery::new(stream, entry, count.saturating_add(counted)),
            None => Delivery::lost(stream, id, count),
        })
        .collect();
    Ok((deliveries, Some(last)))
}
