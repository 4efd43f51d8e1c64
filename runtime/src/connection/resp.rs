//! RESP2, as the read connection ([`super::reads`]) receives it: where a
//! reply ends, found as its bytes arrive without going over them twice, and
//! a stream read's reply decoded straight into its entries, with no generic
//! value built per field.

use redis::{ErrorKind, RedisError, Value};

use crate::stream::{Entry, Fields};

/// The longest bulk string or array accepted: a sanity bound, far above
/// Redis's default cap on a bulk string (`proto-max-bulk-len`, 512 MiB),
/// which a server may raise. Nothing is reserved by a length before its
/// bytes arrive.
const MAX_LENGTH: i64 = 1 << 40;

/// Finds where the first reply in a buffer ends, across reads: each call
/// goes on from where the last one stopped.
#[derive(Debug, Default)]
pub(super) struct Framer {
    /// Where the next value starts.
    at: usize,
    /// For each array open around `at`, the elements still to come.
    open: Vec<i64>,
}

impl Framer {
    /// The length of the first reply in `buffer` once all of it is there
    /// (`None` until then; `buffer` must only grow between calls). After a
    /// reply is found, the framer starts over for the next one, at the
    /// start of what follows it.
    pub(super) fn reply_end(&mut self, buffer: &[u8]) -> Result<Option<usize>, RedisError> {
        loop {
            let Some(header) = header(buffer, self.at)? else {
                return Ok(None);
            };
            let mut next = header.body;
            let elements = match header.kind {
                b'$' if header.length >= 0 => {
                    next = header.body + header.length as usize + 2;
                    if buffer.len() < next {
                        return Ok(None);
                    }
                    if &buffer[next - 2..next] != b"\r\n" {
                        return Err(protocol("a bulk string not followed by CRLF"));
                    }
                    0
                }
                b'*' => header.length.max(0),
                _ => 0,
            };
            self.at = next;
            if elements > 0 {
                self.open.push(elements);
                continue;
            }
            // A value is complete: so is every array it was the last of.
            loop {
                match self.open.last_mut() {
                    None => {
                        let end = self.at;
                        self.at = 0;
                        return Ok(Some(end));
                    }
                    Some(left) => {
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        self.open.pop();
                    }
                }
            }
        }
    }
}

/// The first line of a value: its type byte, and its length for bulk
/// strings and arrays (-1 for nil).
struct Header {
    kind: u8,
    length: i64,
    /// Where the value's body (or its first element) starts.
    body: usize,
}

/// The header of the value at `at`, once its line is complete.
fn header(buffer: &[u8], at: usize) -> Result<Option<Header>, RedisError> {
    let Some(&kind) = buffer.get(at) else {
        return Ok(None);
    };
    let line = &buffer[at + 1..];
    let (length, text_end) = match kind {
        b'$' | b'*' => match length(line)? {
            Some(parsed) => parsed,
            None => return Ok(None),
        },
        b'+' | b'-' | b':' => match line.iter().position(|&byte| byte == b'\r') {
            Some(end) => (0, end),
            None => return Ok(None),
        },
        _ => return Err(protocol("a value of a type other than RESP2's")),
    };
    match line.get(text_end + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some(Header {
            kind,
            length,
            body: at + 1 + text_end + 2,
        })),
        Some(_) => Err(protocol("a line not ended by CRLF")),
    }
}

/// The length at the start of `line` (`-1` for nil) and where its text
/// ends (at the CR), once the CR is there.
fn length(line: &[u8]) -> Result<Option<(i64, usize)>, RedisError> {
    if line.first() == Some(&b'-') {
        return match (line.get(1), line.get(2)) {
            (None, _) | (Some(b'1'), None) => Ok(None),
            (Some(b'1'), Some(b'\r')) => Ok(Some((-1, 2))),
            _ => Err(protocol("a length out of range")),
        };
    }
    let mut length: i64 = 0;
    for (at, &byte) in line.iter().enumerate() {
        match byte {
            b'0'..=b'9' => {
                length = length * 10 + i64::from(byte - b'0');
                if length > MAX_LENGTH {
                    return Err(protocol("a length out of range"));
                }
            }
            b'\r' if at > 0 => return Ok(Some((length, at))),
            _ => return Err(protocol("a length that is not a number")),
        }
    }
    Ok(None)
}

/// A value of a complete reply, as [`Cursor`] reads it: arrays give only
/// their length, their elements follow.
enum Item<'a> {
    /// An array of this many elements; `None` for a nil array.
    Array(Option<usize>),
    /// A bulk string; `None` for a nil one.
    Bulk(Option<&'a [u8]>),
    /// An error reply, as the whole line (`-CODE message\r\n`).
    Error(&'a [u8]),
    /// A simple string or an integer.
    Other,
}

/// Reads the values of one complete reply in order.
struct Cursor<'a> {
    reply: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn next(&mut self) -> Result<Item<'a>, RedisError> {
        let header = header(self.reply, self.at)?.ok_or_else(|| protocol("a reply cut short"))?;
        let start = self.at;
        self.at = header.body;
        let nil = header.length < 0;
        Ok(match header.kind {
            b'*' if nil => Item::Array(None),
            b'*' => Item::Array(Some(header.length as usize)),
            b'$' if nil => Item::Bulk(None),
            b'$' => {
                let end = header.body + header.length as usize;
                let body = self
                    .reply
                    .get(header.body..end)
                    .ok_or_else(|| protocol("a reply cut short"))?;
                self.at = end + 2;
                Item::Bulk(Some(body))
            }
            b'-' => Item::Error(&self.reply[start..header.body]),
            _ => Item::Other,
        })
    }

    /// An array's length (0 for nil), or `what` is unexpected.
    fn array(&mut self, what: &'static str) -> Result<usize, RedisError> {
        match self.next()? {
            Item::Array(length) => Ok(length.unwrap_or(0)),
            _ => Err(unexpected(what)),
        }
    }

    /// A bulk string that must be there.
    fn bulk(&mut self, what: &'static str) -> Result<&'a [u8], RedisError> {
        match self.next()? {
            Item::Bulk(Some(bytes)) => Ok(bytes),
            _ => Err(unexpected(what)),
        }
    }
}

/// The entries per stream of a complete `XREADGROUP` or `XREAD` reply (none
/// when it timed out); an error reply is its error, as the redis crate
/// reports it.
pub(super) fn read_reply(reply: &[u8]) -> Result<Vec<(String, Vec<Entry>)>, RedisError> {
    let mut cursor = Cursor { reply, at: 0 };
    let streams = match cursor.next()? {
        Item::Array(Some(streams)) => streams,
        Item::Array(None) | Item::Bulk(None) => return Ok(Vec::new()),
        Item::Error(line) => return Err(server_error(line)),
        _ => return Err(unexpected("XREADGROUP reply")),
    };
    // Lengths are the reply's word: bound what is reserved by its size.
    let mut read = Vec::with_capacity(streams.min(reply.len()));
    // The current entry's field names and values, reused from entry to entry.
    let mut parts: Vec<&[u8]> = Vec::new();
    for _ in 0..streams {
        if cursor.array("XREADGROUP stream")? != 2 {
            return Err(unexpected("XREADGROUP stream"));
        }
        let name = text(cursor.bulk("stream name")?);
        let count = cursor.array("entry list")?;
        let mut entries = Vec::with_capacity(count.min(reply.len()));
        for _ in 0..count {
            if cursor.array("stream entry")? != 2 {
                return Err(unexpected("stream entry"));
            }
            let id = text(cursor.bulk("entry id")?);
            let fields = match cursor.next()? {
                Item::Array(None) | Item::Bulk(None) => None,
                Item::Array(Some(length)) => {
                    parts.clear();
                    for _ in 0..length {
                        parts.push(cursor.bulk("field")?);
                    }
                    Some(Fields::from_parts(&parts))
                }
                _ => return Err(unexpected("entry fields")),
            };
            entries.push(Entry { id, fields });
        }
        read.push((name, entries));
    }
    Ok(read)
}

/// A complete reply to a write: an entry id (a bulk string) read here, any
/// other reply by the redis crate's parser ([`other_reply`]).
pub(super) fn write_reply(reply: &[u8]) -> Result<Value, RedisError> {
    let mut cursor = Cursor { reply, at: 0 };
    match cursor.next()? {
        Item::Bulk(Some(bytes)) if cursor.at == reply.len() => Ok(Value::BulkString(bytes.to_vec())),
        _ => other_reply(reply),
    }
}

/// A complete reply of any other command, parsed by the redis crate (an
/// error reply is its error).
pub(super) fn other_reply(reply: &[u8]) -> Result<Value, RedisError> {
    match redis::parse_redis_value(reply)? {
        Value::ServerError(error) => Err(error.into()),
        value => Ok(value),
    }
}

/// An error reply as the redis crate reports it (so that its code, and a
/// cluster's redirection, read as they do on the crate's connections).
fn server_error(line: &[u8]) -> RedisError {
    match other_reply(line) {
        Err(error) => error,
        Ok(_) => protocol("an error reply that is not one"),
    }
}

fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn unexpected(what: &'static str) -> RedisError {
    RedisError::from((ErrorKind::Parse, "unexpected reply shape", what.to_owned()))
}

fn protocol(what: &'static str) -> RedisError {
    RedisError::from((ErrorKind::Parse, "invalid RESP2 reply", what.to_owned()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// `value` as Redis writes it in RESP2.
    fn encode(value: &Value, out: &mut Vec<u8>) {
        match value {
            Value::Nil => out.extend_from_slice(b"*-1\r\n"),
            Value::BulkString(bytes) => {
                out.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Value::Array(values) => {
                out.extend_from_slice(format!("*{}\r\n", values.len()).as_bytes());
                for value in values {
                    encode(value, out);
                }
            }
            Value::Int(number) => out.extend_from_slice(format!(":{number}\r\n").as_bytes()),
            other => panic!("not in these tests: {other:?}"),
        }
    }

    /// An `XREADGROUP` reply: streams of entries whose fields are any bytes,
    /// some entries deleted (nil fields).
    fn read_replies() -> impl Strategy<Value = Value> {
        let bytes = || prop::collection::vec(any::<u8>(), 0..40);
        let fields = prop::option::of(prop::collection::vec((bytes(), bytes()), 0..6));
        let entry = ("[0-9]{1,13}-[0-9]{1,3}", fields).prop_map(|(id, fields)| {
            let fields = match fields {
                None => Value::Nil,
                Some(pairs) => Value::Array(
                    pairs
                        .into_iter()
                        .flat_map(|(name, value)| [Value::BulkString(name), Value::BulkString(value)])
                        .collect(),
                ),
            };
            Value::Array(vec![Value::BulkString(id.into_bytes()), fields])
        });
        let stream = ("[a-z:]{1,20}", prop::collection::vec(entry, 0..8)).prop_map(|(name, entries)| {
            Value::Array(vec![Value::BulkString(name.into_bytes()), Value::Array(entries)])
        });
        prop_oneof![
            1 => Just(Value::Nil),
            8 => prop::collection::vec(stream, 1..3).prop_map(Value::Array),
        ]
    }

    /// Feeds `bytes` to a framer in pieces cut at `cuts`, as reads would
    /// bring them; the end of the first reply.
    fn frame(bytes: &[u8], cuts: &[usize]) -> Result<Option<usize>, RedisError> {
        let mut framer = Framer::default();
        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        for cut in cuts {
            if let Some(end) = framer.reply_end(&bytes[..cut])? {
                return Ok(Some(end));
            }
        }
        framer.reply_end(bytes)
    }

    proptest! {
        #[test]
        fn decodes_what_the_redis_crate_decodes(reply in read_replies(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
            let mut bytes = Vec::new();
            encode(&reply, &mut bytes);
            let end = bytes.len();
            // The next reply follows at once, as a second read's would.
            bytes.extend_from_slice(b"*-1\r\n");
            prop_assert_eq!(frame(&bytes, &cuts).expect("frames"), Some(end));
            let ours = read_reply(&bytes[..end]).expect("decodes");
            let theirs = crate::stream::read_reply(redis::parse_redis_value(&bytes[..end]).expect("parses")).expect("reads");
            prop_assert_eq!(ours, theirs);
        }

        #[test]
        fn any_bytes_are_a_reply_an_error_or_too_few(bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            // Mostly RESP's own bytes, to get past the first line.
            prop::collection::vec(prop::sample::select(b"*$-+:012\r\n\r\nx".to_vec()), 0..64),
        ]) {
            if let Ok(Some(end)) = Framer::default().reply_end(&bytes) {
                let _ = read_reply(&bytes[..end]);
            }
        }
    }

    #[test]
    fn a_reply_is_only_complete_with_its_last_byte() {
        let mut bytes = Vec::new();
        let reply = Value::Array(vec![Value::Array(vec![
            Value::BulkString(b"s".to_vec()),
            Value::Array(vec![Value::Array(vec![
                Value::BulkString(b"1-0".to_vec()),
                Value::Array(vec![Value::BulkString(b"a".to_vec()), Value::BulkString(b"1".to_vec())]),
            ])]),
        ])]);
        encode(&reply, &mut bytes);
        let mut framer = Framer::default();
        for cut in 0..bytes.len() {
            assert_eq!(framer.reply_end(&bytes[..cut]).expect("frames"), None, "cut at {cut}");
        }
        assert_eq!(framer.reply_end(&bytes).expect("frames"), Some(bytes.len()));
    }

    #[test]
    fn error_replies_keep_their_code_and_redirection() {
        let error = read_reply(b"-NOGROUP No such key 's' or consumer group 'g'\r\n").expect_err("an error");
        assert_eq!(error.code(), Some("NOGROUP"));
        let moved = read_reply(b"-MOVED 3999 127.0.0.1:6381\r\n").expect_err("an error");
        assert_eq!(moved.redirect_node(), Some(("127.0.0.1:6381", 3999)));
        assert!(matches!(other_reply(b":1\r\n"), Ok(Value::Int(1))));
    }

    #[test]
    fn what_is_not_resp2_or_not_a_stream_reply_is_an_error() {
        for bad in [
            &b"%1\r\n"[..],
            b"$x\r\n",
            b"*99999999999999\r\n",
            b"$1\r\nab\r\n",
            b"$1\nx\r\n",
        ] {
            assert!(
                Framer::default().reply_end(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        for odd in [
            &b":1\r\n"[..],
            b"*1\r\n:1\r\n",
            b"*1\r\n*2\r\n$1\r\ns\r\n:1\r\n",
            b"*1\r\n*1\r\n$1\r\ns\r\n",
        ] {
            assert!(read_reply(odd).is_err(), "{:?}", String::from_utf8_lossy(odd));
        }
    }
}
