//! A consumer in a child process (this test binary, run again for the one
//! test [`child_consumer`]), so that tests can kill it with SIGKILL: the
//! way a process really dies, mid-handler, with nothing drained or acked.
//! It records in a Redis set every ping it handles (`Slow`) or starts
//! before hanging (`Hang`), since its memory dies with it.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use xerpium_messaging::{Config, Consumer, DeliveryPolicy, Dispatch, Event, HandlerResult, Message, StartPosition};

use super::support::{Fixture, Ping, eventually};

const URL: &str = "XERPIUM_TEST_CHILD_URL";
const NAMESPACE: &str = "XERPIUM_TEST_CHILD_NAMESPACE";
const HANG: &str = "XERPIUM_TEST_CHILD_HANG";
const IDEMPOTENT: &str = "XERPIUM_TEST_CHILD_IDEMPOTENT";

/// What the child's handler does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Takes 20 ms, then records the ping as handled.
    Slow,
    /// Records the ping as started, then never returns.
    Hang,
}

/// A child consumer, named `child` in group `svc`, at the production
/// defaults (concurrency 4 when slow, so a kill lands mid-batch).
pub struct ChildConsumer {
    process: Child,
    set: String,
}

impl ChildConsumer {
    /// Starts it on `f`'s server and namespace.
    pub fn start(f: &Fixture, mode: Mode, idempotent: bool) -> Self {
        let mut command = Command::new(std::env::current_exe().expect("test binary"));
        command
            .args([
                "--exact",
                "redis::child::child_consumer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(URL, f.server.url())
            .env(NAMESPACE, f.config.namespace())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if mode == Mode::Hang {
            command.env(HANG, "1");
        }
        if idempotent {
            command.env(IDEMPOTENT, "1");
        }
        ChildConsumer {
            process: command.spawn().expect("child starts"),
            set: recorded_set(f.config.namespace()),
        }
    }

    /// The pings it recorded.
    pub async fn recorded(&self, f: &Fixture) -> HashSet<u64> {
        recorded(f, &self.set).await
    }

    /// Waits until it recorded `count` pings.
    pub async fn recorded_at_least(&self, f: &Fixture, count: usize) {
        eventually("the child is in its handlers", || async {
            self.recorded(f).await.len() >= count
        })
        .await;
    }

    /// Kills it with SIGKILL; returns what it recorded until then.
    pub async fn kill(mut self, f: &Fixture) -> HashSet<u64> {
        self.process.kill().expect("SIGKILL");
        self.process.wait().expect("reaped");
        self.recorded(f).await
    }
}

fn recorded_set(namespace: &str) -> String {
    format!("{namespace}:by-child")
}

async fn recorded(f: &Fixture, set: &str) -> HashSet<u64> {
    redis::cmd("SMEMBERS")
        .arg(set)
        .query_async(&mut f.redis.clone())
        .await
        .expect("SMEMBERS")
}

/// Records pings in a Redis set, slowly or before hanging.
struct SetRecorder {
    redis: MultiplexedConnection,
    set: String,
    hang: bool,
}

impl Dispatch for SetRecorder {
    fn categories(&self) -> &'static [&'static str] {
        &["test"]
    }

    async fn dispatch(&self, message: &Message) -> HandlerResult {
        let ping: Ping = message.decode()?;
        if !self.hang {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _: i64 = redis::cmd("SADD")
            .arg(&self.set)
            .arg(ping.n)
            .query_async(&mut self.redis.clone())
            .await?;
        if self.hang {
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
    let hang = std::env::var(HANG).is_ok();
    let config = Config::builder("svc")
        .redis_url(url.clone())
        .namespace(namespace.clone())
        .consumer("child")
        .concurrency(if hang { 16 } else { 4 })
        .idempotency_ttl(std::env::var(IDEMPOTENT).is_ok().then_some(Duration::from_secs(3600)))
        .build()
        .expect("config");
    let redis = redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connects");
    let dispatch = SetRecorder {
        redis,
        set: recorded_set(&namespace),
        hang,
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
