//! Which audit records to show: the same [`Filter`] for `audit-logger
//! query` (as options) and `GET /audit` (as query parameters).

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};

/// Records shown when no limit is given.
pub const DEFAULT_LIMIT: u32 = 1000;
/// The most records one query returns.
pub const MAX_LIMIT: u32 = 100_000;

/// A query on the audit trail; every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, clap::Args)]
pub struct Filter {
    /// Only events about this subject (e.g. a user id).
    #[arg(long)]
    #[serde(default)]
    pub subject: Option<String>,
    /// Only events of this type (e.g. `user.created`).
    #[arg(long = "type", value_name = "TYPE")]
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// Only events with this correlation id (one request's events).
    #[arg(long)]
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// Only events published at or after this time (RFC 3339, or a day: `2025-01-31`).
    #[arg(long, value_name = "TIME")]
    #[serde(default, deserialize_with = "time")]
    pub since: Option<Time>,
    /// Only events published before this time (RFC 3339, or a day).
    #[arg(long, value_name = "TIME")]
    #[serde(default, deserialize_with = "time")]
    pub until: Option<Time>,
    /// At most this many records (default 1000).
    #[arg(long)]
    #[serde(default)]
    pub limit: Option<u32>,
}

impl Filter {
    /// The number of records to return at most.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }
}

/// A point in time given as RFC 3339 (`2025-01-31T12:00:00Z`) or as a day
/// (`2025-01-31`, its start in UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub DateTime<Utc>);

impl FromStr for Time {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Ok(Time(time.with_timezone(&Utc)));
        }
        NaiveDate::from_str(text)
            .ok()
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|start| Time(start.and_utc()))
            .ok_or_else(|| format!("{text:?} is not a time like 2025-01-31T12:00:00Z or a day like 2025-01-31"))
    }
}

fn time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Time>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    text.filter(|text| !text.trim().is_empty())
        .map(|text| text.parse().map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_days() {
        let day: Time = "2025-01-31".parse().expect("a day");
        assert_eq!(day.0.to_rfc3339(), "2025-01-31T00:00:00+00:00");
        let time: Time = "2025-01-31T12:00:00+01:00".parse().expect("a time");
        assert_eq!(time.0.to_rfc3339(), "2025-01-31T11:00:00+00:00");
        assert!("yesterday".parse::<Time>().is_err());
    }

    #[test]
    fn query_parameters() {
        let filter: Filter =
            serde_json::from_str(r#"{"type": "user.created", "since": "2025-01-31", "limit": 5}"#).expect("valid");
        assert_eq!(filter.event_type.as_deref(), Some("user.created"));
        assert!(filter.since.is_some());
        assert_eq!(filter.limit(), 5);
        assert_eq!(Filter::default().limit(), DEFAULT_LIMIT);
    }
}
