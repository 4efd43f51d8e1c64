//! The `xerpium-demo` binary: plays the scenario against running services
//! and prints what happened, the notifications Alice's and Bob's browsers
//! received, and whether the audit trail holds every event.
//!
//! Settings: `DEMO_USER_AUTH_URL` (default `http://127.0.0.1:8081`),
//! `DEMO_COMPANY_PARTNER_URL` (`http://127.0.0.1:8082`), `DEMO_AUDIT_URL`
//! (`http://127.0.0.1:8083`), and the runtime's `XERPIUM_REDIS_URL` and
//! `XERPIUM_NAMESPACE` for the commands. Exit code 0 when every step went
//! as scripted and the trail is complete.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;
use xerpium_demo::http::Http;
use xerpium_demo::scenario::{self, Report, Services};
use xerpium_events::messaging::{Caller, Config, config::var};

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("xerpium-demo: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(demo()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xerpium-demo: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn demo() -> Result<(), String> {
    let url = |variable: &str, default: &str| std::env::var(variable).unwrap_or_else(|_| default.to_owned());
    let services = Services {
        user_auth: Http::new(&url("DEMO_USER_AUTH_URL", "http://127.0.0.1:8081")),
        company_partner: Http::new(&url("DEMO_COMPANY_PARTNER_URL", "http://127.0.0.1:8082")),
        audit: Http::new(&url("DEMO_AUDIT_URL", "http://127.0.0.1:8083")),
    };
    let config = Config::from_vars(|variable| {
        std::env::var(variable)
            .ok()
            .or_else(|| (variable == var::SERVICE).then(|| "xerpium-demo".to_owned()))
    })
    .map_err(|error| error.to_string())?;
    let commands = Caller::connect(&config).await.map_err(|error| error.to_string())?;
    for service in [&services.user_auth, &services.company_partner, &services.audit] {
        wait_ready(service, Duration::from_secs(60)).await?;
    }

    println!("== scenario");
    let report = scenario::run(&services, &commands, |line| println!("  {line}"))
        .await
        .map_err(|error| error.to_string())?;
    let trail = scenario::wait_for_trail(&services.audit, &report, Duration::from_secs(30))
        .await
        .map_err(|error| error.to_string())?;
    println!("== audit trail: all {} events of this run recorded", trail.len());
    print_notifications(&report).await;
    Ok(())
}

/// Waits until `service` answers `GET /health` with 200.
async fn wait_ready(service: &Http, timeout: Duration) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match service.get("/health").send().await {
            Ok(reply) if reply.status.is_success() => return Ok(()),
            _ if tokio::time::Instant::now() >= deadline => {
                return Err(format!("{} did not answer within {timeout:?}", service.base()));
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn print_notifications(report: &Report) {
    println!("== notifications received");
    let wait = Duration::from_secs(5);
    for (who, events, expected) in [
        ("alice", &report.alice_notifications, 2),
        ("bob", &report.bob_notifications, 2),
    ] {
        for notification in events.wait_for(expected, wait).await {
            let field = |name: &str| {
                notification
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            println!(
                "  {who:<6} [{}] {}: {}",
                field("type"),
                field("title"),
                field("message")
            );
        }
    }
}
