//! A delivered [`Message`]: an envelope and where it was read from.

use serde::de::DeserializeOwned;

use crate::envelope::Envelope;
use crate::handler::HandlerError;
use crate::publish::PublishContext;
use crate::telemetry::trace;

/// One stream entry handed to a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message's metadata and payload.
    pub envelope: Envelope,
    /// The stream key the entry was read from.
    pub stream: String,
    /// The entry's id in that stream (e.g. `1718000000000-0`).
    pub entry_id: String,
    /// How many times this entry has been delivered, this time included (1 on first delivery).
    pub delivery_count: u32,
}

impl Message {
    /// Decodes the JSON payload into `T`. A payload that does not match is a
    /// [`HandlerError::Undecodable`]: retrying cannot fix it, so the runtime
    /// dead-letters it at once.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, HandlerError> {
        serde_json::from_str(&self.envelope.data).map_err(|error| {
            HandlerError::Undecodable(format!(
                "payload of `{}` v{} does not match its schema: {error}",
                self.envelope.event_type, self.envelope.version
            ))
        })
    }

    /// The context for messages published because of this one: the same
    /// correlation id, this message's id as causation id, and the same
    /// trace: the current span's (the handler's, feature `otel`), else the
    /// one this message carries.
    pub fn follow_up(&self) -> PublishContext {
        let carried = (self.envelope.traceparent.clone(), self.envelope.tracestate.clone());
        let (traceparent, tracestate) = trace::span_or(&tracing::Span::current(), carried);
        PublishContext {
            correlation_id: Some(self.envelope.correlation_id.clone()),
            causation_id: Some(self.envelope.id.to_string()),
            traceparent,
            tracestate,
        }
    }
}
