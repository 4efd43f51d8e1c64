//! What a heartbeat says: one instance's [`HealthReport`].

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An instance's overall health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every check passes.
    Healthy,
    /// At least one check fails.
    Unhealthy,
    /// The instance stopped cleanly; this was its last heartbeat.
    Stopped,
}

impl Status {
    /// `healthy`, `unhealthy` or `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Unhealthy => "unhealthy",
            Status::Stopped => "stopped",
        }
    }

    /// The status of `code`, as [`as_str`](Self::as_str) writes it.
    pub fn from_code(code: &str) -> Option<Status> {
        [Status::Healthy, Status::Unhealthy, Status::Stopped]
            .into_iter()
            .find(|status| status.as_str() == code)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check of a heartbeat, e.g. `redis` or `consumer audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, for people (`reachable (1ms)`, `holds 3 entries and
    /// has settled none for 2m 5s`).
    pub detail: String,
}

impl Check {
    /// The name of a heartbeat's check of Redis itself (a `PING`); each of
    /// its other checks is one of a consumer it watches.
    pub const REDIS: &'static str = "redis";
}

/// One heartbeat of one service instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// The service's name.
    pub service: String,
    /// The instance, unique within the service (by default its consumer name).
    pub instance: String,
    /// The service's version, as it reports it.
    pub version: String,
    /// Healthy when every check passes.
    pub status: Status,
    /// When this report was made (the instance's clock).
    pub time: DateTime<Utc>,
    /// When the instance started beating.
    pub started: DateTime<Utc>,
    /// How long the instance has been up.
    #[serde(rename = "uptime_ms", with = "millis")]
    pub uptime: Duration,
    /// How often the instance beats.
    #[serde(rename = "interval_ms", with = "millis")]
    pub interval: Duration,
    /// What was checked.
    pub checks: Vec<Check>,
}

impl HealthReport {
    /// The checks that fail.
    pub fn failing(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|check| !check.ok)
    }
}

/// A [`Duration`] as whole milliseconds, for JSON.
pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_round_trips_through_json() {
        let report = HealthReport {
            service: "audit".into(),
            instance: "h-0".into(),
            version: "1.2.3".into(),
            status: Status::Unhealthy,
            time: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            started: DateTime::from_timestamp(1_699_999_000, 0).unwrap_or_default(),
            uptime: Duration::from_secs(1000),
            interval: Duration::from_secs(5),
            checks: vec![Check {
                name: "redis".into(),
                ok: false,
                detail: "unreachable".into(),
            }],
        };
        let json = serde_json::to_string(&report).expect("serializes");
        assert!(json.contains(r#""status":"unhealthy""#), "{json}");
        assert!(json.contains(r#""uptime_ms":1000000"#), "{json}");
        assert_eq!(serde_json::from_str::<HealthReport>(&json).expect("parses"), report);
        assert_eq!(report.failing().count(), 1);
        assert_eq!(Status::from_code("stopped"), Some(Status::Stopped));
        assert_eq!(Status::from_code("fine"), None);
    }
}
