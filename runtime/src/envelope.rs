//! Message metadata and its stream-entry form.
//!
//! A stream entry is a flat map of string fields named after CloudEvents 1.0
//! attributes (see the README's "Wire format"), so it reads well in
//! `redis-cli` and from any language.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use uuid::Uuid;

/// The CloudEvents spec version this wire format follows.
pub const SPEC_VERSION: &str = "1.0";
/// The content type of every payload.
pub const CONTENT_TYPE: &str = "application/json";

/// Stream entry field names, in the order they are written.
pub mod field {
    /// `specversion`: always `1.0`.
    pub const SPEC_VERSION: &str = "specversion";
    /// `id`: UUIDv7 of the message, the deduplication key.
    pub const ID: &str = "id";
    /// `type`: `<category>.<event>`.
    pub const TYPE: &str = "type";
    /// `version`: schema version of the type, an integer.
    pub const VERSION: &str = "version";
    /// `source`: name of the publishing service.
    pub const SOURCE: &str = "source";
    /// `time`: RFC 3339 UTC.
    pub const TIME: &str = "time";
    /// `subject`: the entity key.
    pub const SUBJECT: &str = "subject";
    /// `correlationid`: carried from the request that caused the message; a
    /// message that starts a chain carries its own id.
    pub const CORRELATION_ID: &str = "correlationid";
    /// `causationid`: id of the message that caused this one (optional).
    pub const CAUSATION_ID: &str = "causationid";
    /// `traceparent`: W3C trace context (optional).
    pub const TRACEPARENT: &str = "traceparent";
    /// `tracestate`: W3C vendor trace state that goes with `traceparent` (optional).
    pub const TRACESTATE: &str = "tracestate";
    /// `datacontenttype`: always `application/json`.
    pub const DATA_CONTENT_TYPE: &str = "datacontenttype";
    /// `data`: the payload, JSON.
    pub const DATA: &str = "data";
}

/// One message as it travels: metadata and the JSON payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// UUIDv7 of the message (time-ordered; the deduplication key).
    pub id: Uuid,
    /// `<category>.<event>`, e.g. `user.created`.
    pub event_type: String,
    /// Schema version of `event_type`.
    pub version: u32,
    /// Name of the publishing service.
    pub source: String,
    /// When the message was published (UTC).
    pub time: DateTime<Utc>,
    /// The entity key (e.g. the user id).
    pub subject: String,
    /// Carried from the request that caused the message.
    pub correlation_id: String,
    /// Id of the message that caused this one, if any.
    pub causation_id: Option<String>,
    /// W3C `traceparent` of the publishing span, if any.
    pub traceparent: Option<String>,
    /// W3C `tracestate` that goes with `traceparent`, if any.
    pub tracestate: Option<String>,
    /// The payload, JSON text.
    pub data: String,
}

/// Why a stream entry could not be read as an [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// A required field is absent.
    #[error("stream entry has no `{0}` field")]
    Missing(&'static str),
    /// A field is present but its value is not valid.
    #[error("stream entry field `{field}` is invalid: {reason} (value {value:?})")]
    Invalid {
        /// The field's name.
        field: &'static str,
        /// Its value as found (truncated to 200 characters).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Envelope {
    /// The stream entry fields of this envelope, in wire order; optional
    /// fields that are absent are left out.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = Vec::with_capacity(13);
        self.visit_fields(|name, value| fields.push((name, value.to_owned())));
        fields
    }

    /// Calls `visit` with each stream entry field of this envelope, in wire
    /// order, without copying the values; optional fields that are absent
    /// are left out.
    pub fn visit_fields(&self, mut visit: impl FnMut(&'static str, &str)) {
        let mut id = Uuid::encode_buffer();
        visit(field::SPEC_VERSION, SPEC_VERSION);
        visit(field::ID, self.id.hyphenated().encode_lower(&mut id));
        visit(field::TYPE, &self.event_type);
        visit(field::VERSION, itoa::Buffer::new().format(self.version));
        visit(field::SOURCE, &self.source);
        visit(field::TIME, &rfc3339_micros(&self.time, &mut [0; RFC3339_MICROS]));
        visit(field::SUBJECT, &self.subject);
        visit(field::CORRELATION_ID, &self.correlation_id);
        if let Some(causation) = &self.causation_id {
            visit(field::CAUSATION_ID, causation);
        }
        if let Some(traceparent) = &self.traceparent {
            visit(field::TRACEPARENT, traceparent);
        }
        if let Some(tracestate) = &self.tracestate {
            visit(field::TRACESTATE, tracestate);
        }
        visit(field::DATA_CONTENT_TYPE, CONTENT_TYPE);
        visit(field::DATA, &self.data);
    }

    /// Reads an envelope from stream entry fields, looked up by name with
    /// `get`. Never panics: a missing or malformed field is an error naming it.
    pub fn from_fields<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, EnvelopeError> {
        let required = |name: &'static str| get(name).ok_or(EnvelopeError::Missing(name));
        let spec = required(field::SPEC_VERSION)?;
        if spec != SPEC_VERSION {
            return Err(invalid(field::SPEC_VERSION, spec, "unsupported spec version"));
        }
        if let Some(content_type) = get(field::DATA_CONTENT_TYPE)
            && content_type != CONTENT_TYPE
        {
            return Err(invalid(
                field::DATA_CONTENT_TYPE,
                content_type,
                "only application/json is supported",
            ));
        }
        let id = required(field::ID)?;
        let version = required(field::VERSION)?;
        let time = required(field::TIME)?;
        Ok(Envelope {
            id: Uuid::parse_str(id).map_err(|e| invalid(field::ID, id, e))?,
            event_type: non_empty(field::TYPE, required(field::TYPE)?)?,
            version: version.parse().map_err(|e| invalid(field::VERSION, version, e))?,
            source: required(field::SOURCE)?.to_owned(),
            time: DateTime::parse_from_rfc3339(time)
                .map_err(|e| invalid(field::TIME, time, e))?
                .with_timezone(&Utc),
            subject: required(field::SUBJECT)?.to_owned(),
            correlation_id: required(field::CORRELATION_ID)?.to_owned(),
            causation_id: get(field::CAUSATION_ID).map(str::to_owned),
            traceparent: get(field::TRACEPARENT).map(str::to_owned),
            tracestate: get(field::TRACESTATE).map(str::to_owned),
            data: required(field::DATA)?.to_owned(),
        })
    }
}

/// The length of a time as [`rfc3339_micros`] writes it.
const RFC3339_MICROS: usize = "2026-12-01T22:25:25.123456Z".len();

/// `time` as the wire format writes it: RFC 3339 in UTC to the microsecond
/// (`2026-12-01T22:25:25.123456Z`), as chrono's
/// `to_rfc3339_opts(SecondsFormat::Micros, true)` writes it, but into
/// `buffer` (a publish writes one per entry), except for years outside 0 to
/// 9999 and leap seconds.
fn rfc3339_micros<'b>(time: &DateTime<Utc>, buffer: &'b mut [u8; RFC3339_MICROS]) -> Cow<'b, str> {
    let naive = time.naive_utc();
    let year = match u32::try_from(naive.year()) {
        Ok(year @ 0..=9999) if naive.nanosecond() < 1_000_000_000 => year,
        _ => return Cow::Owned(time.to_rfc3339_opts(SecondsFormat::Micros, true)),
    };
    *buffer = *b"0000-00-00T00:00:00.000000Z";
    // `value`'s last `width` digits, in decimal, ending before `end`.
    let mut write = |end: usize, width: usize, mut value: u32| {
        for at in (end - width..end).rev() {
            buffer[at] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    write(4, 4, year);
    write(7, 2, naive.month());
    write(10, 2, naive.day());
    write(13, 2, naive.hour());
    write(16, 2, naive.minute());
    write(19, 2, naive.second());
    write(26, 6, naive.nanosecond() / 1_000);
    Cow::Borrowed(std::str::from_utf8(buffer).expect("digits and separators are ASCII"))
}

fn non_empty(name: &'static str, value: &str) -> Result<String, EnvelopeError> {
    if value.is_empty() {
        Err(invalid(name, value, "must not be empty"))
    } else {
        Ok(value.to_owned())
    }
}

fn invalid(field: &'static str, value: &str, reason: impl ToString) -> EnvelopeError {
    EnvelopeError::Invalid {
        field,
        value: value.chars().take(200).collect(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn decode(fields: &[(&'static str, String)]) -> Result<Envelope, EnvelopeError> {
        let map: HashMap<&str, &str> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Envelope::from_fields(|name| map.get(name).copied())
    }

    fn sample() -> Envelope {
        Envelope {
            id: Uuid::now_v7(),
            event_type: "user.created".into(),
            version: 1,
            source: "user-auth".into(),
            time: chrono::SubsecRound::trunc_subsecs(Utc::now(), 6),
            subject: "u-1".into(),
            correlation_id: "c-1".into(),
            causation_id: Some("m-0".into()),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            tracestate: Some("congo=t61rcWkgMzE".into()),
            data: r#"{"user_id":"u-1"}"#.into(),
        }
    }

    fn envelopes() -> impl Strategy<Value = Envelope> {
        (
            any::<u128>(),
            "[a-z_]{1,12}\\.[a-z_]{1,12}",
            any::<u32>(),
            any::<String>(),
            0i64..4_102_444_800_000_000,
            any::<String>(),
            any::<String>(),
            proptest::option::of(any::<String>()),
            proptest::option::of("[0-9a-f-]{0,60}"),
            proptest::option::of("[a-z0-9=,]{0,40}"),
            any::<String>(),
        )
            .prop_map(
                |(
                    id,
                    event_type,
                    version,
                    source,
                    micros,
                    subject,
                    correlation_id,
                    causation_id,
                    traceparent,
                    tracestate,
                    data,
                )| {
                    Envelope {
                        id: Uuid::from_u128(id),
                        event_type,
                        version,
                        source,
                        time: DateTime::from_timestamp_micros(micros).unwrap_or_default(),
                        subject,
                        correlation_id,
                        causation_id,
                        traceparent,
                        tracestate,
                        data,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_the_identity(envelope in envelopes()) {
            prop_assert_eq!(decode(&envelope.to_fields()), Ok(envelope));
        }

        #[test]
        fn times_are_written_as_chrono_writes_them(
            // From before year 0 to after 9999, to the nanosecond.
            micros in -70_000_000_000_000_000i64..320_000_000_000_000_000,
            nanos in 0i64..1_000,
            leap in any::<bool>(),
        ) {
            let mut time = DateTime::from_timestamp_micros(micros).unwrap_or_default()
                + chrono::TimeDelta::nanoseconds(nanos);
            if leap {
                // A leap second, as chrono keeps it: 59 s and over a second of nanoseconds.
                let leap_second = time
                    .with_second(59)
                    .and_then(|t| t.with_nanosecond(1_000_000_000 + t.nanosecond() % 1_000_000_000));
                time = leap_second.unwrap_or(time);
            }
            let mut buffer = [0; RFC3339_MICROS];
            prop_assert_eq!(
                rfc3339_micros(&time, &mut buffer),
                time.to_rfc3339_opts(SecondsFormat::Micros, true)
            );
        }

        #[test]
        fn decoding_arbitrary_fields_never_panics(
            fields in proptest::collection::vec(("[a-z]{1,16}", any::<String>()), 0..16)
        ) {
            let _ = Envelope::from_fields(|name| {
                fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
            });
        }
    }

    #[test]
    fn fields_follow_the_wire_format() {
        let envelope = sample();
        let names: Vec<&str> = envelope.to_fields().iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "specversion",
                "id",
                "type",
                "version",
                "source",
                "time",
                "subject",
                "correlationid",
                "causationid",
                "traceparent",
                "tracestate",
                "datacontenttype",
                "data"
            ]
        );
        let bare = Envelope {
            causation_id: None,
            traceparent: None,
            tracestate: None,
            ..sample()
        };
        assert_eq!(bare.to_fields().len(), 10);
        assert_eq!(decode(&bare.to_fields()), Ok(bare));
    }

    #[test]
    fn each_missing_required_field_is_named() {
        let required = [
            field::SPEC_VERSION,
            field::ID,
            field::TYPE,
            field::VERSION,
            field::SOURCE,
            field::TIME,
            field::SUBJECT,
            field::CORRELATION_ID,
            field::DATA,
        ];
        for missing in required {
            let fields: Vec<_> = sample()
                .to_fields()
                .into_iter()
                .filter(|(name, _)| *name != missing)
                .collect();
            assert_eq!(decode(&fields), Err(EnvelopeError::Missing(missing)), "{missing}");
        }
    }

    #[test]
    fn each_malformed_field_is_named() {
        let cases = [
            (field::SPEC_VERSION, "2.0"),
            (field::ID, "not-a-uuid"),
            (field::TYPE, ""),
            (field::VERSION, "one"),
            (field::VERSION, "-1"),
            (field::TIME, "yesterday"),
            (field::DATA_CONTENT_TYPE, "text/plain"),
        ];
        for (name, value) in cases {
            let fields: Vec<_> = sample()
                .to_fields()
                .into_iter()
                .map(|(k, v)| if k == name { (k, value.to_owned()) } else { (k, v) })
                .collect();
            match decode(&fields) {
                Err(EnvelopeError::Invalid {
                    field, value: found, ..
                }) => {
                    assert_eq!((field, found.as_str()), (name, value));
                }
                other => panic!("{name}={value:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn optional_fields_may_be_absent() {
        let fields: Vec<_> = sample()
            .to_fields()
            .into_iter()
            .filter(|(name, _)| {
                ![
                    field::CAUSATION_ID,
                    field::TRACEPARENT,
                    field::TRACESTATE,
                    field::DATA_CONTENT_TYPE,
                ]
                .contains(name)
            })
            .collect();
        let envelope = decode(&fields).expect("decodes");
        assert_eq!(envelope.causation_id, None);
        assert_eq!(envelope.traceparent, None);
        assert_eq!(envelope.tracestate, None);
    }

    #[test]
    fn long_invalid_values_are_truncated() {
        let fields: Vec<_> = sample()
            .to_fields()
            .into_iter()
            .map(|(k, v)| if k == field::ID { (k, "x".repeat(1000)) } else { (k, v) })
            .collect();
        match decode(&fields) {
            Err(EnvelopeError::Invalid { value, .. }) => assert_eq!(value.len(), 200),
            other => panic!("{other:?}"),
        }
    }
}
