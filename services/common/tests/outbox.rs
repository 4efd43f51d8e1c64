//! The outbox relay against a real SQLite file and a real redis-server,
//! under faults of the database.

use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tracing::instrument::WithSubscriber;
use uuid::Uuid;
use xerpium_events::messaging::{PublishContext, Publisher};
use xerpium_events::{LogoutReason, PublishEvents, UserLoggedOut};
use xerpium_messaging::testing::RedisServer;
use xerpium_service::outbox::{self, Outbox};
use xerpium_service::{Database, DbError, Shutdown};

/// How many events the tests stage.
const ROWS: usize = 5;
/// How long a fault lasts while the relay runs: long enough for a relay
/// without backoff to publish or retry thousands of times.
const FAULT: Duration = Duration::from_secs(2);
/// The most retries of one step a relay that backs off makes during
/// [`FAULT`], with some slack: its waits (50 ms doubling, at most halved by
/// jitter) add up to more than 3 s before its 7th retry.
const MOST_RETRIES: usize = 8;

/// A database that turns read-only (disk full, remounted read-only) while
/// the relay works: reading the outbox still works, marking rows sent fails.
/// The relay publishes each row once, then retries the *mark* with backoff
/// instead of republishing in a loop, logging the failure once; once the
/// database is writable again the rows are marked sent and nothing more is
/// published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_does_not_make_the_relay_republish_in_a_loop() {
    relay_through(Fault {
        start: "PRAGMA query_only = ON",
        end: "PRAGMA query_only = OFF",
        failing: "marking events sent",
        published: ROWS,
    })
    .await;
}

/// An outbox that cannot be read (here its table is away for a while) makes
/// the relay back off, logging once when it starts and once when it ends,
/// and publish everything once it can read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_outbox_makes_the_relay_back_off() {
    relay_through(Fault {
        start: "ALTER TABLE outbox RENAME TO outbox_away",
        end: "ALTER TABLE outbox_away RENAME TO outbox",
        failing: "reading pending events",
        published: 0,
    })
    .await;
}

/// An event's W3C trace context, `tracestate` too, is kept in the outbox
/// and published with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_trace_context_goes_through_the_outbox() {
    let service = Service::start().await;
    let (traceparent, tracestate) = (
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "congo=t61rcWkgMzE",
    );
    let context = PublishContext::new()
        .with_traceparent(traceparent)
        .with_tracestate(tracestate);
    service.stage(1, &context).await;
    service.stage(1, &PublishContext::new()).await;
    let (shutdown, relay) = service.relay(&Log::default());
    service.wait_until_sent().await;
    shutdown.trigger();
    relay.await.expect("the relay stops without panicking");
    const TRACES: &str = "local found = {} \
        for _, key in ipairs(redis.call('KEYS', '*')) do \
            if redis.call('TYPE', key).ok == 'stream' then \
                for _, entry in ipairs(redis.call('XRANGE', key, '-', '+')) do \
                    for i = 1, #entry[2], 2 do \
                        if string.sub(entry[2][i], 1, 5) == 'trace' then \
                            table.insert(found, entry[2][i] .. '=' .. entry[2][i + 1]) \
                        end \
                    end \
                end \
            end \
        end \
        return found";
    let found = service.eval(TRACES);
    let found: Vec<&str> = found.lines().collect();
    let expected = [format!("traceparent={traceparent}"), format!("tracestate={tracestate}")];
    assert_eq!(found, expected, "the other event has none");
}

/// A fault of the database, made and undone with SQL on the relay's
/// connection.
struct Fault {
    /// Makes the fault; e.g. `PRAGMA query_only = ON`, with which every write
    /// fails as on a read-only database, while reads work.
    start: &'static str,
    /// Undoes it.
    end: &'static str,
    /// The relay's step that fails meanwhile, as its log names it.
    failing: &'static str,
    /// How many events reach the stream during the fault.
    published: usize,
}

/// Stages [`ROWS`] events and runs the relay through `fault`: during the
/// fault the stream holds `fault.published` entries and the failing step is
/// retried with backoff; after it every event is published exactly once and
/// marked sent; the failure is logged once when it starts and once when it
/// ends; the relay never stops on its own.
async fn relay_through(fault: Fault) {
    let service = Service::start().await;
    service.stage(ROWS, &PublishContext::new()).await;
    service.sql(fault.start).await;
    let log = Log::default();
    let (shutdown, relay) = service.relay(&log);

    tokio::time::sleep(FAULT).await;
    assert_eq!(
        service.stream_entries(),
        fault.published,
        "nothing is published more than once while {} fails",
        fault.failing
    );
    assert!(!relay.is_finished(), "the relay keeps running through database errors");
    let retries = log.count("DEBUG", &format!("{} still fails", fault.failing));
    assert!(
        retries <= MOST_RETRIES,
        "{} is retried with backoff, not {retries} times",
        fault.failing
    );

    service.sql(fault.end).await;
    service.wait_until_sent().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(service.stream_entries(), ROWS, "each event is published once");
    shutdown.trigger();
    relay.await.expect("the relay stops without panicking");
    for (level, what) in [("WARN", "failed"), ("INFO", "works again")] {
        let line = format!("{} {what}", fault.failing);
        assert_eq!(log.count(level, &line), 1, "{line:?} once: {:#?}", log.lines());
    }
}

/// What a publishing service has: a redis-server of its own, and an outbox
/// in a SQLite file.
struct Service {
    redis: RedisServer,
    db: Database,
    outbox: Outbox,
    _dir: TempDir,
}

impl Service {
    async fn start() -> Service {
        let redis = RedisServer::start().expect("redis-server starts");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = Database::open(&dir.path().join("service.db"), outbox::SCHEMA).expect("the database opens");
        let config = redis.config("relay-test").build().expect("a valid configuration");
        let publisher = Publisher::connect(&config).await.expect("Redis is reachable");
        Service {
            redis,
            outbox: Outbox::new(db.clone(), publisher),
            db,
            _dir: dir,
        }
    }

    /// Stages and commits `count` events published with `context`.
    async fn stage(&self, count: usize, context: &PublishContext) {
        let tx = self.outbox.begin().await.expect("a transaction begins");
        for _ in 0..count {
            let event = UserLoggedOut {
                user_id: Uuid::now_v7(),
                session_id: Uuid::now_v7(),
                reason: LogoutReason::UserRequest,
                ended_by: None,
                logged_out_at: Utc::now(),
            };
            tx.events()
                .user_logged_out(&event, context)
                .await
                .expect("the event is staged");
        }
        tx.commit().await.expect("the transaction commits");
    }

    /// Runs `sql` on the service's connection, the one the relay uses.
    async fn sql(&self, sql: &'static str) {
        self.db
            .run(move |c| Ok::<_, DbError>(c.execute_batch(sql)?))
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    /// Spawns the relay, logging into `log`; returns its switch and task.
    fn relay(&self, log: &Log) -> (Shutdown, JoinHandle<()>) {
        let shutdown = Shutdown::new();
        let run = self.outbox.relay().run(shutdown.clone());
        (shutdown, tokio::spawn(run.with_subscriber(log.subscriber())))
    }

    /// Waits until no event is pending, at most as long as the relay's
    /// longest wait and some.
    async fn wait_until_sent(&self) {
        let deadline = Instant::now() + Duration::from_secs(7);
        while self.outbox.pending().await.expect("the outbox is readable") > 0 {
            assert!(Instant::now() < deadline, "the events are published and marked sent");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many entries all the streams on the server hold together
    /// (whatever their names and partitions).
    fn stream_entries(&self) -> usize {
        const COUNT: &str = "local n = 0 \
            for _, key in ipairs(redis.call('KEYS', '*')) do \
                if redis.call('TYPE', key).ok == 'stream' then n = n + redis.call('XLEN', key) end \
            end \
            return n";
        let reply = self.eval(COUNT);
        reply
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("a count, not {reply:?}"))
    }

    /// What the Lua `script` returns, as `redis-cli` prints it (a line per value).
    fn eval(&self, script: &str) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.redis.port().to_string(), "EVAL", script, "0"])
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// The log lines written through [`Log::subscriber`].
#[derive(Debug, Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    /// A subscriber that writes every line at `DEBUG` and above here.
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        let log = self.clone();
        tracing_subscriber::fmt()
            .with_writer(move || log.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish()
    }

    /// The lines written so far.
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).lines().map(str::to_owned).collect()
    }

    /// How many lines the outbox logged at `level` that contain `text`.
    fn count(&self, level: &str, text: &str) -> usize {
        let origin = format!("{level} xerpium_service::outbox:");
        self.lines()
            .iter()
            .filter(|line| line.contains(&origin) && line.contains(text))
            .count()
    }
}

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
