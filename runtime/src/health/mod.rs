//! Health: heartbeats that services send, and the [`HealthMonitor`] that
//! reads them together with the state of every stream and consumer group.
//!
//! # Heartbeats
//! A service starts a [`Heartbeat`] next to its consumers. Every interval
//! (5 s by default) it checks Redis (a `PING`) and each consumer it watches
//! (a consumer that holds entries but has settled none for `stall_after`,
//! 60 s by default, is unhealthy: a hung handler, a dependency that never
//! answers), and writes a [`HealthReport`]:
//! - to `<ns>:health:<service>:<instance>`, with a TTL of three intervals,
//!   so the key vanishes soon after the instance stops beating;
//! - to the stream `<ns>:health` (capped near 10,000 entries), for history,
//!   with the fields `service`, `instance`, `status`, `time` and `report`
//!   (the report as JSON).
//!
//! On a clean [`Heartbeat::stop`] it writes a last report with status
//! `stopped` and deletes its key, so the instance shows as stopped rather
//! than stale.
//!
//! The latest report is also kept in the process ([`Heartbeat::latest`],
//! or [`Heartbeat::reports`] for a handle to share), for the service's own
//! `/health` endpoint to answer from.
//!
//! # Monitoring
//! [`HealthMonitor::check`] reports every instance seen in the health stream
//! recently (last hour by default) as up, stale (its key expired: it stopped
//! beating without saying so) or stopped; every consumer group's lag, pending
//! count and oldest pending entry; and the length of every dead-letter
//! stream. [`HealthMonitor::streams`] describes every stream of the
//! namespace. The operator CLI `xerpium-mq` prints both.

mod heartbeat;
mod monitor;
mod reply;
mod report;

pub use heartbeat::{Heartbeat, HeartbeatBuilder, LatestReport};
pub use monitor::{
    ConsumerInfo, DeadLetterCount, EntryInfo, GroupHealth, HealthMonitor, InstanceHealth, InstanceState, PendingEntry,
    StreamInfo, SystemHealth,
};
pub use report::{Check, HealthReport, Status};

/// `duration` for people: whole seconds from one second up (`1m 5s`), whole
/// milliseconds below (`350ms`).
pub fn format_duration(duration: std::time::Duration) -> String {
    let rounded = if duration >= std::time::Duration::from_secs(1) {
        std::time::Duration::from_secs(duration.as_secs())
    } else {
        std::time::Duration::from_millis(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
    };
    humantime::format_duration(rounded).to_string()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::format_duration;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_micros(350_400)), "350ms");
        assert_eq!(format_duration(Duration::from_millis(65_900)), "1m 5s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
