//! Throughput and latency of the runtime against `redis-benchmark` as the
//! reference, in the same run on the same server:
//!
//! ```text
//! cargo bench -p xerpium-messaging --features testing --bench throughput
//! ```
//!
//! Prints each figure with its ratio to the matching `redis-benchmark`
//! figure for entries of the same shape (Redis's own ceiling for them), and
//! the issue's target. Not a test: nothing fails on a miss.

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
const RATE: u64 = 20_000;
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
        "ceiling:   redis-benchmark XADD of the runtime's entry (its fields, MAXLEN ~) -c 1 -P 1:  \
         {same_shape_p1:>10.0} msgs/s ({:.1} % of the 1-field XADD)",
        100.0 * same_shape_p1 / reference_p1
    );
    println!(
        "ceiling:   redis-benchmark XADD of the runtime's entry (its fields, MAXLEN ~) -c 1 -P 64: \
         {same_shape_p64:>10.0} msgs/s ({:.1} % of the 1-field XADD)",
        100.0 * same_shape_p64 / reference_p64
    );

    if wanted("awaited") {
        let publisher = Publisher::connect(&config("awaited")?).await?;
        // On a worker, as a service publishes (from a request's task), not
        // from the thread that blocks on the runtime.
        let figure = tokio::spawn(async move {
            publish_events(&publisher, AWAITED, 1, Tick::new)
                .await
                .map_err(|error| error.to_string())
        })
        .await??;
        report("publish, awaited one by one", figure, same_shape_p1, "≥ 90 %");
        flush(&server)?;
    }

    if wanted("pipelined") {
        let publisher = Publisher::connect(&config("pipelined")?).await?;
        let figure = publish_events(&publisher, PIPELINED, 100, Tick::new).await?;
        report("publish, pipelined batches of 100", figure, same_shape_p64, "≥ 85 %");
        flush(&server)?;
    }

    let runs = [(1, false), (4, false), (1, true), (4, true)];
    let mut read_ceiling = None;
    for (consumers, ordered) in runs.into_iter().filter(|_| wanted("consume")) {
        let namespace = format!("consume{consumers}{ordered}");
        let config = config(&namespace)?;
        let publisher = Publisher::connect(&config).await?;
        if ordered {
            publish_events(&publisher, BACKLOG, 100, OrderedTick::new).await?;
        } else {
            publish_events(&publisher, BACKLOG, 100, Tick::new).await?;
        }
        let ceiling = match read_ceiling {
            Some(ceiling) => ceiling,
            None => {
                let stream = config.keys().events(Tick::CATEGORY);
                let ceiling = xreadgroup_ceiling(server.port(), &stream)?;
                println!(
                    "ceiling:   redis-benchmark XREADGROUP GROUP g c COUNT 100 STREAMS <stream> 0 -c 1 -P 1 \
                     over those entries: {ceiling:>10.0} entries/s (100 of them read again by id: no ack)"
                );
                read_ceiling = Some(ceiling);
                ceiling
            }
        };
        let figure = consume_backlog(&config, consumers, ordered, BACKLOG).await?;
        let target = if consumers == 1 && !ordered {
            "≥ 75 %"
        } else {
            "(no target)"
        };
        let what = if ordered {
            format!("consume ordered ({PARTITIONS} partitions), {consumers} consumer(s)")
        } else {
            format!("consume, {consumers} consumer(s), from a backlog")
        };
        report(&what, figure, ceiling, target);
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
    redis_benchmark_rps(port, pipeline, requests, &["XADD", "reference", "*", "data", &value])
}

/// Entries per second that `redis-benchmark` reads from `stream` with
/// `XREADGROUP … COUNT 100`, one request at a time: the same entries, read
/// through a consumer group's bookkeeping. `>` cannot be repeated (each read
/// takes new entries), so a group made for it takes the first 100 entries
/// once, and the benchmark reads them again by id (`0`, the consumer's
/// pending entries): a pending-list lookup per entry instead of an insert,
/// and no ack.
fn xreadgroup_ceiling(port: u16, stream: &str) -> Result<f64, Box<dyn std::error::Error>> {
    common::redis_cli(port, &["XGROUP", "CREATE", stream, "ceiling", "0"])?;
    common::redis_cli(
        port,
        &[
            "XREADGROUP",
            "GROUP",
            "ceiling",
            "c",
            "COUNT",
            "100",
            "STREAMS",
            stream,
            ">",
        ],
    )?;
    let requests = redis_benchmark_rps(
        port,
        1,
        5_000,
        &[
            "XREADGROUP",
            "GROUP",
            "ceiling",
            "c",
            "COUNT",
            "100",
            "STREAMS",
            stream,
            "0",
        ],
    )?;
    common::redis_cli(port, &["XGROUP", "DESTROY", stream, "ceiling"])?;
    Ok(requests * 100.0)
}

/// `redis-benchmark` XADD of an entry shaped like the runtime's (its
/// fields, `MAXLEN ~`), msgs/s: what Redis itself allows for that shape.
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
    let cap = Tick::STREAM.max_len.to_string();
    let mut args: Vec<String> = ["XADD", "reference", "MAXLEN", "~", &cap, "*"]
        .map(str::to_owned)
        .to_vec();
    for (name, value) in envelope.to_fields() {
        args.push(name.to_owned());
        args.push(value);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    redis_benchmark_rps(port, pipeline, requests, &args)
}

/// Requests per second of `redis-benchmark` sending `command` from one
/// client, `pipeline` at a time.
fn redis_benchmark_rps(
    port: u16,
    pipeline: u64,
    requests: u64,
    command: &[&str],
) -> Result<f64, Box<dyn std::error::Error>> {
    let output = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-c", "1", "-q"])
        .args(["-P", &pipeline.to_string(), "-n", &requests.to_string()])
        .args(command)
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
    // Each publish on its own task, as requests publish: one awaited
    // publish at a time cannot keep the rate, and would measure queueing.
    let mut publishes = Vec::with_capacity(usize::try_from(total)?);
    for n in 0..total {
        interval.tick().await;
        let publisher = publisher.clone();
        publishes.push(tokio::spawn(async move {
            publisher.publish(&Tick::new(n), &PublishContext::new()).await
        }));
    }
    for publish in publishes {
        publish.await??;
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
        "publish→handler latency at {RATE} msgs/s: p50 {:?}, p99 {:?}, max {:?}   target p99 < 0.5 ms",
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
        "consumer peak RSS working off {RSS_BACKLOG} entries: {peak} ({:.0} msgs/s)   target < 10 MB",
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

fn report(what: &str, figure: f64, ceiling: f64, target: &str) {
    println!(
        "{what:<45} {figure:>10.0} msgs/s  = {:>5.1} % of the ceiling   target {target}",
        100.0 * figure / ceiling
    );
}
