//! The `audit-logger` binary.
//!
//! - `audit-logger` or `audit-logger serve`: consume and record every event,
//!   serve the query API; settings from the environment (`AUDIT_LOGGER_*`,
//!   `XERPIUM_*`); runs until SIGTERM or Ctrl-C.
//! - `audit-logger query [--subject S] [--type T] [--correlation-id C]
//!   [--since TIME] [--until TIME] [--limit N] [--json] [--database FILE]`:
//!   prints the matching records of the trail (reads the file directly, also
//!   while the service runs).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use audit_logger::filter::Filter;
use audit_logger::{output, settings, trail};
use clap::{Parser, Subcommand};
use rusqlite::{Connection, OpenFlags};
use xerpium_service::{http, main_loop};

/// XERPIUM's audit logger: records every event, personal data redacted.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Consume every category and record each event (the default).
    Serve,
    /// Print records of the trail.
    Query {
        #[command(flatten)]
        filter: Filter,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// The trail's SQLite file [default: $AUDIT_LOGGER_DATABASE, else audit-logger.sqlite3].
        #[arg(long, value_name = "FILE")]
        database: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::Serve => main_loop::run(audit_logger::SERVICE, |env, shutdown| async move {
            let settings = audit_logger::Settings::read(&env)?;
            let config = env.messaging(audit_logger::SERVICE)?;
            let start = audit_logger::start_position(config.start(), audit_logger::start_is_set(&env));
            let listener = http::bind(settings.addr).await?;
            audit_logger::run(settings, config, start, listener, shutdown).await
        }),
        Command::Query { filter, json, database } => {
            let database = database
                .or_else(|| std::env::var_os(settings::DATABASE).map(PathBuf::from))
                .unwrap_or_else(|| audit_logger::Settings::default().database);
            match query(&database, &filter, json) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("audit-logger query: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Prints the records of the trail in `database` that match `filter`.
fn query(database: &std::path::Path, filter: &Filter, json: bool) -> Result<(), String> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(database, flags)
        .map_err(|error| format!("cannot open {}: {error}", database.display()))?;
    let records = trail::query(&connection, filter).map_err(|error| format!("cannot read the trail: {error}"))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = if json {
        output::json(&records, &mut out)
    } else {
        output::table(&records, &mut out)
    };
    written.and_then(|()| out.flush()).map_err(|error| error.to_string())
}
