//! Records for people (an aligned table) or programs (JSON).

use std::io::{self, Write};

use crate::trail::Record;

/// Writes `records` as a JSON array.
pub fn json(records: &[Record], out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, records)?;
    writeln!(out)
}

/// Writes `records` as a table: time, type, subject, correlation id,
/// source, then the redacted payload as compact JSON.
pub fn table(records: &[Record], out: &mut impl Write) -> io::Result<()> {
    const HEADER: [&str; 6] = ["TIME", "TYPE", "SUBJECT", "CORRELATION", "SOURCE", "DATA"];
    let rows: Vec<[String; 6]> = records
        .iter()
        .map(|record| {
            [
                record.time.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
                record.event_type.clone(),
                record.subject.clone(),
                record.correlation_id.clone(),
                record.source.clone(),
                record.data.to_string(),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut line = |cells: [&str; 6]| {
        let mut text = String::new();
        for (column, cell) in cells.iter().enumerate() {
            if column + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[column]));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(HEADER)?;
    for row in &rows {
        line(row.each_ref().map(String::as_str))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn columns_line_up() {
        let time = Utc.with_ymd_and_hms(2025, 1, 31, 12, 0, 0).single().expect("time");
        let record = Record {
            seq: 1,
            event_id: "e1".into(),
            event_type: "user.created".into(),
            version: 1,
            source: "user-auth".into(),
            subject: "u1".into(),
            correlation_id: "req-1".into(),
            causation_id: None,
            time,
            recorded_at: time,
            stream: "s".into(),
            entry_id: "1-0".into(),
            data: serde_json::json!({"email": "[redacted]"}),
        };
        let mut out = Vec::new();
        table(&[record], &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            text,
            "TIME                     TYPE          SUBJECT  CORRELATION  SOURCE     DATA\n\
             2025-01-31 12:00:00.000  user.created  u1       req-1        user-auth  {\"email\":\"[redacted]\"}\n"
        );
    }
}
