//! `health`, `streams` and `groups`: what the runtime's health monitor
//! reads, as tables or JSON.

use std::io::Write;
use std::process::ExitCode;

use chrono::Utc;
use xerpium_messaging::health::{GroupHealth, PendingEntry, SystemHealth, format_duration};

use crate::error::Error;
use crate::output::{self, Table, age, count_or_unknown};
use crate::session::Session;

/// The exit code of `health` when something is wrong.
pub const UNHEALTHY: u8 = 3;

/// `health`: instances, groups, dead letters and what is wrong; exits with
/// [`UNHEALTHY`] when an instance is unhealthy or stale.
pub async fn health(session: &Session, json: bool, out: &mut impl Write) -> Result<ExitCode, Error> {
    let health = session.monitor()?.check().await?;
    if json {
        output::json(out, &health)?;
    } else {
        write_health(&health, out)?;
    }
    Ok(if health.is_healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(UNHEALTHY)
    })
}

fn write_health(health: &SystemHealth, out: &mut impl Write) -> Result<(), Error> {
    writeln!(out, "Service instances")?;
    if health.instances.is_empty() {
        writeln!(out, "  none has sent a heartbeat recently")?;
    } else {
        let mut table = Table::new(&[
            "SERVICE",
            "INSTANCE",
            "VERSION",
            "STATE",
            "STATUS",
            "UPTIME",
            "LAST BEAT",
        ]);
        for instance in &health.instances {
            let report = &instance.report;
            table.row(vec![
                report.service.clone(),
                report.instance.clone(),
                report.version.clone(),
                instance.state.as_str().to_owned(),
                report.status.as_str().to_owned(),
                format_duration(report.uptime),
                format!("{} ago", age(health.time, report.time)),
            ]);
        }
        table.write(out)?;
    }
    writeln!(out)?;
    writeln!(out, "Consumer groups")?;
    if health.groups.is_empty() {
        writeln!(out, "  none")?;
    } else {
        let mut table = Table::new(&["STREAM", "GROUP", "LAG", "PENDING", "OLDEST PENDING"]);
        for group in &health.groups {
            table.row(vec![
                group.stream.clone(),
                group.group.clone(),
                count_or_unknown(group.lag),
                group.pending.to_string(),
                oldest(group.oldest_pending.as_ref()),
            ]);
        }
        table.write(out)?;
    }
    writeln!(out)?;
    writeln!(out, "Dead letters")?;
    if health.dead_letters.is_empty() {
        writeln!(out, "  none")?;
    } else {
        let mut table = Table::new(&["GROUP", "COUNT", "STREAM"]);
        for dead in &health.dead_letters {
            table.row(vec![dead.group.clone(), dead.count.to_string(), dead.stream.clone()]);
        }
        table.write(out)?;
    }
    writeln!(out)?;
    let problems = health.problems();
    if problems.is_empty() {
        writeln!(out, "No problems.")?;
    } else {
        writeln!(out, "Problems")?;
        for problem in problems {
            writeln!(out, "  - {problem}")?;
        }
    }
    Ok(())
}

/// The oldest pending entry: its age, holder and deliveries; `-` for none.
fn oldest(entry: Option<&PendingEntry>) -> String {
    entry.map_or_else(
        || "-".to_owned(),
        |entry| {
            let plural = if entry.deliveries == 1 { "y" } else { "ies" };
            format!(
                "{} old, {}, {} deliver{plural}",
                format_duration(entry.age),
                entry.consumer,
                entry.deliveries
            )
        },
    )
}

/// `streams`: every stream of the namespace.
pub async fn streams(session: &Session, json: bool, out: &mut impl Write) -> Result<ExitCode, Error> {
    let streams = session.monitor()?.streams().await?;
    if json {
        output::json(out, &streams)?;
        return Ok(ExitCode::SUCCESS);
    }
    if streams.is_empty() {
        writeln!(out, "No streams under `{}:`.", session.keys.namespace())?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = Utc::now();
    let entry = |entry: Option<&xerpium_messaging::health::EntryInfo>| {
        entry.map_or_else(
            || "-".to_owned(),
            |entry| format!("{} ({} ago)", entry.id, age(now, entry.time)),
        )
    };
    let mut table = Table::new(&["STREAM", "LENGTH", "GROUPS", "MEMORY", "FIRST ENTRY", "LAST ENTRY"]);
    for stream in &streams {
        table.row(vec![
            stream.key.clone(),
            stream.length.to_string(),
            stream.groups.to_string(),
            stream.memory.map_or_else(|| "?".to_owned(), output::bytes),
            entry(stream.first.as_ref()),
            entry(stream.last.as_ref()),
        ]);
    }
    table.write(out)?;
    Ok(ExitCode::SUCCESS)
}

/// `groups`: every consumer group and its consumers.
pub async fn groups(session: &Session, json: bool, out: &mut impl Write) -> Result<ExitCode, Error> {
    let groups = session.monitor()?.groups().await?;
    if json {
        output::json(out, &groups)?;
    } else if groups.is_empty() {
        writeln!(out, "No consumer groups under `{}:`.", session.keys.namespace())?;
    } else {
        write_groups(&groups, out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_groups(groups: &[GroupHealth], out: &mut impl Write) -> Result<(), Error> {
    let mut table = Table::new(&[
        "STREAM",
        "GROUP",
        "LAG",
        "PENDING",
        "READ",
        "LAST DELIVERED",
        "OLDEST PENDING",
    ]);
    for group in groups {
        table.row(vec![
            group.stream.clone(),
            group.group.clone(),
            count_or_unknown(group.lag),
            group.pending.to_string(),
            count_or_unknown(group.entries_read),
            group.last_delivered_id.clone(),
            oldest(group.oldest_pending.as_ref()),
        ]);
    }
    table.write(out)?;
    writeln!(out)?;
    let mut consumers = Table::new(&["STREAM", "GROUP", "CONSUMER", "PENDING", "IDLE"]);
    for group in groups {
        for consumer in &group.consumers {
            consumers.row(vec![
                group.stream.clone(),
                group.group.clone(),
                consumer.name.clone(),
                consumer.pending.to_string(),
                format_duration(consumer.idle),
            ]);
        }
    }
    if groups.iter().all(|group| group.consumers.is_empty()) {
        writeln!(out, "No consumers.")?;
    } else {
        consumers.write(out)?;
    }
    Ok(())
}
