//! The `company-partner` binary: configured from the environment, serves
//! its API and its commands, reports its command server in `/health`, and
//! stops cleanly (exit code 0) on SIGTERM.

use xerpium_events::messaging::testing::RedisServer;
use xerpium_service::testing::ServiceProcess;

#[test]
fn it_serves_until_sigterm_and_exits_cleanly() {
    let redis = RedisServer::start().expect("redis-server starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = dir.path().join("company-partner.sqlite3");
    let env = [
        ("XERPIUM_REDIS_URL", redis.url()),
        ("XERPIUM_NAMESPACE", "binary".to_owned()),
        ("COMPANY_PARTNER_DATABASE", database.display().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let log = dir.path().join("stderr.log");
    let service = ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_company-partner"),
        &[],
        "COMPANY_PARTNER_ADDR",
        &env,
        &log,
    )
    .and_then(ServiceProcess::ready)
    .expect("company-partner starts");
    let (status, body) = service.get("/currency-rates/EUR/USD").expect("an answer");
    assert_eq!(status, 404, "{body}");
    let (status, health) = service.health().expect("an answer");
    let ok = (200, &"ok".into(), &0.into());
    assert_eq!((status, &health["status"], &health["outbox_pending"]), ok, "{health}");
    assert!(
        health["checks"].to_string().contains("consumer company-partner/"),
        "{health}"
    );
    let exit = service.terminate().expect("it stops");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(exit.success(), "{exit}: {log}");
    assert!(
        log.contains("SIGTERM") && log.contains("company-partner stopped"),
        "{log}"
    );
}
