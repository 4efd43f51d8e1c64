//! The `user-auth` binary: configured from the environment, serves its API
//! and its page, reports its command server in `/health`, and stops
//! cleanly (exit code 0) on SIGTERM; a command server that stops stops the
//! process, with a non-zero exit code. With `OTEL_EXPORTER_OTLP_ENDPOINT`
//! it exports its spans there; an `OTEL_*` value it cannot use stops it at
//! start, naming the variable.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use xerpium_events::messaging::testing::RedisServer;
use xerpium_service::testing::ServiceProcess;

const BINARY: &str = env!("CARGO_BIN_EXE_user-auth");

/// Runs user-auth on `redis` with its files in `dir`; returns it and its
/// stderr's file.
fn run(redis: &RedisServer, dir: &Path) -> (ServiceProcess, PathBuf) {
    run_with(redis, dir, &[])
}

/// Runs user-auth on `redis` with its files in `dir` and the variables
/// `more`; returns it and its stderr's file.
fn run_with(redis: &RedisServer, dir: &Path, more: &[(&str, &str)]) -> (ServiceProcess, PathBuf) {
    let env = [
        ("XERPIUM_REDIS_URL", redis.url()),
        ("XERPIUM_NAMESPACE", "binary".to_owned()),
        (
            "USER_AUTH_DATABASE",
            dir.join("user-auth.sqlite3").display().to_string(),
        ),
    ];
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend_from_slice(more);
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

/// A request as the collector received it: its head and its body.
type Received = (String, Vec<u8>);

/// A stand-in OTLP collector on a free loopback port: answers every request
/// `200 OK` and keeps each one.
#[derive(Clone)]
struct Collector {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Collector {
    fn start() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let collector = Collector {
            address: listener.local_addr().expect("an address"),
            received: Arc::default(),
        };
        let serving = collector.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let serving = serving.clone();
                std::thread::spawn(move || serving.answer(stream));
            }
        });
        collector
    }

    /// Answers the requests of one connection until the client closes it.
    fn answer(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream);
        loop {
            let mut head = String::new();
            while !head.ends_with("\r\n\r\n") {
                match reader.read_line(&mut head) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
            let length = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(str::to_owned)
                })
                .and_then(|length| length.trim().parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            self.received.lock().expect("not poisoned").push((head, body));
            let answered = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n");
            if answered.is_err() {
                return;
            }
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("not poisoned").clone()
    }
}

#[test]
fn it_exports_its_spans_over_otlp_when_an_endpoint_is_set() {
    let redis = RedisServer::start().expect("redis-server starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let collector = Collector::start();
    let endpoint = format!("http://{}", collector.address);
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let (service, log) = run_with(&redis, dir.path(), &otel);
    let service = service.ready().expect("user-auth starts");
    assert_eq!(service.get("/users/me").expect("an answer").0, 401);
    let exit = service.terminate().expect("it stops");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(exit.success(), "{exit}: {log}");
    // Protobuf keeps strings as they are: the span's name and the service's show in the body.
    let exported = collector.received().into_iter().any(|(head, body)| {
        let head = head.to_ascii_lowercase();
        let has = |text: &str| body.windows(text.len()).any(|window| window == text.as_bytes());
        head.starts_with("post /v1/traces ")
            && head.contains("content-type: application/x-protobuf")
            && has("http_request")
            && has("/users/me")
            && has("user-auth")
    });
    assert!(exported, "no span of GET /users/me reached the collector: {log}");
}

#[test]
fn an_otel_setting_it_cannot_use_stops_it_at_start_naming_the_variable() {
    let redis = RedisServer::start().expect("redis-server starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ];
    let (mut service, log) = run_with(&redis, dir.path(), &otel);
    let exit = service.wait().expect("it exits on its own");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(exit.code(), Some(1), "{log}");
    assert!(
        log.contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"grpc\" is invalid") && !log.contains("panicked"),
        "{log}"
    );
}
