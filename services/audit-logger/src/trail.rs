//! The audit trail in SQLite: one row per event id, append-only (triggers
//! refuse every `UPDATE` and `DELETE`), and the queries on it.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Row, params, params_from_iter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use xerpium_service::db::column::{self, time_text};

use crate::filter::Filter;

/// The table, its indexes and the triggers that keep it append-only.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_trail (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    version INTEGER NOT NULL,
    source TEXT NOT NULL,
    subject TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    causation_id TEXT,
    time TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    stream TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_trail_subject ON audit_trail (subject);
CREATE INDEX IF NOT EXISTS audit_trail_type ON audit_trail (event_type);
CREATE INDEX IF NOT EXISTS audit_trail_correlation ON audit_trail (correlation_id);
CREATE INDEX IF NOT EXISTS audit_trail_time ON audit_trail (time);
CREATE TRIGGER IF NOT EXISTS audit_trail_no_update BEFORE UPDATE ON audit_trail
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_trail_no_delete BEFORE DELETE ON audit_trail
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
";

/// One row of the audit trail: one event, personal data redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the trail: the order in which events were recorded.
    pub seq: i64,
    /// The event's message id (the deduplication key).
    pub event_id: String,
    /// `<category>.<event>`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Schema version.
    pub version: u32,
    /// The publishing service.
    pub source: String,
    /// The entity key (redacted when personal).
    pub subject: String,
    /// Carried from the request that caused it.
    pub correlation_id: String,
    /// The message that caused it, if any.
    pub causation_id: Option<String>,
    /// When it was published.
    pub time: DateTime<Utc>,
    /// When it was recorded here.
    pub recorded_at: DateTime<Utc>,
    /// The stream it was read from.
    pub stream: String,
    /// Its entry id in that stream.
    pub entry_id: String,
    /// The payload, personal data redacted.
    pub data: Value,
}

/// Appends `record` unless its event id is recorded already (a redelivered
/// event); returns whether it was appended. `record.seq` is ignored.
pub fn append(c: &Connection, record: &Record) -> rusqlite::Result<bool> {
    let added = c.execute(
        "INSERT OR IGNORE INTO audit_trail (event_id, event_type, version, source, subject, correlation_id,
                                            causation_id, time, recorded_at, stream, entry_id, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            record.event_id,
            record.event_type,
            record.version,
            record.source,
            record.subject,
            record.correlation_id,
            record.causation_id,
            time_text(&record.time),
            time_text(&record.recorded_at),
            record.stream,
            record.entry_id,
            record.data.to_string(),
        ],
    )?;
    Ok(added > 0)
}

/// The records matching `filter`, in trail order.
pub fn query(c: &Connection, filter: &Filter) -> rusqlite::Result<Vec<Record>> {
    let mut sql = String::from(
        "SELECT seq, event_id, event_type, version, source, subject, correlation_id, causation_id, time,
                recorded_at, stream, entry_id, data
         FROM audit_trail WHERE 1 = 1",
    );
    let mut args: Vec<String> = Vec::new();
    let mut condition = |clause: &str, value: Option<String>| {
        if let Some(value) = value {
            sql.push_str(clause);
            args.push(value);
        }
    };
    condition(" AND subject = ?", filter.subject.clone());
    condition(" AND event_type = ?", filter.event_type.clone());
    condition(" AND correlation_id = ?", filter.correlation_id.clone());
    condition(" AND time >= ?", filter.since.map(|since| time_text(&since.0)));
    condition(" AND time < ?", filter.until.map(|until| time_text(&until.0)));
    sql.push_str(&format!(" ORDER BY seq LIMIT {}", filter.limit()));
    let mut statement = c.prepare(&sql)?;
    let records = statement.query_map(params_from_iter(args), record)?;
    records.collect()
}

fn record(row: &Row<'_>) -> rusqlite::Result<Record> {
    let data: String = row.get(12)?;
    Ok(Record {
        seq: row.get(0)?,
        event_id: row.get(1)?,
        event_type: row.get(2)?,
        version: row.get(3)?,
        source: row.get(4)?,
        subject: row.get(5)?,
        correlation_id: row.get(6)?,
        causation_id: row.get(7)?,
        time: column::time(row, 8)?,
        recorded_at: column::time(row, 9)?,
        stream: row.get(10)?,
        entry_id: row.get(11)?,
        data: serde_json::from_str(&data).map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(12, rusqlite::types::Type::Text, Box::new(error))
        })?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Time;
    use xerpium_service::db::column::now;

    fn db() -> Connection {
        let c = Connection::open_in_memory().expect("sqlite");
        c.execute_batch(SCHEMA).expect("schema");
        c
    }

    fn event(id: &str, event_type: &str, subject: &str, correlation: &str) -> Record {
        Record {
            seq: 0,
            event_id: id.into(),
            event_type: event_type.into(),
            version: 1,
            source: "user-auth".into(),
            subject: subject.into(),
            correlation_id: correlation.into(),
            causation_id: None,
            time: now(),
            recorded_at: now(),
            stream: "xerpium:events:user".into(),
            entry_id: "1-0".into(),
            data: serde_json::json!({"n": 1}),
        }
    }

    #[test]
    fn one_row_per_event_id_and_never_changed() {
        let c = db();
        assert!(append(&c, &event("e1", "user.created", "u1", "r1")).expect("append"));
        assert!(!append(&c, &event("e1", "user.created", "u1", "r1")).expect("append"));
        assert!(c.execute("UPDATE audit_trail SET subject = 'x'", []).is_err());
        assert!(c.execute("DELETE FROM audit_trail", []).is_err());
        let all = query(&c, &Filter::default()).expect("query");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].subject, "u1");
        assert_eq!(all[0].data, serde_json::json!({"n": 1}));
    }

    #[test]
    fn filters_combine() {
        let c = db();
        append(&c, &event("e1", "user.created", "u1", "r1")).expect("append");
        append(&c, &event("e2", "user.logged_in", "u1", "r2")).expect("append");
        append(&c, &event("e3", "user.created", "u2", "r3")).expect("append");
        let ids = |filter: Filter| -> Vec<String> {
            query(&c, &filter)
                .expect("query")
                .into_iter()
                .map(|r| r.event_id)
                .collect()
        };
        assert_eq!(
            ids(Filter {
                subject: Some("u1".into()),
                ..Filter::default()
            }),
            ["e1", "e2"]
        );
        assert_eq!(
            ids(Filter {
                event_type: Some("user.created".into()),
                ..Filter::default()
            }),
            ["e1", "e3"]
        );
        assert_eq!(
            ids(Filter {
                correlation_id: Some("r3".into()),
                ..Filter::default()
            }),
            ["e3"]
        );
        assert_eq!(
            ids(Filter {
                limit: Some(2),
                ..Filter::default()
            }),
            ["e1", "e2"]
        );
        let future = Time(now() + chrono::TimeDelta::hours(1));
        assert!(
            ids(Filter {
                since: Some(future),
                ..Filter::default()
            })
            .is_empty()
        );
        assert_eq!(
            ids(Filter {
                until: Some(future),
                ..Filter::default()
            })
            .len(),
            3
        );
    }
}
