//! A consumer in a child process (this test binary, run again for the one
//! test [`child_consumer`]), so that tests can kill it with SIGKILL: the
//! way a process really dies, mid-handler, with nothing drained or acked.
//! It records in Redis every ping it handles (`Slow`, `Record`) or starts
//! before hanging (`Hang`), since its memory dies with it.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use xerpium_messaging::config::{RedisServers, var};
use xerpium_messaging::connection::{Connection, SlotPipeline};
use xerpium_messaging::{
    Config, Consumer, DeliveryPolicy, Dispatch, Event, HandlerError, HandlerResult, Message, StartPosition,
    StreamLayout,
};

use super::support::{Fixture, Ping, eventually};

const NAMESPACE: &str = "XERPIUM_TEST_CHILD_NAMESPACE";
const MODE: &str = "XERPIUM_TEST_CHILD_MODE";
const IDEMPOTENT: &str = "XERPIUM_TEST_CHILD_IDEMPOTENT";
const NAME: &str = "XERPIUM_TEST_CHILD_NAME";
const PARTITIONS: &str = "XERPIUM_TEST_CHILD_PARTITIONS";

/// What the child's handler does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Takes 20 ms, then records the ping as handled.
    Slow,
    /// Records the ping as started, then never returns.
    Hang,
    /// Takes 1 ms, then records the ping as handled and appends it to its
    /// subject's list (`<ns>:order:<subject>`), so that order can be checked.
    Record,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Slow => "slow",
            Mode::Hang => "hang",
            Mode::Record => "record",
        }
    }

    fn from_env() -> Mode {
        match std::env::var(MODE).as_deref() {
            Ok("hang") => Mode::Hang,
            Ok("record") => Mode::Record,
            _ => Mode::Slow,
        }
    }
}

/// How to run a child consumer.
#[derive(Debug, Clone)]
pub struct Spec {
    pub mode: Mode,
    pub idempotent: bool,
    /// Its consumer name.
    pub name: String,
    /// Partitions of category `test` (1: one shared stream).
    pub partitions: u32,
    /// Its consumer group.
    pub group: String,
}

impl Spec {
    /// Consumer `child` in `mode`, one stream, no idempotency store.
    pub fn new(mode: Mode) -> Self {
        Spec {
            mode,
            idempotent: false,
            name: "child".to_owned(),
            partitions: 1,
            group: "svc".to_owned(),
        }
    }
}

/// A child consumer in group `svc`, at the production defaults
/// (concurrency 4 when slow, so a kill lands mid-batch).
pub struct ChildConsumer {
    process: Child,
}

impl ChildConsumer {
    /// Starts consumer `child` in `mode` on `f`'s server and namespace.
    pub fn start(f: &Fixture, mode: Mode, idempotent: bool) -> Self {
        Self::start_as(
            f,
            &Spec {
                idempotent,
                ..Spec::new(mode)
            },
        )
    }

    /// Starts a child consumer as `spec` says.
    pub fn start_as(f: &Fixture, spec: &Spec) -> Self {
        // Its log, beside the server's, for when a test fails.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(
                f.server
                    .dir()
                    .expect("a directory")
                    .join(format!("child-{}-{}.log", spec.group, spec.name)),
            )
            .expect("child log");
        let mut command = Command::new(std::env::current_exe().expect("test binary"));
        command
            .args([
                "--exact",
                "redis::child::child_consumer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(NAMESPACE, f.config.namespace())
            .env(var::GROUP, &spec.group)
            .env(MODE, spec.mode.as_str())
            .env(NAME, &spec.name)
            .env(PARTITIONS, spec.partitions.to_string())
            .env("RUST_LOG", "xerpium_messaging=info")
            .stdout(log.try_clone().map_or_else(|_| Stdio::null(), Stdio::from))
            .stderr(Stdio::from(log));
        match f.config.redis() {
            RedisServers::Standalone(url) => command.env(var::REDIS_URL, url),
            RedisServers::Cluster(nodes) => command.env(var::REDIS_CLUSTER_NODES, nodes.join(",")),
        };
        if spec.idempotent {
            command.env(IDEMPOTENT, "1");
        }
        ChildConsumer {
            process: command.spawn().expect("child starts"),
        }
    }

    /// Waits until the children recorded `count` pings.
    pub async fn recorded_at_least(&self, f: &Fixture, count: usize) {
        eventually("the child is in its handlers", || async {
            recorded(f).await.len() >= count
        })
        .await;
    }

    /// How it ended, if it did (a consumer must never end by itself).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.process.try_wait().expect("child status")
    }

    /// Its resident memory (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Kills it with SIGKILL.
    pub fn kill(mut self) {
        self.process.kill().expect("SIGKILL");
        self.process.wait().expect("reaped");
    }
}

impl Drop for ChildConsumer {
    /// A test that fails leaves no consumer running behind it.
    fn drop(&mut self) {
        if matches!(self.process.try_wait(), Ok(None)) {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }
}

/// The pings that child consumers of group `svc` recorded.
pub async fn recorded(f: &Fixture) -> HashSet<u64> {
    recorded_in(f, "svc").await
}

/// The pings that child consumers of `group` recorded.
pub async fn recorded_in(f: &Fixture, group: &str) -> HashSet<u64> {
    redis::cmd("SMEMBERS")
        .arg(recorded_set(f.config.namespace(), group))
        .query_async(&mut f.redis.clone())
        .await
        .expect("SMEMBERS")
}

/// The pings of `subject` that child consumers of `group` recorded, in
/// the order they handled them (`Record` mode).
pub async fn recorded_order(f: &Fixture, group: &str, subject: &str) -> Vec<u64> {
    redis::cmd("LRANGE")
        .arg(order_list(f.config.namespace(), group, subject))
        .arg(0)
        .arg(-1)
        .query_async(&mut f.redis.clone())
        .await
        .expect("LRANGE")
}

fn recorded_set(namespace: &str, group: &str) -> String {
    format!("{namespace}:by-child:{group}")
}

fn order_list(namespace: &str, group: &str, subject: &str) -> String {
    format!("{namespace}:order:{group}:{subject}")
}

/// Records pings in Redis: slowly, before hanging, or with their order.
struct Recording {
    /// Reconnects by itself: Redis may be killed under it.
    redis: Connection,
    namespace: String,
    group: String,
    mode: Mode,
    layout: StreamLayout,
}

impl Dispatch for Recording {
    fn categories(&self) -> &'static [&'static str] {
        &["test"]
    }

    fn layout(&self, _category: &str) -> StreamLayout {
        self.layout
    }

    async fn dispatch(&self, message: &Message) -> HandlerResult {
        if message.envelope.event_type != Ping::TYPE {
            return Err(HandlerError::unknown_type(message));
        }
        let ping: Ping = message.decode()?;
        match self.mode {
            Mode::Slow => tokio::time::sleep(Duration::from_millis(20)).await,
            Mode::Record => tokio::time::sleep(Duration::from_millis(1)).await,
            Mode::Hang => {}
        }
        let mut pipe = SlotPipeline::new();
        let set = recorded_set(&self.namespace, &self.group);
        pipe.cmd(&set, "SADD").arg(&set).arg(ping.n);
        if self.mode == Mode::Record {
            let list = order_list(&self.namespace, &self.group, &ping.subject);
            pipe.cmd(&list, "RPUSH").arg(&list).arg(ping.n);
        }
        // The record is the test's instrument, not the system under test:
        // it waits out a Redis outage (a failover) rather than fail the
        // handler into retries and, at the last attempt, a dead letter.
        let mut patience = 600;
        while let Err(error) = pipe.query(&mut self.redis.clone()).await {
            patience -= 1;
            if patience == 0 {
                return Err(error.into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if self.mode == Mode::Hang {
            std::future::pending::<()>().await;
        }
        Ok(())
    }

    fn policy(&self, _event_type: &str) -> Option<DeliveryPolicy> {
        Some(Ping::POLICY)
    }
}

/// The child process; does nothing (and passes) when run as an ordinary test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_consumer() {
    let Ok(namespace) = std::env::var(NAMESPACE) else {
        return;
    };
    super::support::init_tracing();
    let mode = Mode::from_env();
    let partitions = std::env::var(PARTITIONS).ok().and_then(|p| p.parse().ok()).unwrap_or(1);
    // The Redis (a server or a cluster) and the group from XERPIUM_*, as a service reads them.
    let service_svc = |name: &str| {
        if name == var::SERVICE {
            Some("svc".to_owned())
        } else {
            std::env::var(name).ok()
        }
    };
    let config = Config::from_vars(service_svc)
        .expect("config")
        .into_builder()
        .namespace(namespace.clone())
        .consumer(std::env::var(NAME).unwrap_or_else(|_| "child".to_owned()))
        .concurrency(if mode == Mode::Slow { 4 } else { 16 })
        .idempotency_ttl(std::env::var(IDEMPOTENT).is_ok().then_some(Duration::from_secs(3600)))
        .build()
        .expect("config");
    let dispatch = Recording {
        redis: Connection::open(&config).expect("a connection"),
        group: config.group().to_owned(),
        namespace,
        mode,
        layout: StreamLayout {
            partitions,
            ..StreamLayout::DEFAULT
        },
    };
    let consumer = Consumer::builder(&config)
        .start(StartPosition::Beginning)
        .build()
        .expect("consumer");
    consumer
        .run(dispatch, std::future::pending())
        .await
        .expect("runs until killed");
}
