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

use common::{Noop, OrderedTick, PARTITIONS, Tick, consume_backlog, flush, publish_events, redis_cli, tuned};
use xerpium_messaging::testing::RedisServer;
use xerpium_messaging::{Config, Consumer, Event, Publish, PublishContext, Publisher, StartPosition};

/// Entries in a stream entry of this size are about 400 bytes with their
/// metadata fields; the reference XADD carries the same size.
const ENTRY_BYTES: usize = 400;
/// Rounds of each figure with a target: enough for a median that a VM's
/// drift moves little (a round's ratio moves by a fifth either way).
const ROUNDS: usize = 9;
const AWAITED: u64 = 20_000;
const PIPELINED: u64 = 100_000;
/// Tasks publishing at once, each awaiting its publishes one by one.
const TASKS: u64 = 64;
const BACKLOG: u64 = 100_000;
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
    let port = server.port();
    let reference_p1 = redis_benchmark(port, 1, AWAITED)?;
    let reference_p64 = redis_benchmark(port, 64, PIPELINED)?;
    flush(&server)?;
    println!("reference: redis-benchmark XADD ({ENTRY_BYTES} B, 1 field) -c 1 -P 1:  {reference_p1:>10.0} msgs/s");
    println!("reference: redis-benchmark XADD ({ENTRY_BYTES} B, 1 field) -c 1 -P 64: {reference_p64:>10.0} msgs/s");
    println!(
        "Each figure below is {ROUNDS} rounds, each its ceiling (redis-benchmark on the same entries) \
         then the runtime: the medians, and the median and range of the rounds' ratios."
    );

    if wanted("awaited") {
        let publisher = Publisher::connect(&config("awaited")?).await?;
        let mut rounds = Rounds::default();
        for _ in 0..ROUNDS {
            let ceiling = redis_benchmark_same_shape(port, 1, AWAITED)?;
            let publisher = publisher.clone();
            // On a worker, as a service publishes (from a request's task), not
            // from the thread that blocks on the runtime.
            let figure = tokio::spawn(async move {
                publish_events(&publisher, AWAITED, 1, Tick::new)
                    .await
                    .map_err(|error| error.to_string())
            })
            .await??;
            rounds.add(figure, ceiling);
            let floor = tokio::spawn(async move { crate_alone(port, 1, AWAITED).await.map_err(|e| e.to_string()) });
            rounds.crate_alone.push(floor.await??);
            let floor = tokio::spawn(async move { socket_alone(port, 1, AWAITED).await.map_err(|e| e.to_string()) });
            rounds.socket_alone.push(floor.await??);
            flush(&server)?;
        }
        rounds.report(
            "publish, awaited one by one",
            "XADD of the runtime's entry (its fields, MAXLEN ~) -P 1",
            "≥ 90 %",
        );
        rounds.report_floor(
            "the same XADD, prebuilt, awaited on the redis crate's connection alone",
            &rounds.crate_alone,
        );
        rounds.report_floor(
            "the same XADD, prebuilt, awaited on a bare tokio socket",
            &rounds.socket_alone,
        );
    }

    if wanted("pipelined") {
        let publisher = Publisher::connect(&config("pipelined")?).await?;
        let mut rounds = Rounds::default();
        for _ in 0..ROUNDS {
            let ceiling = redis_benchmark_same_shape(port, 64, PIPELINED)?;
            let figure = publish_events(&publisher, PIPELINED, 100, Tick::new).await?;
            rounds.add(figure, ceiling);
            rounds.crate_alone.push(crate_alone(port, 100, PIPELINED).await?);
            rounds.socket_alone.push(socket_alone(port, 100, PIPELINED).await?);
            flush(&server)?;
        }
        rounds.report(
            "publish, pipelined batches of 100",
            "XADD of the runtime's entry (its fields, MAXLEN ~) -P 64",
            "≥ 85 %",
        );
        rounds.report_floor(
            "the same XADD, prebuilt, 100 a pipeline on the redis crate's connection alone",
            &rounds.crate_alone,
        );
        rounds.report_floor(
            "the same XADD, prebuilt, 100 at a time on a bare tokio socket",
            &rounds.socket_alone,
        );
    }

    if wanted("tasks") {
        let publisher = Publisher::connect(&config("tasks")?).await?;
        let mut rounds = Rounds::default();
        for _ in 0..ROUNDS {
            let ceiling = redis_benchmark_same_shape(port, TASKS, PIPELINED)?;
            rounds.add(publish_from_tasks(&publisher, PIPELINED, TASKS).await?, ceiling);
            flush(&server)?;
        }
        rounds.report(
            &format!("publish, awaited, from {TASKS} tasks at once"),
            &format!("XADD of the runtime's entry (its fields, MAXLEN ~) -P {TASKS}"),
            "(no target)",
        );
    }

    let runs = [(1, false, ROUNDS), (4, false, 1), (1, true, 1), (4, true, 1)];
    // The Python stack's consume of the same entries, each round after the runtime's.
    let mut python: Vec<Option<f64>> = Vec::new();
    for (consumers, ordered, times) in runs.into_iter().filter(|_| wanted("consume")) {
        let mut rounds = Rounds::default();
        for round in 0..times {
            let namespace = format!("consume{consumers}{ordered}{round}");
            let config = config(&namespace)?;
            let publisher = Publisher::connect(&config).await?;
            if ordered {
                publish_events(&publisher, BACKLOG, 100, OrderedTick::new).await?;
            } else {
                publish_events(&publisher, BACKLOG, 100, Tick::new).await?;
            }
            let stream = if ordered {
                config.keys().event_streams(OrderedTick::CATEGORY, &OrderedTick::STREAM)[0].clone()
            } else {
                config.keys().events(Tick::CATEGORY)
            };
            let ceiling = xreadgroup_ceiling(port, &stream)?;
            let figure = consume_backlog(&config, consumers, ordered, BACKLOG).await?;
            rounds.add(figure, ceiling);
            if consumers == 1 && !ordered {
                python.push(python_consume(port, &stream)?);
            }
            flush(&server)?;
        }
        let (what, target) = match (consumers, ordered) {
            (1, false) => ("consume, 1 consumer, from a backlog".to_owned(), "≥ 75 %"),
            (_, false) => (format!("consume, {consumers} consumers, from a backlog"), "(no target)"),
            (_, true) => (
                format!("consume ordered ({PARTITIONS} partitions), {consumers} consumer(s)"),
                "(no target)",
            ),
        };
        rounds.report(
            &what,
            "XREADGROUP COUNT 100 on the same entries (100 read again by id: no ack) -P 1",
            target,
        );
        if consumers == 1 && !ordered {
            report_python(&rounds.figures, &python);
        }
    }

    if wanted("latency") {
        latency(&config("latency")?, server.port()).await?;
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
    let args = same_shape_xadd()?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    redis_benchmark_rps(port, pipeline, requests, &args)
}

/// The redis crate alone: `requests` `XADD`s of the runtime's entry, built
/// once, `pipeline` at a time, awaited, over a connection manager like the
/// runtime's: what the runtime's publish costs beyond the client it uses
/// (msgs/s).
async fn crate_alone(port: u16, pipeline: u64, requests: u64) -> Result<f64, Box<dyn std::error::Error>> {
    let command = same_shape_command()?;
    let mut batch = redis::pipe();
    for _ in 0..pipeline {
        batch.add_command(command.clone());
    }
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut connection = redis::aio::ConnectionManager::new(client).await?;
    let started = Instant::now();
    for _ in 0..requests / pipeline {
        if pipeline == 1 {
            let _: redis::Value = command.query_async(&mut connection).await?;
        } else {
            let _: Vec<redis::Value> = batch.query_async(&mut connection).await?;
        }
    }
    Ok(common::rate(requests, started))
}

/// A bare tokio socket: `requests` `XADD`s of the runtime's entry, encoded
/// once, `pipeline` at a time, each batch's replies awaited before the next
/// is written: what a client on tokio costs at the least (msgs/s).
async fn socket_alone(port: u16, pipeline: u64, requests: u64) -> Result<f64, Box<dyn std::error::Error>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let command = same_shape_command()?;
    let batch = command.get_packed_command().repeat(usize::try_from(pipeline)?);
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    socket.set_nodelay(true)?;
    let mut buffer = vec![0u8; 64 * 1024];
    let started = Instant::now();
    for _ in 0..requests / pipeline {
        socket.write_all(&batch).await?;
        // Each reply, an entry id, is one bulk string: two lines.
        let mut lines = 0;
        while lines < 2 * pipeline {
            let read = socket.read(&mut buffer).await?;
            if read == 0 {
                return Err("redis-server closed the connection".into());
            }
            lines += buffer[..read].iter().filter(|&&byte| byte == b'\n').count() as u64;
        }
    }
    Ok(common::rate(requests, started))
}

/// [`same_shape_xadd`] as a command of the redis crate.
fn same_shape_command() -> Result<redis::Cmd, Box<dyn std::error::Error>> {
    let args = same_shape_xadd()?;
    let mut command = redis::cmd(&args[0]);
    command.arg(&args[1..]);
    Ok(command)
}

/// The arguments of an `XADD` of an entry as the runtime writes it (its
/// fields, its `MAXLEN ~`).
fn same_shape_xadd() -> Result<Vec<String>, Box<dyn std::error::Error>> {
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
    Ok(args)
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

/// Publishes `total` ticks from `tasks` tasks at once, each awaiting its
/// publishes one by one (as a service's request handlers publish); returns
/// msgs/s.
async fn publish_from_tasks(publisher: &Publisher, total: u64, tasks: u64) -> Result<f64, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut running = Vec::new();
    for task in 0..tasks {
        let publisher = publisher.clone();
        running.push(tokio::spawn(async move {
            let context = PublishContext::new();
            for n in (task..total).step_by(usize::try_from(tasks).unwrap_or(1)) {
                publisher
                    .publish(&Tick::new(n), &context)
                    .await
                    .map_err(|error| error.to_string())?;
            }
            Ok::<_, String>(())
        }));
    }
    for task in running {
        task.await??;
    }
    Ok(common::rate(total, started))
}

/// Runs `publish(n)` for `n` in `0..total`, each on a task of its own
/// (as requests publish: one awaited publish at a time cannot keep the
/// rate, and would measure queueing), at [`RATE`] a second, evenly spaced,
/// until all are done; returns how long each took (from its time, in
/// nanoseconds) and the rate kept. The pace is kept by a thread of its own
/// that sleeps until each one's time: tokio's timer counts whole
/// milliseconds, and would start them in bursts of `RATE / 1000`, each
/// publish queued behind the others of its burst.
async fn paced<T, E, F>(
    total: u64,
    publish: impl Fn(u64) -> F + Send + 'static,
) -> Result<(Vec<u64>, f64), Box<dyn std::error::Error>>
where
    E: std::error::Error + Send + 'static,
    T: Send + 'static,
    F: Future<Output = Result<T, E>> + Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    let period = Duration::from_nanos(1_000_000_000 / RATE);
    let (running, kept) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut at = started;
        let running: Vec<_> = (0..total)
            .map(|n| {
                if let Some(wait) = at.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                at += period;
                let (due, published) = (Instant::now(), publish(n));
                runtime.spawn(async move { published.await.map(|_| nanos(due.elapsed())) })
            })
            .collect();
        (running, common::rate(total, started))
    })
    .await?;
    let mut took = Vec::with_capacity(running.len());
    for publish in running {
        took.push(publish.await??);
    }
    Ok((took, kept))
}

/// `duration` in nanoseconds.
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// A latency run's figures: each entry's time from its publish to its
/// reader (or handler), each publish call's time, and the rate kept.
struct LatencyRun {
    handled: Vec<u64>,
    published: Vec<u64>,
    kept: f64,
}

impl LatencyRun {
    /// Prints the run as `what`, with its p50 and p99 (and its max).
    fn report(mut self, what: &str, target: &str) {
        let quantiles = |latencies: &mut Vec<u64>| {
            latencies.sort_unstable();
            let at = |q: f64| Duration::from_nanos(latencies[((latencies.len() - 1) as f64 * q) as usize]);
            (at(0.50), at(0.99), at(1.0))
        };
        let (p50, p99, max) = quantiles(&mut self.handled);
        let (call_p50, call_p99, _) = quantiles(&mut self.published);
        println!(
            "{what} at {RATE} msgs/s (kept {:.0}/s): p50 {p50:?}, p99 {p99:?}, max {max:?}; \
             the publish calls took p50 {call_p50:?}, p99 {call_p99:?}{target}",
            self.kept
        );
    }
}

/// How a latency floor reads its entries.
#[derive(Clone, Copy)]
enum FloorRead {
    /// `XREAD BLOCK`: no group, nothing to ack.
    Plain,
    /// `XREADGROUP … BLOCK`, and an `XACK` of each reply's entries sent
    /// without waiting for it: the Redis work of a consumer group's
    /// at-least-once delivery, which the runtime's consumer does too.
    Group,
}

/// Publish→read latency at a fixed rate without the runtime: each `XADD`
/// of an entry of the same size carrying its send time on its own task, over
/// one multiplexed connection of the redis crate, and a loop of blocking
/// reads on another, as `how` says. The floor this machine sets under the
/// runtime's latency.
async fn latency_floor(port: u16, how: FloorRead) -> Result<LatencyRun, Box<dyn std::error::Error>> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let publisher = client.get_multiplexed_async_connection().await?;
    let mut reader = client.get_multiplexed_async_connection().await?;
    let acker = client.get_multiplexed_async_connection().await?;
    let stream = match how {
        FloorRead::Plain => "floor",
        FloorRead::Group => "floor-group",
    };
    if let FloorRead::Group = how {
        redis_cli(port, &["XGROUP", "CREATE", stream, "floor", "$", "MKSTREAM"])?;
    }
    let total = usize::try_from(RATE * LATENCY_SECONDS)?;
    let reading = tokio::spawn(async move {
        let mut after = "0-0".to_owned();
        let mut latencies = Vec::with_capacity(total);
        let mut acks = Vec::new();
        while latencies.len() < total {
            let mut read = match how {
                FloorRead::Plain => redis::cmd("XREAD"),
                FloorRead::Group => redis::cmd("XREADGROUP").arg("GROUP").arg("floor").arg("c").to_owned(),
            };
            read.arg("COUNT")
                .arg(1000)
                .arg("BLOCK")
                .arg(1000)
                .arg("STREAMS")
                .arg(stream);
            match how {
                FloorRead::Plain => read.arg(&after),
                FloorRead::Group => read.arg(">"),
            };
            let reply: Option<redis::streams::StreamReadReply> = read.query_async(&mut reader).await?;
            let mut ack = redis::cmd("XACK").arg(stream).arg("floor").to_owned();
            let read_before = latencies.len();
            for entry in reply.into_iter().flat_map(|reply| reply.keys).flat_map(|key| key.ids) {
                let sent: u64 = entry.get("t").unwrap_or_default();
                latencies.push(nanos(common::clock().elapsed()).saturating_sub(sent));
                ack.arg(&entry.id);
                after = entry.id;
            }
            if let FloorRead::Group = how
                && latencies.len() > read_before
            {
                let mut acker = acker.clone();
                acks.push(tokio::spawn(async move { ack.query_async::<u64>(&mut acker).await }));
            }
        }
        for ack in acks {
            ack.await
                .map_err(|error| redis::RedisError::from(std::io::Error::other(error)))??;
        }
        Ok::<_, redis::RedisError>(latencies)
    });
    let padding = "x".repeat(ENTRY_BYTES);
    let (published, kept) = paced(RATE * LATENCY_SECONDS, move |_| {
        let mut publisher = publisher.clone();
        let sent = nanos(common::clock().elapsed());
        let add = redis::cmd("XADD")
            .arg(stream)
            .arg("*")
            .arg("t")
            .arg(sent)
            .arg("data")
            .arg(&padding)
            .to_owned();
        async move { add.query_async::<String>(&mut publisher).await }
    })
    .await?;
    Ok(LatencyRun {
        handled: reading.await??,
        published,
        kept,
    })
}

/// Publish→handler latency at a fixed rate, beside the floor without the
/// runtime ([`latency_floor`]).
async fn latency(config: &Config, port: u16) -> Result<(), Box<dyn std::error::Error>> {
    latency_floor(port, FloorRead::Plain).await?.report(
        "floor:     XADD on one connection → XREAD BLOCK on another, redis crate, no runtime,",
        "",
    );
    latency_floor(port, FloorRead::Group).await?.report(
        "floor:     the same with XREADGROUP BLOCK and an XACK of each reply (a group's Redis work),",
        "",
    );
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
    let (published, kept) = paced(total, move |n| {
        let publisher = publisher.clone();
        // Made (its send time taken) as the floor's are: before its task runs.
        let tick = Tick::new(n);
        async move { publisher.publish(&tick, &PublishContext::new()).await }
    })
    .await?;
    while noop.handled.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let _ = stop.send(());
    task.await??;
    let handled = latencies.lock().map_err(|_| "poisoned")?.clone();
    LatencyRun {
        handled,
        published,
        kept,
    }
    .report("publish→handler latency", "   target p99 < 0.5 ms");
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

/// The Python stack (tools/python/bench_consume.py: redis-py asyncio with
/// hiredis, pydantic v2) consuming the `BACKLOG` entries of `stream` in a
/// group of its own, entries/s; `None` without the project's `.venv`.
fn python_consume(port: u16, stream: &str) -> Result<Option<f64>, Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    if !python.exists() {
        return Ok(None);
    }
    let output = Command::new(python)
        .arg(root.join("tools/python/bench_consume.py"))
        .args([&port.to_string(), stream, &BACKLOG.to_string()])
        .output()?;
    if !output.status.success() {
        return Err(format!("bench_consume.py failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(Some(String::from_utf8_lossy(&output.stdout).trim().parse()?))
}

/// The Python stack's median, and the runtime's ratio to it, round by round.
fn report_python(runtime: &[f64], python: &[Option<f64>]) {
    let measured: Vec<f64> = python.iter().flatten().copied().collect();
    if measured.len() != runtime.len() {
        println!("Python stack: not measured (no .venv: run scripts/setup)");
        return;
    }
    let mut times: Vec<f64> = runtime.iter().zip(&measured).map(|(rust, py)| rust / py).collect();
    times.sort_by(f64::total_cmp);
    println!(
        "{:<45} {:>10.0} msgs/s  (redis-py asyncio + hiredis + pydantic v2, the same entries): the runtime is \
         {:.2}× (rounds {:.2}–{:.2}×)   target ≥ 2×",
        "consume, Python stack, 1 consumer",
        median(&measured),
        median(&times),
        times[0],
        times[times.len() - 1]
    );
}

/// The rounds of one figure: each the runtime's figure and its ceiling,
/// measured one right after the other, so that a machine that slows down
/// or speeds up between rounds moves both.
#[derive(Default)]
struct Rounds {
    figures: Vec<f64>,
    ceilings: Vec<f64>,
    /// The redis crate alone doing the same, where measured.
    crate_alone: Vec<f64>,
    /// A bare tokio socket doing the same, where measured.
    socket_alone: Vec<f64>,
}

impl Rounds {
    fn add(&mut self, figure: f64, ceiling: f64) {
        self.figures.push(figure);
        self.ceilings.push(ceiling);
    }

    /// Prints the median figure and ceiling, and the median and range of
    /// the rounds' ratios, against `target`.
    fn report(&self, what: &str, ceiling: &str, target: &str) {
        let mut ratios: Vec<f64> = self
            .figures
            .iter()
            .zip(&self.ceilings)
            .map(|(figure, ceiling)| 100.0 * figure / ceiling)
            .collect();
        ratios.sort_by(f64::total_cmp);
        let (low, high) = (ratios[0], ratios[ratios.len() - 1]);
        println!(
            "{what:<45} {:>10.0} msgs/s  ceiling {:>10.0} ({ceiling})  = {:>5.1} % (rounds {low:.1}–{high:.1} %)   target {target}",
            median(&self.figures),
            median(&self.ceilings),
            median(&ratios),
        );
    }

    /// Prints the median of `floors` (one per round), against the ceiling
    /// and beside the runtime's figure.
    fn report_floor(&self, what: &str, floors: &[f64]) {
        let ratio = |values: &[f64]| {
            let ratios: Vec<f64> = values.iter().zip(&self.ceilings).map(|(v, c)| 100.0 * v / c).collect();
            median(&ratios)
        };
        println!(
            "  {what}: {:.0} msgs/s = {:.1} % of the ceiling (the runtime {:.1} %)",
            median(floors),
            ratio(floors),
            ratio(&self.figures),
        );
    }
}

/// The median of `values` (not empty).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}
