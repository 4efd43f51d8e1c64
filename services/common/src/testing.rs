//! Test support (feature `testing`): a service's real binary as a child
//! process, on a free loopback port, stopped with SIGTERM like a process
//! manager would.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a service may take to start or to stop.
const PATIENCE: Duration = Duration::from_secs(60);

/// A service binary running as a child process; killed when dropped.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Child,
    address: SocketAddr,
}

impl ServiceProcess {
    /// Runs `binary` with `args` and `env`, listening where `addr_variable`
    /// says (a free loopback port), its stderr in `log`; see
    /// [`ready`](Self::ready) to wait until it answers.
    pub fn spawn(
        binary: &str,
        args: &[&str],
        addr_variable: &str,
        env: &[(&str, &str)],
        log: &Path,
    ) -> std::io::Result<ServiceProcess> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
        let child = Command::new(binary)
            .args(args)
            .env(addr_variable, address.to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log)?)
            .spawn()?;
        Ok(ServiceProcess { child, address })
    }

    /// Waits until `GET /health` answers 200; an error if the process
    /// exits first, or does not answer within a minute.
    pub fn ready(mut self) -> std::io::Result<ServiceProcess> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(std::io::Error::other(format!("it exited at start: {status}")));
            }
            if self.get("/health").is_ok_and(|(status, _)| status == 200) {
                return Ok(self);
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other(format!("it did not answer on {}", self.address)));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `GET path`: the status code and the body.
    pub fn get(&self, path: &str) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect_timeout(&self.address, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
        let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_owned();
        Ok((status, body))
    }

    /// `GET /health`: the status code and the body, which is JSON.
    pub fn health(&self) -> std::io::Result<(u16, serde_json::Value)> {
        let (status, body) = self.get("/health")?;
        let body = serde_json::from_str(&body)
            .map_err(|error| std::io::Error::other(format!("/health answered {status} {body:?}: {error}")))?;
        Ok((status, body))
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(mut self) -> std::io::Result<ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !sent.success() {
            return Err(std::io::Error::other("kill -TERM failed"));
        }
        self.wait()
    }

    /// Waits for the process to exit (at most a minute); how it ended.
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other("the service did not exit"));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}
