//! Throughput and latency of the runtime against `redis-benchmark` as the
//! reference, in the same run on the same server:
//!
//! ```text
//! cargo bench -p xerpium-messaging --features testing --bench throughput
//! ```
//!
//! Prints each figure with its ratio to the matching `redis-benchmark`
//! figure, and the issue's target. Not a test: nothing fails on a miss.

mod common;

use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Noop, OrderedTick, PARTITIONS, Tick, consume_backlog, flush, publish_events, tuned};
use xerpium_messaging::testing::RedisServer;
use xerpium_messaging::{Config, Consumer, Event, Publish, PublishContext, Publisher, StartPosition};

/// Entries in a stream entry of this size are about 400 bytes with their
/// metadata fields; the reference XADD carries the same size.
const ENTRY_BYTES: usize = 400;
const AWAITED: u64 = 20_000;
const PIPELINED: u64 = 200_000;
const BACKLOG: u64 = 200_000;
const RSS_BACKLOG: u64 = 1_000_000;
const RATE: u64 = 2_000;
const LATENCY_SECONDS: u64 = 5;
const RSS_CHILD: &str = "--rss-child";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if let Some(at) = args.iter().position(|a| a == RSS_CHILD) {
        let url = args.get(at + 1).ok_or("missing url")?;
        let namespace = args.get(at + 2).ok_or("missing namespace")?;
        return runtime.block_on(rss_child(url, namespace));
    }
    // `cargo bench … -- consume` runs only the sections whose name has `consume`.
    let filter = args.iter().skip(1).find(|a| !a.starts_with("--")).cloned();
    runtime.block_on(bench(&move |section: &str| {
        filter.as_deref().is_none_or(|f| section.contains(f))
    }))
}

async fn bench(wanted: &dyn Fn(&str) -> bool) -> Result<(), Box<dyn std::error::Error>> {
    let server = RedisServer::start_with(&["--appendonly", "no"])?;
    let config = |namespace: &str| tuned(server.config_with_defaults("bench"), namespace);
    let reference_p1 = redis_benchmark(server.port(), 1, AWAITED * 2)?;
    let reference_p64 = redis_benchmark(server.port(), 64, PIPELINED * 2)?;
    let same_shape_p1 = redis_benchmark_same_shape(server.port(), 1, AWAITED * 2)?;
    let same_shape_p64 = redis_benchmark_same_shape(server.port(), 64, PIPELINED * 2)?;
    flush(&server)?;
    println!("reference: redis-benchmark XADD ({ENTRY_BYTES} B) -c 1 -P 1:  {reference_p1:>10.0} msgs/s");
    println!("reference: redis-benchmark XADD ({ENTRY_BYTES} B) -c 1 -P 64: {reference_p64:>10.0} msgs/s");
    println!(
        "(same XADD with the runtime's 12 fields + MINID ~: -P 1 {same_shape_p1:.0} msgs/s = {:.1} %, \
         -P 64 {same_shape_p64:.0} msgs/s = {:.1} % of the references: Redis's own ceiling for this entry shape)",
        100.0 * same_shape_p1 / reference_p1,
        100.0 * same_shape_p64 / reference_p64
    );

    if wanted("awaited") {
        let publisher = Publisher::connect(&config("awaited")?).await?;
        let figure = publish_events(&publisher, AWAITED, 1, Tick::new).await?;
        report("publish, awaited one by one", figure, reference_p1, "≥ 80 %");
        flush(&server)?;
    }

    if wanted("pipelined") {
        let publisher = Publisher::connect(&config("pipelined")?).await?;
        let figure = publish_events(&publisher, PIPELINED, 100, Tick::new).await?;
        report("publish, pipelined batches of 100", figure, reference_p64, "≥ 60 %");
        flush(&server)?;
    }

    let runs = [(1, false), (4, false), (1, true), (4, true)];
    for (consumers, ordered) in runs.into_iter().filter(|_| wanted("consume")) {
        let namespace = format!("consume{consumers}{ordered}");
        let config = config(&namespace)?;
        let publisher = Publisher::connect(&config).await?;
        if ordered {
            publish_events(&publisher, BACKLOG, 100, OrderedTick::new).await?;
        } else {
            publish_events(&publisher, BACKLOG, 100, Tick::new).await?;
        }
        let figure = consume_backlog(&config, consumers, ordered, BACKLOG).await?;
        let target = if consumers == 1 && !ordered {
            "≥ 40 %"
        } else {
            "(no target)"
        };
        let what = if ordered {
            format!("consume ordered ({PARTITIONS} partitions), {consumers} consumer(s)")
        } else {
            format!("consume, {consumers} consumer(s), from a backlog")
        };
        report(&what, figure, reference_p64, target);
        flush(&server)?;
    }

    if wanted("latency") {
        latency(&config("latency")?).await?;
        flush(&server)?;
    }
    if wanted("rss") {
        rss(&server).await?;
    }
    Ok(())
}

/// `redis-benchmark` XADD of one `ENTRY_BYTES` field, msgs/s.
fn redis_benchmark(port: u16, pipeline: u64, requests: u64) -> Result<f64, Box<dyn std::error::Error>> {
    let value = "v".repeat(ENTRY_BYTES);
    redis_benchmark_xadd(port, pipeline, requests, &["*", "data", &value])
}

/// `redis-benchmark` XADD of an entry shaped like the runtime's (its
/// fields, `MINID ~`), msgs/s: what Redis itself allows for that shape.
fn redis_benchmark_same_shape(port: u16, pipeline: u64, requests: u64) -> Result<f64, Box<dyn std::error::Error>> {
    let envelope = xerpium_messaging::Envelope {
        id: uuid::Uuid::now_v7(),
        event_type: Tick::TYPE.to_owned(),
        version: Tick::VERSION,
        source: "bench".to_owned(),
        time: chrono::Utc::now(),
        subject: Tick::new(0).subject(),
        correlation_id: uuid::Uuid::now_v7().to_string(),
        causation_id: None,
        traceparent: None,
        tracestate: None,
        data: serde_json::to_string(&Tick::new(0))?,
    };
    let mut args: Vec<String> = ["MINID", "~", "1", "*"].map(str::to_owned).to_vec();
    for (name, value) in envelope.to_fields() {
        args.push(name.to_owned());
        args.push(value);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    redis_benchmark_xadd(port, pipeline, requests, &args)
}

fn redis_benchmark_xadd(
    port: u16,
    pipeline: u64,
    requests: u64,
    xadd: &[&str],
) -> Result<f64, Box<dyn std::error::Error>> {
    let output = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-c", "1", "-q"])
        .args(["-P", &pipeline.to_string(), "-n", &requests.to_string()])
        .args(["XADD", "reference"])
        .args(xadd)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    // `XADD …: 34965.03 requests per second, p50=…`, possibly after progress lines ending in `\r`.
    let line = text
        .rsplit(['\r', '\n'])
        .find(|line| line.contains("requests per second"))
        .ok_or_else(|| format!("unexpected redis-benchmark output: {text}"))?;
    let figure = line
        .rsplit(": ")
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| format!("unexpected redis-benchmark line: {line}"))?;
    Ok(figure.parse()?)
}

/// Publish→handler latency at a fixed rate.
async fn latency(config: &Config) -> Result<(), Box<dyn std::error::Error>> {
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let noop = Noop {
        latencies: Some(latencies.clone()),
        ..Noop::default()
    };
    let consumer = Consumer::builder(config).build()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(consumer.run(noop.clone(), async move {
        let _ = stopped.await;
    }));
    // Let the consumer create its group and block in its first read.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let publisher = Publisher::connect(config).await?;
    let total = RATE * LATENCY_SECONDS;
    let mut interval = tokio::time::interval(Duration::from_nanos(1_000_000_000 / RATE));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let context = PublishContext::new();
    for n in 0..total {
        interval.tick().await;
        publisher.publish(&Tick::new(n), &context).await?;
    }
    while noop.handled.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let _ = stop.send(());
    task.await??;
    let mut latencies = latencies.lock().map_err(|_| "poisoned")?.clone();
    latencies.sort_unstable();
    let at = |q: f64| Duration::from_nanos(latencies[((latencies.len() - 1) as f64 * q) as usize]);
    println!(
        "publish→handler latency at {RATE} msgs/s: p50 {:?}, p99 {:?}, max {:?}   target p99 < 1 ms",
        at(0.50),
        at(0.99),
        at(1.0)
    );
    Ok(())
}

/// Peak RSS of a consumer (its own process) working off a large backlog.
async fn rss(server: &RedisServer) -> Result<(), Box<dyn std::error::Error>> {
    let namespace = "rss";
    let config = Config::builder("bench")
        .redis_url(server.url())
        .namespace(namespace)
        .build()?;
    publish_events(&Publisher::connect(&config).await?, RSS_BACKLOG, 100, Tick::new).await?;
    let started = Instant::now();
    let output = Command::new(std::env::current_exe()?)
        .args([RSS_CHILD, &server.url(), namespace])
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let peak = text
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .map(str::trim)
        .ok_or_else(|| format!("the child said: {text} {}", String::from_utf8_lossy(&output.stderr)))?;
    println!(
        "consumer peak RSS working off {RSS_BACKLOG} entries: {peak} ({:.0} msgs/s)   target < 50 MB",
        RSS_BACKLOG as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The child of [`rss`]: consumes the backlog with default settings, then
/// prints its peak resident set size.
async fn rss_child(url: &str, namespace: &str) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::builder("bench")
        .redis_url(url)
        .namespace(namespace)
        .consumer("rss")
        .build()?;
    let consumer = Consumer::builder(&config).start(StartPosition::Beginning).build()?;
    let noop = Noop::default();
    let handled = noop.handled.clone();
    consumer
        .run(noop, async move {
            while handled.load(Ordering::Relaxed) < RSS_BACKLOG {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await?;
    let status = std::fs::read_to_string("/proc/self/status")?;
    for line in status.lines().filter(|line| line.starts_with("VmHWM:")) {
        println!("{line}");
    }
    Ok(())
}

fn report(what: &str, figure: f64, reference: f64, target: &str) {
    println!(
        "{what:<45} {figure:>10.0} msgs/s  = {:>5.1} % of reference   target {target}",
        100.0 * figure / reference
    );
}
