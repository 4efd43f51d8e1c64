//! Reading the replies of `XINFO`, `XPENDING` and `TIME` from raw
//! [`redis::Value`]s, in RESP2 or RESP3 shape, without trusting them.

use redis::{ErrorKind, RedisError, Value};

use crate::stream::unexpected;

/// A reply that is a map (RESP3) or a flat `[name, value, …]` array (RESP2),
/// as name/value pairs.
pub(super) struct Fields(Vec<(String, Value)>);

impl Fields {
    pub(super) fn parse(value: Value, what: &'static str) -> Result<Fields, RedisError> {
        let pairs = match value {
            Value::Map(pairs) => pairs,
            Value::Array(flat) => {
                let mut pairs = Vec::with_capacity(flat.len() / 2);
                let mut flat = flat.into_iter();
                while let (Some(name), Some(value)) = (flat.next(), flat.next()) {
                    pairs.push((name, value));
                }
                pairs
            }
            other => return Err(unexpected(what, &other)),
        };
        let pairs = pairs
            .into_iter()
            .map(|(name, value)| Ok((text(&name).ok_or_else(|| unexpected(what, &name))?, value)))
            .collect::<Result<_, RedisError>>()?;
        Ok(Fields(pairs))
    }

    pub(super) fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(field, _)| field == name).map(|(_, value)| value)
    }

    /// The integer field `name`; `None` when absent or nil.
    pub(super) fn int(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(int)
    }

    /// The text field `name`; empty when absent.
    pub(super) fn text(&self, name: &str) -> String {
        self.get(name).and_then(text).unwrap_or_default()
    }
}

/// A list reply as its items (nil: none).
pub(super) fn list(value: Value, what: &'static str) -> Result<Vec<Value>, RedisError> {
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) | Value::Set(items) => Ok(items),
        other => Err(unexpected(what, &other)),
    }
}

/// An integer, also when sent as text; `None` for nil or anything else.
pub(super) fn int(value: &Value) -> Option<u64> {
    match value {
        Value::Int(number) => u64::try_from(*number).ok(),
        other => text(other).and_then(|text| text.parse().ok()),
    }
}

/// A string reply as text.
pub(super) fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(text) => Some(text.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

/// The milliseconds part of a stream entry id (`<ms>-<seq>`).
pub(super) fn id_millis(id: &str) -> Option<u64> {
    id.split_once('-').map_or(id, |(ms, _)| ms).parse().ok()
}

/// Milliseconds since the epoch from a `TIME` reply (`[seconds, micros]`).
pub(super) fn time_millis(value: Value) -> Result<u64, RedisError> {
    let parts = list(value, "TIME reply")?;
    match parts.as_slice() {
        [seconds, micros] => match (int(seconds), int(micros)) {
            (Some(seconds), Some(micros)) => Ok(seconds * 1000 + micros / 1000),
            _ => Err(parse_error("TIME reply: expected two numbers")),
        },
        _ => Err(parse_error("TIME reply: expected two numbers")),
    }
}

pub(super) fn parse_error(detail: &str) -> RedisError {
    RedisError::from((ErrorKind::Parse, "unexpected reply shape", detail.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn reads_flat_and_map_replies() {
        let flat = Value::Array(vec![
            bulk("name"),
            bulk("audit"),
            bulk("lag"),
            Value::Nil,
            bulk("pending"),
            Value::Int(3),
        ]);
        let fields = Fields::parse(flat, "group").expect("parses");
        assert_eq!(fields.text("name"), "audit");
        assert_eq!(fields.int("lag"), None);
        assert_eq!(fields.int("pending"), Some(3));
        let map = Value::Map(vec![(bulk("entries-read"), Value::Int(7))]);
        assert_eq!(
            Fields::parse(map, "group").expect("parses").int("entries-read"),
            Some(7)
        );
        assert!(Fields::parse(Value::Int(1), "group").is_err());
    }

    #[test]
    fn reads_time_and_ids() {
        let time = Value::Array(vec![bulk("1700000000"), bulk("123456")]);
        assert_eq!(time_millis(time).expect("parses"), 1_700_000_000_123);
        assert_eq!(id_millis("1700000000123-4"), Some(1_700_000_000_123));
        assert_eq!(id_millis("nope"), None);
    }
}
