//! Spans kept in memory for a test to look at (features `testing` and
//! `otel`): an OpenTelemetry tracer whose spans, once ended, an
//! [`InMemorySpanExporter`] keeps.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//! use xerpium_messaging::testing::traces::Traces;
//!
//! let traces = Traces::new();
//! let layer = tracing_opentelemetry::layer().with_tracer(traces.tracer());
//! let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
//! // … publish, consume, call …
//! let handled = traces.one("handle");
//! ```

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracer, SdkTracerProvider};

pub use opentelemetry_sdk::trace::SpanData;

/// A tracer provider exporting every ended span to memory, at once.
#[derive(Debug, Clone)]
pub struct Traces {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

impl Default for Traces {
    fn default() -> Self {
        Self::new()
    }
}

impl Traces {
    /// A provider with nothing exported yet.
    pub fn new() -> Traces {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        Traces { exporter, provider }
    }

    /// Its tracer, for `tracing_opentelemetry::layer().with_tracer(…)`.
    pub fn tracer(&self) -> SdkTracer {
        self.provider.tracer("xerpium-test")
    }

    /// Every span ended so far.
    pub fn spans(&self) -> Vec<SpanData> {
        self.exporter.get_finished_spans().unwrap_or_default()
    }

    /// The spans ended so far named `name`.
    pub fn named(&self, name: &str) -> Vec<SpanData> {
        let mut spans = self.spans();
        spans.retain(|span| span.name == name);
        spans
    }

    /// The one span ended so far named `name`; panics unless there is exactly one.
    pub fn one(&self, name: &str) -> SpanData {
        let mut spans = self.named(name);
        assert_eq!(spans.len(), 1, "one `{name}` span: {spans:#?}");
        spans.remove(0)
    }
}

/// The attribute `key` of `span` (a field of its `tracing` span), as text,
/// if it has one.
pub fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

/// The W3C `traceparent` naming `span`, as an entry carries it.
pub fn traceparent(span: &SpanData) -> String {
    let context = &span.span_context;
    format!(
        "00-{}-{}-{:02x}",
        context.trace_id(),
        context.span_id(),
        context.trace_flags().to_u8()
    )
}

/// Whether `child`'s parent is `parent`, in `parent`'s trace.
pub fn is_child(child: &SpanData, parent: &SpanData) -> bool {
    child.span_context.trace_id() == parent.span_context.trace_id()
        && child.parent_span_id == parent.span_context.span_id()
}
