//! The dashboard's memory of the last hour: it samples every group's lag,
//! pending count and settled count, every category's entries added and
//! every dead-letter stream's, at a fixed interval while it runs, and keeps
//! the samples of the last hour in memory. The charts and the rates come
//! from here; nothing is stored in Redis, so a dashboard started a minute
//! ago shows a minute.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use xerpium_messaging::health::{GroupHealth, StreamInfo};
use xerpium_messaging::{HealthMonitor, Keys};

/// How far back the history reaches.
pub const SPAN: Duration = Duration::from_secs(3600);

/// One group at one moment, over the streams it reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupSample {
    /// Entries not yet delivered, over the streams where Redis can tell
    /// (a group made at the start of a stream it has not caught up with
    /// yet has no known lag there).
    pub lag: u64,
    /// Whether Redis could tell the lag on every stream.
    pub lag_known: bool,
    /// Entries delivered and not acknowledged.
    pub pending: u64,
    /// Entries read and acknowledged since the group was made, by stream,
    /// where Redis can tell.
    pub settled: BTreeMap<String, u64>,
}

impl GroupSample {
    /// Adds one stream's figures to the group's.
    fn add(&mut self, stream: &GroupHealth, first: bool) {
        if first {
            self.lag_known = true;
        }
        match stream.lag {
            Some(lag) => self.lag += lag,
            None => self.lag_known = false,
        }
        if let Some(read) = stream.entries_read {
            self.settled
                .insert(stream.stream.clone(), read.saturating_sub(stream.pending));
        }
        self.pending += stream.pending;
    }
}

/// Entries settled between two samples of a group, over the streams known
/// in both; `None` when no stream is (Redis could tell for none).
fn settled_between(older: &GroupSample, newer: &GroupSample) -> Option<u64> {
    let mut known = false;
    let mut settled = 0;
    for (stream, now) in &newer.settled {
        if let Some(before) = older.settled.get(stream) {
            known = true;
            settled += now.saturating_sub(*before);
        }
    }
    known.then_some(settled)
}

/// What was seen at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// When (the dashboard's clock: rates are between its own samples).
    pub time: DateTime<Utc>,
    /// Every consumer group, by name.
    pub groups: BTreeMap<String, GroupSample>,
    /// Entries ever added to each event stream, by stream.
    pub published: BTreeMap<String, u64>,
    /// The category of each event stream, by stream.
    pub categories: BTreeMap<String, String>,
    /// Entries ever added to each group's dead-letter stream, by group.
    pub dead_lettered: BTreeMap<String, u64>,
}

impl Sample {
    /// The sample, taken at `time`, of what the monitor found: `groups`,
    /// and `streams` for what was added.
    pub fn of(keys: &Keys, time: DateTime<Utc>, groups: &[GroupHealth], streams: &[StreamInfo]) -> Sample {
        let mut sample = Sample {
            time,
            ..Sample::default()
        };
        for stream in groups {
            let first = !sample.groups.contains_key(&stream.group);
            sample
                .groups
                .entry(stream.group.clone())
                .or_default()
                .add(stream, first);
        }
        let dead_letter_prefix = keys.dead_letters("");
        for stream in streams {
            let added = stream.entries_added.unwrap_or(stream.length);
            if let Some(category) = category_of(keys, &stream.key) {
                sample.published.insert(stream.key.clone(), added);
                sample.categories.insert(stream.key.clone(), category.to_owned());
            } else if let Some(group) = stream.key.strip_prefix(&dead_letter_prefix) {
                sample.dead_lettered.insert(group.to_owned(), added);
            }
        }
        sample
    }
}

/// The category of an event stream key (`<ns>:events:<category>` or
/// `<ns>:events:<category>:<partition>`); `None` for any other key.
pub fn category_of<'k>(keys: &Keys, stream: &'k str) -> Option<&'k str> {
    let rest = stream.strip_prefix(keys.namespace())?.strip_prefix(":events:")?;
    Some(rest.split_once(':').map_or(rest, |(category, _)| category))
}

/// The samples of the last [`SPAN`], oldest first.
#[derive(Debug, Default)]
pub struct History {
    samples: VecDeque<Sample>,
}

/// A rate, per second, of a counter between two samples.
fn rate(older: u64, newer: u64, between: Duration) -> Option<f64> {
    (!between.is_zero()).then(|| newer.saturating_sub(older) as f64 / between.as_secs_f64())
}

/// The time from `older` to `newer`, zero when the clock went back.
fn between(older: &Sample, newer: &Sample) -> Duration {
    (newer.time - older.time).to_std().unwrap_or_default()
}

impl History {
    /// Adds `sample` and forgets what is older than [`SPAN`] before it.
    pub fn push(&mut self, sample: Sample) {
        let horizon = sample.time - chrono::Duration::from_std(SPAN).unwrap_or_default();
        self.samples.push_back(sample);
        while self.samples.front().is_some_and(|oldest| oldest.time < horizon) {
            self.samples.pop_front();
        }
    }

    /// The newest sample and the oldest one at most `over` before it.
    fn window(&self, over: Duration) -> Option<(&Sample, &Sample)> {
        let newest = self.samples.back()?;
        let oldest = self
            .samples
            .iter()
            .find(|sample| between(sample, newest) <= over)
            .filter(|oldest| oldest.time < newest.time)?;
        Some((oldest, newest))
    }

    /// Entries `group` settled per second over the last `over`.
    pub fn settled_rate(&self, group: &str, over: Duration) -> Option<f64> {
        let (oldest, newest) = self.window(over)?;
        let settled = settled_between(oldest.groups.get(group)?, newest.groups.get(group)?)?;
        rate(0, settled, between(oldest, newest))
    }

    /// Entries dead-lettered by `group` per second over the last `over`.
    pub fn dead_letter_rate(&self, group: &str, over: Duration) -> Option<f64> {
        let (oldest, newest) = self.window(over)?;
        let added = |sample: &Sample| sample.dead_lettered.get(group).copied().unwrap_or(0);
        rate(added(oldest), added(newest), between(oldest, newest))
    }

    /// How long `group` has settled nothing, as far back as the history
    /// reaches; `None` when it settled something in the last interval (or
    /// the history cannot tell).
    pub fn settled_nothing_for(&self, group: &str) -> Option<Duration> {
        let newest = self.samples.back()?;
        let now = newest.groups.get(group)?;
        let since = self
            .samples
            .iter()
            .rev()
            .take_while(|sample| {
                sample
                    .groups
                    .get(group)
                    .is_some_and(|then| settled_between(then, now) == Some(0))
            })
            .last()?;
        let still = between(since, newest);
        (!still.is_zero()).then_some(still)
    }

    /// `group`'s lag (over the streams where Redis can tell) at the oldest
    /// sample at most `over` ago, when it grew from sample to sample since
    /// (never fell), over at least three samples, and is higher now.
    pub fn lag_rising(&self, group: &str, over: Duration) -> Option<u64> {
        let newest = self.samples.back()?;
        let lags: Vec<u64> = self
            .samples
            .iter()
            .filter(|sample| between(sample, newest) <= over)
            .map(|sample| sample.groups.get(group).map(|group| group.lag))
            .collect::<Option<_>>()?;
        let rising =
            lags.len() >= 3 && lags.windows(2).all(|pair| pair[0] <= pair[1]) && lags[0] < lags[lags.len() - 1];
        rising.then(|| lags[0])
    }

    /// The charts' data: every sample's time, each group's lag and pending
    /// count, and the rates (per second, between each sample and the one
    /// before) of publishing and handling per category.
    pub fn series(&self) -> Series {
        let mut series = Series::default();
        let groups: Vec<&String> = self.samples.iter().flat_map(|s| s.groups.keys()).collect();
        let categories: Vec<&String> = self.samples.iter().flat_map(|s| s.categories.values()).collect();
        for name in groups {
            series.lag.entry(name.clone()).or_default();
            series.pending.entry(name.clone()).or_default();
        }
        for name in categories {
            series.published.entry(name.clone()).or_default();
            series.handled.entry(name.clone()).or_default();
        }
        let mut before: Option<&Sample> = None;
        for sample in &self.samples {
            series.times.push(sample.time.timestamp_millis());
            for (name, lag) in &mut series.lag {
                lag.push(sample.groups.get(name).map(|group| group.lag));
            }
            for (name, pending) in &mut series.pending {
                pending.push(sample.groups.get(name).map(|group| group.pending));
            }
            for (name, points) in &mut series.published {
                points.push(before.and_then(|older| category_rate(older, sample, name, published_between)));
            }
            for (name, points) in &mut series.handled {
                points.push(before.and_then(|older| category_rate(older, sample, name, handled_between)));
            }
            before = Some(sample);
        }
        series
    }
}

/// Events added to `stream` between two samples, when both know it.
fn published_between(older: &Sample, newer: &Sample, stream: &str) -> Option<u64> {
    Some(
        newer
            .published
            .get(stream)?
            .saturating_sub(*older.published.get(stream)?),
    )
}

/// Entries of `stream` settled between two samples by every group that
/// reads it, over the groups known in both.
fn handled_between(older: &Sample, newer: &Sample, stream: &str) -> Option<u64> {
    let mut known = false;
    let mut settled = 0;
    for (group, now) in &newer.groups {
        if let (Some(now), Some(before)) = (
            now.settled.get(stream),
            older.groups.get(group).and_then(|then| then.settled.get(stream)),
        ) {
            known = true;
            settled += now.saturating_sub(*before);
        }
    }
    known.then_some(settled)
}

/// Per second between two samples, over `category`'s streams: `counted`
/// (what one stream did in between) summed over the streams it knows, so
/// that a stream or group first seen in `newer` adds nothing all at once.
fn category_rate(
    older: &Sample,
    newer: &Sample,
    category: &str,
    counted: fn(&Sample, &Sample, &str) -> Option<u64>,
) -> Option<f64> {
    let counts: Vec<u64> = newer
        .categories
        .iter()
        .filter(|(_, of)| *of == category)
        .filter_map(|(stream, _)| counted(older, newer, stream))
        .collect();
    if counts.is_empty() {
        return None;
    }
    rate(0, counts.iter().sum(), between(older, newer))
}

/// The charts' data, as the page's script reads it: one value (or `null`
/// where unknown) per time in `times`.
#[derive(Debug, Default, Serialize)]
pub struct Series {
    /// When each sample was taken, Unix milliseconds.
    pub times: Vec<i64>,
    /// Each group's lag (over the streams where Redis can tell).
    pub lag: BTreeMap<String, Vec<Option<u64>>>,
    /// Each group's pending count.
    pub pending: BTreeMap<String, Vec<Option<u64>>>,
    /// Events published per second, by category.
    pub published: BTreeMap<String, Vec<Option<f64>>>,
    /// Events handled per second by all the groups reading the category.
    pub handled: BTreeMap<String, Vec<Option<f64>>>,
}

/// The history, shared between the sampler and the pages.
pub type SharedHistory = Arc<Mutex<History>>;

/// Runs with `f` on the history (a poisoned lock is still the history).
pub fn with<T>(history: &SharedHistory, f: impl FnOnce(&mut History) -> T) -> T {
    f(&mut history.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Samples every `interval` into `history`, for as long as it runs. A
/// sample that fails (Redis away) is skipped and said on standard error
/// once per outage.
pub async fn sample(monitor: HealthMonitor, keys: Keys, history: SharedHistory, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticks.tick().await;
        let taken = async { Ok::<_, xerpium_messaging::Error>((monitor.groups().await?, monitor.streams().await?)) };
        match taken.await {
            Ok((groups, streams)) => {
                if failing {
                    eprintln!("xerpium-mq dashboard: sampling works again");
                    failing = false;
                }
                let sample = Sample::of(&keys, Utc::now(), &groups, &streams);
                with(&history, |history| history.push(sample));
            }
            Err(error) if !failing => {
                eprintln!("xerpium-mq dashboard: cannot sample: {error}");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64, settled: u64, lag: u64) -> Sample {
        let mut sample = Sample {
            time: DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap_or_default(),
            ..Sample::default()
        };
        sample.groups.insert(
            "audit".into(),
            GroupSample {
                lag,
                lag_known: true,
                pending: 1,
                settled: [("ns:events:user:0".to_owned(), settled)].into(),
            },
        );
        sample.published.insert("ns:events:user:0".into(), settled * 2);
        sample.categories.insert("ns:events:user:0".into(), "user".into());
        sample
    }

    #[test]
    fn rates_and_stillness_come_from_the_samples() {
        let mut history = History::default();
        history.push(at(0, 100, 5));
        history.push(at(10, 200, 5));
        history.push(at(20, 200, 9));
        history.push(at(30, 200, 12));
        assert_eq!(
            history.settled_rate("audit", Duration::from_secs(30)),
            Some(100.0 / 30.0)
        );
        assert_eq!(history.settled_rate("audit", Duration::from_secs(10)), Some(0.0));
        assert_eq!(history.settled_nothing_for("audit"), Some(Duration::from_secs(20)));
        assert_eq!(history.lag_rising("audit", Duration::from_secs(20)), Some(5));
        assert_eq!(
            history.lag_rising("audit", Duration::from_secs(10)),
            None,
            "two samples say no trend"
        );
        assert_eq!(history.settled_rate("other", Duration::from_secs(30)), None);
        let series = history.series();
        assert_eq!(series.times.len(), 4);
        assert_eq!(series.lag["audit"], vec![Some(5), Some(5), Some(9), Some(12)]);
        // A stream Redis cannot tell about yet counts from when it can.
        let mut later = at(40, 200, 12);
        if let Some(audit) = later.groups.get_mut("audit") {
            audit.settled.insert("ns:events:user:1".into(), 1_000);
        }
        history.push(later);
        assert_eq!(history.settled_rate("audit", Duration::from_secs(10)), Some(0.0));
        // A group of which Redis can tell nothing has no stillness either.
        let mut blind = at(50, 0, 0);
        blind.groups.get_mut("audit").expect("audit").settled.clear();
        history.push(blind.clone());
        blind.time += chrono::Duration::seconds(100);
        history.push(blind);
        assert_eq!(history.settled_nothing_for("audit"), None);
        assert_eq!(series.published["user"], vec![None, Some(20.0), Some(0.0), Some(0.0)]);
        assert_eq!(series.handled["user"], vec![None, Some(10.0), Some(0.0), Some(0.0)]);
    }

    #[test]
    fn it_keeps_an_hour() {
        let mut history = History::default();
        for minute in 0..90 {
            history.push(at(minute * 60, 0, 0));
        }
        assert_eq!(history.samples.len(), 61, "an hour of minutes, both ends");
    }

    #[test]
    fn categories_come_from_event_stream_keys() {
        let keys = Keys::new("ns");
        assert_eq!(category_of(&keys, "ns:events:user:3"), Some("user"));
        assert_eq!(category_of(&keys, "ns:events:audit"), Some("audit"));
        assert_eq!(category_of(&keys, "ns:commands:user-auth"), None);
        assert_eq!(category_of(&keys, "other:events:user"), None);
    }
}
