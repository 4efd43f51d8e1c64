//! The end-to-end tests' harness: a throw-away `redis-server`, SQLite files
//! in a temporary directory, and the services running in this process, each
//! on its own async runtime so that one can be stopped cleanly or killed
//! (its runtime dropped at once, tasks and all, as a crash would).

#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use xerpium_demo::http::Http;
use xerpium_demo::scenario::Services;
use xerpium_events::Category;
use xerpium_events::messaging::testing::RedisServer;
use xerpium_events::messaging::{Caller, Config, StartPosition, StreamLayout};
use xerpium_service::{Error, Shutdown};

/// How long anything the tests wait for may take on a loaded machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// One service running on its own runtime.
pub struct Instance {
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: Shutdown,
    task: Option<tokio::task::JoinHandle<Result<(), Error>>>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Instance {
    /// Starts `service` (given its listener and shutdown switch) on a new
    /// runtime, listening on a free loopback port.
    pub fn start<F, Fut>(name: &str, service: F) -> Instance
    where
        F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()
            .expect("a runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let shutdown = Shutdown::new();
        let task = {
            let _context = runtime.enter();
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            runtime.spawn(service(listener, shutdown.clone()))
        };
        Instance {
            runtime: Some(runtime),
            shutdown,
            task: Some(task),
            url,
        }
    }

    /// A client of its HTTP API.
    pub fn http(&self) -> Http {
        Http::new(&self.url)
    }

    /// Waits until `GET /health` answers 200.
    pub async fn ready(&self) {
        let http = self.http();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(reply) = http.get("/health").send().await
                && reply.status.is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "{} did not get ready", self.url);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops it cleanly (as SIGTERM does) and returns how it ended.
    pub async fn stop(mut self) -> Result<(), Error> {
        self.shutdown.trigger();
        let task = self.task.take().expect("running");
        let ended = tokio::time::timeout(PATIENCE, task)
            .await
            .expect("it stops within the patience")
            .expect("it did not panic");
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        ended
    }

    /// Kills it: every task dropped where it stands, nothing drained or acked.
    pub fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Redis, the three services and their databases.
pub struct Stack {
    /// The Redis server.
    pub redis: RedisServer,
    /// Where the SQLite files live.
    pub dir: TempDir,
    /// user-auth.
    pub user_auth: Instance,
    /// company-partner.
    pub company_partner: Instance,
    /// audit-logger, while it runs.
    pub audit: Option<Instance>,
}

impl Stack {
    /// Starts Redis and every service, and waits until they answer.
    pub async fn start() -> Stack {
        let redis = tokio::task::spawn_blocking(RedisServer::start)
            .await
            .expect("no panic")
            .expect("redis-server starts (is it installed? run scripts/setup)");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let user_auth = {
            let settings = user_auth::Settings {
                database: dir.path().join("user-auth.sqlite3"),
                ..user_auth::Settings::default()
            };
            let config = config(&redis, user_auth::SERVICE);
            Instance::start("user-auth", move |listener, shutdown| {
                user_auth::run(settings, config, listener, shutdown)
            })
        };
        let company_partner = {
            let settings = company_partner::Settings {
                database: dir.path().join("company-partner.sqlite3"),
                ..company_partner::Settings::default()
            };
            let config = config(&redis, company_partner::SERVICE);
            Instance::start("company-partner", move |listener, shutdown| {
                company_partner::run(settings, config, listener, shutdown)
            })
        };
        let mut stack = Stack {
            redis,
            dir,
            user_auth,
            company_partner,
            audit: None,
        };
        stack.start_audit().await;
        stack.user_auth.ready().await;
        stack.company_partner.ready().await;
        stack
    }

    /// Starts audit-logger (again), on the same database and consumer name.
    pub async fn start_audit(&mut self) {
        let settings = audit_logger::Settings {
            database: self.dir.path().join("audit-logger.sqlite3"),
            ..audit_logger::Settings::default()
        };
        let config = config(&self.redis, audit_logger::SERVICE);
        let audit = Instance::start("audit-logger", move |listener, shutdown| {
            audit_logger::run(settings, config, StartPosition::Beginning, listener, shutdown)
        });
        audit.ready().await;
        self.audit = Some(audit);
    }

    /// The services, for the scenario.
    pub fn services(&self) -> Services {
        Services {
            user_auth: self.user_auth.http(),
            company_partner: self.company_partner.http(),
            audit: self.audit.as_ref().expect("audit-logger runs").http(),
        }
    }

    /// A configuration for a client named `service` on this stack's Redis.
    pub fn config(&self, service: &str) -> Config {
        config(&self.redis, service)
    }

    /// A command caller.
    pub async fn caller(&self) -> Caller {
        Caller::connect(&self.config("e2e")).await.expect("a caller")
    }

    /// The audit trail's records, in trail order.
    pub async fn trail(&self) -> Vec<Value> {
        let audit = self.audit.as_ref().expect("audit-logger runs").http();
        let reply = audit
            .get("/audit?limit=100000")
            .send()
            .await
            .expect("the audit API answers");
        reply.body.as_array().cloned().unwrap_or_default()
    }

    /// Waits until the trail holds at least `count` records; returns them.
    pub async fn trail_of(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let trail = self.trail().await;
            if trail.len() >= count || Instant::now() >= deadline {
                return trail;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The message ids in the streams of `category` (every partition of a partitioned one), with their
    /// types, in the order they were published: by id, since the services run in this process and the ids
    /// it makes (UUIDv7) are ordered.
    pub async fn stream(&self, category: &str) -> Vec<(String, String)> {
        let client = redis::Client::open(self.redis.url()).expect("a client");
        let mut connection = client.get_multiplexed_async_connection().await.expect("a connection");
        let layout = category.parse().map_or(StreamLayout::DEFAULT, Category::layout);
        let mut found = Vec::new();
        for key in self.config("e2e").keys().event_streams(category, &layout) {
            let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
                .arg(&key)
                .arg("-")
                .arg("+")
                .query_async(&mut connection)
                .await
                .expect("XRANGE");
            found.extend(entries.into_iter().map(|(_, fields)| {
                let field = |name: &str| {
                    fields
                        .iter()
                        .find(|(key, _)| key == name)
                        .map(|(_, value)| value.clone())
                        .unwrap_or_default()
                };
                (field("id"), field("type"))
            }));
        }
        found.sort();
        found
    }

    /// Waits until neither service has events left in its outbox.
    pub async fn outboxes_empty(&self) {
        let deadline = Instant::now() + PATIENCE;
        for service in [&self.user_auth, &self.company_partner] {
            loop {
                let health = service.http().get("/health").send().await.expect("health");
                if health.body["outbox_pending"] == 0 {
                    break;
                }
                assert!(Instant::now() < deadline, "{} keeps events in its outbox", service.url);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn config(redis: &RedisServer, service: &str) -> Config {
    redis.config(service).build().expect("a valid configuration")
}
