//! Metrics through the [`metrics`] facade, a Prometheus exporter (feature
//! `prometheus`), and traces that follow a message ([`trace`], feature
//! `otel`).
//!
//! The runtime records into whatever recorder the service installed (none:
//! nothing is recorded), installed before publishers and consumers start:
//! each registers its handles once per event type. Label values are
//! bounded: event types the dispatcher knows (any other type is recorded as
//! `unknown`), consumer groups, categories and dead-letter reasons; never
//! ids.
//!
//! | metric | kind | labels | counts |
//! |---|---|---|---|
//! | `xerpium_messages_published_total` | counter | `type` | events written to their stream |
//! | `xerpium_publish_failures_total` | counter | `type` | events whose publish failed (timeout, Redis error) |
//! | `xerpium_messages_consumed_total` | counter | `type`, `group` | deliveries handed to a handler |
//! | `xerpium_messages_acked_total` | counter | `type`, `group` | entries handled and acknowledged |
//! | `xerpium_messages_retried_total` | counter | `type`, `group` | failed deliveries left pending for a retry |
//! | `xerpium_messages_dead_lettered_total` | counter | `type`, `group`, `reason` | entries moved to the dead-letter stream |
//! | `xerpium_messages_reclaimed_total` | counter | `category`, `group` | entries claimed from a consumer that stopped |
//! | `xerpium_handler_duration_seconds` | histogram | `type`, `group` | time spent in the handler |
//! | `xerpium_publish_to_handle_seconds` | histogram | `type`, `group` | from the event's `time` to the start of its first handling |
//!
//! Publish→handle latency compares the publisher's clock with the
//! consumer's: keep the machines' clocks in sync (NTP).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

// Looked up at every message: foldhash hashes a type name for a fraction of
// SipHash's cost.
use foldhash::{HashMap, HashMapExt};
use metrics::{Counter, Histogram};

use crate::handler::Dispatch;

pub mod trace;

/// Metric names.
pub mod name {
    /// Counter: events published.
    pub const PUBLISHED: &str = "xerpium_messages_published_total";
    /// Counter: publishes that failed.
    pub const PUBLISH_FAILED: &str = "xerpium_publish_failures_total";
    /// Counter: deliveries handed to a handler.
    pub const CONSUMED: &str = "xerpium_messages_consumed_total";
    /// Counter: entries acknowledged after handling.
    pub const ACKED: &str = "xerpium_messages_acked_total";
    /// Counter: failed deliveries that will be retried.
    pub const RETRIED: &str = "xerpium_messages_retried_total";
    /// Counter: entries dead-lettered.
    pub const DEAD_LETTERED: &str = "xerpium_messages_dead_lettered_total";
    /// Counter: entries claimed from a stopped consumer.
    pub const RECLAIMED: &str = "xerpium_messages_reclaimed_total";
    /// Histogram (seconds): handler duration.
    pub const HANDLER_DURATION: &str = "xerpium_handler_duration_seconds";
    /// Histogram (seconds): publish→handle latency.
    pub const PUBLISH_TO_HANDLE: &str = "xerpium_publish_to_handle_seconds";
}

/// Label names.
pub mod label {
    /// The event type, `<category>.<event>` (or [`UNKNOWN`](super::UNKNOWN)).
    pub const TYPE: &str = "type";
    /// The consumer group.
    pub const GROUP: &str = "group";
    /// The category (stream) of reclaimed entries.
    pub const CATEGORY: &str = "category";
    /// The dead-letter reason code.
    pub const REASON: &str = "reason";
}

/// The `type` label of entries whose type the dispatcher does not know.
pub const UNKNOWN: &str = "unknown";

/// Histogram buckets (seconds) the Prometheus exporter uses for both histograms.
pub const BUCKETS: [f64; 16] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Registers the description and unit of every metric with the installed
/// recorder (the Prometheus exporter shows them as `# HELP`). Call it after
/// installing a recorder; [`install_prometheus`] does.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(name::PUBLISHED, Unit::Count, "Events written to their stream.");
    describe_counter!(name::PUBLISH_FAILED, Unit::Count, "Events whose publish failed.");
    describe_counter!(name::CONSUMED, Unit::Count, "Deliveries handed to a handler.");
    describe_counter!(name::ACKED, Unit::Count, "Entries handled and acknowledged.");
    describe_counter!(
        name::RETRIED,
        Unit::Count,
        "Failed deliveries left pending for a retry."
    );
    describe_counter!(
        name::DEAD_LETTERED,
        Unit::Count,
        "Entries moved to the dead-letter stream."
    );
    describe_counter!(
        name::RECLAIMED,
        Unit::Count,
        "Entries claimed from a consumer that stopped."
    );
    describe_histogram!(name::HANDLER_DURATION, Unit::Seconds, "Time spent in the handler.");
    describe_histogram!(
        name::PUBLISH_TO_HANDLE,
        Unit::Seconds,
        "Time from an event's publication to the start of its first handling."
    );
}

/// Why the Prometheus exporter could not start.
#[cfg(feature = "prometheus")]
#[derive(Debug, thiserror::Error)]
#[error("cannot start the Prometheus exporter: {0}")]
pub struct ExporterError(#[from] metrics_exporter_prometheus::BuildError);

/// A Prometheus exporter builder with the runtime's histogram buckets, for
/// a service that wants to adjust it (global labels, allowed addresses)
/// before installing it.
#[cfg(feature = "prometheus")]
pub fn prometheus_builder() -> Result<metrics_exporter_prometheus::PrometheusBuilder, ExporterError> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let mut builder = PrometheusBuilder::new();
    for metric in [name::HANDLER_DURATION, name::PUBLISH_TO_HANDLE] {
        builder = builder.set_buckets_for_metric(Matcher::Full(metric.to_owned()), &BUCKETS)?;
    }
    Ok(builder)
}

/// Installs the Prometheus exporter as the process's metrics recorder,
/// serving `GET /metrics` (any path, in fact) in text format on `address`,
/// e.g. `0.0.0.0:9000`. Call it once, inside a Tokio runtime, before
/// publishers and consumers start.
#[cfg(feature = "prometheus")]
pub fn install_prometheus(address: std::net::SocketAddr) -> Result<(), ExporterError> {
    prometheus_builder()?.with_http_listener(address).install()?;
    describe();
    Ok(())
}

/// The `type` label of `event_type` read from a stream: itself if the
/// dispatcher knows it, otherwise [`UNKNOWN`] (keeps label values bounded).
pub(crate) fn type_label<'a, D: Dispatch>(dispatch: &D, event_type: Option<&'a str>) -> &'a str {
    match event_type {
        Some(known) if dispatch.policy(known).is_some() => known,
        _ => UNKNOWN,
    }
}

/// Metric handles registered once per event type rather than at every
/// message (type labels are bounded, so this stays small).
pub(crate) struct PerType<T> {
    handles: Mutex<HashMap<String, T>>,
}

impl<T: Clone> PerType<T> {
    /// No handles yet.
    pub(crate) fn new() -> Self {
        PerType {
            handles: Mutex::new(HashMap::new()),
        }
    }

    /// The handles of `event_type`, registered by `register` the first time.
    pub(crate) fn get(&self, event_type: &str, register: impl FnOnce(&str) -> T) -> T {
        let mut handles = self.handles.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = handles.get(event_type) {
            return known.clone();
        }
        let registered = register(event_type);
        handles.insert(event_type.to_owned(), registered.clone());
        registered
    }
}

/// A publisher's counters of one event type.
#[derive(Clone)]
pub(crate) struct Publishing {
    published: Counter,
    failed: Counter,
}

impl Publishing {
    /// The counters of `event_type`.
    pub(crate) fn new(event_type: &str) -> Self {
        let labels = [(label::TYPE, event_type.to_owned())];
        Publishing {
            published: metrics::counter!(name::PUBLISHED, &labels),
            failed: metrics::counter!(name::PUBLISH_FAILED, &labels),
        }
    }

    /// Counts `count` events published (`ok`), or whose publish failed.
    pub(crate) fn count(&self, count: u64, ok: bool) {
        if ok { &self.published } else { &self.failed }.increment(count);
    }
}

/// Counts entries claimed from a stopped consumer.
pub(crate) fn reclaimed(category: &str, group: &str, count: usize) {
    metrics::counter!(name::RECLAIMED, label::CATEGORY => category.to_owned(), label::GROUP => group.to_owned())
        .increment(count as u64);
}

/// A consumer's metric handles, registered once per event type (type
/// labels are bounded, so this stays small) rather than at every delivery.
pub(crate) struct ConsumerMetrics {
    group: String,
    by_type: PerType<Arc<Handling>>,
}

impl ConsumerMetrics {
    /// The metrics of consumer group `group`.
    pub(crate) fn new(group: &str) -> Self {
        ConsumerMetrics {
            group: group.to_owned(),
            by_type: PerType::new(),
        }
    }

    /// The handles for deliveries of `event_type` (already bounded).
    pub(crate) fn handling(&self, event_type: &str) -> Arc<Handling> {
        self.by_type.get(event_type, |event_type| {
            Arc::new(Handling::new(event_type, &self.group))
        })
    }
}

/// The metrics of deliveries of one type in one group.
pub(crate) struct Handling {
    labels: [(&'static str, String); 2],
    consumed: Counter,
    acked: Counter,
    retried: Counter,
    duration: Histogram,
    latency: Histogram,
}

impl Handling {
    fn new(event_type: &str, group: &str) -> Self {
        let labels = [(label::TYPE, event_type.to_owned()), (label::GROUP, group.to_owned())];
        Handling {
            consumed: metrics::counter!(name::CONSUMED, &labels),
            acked: metrics::counter!(name::ACKED, &labels),
            retried: metrics::counter!(name::RETRIED, &labels),
            duration: metrics::histogram!(name::HANDLER_DURATION, &labels),
            latency: metrics::histogram!(name::PUBLISH_TO_HANDLE, &labels),
            labels,
        }
    }

    /// The delivery was handed to the handler.
    pub(crate) fn consumed(&self) {
        self.consumed.increment(1);
    }

    /// The entry was acknowledged.
    pub(crate) fn acked(&self) {
        self.acked.increment(1);
    }

    /// The delivery failed and will be retried.
    pub(crate) fn retried(&self) {
        self.retried.increment(1);
    }

    /// The entry was dead-lettered for `reason` (a bounded code).
    pub(crate) fn dead_lettered(&self, reason: &'static str) {
        let [kind, group] = self.labels.clone();
        metrics::counter!(name::DEAD_LETTERED, &[kind, group, (label::REASON, reason.to_owned())]).increment(1);
    }

    /// The handler ran for `duration`.
    pub(crate) fn handled_in(&self, duration: Duration) {
        self.duration.record(duration.as_secs_f64());
    }

    /// The event was published `latency` before its handling started.
    pub(crate) fn published_before(&self, latency: Duration) {
        self.latency.record(latency.as_secs_f64());
    }
}
