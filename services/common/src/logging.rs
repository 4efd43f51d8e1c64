//! The `tracing` subscriber of the services' binaries: human-readable lines
//! on stderr, filtered by `RUST_LOG` (default `info`), and, when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the spans exported over OTLP
//! ([`otlp`]); `RUST_LOG` filters those too.

use std::io::IsTerminal;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::runtime::Handle;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::error::Error;
use crate::otlp;
use crate::settings::Settings;

/// How long [`Logging::shutdown`] waits for the last spans to be exported.
const FLUSH: Duration = Duration::from_secs(5);

/// What [`init`] installed: the export of spans, if on, to flush at exit.
#[derive(Debug)]
#[must_use = "spans still buffered are exported only by `shutdown`"]
pub struct Logging {
    traces: Option<SdkTracerProvider>,
}

/// Installs the subscriber of service `service` (colours only on a
/// terminal), exporting its spans over OTLP when `env` sets an endpoint,
/// with requests sent on `runtime`; does nothing if a subscriber is already
/// installed. An OTLP setting that cannot be used is an error naming it.
pub fn init<F: Fn(&str) -> Option<String>>(
    service: &str,
    env: &Settings<F>,
    runtime: &Handle,
) -> Result<Logging, Error> {
    let traces = otlp::provider(service, env, runtime)?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let spans = traces
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("xerpium")));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(spans)
        .try_init();
    Ok(Logging { traces })
}

impl Logging {
    /// Exports the spans still buffered (waiting up to 5 s) and stops the
    /// export. Call it while the runtime given to [`init`] still runs.
    pub fn shutdown(self) {
        if let Some(provider) = self.traces
            && let Err(error) = provider.shutdown_with_timeout(FLUSH)
        {
            eprintln!("cannot export the last spans: {error}");
        }
    }
}
