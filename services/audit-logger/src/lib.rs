//! `audit-logger`: XERPIUM's reference audit logger.
//!
//! Consumes every category's stream in its own consumer group through the
//! generated `EventDispatch` ([`recorder`]), and appends each event once
//! (by event id) to an append-only SQLite trail ([`trail`]), with the
//! personal data the catalog marks `pii` redacted ([`redaction`]). The trail
//! is read with `audit-logger query` or over HTTP ([`http`]), filtered the
//! same way ([`filter`]).
//!
//! # Layout
//! - [`settings`]: `AUDIT_LOGGER_*` settings.
//! - [`redaction`]: personal data out, by the generated code; [`recorder`]: events into the trail.
//! - [`trail`]: the table and its queries; [`filter`]: which records to show; [`output`]: table or JSON.
//! - [`http`]: the query API.

pub mod filter;
pub mod http;
pub mod output;
pub mod recorder;
pub mod redaction;
pub mod settings;
pub mod trail;

use tokio::net::TcpListener;
use xerpium_events::EventDispatch;
use xerpium_events::messaging::{Config, Consumer, Heartbeat, StartPosition, config::var};
use xerpium_service::{Database, Error, Essential, Health, Shutdown};

pub use settings::Settings;

use crate::recorder::Recorder;

/// The service's name: its consumer group unless `XERPIUM_GROUP` says otherwise.
pub const SERVICE: &str = "audit-logger";

/// Runs the audit logger until `shutdown`: the consumer (every category),
/// the query API on `listener` and a heartbeat, which `GET /health`
/// answers from. `start` is where a new consumer group starts: the
/// beginning of the streams unless `XERPIUM_START` is set (see
/// [`start_position`]). The consumer is [`Essential`]: if it stops before
/// `shutdown` (it failed, or panicked), everything stops and this returns
/// its error.
pub async fn run(
    settings: Settings,
    config: Config,
    start: StartPosition,
    listener: TcpListener,
    shutdown: Shutdown,
) -> Result<(), Error> {
    let db = Database::open(&settings.database, trail::SCHEMA)?;
    let consumer = Consumer::builder(&config).start(start).build()?;
    let heartbeat = Heartbeat::builder(&config)
        .version(env!("CARGO_PKG_VERSION"))
        .watch(consumer.progress())
        .start()?;
    let recorder = Recorder::new(db.clone());
    let consuming = Essential::spawn(
        "the consumer",
        consumer.run(EventDispatch(recorder), shutdown.wait()),
        &shutdown,
    );
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, group = config.group(), "audit-logger listening");
    }
    let router = http::router(db, Health::new(&heartbeat, &config));
    let served = xerpium_service::http::serve(listener, router, shutdown.clone()).await;
    shutdown.trigger();
    let consumed = consuming.stop().await;
    heartbeat.stop().await;
    consumed?;
    Ok(served?)
}

/// Where a new consumer group starts: from `XERPIUM_START` when it is set,
/// else from the beginning of the streams, so that an audit logger started
/// after the others still records what they published before.
pub fn start_position(configured: StartPosition, explicitly_set: bool) -> StartPosition {
    if explicitly_set {
        configured
    } else {
        StartPosition::Beginning
    }
}

/// Whether `XERPIUM_START` is set in `env`.
pub fn start_is_set<F: Fn(&str) -> Option<String>>(env: &xerpium_service::settings::Settings<F>) -> bool {
    env.raw(var::START).is_some()
}
