//! The [`Heartbeat`] a service runs: checks itself every interval and
//! writes a [`HealthReport`] to Redis.

use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use redis::RedisError;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::format_duration;
use super::report::{Check, HealthReport, Status};
use crate::config::{Config, ConfigError};
use crate::connection::{self, Connection, Outage, SlotPipeline, bounded};
use crate::consumer::{ConsumerProgress, ConsumerState};
use crate::error::Error;

/// A running heartbeat; see the [module docs](super). Dropping it stops
/// the beats at once without a last report (the instance then goes stale,
/// as after a crash); [`stop`](Self::stop) says goodbye.
#[derive(Debug)]
pub struct Heartbeat {
    latest: watch::Receiver<Option<HealthReport>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Heartbeat {
    /// A builder for `config`'s service, with every default: instance =
    /// the configured consumer name, interval 5 s, TTL 3 intervals, a
    /// consumer is stalled after 60 s, history capped near 10,000 reports.
    pub fn builder(config: &Config) -> HeartbeatBuilder {
        HeartbeatBuilder {
            config: config.clone(),
            instance: config.consumer().to_owned(),
            version: String::new(),
            interval: Duration::from_secs(5),
            ttl: None,
            stall_after: Duration::from_secs(60),
            history: 10_000,
            consumers: Vec::new(),
        }
    }

    /// The latest report, made at the last beat (also when Redis could not
    /// take it): what a service's own `/health` endpoint can serve. `None`
    /// before the first beat.
    pub fn latest(&self) -> Option<HealthReport> {
        self.latest.borrow().clone()
    }

    /// A handle on [`latest`](Self::latest) that can be cloned and shared,
    /// e.g. with the handler of a service's `/health`. It outlives the
    /// heartbeat, keeping its last report (status `stopped` after
    /// [`stop`](Self::stop)).
    pub fn reports(&self) -> LatestReport {
        LatestReport(self.latest.clone())
    }

    /// Stops beating: writes a last report with status `stopped` to the
    /// health stream and deletes the instance's key, so monitors show it
    /// as stopped rather than stale.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The latest report of a [`Heartbeat`]; see [`Heartbeat::reports`].
#[derive(Debug, Clone)]
pub struct LatestReport(watch::Receiver<Option<HealthReport>>);

impl LatestReport {
    /// The latest report, as [`Heartbeat::latest`]; `None` before the first beat.
    pub fn get(&self) -> Option<HealthReport> {
        self.0.borrow().clone()
    }
}

/// Builds a [`Heartbeat`].
#[derive(Debug, Clone)]
#[must_use]
pub struct HeartbeatBuilder {
    config: Config,
    instance: String,
    version: String,
    interval: Duration,
    ttl: Option<Duration>,
    stall_after: Duration,
    history: u64,
    consumers: Vec<ConsumerProgress>,
}

impl HeartbeatBuilder {
    /// The service's version, reported as is (e.g. `env!("CARGO_PKG_VERSION")`).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The instance name (default: the configured consumer name, which is
    /// `<host name>-<instance id>`).
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = instance.into();
        self
    }

    /// How often to beat (default 5 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// How long a report stays after the last beat before the instance
    /// counts as stale (default three intervals; more than one interval).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// How long a consumer may hold entries without settling any before it
    /// counts as stuck, making the instance unhealthy (default 60 s).
    pub fn stall_after(mut self, stall_after: Duration) -> Self {
        self.stall_after = stall_after;
        self
    }

    /// Approximate cap on the health stream's length (default 10,000).
    pub fn history(mut self, history: u64) -> Self {
        self.history = history;
        self
    }

    /// Checks this consumer at every beat; see [`Consumer::progress`](crate::Consumer::progress).
    pub fn watch(mut self, progress: ConsumerProgress) -> Self {
        self.consumers.push(progress);
        self
    }

    /// Starts beating in a Tokio task (the first beat at once). Fails only
    /// for settings that cannot work (a TTL not longer than the interval,
    /// a zero interval, a bad Redis URL): Redis being down is reported in
    /// the beats, not here.
    pub fn start(self) -> Result<Heartbeat, Error> {
        let ttl = self.ttl.unwrap_or(self.interval * 3);
        if self.interval.is_zero() {
            return Err(invalid("heartbeat interval", self.interval, "must be longer than zero"));
        }
        if ttl <= self.interval {
            return Err(invalid("heartbeat ttl", ttl, "must be longer than the interval"));
        }
        if self.history == 0 {
            return Err(ConfigError::Invalid {
                variable: "heartbeat history",
                value: "0".into(),
                reason: "must be at least 1".into(),
            }
            .into());
        }
        if self.instance.is_empty() {
            return Err(ConfigError::Invalid {
                variable: "heartbeat instance",
                value: String::new(),
                reason: "must not be empty".into(),
            }
            .into());
        }
        let limit = self.config.publish_timeout();
        let keys = self.config.keys();
        let beater = Beater {
            connection: connection::open(&self.config, limit)?,
            key: keys.health_instance(self.config.service(), &self.instance),
            stream: keys.health_stream(),
            service: self.config.service().to_owned(),
            instance: self.instance,
            version: self.version,
            interval: self.interval,
            ttl,
            stall_after: self.stall_after,
            history: self.history,
            consumers: self.consumers,
            limit,
            started: Instant::now(),
            started_at: Utc::now().trunc_subsecs(3),
        };
        let (latest_tx, latest) = watch::channel(None);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(beater.run(latest_tx, stopped));
        Ok(Heartbeat {
            latest,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

fn invalid(variable: &'static str, value: Duration, reason: &str) -> Error {
    ConfigError::Invalid {
        variable,
        value: format_duration(value),
        reason: reason.to_owned(),
    }
    .into()
}

/// The heartbeat task's state.
struct Beater {
    connection: Connection,
    key: String,
    stream: String,
    service: String,
    instance: String,
    version: String,
    interval: Duration,
    ttl: Duration,
    stall_after: Duration,
    history: u64,
    consumers: Vec<ConsumerProgress>,
    limit: Duration,
    started: Instant,
    started_at: DateTime<Utc>,
}

impl Beater {
    async fn run(mut self, latest: watch::Sender<Option<HealthReport>>, mut stop: oneshot::Receiver<()>) {
        tracing::info!(service = %self.service, instance = %self.instance, key = %self.key, "heartbeat started");
        let mut outage = Outage::new("sending heartbeats");
        loop {
            let (report, ping) = self.report().await;
            latest.send_replace(Some(report.clone()));
            let sent = match ping {
                Ok(()) => self.send(&report).await,
                Err(error) => Err(error),
            };
            match sent {
                Ok(()) => outage.recovered(),
                Err(error) => drop(outage.failed(&error)),
            }
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                _ = &mut stop => break,
            }
        }
        let (mut last, _) = self.report().await;
        last.status = Status::Stopped;
        latest.send_replace(Some(last.clone()));
        if let Err(error) = self.send(&last).await {
            tracing::warn!(%error, "could not send the last heartbeat; the instance will show as stale");
        }
        tracing::info!(service = %self.service, instance = %self.instance, "heartbeat stopped");
    }

    /// This instance's report now, and how Redis answered its `PING`.
    async fn report(&mut self) -> (HealthReport, Result<(), RedisError>) {
        let started = Instant::now();
        let ping: Result<(), RedisError> =
            bounded(self.limit, redis::cmd("PING").query_async(&mut self.connection)).await;
        let mut checks = vec![Check {
            name: Check::REDIS.into(),
            ok: ping.is_ok(),
            detail: match &ping {
                Ok(()) => format!("reachable ({})", format_duration(started.elapsed())),
                Err(error) => format!("unreachable: {error}"),
            },
        }];
        checks.extend(
            self.consumers
                .iter()
                .map(|progress| consumer_check(progress, self.stall_after)),
        );
        let status = if checks.iter().all(|check| check.ok) {
            Status::Healthy
        } else {
            Status::Unhealthy
        };
        let report = HealthReport {
            service: self.service.clone(),
            instance: self.instance.clone(),
            version: self.version.clone(),
            status,
            time: Utc::now().trunc_subsecs(3),
            started: self.started_at,
            uptime: self.started.elapsed(),
            interval: self.interval,
            checks,
        };
        (report, ping)
    }

    /// Writes `report` to the instance's key (deleting it for a stopped
    /// instance) and to the health stream, in one round trip (one per slot
    /// on a cluster).
    async fn send(&mut self, report: &HealthReport) -> Result<(), RedisError> {
        let json = serde_json::to_string(report)
            .map_err(|error| RedisError::from((redis::ErrorKind::Client, "cannot encode report", error.to_string())))?;
        let mut pipe = SlotPipeline::new();
        if report.status == Status::Stopped {
            pipe.cmd(&self.key, "DEL").arg(&self.key);
        } else {
            let ttl = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
            pipe.cmd(&self.key, "SET").arg(&self.key).arg(&json).arg("PX").arg(ttl);
        }
        pipe.cmd(&self.stream, "XADD")
            .arg(&self.stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(self.history)
            .arg("*")
            .arg("service")
            .arg(&report.service)
            .arg("instance")
            .arg(&report.instance)
            .arg("status")
            .arg(report.status.as_str())
            .arg("time")
            .arg(report.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .arg("report")
            .arg(&json);
        bounded(self.limit, pipe.query(&mut self.connection)).await.map(drop)
    }
}

/// Whether the consumer behind `progress` makes progress.
fn consumer_check(progress: &ConsumerProgress, stall_after: Duration) -> Check {
    let name = format!("consumer {}/{}", progress.group(), progress.consumer());
    let (ok, detail) = match progress.state() {
        ConsumerState::NotStarted => (true, "not started yet".to_owned()),
        ConsumerState::Stopped => (false, "stopped".to_owned()),
        ConsumerState::Running if progress.not_reading_for().is_some() => (
            false,
            format!(
                "not reading: no read has come back from Redis for {} (Redis unreachable, or a reader failed)",
                format_duration(progress.not_reading_for().unwrap_or_default())
            ),
        ),
        ConsumerState::Running => match progress.stalled_for() {
            Some(stalled) if stalled >= stall_after => (
                false,
                format!(
                    "stuck: holds {} entries and has settled none for {}",
                    progress.held(),
                    format_duration(stalled)
                ),
            ),
            _ => (true, progress_text(progress)),
        },
    };
    Check { name, ok, detail }
}

fn progress_text(progress: &ConsumerProgress) -> String {
    let last = progress
        .since_last_settled()
        .map_or_else(String::new, |ago| format!(", the last {} ago", format_duration(ago)));
    format!("holds {}, settled {}{last}", progress.held(), progress.settled())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let config = Config::builder("audit").build().expect("valid");
        let second = Duration::from_secs(1);
        let refused = |builder: HeartbeatBuilder| match builder.start() {
            Err(Error::Config(ConfigError::Invalid { variable, .. })) => variable,
            other => panic!("{other:?}"),
        };
        let builder = || Heartbeat::builder(&config);
        assert_eq!(refused(builder().interval(second).ttl(second)), "heartbeat ttl");
        assert_eq!(refused(builder().interval(Duration::ZERO)), "heartbeat interval");
        assert_eq!(refused(builder().history(0)), "heartbeat history");
        assert_eq!(refused(builder().instance("")), "heartbeat instance");
    }

    #[test]
    fn a_consumer_check_tells_what_it_found() {
        let progress = ConsumerProgress::new("audit", "a-0");
        let minute = Duration::from_secs(60);
        let check = consumer_check(&progress, minute);
        assert_eq!(
            (check.name.as_str(), check.ok, check.detail.as_str()),
            ("consumer audit/a-0", true, "not started yet")
        );
        let running = progress.running(Duration::from_secs(3600));
        progress.hold(2);
        assert_eq!(consumer_check(&progress, minute).detail, "holds 2, settled 0");
        assert!(!consumer_check(&progress, Duration::ZERO).ok);
        drop(running);
        let stopped = consumer_check(&progress, minute);
        assert_eq!((stopped.ok, stopped.detail.as_str()), (false, "stopped"));
    }
}
