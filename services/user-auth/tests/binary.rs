//! The `user-auth` binary: configured from the environment, serves its API
//! and its page, reports its command server in `/health`, and stops
//! cleanly (exit code 0) on SIGTERM; a command server that stops stops the
//! process, with a non-zero exit code.

use std::path::{Path, PathBuf};
use std::process::Command;

use xerpium_events::messaging::testing::RedisServer;
use xerpium_service::testing::ServiceProcess;

const BINARY: &str = env!("CARGO_BIN_EXE_user-auth");

/// Runs user-auth on `redis` with its files in `dir`; returns it and its
/// stderr's file.
fn run(redis: &RedisServer, dir: &Path) -> (ServiceProcess, PathBuf) {
    let env = [
        ("XERPIUM_REDIS_URL", redis.url()),
        ("XERPIUM_NAMESPACE", "binary".to_owned()),
        (
            "USER_AUTH_DATABASE",
            dir.join("user-auth.sqlite3").display().to_string(),
        ),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let log = dir.join("stderr.log");
    let service = ServiceProcess::spawn(BINARY, &[], "USER_AUTH_ADDR", &env, &log).expect("user-auth runs");
    (service, log)
}

#[test]
fn it_serves_until_sigterm_and_exits_cleanly() {
    let redis = RedisServer::start().expect("redis-server starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (service, log) = run(&redis, dir.path());
    let service = service.ready().expect("user-auth starts");
    let (status, page) = service.get("/").expect("the page");
    assert_eq!(status, 200);
    assert!(page.contains("<title>XERPIUM</title>"));
    assert_eq!(service.get("/users/me").expect("an answer").0, 401);
    let (status, health) = service.health().expect("an answer");
    let ok = (200, &"ok".into(), &0.into());
    assert_eq!((status, &health["status"], &health["outbox_pending"]), ok, "{health}");
    assert!(health["checks"].to_string().contains("consumer user-auth/"), "{health}");
    let exit = service.terminate().expect("it stops");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(exit.success(), "{exit}: {log}");
    assert!(log.contains("SIGTERM") && log.contains("user-auth stopped"), "{log}");
    assert!(dir.path().join("user-auth.sqlite3").exists());
}

/// The command stream's key holds a string: the command server cannot
/// create its group (WRONGTYPE, which waiting cannot fix) and stops; the
/// process stops with it instead of serving HTTP without its commands.
#[test]
fn a_command_server_that_stops_stops_the_process_with_a_failure() {
    let redis = RedisServer::start().expect("redis-server starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let set = Command::new("redis-cli")
        .args([
            "-p",
            &redis.port().to_string(),
            "SET",
            "binary:commands:user-auth",
            "not a stream",
        ])
        .output()
        .expect("redis-cli runs");
    assert!(set.status.success(), "{set:?}");
    let (mut service, log) = run(&redis, dir.path());
    let exit = service.wait().expect("it exits on its own");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(exit.code(), Some(1), "{log}");
    assert!(
        log.contains("the command server stopped unexpectedly") && log.contains("WRONGTYPE"),
        "{log}"
    );
}
