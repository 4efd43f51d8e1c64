//! What the overview says: every instance, every consumer group with its
//! verdict (healthy, lagging, stalled) and why, the dead letters, and the
//! Redis servers.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use xerpium_messaging::health::{
    DeadLetterCount, GroupHealth, InstanceHealth, InstanceState, PendingEntry, SystemHealth, format_duration,
};

use super::history::History;
use super::redis_info::{ClusterNode, Node};

/// When a group counts as lagging or stalled.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// A group that holds entries, or has entries waiting, and settles
    /// nothing for this long is stalled.
    pub stall_after: Duration,
    /// A group with at least this many entries not yet delivered is lagging.
    pub lag: u64,
}

/// How far back the overview's rates and lag trend look.
const RECENT: Duration = Duration::from_secs(60);

/// A group's state at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Up to date, or working off what comes in.
    Healthy,
    /// Behind, but moving.
    Lagging,
    /// Not moving: nothing settled while work waits.
    Stalled,
}

impl Verdict {
    /// `healthy`, `lagging` or `stalled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::Lagging => "lagging",
            Verdict::Stalled => "stalled",
        }
    }
}

/// One consumer group over every stream it reads.
#[derive(Debug, Clone, Serialize)]
pub struct GroupStatus {
    /// Its name.
    pub name: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, for people.
    pub reason: String,
    /// Entries not yet delivered, over the streams where Redis can tell.
    pub lag: u64,
    /// Whether Redis could tell the lag on every stream: when not, `lag`
    /// is a lower bound (a group made at a stream's start has no known lag
    /// there until it catches up).
    pub lag_known: bool,
    /// Entries delivered and not acknowledged.
    pub pending: u64,
    /// The oldest pending entry over its streams.
    pub oldest_pending: Option<PendingEntry>,
    /// The names of its consumers, over its streams.
    pub consumers: Vec<String>,
    /// Entries settled per second over the last minute (`None`: not known yet).
    pub handled_per_second: Option<f64>,
    /// Entries dead-lettered per second over the last minute.
    pub dead_lettered_per_second: Option<f64>,
    /// Its dead letters now.
    pub dead_letters: u64,
    /// Its streams, each as the monitor read it.
    pub streams: Vec<GroupHealth>,
}

/// The overview.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// What the health monitor found.
    pub health: SystemHealth,
    /// Every group, worst verdict first.
    pub groups: Vec<GroupStatus>,
    /// The Redis servers (the masters of a cluster).
    pub nodes: Vec<Node>,
    /// Every node of the cluster; empty on a single server.
    pub cluster: Vec<ClusterNode>,
    /// What is wrong, one line each.
    pub problems: Vec<String>,
}

impl Status {
    /// The overview of `health` and the servers, with rates and stillness
    /// from `history`.
    pub fn of(
        health: SystemHealth,
        (nodes, cluster): (Vec<Node>, Vec<ClusterNode>),
        history: &History,
        thresholds: Thresholds,
    ) -> Status {
        let names: BTreeSet<&str> = health.groups.iter().map(|group| group.group.as_str()).collect();
        let mut groups: Vec<GroupStatus> = names
            .into_iter()
            .map(|name| group_status(name, &health, history, thresholds))
            .collect();
        groups.sort_by(|a, b| b.verdict.cmp(&a.verdict).then_with(|| a.name.cmp(&b.name)));
        // An instance's failing consumer check is said once, by its group's verdict.
        let flagged: Vec<String> = groups
            .iter()
            .filter(|group| group.verdict != Verdict::Healthy)
            .map(|group| format!(": consumer {}/", group.name))
            .collect();
        let mut problems: Vec<String> = health
            .problems()
            .into_iter()
            .filter(|problem| !flagged.iter().any(|said| problem.contains(said.as_str())))
            .collect();
        problems.extend(
            groups
                .iter()
                .filter(|group| group.verdict != Verdict::Healthy)
                .map(|group| format!("group {} is {}: {}", group.name, group.verdict.as_str(), group.reason)),
        );
        problems.extend(nodes.iter().filter_map(Node::problem));
        problems.extend(
            cluster
                .iter()
                .filter(|node| node.flags.contains("fail") || node.link != "connected")
                .map(|node| format!("cluster node {} is {} ({})", node.address, node.flags, node.link)),
        );
        Status {
            health,
            groups,
            nodes,
            cluster,
            problems,
        }
    }

    /// Whether nothing is wrong.
    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The status of group `name`.
fn group_status(name: &str, health: &SystemHealth, history: &History, thresholds: Thresholds) -> GroupStatus {
    let streams: Vec<GroupHealth> = health.groups.iter().filter(|g| g.group == name).cloned().collect();
    let lag = streams.iter().filter_map(|stream| stream.lag).sum();
    let lag_known = streams.iter().all(|stream| stream.lag.is_some());
    let pending = streams.iter().map(|stream| stream.pending).sum();
    let oldest_pending = streams
        .iter()
        .filter_map(|stream| stream.oldest_pending.clone())
        .max_by_key(|entry| entry.age);
    let consumers: BTreeSet<String> = streams
        .iter()
        .flat_map(|stream| stream.consumers.iter().map(|consumer| consumer.name.clone()))
        .collect();
    let dead_letters = health
        .dead_letters
        .iter()
        .find(|dead| dead.group == name)
        .map_or(0, |dead: &DeadLetterCount| dead.count);
    let mut status = GroupStatus {
        name: name.to_owned(),
        verdict: Verdict::Healthy,
        reason: String::new(),
        lag,
        lag_known,
        pending,
        oldest_pending,
        consumers: consumers.into_iter().collect(),
        handled_per_second: history.settled_rate(name, RECENT),
        dead_lettered_per_second: history.dead_letter_rate(name, RECENT),
        dead_letters,
        streams,
    };
    let (verdict, reason) = judge(&status, &health.instances, history, thresholds);
    status.verdict = verdict;
    status.reason = reason;
    status
}

/// The verdict on `group`, and why: stalled when an instance says one of
/// its consumers is stuck, when an entry has been held without being
/// settled for `stall_after`, when work waits and no consumer is there, or
/// when work waits and nothing was settled for `stall_after`; lagging when
/// `lag` or more entries wait, or fewer but more than a minute ago.
fn judge(
    group: &GroupStatus,
    instances: &[InstanceHealth],
    history: &History,
    thresholds: Thresholds,
) -> (Verdict, String) {
    let prefix = format!("consumer {}/", group.name);
    let stuck = instances
        .iter()
        .filter(|instance| instance.state == InstanceState::Up)
        .flat_map(|instance| instance.report.failing().map(move |check| (instance, check)))
        .find(|(_, check)| check.name.starts_with(&prefix));
    if let Some((instance, check)) = stuck {
        let report = &instance.report;
        return (
            Verdict::Stalled,
            format!(
                "consumer {}: {} (heartbeat of {}/{})",
                check.name.trim_start_matches(&prefix),
                check.detail,
                report.service,
                report.instance
            ),
        );
    }
    // Each stream's oldest pending entry: the one idle longest says most.
    let most_idle = group
        .streams
        .iter()
        .filter_map(|stream| stream.oldest_pending.as_ref())
        .max_by_key(|oldest| oldest.idle);
    if let Some(oldest) = most_idle.filter(|oldest| oldest.idle >= thresholds.stall_after) {
        return (
            Verdict::Stalled,
            format!(
                "entry {} has been held by {} for {} without being settled ({} deliveries): its consumer is gone or hung",
                oldest.id,
                oldest.consumer,
                format_duration(oldest.idle),
                oldest.deliveries
            ),
        );
    }
    let waiting = group.lag + group.pending;
    if waiting > 0 && group.consumers.is_empty() {
        return (
            Verdict::Stalled,
            format!("{waiting} entries wait and no consumer reads the group"),
        );
    }
    if let Some(still) = history
        .settled_nothing_for(&group.name)
        .filter(|still| waiting > 0 && *still >= thresholds.stall_after)
    {
        return (
            Verdict::Stalled,
            format!(
                "{waiting} entries wait and nothing was settled for {}",
                format_duration(still)
            ),
        );
    }
    let lag = group.lag;
    let at_least = if group.lag_known { "" } else { "at least " };
    if lag >= thresholds.lag {
        return (Verdict::Lagging, format!("{at_least}{lag} entries not yet delivered"));
    }
    match history.lag_rising(&group.name, RECENT) {
        Some(before) if lag > before => (
            Verdict::Lagging,
            format!("{at_least}{lag} entries not yet delivered, rising from {before} over the last minute"),
        ),
        _ if lag > 0 => (Verdict::Healthy, format!("working off {at_least}{lag} entries")),
        _ if !group.lag_known => (
            Verdict::Healthy,
            "reading from the start of a stream: its lag is known once it has caught up".to_owned(),
        ),
        _ if group.pending > 0 => (Verdict::Healthy, format!("up to date, {} in hand", group.pending)),
        _ => (Verdict::Healthy, "up to date".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use xerpium_messaging::health::ConsumerInfo;

    use super::*;

    fn stream(lag: u64, pending: u64, idle: Duration, consumers: &[&str]) -> GroupHealth {
        GroupHealth {
            stream: "ns:events:user:0".into(),
            group: "audit".into(),
            lag: Some(lag),
            pending,
            entries_read: Some(10),
            last_delivered_id: "1-0".into(),
            oldest_pending: (pending > 0).then(|| PendingEntry {
                id: "1-0".into(),
                consumer: "c-1".into(),
                age: idle,
                idle,
                deliveries: 1,
            }),
            consumers: consumers
                .iter()
                .map(|name| ConsumerInfo {
                    name: (*name).into(),
                    pending,
                    idle,
                })
                .collect(),
        }
    }

    fn verdict(groups: Vec<GroupHealth>) -> (Verdict, String) {
        let health = SystemHealth {
            time: Utc::now(),
            instances: Vec::new(),
            groups,
            dead_letters: Vec::new(),
        };
        let thresholds = Thresholds {
            stall_after: Duration::from_secs(60),
            lag: 100,
        };
        let status = Status::of(health, (Vec::new(), Vec::new()), &History::default(), thresholds);
        let group = &status.groups[0];
        (group.verdict, group.reason.clone())
    }

    #[test]
    fn verdicts_say_why() {
        let second = Duration::from_secs(1);
        assert_eq!(verdict(vec![stream(0, 0, second, &["c-1"])]).0, Verdict::Healthy);
        assert_eq!(verdict(vec![stream(5, 2, second, &["c-1"])]).0, Verdict::Healthy);
        let (lagging, why) = verdict(vec![stream(60, 0, second, &["c-1"]), stream(60, 0, second, &["c-1"])]);
        assert_eq!(
            (lagging, why.as_str()),
            (Verdict::Lagging, "120 entries not yet delivered")
        );
        let (stalled, why) = verdict(vec![stream(0, 3, Duration::from_secs(61), &["c-1"])]);
        assert_eq!(stalled, Verdict::Stalled);
        assert!(why.starts_with("entry 1-0 has been held by c-1 for 1m 1s"), "{why}");
        let (stalled, why) = verdict(vec![stream(7, 0, second, &[])]);
        assert_eq!(
            (stalled, why.as_str()),
            (Verdict::Stalled, "7 entries wait and no consumer reads the group")
        );
    }
}
