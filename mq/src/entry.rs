//! Stream entries as the CLI shows them: an id and its fields in order,
//! read with the runtime's parser ([`xerpium_messaging::entries`]).

use redis::{RedisError, Value};
use xerpium_messaging::Envelope;
use xerpium_messaging::entries::{self, Fields};
use xerpium_messaging::envelope::EnvelopeError;

/// One stream entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its id.
    pub id: String,
    /// Its fields (text that is not UTF-8 is shown with replacement characters).
    fields: Fields,
}

impl Entry {
    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name)
    }

    /// Its fields, in the order they were written.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.fields.pairs()
    }

    /// The fields as a JSON object.
    pub fn fields_json(&self) -> serde_json::Value {
        self.fields()
            .map(|(name, value)| (name.to_owned(), serde_json::Value::String(value.to_owned())))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// Its id (`<ms>-<seq>`) as numbers, to order the entries of several
    /// streams by time.
    pub fn position(&self) -> (u64, u64) {
        let (ms, seq) = self.id.split_once('-').unwrap_or((&self.id, "0"));
        (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
    }

    /// The entry read as a message envelope.
    pub fn envelope(&self) -> Result<Envelope, EnvelopeError> {
        Envelope::from_fields(|name| self.get(name))
    }
}

impl From<entries::Entry> for Entry {
    fn from(entry: entries::Entry) -> Self {
        Entry {
            id: entry.id,
            fields: entry.fields.unwrap_or_default(),
        }
    }
}

/// The entries of an `XRANGE` / `XREVRANGE` reply.
pub fn range(value: Value) -> Result<Vec<Entry>, RedisError> {
    Ok(entries::entry_list(value)?.into_iter().map(Entry::from).collect())
}

/// The entries of an `XREAD` reply (none when it timed out).
pub fn read(value: Value) -> Result<Vec<Entry>, RedisError> {
    Ok(entries::read_reply(value)?
        .into_iter()
        .flat_map(|(_, entries)| entries)
        .map(Entry::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn one(id: &str, fields: &[&str]) -> Value {
        Value::Array(vec![bulk(id), Value::Array(fields.iter().map(|f| bulk(f)).collect())])
    }

    #[test]
    fn reads_ranges_and_reads_in_order() {
        let reply = Value::Array(vec![one("1-0", &["b", "2", "a", "1"]), one("2-0", &[])]);
        let entries = range(reply).expect("parses");
        assert_eq!(entries[0].fields().collect::<Vec<_>>(), [("b", "2"), ("a", "1")]);
        assert_eq!(entries[0].get("a"), Some("1"));
        assert_eq!(entries[0].fields_json(), serde_json::json!({"a": "1", "b": "2"}));
        assert_eq!(entries[1].id, "2-0");
        let read_reply = Value::Array(vec![Value::Array(vec![
            bulk("s"),
            Value::Array(vec![one("3-0", &["x", "y"])]),
        ])]);
        let got = read(read_reply).expect("parses");
        assert_eq!(got[0].id, "3-0");
        assert_eq!(got[0].position(), (3, 0));
        // By number, not by text: `1704164645000-12` comes after `2-0`.
        let later = Entry {
            id: "1704164645000-12".into(),
            fields: Fields::default(),
        };
        assert!(later.position() > entries[1].position() && entries[1].position() > entries[0].position());
        assert!(read(Value::Nil).expect("timeout").is_empty());
        assert!(range(Value::Int(3)).is_err());
    }
}
