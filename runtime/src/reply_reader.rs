//! The reader of a caller's reply stream: one task per [`Caller`](crate::Caller)
//! reads its stream (`XREAD … BLOCK`, on a connection of its own) and hands
//! each reply to the call waiting for it, by request id.
//!
//! A call registers before its request is sent, so a reply that arrives
//! before the caller waits is kept for it. A reply that no call waits for
//! (its call timed out or was dropped) is dropped: it can never reach
//! another call, whose request has another id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use uuid::Uuid;

use crate::connection::{Outage, ReadConnection, bounded};
use crate::reply::Reply;
use crate::stream::Entry;

/// Replies read per round trip at most.
const BATCH: usize = 100;

/// The calls waiting for a reply, by request id.
#[derive(Debug, Default)]
pub(crate) struct Waiting {
    calls: Mutex<HashMap<Uuid, oneshot::Sender<Reply>>>,
}

impl Waiting {
    /// Registers a call for the reply to request `id`.
    pub(crate) fn register(&self, id: Uuid) -> oneshot::Receiver<Reply> {
        let (sender, receiver) = oneshot::channel();
        self.lock().insert(id, sender);
        receiver
    }

    /// Forgets the call for request `id` (done, timed out or dropped).
    pub(crate) fn forget(&self, id: &Uuid) {
        self.lock().remove(id);
    }

    /// How many calls wait.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Hands `reply` to its call; `false` when none waits for it.
    fn deliver(&self, reply: Reply) -> bool {
        let waiting = self.lock().remove(&reply.request_id);
        waiting.is_some_and(|call| call.send(reply).is_ok())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, oneshot::Sender<Reply>>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads one reply stream until aborted.
pub(crate) struct Reader {
    /// A connection for blocking reads only.
    pub connection: ReadConnection,
    pub stream: String,
    pub block: Duration,
    /// Bound on a call, on top of the block time.
    pub limit: Duration,
    pub waiting: Arc<Waiting>,
}

impl Reader {
    /// Reads replies and routes them; never returns (the owner aborts it).
    pub(crate) async fn run(mut self) {
        let mut last = "0-0".to_owned();
        let mut outage = Outage::new("reading command replies");
        let block = u64::try_from(self.block.as_millis()).unwrap_or(u64::MAX);
        loop {
            let read = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(BATCH)
                .arg("BLOCK")
                .arg(block)
                .arg("STREAMS")
                .arg(&self.stream)
                .arg(&last)
                .to_owned();
            let replies = bounded(self.block + self.limit, self.connection.read(&read)).await;
            match replies {
                Ok(streams) => {
                    outage.recovered();
                    for entry in streams.into_iter().flat_map(|(_, entries)| entries) {
                        last.clone_from(&entry.id);
                        self.route(entry);
                    }
                }
                // A redirected read (the stream's slot moved) knows where to go.
                Err(error) if error.redirect_node().is_some() => {}
                Err(error) => tokio::time::sleep(outage.failed(&error)).await,
            }
        }
    }

    fn route(&self, entry: Entry) {
        let Some(fields) = entry.fields else {
            return;
        };
        match Reply::from_fields(&fields) {
            Ok(reply) => {
                let request = reply.request_id;
                if !self.waiting.deliver(reply) {
                    tracing::debug!(
                        stream = %self.stream,
                        entry_id = %entry.id,
                        request_id = %request,
                        "reply for a call that no longer waits (timed out or dropped): dropped"
                    );
                }
            }
            Err(error) => {
                tracing::warn!(stream = %self.stream, entry_id = %entry.id, %error, "unreadable command reply: dropped");
            }
        }
    }
}
