//! The runtime on one server, on a Redis Cluster of one master (and one
//! replica) and on one of three masters (and three replicas), in the same
//! run on the same machine:
//!
//! ```text
//! cargo bench -p xerpium-messaging --features testing --bench cluster
//! ```
//!
//! Prints a table of publish (awaited one by one, pipelined) and consume
//! rates, a column for each of the three; publishing on the clusters once
//! more waiting for a replica (`publish_replicas(1)`, a `WAIT` per
//! pipeline), with its share of the same publishing without. Then, for each
//! cluster run, the share of the commands every master served. Every event
//! goes to the ordered category of [`PARTITIONS`] partitions, so that its
//! streams spread over the masters. Not a test: nothing fails.

mod common;

use common::{BenchError, OrderedTick, PARTITIONS, consume_backlog, flush, publish_events, redis_cli, tuned};
use xerpium_messaging::testing::{RedisCluster, RedisServer};
use xerpium_messaging::{Config, ConfigError, Event, Keys, Publisher};

const AWAITED: u64 = 5_000;
const PIPELINED: u64 = 50_000;
const BACKLOG: u64 = 50_000;
/// How many of a master's most called commands to print.
const TOP_COMMANDS: usize = 4;
/// The width of the table's first column, and of each other.
const LABEL_WIDTH: usize = 42;
const COLUMN_WIDTH: usize = 14;

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

    /// What the run does, as a row of the table.
    fn label(self) -> String {
        match self {
            Publishing::Awaited => format!("publish, awaited one by one ({AWAITED})"),
            Publishing::Pipelined => format!("publish, pipelined by 100 ({PIPELINED})"),
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

/// One row of the table: what is measured on every target.
#[derive(Debug, Clone, Copy)]
enum Run {
    /// Publishing, each publish waiting for this many replicas.
    Publish(Publishing, u32),
    /// One consumer reading a backlog of [`BACKLOG`] entries.
    Consume,
}

impl Run {
    /// The rows, in order: a publish waiting for a replica follows the same
    /// publish without, which it is compared with.
    const ALL: [Run; 5] = [
        Run::Publish(Publishing::Awaited, 0),
        Run::Publish(Publishing::Awaited, 1),
        Run::Publish(Publishing::Pipelined, 0),
        Run::Publish(Publishing::Pipelined, 1),
        Run::Consume,
    ];

    /// What the run does.
    fn title(self) -> String {
        match self {
            Run::Publish(publishing, 0) => publishing.label(),
            Run::Publish(publishing, replicas) => format!("{}, publish_replicas({replicas})", publishing.label()),
            Run::Consume => format!("consume, 1 consumer ({BACKLOG} backlog)"),
        }
    }

    /// Its row's label: under the same publishing without replicas, only
    /// what differs.
    fn label(self) -> String {
        match self {
            Run::Publish(_, replicas @ 1..) => format!("  publish_replicas({replicas}), % of the above"),
            _ => self.title(),
        }
    }

    /// The namespace of the run, on each target.
    fn namespace(self) -> String {
        match self {
            Run::Publish(publishing, replicas) => format!("{}{replicas}", publishing.name()),
            Run::Consume => "consume".to_owned(),
        }
    }

    fn replicas(self) -> u32 {
        match self {
            Run::Publish(_, replicas) => replicas,
            Run::Consume => 0,
        }
    }

    /// What comes before the timed part: a publisher, and the backlog to
    /// consume.
    async fn prepare(self, config: &Config) -> Result<Publisher, BenchError> {
        let publisher = Publisher::connect(config).await?;
        if let Run::Consume = self {
            publish_events(&publisher, BACKLOG, 100, OrderedTick::new).await?;
        }
        Ok(publisher)
    }

    /// The timed part; returns msgs/s.
    async fn time(self, config: &Config, publisher: &Publisher) -> Result<f64, BenchError> {
        match self {
            Run::Publish(publishing, _) => publishing.run(publisher).await,
            Run::Consume => consume_backlog(config, 1, true, BACKLOG).await,
        }
    }
}

/// A column of the table: where the runs go.
struct Target {
    heading: String,
    redis: Redis,
    /// Whether it has replicas, for the runs that wait for one.
    replicated: bool,
}

enum Redis {
    Server(RedisServer),
    Cluster {
        cluster: RedisCluster,
        /// The masters' ports, lowest first.
        masters: Vec<u16>,
    },
}

impl Target {
    /// A server without persistence.
    fn server() -> Result<Target, BenchError> {
        Ok(Target {
            heading: "server".to_owned(),
            redis: Redis::Server(RedisServer::start_with(&["--appendonly", "no"])?),
            replicated: false,
        })
    }

    /// A cluster of `masters` masters with a replica each, its append-only
    /// file turned off on every node.
    fn cluster(masters: usize) -> Result<Target, BenchError> {
        let cluster = RedisCluster::start_with(masters, 1)?;
        let nodes = cluster.nodes()?;
        for node in &nodes {
            redis_cli(node.port, &["CONFIG", "SET", "appendonly", "no"])?;
        }
        let masters = cluster.masters()?;
        Ok(Target {
            heading: format!("{} master{}", masters.len(), if masters.len() == 1 { "" } else { "s" }),
            replicated: nodes.len() > masters.len(),
            redis: Redis::Cluster { cluster, masters },
        })
    }

    /// The benchmark's configuration for `run` on this target.
    fn config(&self, run: Run) -> Result<Config, ConfigError> {
        let builder = match &self.redis {
            Redis::Server(server) => server.config_with_defaults("bench"),
            Redis::Cluster { cluster, .. } => cluster.config_with_defaults("bench"),
        };
        tuned(builder.publish_replicas(run.replicas()), &run.namespace())
    }

    /// Measures `run`: `None` for a run that waits for a replica on a target
    /// without. On a cluster, also what each master served, as lines to
    /// print: the partitions of the run's namespace it serves, its share of
    /// the commands the masters served during the timed part and its most
    /// called ones.
    async fn measure(&self, run: Run) -> Result<Option<(f64, Vec<String>)>, BenchError> {
        if run.replicas() > 0 && !self.replicated {
            return Ok(None);
        }
        let config = self.config(run)?;
        let publisher = run.prepare(&config).await?;
        match &self.redis {
            Redis::Server(server) => {
                let figure = run.time(&config, &publisher).await?;
                flush(server)?;
                Ok(Some((figure, Vec::new())))
            }
            Redis::Cluster { cluster, masters } => {
                // Asked before the reset: these questions are commands to the nodes too.
                let partitions = partitions_by_master(cluster, masters, &config)?;
                cluster.reset_stats()?;
                let figure = run.time(&config, &publisher).await?;
                Ok(Some((figure, command_shares(cluster, masters, &partitions)?)))
            }
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
    println!("{cores} core(s), shared by the server, the clusters' masters and replicas and this process: on a");
    println!("2-core machine the three masters share the cores, so the spread of the commands over them, not the");
    println!("absolute 3-master figure, is what this measures. The server runs without persistence (--appendonly");
    println!("no); the clusters' nodes start with the test harness's append-only file fsynced at every write, which");
    println!("this turns off (CONFIG SET appendonly no on every node) before any run. Every event goes to one");
    println!("category of {PARTITIONS} partitions; each cluster has one replica per master.");
    println!();

    let targets = [Target::server()?, Target::cluster(1)?, Target::cluster(3)?];
    print!("{:<LABEL_WIDTH$}", "msgs/s (events)");
    for target in &targets {
        print!("{:>COLUMN_WIDTH$}", target.heading);
    }
    println!();
    // Each target's lines of commands per master, and its figure of the last run that waited for no replica.
    let mut shares = vec![Vec::new(); targets.len()];
    let mut without = vec![None; targets.len()];
    for run in Run::ALL {
        let mut row = format!("{:<LABEL_WIDTH$}", run.label());
        for ((target, shares), without) in targets.iter().zip(&mut shares).zip(&mut without) {
            let cell = match target.measure(run).await? {
                None => "-".to_owned(),
                Some((figure, lines)) => {
                    if !lines.is_empty() {
                        shares.push(format!("    {}", run.title()));
                        shares.extend(lines);
                    }
                    if run.replicas() == 0 {
                        *without = Some(figure);
                    }
                    match without.filter(|_| run.replicas() > 0) {
                        Some(of) => format!("{figure:.0} ({:.0} %)", 100.0 * figure / of),
                        None => format!("{figure:.0}"),
                    }
                }
            };
            row.push_str(&format!("{cell:>COLUMN_WIDTH$}"));
        }
        println!("{row}");
    }
    println!();
    println!("commands per master during each cluster run: the partitions of the run's namespace it serves, its");
    println!("share of the commands the masters served, its {TOP_COMMANDS} most called");
    for (target, lines) in targets.iter().zip(shares) {
        if !lines.is_empty() {
            println!("  {}", target.heading);
            lines.iter().for_each(|line| println!("{line}"));
        }
    }
    Ok(())
}

/// The partitions of `config`'s namespace that each of `masters` serves.
fn partitions_by_master(
    cluster: &RedisCluster,
    masters: &[u16],
    config: &Config,
) -> Result<Vec<Vec<String>>, BenchError> {
    let streams = Keys::new(config.namespace()).event_streams(OrderedTick::CATEGORY, &OrderedTick::STREAM);
    let mut partitions = vec![Vec::new(); masters.len()];
    for (partition, stream) in streams.iter().enumerate() {
        let master = cluster.master_for_key(stream)?;
        if let Some(at) = masters.iter().position(|&port| port == master) {
            partitions[at].push(partition.to_string());
        }
    }
    Ok(partitions)
}

/// A line for each of `masters`: the `partitions` it serves, its share of
/// the commands the masters served since the last reset of the statistics
/// and its most called ones.
fn command_shares(
    cluster: &RedisCluster,
    masters: &[u16],
    partitions: &[Vec<String>],
) -> Result<Vec<String>, BenchError> {
    let mut calls = Vec::new();
    for &master in masters {
        let mut stats = cluster.command_stats(master)?;
        stats.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        calls.push(stats);
    }
    let total: u64 = calls.iter().flatten().map(|(_, n)| n).sum();
    Ok(masters
        .iter()
        .zip(&calls)
        .zip(partitions)
        .map(|((master, stats), served)| {
            let own: u64 = stats.iter().map(|(_, n)| n).sum();
            let top: Vec<String> = stats
                .iter()
                .take(TOP_COMMANDS)
                .map(|(name, n)| format!("{name} {n}"))
                .collect();
            format!(
                "      master {master} (partitions {:<15}) {:>5.1} % of {total} commands: {}",
                served.join(","),
                100.0 * own as f64 / total.max(1) as f64,
                top.join(", ")
            )
        })
        .collect())
}
