//! The [`Consumer`]: reads category streams in a consumer group and hands
//! every entry to a [`Dispatch`], at least once, losing nothing.
//!
//! # What it does
//! - **Groups.** Creates its group on each stream if missing (`XGROUP CREATE
//!   … MKSTREAM`, at the configured start position), and again if Redis
//!   lost it (`NOGROUP` after a restart without persistence; then from `0`,
//!   so nothing still in the stream is skipped).
//! - **Readers.** One task per stream it reads (`reader`), each with a
//!   connection of its own for `XREADGROUP … BLOCK` (one stream per read:
//!   no read spans two slots, nothing waits behind a blocking read). A
//!   reader first works off the entries it must finish (its consumer
//!   name's own, after a restart; a partition's previous owner's), then
//!   reads new ones, only while the window has room (`max_in_flight`).
//! - **Partitions.** The streams of a partitioned (ordered) category are
//!   shared by the group's instances, one owner per partition at a time,
//!   through membership and leases (`ownership`); an instance reads only
//!   the partitions it owns and hands them over in order.
//! - **Ordering and concurrency.** Entries of one stream with the same
//!   `subject` are handled one after another, in stream order; others run
//!   in parallel, up to `concurrency` handlers at once. A retry in backoff
//!   keeps its subject waiting, so order holds through retries too. Entries
//!   far behind their subject's head are held by id only (stubs),
//!   so one busy subject cannot fill the window.
//! - **Settling.** Success acks (acks are batched: one `XACK` per stream per
//!   round trip). A retryable error leaves the entry pending; it is claimed
//!   again and re-delivered after the type's backoff (doubling with each
//!   delivery, plus up to 25 % jitter). After the type's `max_attempts`
//!   deliveries, and at once for a permanent error, an undecodable payload,
//!   an unknown type or an entry that is no envelope at all, the entry is
//!   copied to `<ns>:dlq:<group>` with the reason (see [`dead_letter`]) and
//!   then acked. Delivery counts come from Redis, so a delivery that
//!   crashed the process counts too: a poison entry is dead-lettered
//!   (`too-many-deliveries`) instead of crashing consumers forever. A
//!   panicking handler counts as a retryable failure.
//! - **Reclaim.** On shared (unpartitioned) streams, entries pending longer
//!   than `claim_idle` on any consumer (one that died) are claimed with
//!   `XAUTOCLAIM` and handled (on the short-call connection).
//!   Entries trimmed from the stream while pending are acked and recorded
//!   in the dead-letter stream as `lost-to-retention`. While it holds
//!   entries (in a handler, or waiting for a retry) a consumer renews its
//!   claim on them every `claim_idle / 3`, so live consumers are not robbed.
//! - **Departed consumers.** Consumers idle longer than `consumer_expiry`
//!   that hold nothing are removed from the group (atomically: one that
//!   still holds entries is never removed).
//! - **Idempotency** (optional, `idempotency_ttl`): a handler runs once per
//!   event id even when the same event is delivered twice.
//! - **Supervision.** A reader or the reclaimer that panics is restarted;
//!   tasks that keep failing stop the consumer with [`Error::Failed`]. Its
//!   [`ConsumerProgress`] tells a health check whether it reads and settles.
//! - **Shutdown.** When `shutdown` fires the consumer stops reading, lets
//!   running handlers finish (up to `shutdown_timeout`) and acks them, drops
//!   the idempotency leases of handlers it abandons, releases its
//!   partitions, and leaves everything else pending for the other consumers
//!   (or for itself after a restart).
//! - **Outages.** When Redis goes away the consumer keeps retrying with
//!   backoff, logs once when the outage starts and once when it ends, and
//!   resumes where it was.

pub mod dead_letter;
mod groups;
mod handover;
mod idempotency;
mod lanes;
mod lease;
mod ownership;
mod pending;
mod progress;
mod reader;
mod reclaim;
mod run;
mod settled;
mod window;
mod worker;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, ConfigBuilder, StartPosition};
use crate::error::Error;
use crate::event::DeliveryPolicy;
use crate::handler::Dispatch;
use crate::stream::Fields;

pub use dead_letter::Reason as DeadLetterReason;
pub use progress::{ConsumerProgress, ConsumerState};

/// Reads a service's category streams in its consumer group; see the
/// [module docs](self) for what it guarantees.
#[derive(Debug, Clone)]
pub struct Consumer {
    config: Config,
    categories: Option<Vec<String>>,
    /// Stream keys read instead of the categories' event streams (the
    /// command server reads a command stream).
    streams: Option<Vec<String>>,
    progress: ConsumerProgress,
}

impl Consumer {
    /// A builder starting from `config`'s settings.
    pub fn builder(config: &Config) -> ConsumerBuilder {
        ConsumerBuilder {
            config: config.clone().into_builder(),
            categories: None,
        }
    }

    /// The settings this consumer runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A handle on this consumer's progress (entries held, last settled),
    /// for a health check; take it before [`run`](Self::run). Clones of
    /// this consumer share it.
    pub fn progress(&self) -> ConsumerProgress {
        self.progress.clone()
    }

    /// Consumes until `shutdown` completes, then drains and returns.
    ///
    /// Returns an error only for what waiting cannot fix (no stream to read,
    /// a key of the wrong type); Redis being unreachable is waited out.
    pub async fn run<D: Dispatch>(self, dispatch: D, shutdown: impl Future<Output = ()> + Send) -> Result<(), Error> {
        run::run(self, dispatch, shutdown).await
    }

    /// This consumer, reading the streams `streams` (full keys) instead of
    /// event streams.
    pub(crate) fn reading(mut self, streams: Vec<String>) -> Self {
        self.streams = Some(streams);
        self
    }
}

/// Builds a [`Consumer`]; starts from a [`Config`] and overrides some of
/// its settings.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConsumerBuilder {
    config: ConfigBuilder,
    categories: Option<Vec<String>>,
}

/// Builder methods that set the same-named [`ConfigBuilder`] setting.
macro_rules! delegate {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty);)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $arg: $ty) -> Self {
                self.config = self.config.$name($arg);
                self
            }
        )*
    };
}

impl ConsumerBuilder {
    delegate! {
        /// The consumer group (default: the configured one).
        group(group: impl Into<String>);
        /// The consumer name, stable across restarts (default: the configured one).
        consumer(name: impl Into<String>);
        /// Where a group created by this consumer starts: `$` or `0`.
        start(start: StartPosition);
        /// Entries read per round trip at most.
        batch_size(batch_size: usize);
        /// How long one read waits for new entries.
        block(block: Duration);
        /// Handlers running at once.
        concurrency(concurrency: usize);
        /// Entries held at once (read, not yet settled).
        max_in_flight(max_in_flight: usize);
        /// Idle time after which pending entries of a stopped consumer are claimed.
        claim_idle(claim_idle: Duration);
        /// Idle time after which a consumer holding nothing is removed.
        consumer_expiry(expiry: Duration);
        /// Turns the idempotency store on (`Some(ttl)`) or off.
        idempotency_ttl(ttl: Option<Duration>);
        /// How long shutdown waits for running handlers.
        shutdown_timeout(timeout: Duration);
        /// The policy of types the dispatcher gives none.
        default_policy(policy: DeliveryPolicy);
    }

    /// The categories to read (default: every category of the dispatcher).
    pub fn categories<S: Into<String>>(mut self, categories: impl IntoIterator<Item = S>) -> Self {
        self.categories = Some(categories.into_iter().map(Into::into).collect());
        self
    }

    /// Checks the settings and returns the consumer.
    pub fn build(self) -> Result<Consumer, Error> {
        if self.categories.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::NoStreams);
        }
        let config = self.config.build()?;
        Ok(Consumer {
            progress: ConsumerProgress::new(config.group(), config.consumer()),
            config,
            categories: self.categories,
            streams: None,
        })
    }
}

/// One entry held by the consumer, from the moment it was read or claimed
/// until it is settled (acked, dead-lettered or let go).
#[derive(Debug)]
pub(crate) struct Delivery {
    /// The stream key.
    pub stream: Arc<str>,
    /// The entry id.
    pub id: String,
    /// Its fields; `None` when it was trimmed from the stream while pending,
    /// or when it is a [`stub`](Self::stub).
    pub fields: Option<Fields>,
    /// Deliveries so far, this one included (0 if unknown).
    pub count: u32,
    /// Whether it must be claimed again before handling (a due retry).
    pub reclaim: bool,
    /// Whether only its id is held: an entry queued far behind its
    /// subject's head gives its fields and its place in the window back, so
    /// one busy subject cannot fill the window; its fields are read again
    /// (`XRANGE`) when its turn comes.
    pub stub: bool,
}

impl Delivery {
    /// A delivery of `entry` from `stream`, delivered `count` times.
    pub(crate) fn new(stream: &Arc<str>, entry: crate::stream::Entry, count: u32) -> Self {
        Delivery {
            stream: stream.clone(),
            id: entry.id,
            fields: entry.fields,
            count,
            reclaim: false,
            stub: false,
        }
    }

    /// A pending entry that is gone from `stream` (trimmed while pending).
    pub(crate) fn lost(stream: &Arc<str>, id: String, count: u32) -> Self {
        Delivery::new(stream, crate::stream::Entry { id, fields: None }, count)
    }

    /// The ordering lane: the stream and the entry's subject, or its id when
    /// it has none (an entry without subject is ordered with nothing).
    /// Order per subject is order within one stream: entries of different
    /// streams have no order to keep.
    pub(crate) fn lane(&self) -> String {
        let (separator, tail) = match self
            .fields
            .as_ref()
            .and_then(|f| f.get(crate::envelope::field::SUBJECT))
        {
            Some(subject) => ("\0", subject),
            None => ("\0\0", self.id.as_str()),
        };
        // Built by hand: `format!` costs several times more, once per entry.
        let mut lane = String::with_capacity(self.stream.len() + separator.len() + tail.len());
        lane.push_str(&self.stream);
        lane.push_str(separator);
        lane.push_str(tail);
        lane
    }
}
