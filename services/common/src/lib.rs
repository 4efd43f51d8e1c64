//! `xerpium-service`: the plumbing XERPIUM's reference services share, so
//! that each service's own code is about its domain.
//!
//! # Layout
//! - [`shutdown`]: one switch that SIGTERM, Ctrl-C or a test flips, and every task watches.
//! - [`settings`]: reading a service's own settings from the environment.
//! - [`logging`]: the `tracing` subscriber every binary installs; [`otlp`]: its spans exported over OTLP when
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//! - [`db`]: one SQLite connection shared by a service's tasks, used off the async threads.
//! - [`outbox`]: events stored in the same SQLite transaction as the change ([`outbox::Outbox`]),
//!   published later in order by the [`outbox::Relay`].
//! - [`commands`]: the catalog's commands a service serves, run next to its HTTP API.
//! - [`essential`]: tasks a service cannot work without (consumer, command server): one that ends stops the service.
//! - [`health`]: `GET /health` from the heartbeat's latest report: 503 when a consumer is stopped, stuck or not reading.
//! - [`http`]: request ids (`X-Request-ID` as correlation id), JSON errors, serving with graceful shutdown.
//! - [`changes`]: what changed between two versions of a record, as `FieldChange`s.
//! - [`input`]: checks of free text callers send (names, notes, reasons).
//! - [`patch`]: partial updates that tell `null` (clear) from absent (keep).
//! - [`decimal`]: decimals read from JSON strings only, never from floats.
//! - `testing` (feature `testing`): a service binary as a child process, stopped with SIGTERM.
//! - [`error`]: why a service could not start or run; [`main_loop`]: what every `main` does around its service.

pub mod changes;
pub mod commands;
pub mod db;
pub mod decimal;
pub mod error;
pub mod essential;
pub mod health;
pub mod http;
pub mod input;
pub mod logging;
pub mod main_loop;
pub mod otlp;
pub mod outbox;
pub mod patch;
pub mod settings;
pub mod shutdown;
#[cfg(feature = "testing")]
pub mod testing;

pub use db::{Database, DbError, Transaction};
pub use error::Error;
pub use essential::Essential;
pub use health::Health;
pub use http::{ApiError, RequestId};
pub use outbox::{Outbox, OutboxTransaction, Relay};
pub use shutdown::Shutdown;
