//! The `audit-logger` binary: records what is published (personal data
//! redacted), `audit-logger query` prints it, and SIGTERM stops it cleanly;
//! started after a backlog in two streams it records all of it at the
//! default settings; `/health` answers 503 naming the consumer while it
//! cannot read (Redis down) and 200 again after; and a consumer that stops
//! stops the process, with a non-zero exit code.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use tempfile::TempDir;
use uuid::Uuid;
use xerpium_events::messaging::Publisher;
use xerpium_events::messaging::testing::RedisServer;
use xerpium_events::{CurrencyActivated, PublishContext, PublishEvents, SystemServiceStarted, UserCreated, UserRole};
use xerpium_service::testing::ServiceProcess;

const BINARY: &str = env!("CARGO_BIN_EXE_audit-logger");

/// The namespace the service and the tests' publishers use.
const NAMESPACE: &str = "binary";

/// How long anything the tests wait for may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(120);

/// A temporary directory with the trail's database and the service's stderr.
struct Files {
    dir: TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    fn database(&self) -> PathBuf {
        self.dir.path().join("audit.sqlite3")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// What the service wrote to stderr.
    fn logged(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// Runs the audit logger on `redis`, with `extra` settings.
    fn spawn(&self, redis: &RedisServer, extra: &[(&str, &str)]) -> ServiceProcess {
        let mut env = vec![
            ("XERPIUM_REDIS_URL", redis.url()),
            ("XERPIUM_NAMESPACE", NAMESPACE.to_owned()),
            ("AUDIT_LOGGER_DATABASE", self.database().display().to_string()),
        ];
        env.extend(extra.iter().map(|(name, value)| (*name, (*value).to_owned())));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ServiceProcess::spawn(BINARY, &["serve"], "AUDIT_LOGGER_ADDR", &env, &self.log()).expect("audit-logger runs")
    }

    /// Runs the audit logger on `redis`, with `extra` settings; returns once
    /// `/health` answers 200.
    fn serve(&self, redis: &RedisServer, extra: &[(&str, &str)]) -> ServiceProcess {
        tokio::task::block_in_place(|| self.spawn(redis, extra).ready())
            .unwrap_or_else(|error| panic!("audit-logger starts: {error}\n{}", self.logged()))
    }

    /// `audit-logger query <args>` on the trail: its stdout.
    fn query(&self, args: &[&str]) -> String {
        let output = Command::new(BINARY)
            .arg("query")
            .args(args)
            .arg("--database")
            .arg(self.database())
            .output()
            .expect("audit-logger query runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// A publisher straight to `redis` (no outbox), at the default settings.
async fn publisher(redis: &RedisServer) -> Publisher {
    let config = redis
        .config_with_defaults("user-auth")
        .namespace(NAMESPACE)
        .build()
        .expect("a configuration");
    Publisher::connect(&config).await.expect("a publisher")
}

/// Polls `GET /health` until `wanted` says yes to its answer; that answer.
async fn health_until(service: &ServiceProcess, what: &str, wanted: impl Fn(u16, &Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) = tokio::task::block_in_place(|| service.health()).expect("an answer");
        if wanted(status, &body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/health never answered {what}; the last: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The checks of a `/health` answer named like the audit logger's consumer.
fn consumer_checks<'a>(body: &'a Value, list: &str) -> Vec<&'a Value> {
    body[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|check| {
            check["name"]
                .as_str()
                .is_some_and(|name| name.starts_with("consumer audit-logger/"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_records_what_is_published_and_query_prints_it() {
    let redis = RedisServer::start().expect("redis-server starts");
    let files = Files::new();
    let service = files.serve(&redis, &[("XERPIUM_BLOCK", "100ms")]);

    let user_id = Uuid::now_v7();
    let event = UserCreated {
        user_id,
        company_id: Uuid::now_v7(),
        email: "ada@example.com".into(),
        display_name: "Ada Lovelace".into(),
        roles: vec![UserRole::Admin],
        locale: "en".into(),
        invited_by: None,
        created_at: Utc::now(),
    };
    let context = PublishContext::new().with_correlation_id("req-binary-1");
    publisher(&redis)
        .await
        .user_created(&event, &context)
        .await
        .expect("published");

    let deadline = Instant::now() + Duration::from_secs(60);
    let records: Vec<Value> = loop {
        let records: Vec<Value> =
            serde_json::from_str(&files.query(&["--json", "--correlation-id", "req-binary-1"])).expect("JSON");
        if !records.is_empty() || Instant::now() > deadline {
            break records;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["subject"], user_id.to_string());
    assert_eq!(records[0]["data"]["email"], "[redacted]");
    assert_eq!(records[0]["data"]["roles"], serde_json::json!(["admin"]));

    let table = files.query(&["--type", "user.created"]);
    assert!(table.starts_with("TIME"), "{table}");
    assert!(
        table.contains("req-binary-1") && !table.contains("ada@example.com"),
        "{table}"
    );
    assert_eq!(
        files.query(&["--type", "user.deleted"]).lines().count(),
        1,
        "only the header"
    );

    let (status, body) = service.get("/audit?subject=nobody").expect("the query API");
    assert_eq!((status, body.trim()), (200, "[]"));
    let exit = tokio::task::block_in_place(|| service.terminate()).expect("it stops");
    let log = files.logged();
    assert!(exit.success(), "{exit}: {log}");
    assert!(log.contains("audit-logger stopped"), "{log}");
}

/// Issue 9, §1.0: a backlog spanning two streams, the audit logger started
/// after it at the default settings (block 5 s, publish timeout 5 s). It
/// used to record none of it, all of it left pending, while `/health`
/// answered 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_after_a_backlog_in_two_streams_it_records_all_of_it_at_the_defaults() {
    const EACH: usize = 150;
    let redis = RedisServer::start().expect("redis-server starts");
    let files = Files::new();
    let publisher = publisher(&redis).await;
    let context = PublishContext::new();
    for n in 0..EACH {
        let started = SystemServiceStarted {
            service: "menu".into(),
            instance: format!("host-{n}"),
            service_version: "1.0.0".into(),
            started_at: Utc::now(),
        };
        publisher
            .system_service_started(&started, &context)
            .await
            .expect("published");
        let activated = CurrencyActivated {
            company_id: Uuid::now_v7(),
            currency: "EUR".into(),
            decimals: 2,
            activated_by: Uuid::now_v7(),
            activated_at: Utc::now(),
        };
        publisher
            .currency_activated(&activated, &context)
            .await
            .expect("published");
    }

    let service = files.serve(&redis, &[]);
    let deadline = Instant::now() + PATIENCE;
    let records = loop {
        let (status, body) = tokio::task::block_in_place(|| service.get("/audit?limit=1000")).expect("the query API");
        assert_eq!(status, 200, "{body}");
        let records: Vec<Value> = serde_json::from_str(&body).expect("JSON");
        if records.len() >= 2 * EACH {
            break records;
        }
        assert!(
            Instant::now() < deadline,
            "recorded {} of {}: {}",
            records.len(),
            2 * EACH,
            files.logged()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let of_type = |wanted: &str| records.iter().filter(|record| record["type"] == wanted).count();
    assert_eq!(records.len(), 2 * EACH);
    assert_eq!(
        (of_type("system.service_started"), of_type("currency.activated")),
        (EACH, EACH)
    );

    // The next beat sees the consumer holding nothing: none left pending.
    let settled = format!("holds 0, settled {}", 2 * EACH);
    let body = health_until(&service, "200, the consumer holding nothing", |status, body| {
        status == 200
            && consumer_checks(body, "checks").iter().any(|check| {
                check["detail"]
                    .as_str()
                    .is_some_and(|detail| detail.starts_with(&settled))
            })
    })
    .await;
    assert_eq!(body["status"], "ok", "{body}");
    let exit = tokio::task::block_in_place(|| service.terminate()).expect("it stops");
    assert!(exit.success(), "{exit}: {}", files.logged());
}

/// `/health` follows the consumer: 503 naming it once it has not read for
/// its read patience with Redis down, 200 again once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_naming_the_consumer_while_it_cannot_read() {
    let mut redis = RedisServer::start().expect("redis-server starts");
    let files = Files::new();
    // Shortened so the test does not wait out the defaults: a consumer
    // counts as not reading once no read has come back for (block +
    // publish timeout) × 2, 20 s at the defaults, 4 s with these. The
    // heartbeat beats every 5 s (no setting of the services changes that),
    // so /health follows within a beat.
    let service = files.serve(&redis, &[("XERPIUM_BLOCK", "1s"), ("XERPIUM_PUBLISH_TIMEOUT", "1s")]);
    health_until(&service, "200 ok", |status, body| {
        status == 200 && body["status"] == "ok"
    })
    .await;

    tokio::task::block_in_place(|| redis.stop()).expect("redis-server stops");
    let body = health_until(&service, "503", |status, _| status == 503).await;
    assert_eq!(body["status"], "unhealthy", "{body}");
    let failing = consumer_checks(&body, "failing");
    assert_eq!(failing.len(), 1, "{body}");
    assert!(
        failing[0]["detail"]
            .as_str()
            .is_some_and(|detail| detail.starts_with("not reading")),
        "{body}"
    );
    assert!(
        body["failing"]
            .as_array()
            .is_some_and(|checks| checks.iter().any(|check| check["name"] == "redis")),
        "{body}"
    );

    tokio::task::block_in_place(|| redis.start_again()).expect("redis-server starts again");
    let body = health_until(&service, "200 ok after Redis is back", |status, body| {
        status == 200 && body["status"] == "ok"
    })
    .await;
    assert!(body.get("failing").is_none(), "{body}");
    let exit = tokio::task::block_in_place(|| service.terminate()).expect("it stops");
    assert!(exit.success(), "{exit}: {}", files.logged());
}

/// A consumer that cannot run (a category's stream key holds a string:
/// creating its group fails with WRONGTYPE, which waiting cannot fix) stops
/// the process with a non-zero exit code and says why; the audit logger
/// used to keep answering HTTP, `/health` 200, with no consumer behind it.
#[test]
fn a_consumer_that_stops_stops_the_process_with_a_failure() {
    let redis = RedisServer::start().expect("redis-server starts");
    let files = Files::new();
    let key = format!("{NAMESPACE}:events:system");
    let set = Command::new("redis-cli")
        .args(["-p", &redis.port().to_string(), "SET", &key, "not a stream"])
        .output()
        .expect("redis-cli runs");
    assert!(set.status.success(), "{set:?}");

    let mut service = files.spawn(&redis, &[]);
    let exit = service.wait().expect("it exits on its own");
    let log = files.logged();
    assert_eq!(exit.code(), Some(1), "{log}");
    assert!(log.contains("the consumer stopped unexpectedly"), "{log}");
    assert!(log.contains("WRONGTYPE"), "{log}");
    assert!(!log.contains("audit-logger stopped"), "{log}");
}
