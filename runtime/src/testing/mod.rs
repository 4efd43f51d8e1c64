//! Test support (feature `testing`): a throw-away `redis-server` per test,
//! or a throw-away Redis Cluster.
//!
//! [`RedisServer::start`] runs `redis-server` from `PATH` on a free loopback
//! port, in its own temporary directory, with the append-only file on and
//! fsynced at every write (so a restart or even a kill loses nothing). It
//! can be stopped, killed and started again on the same port and data, and
//! it is killed when dropped. No fixed ports, nothing shared between tests.
//!
//! [`RedisCluster::start`] runs six such servers as a Redis Cluster of three
//! masters and three replicas, which can fail over and move slots while
//! clients run.
//!
//! With the feature `otel` too, [`traces::Traces`] keeps the spans of a test
//! in memory.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::Config;
use crate::config::ConfigBuilder;

mod backend;
mod cloudevents;
mod cluster;
#[cfg(feature = "otel")]
pub mod traces;

pub use backend::TestRedis;
pub use cloudevents::read_as_cloudevent;
pub use cluster::{ClusterNode, NodeRole, RedisCluster};

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A `redis-server` child process owned by a test.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port (retrying with another port
    /// if one is taken between choosing and binding it).
    pub fn start() -> io::Result<RedisServer> {
        Self::start_with(&[])
    }

    /// Starts a server with extra `redis-server` arguments, which override
    /// the defaults (e.g. `["--appendonly", "no"]` for a benchmark).
    pub fn start_with(extra: &[&str]) -> io::Result<RedisServer> {
        Self::start_on(free_port, extra)
    }

    /// Starts a server with extra arguments on a port that `choose_port`
    /// finds free, choosing again if it is taken before the server binds it.
    fn start_on(choose_port: fn() -> io::Result<u16>, extra: &[&str]) -> io::Result<RedisServer> {
        let dir = tempfile::Builder::new().prefix("xerpium-redis-").tempdir()?;
        let mut server = RedisServer {
            port: 0,
            dir,
            extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
            child: None,
        };
        let mut last_error = None;
        for _ in 0..5 {
            server.port = choose_port()?;
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's data directory (append-only file, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A configuration for `service` on this server, in a namespace of its
    /// own, with every other setting at its production default (block 5 s,
    /// claim idle 60 s, publish timeout 5 s, …): for tests of behaviour that
    /// depends on timing, which must hold as deployed.
    pub fn config_with_defaults(&self, service: &str) -> ConfigBuilder {
        Config::builder(service)
            .redis_url(self.url())
            .namespace(format!("test{}", self.port))
    }

    /// A configuration for `service` on this server, in a namespace of its
    /// own, with timings short enough for tests (block 100 ms, claim idle
    /// 1 s, backoff 50 ms to 200 ms, publish timeout 2 s).
    pub fn config(&self, service: &str) -> ConfigBuilder {
        quick(self.config_with_defaults(service))
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Whether the server was started and has not been stopped or killed
    /// since (unlike [`is_running`](Self::is_running), without asking the
    /// process whether it exited by itself).
    fn is_started(&self) -> bool {
        self.child.is_some()
    }

    /// Stops the server cleanly (`SHUTDOWN`: the append-only file is
    /// flushed), waiting for the process to exit.
    pub fn stop(&mut self) -> io::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = command(self.port, &["SHUTDOWN"]);
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(10));
        }
        child.kill()?;
        child.wait().map(drop)
    }

    /// Keeps the server busy for `time`, answering no one (a script that
    /// spins), from a thread of its own; join it to wait for the end.
    pub fn hold(&self, time: Duration) -> thread::JoinHandle<io::Result<String>> {
        const SPIN: &str = "local start = redis.call('TIME') \
            repeat local now = redis.call('TIME') \
            until (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > tonumber(ARGV[1])";
        let port = self.port;
        let micros = time.as_micros().to_string();
        thread::spawn(move || command(port, &["EVAL", SPIN, "0", &micros]))
    }

    /// Kills the server at once (`SIGKILL`), as a crash would.
    pub fn kill(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts the server again on the same port and data directory, after
    /// [`stop`](Self::stop) or [`kill`](Self::kill).
    pub fn start_again(&mut self) -> io::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                // The port may linger for a moment after the old process.
                Err(error) if Instant::now() >= deadline => return Err(error),
                Err(_) => thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Stops the server cleanly and starts it again.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        self.start_again()
    }

    fn spawn(&mut self) -> io::Result<()> {
        let dir = self.dir.path();
        let mut child = Command::new("redis-server")
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--protected-mode", "no"])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--save", ""])
            .arg("--dir")
            .arg(dir)
            .args(["--logfile", "redis.log", "--daemonize", "no"])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| io::Error::new(error.kind(), format!("cannot run redis-server: {error}")))?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!(
                    "redis-server exited ({status}) on port {}: {}",
                    self.port,
                    log_tail(&dir.join("redis.log"))
                )));
            }
            if command(self.port, &["PING"]).is_ok_and(|reply| reply.starts_with("+PONG")) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "redis-server did not answer PING",
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// `builder` with timings short enough for tests (block 100 ms, claim idle
/// 1 s, backoff 50 ms to 200 ms, publish timeout 2 s, shutdown 5 s).
fn quick(builder: ConfigBuilder) -> ConfigBuilder {
    builder
        .block(Duration::from_millis(100))
        .claim_idle(Duration::from_secs(1))
        .backoff_first(Duration::from_millis(50))
        .backoff_max(Duration::from_millis(200))
        .publish_timeout(Duration::from_secs(2))
        .shutdown_timeout(Duration::from_secs(5))
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// Sends one command in RESP and returns the first line of the reply.
fn command(port: u16, parts: &[&str]) -> io::Result<String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut request = format!("*{}\r\n", parts.len());
    for part in parts {
        request.push_str(&format!("${}\r\n{part}\r\n", part.len()));
    }
    stream.write_all(request.as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line)
}

/// The last lines of the log file at `path`, on one line.
fn log_tail(path: &Path) -> String {
    let mut log = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut log);
    }
    let lines: Vec<&str> = log.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}
