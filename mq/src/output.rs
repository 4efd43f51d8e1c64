//! Writing for people (aligned tables, sizes, ages) and for machines (JSON).

use std::io::{self, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use xerpium_messaging::health::format_duration;

/// A table: a header and rows, columns padded to their widest cell and
/// separated by two spaces.
pub struct Table {
    header: Vec<&'static str>,
    show_header: bool,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&'static str]) -> Self {
        Table {
            header: header.to_vec(),
            show_header: true,
            rows: Vec::new(),
        }
    }

    /// A table of `columns` columns without a header (e.g. name/value pairs).
    pub fn plain(columns: usize) -> Self {
        Table {
            header: vec![""; columns],
            show_header: false,
            rows: Vec::new(),
        }
    }

    /// Adds a row (one cell per column).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Writes the header and the rows.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self.header.iter().map(|name| name.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.header.iter().map(|name| (*name).to_owned()).collect();
        let header = self.show_header.then_some(&header);
        for row in header.into_iter().chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  "));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// `value` as pretty JSON, on its own lines.
pub fn json(out: &mut impl Write, value: &impl Serialize) -> Result<(), crate::error::Error> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A byte count for people: `850B`, `1.5KiB`, `2.0MiB`.
pub fn bytes(count: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if count < 1024 {
        return format!("{count}B");
    }
    let mut value = count as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1}{}", UNITS[unit])
}

/// How long before `now` `then` was, for people (`5s`, `1m 3s`); never negative.
pub fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    format_duration((now - then).to_std().unwrap_or(Duration::ZERO))
}

/// An optional count, or `unknown` where Redis cannot tell (never 0).
pub fn count_or_unknown(count: Option<u64>) -> String {
    count.map_or_else(|| "unknown".to_owned(), |count| count.to_string())
}

/// `text` cut to `max` characters, with `…` when cut; on one line.
pub fn shorten(text: &str, max: usize) -> String {
    let line = text.replace(['\n', '\r'], " ");
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Writes `text` with every line indented by `indent`.
pub fn indented(out: &mut impl Write, indent: &str, text: &str) -> io::Result<()> {
    for line in text.lines() {
        writeln!(out, "{indent}{line}")?;
    }
    Ok(())
}

/// A payload for people: pretty JSON when it is JSON, else as it is.
pub fn payload(data: &str) -> String {
    serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| data.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_their_columns() {
        let mut table = Table::new(&["NAME", "COUNT", "NOTE"]);
        table.row(vec!["a".into(), "12345".into(), "x".into()]);
        table.row(vec!["longer".into(), "1".into(), String::new()]);
        let mut out = Vec::new();
        table.write(&mut out).expect("written");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text, "NAME    COUNT  NOTE\na       12345  x\nlonger  1\n");
        let mut pairs = Table::plain(2);
        pairs.row(vec!["  a".into(), "1".into()]);
        pairs.row(vec!["  long".into(), "2".into()]);
        let mut out = Vec::new();
        pairs.write(&mut out).expect("written");
        assert_eq!(String::from_utf8(out).expect("utf-8"), "  a     1\n  long  2\n");
    }

    #[test]
    fn sizes_ages_and_counts_read_well() {
        assert_eq!(bytes(850), "850B");
        assert_eq!(bytes(1536), "1.5KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0MiB");
        let now = Utc::now();
        assert_eq!(age(now, now - chrono::Duration::seconds(63)), "1m 3s");
        assert_eq!(age(now, now + chrono::Duration::seconds(5)), "0s");
        assert_eq!(count_or_unknown(None), "unknown");
        assert_eq!(count_or_unknown(Some(0)), "0");
        assert_eq!(shorten("a\nbcdef", 4), "a b…");
        assert_eq!(payload(r#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(payload("not json"), "not json");
    }
}
