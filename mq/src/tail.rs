//! `tail`: a category's events as they arrive, decoded by type.

use std::io::Write;
use std::process::ExitCode;

use serde_json::{Value, json};
use xerpium_events::{AnyEvent, Category};
use xerpium_messaging::Envelope;

use crate::entry::{self, Entry};
use crate::error::Error;
use crate::output::{self, indented};
use crate::session::{Session, TAIL_BLOCK};

/// Entries read per round trip at most.
const BATCH: u64 = 100;

/// Prints the events of `category` after entry `from` (`$`: from now on),
/// `count` of them or until interrupted.
pub async fn tail(
    session: &mut Session,
    category: Category,
    from: &str,
    count: Option<u64>,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let stream = session.keys.events(category.as_str());
    let mut after = if from == "$" {
        last_id(session, &stream).await?
    } else {
        from.to_owned()
    };
    if !json {
        eprintln!("Following {stream} after {after} (Ctrl-C to stop)…");
    }
    let mut shown = 0;
    while count.is_none_or(|count| shown < count) {
        let wanted = count.map_or(BATCH, |count| (count - shown).min(BATCH));
        let mut read = redis::cmd("XREAD");
        read.arg("COUNT")
            .arg(wanted)
            .arg("BLOCK")
            .arg(u64::try_from(TAIL_BLOCK.as_millis()).unwrap_or(1000))
            .arg("STREAMS")
            .arg(&stream)
            .arg(&after);
        let mut redis = session.redis.clone();
        let reply = session.run("reading events", read.query_async(&mut redis)).await?;
        let entries = session.run("reading events", async { entry::read(reply) }).await?;
        for entry in entries {
            if json {
                serde_json::to_writer(&mut *out, &event_json(&stream, &entry))?;
                writeln!(out)?;
            } else {
                write_event(out, &entry)?;
            }
            after = entry.id;
            shown += 1;
        }
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The id of the stream's newest entry (`0-0` when it is empty or absent).
async fn last_id(session: &Session, stream: &str) -> Result<String, Error> {
    let newest = session.newest(stream).await?;
    Ok(newest.map_or_else(|| "0-0".to_owned(), |entry| entry.id))
}

/// An envelope's payload decoded by its type and version, as JSON.
pub fn decode(envelope: &Envelope) -> Result<Value, String> {
    AnyEvent::decode(&envelope.event_type, envelope.version, &envelope.data)
        .map_err(|error| error.to_string())
        .and_then(|event| event.to_json().map_err(|error| error.to_string()))
}

/// One event for people: a header line, its metadata, its payload.
fn write_event(out: &mut impl Write, entry: &Entry) -> Result<(), Error> {
    match entry.envelope() {
        Ok(envelope) => {
            write_envelope(out, &entry.id, &envelope)?;
            match decode(&envelope) {
                Ok(event) => indented(out, "  ", &serde_json::to_string_pretty(&event)?)?,
                Err(error) => {
                    writeln!(out, "  cannot decode: {error}")?;
                    indented(out, "  ", &output::payload(&envelope.data))?;
                }
            }
        }
        Err(error) => {
            writeln!(out, "{}  not a message: {error}", entry.id)?;
            for (name, value) in entry.fields() {
                writeln!(out, "  {name} = {}", output::shorten(value, 200))?;
            }
        }
    }
    writeln!(out)?;
    Ok(())
}

/// The header and metadata lines of one message.
pub fn write_envelope(out: &mut impl Write, entry_id: &str, envelope: &Envelope) -> Result<(), Error> {
    writeln!(
        out,
        "{entry_id}  {} v{}  subject {}",
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
/// one and why it could not be decoded).
fn event_json(stream: &str, entry: &Entry) -> Value {
    match entry.envelope() {
        Ok(envelope) => {
            let (data, error) = match decode(&envelope) {
                Ok(event) => (event, None),
                Err(error) => (
                    serde_json::from_str(&envelope.data).unwrap_or(Value::String(envelope.data.clone())),
                    Some(error),
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
        Err(error) => json!({
            "stream": stream,
            "entry_id": entry.id,
            "fields": entry.fields_json(),
            "error": format!("not a message: {error}"),
        }),
    }
}
