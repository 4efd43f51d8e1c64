//! `dlq list|show|replay|purge`: the dead letters of a consumer group.
//!
//! A dead letter is the original entry's fields followed by the `dlq…`
//! fields (see `xerpium_messaging::consumer::dead_letter`; dead letters
//! written before those became CloudEvents extension names have `dlq.…`
//! fields, read as well). A replay writes the original fields back to
//! `dlqstream` (the partition stream it was read
//! from, for a partitioned category) as a new entry, trimmed like the
//! category's streams. When that stream is no longer one of its category's
//! (the category's `partitions` changed since), no group reads it any more:
//! the entry goes to the stream its subject goes to now instead. The new
//! entry ends with:
//!
//! | field | value |
//! |---|---|
//! | `replayfrom` | the dead-letter stream |
//! | `replayid` | the dead letter's id there |
//! | `replayentryid` | the entry's id in its stream before it was dead-lettered |
//! | `replayreason` | why it had been dead-lettered |
//! | `replaytime` | when it was replayed, RFC 3339 UTC |

use std::io::{BufRead, Write};
use std::process::ExitCode;

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use xerpium_events::Category;
use xerpium_messaging::Keys;
use xerpium_messaging::consumer::dead_letter::field as dlq;

use crate::entry::Entry;
use crate::error::Error;
use crate::output::{self, Table, indented, shorten};
use crate::session::Session;
use crate::tail;

/// The fields a replay adds (CloudEvents extension attributes: lowercase
/// letters and digits; before, `replay.from`, `replay.id`, …).
pub mod field {
    /// The dead-letter stream the entry was replayed from.
    pub const FROM: &str = "replayfrom";
    /// The dead letter's id in that stream.
    pub const ID: &str = "replayid";
    /// The entry's id before it was dead-lettered.
    pub const ENTRY_ID: &str = "replayentryid";
    /// Why it had been dead-lettered.
    pub const REASON: &str = "replayreason";
    /// When it was replayed.
    pub const TIME: &str = "replaytime";

    /// Every field a replay adds.
    pub const ALL: [&str; 5] = [FROM, ID, ENTRY_ID, REASON, TIME];
}

/// Whether `name` is one of the fields the runtime or a replay added (as
/// named now, or before: `dlq.…`, `replay.…`).
fn is_added(name: &str) -> bool {
    dlq::ALL.iter().any(|(now, before)| name == *now || name == *before)
        || field::ALL.contains(&name)
        || name.starts_with("replay.")
}

/// The field `name` of a dead letter, under its name before the rename
/// when the dead letter is older.
fn added<'l>(letter: &'l Entry, name: &str) -> Option<&'l str> {
    letter
        .get(name)
        .or_else(|| dlq::legacy(name).and_then(|before| letter.get(before)))
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
        let get = |name| added(letter, name).unwrap_or("-").to_owned();
        table.row(vec![
            letter.id.clone(),
            get("type"),
            get(dlq::REASON),
            get(dlq::ATTEMPTS),
            format!("{} {}", get(dlq::STREAM), get(dlq::ENTRY_ID)),
            shorten(added(letter, dlq::ERROR).unwrap_or("-"), 60),
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
            tail::write_envelope(out, added(&letter, dlq::ENTRY_ID).unwrap_or("-"), envelope)?;
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
                    write!(out, "replayed {} to {target} as {new_id}", letter.id)?;
                    match added(letter, dlq::STREAM) {
                        Some(from) if from != target => writeln!(
                            out,
                            " (it came from {from}, which its category no longer has: its partitions changed)"
                        )?,
                        _ => writeln!(out)?,
                    }
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
    let Some(from) = added(letter, dlq::STREAM) else {
        return Ok(Err(format!("it has no `{}` field", dlq::STREAM)));
    };
    if !from.starts_with(&format!("{}:", session.keys.namespace())) {
        return Ok(Err(format!("its stream `{from}` is outside this namespace")));
    }
    if original(letter).next().is_none() {
        return Ok(Err(
            "its entry was trimmed from the stream before it could be read: there is nothing to put back".into(),
        ));
    }
    let (target, max_len) = destination(&session.keys, letter, from)
        .unwrap_or_else(|| (from.to_owned(), session.config.default_policy().max_len));
    let mut add = redis::cmd("XADD");
    add.arg(&target).arg("MAXLEN").arg("~").arg(max_len).arg("*");
    for (name, value) in original(letter) {
        add.arg(name).arg(value);
    }
    add.arg(field::FROM)
        .arg(dlq_stream)
        .arg(field::ID)
        .arg(&letter.id)
        .arg(field::ENTRY_ID)
        .arg(added(letter, dlq::ENTRY_ID).unwrap_or_default())
        .arg(field::REASON)
        .arg(added(letter, dlq::REASON).unwrap_or_default())
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
    Ok(Ok((target, new_id)))
}

/// Where a dead letter that came from stream `from` goes back to, and the
/// cap to trim that stream by (its category's), when `from` is or was a
/// stream of the letter's category: that category is the first part of its
/// wire type (`user.deleted`), known even for a type this build does not
/// know. `None` for any other stream.
fn destination(keys: &Keys, letter: &Entry, from: &str) -> Option<(String, u64)> {
    let (category, _) = letter.get("type")?.split_once('.')?;
    let category: Category = category.parse().ok()?;
    let target = home(keys, category, from, letter.get("subject")?)?;
    Some((target, category.layout().max_len))
}

/// The stream an entry of `category` with subject `subject` that came from
/// stream `from` goes back to: `from` while the category has it; else (its
/// `partitions` changed since, and no group reads `from` any more) the
/// stream the runtime publishes `subject` to now. `None` when `from` is no
/// stream of the category, now or before.
fn home(keys: &Keys, category: Category, from: &str, subject: &str) -> Option<String> {
    let (name, layout) = (category.as_str(), category.layout());
    let single = keys.events(name);
    let was_ours = from == single
        || from
            .strip_prefix(&single)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|partition| partition.parse::<u32>().is_ok());
    if !was_ours {
        return None;
    }
    if keys.event_streams(name, &layout).iter().any(|stream| stream == from) {
        Some(from.to_owned())
    } else {
        Some(keys.event_stream(name, &layout, subject))
    }
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
    let get = |name| added(letter, name);
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
    fn entries_go_back_to_a_stream_their_category_still_has() {
        let keys = Keys::new("ns");
        let layout = Category::User.layout();
        assert!(layout.is_partitioned(), "the catalog partitions `user`");
        let now = keys.event_stream("user", &layout, "u-1");
        // Its own partition, still one of `user`'s: it stays.
        assert_eq!(home(&keys, Category::User, &now, "u-1"), Some(now.clone()));
        // From before `user` was partitioned, or from a partition it no longer has: where `u-1` goes now.
        assert_eq!(home(&keys, Category::User, "ns:events:user", "u-1"), Some(now.clone()));
        let gone = format!("ns:events:user:{}", layout.partitions);
        assert_eq!(home(&keys, Category::User, &gone, "u-1"), Some(now));
        // Not a stream of `user`: none of its business.
        assert_eq!(home(&keys, Category::User, "ns:events:user_x", "u-1"), None);
        assert_eq!(home(&keys, Category::User, "ns:commands:user-auth", "u-1"), None);
        let security = keys.events("security");
        assert_eq!(home(&keys, Category::Security, &security, "s"), Some(security));
    }

    #[test]
    fn the_next_id_follows() {
        assert_eq!(next_id("1700000000000-4"), "1700000000000-5");
        assert_eq!(next_id(&format!("5-{}", u64::MAX)), "6-0");
        assert_eq!(next_id("7"), "7-1");
        assert!(is_entry_id("1700000000000-4") && is_entry_id("17"));
        assert!(!is_entry_id("1-x") && !is_entry_id("abc") && !is_entry_id("") && !is_entry_id("-1"));
    }
}
