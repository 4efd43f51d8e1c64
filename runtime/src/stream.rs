//! Reading Redis stream replies (`XREADGROUP`, `XCLAIM`, `XAUTOCLAIM`,
//! `XRANGE`, `XPENDING`) from raw [`redis::Value`]s, without copying the
//! field strings and without trusting their shape.

use redis::{ErrorKind, RedisError, Value};

/// The fields of one stream entry, in the order they were written: their
/// names and values in one text, so that reading an entry allocates once
/// rather than once per field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fields {
    text: String,
    /// Where each name ends and its value ends, in `text`.
    ends: Vec<(usize, usize)>,
    /// The first field whose name or value is not UTF-8, if any.
    not_utf8: Option<String>,
}

impl Fields {
    /// The fields of an entry, as Redis sent them (names and values in
    /// turn; an odd one out is ignored). Bytes that are not UTF-8 are kept
    /// with replacement characters, and the first such field is recorded.
    pub(crate) fn from_parts(parts: &[&[u8]]) -> Fields {
        let pairs = parts.chunks_exact(2);
        let mut bytes = Vec::with_capacity(parts.iter().map(|part| part.len()).sum());
        let mut ends = Vec::with_capacity(pairs.len());
        for pair in pairs {
            bytes.extend_from_slice(pair[0]);
            let name_end = bytes.len();
            bytes.extend_from_slice(pair[1]);
            ends.push((name_end, bytes.len()));
        }
        // One check of the whole text, rather than one per name and value;
        // each must be text on its own too (a character cut in two across a
        // name and its value would pass as a whole).
        match String::from_utf8(bytes) {
            Ok(text)
                if ends
                    .iter()
                    .all(|&(a, b)| text.is_char_boundary(a) && text.is_char_boundary(b)) =>
            {
                Fields {
                    text,
                    ends,
                    not_utf8: None,
                }
            }
            _ => Self::from_lossy(parts),
        }
    }

    /// As [`from_parts`](Self::from_parts), for fields of which some are not UTF-8.
    fn from_lossy(parts: &[&[u8]]) -> Fields {
        let mut fields = Fields::default();
        let push = |fields: &mut Fields, part: &[u8]| {
            let lossy = String::from_utf8_lossy(part);
            if let std::borrow::Cow::Owned(replaced) = &lossy {
                fields
                    .not_utf8
                    .get_or_insert_with(|| replaced.chars().take(64).collect());
            }
            fields.text.push_str(&lossy);
            fields.text.len()
        };
        for pair in parts.chunks_exact(2) {
            let name_end = push(&mut fields, pair[0]);
            let value_end = push(&mut fields, pair[1]);
            fields.ends.push((name_end, value_end));
        }
        fields
    }

    /// The value of field `name`, the first one if repeated.
    pub fn get(&self, name: &str) -> Option<&str> {
        // Compared as bytes: only the value found is sliced as text.
        let text = self.text.as_bytes();
        let mut start = 0;
        for &(name_end, value_end) in &self.ends {
            if text.get(start..name_end) == Some(name.as_bytes()) {
                return self.text.get(name_end..value_end);
            }
            start = value_end;
        }
        None
    }

    /// Every field, in order.
    pub fn pairs(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&(name_end, value_end)| {
            let pair = (&self.text[start..name_end], &self.text[name_end..value_end]);
            start = value_end;
            pair
        })
    }

    /// The first field that is not UTF-8 (shown with replacement characters).
    pub fn not_utf8(&self) -> Option<&str> {
        self.not_utf8.as_deref()
    }
}

/// One entry as Redis returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry id, e.g. `1718000000000-0`.
    pub id: String,
    /// Its fields; `None` when the entry is still pending but was deleted
    /// from the stream (trimmed away).
    pub fields: Option<Fields>,
}

/// What `XAUTOCLAIM` answered.
#[derive(Debug, Default)]
pub(crate) struct AutoClaimed {
    /// Where the next scan starts; `0-0` when the scan is complete.
    pub next: String,
    /// The entries now owned by the claiming consumer.
    pub entries: Vec<Entry>,
    /// Ids that were pending but are gone from the stream; Redis removed
    /// them from the pending list.
    pub deleted: Vec<String>,
}

/// The entries per stream of an `XREADGROUP` reply (empty when it timed
/// out; an error reply is its error).
pub fn read_reply(value: Value) -> Result<Vec<(String, Vec<Entry>)>, RedisError> {
    let streams = match value {
        Value::Nil => return Ok(Vec::new()),
        Value::ServerError(error) => return Err(error.into()),
        Value::Array(streams) => streams
            .into_iter()
            .map(|stream| match stream {
                Value::Array(pair) => two(pair, "XREADGROUP stream"),
                other => Err(unexpected("XREADGROUP stream", &other)),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::Map(pairs) => pairs,
        other => return Err(unexpected("XREADGROUP reply", &other)),
    };
    streams
        .into_iter()
        .map(|(name, entries)| Ok((string(name, "stream name")?, entry_list(entries)?)))
        .collect()
}

/// The entries of an `XCLAIM` or `XRANGE` reply.
pub fn entry_list(value: Value) -> Result<Vec<Entry>, RedisError> {
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Array(entries) => entries.into_iter().filter_map(entry).collect(),
        other => Err(unexpected("entry list", &other)),
    }
}

/// The ids of an `XCLAIM … JUSTID` reply.
pub(crate) fn id_list(value: Value) -> Result<Vec<String>, RedisError> {
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Array(ids) => ids.into_iter().map(|id| string(id, "entry id")).collect(),
        other => Err(unexpected("id list", &other)),
    }
}

/// An `XAUTOCLAIM` reply: next cursor, claimed entries, deleted ids.
pub(crate) fn autoclaim_reply(value: Value) -> Result<AutoClaimed, RedisError> {
    let Value::Array(parts) = value else {
        return Err(unexpected("XAUTOCLAIM reply", &value));
    };
    let mut parts = parts.into_iter();
    let next = string(parts.next().unwrap_or_default(), "XAUTOCLAIM cursor")?;
    let entries = entry_list(parts.next().unwrap_or_default())?;
    let deleted = id_list(parts.next().unwrap_or_default())?;
    Ok(AutoClaimed { next, entries, deleted })
}

/// The ids and delivery counts of an extended `XPENDING` reply, in order.
pub(crate) fn pending_list(value: Value) -> Result<Vec<(String, u32)>, RedisError> {
    let Value::Array(rows) = value else {
        return match value {
            Value::Nil => Ok(Vec::new()),
            other => Err(unexpected("XPENDING reply", &other)),
        };
    };
    rows.into_iter()
        .map(|row| {
            let Value::Array(columns) = row else {
                return Err(unexpected("XPENDING row", &row));
            };
            let mut columns = columns.into_iter();
            let id = string(columns.next().unwrap_or_default(), "XPENDING id")?;
            let count = match columns.nth(2) {
                Some(Value::Int(count)) => u32::try_from(count).unwrap_or(u32::MAX),
                other => return Err(unexpected("XPENDING count", &other.unwrap_or_default())),
            };
            Ok((id, count))
        })
        .collect()
}

/// One `[id, [field, value, …]]` pair; `None` skips an entry Redis
/// answered with nil as a whole (an id claimed by `XCLAIM` that is gone).
fn entry(value: Value) -> Option<Result<Entry, RedisError>> {
    let parsed = match value {
        Value::Nil => return None,
        Value::Array(pair) => two(pair, "stream entry").and_then(|(id, fields)| {
            Ok(Entry {
                id: string(id, "entry id")?,
                fields: match fields {
                    Value::Nil => None,
                    fields => Some(field_list(fields)?),
                },
            })
        }),
        other => Err(unexpected("stream entry", &other)),
    };
    Some(parsed)
}

fn field_list(value: Value) -> Result<Fields, RedisError> {
    let flat = match value {
        Value::Array(flat) => flat,
        Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        other => return Err(unexpected("entry fields", &other)),
    };
    let parts = flat
        .iter()
        .map(|part| bytes(part).ok_or_else(|| unexpected("field", part)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Fields::from_parts(&parts))
}

/// The bytes of a field name or value.
fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}

fn string(value: Value, what: &'static str) -> Result<String, RedisError> {
    match value {
        Value::BulkString(bytes) => {
            Ok(String::from_utf8(bytes).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()))
        }
        Value::SimpleString(text) => Ok(text),
        other => Err(unexpected(what, &other)),
    }
}

fn two(pair: Vec<Value>, what: &'static str) -> Result<(Value, Value), RedisError> {
    let mut pair = pair.into_iter();
    match (pair.next(), pair.next()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(RedisError::from((
            ErrorKind::Parse,
            "unexpected reply shape",
            format!("{what}: expected a pair"),
        ))),
    }
}

pub(crate) fn unexpected(what: &'static str, value: &Value) -> RedisError {
    let mut shown = format!("{value:?}");
    shown.truncate(120);
    RedisError::from((
        ErrorKind::Parse,
        "unexpected reply shape",
        format!("{what}: got {shown}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn reads_xreadgroup_replies_with_deleted_entries() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("ns:events:user"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk("1-0"),
                    Value::Array(vec![bulk("type"), bulk("user.created")]),
                ]),
                Value::Array(vec![bulk("2-0"), Value::Nil]),
                Value::Array(vec![
                    bulk("3-0"),
                    Value::Array(vec![bulk("data"), Value::BulkString(vec![0xff, b'x'])]),
                ]),
            ]),
        ])]);
        let streams = read_reply(reply).expect("parses");
        assert_eq!(streams.len(), 1);
        let (stream, entries) = &streams[0];
        assert_eq!(stream, "ns:events:user");
        let fields = entries[0].fields.as_ref().expect("fields");
        assert_eq!(fields.get("type"), Some("user.created"));
        assert_eq!(fields.not_utf8(), None);
        assert_eq!(entries[1].fields, None);
        let bad = entries[2].fields.as_ref().expect("fields");
        assert_eq!(bad.not_utf8(), Some("\u{fffd}x"));
        assert!(read_reply(Value::Nil).expect("nil").is_empty());
    }

    #[test]
    fn each_name_and_value_must_be_text_on_its_own() {
        // "é" cut in two across a name and its value: the whole is UTF-8.
        let fields = Fields::from_parts(&[b"a\xc3", b"\xa9", b"b", b"2"]);
        assert_eq!(
            fields.pairs().collect::<Vec<_>>(),
            [("a\u{fffd}", "\u{fffd}"), ("b", "2")]
        );
        assert_eq!(fields.not_utf8(), Some("a\u{fffd}"));
        assert_eq!(fields.get("b"), Some("2"));
        let fields = Fields::from_parts(&["ü".as_bytes(), "ñ".as_bytes(), b"odd"]);
        assert_eq!(fields.pairs().collect::<Vec<_>>(), [("ü", "ñ")]);
        assert_eq!(
            (fields.get("ü"), fields.get("odd"), fields.not_utf8()),
            (Some("ñ"), None, None)
        );
    }

    #[test]
    fn reads_autoclaim_and_pending_replies() {
        let reply = Value::Array(vec![
            bulk("0-0"),
            Value::Array(vec![Value::Array(vec![bulk("5-0"), Value::Array(vec![])])]),
            Value::Array(vec![bulk("4-0")]),
        ]);
        let claimed = autoclaim_reply(reply).expect("parses");
        assert_eq!(claimed.next, "0-0");
        assert_eq!(claimed.entries[0].id, "5-0");
        assert_eq!(claimed.deleted, ["4-0"]);
        let pending = Value::Array(vec![Value::Array(vec![
            bulk("5-0"),
            bulk("c1"),
            Value::Int(12),
            Value::Int(3),
        ])]);
        assert_eq!(pending_list(pending).expect("parses"), [("5-0".to_owned(), 3)]);
    }

    #[test]
    fn odd_shapes_are_errors_not_panics() {
        assert!(read_reply(Value::Int(1)).is_err());
        assert!(read_reply(Value::Array(vec![Value::Int(1)])).is_err());
        assert!(entry_list(Value::Array(vec![Value::Array(vec![bulk("1-0")])])).is_err());
        assert!(autoclaim_reply(Value::Array(vec![])).is_err());
        assert!(pending_list(Value::Array(vec![Value::Array(vec![bulk("1-0")])])).is_err());
    }
}
