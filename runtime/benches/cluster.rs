//! The runtime on one server against a Redis Cluster of three masters (and
//! three replicas), in the same run on the same machine:
//!
//! ```text
//! cargo bench -p xerpium-messaging --features testing --bench cluster
//! ```
//!
//! Prints publish (awaited one by one, pipelined) and consume rates on a
//! server and on the cluster, publishing on the cluster once more waiting
//! for a replica (`publish_replicas(1)`, a `WAIT` per pipeline), and after
//! each cluster run the share of the commands every master served. Every
//! event goes to the ordered category of [`PARTITIONS`] partitions, so that
//! its streams spread over the masters. Not a test: nothing fails.

mod common;

use std::future::Future;

use common::{BenchError, OrderedTick, PARTITIONS, consume_backlog, flush, publish_events, redis_cli, tuned};
use xerpium_messaging::testing::{RedisCluster, RedisServer};
use xerpium_messaging::{Config, Event, Keys, Publisher};

const AWAITED: u64 = 5_000;
const PIPELINED: u64 = 50_000;
const BACKLOG: u64 = 50_000;
/// How many of a master's most called commands to print.
const TOP_COMMANDS: usize = 4;

/// How a publish run sends its events.
#[derive(Debug, Clone, Copy)]
enum Publishing {
    /// [`AWAITED`] events, each awaited before the next.
    Awaited,
    /// [`PIPELINED`] events in batches of 100.
    Pipelined,
}

impl Publishing {
    /// The run's name, also the prefix of its namespaces.
    fn name(self) -> &'static str {
        match self {
            Publishing::Awaited => "awaited",
            Publishing::Pipelined => "pipelined",
        }
    }

    /// What the run does, as a heading.
    fn heading(self) -> String {
        match self {
            Publishing::Awaited => format!("publish, awaited one by one ({AWAITED} events)"),
            Publishing::Pipelined => format!("publish, pipelined batches of 100 ({PIPELINED} events)"),
        }
    }

    /// Publishes the run's events through `publisher`; returns msgs/s.
    async fn run(self, publisher: &Publisher) -> Result<f64, BenchError> {
        match self {
            Publishing::Awaited => publish_events(publisher, AWAITED, 1, OrderedTick::new).await,
            Publishing::Pipelined => publish_events(publisher, PIPELINED, 100, OrderedTick::new).await,
        }
    }
}

fn main() -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(bench())
}

async fn bench() -> Result<(), BenchError> {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!("{cores} core(s), shared by the three masters, their replicas and this process: on a 2-core machine the");
    println!("masters share the cores, so the spread of the commands over them, not the absolute cluster figure,");
    println!("is what this measures. The server runs without persistence (--appendonly no); the cluster's nodes");
    println!("start with the test harness's append-only file fsynced at every write, which this turns off");
    println!("(CONFIG SET appendonly no on every node) before any run. Every event goes to one category of");
    println!("{PARTITIONS} partitions; on the cluster, the partitions each master serves are named with its share.");
    println!();

    let server = RedisServer::start_with(&["--appendonly", "no"])?;
    let on_server = |namespace: &str| tuned(server.config_with_defaults("bench"), namespace);
    let cluster = RedisCluster::start()?;
    for node in cluster.nodes()? {
        redis_cli(node.port, &["CONFIG", "SET", "appendonly", "no"])?;
    }
    let masters = cluster.masters()?;
    let on_cluster = |namespace: &str, replicas: u32| {
        tuned(
            cluster.config_with_defaults("bench").publish_replicas(replicas),
            namespace,
        )
    };

    for publishing in [Publishing::Awaited, Publishing::Pipelined] {
        println!("{}", publishing.heading());
        let publisher = Publisher::connect(&on_server(publishing.name())?).await?;
        line("server", publishing.run(&publisher).await?, None);
        flush(&server)?;
        let mut without = None;
        for replicas in [0, 1] {
            let config = on_cluster(&format!("{}{replicas}", publishing.name()), replicas)?;
            let publisher = Publisher::connect(&config).await?;
            let what = match replicas {
                0 => "cluster".to_owned(),
                _ => format!("cluster, publish_replicas({replicas})"),
            };
            let run = publishing.run(&publisher);
            let figure = on_the_cluster(&cluster, &masters, &config, &what, without, run).await?;
            without.get_or_insert(figure);
        }
    }

    println!("consume, 1 consumer, a backlog of {BACKLOG} entries (decode, dispatch, ack)");
    let config = on_server("consume")?;
    publish_events(&Publisher::connect(&config).await?, BACKLOG, 100, OrderedTick::new).await?;
    line("server", consume_backlog(&config, 1, true, BACKLOG).await?, None);
    flush(&server)?;
    let config = on_cluster("consume", 0)?;
    publish_events(&Publisher::connect(&config).await?, BACKLOG, 100, OrderedTick::new).await?;
    let run = consume_backlog(&config, 1, true, BACKLOG);
    on_the_cluster(&cluster, &masters, &config, "cluster", None, run).await?;
    Ok(())
}

/// Runs `run` on the cluster between a reset of its statistics and a look
/// at them; prints its figure as [`line`] does, then for each master the
/// partitions of `config`'s namespace it serves, its share of the commands
/// the masters served and its most called ones. Returns the figure.
async fn on_the_cluster(
    cluster: &RedisCluster,
    masters: &[u16],
    config: &Config,
    what: &str,
    of: Option<f64>,
    run: impl Future<Output = Result<f64, BenchError>>,
) -> Result<f64, BenchError> {
    // Asked before the reset: these questions are commands to the nodes too.
    let streams = Keys::new(config.namespace()).event_streams(OrderedTick::CATEGORY, &OrderedTick::STREAM);
    let mut partitions = vec![Vec::new(); masters.len()];
    for (partition, stream) in streams.iter().enumerate() {
        let master = cluster.master_for_key(stream)?;
        if let Some(at) = masters.iter().position(|&port| port == master) {
            partitions[at].push(partition.to_string());
        }
    }
    cluster.reset_stats()?;
    let figure = run.await?;
    line(what, figure, of);
    let mut calls = Vec::new();
    for &master in masters {
        let mut stats = cluster.command_stats(master)?;
        stats.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        calls.push(stats);
    }
    let total: u64 = calls.iter().flatten().map(|(_, n)| n).sum();
    for ((master, stats), served) in masters.iter().zip(&calls).zip(&partitions) {
        let own: u64 = stats.iter().map(|(_, n)| n).sum();
        let top: Vec<String> = stats
            .iter()
            .take(TOP_COMMANDS)
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        println!(
            "      master {master} (partitions {:<7}) {:>5.1} % of {total} commands: {}",
            served.join(","),
            100.0 * own as f64 / total.max(1) as f64,
            top.join(", ")
        );
    }
    Ok(figure)
}

/// Prints one figure, with its share of `of` (the same run on the cluster
/// without waiting for replicas) when given.
fn line(what: &str, figure: f64, of: Option<f64>) {
    match of {
        Some(of) => println!(
            "  {what:<32} {figure:>9.0} msgs/s  = {:.1} % of the cluster without WAIT",
            100.0 * figure / of
        ),
        None => println!("  {what:<32} {figure:>9.0} msgs/s"),
    }
}
