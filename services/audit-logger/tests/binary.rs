//! The `audit-logger` binary: records what is published (personal data
//! redacted), `audit-logger query` prints it, and SIGTERM stops it cleanly.

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;
use xerpium_events::messaging::Publisher;
use xerpium_events::messaging::testing::RedisServer;
use xerpium_events::{PublishContext, PublishEvents, UserCreated, UserRole};
use xerpium_service::testing::ServiceProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_records_what_is_published_and_query_prints_it() {
    let redis = RedisServer::start().expect("redis-server starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = dir.path().join("audit.sqlite3");
    let env = [
        ("XERPIUM_REDIS_URL", redis.url()),
        ("XERPIUM_NAMESPACE", "binary".to_owned()),
        ("XERPIUM_BLOCK", "100ms".to_owned()),
        ("AUDIT_LOGGER_DATABASE", database.display().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let log = dir.path().join("stderr.log");
    let binary = env!("CARGO_BIN_EXE_audit-logger");
    let service =
        tokio::task::block_in_place(|| ServiceProcess::start(binary, &["serve"], "AUDIT_LOGGER_ADDR", &env, &log))
            .expect("audit-logger starts");

    let config = redis
        .config("user-auth")
        .namespace("binary")
        .build()
        .expect("a configuration");
    let publisher = Publisher::connect(&config).await.expect("a publisher");
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
    publisher.user_created(&event, &context).await.expect("published");

    let query = |args: &[&str]| {
        let output = Command::new(binary)
            .arg("query")
            .args(args)
            .arg("--database")
            .arg(&database)
            .output()
            .expect("audit-logger query runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let records: Vec<serde_json::Value> = loop {
        let records: Vec<serde_json::Value> =
            serde_json::from_str(&query(&["--json", "--correlation-id", "req-binary-1"])).expect("JSON");
        if !records.is_empty() || Instant::now() > deadline {
            break records;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["subject"], user_id.to_string());
    assert_eq!(records[0]["data"]["email"], "[redacted]");
    assert_eq!(records[0]["data"]["roles"], serde_json::json!(["admin"]));

    let table = query(&["--type", "user.created"]);
    assert!(table.starts_with("TIME"), "{table}");
    assert!(
        table.contains("req-binary-1") && !table.contains("ada@example.com"),
        "{table}"
    );
    assert_eq!(query(&["--type", "user.deleted"]).lines().count(), 1, "only the header");

    let (status, body) = service.get("/audit?subject=nobody").expect("the query API");
    assert_eq!((status, body.trim()), (200, "[]"));
    let exit = tokio::task::block_in_place(|| service.terminate()).expect("it stops");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(exit.success(), "{exit}: {log}");
    assert!(log.contains("audit-logger stopped"), "{log}");
}
