//! `dlq list|show|replay|purge`: the dead letters of a consumer group.
//!
//! A dead letter is the original entry's fields followed by `dlq.*` fields
//! (see `xerpium_messaging::consumer::dead_letter`). A replay writes the
//! original fields back to `dlq.stream` as a new entry, followed by:
//!
//! | field | value |
//! |---|---|
//! | `replay.from` | the dead-letter stream |
//! | `replay.id` | the dead letter's id there |
//! | `replay.entry_id` | the entry's id in its stream before it was dead-lettered |
//! | `replay.reason` | why it had been dead-lettered |
//! | `replay.time` | when it was replayed, RFC 3339 UTC |

use std::io::{BufRead, Write};
use std::process::ExitCode;

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use xerpium_messaging::consumer::dead_letter::field as dlq;

use crate::entry::Entry;
use crate::error::Error;
use crate::output::{self, Table, indented, shorten};
use crate::session::Session;
use crate::tail;

/// The fields a replay adds.
pub mod field {
    /// The dead-letter stream the entry was replayed from.
    pub const FROM: &str = "replay.from";
    /// The dead letter's id in that stream.
    pub const ID: &str = "replay.id";
    /// The entry's id before it was dead-lettered.
    pub const ENTRY_ID: &str = "replay.entry_id";
    /// Why it had been dead-lettered.
    pub const REASON: &str = "replay.reason";
    /// When it was replayed.
    pub const TIME: &str = "replay.time";
}

/// Whether `name` is one of the fields the runtime or a replay added.
fn is_added(name: &str) -> bool {
    name.starts_with("dlq.") || name.starts_with("replay.")
}

/// The original entry's fields of a dead letter.
fn original(letter: &Entry) -> impl Iterator<Item = &(String, String)> {
    letter.fields().iter().filter(|(name, _)| !is_added(name))
}

/// `dlq list` without a group: every dead-letter stream and its length.
pub async fn list_groups(session: &Session, json: bool, out: &mut impl Write) -> Result<ExitCode, Error> {
    let counts = session.monitor()?.dead_letters().await?;
    if json {
        output::json(out, &counts)?;
    } else if counts.is_empty() {
        writeln!(out, "No dead letters.")?;
    } else {
        let mut table = Table::new(&["GROUP", "COUNT", "STREAM"]);
        for dead in &counts {
            table.row(vec![dead.group.clone(), dead.count.to_string(), dead.stream.clone()]);
        }
        table.write(out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `dlq list <group>`: its dead letters, oldest first, at most `limit`.
pub async fn list(
    session: &mut Session,
    group: &str,
    limit: usize,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let stream = session.keys.dead_letters(group);
    let letters = range(session, &stream, "-", limit).await?;
    if json {
        let rows: Vec<Value> = letters.iter().map(summary_json).collect();
        output::json(out, &rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if letters.is_empty() {
        writeln!(out, "No dead letters in {stream}.")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["ID", "TYPE", "REASON", "ATTEMPTS", "FROM", "ERROR"]);
    for letter in &letters {
        let get = |name| letter.get(name).unwrap_or("-").to_owned();
        table.row(vec![
            letter.id.clone(),
            get("type"),
            get(dlq::REASON),
            get(dlq::ATTEMPTS),
            format!("{} {}", get(dlq::STREAM), get(dlq::ENTRY_ID)),
            shorten(letter.get(dlq::ERROR).unwrap_or("-"), 60),
        ]);
    }
    table.write(out)?;
    let total = length(session, &stream).await?;
    if total > letters.len() as u64 {
        writeln!(out, "({} of {total} shown; --limit to see more)", letters.len())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `dlq show <group> <id>`: one dead letter in full, its payload decoded.
pub async fn show(
    session: &mut Session,
    group: &str,
    id: &str,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let stream = session.keys.dead_letters(group);
    let letter = one(session, &stream, id).await?;
    let envelope = letter.envelope();
    let decoded = envelope.as_ref().map_err(ToString::to_string).and_then(tail::decode);
    if json {
        let (data, error) = match decoded {
            Ok(data) => (data, None),
            Err(error) => (Value::Null, Some(error)),
        };
        let shown = json!({
            "stream": stream,
            "id": letter.id,
            "fields": letter.fields_json(),
            "data": data,
            "error": error,
        });
        output::json(out, &shown)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "Dead letter {} in {stream}", letter.id)?;
    let mut table = Table::plain(2);
    for (name, value) in letter.fields().iter().filter(|(name, _)| is_added(name)) {
        table.row(vec![format!("  {name}"), value.clone()]);
    }
    table.write(out)?;
    writeln!(out)?;
    match &envelope {
        Ok(envelope) => {
            writeln!(out, "Message")?;
            tail::write_envelope(out, letter.get(dlq::ENTRY_ID).unwrap_or("-"), envelope)?;
            match decoded {
                Ok(data) => indented(out, "  ", &serde_json::to_string_pretty(&data)?)?,
                Err(error) => {
                    writeln!(out, "  cannot decode: {error}")?;
                    indented(out, "  ", &output::payload(&envelope.data))?;
                }
            }
        }
        Err(_) if original(&letter).next().is_none() => {
            writeln!(
                out,
                "Message: not kept (it was trimmed from its stream before it could be read)"
            )?;
        }
        Err(error) => {
            writeln!(out, "Message: not a message ({error}); its fields:")?;
            for (name, value) in original(&letter) {
                writeln!(out, "  {name} = {}", shorten(value, 200))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `dlq replay`: puts dead letters back on their streams.
pub async fn replay(
    session: &mut Session,
    group: &str,
    ids: &[String],
    all: bool,
    keep: bool,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let stream = session.keys.dead_letters(group);
    let letters = if all {
        let mut letters = Vec::new();
        let mut after = "-".to_owned();
        loop {
            let batch = range(session, &stream, &after, 500).await?;
            let Some(last) = batch.last() else { break };
            after = format!("({}", last.id);
            letters.extend(batch);
        }
        letters
    } else {
        let mut letters = Vec::with_capacity(ids.len());
        for id in ids {
            letters.push(one(session, &stream, id).await?);
        }
        letters
    };
    let mut replayed = Vec::new();
    let mut failed = 0;
    for letter in &letters {
        match replay_one(session, &stream, letter, keep).await? {
            Ok((target, new_id)) => {
                if !json {
                    writeln!(out, "replayed {} to {target} as {new_id}", letter.id)?;
                }
                replayed.push(json!({ "id": letter.id, "stream": target, "entry_id": new_id }));
            }
            Err(reason) => {
                eprintln!("xerpium-mq: cannot replay {}: {reason}", letter.id);
                failed += 1;
            }
        }
    }
    if json {
        output::json(out, &replayed)?;
    } else {
        let kept = if keep { "kept in" } else { "removed from" };
        writeln!(out, "{} dead letter(s) replayed, {kept} {stream}.", replayed.len())?;
    }
    if failed > 0 {
        return Err(Error::NotReplayed { count: failed });
    }
    Ok(ExitCode::SUCCESS)
}

/// Replays one dead letter: `Ok(Ok((stream, new id)))`, or `Ok(Err(why
/// not))` when it cannot be replayed.
async fn replay_one(
    session: &mut Session,
    dlq_stream: &str,
    letter: &Entry,
    keep: bool,
) -> Result<Result<(String, String), String>, Error> {
    let Some(target) = letter.get(dlq::STREAM) else {
        return Ok(Err(format!("it has no `{}` field", dlq::STREAM)));
    };
    if !target.starts_with(&format!("{}:", session.keys.namespace())) {
        return Ok(Err(format!("its stream `{target}` is outside this namespace")));
    }
    if original(letter).next().is_none() {
        return Ok(Err(
            "its entry was trimmed from the stream before it could be read: there is nothing to put back".into(),
        ));
    }
    let mut add = redis::cmd("XADD");
    add.arg(target)
        .arg("MAXLEN")
        .arg("~")
        .arg(session.config.default_policy().max_len)
        .arg("*");
    for (name, value) in original(letter) {
        add.arg(name).arg(value);
    }
    add.arg(field::FROM)
        .arg(dlq_stream)
        .arg(field::ID)
        .arg(&letter.id)
        .arg(field::ENTRY_ID)
        .arg(letter.get(dlq::ENTRY_ID).unwrap_or_default())
        .arg(field::REASON)
        .arg(letter.get(dlq::REASON).unwrap_or_default())
        .arg(field::TIME)
        .arg(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true));
    let mut redis = session.redis.clone();
    let new_id: String = session
        .run("replaying a dead letter", add.query_async(&mut redis))
        .await?;
    if !keep {
        let delete = redis::cmd("XDEL").arg(dlq_stream).arg(&letter.id).to_owned();
        let _: u64 = session
            .run("removing a replayed dead letter", delete.query_async(&mut redis))
            .await?;
    }
    Ok(Ok((target.to_owned(), new_id)))
}

/// `dlq purge`: deletes the given dead letters, or all of them, after
/// asking (unless `yes`).
pub async fn purge(
    session: &mut Session,
    group: &str,
    ids: &[String],
    yes: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let stream = session.keys.dead_letters(group);
    let total = length(session, &stream).await?;
    if total == 0 {
        writeln!(out, "No dead letters in {stream}.")?;
        return Ok(ExitCode::SUCCESS);
    }
    let question = if ids.is_empty() {
        format!("Delete all {total} dead letter(s) of group `{group}` ({stream})?")
    } else {
        format!("Delete {} dead letter(s) of group `{group}` ({stream})?", ids.len())
    };
    if !yes && !confirm(&question)? {
        writeln!(out, "Nothing deleted.")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut redis = session.redis.clone();
    let deleted: u64 = if ids.is_empty() {
        // Only what was counted: letters arriving meanwhile stay.
        let Some(newest) = session.newest(&stream).await? else {
            writeln!(out, "No dead letters in {stream}.")?;
            return Ok(ExitCode::SUCCESS);
        };
        let trim = redis::cmd("XTRIM")
            .arg(&stream)
            .arg("MINID")
            .arg(next_id(&newest.id))
            .to_owned();
        session
            .run("deleting dead letters", trim.query_async(&mut redis))
            .await?
    } else {
        let delete = redis::cmd("XDEL").arg(&stream).arg(ids).to_owned();
        session
            .run("deleting dead letters", delete.query_async(&mut redis))
            .await?
    };
    writeln!(out, "Deleted {deleted} dead letter(s) from {stream}.")?;
    Ok(ExitCode::SUCCESS)
}

/// Asks `question` on standard error and reads the answer: `true` for
/// `y`/`yes`; an error when there is no answer (no terminal, no `--yes`).
fn confirm(question: &str) -> Result<bool, Error> {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer)? == 0 {
        eprintln!();
        return Err(Error::NotConfirmed);
    }
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// Whether `id` reads as a stream entry id: `<ms>` or `<ms>-<seq>`.
fn is_entry_id(id: &str) -> bool {
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    match id.split_once('-') {
        Some((ms, seq)) => digits(ms) && digits(seq),
        None => digits(id),
    }
}

/// The smallest entry id after `id` (`<ms>-<seq + 1>`).
fn next_id(id: &str) -> String {
    match id.split_once('-').map(|(ms, seq)| (ms, seq.parse::<u64>())) {
        Some((ms, Ok(seq))) if seq < u64::MAX => format!("{ms}-{}", seq + 1),
        Some((ms, _)) => format!("{}-0", ms.parse::<u64>().unwrap_or(0).saturating_add(1)),
        None => format!("{id}-1"),
    }
}

/// Up to `count` entries of `stream` from `start` (an id, `(id` for after it, or `-`).
async fn range(session: &Session, stream: &str, start: &str, count: usize) -> Result<Vec<Entry>, Error> {
    let read = redis::cmd("XRANGE")
        .arg(stream)
        .arg(start)
        .arg("+")
        .arg("COUNT")
        .arg(count)
        .to_owned();
    session.entries("reading dead letters", &read).await
}

/// The dead letter `id` of `stream`.
async fn one(session: &Session, stream: &str, id: &str) -> Result<Entry, Error> {
    let not_found = || Error::NoSuchDeadLetter {
        stream: stream.to_owned(),
        id: id.to_owned(),
    };
    // Redis refuses an id that is no id at all: that is "not found" too.
    if !is_entry_id(id) {
        return Err(not_found());
    }
    let read = redis::cmd("XRANGE").arg(stream).arg(id).arg(id).to_owned();
    let letters = session.entries("reading a dead letter", &read).await?;
    letters.into_iter().find(|letter| letter.id == id).ok_or_else(not_found)
}

async fn length(session: &Session, stream: &str) -> Result<u64, Error> {
    let mut redis = session.redis.clone();
    session
        .run(
            "counting dead letters",
            redis::cmd("XLEN").arg(stream).query_async(&mut redis),
        )
        .await
}

/// One dead letter's summary for machines.
fn summary_json(letter: &Entry) -> Value {
    let get = |name| letter.get(name);
    json!({
        "id": letter.id,
        "type": get("type"),
        "reason": get(dlq::REASON),
        "attempts": get(dlq::ATTEMPTS).and_then(|n| n.parse::<u64>().ok()),
        "stream": get(dlq::STREAM),
        "entry_id": get(dlq::ENTRY_ID),
        "group": get(dlq::GROUP),
        "consumer": get(dlq::CONSUMER),
        "error": get(dlq::ERROR),
        "time": get(dlq::TIME),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_id_follows() {
        assert_eq!(next_id("1700000000000-4"), "1700000000000-5");
        assert_eq!(next_id(&format!("5-{}", u64::MAX)), "6-0");
        assert_eq!(next_id("7"), "7-1");
        assert!(is_entry_id("1700000000000-4") && is_entry_id("17"));
        assert!(!is_entry_id("1-x") && !is_entry_id("abc") && !is_entry_id("") && !is_entry_id("-1"));
    }
}
