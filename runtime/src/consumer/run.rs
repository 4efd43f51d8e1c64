//! The consumer's main loop: sets up connections and groups, starts and
//! supervises its tasks (a reader per stream it reads, the reclaimer, the
//! partition owner), schedules deliveries into lanes and workers, batches
//! acks, renews claims, hands partitions over, and drains on shutdown.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

// The consumer's maps hash their keys (stream, entry id, subject) several
// times per entry: foldhash does it for a fraction of SipHash's cost.
use foldhash::{HashMap, HashMapExt, HashSet};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinSet};

use super::handover::Handovers;
use super::idempotency::Idempotency;
use super::lanes::Lanes;
use super::ownership::{Change, Owner};
use super::pending::Whose;
use super::progress::ConsumerProgress;
use super::reader::{Quiet, READS_IN_FLIGHT, Reader, Stop};
use super::reclaim::Reclaimer;
use super::settled::RecentlySettled;
use super::window::Window;
use super::worker::{self, Finished, Outcome, Shared};
use super::{Consumer, Delivery, groups};
use crate::config::Config;
use crate::connection::{self, Connection, Outage, ReadConnection, SlotPipeline, bounded};
use crate::error::Error;
use crate::handler::Dispatch;

/// Entries of one subject kept with their fields behind its running head;
/// later ones are held as stubs (see [`Delivery::stub`]).
const KEPT_PER_LANE: usize = 4;

/// Stubs held at most, per place in the window: ids only, a few dozen
/// bytes each.
const STUBS_PER_PLACE: usize = 64;

/// How long one read of a partition waits for new entries at most. A
/// partition is handed over once its reader, told to stop, reports it quiet
/// (no read of its can take entries anymore: whatever they took is pending,
/// for the next owner to take over in order; see [`Reader`] and
/// [`Handovers`]).
const PARTITION_BLOCK: Duration = Duration::from_secs(1);

/// Task failures within [`FAILURE_WINDOW`] after which the consumer stops
/// with an error rather than restart the task again.
const MAX_FAILURES: usize = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// One stream the consumer reads.
#[derive(Debug, Clone)]
struct Plan {
    stream: Arc<str>,
    /// The category (for metrics), or the stream's last segment.
    category: Arc<str>,
    /// Read only while this instance owns it.
    partitioned: bool,
}

pub(super) async fn run<D: Dispatch>(
    consumer: Consumer,
    dispatch: D,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let config = consumer.config;
    let progress = consumer.progress;
    let limit = config.publish_timeout();
    let _running = progress.running((config.block() + limit) * 2);
    let keys = config.keys();
    let plans: Vec<Plan> = match consumer.streams {
        Some(streams) => streams
            .into_iter()
            .map(|stream| Plan {
                category: Arc::from(stream.rsplit(':').next().unwrap_or_default()),
                stream: Arc::from(stream),
                partitioned: false,
            })
            .collect(),
        None => consumer
            .categories
            .unwrap_or_else(|| dispatch.categories().iter().map(|c| (*c).to_owned()).collect())
            .iter()
            .flat_map(|category| {
                let layout = dispatch.layout(category);
                let category: Arc<str> = Arc::from(category.as_str());
                keys.event_streams(&category, &layout)
                    .into_iter()
                    .map(move |stream| Plan {
                        stream: Arc::from(stream),
                        category: category.clone(),
                        partitioned: layout.is_partitioned(),
                    })
            })
            .collect(),
    };
    if plans.is_empty() {
        return Err(Error::NoStreams);
    }
    let streams: Vec<Arc<str>> = plans.iter().map(|plan| plan.stream.clone()).collect();
    let mut connection = connection::open(&config, limit)?;
    let mut shutdown = std::pin::pin!(shutdown);

    connection::check_server(&mut connection, &config, limit).await?;
    let mut outage = Outage::new("creating consumer groups");
    loop {
        match groups::create(&mut connection, &streams, config.group(), config.start(), limit).await {
            Ok(()) => break,
            Err(error) if groups::is_fatal(&error) => {
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

    let window = Window::new(config.max_in_flight(), progress.clone());
    let (sender, mut fetched) = mpsc::unbounded_channel();
    let (quiet_sender, mut quiet) = mpsc::unbounded_channel();
    let run_id = uuid::Uuid::now_v7();
    let shared = Arc::new(Shared {
        dispatch,
        connection: connection.clone(),
        dead_letters: keys.dead_letters(config.group()),
        keys: keys.clone(),
        group: config.group().to_owned(),
        consumer: config.consumer().to_owned(),
        default_policy: config.default_policy(),
        idempotency: config
            .idempotency_ttl()
            .map(|ttl| Idempotency::new(ttl, config.claim_idle(), config.consumer(), run_id)),
        limit,
        metrics: crate::telemetry::ConsumerMetrics::new(config.group()),
    });
    let mut tasks = Tasks {
        set: JoinSet::new(),
        kinds: HashMap::new(),
        readers: HashMap::new(),
        failures: VecDeque::new(),
        factory: TaskFactory {
            config: config.clone(),
            connection: connection.clone(),
            window: window.clone(),
            out: sender,
            quiet: quiet_sender,
            progress: progress.clone(),
            plans: plans.clone(),
        },
    };
    for plan in plans.iter().filter(|plan| !plan.partitioned) {
        tasks.start(Task::Reader(plan.stream.clone(), Whose::Own))?;
    }
    tasks.start(Task::Reclaimer)?;
    let partitions: Vec<Arc<str>> = plans
        .iter()
        .filter(|plan| plan.partitioned)
        .map(|plan| plan.stream.clone())
        .collect();
    let (changes_sender, mut changes) = mpsc::unbounded_channel();
    let (released, released_receiver) = mpsc::unbounded_channel();
    let (stop_owner, owner_stopped) = oneshot::channel();
    if !partitions.is_empty() {
        let owner = Owner {
            connection: connection.clone(),
            members: keys.members(config.group()),
            consumer: config.consumer().to_owned(),
            token: format!("{}/{run_id}", config.consumer()),
            streams: partitions
                .iter()
                .map(|stream| (stream.clone(), keys.partition_lease(config.group(), stream)))
                .collect(),
            lease: config.partition_lease(),
            limit,
            out: changes_sender,
            released: released_receiver,
            progress: progress.clone(),
        };
        let handle = tasks.set.spawn(owner.run(owner_stopped));
        tasks.watch_owner(handle);
    }
    tracing::info!(group = %shared.group, consumer = %shared.consumer, ?streams, "consumer started");

    let max_stubs = config.max_in_flight().saturating_mul(STUBS_PER_PLACE);
    let mut state = State {
        shared,
        window,
        lanes: Lanes::default(),
        held: HashMap::new(),
        stubs: 0,
        max_stubs,
        workers: FuturesUnordered::new(),
        acks: HashMap::new(),
        settled: RecentlySettled::default(),
        flushes: JoinSet::new(),
        renewals: JoinSet::new(),
        not_owned: partitions.iter().cloned().collect(),
        releasing: Handovers::new(PARTITION_BLOCK * READS_IN_FLIGHT as u32 + limit),
        released,
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
        if state.flushes.is_empty() && !state.acks.is_empty() {
            state.flush_acks();
        }
        if deadline.is_none() {
            state.hand_over_drained();
        }
        if deadline.is_some() && state.workers.is_empty() && state.flushes.is_empty() && state.acks.is_empty() {
            break;
        }
        let next_due = state
            .lanes
            .next_due()
            .into_iter()
            .chain(state.releasing.next_due())
            .min();
        tokio::select! {
            biased;
            Some(finished) = state.workers.next(), if !state.workers.is_empty() => {
                state.finish(finished, deadline.is_some());
            }
            Some(flushed) = state.flushes.join_next(), if !state.flushes.is_empty() => {
                if let Err(error) = flushed {
                    tracing::error!(%error, "acking handled entries failed; they stay pending and will be delivered again");
                }
            }
            Some(renewed) = state.renewals.join_next(), if !state.renewals.is_empty() => {
                if let Err(error) = renewed {
                    tracing::error!(%error, "renewing claims on held entries failed");
                }
            }
            Some(ended) = tasks.set.join_next_with_id(), if !tasks.set.is_empty() && deadline.is_none() => {
                tasks.ended(ended)?;
            }
            Some(change) = changes.recv(), if deadline.is_none() => {
                match change {
                    Change::Acquired(stream) => {
                        state.not_owned.remove(&stream);
                        if !tasks.reads(&stream) {
                            tasks.start(Task::Reader(stream, Whose::Everyone))?;
                        }
                    }
                    Change::Revoked(stream) => {
                        let reader = tasks.stop_reader(&stream);
                        state.let_go(&stream);
                        state.releasing.start(stream, reader, Instant::now());
                    }
                    Change::Lost(stream) => {
                        tasks.abort_reader(&stream);
                        if let Some(reader) = state.releasing.cancel(&stream) {
                            reader.abort();
                        }
                        state.let_go(&stream);
                    }
                }
            }
            Some(batch) = fetched.recv(), if deadline.is_none() => state.admit(batch),
            Some((stream, reader)) = quiet.recv() => state.releasing.quiet(&stream, reader, Instant::now()),
            () = sleep_until(next_due), if next_due.is_some() && deadline.is_none() => {
                state.lanes.wake(Instant::now());
            }
            _ = renew.tick(), if deadline.is_none() && state.renewals.is_empty() && !state.held.is_empty() => {
                state.renew_claims();
            }
            () = &mut shutdown, if deadline.is_none() => {
                tracing::info!(running = state.workers.len(), "consumer stopping: finishing running handlers");
                for (stream, reader) in tasks.stop_all_but_owner() {
                    state.releasing.start(stream, Some(reader), Instant::now());
                }
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
    if let Some(store) = &state.shared.idempotency {
        store.release_abandoned(&state.shared.connection, limit).await;
    }
    // An ack flush under way is finished, not dropped; then the rest.
    let last = Duration::from_secs(1).max(limit);
    let _ = tokio::time::timeout(last, async { while state.flushes.join_next().await.is_some() {} }).await;
    if !state.acks.is_empty() {
        let acks = std::mem::take(&mut state.acks);
        let _ = tokio::time::timeout(last, ack(state.shared.clone(), acks, false)).await;
    }
    // Partitions are released only now, when nothing of theirs runs and no
    // read of theirs can take entries.
    while let Some(due) = state.releasing.next_due() {
        tokio::select! {
            Some((stream, reader)) = quiet.recv() => state.releasing.quiet(&stream, reader, Instant::now()),
            () = tokio::time::sleep_until(due.into()) => {}
        }
        for stream in state.releasing.quiet_ones(Instant::now()) {
            state.releasing.remove(&stream);
        }
    }
    let _ = stop_owner.send(());
    let _ = tokio::time::timeout(last * 2, async { while tasks.set.join_next().await.is_some() {} }).await;
    tracing::info!(group = %state.shared.group, consumer = %state.shared.consumer, "consumer stopped");
    Ok(())
}

/// A task the consumer runs and supervises.
#[derive(Debug, Clone)]
enum Task {
    /// Reads one stream, first finishing whose pending entries.
    Reader(Arc<str>, Whose),
    /// Claims entries of stopped consumers and removes departed ones.
    Reclaimer,
    /// Shares the partitions with the group's other instances.
    Owner,
}

/// Builds the consumer's tasks.
struct TaskFactory {
    config: Config,
    connection: Connection,
    window: Window,
    out: mpsc::UnboundedSender<Vec<Delivery>>,
    /// Where stopped readers report their streams quiet.
    quiet: mpsc::UnboundedSender<Quiet>,
    progress: ConsumerProgress,
    plans: Vec<Plan>,
}

impl TaskFactory {
    /// Whether `stream` is a partition (read only while owned).
    fn is_partition(&self, stream: &Arc<str>) -> bool {
        self.plans.iter().any(|plan| plan.partitioned && plan.stream == *stream)
    }

    fn reader(&self, stream: Arc<str>, first: Whose) -> Result<Reader, Error> {
        let partition = self.is_partition(&stream);
        let block = if partition {
            self.config.block().min(PARTITION_BLOCK)
        } else {
            self.config.block()
        };
        Ok(Reader {
            reads: ReadConnection::new(&self.config, &stream, &self.connection)?,
            calls: self.connection.clone(),
            stream,
            group: self.config.group().to_owned(),
            consumer: self.config.consumer().to_owned(),
            first,
            sweep_idle: partition.then(|| self.config.claim_idle()),
            batch: self.config.batch_size(),
            block,
            limit: self.config.publish_timeout(),
            window: self.window.clone(),
            out: self.out.clone(),
            quiet: self.quiet.clone(),
            progress: self.progress.clone(),
            closed: None,
        })
    }

    fn reclaimer(&self) -> Reclaimer {
        Reclaimer {
            connection: self.connection.clone(),
            shared: self
                .plans
                .iter()
                .filter(|plan| !plan.partitioned)
                .map(|plan| (plan.stream.clone(), plan.category.clone()))
                .collect(),
            all: self.plans.iter().map(|plan| plan.stream.clone()).collect(),
            group: self.config.group().to_owned(),
            consumer: self.config.consumer().to_owned(),
            batch: self.config.batch_size(),
            claim_idle: self.config.claim_idle(),
            consumer_expiry: self.config.consumer_expiry(),
            limit: self.config.publish_timeout(),
            window: self.window.clone(),
            out: self.out.clone(),
        }
    }
}

/// The consumer's supervised tasks: a task that panics is restarted; one
/// that keeps failing stops the consumer with an error.
struct Tasks {
    set: JoinSet<()>,
    kinds: HashMap<tokio::task::Id, (Task, AbortHandle)>,
    /// The running readers, by stream, and how to stop each.
    readers: HashMap<Arc<str>, (AbortHandle, oneshot::Sender<()>)>,
    /// When tasks failed lately.
    failures: VecDeque<Instant>,
    factory: TaskFactory,
}

impl Tasks {
    fn start(&mut self, task: Task) -> Result<(), Error> {
        self.start_after(task, None)
    }

    /// Starts `task`; a reader in place of one whose connection closed at
    /// `closed` (it failed), whose reads Redis may still run a moment.
    fn start_after(&mut self, task: Task, closed: Option<Instant>) -> Result<(), Error> {
        let handle = match &task {
            Task::Reader(stream, first) => {
                let (stop, stopped) = Stop::new();
                let mut reader = self.factory.reader(stream.clone(), *first)?;
                reader.closed = closed;
                let handle = self.set.spawn(reader.run(stopped));
                self.readers.insert(stream.clone(), (handle.clone(), stop));
                handle
            }
            Task::Reclaimer => self.set.spawn(self.factory.reclaimer().run()),
            Task::Owner => return Err(Error::Failed("the partition owner cannot be restarted".into())),
        };
        self.kinds.insert(handle.id(), (task, handle));
        Ok(())
    }

    /// Watches the owner's task.
    fn watch_owner(&mut self, handle: AbortHandle) {
        self.kinds.insert(handle.id(), (Task::Owner, handle));
    }

    /// Whether the reader of `stream` runs.
    fn reads(&self, stream: &Arc<str>) -> bool {
        self.readers.contains_key(stream)
    }

    /// Tells the reader of `stream`, if one runs, to stop: it reports the
    /// stream quiet when it has (see [`Reader`]). Its task is no longer
    /// supervised: however it ends, it is not restarted. Answers how to
    /// abort it.
    fn stop_reader(&mut self, stream: &Arc<str>) -> Option<AbortHandle> {
        let (handle, stop) = self.readers.remove(stream)?;
        self.kinds.remove(&handle.id());
        let _ = stop.send(());
        Some(handle)
    }

    /// Stops the reader of `stream` at once, if one runs.
    fn abort_reader(&mut self, stream: &Arc<str>) {
        if let Some((handle, _)) = self.readers.remove(stream) {
            handle.abort();
        }
    }

    /// Stops every task but the owner (which releases partitions last):
    /// partitions' readers as [`Tasks::stop_reader`] does, the rest at once.
    /// Answers the partitions whose readers are stopping, with their tasks.
    fn stop_all_but_owner(&mut self) -> Vec<(Arc<str>, AbortHandle)> {
        let partitions: Vec<Arc<str>> = self
            .readers
            .keys()
            .filter(|stream| self.factory.is_partition(stream))
            .cloned()
            .collect();
        let stopping = partitions
            .into_iter()
            .filter_map(|stream| Some((stream.clone(), self.stop_reader(&stream)?)))
            .collect();
        self.readers.clear();
        for (task, handle) in self.kinds.values() {
            if !matches!(task, Task::Owner) {
                handle.abort();
            }
        }
        stopping
    }

    /// A task ended: restarts it if it failed (and is still wanted), or
    /// stops the consumer when tasks keep failing.
    fn ended(&mut self, ended: Result<(tokio::task::Id, ()), tokio::task::JoinError>) -> Result<(), Error> {
        let (id, why) = match ended {
            Ok((id, ())) => (id, None),
            Err(error) if error.is_cancelled() => {
                self.kinds.remove(&error.id());
                return Ok(());
            }
            Err(error) => (error.id(), Some(error.to_string())),
        };
        let Some((task, _)) = self.kinds.remove(&id) else {
            // A stopped reader: done, or failed (its partition is then
            // handed over once the patience given it is out).
            if let Some(why) = why {
                tracing::warn!(%why, "a stopped reader failed");
            }
            return Ok(());
        };
        let why = why.unwrap_or_else(|| "it returned".to_owned());
        tracing::error!(task = ?task, %why, "a task of the consumer ended unexpectedly; restarting it");
        let now = Instant::now();
        self.failures.push_back(now);
        while self
            .failures
            .front()
            .is_some_and(|at| now.duration_since(*at) > FAILURE_WINDOW)
        {
            self.failures.pop_front();
        }
        if self.failures.len() > MAX_FAILURES {
            return Err(Error::Failed(format!(
                "its tasks failed {} times within {FAILURE_WINDOW:?}; the last, {task:?}: {why}",
                self.failures.len()
            )));
        }
        match task {
            Task::Reader(stream, first) => {
                // Only if still wanted: a revoked partition stays stopped.
                if self.readers.get(&stream).is_some_and(|(handle, _)| handle.id() == id) {
                    self.start_after(Task::Reader(stream, first), Some(now))?;
                }
                Ok(())
            }
            Task::Reclaimer => self.start(Task::Reclaimer),
            Task::Owner => Err(Error::Failed(format!("the partition owner failed: {why}"))),
        }
    }
}

/// The consumer loop's state.
struct State<D> {
    shared: Arc<Shared<D>>,
    window: Window,
    lanes: Lanes<Delivery>,
    /// Every entry held, by stream and id; `true` when it holds a place in
    /// the window (`false`: a stub).
    held: HashMap<(Arc<str>, String), bool>,
    stubs: usize,
    max_stubs: usize,
    /// Running handlers, polled by the consumer's own task: no task per
    /// entry, no wake-up across threads.
    workers: FuturesUnordered<Pin<Box<dyn Future<Output = Finished> + Send>>>,
    /// Ids to ack, by stream.
    acks: HashMap<Arc<str>, Vec<String>>,
    /// Entries settled a moment ago: delivered again, they are acked again.
    settled: RecentlySettled,
    /// The ack flush under way (one at a time).
    flushes: JoinSet<()>,
    /// The claim renewal under way (one at a time).
    renewals: JoinSet<()>,
    /// Partitions this instance does not read now (not acquired, revoked
    /// or lost): what comes of them is let go.
    not_owned: HashSet<Arc<str>>,
    /// Partitions revoked (or left at shutdown), being finished before they
    /// are handed over.
    releasing: Handovers,
    /// Tells the owner a revoked partition is finished.
    released: mpsc::UnboundedSender<Arc<str>>,
    progress: ConsumerProgress,
}

impl<D: Dispatch> State<D> {
    /// Takes fetched deliveries into their lanes. Dropped: a delivery of an
    /// entry held already (claimed twice), and one of a stream no longer
    /// read (a partition given up while its reader's last batch was on the
    /// way); both stay pending where they are. One of an entry settled a
    /// moment ago is acked again instead.
    fn admit(&mut self, batch: Vec<Delivery>) {
        for mut delivery in batch {
            let key = (delivery.stream.clone(), delivery.id.clone());
            if self.not_owned.contains(&delivery.stream) || self.held.contains_key(&key) {
                self.window.release(1);
                continue;
            }
            if self.settled.contains(&key) {
                self.window.release(1);
                self.acks.entry(key.0).or_default().push(key.1);
                continue;
            }
            let lane = delivery.lane();
            let far_behind = self.lanes.queued(&lane).is_some_and(|queued| queued >= KEPT_PER_LANE);
            let place = if far_behind && self.stubs < self.max_stubs {
                delivery.fields = None;
                delivery.stub = true;
                self.stubs += 1;
                self.window.release(1);
                false
            } else {
                true
            };
            self.held.insert(key, place);
            self.progress.hold(1);
            self.lanes.admit(lane, delivery);
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
            self.settled.insert(stream.clone(), id.clone());
        }
        match outcome {
            Outcome::Ack => self.acks.entry(stream.clone()).or_default().push(id.clone()),
            Outcome::Settled | Outcome::Release => {}
            Outcome::Retry { delivery, due } if !closing && !self.not_owned.contains(&stream) => {
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
        match self.held.remove(&(stream, id)) {
            Some(true) => self.window.release(1),
            Some(false) => self.stubs -= 1,
            None => return,
        }
        self.progress.release();
    }

    /// Stops handling `stream`: lets go of every entry of it not running
    /// (they stay pending, for the stream's next owner).
    fn let_go(&mut self, stream: &Arc<str>) {
        self.not_owned.insert(stream.clone());
        for delivery in self.lanes.drain_matching(|delivery| delivery.stream == *stream) {
            self.release(delivery.stream, delivery.id);
        }
    }

    /// Tells the owner about revoked partitions that hold nothing anymore
    /// (nothing running, nothing left to ack) and that no read of theirs
    /// can still take entries.
    fn hand_over_drained(&mut self) {
        if self.releasing.is_empty() {
            return;
        }
        let quiet = self.releasing.quiet_ones(Instant::now());
        if !self.flushes.is_empty() {
            return;
        }
        for stream in quiet {
            if !self.acks.contains_key(&stream) && !self.held.keys().any(|(s, _)| *s == stream) {
                self.releasing.remove(&stream);
                let _ = self.released.send(stream);
            }
        }
    }

    fn flush_acks(&mut self) {
        let acks = std::mem::take(&mut self.acks);
        let shared = self.shared.clone();
        self.flushes.spawn(ack(shared, acks, true));
    }

    /// Renews this consumer's claim on every entry it holds, so that no
    /// other consumer takes them while they wait or run.
    fn renew_claims(&mut self) {
        let mut pipe = SlotPipeline::new();
        let mut by_stream: HashMap<&Arc<str>, Vec<&str>> = HashMap::new();
        // Not on a partition whose lease was lost: its new owner holds them.
        let lost = |stream: &Arc<str>| self.not_owned.contains(stream) && !self.releasing.contains(stream);
        for (stream, id) in self.held.keys().filter(|(stream, _)| !lost(stream)) {
            by_stream.entry(stream).or_default().push(id);
        }
        for (stream, ids) in by_stream {
            for chunk in ids.chunks(500) {
                let claim = pipe
                    .cmd(stream, "XCLAIM")
                    .arg(&**stream)
                    .arg(&self.shared.group)
                    .arg(&self.shared.consumer)
                    .arg(0);
                for id in chunk {
                    claim.arg(*id);
                }
                claim.arg("JUSTID");
            }
        }
        let shared = self.shared.clone();
        self.renewals.spawn(async move {
            let mut connection = shared.connection.clone();
            let renewed = bounded(shared.limit, pipe.query(&mut connection)).await;
            if let Err(error) = renewed {
                tracing::debug!(%error, "could not renew claims on held entries");
            }
        });
    }
}

/// Acks `acks` (one `XACK` per stream, one round trip); with `persist`,
/// retries until Redis takes them.
async fn ack<D>(shared: Arc<Shared<D>>, acks: HashMap<Arc<str>, Vec<String>>, persist: bool) {
    let mut pipe = SlotPipeline::new();
    for (stream, ids) in &acks {
        pipe.cmd(stream, "XACK").arg(&**stream).arg(&shared.group).arg(ids);
    }
    let mut outage = Outage::quiet("acking entries");
    let mut connection: Connection = shared.connection.clone();
    loop {
        match bounded(shared.limit, pipe.query(&mut connection)).await {
            Ok(_) => return,
            Err(error) if persist => tokio::time::sleep(outage.failed(&error)).await,
            Err(error) => {
                tracing::warn!(%error, "could not ack handled entries at shutdown; they will be delivered again");
                return;
            }
        }
    }
}

async fn sleep_until(due: Option<Instant>) {
    if let Some(due) = due {
        tokio::time::sleep_until(due.into()).await;
    }
}
