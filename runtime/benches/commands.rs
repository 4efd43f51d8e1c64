//! Command round trips through one redis-server with one server instance:
//!
//! ```text
//! cargo bench -p xerpium-messaging --features testing --bench commands
//! ```
//!
//! A caller sends a small request (a company id) and waits for a reply of
//! about 200 bytes of JSON; the server decodes the request and encodes the
//! response. Prints round trips per second and the p50/p99 latency of one
//! call at a time, then of many calls in flight at once. Not a test:
//! nothing fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use xerpium_messaging::testing::RedisServer;
use xerpium_messaging::{
    Caller, Command, CommandCaller, CommandServer, HandlerError, Message, ServeCommands, encode_response,
};

const WARM_UP: usize = 1_000;
const SECONDS: u64 = 5;
const IN_FLIGHT: usize = 64;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Get {
    company_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Company {
    company_id: String,
    name: String,
    legal_name: String,
    vat_number: String,
    currency: String,
    active: bool,
}

impl Command for Get {
    const NAME: &'static str = "bench.get";
    const TARGET: &'static str = "bench";
    const TIMEOUT: Duration = Duration::from_secs(10);
    const VERSION: u32 = 1;
    type Response = Company;
}

struct Directory;

impl ServeCommands for Directory {
    fn target(&self) -> &'static str {
        "bench"
    }

    fn commands(&self) -> &'static [&'static str] {
        &["bench.get"]
    }

    async fn serve(&self, message: &Message) -> Result<String, HandlerError> {
        let request: Get = message.decode()?;
        encode_response(&Company {
            company_id: request.company_id,
            name: "ACME".into(),
            legal_name: "ACME Corporation Limited".into(),
            vat_number: "GB123456789".into(),
            currency: "GBP".into(),
            active: true,
        })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(bench())
}

async fn bench() -> Result<(), Box<dyn std::error::Error>> {
    let redis = RedisServer::start_with(&["--appendonly", "no"])?;
    let config = redis
        .config("bench")
        .block(Duration::from_secs(1))
        .publish_timeout(Duration::from_secs(5))
        .build()?;
    let server = CommandServer::builder(&config)
        .consumer_settings(|consumer| consumer.concurrency(IN_FLIGHT))
        .build()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(Directory, async move {
        let _ = stopped.await;
    }));
    let caller = Caller::connect(&config).await?;
    let request = Get {
        company_id: "0190a5d4-7c1e-7b3a-9f00-5e1c2d3b4a59".into(),
    };
    for _ in 0..WARM_UP {
        caller.call(&request, None).await?;
    }

    println!("command round trips, one server instance, redis-server on loopback, {SECONDS} s each");
    let one = run(&caller, &request, 1).await?;
    report("1 call at a time", &one);
    let many = run(&caller, &request, IN_FLIGHT).await?;
    report(&format!("{IN_FLIGHT} calls in flight"), &many);

    let _ = stop.send(());
    serving.await??;
    Ok(())
}

/// Latencies of every round trip made by `callers` concurrent loops
/// during [`SECONDS`], and the time it took.
struct Run {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

async fn run(caller: &Caller, request: &Get, callers: usize) -> Result<Run, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let until = started + Duration::from_secs(SECONDS);
    let request = Arc::new(request.clone());
    let loops: Vec<_> = (0..callers)
        .map(|_| {
            let (caller, request) = (caller.clone(), request.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let sent = Instant::now();
                    caller.call(&*request, None).await?;
                    latencies.push(sent.elapsed());
                }
                Ok::<_, xerpium_messaging::CommandError>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for each in loops {
        latencies.extend(each.await??);
    }
    Ok(Run {
        latencies,
        elapsed: started.elapsed(),
    })
}

fn report(label: &str, run: &Run) {
    let mut sorted = run.latencies.clone();
    sorted.sort_unstable();
    let at = |q: f64| {
        let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
        sorted.get(index).copied().unwrap_or_default()
    };
    let rate = sorted.len() as f64 / run.elapsed.as_secs_f64();
    println!(
        "{label:>22}: {rate:>8.0} round trips/s   p50 {:>7.3} ms   p99 {:>7.3} ms   max {:>7.3} ms   ({} calls)",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        sorted.len()
    );
}
