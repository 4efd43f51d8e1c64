//! A consumer in a child process (this test binary, run again for the one
//! test [`child_consumer`]), so that tests can kill it with SIGKILL: the
//! way a process really dies, mid-handler, with nothing drained or acked.
//! It records in Redis every ping it handles (`Slow`, `Record`) or starts
//! before hanging (`Hang`), since its memory dies with it.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use redis::aio::ConnectionManager;
use xerpium_messaging::{
    Config, Consumer, DeliveryPolicy, Dispatch, Event, HandlerResult, Message, StartPosition, StreamLayout,
};

use super::support::{Fixture, Ping, eventually};

const URL: &str = "XERPIUM_TEST_CHILD_URL";
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
}

impl Spec {
    /// Consumer `child` in `mode`, one stream, no idempotency store.
    pub fn new(mode: Mode) -> Self {
        Spec {
            mode,
            idempotent: false,
            name: "child".to_owned(),
            partitions: 1,
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
            .open(f.server.server().dir().join(format!("child-{}.log", spec.name)))
            .expect("child log");
        let mut command = Command::new(std::env::current_exe().expect("test binary"));
        command
            .args([
                "--exact",
                "redis::child::child_consumer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(URL, f.server.server().url())
            .env(NAMESPACE, f.config.namespace())
            .env(MODE, spec.mode.as_str())
            .env(NAME, &spec.name)
            .env(PARTITIONS, spec.partitions.to_string())
            .env("RUST_LOG", "xerpium_messaging=info")
            .stdout(log.try_clone().map_or_else(|_| Stdio::null(), Stdio::from))
            .stderr(Stdio::from(log));
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

    /// Kills it with SIGKILL.
    pub fn kill(mut self) {
        self.process.kill().expect("SIGKILL");
        self.process.wait().expect("reaped");
    }
}

/// The pings that child consumers of `f` recorded.
pub async fn recorded(f: &Fixture) -> HashSet<u64> {
    redis::cmd("SMEMBERS")
        .arg(recorded_set(f.config.namespace()))
        .query_async(&mut f.redis.clone())
        .await
        .expect("SMEMBERS")
}

/// The pings of `subject` that child consumers of `f` recorded, in the
/// order they handled them (`Record` mode).
pub async fn recorded_order(f: &Fixture, subject: &str) -> Vec<u64> {
    redis::cmd("LRANGE")
        .arg(order_list(f.config.namespace(), subject))
        .arg(0)
        .arg(-1)
        .query_async(&mut f.redis.clone())
        .await
        .expect("LRANGE")
}

fn recorded_set(namespace: &str) -> String {
    format!("{namespace}:by-child")
}

fn order_list(namespace: &str, subject: &str) -> String {
    format!("{namespace}:order:{subject}")
}

/// Records pings in Redis: slowly, before hanging, or with their order.
struct Recording {
    /// Reconnects by itself: Redis may be killed under it.
    redis: ConnectionManager,
    namespace: String,
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
        let ping: Ping = message.decode()?;
        match self.mode {
            Mode::Slow => tokio::time::sleep(Duration::from_millis(20)).await,
            Mode::Record => tokio::time::sleep(Duration::from_millis(1)).await,
            Mode::Hang => {}
        }
        let mut pipe = redis::pipe();
        pipe.cmd("SADD").arg(recorded_set(&self.namespace)).arg(ping.n).ignore();
        if self.mode == Mode::Record {
            pipe.cmd("RPUSH")
                .arg(order_list(&self.namespace, &ping.subject))
                .arg(ping.n)
                .ignore();
        }
        let () = pipe.query_async(&mut self.redis.clone()).await?;
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
    let (Ok(url), Ok(namespace)) = (std::env::var(URL), std::env::var(NAMESPACE)) else {
        return;
    };
    super::support::init_tracing();
    let mode = Mode::from_env();
    let partitions = std::env::var(PARTITIONS).ok().and_then(|p| p.parse().ok()).unwrap_or(1);
    let config = Config::builder("svc")
        .redis_url(url.clone())
        .namespace(namespace.clone())
        .consumer(std::env::var(NAME).unwrap_or_else(|_| "child".to_owned()))
        .concurrency(if mode == Mode::Slow { 4 } else { 16 })
        .idempotency_ttl(std::env::var(IDEMPOTENT).is_ok().then_some(Duration::from_secs(3600)))
        .build()
        .expect("config");
    let redis = ConnectionManager::new(redis::Client::open(url).expect("url"))
        .await
        .expect("connects");
    let dispatch = Recording {
        redis,
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
