//! What the `throughput` and `cluster` benchmarks share: the event types
//! they publish, the consumer that counts them, and the loops that publish,
//! consume and time them.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use xerpium_messaging::testing::RedisServer;
use xerpium_messaging::{
    Config, ConfigBuilder, ConfigError, Consumer, DeliveryPolicy, Dispatch, Event, HandlerResult, Message, Publish,
    PublishContext, Publisher, StartPosition, StreamLayout,
};

/// The error of a benchmark step.
pub type BenchError = Box<dyn std::error::Error>;

/// Partitions of the ordered category of the benchmarks.
pub const PARTITIONS: u32 = 8;

/// The instant the benchmark started: what [`Tick::sent_ns`] counts from.
pub fn clock() -> &'static Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now)
}

/// The benchmarks' event: a counter, the time it was made and padding to
/// an entry of about 400 bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tick {
    /// Its number; also picks its subject.
    pub n: u64,
    /// When it was made, in nanoseconds since [`clock`].
    pub sent_ns: u64,
    /// Makes the entry about 400 bytes.
    pub padding: String,
}

impl Tick {
    /// Tick number `n`, made now.
    pub fn new(n: u64) -> Self {
        Tick {
            n,
            sent_ns: u64::try_from(clock().elapsed().as_nanos()).unwrap_or(u64::MAX),
            // JSON of ~230 bytes: with the metadata, an entry of ~400 bytes.
            padding: "x".repeat(180),
        }
    }
}

impl Event for Tick {
    const TYPE: &'static str = "bench.tick";
    const CATEGORY: &'static str = "bench";
    const VERSION: u32 = 1;
    const POLICY: DeliveryPolicy = DeliveryPolicy {
        max_len: 10_000_000,
        ..DeliveryPolicy::DEFAULT
    };
    const STREAM: StreamLayout = StreamLayout {
        max_len: 10_000_000,
        ..StreamLayout::DEFAULT
    };

    fn subject(&self) -> String {
        format!("subject-{}", self.n % 1000)
    }
}

/// The same tick in an ordered category of [`PARTITIONS`] partitions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderedTick(pub Tick);

impl OrderedTick {
    /// Tick number `n`, made now, in the ordered category.
    pub fn new(n: u64) -> Self {
        OrderedTick(Tick::new(n))
    }
}

impl Event for OrderedTick {
    const TYPE: &'static str = "ordered.tick";
    const CATEGORY: &'static str = "ordered";
    const VERSION: u32 = 1;
    const POLICY: DeliveryPolicy = Tick::POLICY;
    const STREAM: StreamLayout = StreamLayout {
        partitions: PARTITIONS,
        ..Tick::STREAM
    };

    fn subject(&self) -> String {
        self.0.subject()
    }
}

/// Decodes each entry and does nothing else; counts, and records latencies
/// when asked.
#[derive(Clone, Default)]
pub struct Noop {
    /// Entries handled so far.
    pub handled: Arc<AtomicU64>,
    /// Publish→handler latencies in nanoseconds, when recorded.
    pub latencies: Option<Arc<Mutex<Vec<u64>>>>,
    /// Reads the ordered category instead of `bench`.
    pub ordered: bool,
}

impl Dispatch for Noop {
    fn categories(&self) -> &'static [&'static str] {
        if self.ordered { &["ordered"] } else { &["bench"] }
    }

    fn layout(&self, _category: &str) -> StreamLayout {
        if self.ordered {
            OrderedTick::STREAM
        } else {
            Tick::STREAM
        }
    }

    async fn dispatch(&self, message: &Message) -> HandlerResult {
        let tick: Tick = message.decode()?;
        if let Some(latencies) = &self.latencies {
            let now = u64::try_from(clock().elapsed().as_nanos()).unwrap_or(u64::MAX);
            latencies
                .lock()
                .map_err(|_| xerpium_messaging::HandlerError::permanent("poisoned"))?
                .push(now.saturating_sub(tick.sent_ns));
        }
        self.handled.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn policy(&self, _: &str) -> Option<DeliveryPolicy> {
        Some(Tick::POLICY)
    }
}

/// `builder` in `namespace` with the default settings (batches of 100, as
/// the read ceiling's `COUNT 100`), but reads blocking 200 ms, so that a
/// stopped consumer ends soon.
pub fn tuned(builder: ConfigBuilder, namespace: &str) -> Result<Config, ConfigError> {
    builder.namespace(namespace).block(Duration::from_millis(200)).build()
}

/// Publishes `total` events made by `make`: one by one, each awaited
/// before the next, when `batch` is 1, else in batches of `batch` (one
/// pipeline each); returns msgs/s.
pub async fn publish_events<E: Event>(
    publisher: &Publisher,
    total: u64,
    batch: u64,
    make: impl Fn(u64) -> E,
) -> Result<f64, BenchError> {
    let context = PublishContext::new();
    let started = Instant::now();
    for start in (0..total).step_by(usize::try_from(batch)?) {
        if batch == 1 {
            publisher.publish(&make(start), &context).await?;
        } else {
            let events: Vec<E> = (start..(start + batch).min(total)).map(&make).collect();
            publisher.publish_batch(&events, &context).await?;
        }
    }
    Ok(rate(total, started))
}

/// Starts `consumers` consumers of the `bench` category (of the ordered one
/// if `ordered`) from the beginning, waits until they have handled `total`
/// entries (a backlog published before), stops them; returns msgs/s.
pub async fn consume_backlog(config: &Config, consumers: usize, ordered: bool, total: u64) -> Result<f64, BenchError> {
    let noop = Noop {
        ordered,
        ..Noop::default()
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..consumers {
        let consumer = Consumer::builder(config)
            .consumer(format!("c{c}"))
            .start(StartPosition::Beginning)
            .build()?;
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(consumer.run(noop.clone(), async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })));
    }
    while noop.handled.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let figure = rate(total, started);
    stop.send(true)?;
    for task in tasks {
        task.await??;
    }
    Ok(figure)
}

/// Runs `redis-cli -p <port>` with `args`; fails if it does, or if the
/// server answers with an error.
pub fn redis_cli(port: u16, args: &[&str]) -> Result<(), BenchError> {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()?;
    let reply = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || reply.starts_with("ERR") {
        return Err(format!("redis-cli {} failed: {reply}", args.join(" ")).into());
    }
    Ok(())
}

/// Empties `server` (`FLUSHALL`).
pub fn flush(server: &RedisServer) -> Result<(), BenchError> {
    redis_cli(server.port(), &["FLUSHALL"])
}

/// `count` over the time since `started`, per second.
pub fn rate(count: u64, started: Instant) -> f64 {
    count as f64 / started.elapsed().as_secs_f64()
}
