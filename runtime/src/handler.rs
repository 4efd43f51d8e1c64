//! What handlers return, and the [`Dispatch`] trait through which the
//! consumer calls generated handler code.

use std::fmt;
use std::future::Future;

use crate::event::{DeliveryPolicy, StreamLayout};
use crate::message::Message;
use crate::stream::Fields;

/// The result of handling one message.
pub type HandlerResult = Result<(), HandlerError>;

/// Why a handler did not handle a message; decides what the runtime does next.
///
/// Any `std::error::Error` converts into [`HandlerError::Retryable`], so `?`
/// in a handler means "try again later".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerError {
    /// A passing failure (a database down, a timeout): the entry stays pending
    /// and is delivered again after the type's backoff, until its last attempt.
    Retryable(String),
    /// A failure that retrying cannot fix: dead-lettered at once.
    Permanent(String),
    /// The payload does not match the type's schema: dead-lettered at once.
    Undecodable(String),
    /// No handler in this build knows the type and version: dead-lettered at once.
    UnknownType {
        /// The entry's `type`.
        event_type: String,
        /// The entry's `version`.
        version: u32,
    },
}

impl HandlerError {
    /// A retryable failure with this reason.
    pub fn retry(reason: impl fmt::Display) -> Self {
        HandlerError::Retryable(reason.to_string())
    }

    /// A permanent failure with this reason.
    pub fn permanent(reason: impl fmt::Display) -> Self {
        HandlerError::Permanent(reason.to_string())
    }

    /// The error for a message whose type and version this build does not know.
    pub fn unknown_type(message: &Message) -> Self {
        HandlerError::UnknownType {
            event_type: message.envelope.event_type.clone(),
            version: message.envelope.version,
        }
    }

    /// Whether the runtime should deliver the message again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, HandlerError::Retryable(_))
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandlerError::Retryable(reason) => write!(f, "retryable: {reason}"),
            HandlerError::Permanent(reason) => write!(f, "permanent: {reason}"),
            HandlerError::Undecodable(reason) => write!(f, "undecodable: {reason}"),
            HandlerError::UnknownType { event_type, version } => write!(f, "unknown type: `{event_type}` v{version}"),
        }
    }
}

impl<E: std::error::Error> From<E> for HandlerError {
    fn from(error: E) -> Self {
        let mut reason = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            reason.push_str(": ");
            reason.push_str(&cause.to_string());
            source = cause.source();
        }
        HandlerError::Retryable(reason)
    }
}

/// Routes a delivered message to the right typed handler method.
///
/// Implemented by generated code (one dispatcher per category, one for all
/// events); the consumer calls it for every entry it reads.
pub trait Dispatch: Send + Sync + 'static {
    /// The categories whose streams this dispatcher reads.
    fn categories(&self) -> &'static [&'static str];

    /// Decodes `message` by its type and version and calls the handler.
    fn dispatch(&self, message: &Message) -> impl Future<Output = HandlerResult> + Send;

    /// Like [`dispatch`](Self::dispatch), with the stream entry's raw
    /// `fields` as well, for a dispatcher that reads fields beyond the
    /// envelope (the command server reads a request's `replyto`). The
    /// consumer calls this one; by default it calls `dispatch`.
    fn dispatch_entry(&self, message: &Message, fields: &Fields) -> impl Future<Output = HandlerResult> + Send {
        let _ = fields;
        self.dispatch(message)
    }

    /// The delivery policy of `event_type` (`<category>.<event>`), i.e. the
    /// type's [`Event::POLICY`](crate::Event::POLICY); `None` for a type this
    /// dispatcher does not know, which then gets the configured default
    /// policy. The consumer asks before every delivery, to decide retries,
    /// backoff and dead-lettering. Generated code overrides it.
    fn policy(&self, event_type: &str) -> Option<DeliveryPolicy> {
        let _ = event_type;
        None
    }

    /// How the streams of `category` are laid out (partitions, trimming),
    /// i.e. the [`Event::STREAM`](crate::Event::STREAM) of its types; the
    /// consumer reads every partition of a partitioned category, each owned
    /// by one instance of the group at a time. Generated code overrides it.
    fn layout(&self, category: &str) -> StreamLayout {
        let _ = category;
        StreamLayout::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn errors_convert_to_retryable_with_their_causes() {
        let error = HandlerError::from(Outer(std::io::Error::other("disk full")));
        assert_eq!(error, HandlerError::Retryable("outer: disk full".into()));
        assert!(error.is_retryable());
        assert!(!HandlerError::permanent("no").is_retryable());
    }
}
