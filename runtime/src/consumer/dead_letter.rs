//! Dead letters: entries the consumer gives up on, copied to
//! `<ns>:dlq:<group>` with why, then acked (dead letter first, so a crash
//! in between leaves a duplicate dead letter, never a loss).
//!
//! A dead letter holds the original entry's fields unchanged (so it can be
//! inspected or re-published as it was) followed by the fields below.

use std::fmt;

use chrono::{SecondsFormat, Utc};

use crate::stream::Fields;

/// The fields a dead letter adds to the original entry's: CloudEvents
/// extension attributes, so lowercase letters and digits only (before this
/// naming they were `dlq.stream`, `dlq.entry_id`, …: see [`field::legacy`]).
pub mod field {
    /// The stream the entry was read from.
    pub const STREAM: &str = "dlqstream";
    /// The entry's id in that stream.
    pub const ENTRY_ID: &str = "dlqentryid";
    /// The consumer group that gave up on it.
    pub const GROUP: &str = "dlqgroup";
    /// The consumer that gave up on it.
    pub const CONSUMER: &str = "dlqconsumer";
    /// How many times it was delivered.
    pub const ATTEMPTS: &str = "dlqattempts";
    /// Why, as a [`Reason`](super::Reason) code.
    pub const REASON: &str = "dlqreason";
    /// The last error, as text.
    pub const ERROR: &str = "dlqerror";
    /// When it was dead-lettered, RFC 3339 UTC.
    pub const TIME: &str = "dlqtime";

    /// Every field a dead letter adds, with the name it had before the
    /// fields became CloudEvents extension attributes.
    pub const ALL: [(&str, &str); 8] = [
        (STREAM, "dlq.stream"),
        (ENTRY_ID, "dlq.entry_id"),
        (GROUP, "dlq.group"),
        (CONSUMER, "dlq.consumer"),
        (ATTEMPTS, "dlq.attempts"),
        (REASON, "dlq.reason"),
        (ERROR, "dlq.error"),
        (TIME, "dlq.time"),
    ];

    /// The name `field` had in dead letters written before the rename, for
    /// readers of older dead letters.
    pub fn legacy(field: &str) -> Option<&'static str> {
        ALL.iter().find(|(name, _)| *name == field).map(|(_, old)| *old)
    }
}

/// Why an entry was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Its handler failed with a retryable error at every attempt.
    RetriesExhausted,
    /// Its handler failed with a permanent error.
    Permanent,
    /// Its payload does not match its type's schema.
    Undecodable,
    /// No handler knows its type and version.
    UnknownType,
    /// Its metadata fields are missing or malformed: not an envelope.
    BadEnvelope,
    /// It was delivered more often than its type allows without being
    /// settled: a consumer probably crashed while handling it.
    TooManyDeliveries,
    /// It was trimmed from the stream (retention or cap) while still
    /// pending: it was never handled by this group.
    LostToRetention,
}

impl Reason {
    /// The code stored in the `dlqreason` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::RetriesExhausted => "retries-exhausted",
            Reason::Permanent => "permanent",
            Reason::Undecodable => "undecodable",
            Reason::UnknownType => "unknown-type",
            Reason::BadEnvelope => "bad-envelope",
            Reason::TooManyDeliveries => "too-many-deliveries",
            Reason::LostToRetention => "lost-to-retention",
        }
    }

    /// The reason stored as `code`, if it is one.
    pub fn from_code(code: &str) -> Option<Reason> {
        [
            Reason::RetriesExhausted,
            Reason::Permanent,
            Reason::Undecodable,
            Reason::UnknownType,
            Reason::BadEnvelope,
            Reason::TooManyDeliveries,
            Reason::LostToRetention,
        ]
        .into_iter()
        .find(|reason| reason.as_str() == code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry to dead-letter.
pub(crate) struct DeadLetter<'a> {
    pub stream: &'a str,
    pub entry_id: &'a str,
    /// The original fields, when known.
    pub fields: Option<&'a Fields>,
    pub attempts: u32,
    pub reason: Reason,
    pub error: String,
}

impl DeadLetter<'_> {
    /// The `XADD` that writes the dead letter to `dlq` (capped near
    /// `max_len`); the consumer acks the entry in `group` after it.
    pub(crate) fn add(&self, dlq: &str, max_len: u64, group: &str, consumer: &str) -> redis::Cmd {
        let mut add = redis::cmd("XADD");
        add.arg(dlq).arg("MAXLEN").arg("~").arg(max_len).arg("*");
        for (name, value) in self.fields.into_iter().flat_map(Fields::pairs) {
            add.arg(name).arg(value);
        }
        add.arg(field::STREAM)
            .arg(self.stream)
            .arg(field::ENTRY_ID)
            .arg(self.entry_id)
            .arg(field::GROUP)
            .arg(group)
            .arg(field::CONSUMER)
            .arg(consumer)
            .arg(field::ATTEMPTS)
            .arg(self.attempts)
            .arg(field::REASON)
            .arg(self.reason.as_str())
            .arg(field::ERROR)
            .arg(&self.error)
            .arg(field::TIME)
            .arg(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true));
        add
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_round_trip() {
        for code in [
            "retries-exhausted",
            "permanent",
            "undecodable",
            "unknown-type",
            "bad-envelope",
            "too-many-deliveries",
            "lost-to-retention",
        ] {
            let reason = Reason::from_code(code).expect("known");
            assert_eq!(reason.to_string(), code);
        }
        assert_eq!(Reason::from_code("nope"), None);
    }
}
