//! The consumer's main loop: sets up connections and groups, starts the
//! fetcher, schedules deliveries into lanes and workers, batches acks,
//! renews claims, and drains on shutdown.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use redis::RedisError;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::fetch::{self, Fetcher};
use super::idempotency::Idempotency;
use super::lanes::Lanes;
use super::progress::ConsumerProgress;
use super::worker::{self, Finished, Outcome, Shared};
use super::{Consumer, Delivery};
use crate::connection::{self, Connection, Outage, bounded};
use crate::error::Error;
use crate::handler::Dispatch;

/// Redis error codes that waiting may fix; any other server error while
/// setting up is a fatal misconfiguration.
const PASSING: [&str; 7] = [
    "LOADING",
    "BUSY",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "MASTERDOWN",
    "READONLY",
    "MOVED",
];

pub(super) async fn run<D: Dispatch>(
    consumer: Consumer,
    dispatch: D,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let config = consumer.config;
    let progress = consumer.progress;
    let _running = progress.running();
    let keys = config.keys();
    let streams: Vec<Arc<str>> = match consumer.streams {
        Some(streams) => streams.into_iter().map(Arc::from).collect(),
        None => consumer
            .categories
            .unwrap_or_else(|| dispatch.categories().iter().map(|c| (*c).to_owned()).collect())
            .iter()
            .map(|c| Arc::from(keys.events(c)))
            .collect(),
    };
    if streams.is_empty() {
        return Err(Error::NoStreams);
    }
    let limit = config.publish_timeout();
    let mut connection = connection::open(&config, Some(limit))?;
    let mut shutdown = std::pin::pin!(shutdown);

    connection::warn_if_evicting(&mut connection, limit).await;
    let mut outage = Outage::new("creating consumer groups");
    loop {
        let created = fetch::create_groups(&mut connection, &streams, config.group(), config.start(), limit).await;
        match created {
            Ok(()) => break,
            Err(error) if is_fatal(&error) => {
                return Err(Error::Redis {
                    context: format!("cannot create consumer group `{}`", config.group()),
                    source: error,
                });
            }
            Err(error) => {
                tokio::select! {
                    () = tokio::time::sleep(outage.failed(&error)) => {}
                    () = &mut shutdown => return Ok(()),
                }
            }
        }
    }
    outage.recovered();

    let capacity = Arc::new(Semaphore::new(config.max_in_flight()));
    let (sender, mut fetched) = mpsc::unbounded_channel();
    let fetcher = Fetcher {
        connection: connection::open(&config, None)?,
        streams: streams.clone(),
        group: config.group().to_owned(),
        consumer: config.consumer().to_owned(),
        batch: config.batch_size(),
        block: config.block(),
        claim_idle: config.claim_idle(),
        consumer_expiry: config.consumer_expiry(),
        limit,
        capacity: capacity.clone(),
        out: sender,
        outage: Outage::new("reading entries"),
    };
    let fetcher = AbortOnDrop(tokio::spawn(fetcher.run()));
    let shared = Arc::new(Shared {
        dispatch,
        connection,
        dead_letters: keys.dead_letters(config.group()),
        keys,
        group: config.group().to_owned(),
        consumer: config.consumer().to_owned(),
        default_policy: config.default_policy(),
        idempotency: config
            .idempotency_ttl()
            .map(|ttl| Idempotency::new(ttl, config.claim_idle(), config.consumer())),
        limit,
        metrics: crate::telemetry::ConsumerMetrics::new(config.group()),
    });
    tracing::info!(group = %shared.group, consumer = %shared.consumer, ?streams, "consumer started");

    let mut state = State {
        shared,
        capacity,
        lanes: Lanes::default(),
        held: HashSet::new(),
        workers: FuturesUnordered::new(),
        acks: HashMap::new(),
        background: JoinSet::new(),
        flushing: false,
        renewing: false,
        progress,
    };
    let concurrency = config.concurrency();
    let mut renew = tokio::time::interval((config.claim_idle() / 3).max(Duration::from_millis(10)));
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut deadline: Option<tokio::time::Instant> = None;

    loop {
        if deadline.is_none() {
            while state.workers.len() < concurrency {
                let Some((lane, delivery)) = state.lanes.next_ready() else {
                    break;
                };
                let handling = worker::handle(state.shared.clone(), lane, delivery);
                state.workers.push(Box::pin(handling));
            }
        }
        if !state.flushing && !state.acks.is_empty() {
            state.flush_acks();
        }
        if deadline.is_some() && state.workers.is_empty() && !state.flushing {
            break;
        }
        let next_due = state.lanes.next_due();
        tokio::select! {
            biased;
            Some(finished) = state.workers.next(), if !state.workers.is_empty() => {
                state.finish(finished, deadline.is_some());
            }
            Some(task) = state.background.join_next(), if !state.background.is_empty() => {
                match task {
                    Ok(Background::Flushed) => state.flushing = false,
                    Ok(Background::Renewed) => state.renewing = false,
                    Err(_) => {}
                }
            }
            Some(batch) = fetched.recv(), if deadline.is_none() => state.admit(batch),
            () = sleep_until(next_due), if next_due.is_some() && deadline.is_none() => {
                state.lanes.wake(Instant::now());
            }
            _ = renew.tick(), if deadline.is_none() && !state.renewing && !state.held.is_empty() => {
                state.renew_claims();
            }
            () = &mut shutdown, if deadline.is_none() => {
                tracing::info!(running = state.workers.len(), "consumer stopping: finishing running handlers");
                fetcher.0.abort();
                fetched.close();
                for delivery in state.lanes.drain() {
                    state.release(delivery.stream, delivery.id);
                }
                deadline = Some(tokio::time::Instant::now() + config.shutdown_timeout());
            }
            () = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => {
                tracing::warn!(
                    running = state.workers.len(),
                    "shutdown timeout: abandoning running handlers; their entries stay pending"
                );
                break;
            }
        }
    }
    state.workers.clear();
    if !state.acks.is_empty() {
        let last = Duration::from_secs(1).max(limit);
        let _ = tokio::time::timeout(last, ack(state.shared.clone(), std::mem::take(&mut state.acks), false)).await;
    }
    tracing::info!(group = %state.shared.group, consumer = %state.shared.consumer, "consumer stopped");
    Ok(())
}

/// The consumer loop's state.
struct State<D> {
    shared: Arc<Shared<D>>,
    capacity: Arc<Semaphore>,
    lanes: Lanes<Delivery>,
    /// Every entry held, by stream and id.
    held: HashSet<(Arc<str>, String)>,
    /// Running handlers, polled by the consumer's own task: no task per
    /// entry, no wake-up across threads.
    workers: FuturesUnordered<Pin<Box<dyn Future<Output = Finished> + Send>>>,
    /// Ids to ack, by stream.
    acks: HashMap<Arc<str>, Vec<String>>,
    background: JoinSet<Background>,
    flushing: bool,
    renewing: bool,
    progress: ConsumerProgress,
}

/// What a background task did.
enum Background {
    Flushed,
    Renewed,
}

impl<D: Dispatch> State<D> {
    /// Takes fetched deliveries into their lanes; a delivery of an entry
    /// held already (claimed twice) is dropped.
    fn admit(&mut self, batch: Vec<Delivery>) {
        for delivery in batch {
            if self.held.insert((delivery.stream.clone(), delivery.id.clone())) {
                self.progress.hold(1);
                self.lanes.admit(delivery.lane(), delivery);
            } else {
                self.capacity.add_permits(1);
            }
        }
    }

    fn finish(&mut self, finished: Finished, closing: bool) {
        let Finished {
            lane,
            stream,
            id,
            outcome,
        } = finished;
        if matches!(outcome, Outcome::Ack | Outcome::Settled) {
            self.progress.settle();
        }
        match outcome {
            Outcome::Ack => self.acks.entry(stream.clone()).or_default().push(id.clone()),
            Outcome::Settled | Outcome::Release => {}
            Outcome::Retry { delivery, due } if !closing => {
                self.lanes.delay(lane, delivery, due);
                return;
            }
            Outcome::Retry { .. } => {}
        }
        self.release(stream, id);
        self.lanes.finished(lane);
    }

    /// Forgets a held entry and frees its place.
    fn release(&mut self, stream: Arc<str>, id: String) {
        if self.held.remove(&(stream, id)) {
            self.progress.release();
            self.capacity.add_permits(1);
        }
    }

    fn flush_acks(&mut self) {
        self.flushing = true;
        let acks = std::mem::take(&mut self.acks);
        let shared = self.shared.clone();
        self.background.spawn(async move {
            ack(shared, acks, true).await;
            Background::Flushed
        });
    }

    /// Renews this consumer's claim on every entry it holds, so that no
    /// other consumer takes them while they wait or run.
    fn renew_claims(&mut self) {
        self.renewing = true;
        let mut pipe = redis::pipe();
        let mut by_stream: HashMap<&Arc<str>, Vec<&str>> = HashMap::new();
        for (stream, id) in &self.held {
            by_stream.entry(stream).or_default().push(id);
        }
        for (stream, ids) in by_stream {
            for chunk in ids.chunks(500) {
                let claim = pipe
                    .cmd("XCLAIM")
                    .arg(&**stream)
                    .arg(&self.shared.group)
                    .arg(&self.shared.consumer)
                    .arg(0);
                for id in chunk {
                    claim.arg(*id);
                }
                claim.arg("JUSTID").ignore();
            }
        }
        let shared = self.shared.clone();
        self.background.spawn(async move {
            let mut connection = shared.connection.clone();
            let renewed: Result<(), RedisError> = bounded(shared.limit, pipe.query_async(&mut connection)).await;
            if let Err(error) = renewed {
                tracing::debug!(%error, "could not renew claims on held entries");
            }
            Background::Renewed
        });
    }
}

/// Acks `acks` (one `XACK` per stream, one round trip); with `persist`,
/// retries until Redis takes them.
async fn ack<D>(shared: Arc<Shared<D>>, acks: HashMap<Arc<str>, Vec<String>>, persist: bool) {
    let mut pipe = redis::pipe();
    for (stream, ids) in &acks {
        pipe.cmd("XACK").arg(&**stream).arg(&shared.group).arg(ids).ignore();
    }
    let mut outage = Outage::quiet("acking entries");
    let mut connection: Connection = shared.connection.clone();
    loop {
        match bounded(shared.limit, pipe.query_async::<()>(&mut connection)).await {
            Ok(()) => return,
            Err(error) if persist => tokio::time::sleep(outage.failed(&error)).await,
            Err(error) => {
                tracing::warn!(%error, "could not ack handled entries at shutdown; they will be delivered again");
                return;
            }
        }
    }
}

fn is_fatal(error: &RedisError) -> bool {
    error.code().is_some_and(|code| !PASSING.contains(&code))
}

async fn sleep_until(due: Option<Instant>) {
    if let Some(due) = due {
        tokio::time::sleep_until(due.into()).await;
    }
}

/// Aborts a task when dropped, so no fetch outlives its consumer.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
