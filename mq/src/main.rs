//! `xerpium-mq`: the operator's view of XERPIUM messaging in Redis —
//! service health, streams, consumer groups, a live tail of events, and
//! dead letters (list, show, replay, purge).
//!
//! It reads the same configuration as the services (`XERPIUM_REDIS_URL`,
//! `XERPIUM_NAMESPACE`, …; `XERPIUM_SERVICE` is not needed), which
//! `--redis-url` and `--namespace` override.
//!
//! `xerpium-mq dashboard` serves the same views, and the dead-letter
//! actions, in a browser.
//!
//! Exit codes: 0 success, 1 error (Redis unreachable, bad configuration,
//! …), 2 bad usage, 3 `health` found an instance unhealthy or stale.

mod cli;
mod dashboard;
mod dead_letters;
mod dlq;
mod entry;
mod error;
mod output;
mod session;
mod tail;
mod views;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, DlqCommand};
use crate::dead_letters::Selection;
use crate::error::Error;
use crate::session::Session;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("xerpium-mq: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = runtime.block_on(run(cli, &mut out));
    let _ = out.flush();
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("xerpium-mq: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The dead letters a `dlq` command names: those of `reason`, else the
/// given ids, else (none given) all of them.
fn selection(ids: Vec<String>, reason: Option<String>) -> Selection {
    match reason {
        Some(reason) => Selection::Reason(reason),
        None if ids.is_empty() => Selection::All,
        None => Selection::Ids(ids),
    }
}

/// Runs one command, writing its output to `out`.
async fn run(cli: Cli, out: &mut impl Write) -> Result<ExitCode, Error> {
    let session = Session::open(cli.redis_url.as_deref(), cli.namespace.as_deref()).await?;
    let json = cli.json;
    match cli.command {
        Command::Health => views::health(&session, json, out).await,
        Command::Streams => views::streams(&session, json, out).await,
        Command::Groups => views::groups(&session, json, out).await,
        Command::Tail { category, from, count } => tail::tail(&session, category, &from, count, json, out).await,
        Command::Dashboard {
            addr,
            sample_every,
            stall_after,
            lag_threshold,
            allow_host,
        } => {
            let options = dashboard::Options {
                addr,
                sample_every,
                allow_hosts: allow_host,
                thresholds: dashboard::Thresholds {
                    stall_after,
                    lag: lag_threshold,
                },
            };
            dashboard::serve(session, options).await
        }
        Command::Dlq(command) => match command {
            DlqCommand::List { group: None, .. } => dlq::list_groups(&session, json, out).await,
            DlqCommand::List {
                group: Some(group),
                limit,
            } => dlq::list(&session, &group, limit, json, out).await,
            DlqCommand::Show { group, id } => dlq::show(&session, &group, &id, json, out).await,
            DlqCommand::Replay {
                group,
                ids,
                all,
                reason,
                keep,
            } => {
                let selection = selection(ids, reason.filter(|_| !all));
                dlq::replay(&session, &group, &selection, keep, json, out).await
            }
            DlqCommand::Purge {
                group,
                ids,
                reason,
                yes,
            } => dlq::purge(&session, &group, &selection(ids, reason), yes, out).await,
        },
    }
}
