//! Whether a stream entry is a valid CloudEvent in binary mode, by the
//! CloudEvents SDK's rules (the "CloudEvents binding for Redis Streams" in
//! the README): each field is an attribute, `data` is the event's data.
//! The SDK checks the spec version, the required attributes (`id`,
//! `source`, `type`) and their types (`time` an RFC 3339 timestamp); the
//! names of extension attributes, which the SDK takes as given, are
//! checked here against the spec: lowercase letters and digits, at most
//! 20 characters.

use cloudevents::Event;
use cloudevents::event::SpecVersion;
use cloudevents::message::{BinaryDeserializer, BinarySerializer, Error, MessageAttributeValue, Result};

/// The context attributes of CloudEvents 1.0 other than `specversion`.
const ATTRIBUTES: [&str; 7] = [
    "id",
    "type",
    "source",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
];

/// Reads `fields` (a stream entry's, in order) as a CloudEvent in binary
/// mode; the error says what the spec refuses.
pub fn read_as_cloudevent(fields: &[(String, String)]) -> std::result::Result<Event, String> {
    for (name, _) in fields {
        let is_attribute = name == "specversion" || name == "data" || ATTRIBUTES.contains(&name.as_str());
        if !is_attribute && !is_extension_name(name) {
            return Err(format!(
                "`{name}` is not a valid CloudEvents extension name (lowercase letters and digits, at most 20)"
            ));
        }
    }
    BinaryEntry(fields).into_event().map_err(|error| error.to_string())
}

/// Whether `name` may name an extension attribute.
fn is_extension_name(name: &str) -> bool {
    (1..=20).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A stream entry's fields, for the SDK's binary-mode reader.
struct BinaryEntry<'f>(&'f [(String, String)]);

impl BinaryDeserializer for BinaryEntry<'_> {
    fn deserialize_binary<R: Sized, V: BinarySerializer<R>>(self, serializer: V) -> Result<R> {
        let field = |wanted: &str| self.0.iter().find(|(name, _)| name == wanted).map(|(_, value)| value);
        let version = field("specversion").ok_or(Error::WrongEncoding {})?;
        let mut serializer = serializer.set_spec_version(SpecVersion::try_from(version.as_str())?)?;
        for (name, value) in self.0 {
            let value = MessageAttributeValue::String(value.clone());
            if ATTRIBUTES.contains(&name.as_str()) {
                serializer = serializer.set_attribute(name, value)?;
            } else if name != "specversion" && name != "data" {
                serializer = serializer.set_extension(name, value)?;
            }
        }
        match field("data") {
            Some(data) => serializer.end_with_data(data.clone().into_bytes()),
            None => serializer.end(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_spec_decides() {
        let good = [
            ("specversion", "1.0"),
            ("id", "1"),
            ("type", "user.created"),
            ("source", "user-auth"),
            ("time", "2024-01-02T03:04:05Z"),
            ("correlationid", "c-1"),
            ("data", "{}"),
        ];
        assert!(read_as_cloudevent(&fields(&good)).is_ok());
        let dotted = [&good[..6], &[("dlq.reason", "permanent")]].concat();
        assert!(
            read_as_cloudevent(&fields(&dotted))
                .unwrap_err()
                .contains("`dlq.reason`")
        );
        let no_source: Vec<_> = good.iter().copied().filter(|(name, _)| *name != "source").collect();
        assert!(read_as_cloudevent(&fields(&no_source)).unwrap_err().contains("source"));
        let bad_time = [&good[..4], &[("time", "yesterday")]].concat();
        assert!(read_as_cloudevent(&fields(&bad_time)).is_err());
    }
}
