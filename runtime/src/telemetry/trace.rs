//! Traces that follow a message: the W3C trace context of OpenTelemetry
//! spans (through `tracing-opentelemetry`) into stream entries and out of
//! them again (feature `otel`).
//!
//! An entry carries a trace context in its `traceparent` and `tracestate`
//! fields (W3C Trace Context). With the feature on and an OpenTelemetry
//! layer in the service's `tracing` subscriber:
//! - an event published inside a span carries that span's context, unless
//!   its [`PublishContext`](crate::PublishContext) carries one already; the
//!   `publish` span is a child of the context the (first) entry carries, so
//!   an envelope built earlier (kept in an outbox, say) is published in the
//!   trace it was built in;
//! - a consumer's `handle` span is a child of the context its entry carries
//!   (several groups reading one category make sibling `handle` spans, and
//!   each delivery of an entry is a span of its own);
//! - a command request carries the caller's `command` span, so the server's
//!   `handle` span is its child; the reply carries the server's `command`
//!   span, which the caller's span records as `reply_traceparent`;
//! - [`Message::follow_up`](crate::Message::follow_up) in a handler carries
//!   the handler's span, so what it publishes or calls continues the trace.
//!
//! Without the feature, or without an OpenTelemetry layer, these functions
//! do nothing: an entry carries the trace context its publish context
//! gives, a reply its request's.

use tracing::Span;

/// A trace context as an entry carries it: `traceparent` and `tracestate`,
/// each absent when there is none.
pub(crate) type Carried = (Option<String>, Option<String>);

/// Makes `span` a child of the (remote) span that `traceparent` and
/// `tracestate` name, e.g. those of a stream entry or of an HTTP request's
/// headers. Call it before `span` is first entered. Does nothing when
/// `traceparent` is absent or malformed, without the feature `otel`, or
/// when `span` is no OpenTelemetry span (no layer, or filtered out): it then
/// keeps the parent it was created with.
pub fn continue_trace(span: &Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    #[cfg(feature = "otel")]
    if let Some(traceparent) = traceparent {
        otel::continue_trace(span, traceparent, tracestate);
    }
    #[cfg(not(feature = "otel"))]
    let _ = (span, traceparent, tracestate);
}

/// The trace context to carry: `span`'s own when it is an OpenTelemetry span
/// (feature `otel`), otherwise `carried` as it is. Starts `span`'s
/// OpenTelemetry span: give it its parent ([`continue_trace`]) first.
pub(crate) fn span_or(span: &Span, carried: Carried) -> Carried {
    #[cfg(feature = "otel")]
    if let Some(own) = otel::context_of(span) {
        return own;
    }
    #[cfg(not(feature = "otel"))]
    let _ = span;
    carried
}

#[cfg(feature = "otel")]
mod otel {
    use opentelemetry::Context;
    use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
    use opentelemetry::trace::TraceContextExt;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use tracing::Span;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use super::Carried;
    use crate::envelope::field::{TRACEPARENT, TRACESTATE};

    /// A received trace context, for the propagator to read.
    struct Received<'a> {
        traceparent: &'a str,
        tracestate: Option<&'a str>,
    }

    impl Extractor for Received<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            match key {
                TRACEPARENT => Some(self.traceparent),
                TRACESTATE => self.tracestate,
                _ => None,
            }
        }

        fn keys(&self) -> Vec<&str> {
            vec![TRACEPARENT, TRACESTATE]
        }
    }

    /// A trace context to send, as the propagator writes it.
    #[derive(Default)]
    struct ToSend(Carried);

    impl Injector for ToSend {
        fn set(&mut self, key: &str, value: String) {
            match key {
                TRACEPARENT => self.0.0 = Some(value),
                // The propagator writes an empty `tracestate` when there is none.
                TRACESTATE if !value.is_empty() => self.0.1 = Some(value),
                _ => {}
            }
        }
    }

    pub(super) fn continue_trace(span: &Span, traceparent: &str, tracestate: Option<&str>) {
        let received = Received {
            traceparent,
            tracestate,
        };
        let parent = TraceContextPropagator::new().extract_with_context(&Context::new(), &received);
        if parent.span().span_context().is_valid() {
            // Fails only when `span` is no OpenTelemetry span or was entered
            // already: it then keeps its own parent.
            let _ = span.set_parent(parent);
        }
    }

    pub(super) fn context_of(span: &Span) -> Option<Carried> {
        let context = span.context();
        if !context.span().span_context().is_valid() {
            return None;
        }
        let mut sent = ToSend::default();
        TraceContextPropagator::new().inject_context(&context, &mut sent);
        sent.0.0.is_some().then_some(sent.0)
    }
}
