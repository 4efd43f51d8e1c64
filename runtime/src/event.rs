//! The [`Event`] trait that every generated event type implements, and the
//! [`DeliveryPolicy`] the catalog attaches to each type.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// How the runtime delivers one event type: retries, backoff and retention.
///
/// The catalog sets it catalog-wide, per category and per event; the
/// generated code carries the resolved policy of each type as a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveryPolicy {
    /// Deliveries before an entry that keeps failing is dead-lettered (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; later retries double it.
    pub backoff_first: Duration,
    /// The largest delay between two retries.
    pub backoff_max: Duration,
    /// Entries older than this are trimmed from the stream on write.
    pub retention: Duration,
    /// Approximate cap on the stream's length, applied on write.
    pub max_len: u64,
}

impl DeliveryPolicy {
    /// The policy used when the catalog says nothing: 5 attempts, backoff from
    /// 1 s to 5 min, 24 h retention, streams capped near 1,000,000 entries.
    pub const DEFAULT: DeliveryPolicy = DeliveryPolicy {
        max_attempts: 5,
        backoff_first: Duration::from_secs(1),
        backoff_max: Duration::from_secs(300),
        retention: Duration::from_secs(24 * 60 * 60),
        max_len: 1_000_000,
    };

    /// The delay before delivering an entry again after its `delivery`-th
    /// failed delivery (1-based): `backoff_first` doubled per earlier
    /// delivery, never more than `backoff_max`. Jitter is the caller's.
    pub fn backoff(&self, delivery: u32) -> Duration {
        let doublings = delivery.saturating_sub(1).min(31);
        self.backoff_first
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_max)
    }
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A typed event of the catalog, e.g. `user.created`.
///
/// Implemented by generated code; services never implement it by hand.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The wire type name, `<category>.<event>`, e.g. `user.created`.
    const TYPE: &'static str;
    /// The category, which names the stream: `<ns>:events:<category>`.
    const CATEGORY: &'static str;
    /// The schema version of this type.
    const VERSION: u32;
    /// How the runtime delivers this type.
    const POLICY: DeliveryPolicy;

    /// The entity key named by the catalog's `subject` (e.g. the user id):
    /// entries with the same subject are handled in order.
    fn subject(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let policy = DeliveryPolicy {
            backoff_first: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            ..DeliveryPolicy::DEFAULT
        };
        let delays: Vec<u128> = (1..=6).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_millis(1000));
    }
}

/// Why a payload could not be decoded into a typed event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// This build knows no event of that type and version.
    #[error("unknown event type `{event_type}` v{version}")]
    UnknownType {
        /// The type name as received.
        event_type: String,
        /// The version as received.
        version: u32,
    },
    /// The JSON does not match the type's schema.
    #[error("payload of `{event_type}` v{version} does not match its schema: {reason}")]
    Payload {
        /// The type name.
        event_type: String,
        /// The version.
        version: u32,
        /// What serde said.
        reason: String,
    },
}

/// A name that is not one of a generated enum's names (a category, an
/// event type, a notification type), from its `FromStr`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{name}`")]
pub struct UnknownName {
    /// What was looked up, e.g. `category`.
    pub kind: &'static str,
    /// The name that matched nothing.
    pub name: String,
}
