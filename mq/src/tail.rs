//! `tail`: a category's events as they arrive, decoded by type.
//!
//! A partitioned category has one stream per partition; `tail` follows all
//! of them and shows their entries in entry-id (time) order:
//!
//! - Each stream is read with its own `XREAD`: on Redis Cluster the
//!   partitions lie in different slots, and no command may span two.
//! - What a read brings waits in the stream's buffer until the entries
//!   before it are known: the entry shown next is the oldest head of the
//!   buffers, and a buffer that runs dry while its stream may hold more
//!   (its last read was full) is refilled before anything else is shown.
//! - With one stream the read blocks on it (`BLOCK`). With several, blocking
//!   on one would hold back the others' entries for as long as it blocks, so
//!   they are read without blocking and, when none had anything new, read
//!   again after [`POLL`]: a few cheap reads a second, and an entry shows at
//!   most that late.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};
use xerpium_events::{AnyEvent, Category};
use xerpium_messaging::Envelope;
use xerpium_messaging::envelope::field;

use crate::entry::{self, Entry};
use crate::error::Error;
use crate::output::{self, indented};
use crate::session::{Session, TAIL_BLOCK};

/// Entries read per round trip at most.
const BATCH: u64 = 100;
/// How long `tail` waits before reading the streams of a partitioned
/// category again when none had anything new.
const POLL: Duration = Duration::from_millis(100);

/// Prints the events of `category` after entry `from` (`$`: from now on),
/// `count` of them or until interrupted, in entry-id order across its
/// streams.
pub async fn tail(
    session: &Session,
    category: Category,
    from: &str,
    count: Option<u64>,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let streams = session.keys.event_streams(category.as_str(), &category.layout());
    let partitioned = streams.len() > 1;
    let mut sources = Vec::with_capacity(streams.len());
    for stream in streams {
        let after = if from == "$" {
            last_id(session, &stream).await?
        } else {
            from.to_owned()
        };
        sources.push(Source::new(stream, after));
    }
    if !json {
        eprintln!("{} (Ctrl-C to stop)…", following(category, &sources, from));
    }
    let block = (!partitioned).then_some(TAIL_BLOCK);
    let mut shown = 0;
    while count.is_none_or(|count| shown < count) {
        let wanted = count.map_or(BATCH, |count| (count - shown).min(BATCH));
        for source in sources.iter_mut().filter(|source| source.is_empty()) {
            source.read(session, wanted, block).await?;
        }
        if sources.iter().all(Source::is_empty) {
            if partitioned {
                tokio::time::sleep(POLL).await;
            }
            continue;
        }
        // The oldest buffered entry, until a stream that may hold entries
        // older than the rest runs dry.
        while count.is_none_or(|count| shown < count) {
            let Some((source, entry)) = next_in_order(&mut sources) else {
                break;
            };
            let stream = &sources[source].stream;
            if json {
                serde_json::to_writer(&mut *out, &event_json(stream, &entry, Personal::Shown))?;
                writeln!(out)?;
            } else if partitioned {
                write_event(out, &format!("{stream} {}", entry.id), &entry)?;
            } else {
                write_event(out, &entry.id, &entry)?;
            }
            shown += 1;
        }
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One stream of the category being followed.
pub struct Source {
    /// Its key.
    pub stream: String,
    /// The id of the last entry read from it.
    after: String,
    /// The id of the last entry taken from it ([`next_in_order`]).
    pub taken: String,
    /// Entries read and not taken yet, oldest first.
    buffer: VecDeque<Entry>,
    /// Whether its last read was full: it may hold more right now.
    more: bool,
}

impl Source {
    /// The stream `stream`, to be read after entry `after`.
    pub fn new(stream: String, after: String) -> Source {
        Source {
            stream,
            taken: after.clone(),
            after,
            buffer: VecDeque::new(),
            more: false,
        }
    }

    /// Whether it holds entries read and not taken.
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Reads up to `count` entries after the last one read into the
    /// buffer, waiting up to `block` for one when given.
    pub async fn read(&mut self, session: &Session, count: u64, block: Option<Duration>) -> Result<(), Error> {
        let mut read = redis::cmd("XREAD");
        read.arg("COUNT").arg(count);
        if let Some(block) = block {
            read.arg("BLOCK").arg(u64::try_from(block.as_millis()).unwrap_or(1000));
        }
        read.arg("STREAMS").arg(&self.stream).arg(&self.after);
        let mut redis = session.redis.clone();
        let reply = session.run("reading events", read.query_async(&mut redis)).await?;
        let entries = session.run("reading events", async { entry::read(reply) }).await?;
        self.more = entries.len() as u64 >= count;
        if let Some(last) = entries.last() {
            self.after.clone_from(&last.id);
        }
        self.buffer.extend(entries);
        Ok(())
    }
}

/// The oldest entry buffered in `sources`, with the index of its source;
/// `None` when none is buffered, or when a source that may hold more right
/// now ran dry (read it again first: its next entries may be older than
/// the others' buffered ones). Oldest by entry id; entries of one
/// millisecond in different streams (whose ids say nothing of their order)
/// by the time in their envelope, which has microseconds.
pub fn next_in_order(sources: &mut [Source]) -> Option<(usize, Entry)> {
    if sources.iter().any(|source| source.buffer.is_empty() && source.more) {
        return None;
    }
    let age = |entry: &Entry| (entry.position(), entry.get(field::TIME).map(str::to_owned));
    let (index, source) = sources
        .iter_mut()
        .enumerate()
        .filter(|(_, source)| !source.buffer.is_empty())
        .min_by_key(|(_, source)| source.buffer.front().map(age))?;
    let entry = source.buffer.pop_front()?;
    source.taken.clone_from(&entry.id);
    Some((index, entry))
}

/// What `tail` follows, for the operator: the stream and where it starts,
/// or the category's partition streams.
fn following(category: Category, sources: &[Source], from: &str) -> String {
    if let [one] = sources {
        return format!("Following {} after {}", one.stream, one.after);
    }
    let start = if from == "$" { "their newest entries" } else { from };
    let streams: Vec<&str> = sources.iter().map(|source| source.stream.as_str()).collect();
    format!(
        "Following the {} streams of `{category}` ({}) after {start}",
        streams.len(),
        streams.join(", ")
    )
}

/// The id of the stream's newest entry (`0-0` when it is empty or absent).
pub async fn last_id(session: &Session, stream: &str) -> Result<String, Error> {
    let newest = session.newest(stream).await?;
    Ok(newest.map_or_else(|| "0-0".to_owned(), |entry| entry.id))
}

/// Whether personal data (the fields the catalog marks `pii`) is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personal {
    /// As it is: at the operator's terminal, or asked for.
    Shown,
    /// Replaced (see `xerpium_events::REDACTED`); a payload that cannot be
    /// decoded is not shown at all, since its personal data cannot be told
    /// apart.
    Redacted,
}

impl Personal {
    /// `text` (an error message, say) as it may be shown: with personal
    /// data redacted, every quoted part (`"…"` or `` `…` ``, where serde and
    /// handlers' errors quote the values they found) is replaced.
    pub fn text(self, text: &str) -> Cow<'_, str> {
        if self == Personal::Shown || !text.contains(['"', '`']) {
            return Cow::Borrowed(text);
        }
        let mut shown = String::with_capacity(text.len());
        let mut quote: Option<char> = None;
        for c in text.chars() {
            match quote {
                Some(open) if c == open => {
                    shown.push_str(xerpium_events::REDACTED);
                    shown.push(c);
                    quote = None;
                }
                Some(_) => {}
                None => {
                    shown.push(c);
                    if c == '"' || c == '`' {
                        quote = Some(c);
                    }
                }
            }
        }
        if quote.is_some() {
            shown.push_str(xerpium_events::REDACTED);
        }
        Cow::Owned(shown)
    }
}

/// What stands for a payload that is not shown.
pub const HIDDEN: &str = "[hidden: it may hold personal data]";

/// An envelope's payload decoded by its type and version, as JSON.
pub fn decode(envelope: &Envelope, personal: Personal) -> Result<Value, String> {
    let event = AnyEvent::decode(&envelope.event_type, envelope.version, &envelope.data).map_err(|e| e.to_string())?;
    let event = match personal {
        Personal::Shown => event,
        Personal::Redacted => event.redacted(),
    };
    event.to_json().map_err(|error| error.to_string())
}

/// One event for people, headed by `label` (its entry id, or its stream
/// and entry id): a header line, its metadata, its payload.
fn write_event(out: &mut impl Write, label: &str, entry: &Entry) -> Result<(), Error> {
    match entry.envelope() {
        Ok(envelope) => {
            write_envelope(out, label, &envelope)?;
            match decode(&envelope, Personal::Shown) {
                Ok(event) => indented(out, "  ", &serde_json::to_string_pretty(&event)?)?,
                Err(error) => {
                    writeln!(out, "  cannot decode: {error}")?;
                    indented(out, "  ", &output::payload(&envelope.data))?;
                }
            }
        }
        Err(error) => {
            writeln!(out, "{label}  not a message: {error}")?;
            for (name, value) in entry.fields() {
                writeln!(out, "  {name} = {}", output::shorten(value, 200))?;
            }
        }
    }
    writeln!(out)?;
    Ok(())
}

/// The header and metadata lines of one message, the header starting with
/// `label` (where the entry is: its id, or its stream and id).
pub fn write_envelope(out: &mut impl Write, label: &str, envelope: &Envelope) -> Result<(), Error> {
    writeln!(
        out,
        "{label}  {} v{}  subject {}",
        envelope.event_type, envelope.version, envelope.subject
    )?;
    writeln!(
        out,
        "  id {}  time {}  source {}",
        envelope.id,
        envelope.time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        envelope.source
    )?;
    let mut trail = format!("  correlation {}", envelope.correlation_id);
    if let Some(causation) = &envelope.causation_id {
        trail.push_str(&format!("  causation {causation}"));
    }
    if let Some(traceparent) = &envelope.traceparent {
        trail.push_str(&format!("  traceparent {traceparent}"));
    }
    writeln!(out, "{trail}")?;
    Ok(())
}

/// One event for machines: its metadata, the decoded payload (or the raw
/// one, when personal data is shown, and why it could not be decoded).
pub fn event_json(stream: &str, entry: &Entry, personal: Personal) -> Value {
    match entry.envelope() {
        Ok(envelope) => {
            let (data, error) = match (decode(&envelope, personal), personal) {
                (Ok(event), _) => (event, None),
                (Err(error), Personal::Shown) => (
                    serde_json::from_str(&envelope.data).unwrap_or(Value::String(envelope.data.clone())),
                    Some(error),
                ),
                (Err(error), Personal::Redacted) => (
                    Value::Null,
                    Some(format!(
                        "{} (payload hidden: it may hold personal data)",
                        personal.text(&error)
                    )),
                ),
            };
            json!({
                "stream": stream,
                "entry_id": entry.id,
                "id": envelope.id,
                "type": envelope.event_type,
                "version": envelope.version,
                "source": envelope.source,
                "time": envelope.time,
                "subject": envelope.subject,
                "correlation_id": envelope.correlation_id,
                "causation_id": envelope.causation_id,
                "traceparent": envelope.traceparent,
                "data": data,
                "error": error,
            })
        }
        Err(error) => {
            let mut fields = entry.fields_json();
            if let (Personal::Redacted, Some(fields)) = (personal, fields.as_object_mut())
                && fields.contains_key("data")
            {
                fields.insert("data".into(), Value::String(HIDDEN.into()));
            }
            json!({
                "stream": stream,
                "entry_id": entry.id,
                "fields": fields,
                "error": format!("not a message: {}", personal.text(&error.to_string())),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Personal, Source, next_in_order};
    use crate::entry;

    /// A source of `stream` holding entry `id` written at `time`.
    fn holding(stream: &str, id: &str, time: &str) -> Source {
        let bulk = |text: &str| redis::Value::BulkString(text.as_bytes().to_vec());
        let reply = redis::Value::Array(vec![redis::Value::Array(vec![
            bulk(id),
            redis::Value::Array(vec![bulk("time"), bulk(time)]),
        ])]);
        let mut source = Source::new(stream.to_owned(), "0-0".to_owned());
        source.buffer.extend(entry::range(reply).expect("entries"));
        source
    }

    #[test]
    fn entries_of_one_millisecond_in_two_streams_come_by_their_time() {
        let mut sources = [
            holding("p0", "1000-0", "2026-12-01T10:00:00.000900Z"),
            holding("p1", "1000-0", "2026-12-01T10:00:00.000100Z"),
            holding("p2", "999-5", "2026-12-01T10:00:00.000950Z"),
        ];
        let order: Vec<usize> = std::iter::from_fn(|| next_in_order(&mut sources).map(|(index, _)| index)).collect();
        assert_eq!(order, [2, 1, 0], "by entry id first, then by time");
    }

    #[test]
    fn quoted_values_are_redacted_in_text() {
        let error = r#"invalid type: string "ann@example.com", expected u64 at line 1; unknown variant `boss`"#;
        assert_eq!(
            Personal::Redacted.text(error),
            "invalid type: string \"[redacted]\", expected u64 at line 1; unknown variant `[redacted]`"
        );
        assert_eq!(Personal::Shown.text(error), error);
        assert_eq!(Personal::Redacted.text("cut \"open"), "cut \"[redacted]");
        assert_eq!(Personal::Redacted.text("plain"), "plain");
    }
}
