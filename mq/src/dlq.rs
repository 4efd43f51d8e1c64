//! `dlq list|show|replay|purge`: the dead letters of a consumer group, for
//! the terminal; what they do is [`crate::dead_letters`]'s.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use serde_json::{Value, json};
use xerpium_messaging::consumer::dead_letter::field as dlq;

use crate::dead_letters::{DeadLetters, Selection, added, is_added, original, summary_json};
use crate::error::Error;
use crate::output::{self, Table, indented, shorten};
use crate::session::Session;
use crate::tail;

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
    session: &Session,
    group: &str,
    limit: usize,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let dead_letters = DeadLetters::of(session, group);
    let stream = dead_letters.stream();
    let letters = dead_letters.page("-", limit).await?;
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
    let total = dead_letters.count().await?;
    if total > letters.len() as u64 {
        writeln!(out, "({} of {total} shown; --limit to see more)", letters.len())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `dlq show <group> <id>`: one dead letter in full, its payload decoded.
pub async fn show(
    session: &Session,
    group: &str,
    id: &str,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let letters = DeadLetters::of(session, group);
    let stream = letters.stream();
    let letter = letters.one(id).await?;
    let envelope = letter.envelope();
    let decoded = envelope
        .as_ref()
        .map_err(ToString::to_string)
        .and_then(|envelope| tail::decode(envelope, tail::Personal::Shown));
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
    for (name, value) in letter.fields().filter(|(name, _)| is_added(name)) {
        table.row(vec![format!("  {name}"), value.to_owned()]);
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

/// `dlq replay`: puts the selected dead letters back on their streams.
pub async fn replay(
    session: &Session,
    group: &str,
    selection: &Selection,
    keep: bool,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let dead_letters = DeadLetters::of(session, group);
    let letters = dead_letters.select(selection).await?;
    let outcome = dead_letters.replay(&letters, keep).await;
    for (id, why) in &outcome.refused {
        eprintln!("xerpium-mq: cannot replay {id}: {why}");
    }
    if json {
        let rows: Vec<Value> = outcome
            .replayed
            .iter()
            .map(|done| json!({ "id": done.id, "stream": done.stream, "entry_id": done.entry_id }))
            .collect();
        output::json(out, &rows)?;
    } else {
        for done in &outcome.replayed {
            write!(out, "replayed {} to {} as {}", done.id, done.stream, done.entry_id)?;
            match &done.moved_from {
                Some(from) => writeln!(
                    out,
                    " (it came from {from}, which its category no longer has: its partitions changed)"
                )?,
                None => writeln!(out)?,
            }
        }
        let kept = if keep { "kept in" } else { "removed from" };
        writeln!(
            out,
            "{} dead letter(s) replayed, {kept} {}.",
            outcome.replayed.len(),
            dead_letters.stream()
        )?;
    }
    if let Some(error) = outcome.failed {
        return Err(error);
    }
    if !outcome.refused.is_empty() {
        return Err(Error::NotReplayed {
            count: outcome.refused.len(),
        });
    }
    Ok(ExitCode::SUCCESS)
}

/// `dlq purge`: deletes the selected dead letters, after asking (unless `yes`).
pub async fn purge(
    session: &Session,
    group: &str,
    selection: &Selection,
    yes: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let dead_letters = DeadLetters::of(session, group);
    let stream = dead_letters.stream();
    let total = dead_letters.count().await?;
    if total == 0 {
        writeln!(out, "No dead letters in {stream}.")?;
        return Ok(ExitCode::SUCCESS);
    }
    let question = match selection {
        Selection::All => format!("Delete all {total} dead letter(s) of group `{group}` ({stream})?"),
        Selection::Reason(reason) => {
            format!("Delete the dead letters of group `{group}` ({stream}) with reason `{reason}`?")
        }
        Selection::Ids(ids) => format!("Delete {} dead letter(s) of group `{group}` ({stream})?", ids.len()),
    };
    if !yes && !confirm(&question)? {
        writeln!(out, "Nothing deleted.")?;
        return Ok(ExitCode::SUCCESS);
    }
    let deleted = dead_letters.purge(selection).await?;
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
