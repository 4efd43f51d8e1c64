//! Shared test fixtures: hand-written events (generated code lives
//! elsewhere), a scriptable recording dispatcher, and helpers to run
//! consumers and wait for conditions with deadlines.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionLike;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use xerpium_messaging::connection::Connection;
use xerpium_messaging::testing::{RedisServer, TestRedis};
use xerpium_messaging::{
    Config, Consumer, ConsumerBuilder, DeliveryPolicy, Dispatch, Error, Event, HandlerError, HandlerResult, Message,
    Publish, PublishContext, Publisher, StreamLayout,
};

/// Runs each scenario named (an `async fn(Fixture)`) as two tests, in a
/// module of its name: `standalone`, on a single server, and `cluster`, on
/// a cluster of three masters and three replicas.
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn standalone() {
                    super::$scenario(super::fixture().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn cluster() {
                    super::$scenario(super::cluster_fixture().await).await;
                }
            }
        )*
    };
}
pub(crate) use on_both;

/// The longest any test waits for a condition.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The test event: `test.ping` in category `test`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    pub subject: String,
    pub n: u64,
}

/// Short retries for tests: 3 attempts, 20 ms to 100 ms.
pub const PING_POLICY: DeliveryPolicy = DeliveryPolicy {
    max_attempts: 3,
    backoff_first: Duration::from_millis(20),
    backoff_max: Duration::from_millis(100),
    retention: Duration::from_secs(24 * 3600),
    max_len: 1_000_000,
};

impl Event for Ping {
    const TYPE: &'static str = "test.ping";
    const CATEGORY: &'static str = "test";
    const VERSION: u32 = 1;
    const POLICY: DeliveryPolicy = PING_POLICY;

    fn subject(&self) -> String {
        self.subject.clone()
    }
}

impl Ping {
    pub fn new(subject: impl Into<String>, n: u64) -> Self {
        Ping {
            subject: subject.into(),
            n,
        }
    }
}

/// What the scripted handler does with one delivery.
#[derive(Debug, Clone)]
pub enum Step {
    Done,
    Retry,
    Permanent,
    Sleep(Duration),
    Hang,
    Panic,
}

/// One handler call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub subject: String,
    pub n: u64,
    pub entry_id: String,
    pub event_id: String,
    pub delivery_count: u32,
}

/// What handlers saw, shared by every consumer of a test.
#[derive(Default)]
pub struct Log {
    pub started: Mutex<Vec<Call>>,
    pub done: Mutex<Vec<Call>>,
    running: AtomicUsize,
    pub max_running: AtomicUsize,
    /// Handlers running now, per subject.
    running_per_subject: Mutex<HashMap<String, usize>>,
    /// The most handlers that ever ran at once for one subject.
    pub max_running_per_subject: AtomicUsize,
}

impl Log {
    pub fn done(&self) -> Vec<Call> {
        self.done.lock().expect("log").clone()
    }
    pub fn started(&self) -> Vec<Call> {
        self.started.lock().expect("log").clone()
    }
    /// For each subject, the `n`s handled to completion, in the order they
    /// completed, each once (a redelivery after a crash repeats nothing).
    pub fn done_in_order(&self) -> HashMap<String, Vec<u64>> {
        let mut order: HashMap<String, Vec<u64>> = HashMap::new();
        for call in self.done() {
            let seen = order.entry(call.subject).or_default();
            if !seen.contains(&call.n) {
                seen.push(call.n);
            }
        }
        order
    }

    fn enter(&self, subject: &str) {
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(running, Ordering::SeqCst);
        let mut per_subject = self.running_per_subject.lock().expect("log");
        let count = per_subject.entry(subject.to_owned()).or_default();
        *count += 1;
        self.max_running_per_subject.fetch_max(*count, Ordering::SeqCst);
    }

    fn leave(&self, subject: &str) {
        self.running.fetch_sub(1, Ordering::SeqCst);
        if let Some(count) = self.running_per_subject.lock().expect("log").get_mut(subject) {
            *count -= 1;
        }
    }

    /// How often each `n` was handled to completion.
    pub fn done_counts(&self) -> HashMap<u64, usize> {
        let mut counts = HashMap::new();
        for call in self.done() {
            *counts.entry(call.n).or_default() += 1;
        }
        counts
    }
}

type Script = dyn Fn(&Ping, u32) -> Step + Send + Sync;

/// A dispatcher (for category `test` unless told otherwise) that records
/// calls of pings and follows a script.
#[derive(Clone)]
pub struct Recorder {
    pub log: Arc<Log>,
    script: Arc<Script>,
    categories: &'static [&'static str],
    layout: StreamLayout,
    /// The policy of pings; `None`: the configured default policy.
    policy: Option<DeliveryPolicy>,
}

/// Leaves the handler's mark in the log even when its future is dropped
/// (a crash, an abandoned handler).
struct InHandler<'a>(&'a Log, String);

impl Drop for InHandler<'_> {
    fn drop(&mut self) {
        self.0.leave(&self.1);
    }
}

impl Recorder {
    pub fn new(script: impl Fn(&Ping, u32) -> Step + Send + Sync + 'static) -> Self {
        Recorder {
            log: Arc::new(Log::default()),
            script: Arc::new(script),
            categories: &["test"],
            layout: StreamLayout::DEFAULT,
            policy: Some(Ping::POLICY),
        }
    }

    /// Gives pings no policy of their own: the configured default applies.
    pub fn with_default_policy(mut self) -> Self {
        self.policy = None;
        self
    }

    /// Reads `categories` instead (pings are accepted from any of them).
    pub fn reading(mut self, categories: &'static [&'static str]) -> Self {
        self.categories = categories;
        self
    }

    /// Lays the categories out in `partitions` partitions.
    pub fn partitioned(mut self, partitions: u32) -> Self {
        self.layout = StreamLayout {
            partitions,
            ..StreamLayout::DEFAULT
        };
        self
    }

    /// Handles everything at once.
    pub fn ok() -> Self {
        Self::new(|_, _| Step::Done)
    }
}

impl Dispatch for Recorder {
    fn categories(&self) -> &'static [&'static str] {
        self.categories
    }

    fn layout(&self, _category: &str) -> StreamLayout {
        self.layout
    }

    async fn dispatch(&self, message: &Message) -> HandlerResult {
        if message.envelope.event_type != Ping::TYPE {
            return Err(HandlerError::unknown_type(message));
        }
        let ping: Ping = message.decode()?;
        let call = Call {
            subject: ping.subject.clone(),
            n: ping.n,
            entry_id: message.entry_id.clone(),
            event_id: message.envelope.id.to_string(),
            delivery_count: message.delivery_count,
        };
        self.log.started.lock().expect("log").push(call.clone());
        self.log.enter(&call.subject);
        let running = InHandler(&self.log, call.subject.clone());
        let step = (self.script)(&ping, message.delivery_count);
        let result = match step {
            Step::Done => Ok(()),
            Step::Retry => Err(HandlerError::retry("not yet")),
            Step::Permanent => Err(HandlerError::permanent("never")),
            Step::Sleep(delay) => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
            Step::Hang => std::future::pending().await,
            Step::Panic => panic!("handler exploded on {}", ping.n),
        };
        drop(running);
        if result.is_ok() {
            self.log.done.lock().expect("log").push(call);
        }
        result
    }

    fn policy(&self, event_type: &str) -> Option<DeliveryPolicy> {
        self.policy.filter(|_| event_type == Ping::TYPE)
    }
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A server (or a cluster), a configuration for service `svc` on it, a
/// publisher and a plain connection for looking at what happened.
pub struct Fixture {
    pub server: TestRedis,
    pub config: Config,
    pub publisher: Publisher,
    pub redis: Connection,
    /// The stream of category `test`.
    pub stream: String,
    /// The dead-letter stream of group `svc`.
    pub dlq: String,
}

/// A fixture on a single server.
pub async fn fixture() -> Fixture {
    init_tracing();
    fixture_on(TestRedis::Standalone(
        RedisServer::start().expect("redis-server starts"),
    ))
    .await
}

/// A fixture on a cluster.
pub async fn cluster_fixture() -> Fixture {
    init_tracing();
    fixture_on(TestRedis::start_cluster().expect("the cluster starts")).await
}

/// A fixture on `server`, with the short test timings.
pub async fn fixture_on(server: TestRedis) -> Fixture {
    let config = server.config("svc").build().expect("valid config");
    let publisher = publisher(&config).await;
    let redis = redis(&config);
    Fixture {
        stream: config.keys().events("test"),
        dlq: config.keys().dead_letters("svc"),
        server,
        config,
        publisher,
        redis,
    }
}

impl Fixture {
    /// Publishes one ping; returns its entry id.
    pub async fn send(&self, subject: &str, n: u64) -> String {
        self.publisher
            .publish(&Ping::new(subject, n), &PublishContext::new())
            .await
            .expect("published")
    }

    /// Publishes pings `0..count`, subject `s<n % subjects>`, in batches.
    pub async fn send_many(&self, count: u64, subjects: u64) {
        let pings: Vec<Ping> = (0..count).map(|n| Ping::new(format!("s{}", n % subjects), n)).collect();
        for chunk in pings.chunks(50) {
            self.publisher
                .publish_batch(chunk, &PublishContext::new())
                .await
                .expect("published");
        }
    }

    /// Creates group `svc` on the test stream, from the start.
    pub async fn create_group(&self) {
        let _: () = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg("svc")
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.redis.clone())
            .await
            .expect("XGROUP CREATE");
    }

    /// Entries of the test stream pending in group `svc`.
    pub async fn pending(&self) -> usize {
        pending(&mut self.redis.clone(), &self.stream, "svc").await
    }

    /// The dead letters of group `svc`.
    pub async fn dead_letters(&self) -> Vec<HashMap<String, String>> {
        entries(&mut self.redis.clone(), &self.dlq).await
    }

    /// Waits until group `svc` holds nothing pending.
    pub async fn all_acked(&self) {
        eventually("every entry is acked", || async { self.pending().await == 0 }).await;
    }

    /// Waits until the dead-letter stream holds `count` entries.
    pub async fn dead_lettered(&self, count: usize) {
        eventually("entries are dead-lettered", || async {
            len(&mut self.redis.clone(), &self.dlq).await == count
        })
        .await;
    }
}

/// A fresh server.
pub fn server() -> RedisServer {
    init_tracing();
    RedisServer::start().expect("redis-server starts")
}

pub async fn publisher(config: &Config) -> Publisher {
    Publisher::connect(config).await.expect("publisher")
}

/// A configuration for the test service `svc` on `server`.
pub fn config(server: &RedisServer) -> Config {
    server.config("svc").build().expect("valid config")
}

/// `f` with publishes that wait for a replica (`publish_replicas(1)`), so
/// that a failover loses nothing a publish acknowledged.
pub async fn waiting_for_a_replica(mut f: Fixture) -> Fixture {
    f.config = f
        .config
        .clone()
        .into_builder()
        .publish_replicas(1)
        .build()
        .expect("config");
    f.publisher = publisher(&f.config).await;
    f
}

/// A plain connection to `config`'s Redis (a server or a cluster).
pub fn redis(config: &Config) -> Connection {
    Connection::open(config).expect("a connection")
}

/// A consumer running in a task.
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<(), Error>>,
}

impl Running {
    /// Asks it to shut down and waits until it did.
    pub async fn stop(self) {
        self.stop_within(PATIENCE).await;
    }

    /// Asks it to shut down and waits until it did, at most `patience`.
    pub async fn stop_within(mut self, patience: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = &mut self.task;
        tokio::time::timeout(patience, task)
            .await
            .expect("consumer stops in time")
            .expect("consumer task")
            .expect("consumer ends cleanly");
    }

    /// Drops it at once, as a crash would (nothing acked, nothing drained).
    pub async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Starts a consumer built from `config` with `tweak`.
pub fn spawn<D: Dispatch>(
    config: &Config,
    dispatch: D,
    tweak: impl FnOnce(ConsumerBuilder) -> ConsumerBuilder,
) -> Running {
    let consumer = tweak(Consumer::builder(config)).build().expect("valid consumer");
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(consumer.run(dispatch, async move {
        let _ = stopped.await;
    }));
    Running { stop: Some(stop), task }
}

/// Waits until `condition` holds, failing the test after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if condition().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The entries of stream `key`, as field maps.
pub async fn entries(connection: &mut (impl ConnectionLike + Send), key: &str) -> Vec<HashMap<String, String>> {
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(connection)
        .await
        .expect("XRANGE");
    reply
        .ids
        .into_iter()
        .map(|entry| {
            entry
                .map
                .into_iter()
                .map(|(k, v)| (k, redis::from_redis_value::<String>(v).expect("string field")))
                .collect()
        })
        .collect()
}

/// Checks that a stream entry is a valid CloudEvent in binary mode (by the
/// CloudEvents SDK's rules); returns the event.
pub fn assert_cloudevent(entry: &HashMap<String, String>) -> cloudevents::Event {
    let fields: Vec<(String, String)> = entry.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    xerpium_messaging::testing::read_as_cloudevent(&fields)
        .unwrap_or_else(|why| panic!("not a CloudEvent: {why}: {entry:?}"))
}

/// How many entries of `stream` group `group` still has pending.
pub async fn pending(connection: &mut (impl ConnectionLike + Send), stream: &str, group: &str) -> usize {
    let reply: redis::Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query_async(connection)
        .await
        .expect("XPENDING");
    match reply {
        redis::Value::Array(parts) => match parts.first() {
            Some(redis::Value::Int(count)) => usize::try_from(*count).expect("count"),
            _ => 0,
        },
        _ => 0,
    }
}

/// `XLEN key`.
pub async fn len(connection: &mut (impl ConnectionLike + Send), key: &str) -> usize {
    redis::cmd("XLEN").arg(key).query_async(connection).await.expect("XLEN")
}

/// The ids of the entries of `stream` pending in `group`.
pub async fn pending_entries(connection: &mut (impl ConnectionLike + Send), stream: &str, group: &str) -> Vec<String> {
    let rows: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .arg("-")
        .arg("+")
        .arg(100_000)
        .query_async(connection)
        .await
        .expect("XPENDING");
    rows.into_iter().map(|(id, ..)| id).collect()
}

/// Reads up to `count` new entries of the test stream as consumer
/// `consumer` of group `svc`, without handling them.
pub async fn read_as(f: &Fixture, consumer: &str, count: usize) {
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("svc")
        .arg(consumer)
        .arg("COUNT")
        .arg(count)
        .arg("STREAMS")
        .arg(&f.stream)
        .arg(">")
        .query_async(&mut f.redis.clone())
        .await
        .expect("XREADGROUP");
}
