//! The [`Publish`] trait that generated publisher methods call, and the
//! [`PublishContext`] that travels with each publish.

use std::future::Future;
use std::time::Duration;

use crate::event::Event;

/// Correlation and trace context of a publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishContext {
    /// The correlation id to carry. When absent, the message starts a chain:
    /// its own id is its correlation id (the events of one
    /// [`publish_batch`](crate::Publisher::publish_batch) share a new one).
    pub correlation_id: Option<String>,
    /// Id of the message or request that caused this publish.
    pub causation_id: Option<String>,
    /// W3C `traceparent` to carry. When absent, a publish inside an
    /// OpenTelemetry span (feature `otel`) carries that span's.
    pub traceparent: Option<String>,
    /// W3C `tracestate` that goes with `traceparent`.
    pub tracestate: Option<String>,
}

impl PublishContext {
    /// A context with nothing set: the message published with it starts a
    /// correlation chain of its own.
    pub fn new() -> Self {
        Self::default()
    }

    /// This context with the given correlation id (e.g. an `X-Request-ID`).
    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    /// This context with the given causation id.
    pub fn with_causation_id(mut self, causation_id: impl Into<String>) -> Self {
        self.causation_id = Some(causation_id.into());
        self
    }

    /// This context with the given W3C `traceparent`.
    pub fn with_traceparent(mut self, traceparent: impl Into<String>) -> Self {
        self.traceparent = Some(traceparent.into());
        self
    }

    /// This context with the given W3C `tracestate` (it goes with the `traceparent`).
    pub fn with_tracestate(mut self, tracestate: impl Into<String>) -> Self {
        self.tracestate = Some(tracestate.into());
        self
    }
}

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The event could not be serialized to JSON.
    #[error("cannot encode `{event_type}` as JSON: {source}")]
    Encode {
        /// The event's type name.
        event_type: &'static str,
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// Redis answered with an error or the connection failed.
    #[error("Redis refused the publish to `{stream}`: {reason}")]
    Redis {
        /// The stream written to.
        stream: String,
        /// What Redis or the connection said.
        reason: String,
    },
    /// No answer within the configured publish timeout.
    #[error("publish to `{stream}` timed out after {after:?} (is Redis reachable?)")]
    Timeout {
        /// The stream written to.
        stream: String,
        /// The timeout that elapsed.
        after: Duration,
    },
}

/// Publishes typed events; the generated `PublishEvents` methods call it.
pub trait Publish: Send + Sync {
    /// Publishes `event` with `context`; returns the stream entry id.
    fn publish<E: Event>(
        &self,
        event: &E,
        context: &PublishContext,
    ) -> impl Future<Output = Result<String, PublishError>> + Send;
}
