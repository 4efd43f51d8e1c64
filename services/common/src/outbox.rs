//! The transactional outbox: events are written to an `outbox` table in the
//! same SQLite transaction as the change that caused them, and the
//! [`Relay`] publishes them to Redis later, in order, marking each sent.
//!
//! So a service keeps answering while Redis is down and loses nothing:
//! - a crash between commit and publish loses nothing: the relay resumes
//!   with the rows not yet marked sent;
//! - a crash (or a lost reply) after publishing and before marking
//!   publishes those rows again, with the same envelope and so the same
//!   message id, which consumers' idempotency absorbs.
//!
//! Nothing makes the relay stop but the shutdown, and no failure makes it
//! spin: reading the outbox, publishing and marking rows sent are each
//! retried after a growing wait (50 ms doubling to 5 s, with jitter), and
//! each failure is logged once when it starts and once when it ends. When
//! the database refuses to mark published rows sent (disk full, read-only
//! file), the relay keeps those rows in memory and retries the *mark*, not
//! the publish, so each row is published once however long the database
//! stays read-only; only a restart meanwhile publishes them again (at least
//! once, as above).
//!
//! Events are staged through the generated typed methods
//! (`tx.events().user_created(&event, &context)`): [`Staged`] implements
//! [`Publish`] by building the envelope at once (its id and time are fixed
//! then) and keeping it until [`OutboxTransaction::commit`] stores it.
//!
//! One relay per database: run one instance of a service per SQLite file.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, params};
use tokio::sync::Notify;
use uuid::Uuid;
use xerpium_events::messaging::{
    Backoff, Envelope, Event, Publish, PublishContext, PublishError, Publisher, StreamLayout,
};
use xerpium_events::{Category, EventType};

use crate::db::{Database, DbError, Transaction};
use crate::shutdown::Shutdown;

/// The outbox table; part of every publishing service's schema. An event's
/// W3C `tracestate`, which few have, is kept in a table of its own, so that
/// outboxes made before it need no migration.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    event_type TEXT NOT NULL,
    version INTEGER NOT NULL,
    source TEXT NOT NULL,
    time TEXT NOT NULL,
    subject TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    causation_id TEXT,
    traceparent TEXT,
    data TEXT NOT NULL,
    sent_at TEXT,
    failed TEXT
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL AND failed IS NULL;
CREATE TABLE IF NOT EXISTS outbox_tracestate (
    id TEXT PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
    tracestate TEXT NOT NULL
);
";

/// How many rows the relay publishes per round trip at most.
const BATCH: usize = 100;
/// How often the relay looks for rows when nothing woke it.
const POLL: Duration = Duration::from_secs(1);
/// The relay's first and longest wait after a failed step, before jitter:
/// the first doubles per failure in a row, up to the longest.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));
/// How long sent rows are kept before they are deleted.
const KEEP_SENT: Duration = Duration::from_secs(24 * 60 * 60);

/// A service's outbox: begins transactions that can stage events, and
/// makes the [`Relay`] that publishes them. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbox {
    db: Database,
    publisher: Publisher,
    wake: Arc<Notify>,
}

impl Outbox {
    /// The outbox of `db` (whose schema includes [`SCHEMA`]), publishing with `publisher`.
    pub fn new(db: Database, publisher: Publisher) -> Outbox {
        Outbox {
            db,
            publisher,
            wake: Arc::new(Notify::new()),
        }
    }

    /// The database the outbox lives in.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Begins a write transaction in which events can be staged.
    pub async fn begin(&self) -> Result<OutboxTransaction, DbError> {
        Ok(OutboxTransaction {
            tx: self.db.begin().await?,
            events: Staged {
                publisher: self.publisher.clone(),
                envelopes: Mutex::new(Vec::new()),
            },
            wake: self.wake.clone(),
        })
    }

    /// How many staged events are not published yet.
    pub async fn pending(&self) -> Result<u64, DbError> {
        self.db
            .run(|c| {
                let count: i64 = c.query_row(
                    "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed IS NULL",
                    [],
                    |row| row.get(0),
                )?;
                Ok(u64::try_from(count).unwrap_or_default())
            })
            .await
    }

    /// The relay that publishes this outbox's events.
    pub fn relay(&self) -> Relay {
        Relay {
            outbox: self.clone(),
            keep_sent: KEEP_SENT,
        }
    }
}

/// A write transaction whose staged events are stored with it.
#[derive(Debug)]
pub struct OutboxTransaction {
    tx: Transaction,
    events: Staged,
    wake: Arc<Notify>,
}

impl OutboxTransaction {
    /// Runs one step of the transaction (see [`Transaction::run`]).
    pub async fn run<R, E, F>(&mut self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.tx.run(f).await
    }

    /// Where to publish the events of this transaction, with the generated
    /// methods: `tx.events().user_created(&event, &context).await?`.
    pub fn events(&self) -> &Staged {
        &self.events
    }

    /// Stores the staged events in the outbox and commits them with the
    /// change, then wakes the relay. Dropped instead: nothing is kept.
    pub async fn commit(mut self) -> Result<(), DbError> {
        let envelopes = std::mem::take(&mut *self.events.envelopes.lock().unwrap_or_else(PoisonError::into_inner));
        if !envelopes.is_empty() {
            self.tx
                .run(move |c| {
                    for (category, envelope) in &envelopes {
                        store(c, category, envelope)?;
                    }
                    Ok::<_, DbError>(())
                })
                .await?;
        }
        self.tx.commit().await?;
        self.wake.notify_one();
        Ok(())
    }
}

/// Events staged in an [`OutboxTransaction`]; the generated `PublishEvents`
/// methods work on it like on a publisher.
#[derive(Debug)]
pub struct Staged {
    publisher: Publisher,
    envelopes: Mutex<Vec<(&'static str, Envelope)>>,
}

impl Publish for Staged {
    /// Builds the event's envelope (id, time, correlation) and keeps it for
    /// the commit; returns the message id (there is no stream entry yet).
    async fn publish<E: Event>(&self, event: &E, context: &PublishContext) -> Result<String, PublishError> {
        let envelope = self.publisher.envelope(event, context)?;
        let id = envelope.id.to_string();
        self.envelopes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((E::CATEGORY, envelope));
        Ok(id)
    }
}

/// Publishes an outbox's events in order, marking them sent; see the
/// [module docs](self).
#[derive(Debug)]
pub struct Relay {
    outbox: Outbox,
    keep_sent: Duration,
}

impl Relay {
    /// Publishes until `shutdown`: whatever is pending at once, then each
    /// commit's events as it happens. Whatever fails (the database, Redis)
    /// is retried with backoff, logged once when the failure starts and once
    /// when it ends; published rows that cannot be marked sent are marked
    /// again, never published again (see the [module docs](self)).
    pub async fn run(self, shutdown: Shutdown) {
        let Relay { outbox, keep_sent } = self;
        let mut reading = Retry::new("reading pending events", "nothing is published until it works");
        let mut publishing = Retry::new("publishing events", "they are kept and published later");
        let mut marking = Retry::new(
            "marking events sent",
            "they are published; the mark is retried, not the publish",
        );
        let mut last_prune: Option<Instant> = None;
        let stop = shutdown.wait();
        tokio::pin!(stop);
        while !shutdown.is_triggered() {
            let rows = match outbox.db.run(|c| unsent(c, BATCH)).await {
                Ok(rows) => {
                    reading.succeeded();
                    rows
                }
                Err(error) => {
                    if pause(reading.failed(&error), &mut stop).await {
                        continue;
                    }
                    return;
                }
            };
            if rows.is_empty() {
                if last_prune.is_none_or(|at| at.elapsed() > Duration::from_secs(3600)) {
                    last_prune = Some(Instant::now());
                    prune(&outbox.db, keep_sent).await;
                }
                tokio::select! {
                    _ = outbox.wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = &mut stop => break,
                }
                continue;
            }
            let last = rows.len();
            let mut batch = outbox.publisher.batch();
            let mut seqs = Vec::with_capacity(last);
            for row in rows {
                seqs.push(row.seq);
                batch.add_envelope(&row.category, row.envelope, &row.layout);
            }
            if let Err(error) = batch.send().await {
                if pause(publishing.failed(&error), &mut stop).await {
                    continue;
                }
                return;
            }
            publishing.succeeded();
            let seqs: Arc<[i64]> = seqs.into();
            loop {
                let marked = seqs.clone();
                match outbox.db.run(move |c| mark_sent(c, &marked)).await {
                    Ok(()) => break,
                    Err(error) if pause(marking.failed(&error), &mut stop).await => {}
                    // Stopped before the mark: a restart publishes them again.
                    Err(_) => return,
                }
            }
            marking.succeeded();
        }
    }
}

/// One step of the relay (reading, publishing, marking) while it fails
/// again and again: logged when the failure starts and when it ends, not at
/// every attempt, with a growing wait before each new attempt ([`BACKOFF`]).
#[derive(Debug)]
struct Retry {
    /// The step, e.g. `marking events sent`.
    what: &'static str,
    /// What happens to the events meanwhile, for the log.
    meanwhile: &'static str,
    backoff: Backoff,
}

impl Retry {
    /// A step that has not failed yet.
    fn new(what: &'static str, meanwhile: &'static str) -> Retry {
        Retry {
            what,
            meanwhile,
            backoff: BACKOFF,
        }
    }

    /// Records a failed attempt; returns how long to wait before the next.
    fn failed(&mut self, error: &impl Display) -> Duration {
        if self.backoff.is_failing() {
            tracing::debug!(%error, failures = self.backoff.failures(), "outbox: {} still fails", self.what);
        } else {
            tracing::warn!(%error, "outbox: {} failed; {}", self.what, self.meanwhile);
        }
        self.backoff.failed()
    }

    /// Records a successful attempt, logging the end of a failure if there was one.
    fn succeeded(&mut self) {
        if let Some(recovered) = self.backoff.succeeded() {
            tracing::info!(
                after = ?recovered.after,
                failures = recovered.failures,
                "outbox: {} works again",
                self.what
            );
        }
    }
}

/// Waits `delay`, or less if `stop` completes meanwhile; returns whether
/// the relay goes on (`false`: stopped, `stop` must not be awaited again).
async fn pause<S: Future<Output = ()>>(delay: Duration, stop: &mut Pin<&mut S>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => true,
        () = stop.as_mut() => false,
    }
}

/// One row of the outbox, ready to publish.
struct Row {
    seq: i64,
    category: String,
    envelope: Envelope,
    layout: StreamLayout,
}

fn store(c: &Connection, category: &str, e: &Envelope) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO outbox (id, category, event_type, version, source, time, subject, correlation_id,
                             causation_id, traceparent, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            e.id.to_string(),
            category,
            e.event_type,
            e.version,
            e.source,
            e.time.to_rfc3339_opts(SecondsFormat::Micros, true),
            e.subject,
            e.correlation_id,
            e.causation_id,
            e.traceparent,
            e.data,
        ],
    )?;
    if let Some(tracestate) = &e.tracestate {
        c.execute(
            "INSERT INTO outbox_tracestate (id, tracestate) VALUES (?1, ?2)",
            params![e.id.to_string(), tracestate],
        )?;
    }
    Ok(())
}

/// The oldest `limit` rows not sent yet, in order. A row that cannot be
/// read back (it never should) is marked failed, so it blocks nothing.
fn unsent(c: &mut Connection, limit: usize) -> Result<Vec<Row>, DbError> {
    let mut statement = c.prepare(
        "SELECT o.seq, o.category, o.id, o.event_type, o.version, o.source, o.time, o.subject, o.correlation_id,
                o.causation_id, o.traceparent, o.data, t.tracestate
         FROM outbox o LEFT JOIN outbox_tracestate t ON t.id = o.id
         WHERE o.sent_at IS NULL AND o.failed IS NULL ORDER BY o.seq LIMIT ?1",
    )?;
    let mut rows = Vec::new();
    let mut broken = Vec::new();
    let raw = statement.query_map([limit as i64], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            RawEnvelope {
                id: row.get(2)?,
                event_type: row.get(3)?,
                version: row.get(4)?,
                source: row.get(5)?,
                time: row.get(6)?,
                subject: row.get(7)?,
                correlation_id: row.get(8)?,
                causation_id: row.get(9)?,
                traceparent: row.get(10)?,
                data: row.get(11)?,
                tracestate: row.get(12)?,
            },
        ))
    })?;
    for item in raw {
        let (seq, category, raw) = item?;
        match raw.into_envelope() {
            Ok(envelope) => {
                // The streams of the row's type; of its category when this build does not know the type.
                let layout = EventType::lookup(&envelope.event_type, envelope.version)
                    .map(EventType::layout)
                    .or_else(|| category.parse().ok().map(Category::layout))
                    .unwrap_or(StreamLayout::DEFAULT);
                rows.push(Row {
                    seq,
                    category,
                    envelope,
                    layout,
                });
            }
            Err(reason) => broken.push((seq, reason)),
        }
    }
    drop(statement);
    for (seq, reason) in broken {
        tracing::error!(seq, %reason, "outbox: an event cannot be read back; it is left unpublished");
        c.execute("UPDATE outbox SET failed = ?2 WHERE seq = ?1", params![seq, reason])?;
    }
    Ok(rows)
}

/// An envelope's columns as stored.
struct RawEnvelope {
    id: String,
    event_type: String,
    version: u32,
    source: String,
    time: String,
    subject: String,
    correlation_id: String,
    causation_id: Option<String>,
    traceparent: Option<String>,
    tracestate: Option<String>,
    data: String,
}

impl RawEnvelope {
    fn into_envelope(self) -> Result<Envelope, String> {
        Ok(Envelope {
            id: Uuid::parse_str(&self.id).map_err(|error| format!("id {:?}: {error}", self.id))?,
            time: DateTime::parse_from_rfc3339(&self.time)
                .map_err(|error| format!("time {:?}: {error}", self.time))?
                .with_timezone(&Utc),
            event_type: self.event_type,
            version: self.version,
            source: self.source,
            subject: self.subject,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            traceparent: self.traceparent,
            tracestate: self.tracestate,
            data: self.data,
        })
    }
}

fn mark_sent(c: &mut Connection, seqs: &[i64]) -> Result<(), DbError> {
    let tx = c.transaction()?;
    {
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
        let mut statement = tx.prepare("UPDATE outbox SET sent_at = ?2 WHERE seq = ?1")?;
        for seq in seqs {
            statement.execute(params![seq, now])?;
        }
    }
    tx.commit()?;
    Ok(())
}

async fn prune(db: &Database, keep: Duration) {
    let Some(cutoff) = chrono::TimeDelta::from_std(keep)
        .ok()
        .and_then(|keep| Utc::now().checked_sub_signed(keep))
    else {
        return;
    };
    let cutoff = cutoff.to_rfc3339_opts(SecondsFormat::Micros, true);
    let result = db
        .run(move |c| Ok::<_, DbError>(c.execute("DELETE FROM outbox WHERE sent_at < ?1", [cutoff])?))
        .await;
    if let Err(error) = result {
        tracing::warn!(%error, "outbox: cannot delete old sent events");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_waits_grow_to_the_cap_with_jitter_and_reset_on_success() {
        let error = "refused";
        let mut retry = Retry::new("testing", "nothing");
        for failures in 1..=40 {
            let nominal = Duration::from_millis(50 << (failures - 1).min(20)).min(Duration::from_secs(5));
            let delay = retry.failed(&error);
            assert!(
                delay >= nominal / 2 && delay <= nominal,
                "failure {failures}: {delay:?}"
            );
        }
        retry.succeeded();
        assert!(!retry.backoff.is_failing());
        assert!(retry.failed(&error) <= Duration::from_millis(50));
    }
}
