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

/// How a category's events are laid out in Redis streams and trimmed;
/// shared by every type of the category (the generator derives it from the
/// catalog).
///
/// - `partitions == 1`: one stream, `<ns>:events:<category>`, read by every
///   instance of a group (load shared entry by entry; order per subject
///   holds within one consumer).
/// - `partitions > 1` (an *ordered* category): `partitions` streams,
///   `<ns>:events:<category>:<p>` for `p` in `0..partitions`; an entry goes
///   to partition [`partition_of`](Self::partition_of) its subject, and
///   each partition is read by one instance of a group at a time, so order
///   per subject holds across all the instances.
///
/// A stream is trimmed by the longest retention and the largest cap of the
/// types it carries, so no type loses entries it still keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamLayout {
    /// Streams of the category (at least 1).
    pub partitions: u32,
    /// Entries older than this are trimmed on write: the longest retention
    /// of the category's types.
    pub retention: Duration,
    /// Approximate cap on each stream's length: the largest of the types'.
    pub max_len: u64,
}

impl StreamLayout {
    /// One stream, trimmed by [`DeliveryPolicy::DEFAULT`]'s retention and cap.
    pub const DEFAULT: StreamLayout = StreamLayout {
        partitions: 1,
        retention: DeliveryPolicy::DEFAULT.retention,
        max_len: DeliveryPolicy::DEFAULT.max_len,
    };

    /// Whether the category is partitioned (ordered across instances).
    pub const fn is_partitioned(&self) -> bool {
        self.partitions > 1
    }

    /// The partition of an entry with subject `subject`: the 32-bit FNV-1a
    /// hash of the subject's UTF-8 bytes, modulo the number of partitions.
    /// Stable and simple to write in any language:
    ///
    /// ```text
    /// h = 0x811c9dc5
    /// for each byte b of subject: h = ((h ^ b) * 0x01000193) mod 2^32
    /// partition = h mod partitions
    /// ```
    pub fn partition_of(&self, subject: &str) -> u32 {
        fnv1a_32(subject.as_bytes()) % self.partitions.max(1)
    }
}

impl Default for StreamLayout {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The 32-bit FNV-1a hash of `bytes`.
fn fnv1a_32(bytes: &[u8]) -> u32 {
    const OFFSET_BASIS: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    bytes
        .iter()
        .fold(OFFSET_BASIS, |hash, byte| (hash ^ u32::from(*byte)).wrapping_mul(PRIME))
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
    /// How the category's streams are laid out and trimmed (the same for
    /// every type of the category).
    const STREAM: StreamLayout = StreamLayout::DEFAULT;

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

    #[test]
    fn partitions_follow_the_documented_fnv1a_hash() {
        // Reference values of 32-bit FNV-1a.
        assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a_32(b"foobar"), 0xbf9c_f968);
        let layout = StreamLayout {
            partitions: 8,
            ..StreamLayout::DEFAULT
        };
        assert_eq!(layout.partition_of("foobar"), 0xbf9c_f968 % 8);
        assert!((0..1000).all(|n| layout.partition_of(&n.to_string()) < 8));
        assert_eq!(StreamLayout::DEFAULT.partition_of("anything"), 0);
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
