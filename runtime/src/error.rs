//! The crate's error type for setting up and running publishers and
//! consumers (handlers and publishes have their own: [`HandlerError`],
//! [`PublishError`]).
//!
//! [`HandlerError`]: crate::HandlerError
//! [`PublishError`]: crate::PublishError

use crate::config::ConfigError;

/// Why a publisher or consumer could not be set up, or why a consumer stopped.
///
/// Redis being unreachable is *not* an error of this type once running: the
/// runtime waits for it to come back. These are the failures that waiting
/// cannot fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The Redis URL cannot be used.
    #[error("cannot use Redis URL `{url}`: {source}")]
    RedisUrl {
        /// The URL, as configured (credentials included only if configured so).
        url: String,
        /// What the Redis client said.
        #[source]
        source: redis::RedisError,
    },
    /// The configured Redis is of the other kind: a cluster node configured
    /// as a single server, or a single server configured as a cluster.
    #[error("Redis at `{servers}` is {found}: {hint}")]
    RedisMode {
        /// The server or cluster nodes, as configured (passwords masked).
        servers: String,
        /// What the server turned out to be.
        found: String,
        /// What to set instead.
        hint: String,
    },
    /// Redis refused a command in a way that retrying cannot fix (for
    /// example a key of the wrong type where a stream is expected).
    #[error("{context}: {source}")]
    Redis {
        /// What the runtime was doing.
        context: String,
        /// What Redis said.
        #[source]
        source: redis::RedisError,
    },
    /// Redis could not be reached where the runtime does not wait for it:
    /// a [`Subscriber`](crate::Subscriber)'s first subscription.
    #[error("cannot reach Redis at `{url}` to {doing}: {source}")]
    Unreachable {
        /// The URL, password masked.
        url: String,
        /// What the runtime was doing.
        doing: &'static str,
        /// What the connection said.
        #[source]
        source: redis::RedisError,
    },
    /// A consumer was asked to read no stream at all.
    #[error("the consumer reads no stream: its dispatcher names no category")]
    NoStreams,
    /// A task of the consumer kept failing (it panicked again and again
    /// after being restarted): the consumer stopped rather than look alive
    /// while doing nothing.
    #[error("the consumer stopped: {0}")]
    Failed(String),
}
