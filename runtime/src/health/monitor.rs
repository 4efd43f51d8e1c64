//! The [`HealthMonitor`]: every instance's last heartbeat, every consumer
//! group's lag and pending entries, every dead-letter stream's length.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::{RedisError, Value};
use serde::Serialize;

use super::format_duration;
use super::reply::{self, Fields};
use super::report::{HealthReport, Status, millis};
use crate::config::Config;
use crate::connection::{self, Connection, SlotPipeline, bounded};
use crate::error::Error;
use crate::keys::Keys;

/// How many health-stream entries a check reads at most.
const HISTORY_READ: usize = 10_000;

/// Reads the health of a namespace; see the [module docs](super).
#[derive(Clone)]
pub struct HealthMonitor {
    connection: Connection,
    keys: Keys,
    url: String,
    limit: Duration,
    forget_after: Duration,
}

impl std::fmt::Debug for HealthMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthMonitor")
            .field("namespace", &self.keys.namespace())
            .field("url", &self.url)
            .field("forget_after", &self.forget_after)
            .finish_non_exhaustive()
    }
}

/// Whether an instance still beats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceState {
    /// Its report has not expired: it beats.
    Up,
    /// Its report expired without a goodbye: it crashed, hangs or lost Redis.
    Stale,
    /// It stopped cleanly.
    Stopped,
}

impl InstanceState {
    /// `up`, `stale` or `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Up => "up",
            InstanceState::Stale => "stale",
            InstanceState::Stopped => "stopped",
        }
    }
}

/// One service instance, by its last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceHealth {
    /// Up, stale or stopped.
    pub state: InstanceState,
    /// Its last report.
    pub report: HealthReport,
}

impl InstanceHealth {
    /// Up and healthy, or stopped cleanly.
    pub fn is_fine(&self) -> bool {
        match self.state {
            InstanceState::Up => self.report.status == Status::Healthy,
            InstanceState::Stale => false,
            InstanceState::Stopped => true,
        }
    }
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumerInfo {
    /// Its name.
    pub name: String,
    /// Entries delivered to it and not acknowledged.
    pub pending: u64,
    /// Time since it last read or claimed.
    #[serde(rename = "idle_ms", with = "millis")]
    pub idle: Duration,
}

/// The oldest entry pending in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingEntry {
    /// Its entry id.
    pub id: String,
    /// The consumer holding it.
    pub consumer: String,
    /// Time since it was added to the stream (by its id, on Redis's clock).
    #[serde(rename = "age_ms", with = "millis")]
    pub age: Duration,
    /// Time since it was last delivered.
    #[serde(rename = "idle_ms", with = "millis")]
    pub idle: Duration,
    /// How often it was delivered.
    pub deliveries: u64,
}

/// One consumer group on one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupHealth {
    /// The stream key.
    pub stream: String,
    /// The group's name.
    pub group: String,
    /// Entries added to the stream and not yet delivered to the group;
    /// `None` when Redis cannot tell (entries were deleted or trimmed in
    /// between, or the group's position was set by hand).
    pub lag: Option<u64>,
    /// Entries delivered and not acknowledged.
    pub pending: u64,
    /// Entries the group has read (`None`: Redis cannot tell).
    pub entries_read: Option<u64>,
    /// The id of the last entry delivered to the group.
    pub last_delivered_id: String,
    /// The oldest pending entry, if any.
    pub oldest_pending: Option<PendingEntry>,
    /// Its consumers.
    pub consumers: Vec<ConsumerInfo>,
}

/// The length of one group's dead-letter stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetterCount {
    /// The consumer group.
    pub group: String,
    /// The dead-letter stream key, `<ns>:dlq:<group>`.
    pub stream: String,
    /// Dead letters in it.
    pub count: u64,
}

/// Everything [`HealthMonitor::check`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemHealth {
    /// When it was checked (Redis's clock).
    pub time: DateTime<Utc>,
    /// Every instance seen recently, by service and instance.
    pub instances: Vec<InstanceHealth>,
    /// Every consumer group, by stream and group.
    pub groups: Vec<GroupHealth>,
    /// Every dead-letter stream, by group.
    pub dead_letters: Vec<DeadLetterCount>,
}

impl SystemHealth {
    /// Whether every instance is up and healthy or stopped cleanly.
    pub fn is_healthy(&self) -> bool {
        self.instances.iter().all(InstanceHealth::is_fine)
    }

    /// What is wrong, one line each: stale instances, failing checks.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for instance in &self.instances {
            let report = &instance.report;
            let who = format!("{}/{}", report.service, report.instance);
            match instance.state {
                InstanceState::Stale => {
                    let ago = (self.time - report.time).to_std().unwrap_or_default();
                    problems.push(format!(
                        "{who} is stale: no heartbeat for {} (it beats every {})",
                        format_duration(ago),
                        format_duration(report.interval)
                    ));
                }
                InstanceState::Up => problems.extend(
                    report
                        .failing()
                        .map(|check| format!("{who}: {} {}", check.name, check.detail)),
                ),
                InstanceState::Stopped => {}
            }
        }
        problems
    }
}

/// The first or last entry of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryInfo {
    /// Its entry id.
    pub id: String,
    /// When it was added (from the id, Redis's clock).
    pub time: DateTime<Utc>,
}

/// One stream of the namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamInfo {
    /// The stream key.
    pub key: String,
    /// Entries in it.
    pub length: u64,
    /// Consumer groups on it.
    pub groups: u64,
    /// Its oldest entry.
    pub first: Option<EntryInfo>,
    /// Its newest entry.
    pub last: Option<EntryInfo>,
    /// Bytes of memory it uses (`MEMORY USAGE`, sampled); `None` when Redis
    /// does not say.
    pub memory: Option<u64>,
    /// Entries ever added.
    pub entries_added: Option<u64>,
}

impl HealthMonitor {
    /// A monitor of `config`'s namespace. Does not connect yet: a Redis
    /// that cannot be reached fails the first check, naming its URL.
    pub fn new(config: &Config) -> Result<HealthMonitor, Error> {
        Ok(HealthMonitor {
            connection: connection::open(config, config.publish_timeout())?,
            keys: config.keys(),
            url: config.redis_url_redacted(),
            limit: config.publish_timeout(),
            forget_after: Duration::from_secs(3600),
        })
    }

    /// Instances whose last heartbeat is older than this are left out of
    /// reports (default 1 h).
    #[must_use]
    pub fn forget_after(mut self, forget_after: Duration) -> Self {
        self.forget_after = forget_after;
        self
    }

    /// Checks everything: instances, groups, dead letters.
    pub async fn check(&self) -> Result<SystemHealth, Error> {
        let mut connection = self.connection.clone();
        let now = self.server_time(&mut connection).await?;
        let instances = self.instances(&mut connection, now).await?;
        let streams = self.stream_keys(&mut connection).await?;
        let groups = self.read_groups(&mut connection, &streams, now).await?;
        let dead_letters = self.count_dead_letters(&mut connection, &streams).await?;
        Ok(SystemHealth {
            time: DateTime::from_timestamp_millis(i64::try_from(now).unwrap_or(i64::MAX)).unwrap_or_default(),
            instances,
            groups,
            dead_letters,
        })
    }

    /// Every consumer group of every stream (but the dead-letter and
    /// health streams), by stream and group.
    pub async fn groups(&self) -> Result<Vec<GroupHealth>, Error> {
        let mut connection = self.connection.clone();
        let now = self.server_time(&mut connection).await?;
        let streams = self.stream_keys(&mut connection).await?;
        self.read_groups(&mut connection, &streams, now).await
    }

    /// The length of every dead-letter stream, by group.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetterCount>, Error> {
        let mut connection = self.connection.clone();
        let streams = self.stream_keys(&mut connection).await?;
        self.count_dead_letters(&mut connection, &streams).await
    }

    /// Describes every stream of the namespace (events, commands, replies,
    /// dead letters, health), by key.
    pub async fn streams(&self) -> Result<Vec<StreamInfo>, Error> {
        let mut connection = self.connection.clone();
        let keys = self.stream_keys(&mut connection).await?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = SlotPipeline::new();
        for key in &keys {
            pipe.cmd(key, "XINFO").arg("STREAM").arg(key);
            pipe.cmd(key, "MEMORY").arg("USAGE").arg(key);
        }
        let replies = self.run("describing streams", pipe.query(&mut connection)).await?;
        let mut replies = replies.into_iter();
        let mut streams = Vec::with_capacity(keys.len());
        for key in keys {
            let (Some(info), Some(memory)) = (replies.next(), replies.next()) else {
                break;
            };
            let info = Fields::parse(info, "XINFO STREAM").map_err(|e| self.failed("describing streams", e))?;
            streams.push(StreamInfo {
                length: info.int("length").unwrap_or(0),
                groups: info.int("groups").unwrap_or(0),
                first: info.get("first-entry").and_then(entry_info),
                last: info.get("last-entry").and_then(entry_info),
                memory: reply::int(&memory),
                entries_added: info.int("entries-added"),
                key,
            });
        }
        Ok(streams)
    }

    async fn server_time(&self, connection: &mut Connection) -> Result<u64, Error> {
        let reply: Value = self
            .run("reading the time", redis::cmd("TIME").query_async(connection))
            .await?;
        reply::time_millis(reply).map_err(|error| self.failed("reading the time", error))
    }

    /// Every instance in the health stream since `forget_after`, with its
    /// key's report when it has one.
    async fn instances(&self, connection: &mut Connection, now: u64) -> Result<Vec<InstanceHealth>, Error> {
        const WHAT: &str = "reading heartbeats";
        let since = now.saturating_sub(u64::try_from(self.forget_after.as_millis()).unwrap_or(u64::MAX));
        let mut read = redis::cmd("XREVRANGE");
        read.arg(self.keys.health_stream())
            .arg("+")
            .arg(since)
            .arg("COUNT")
            .arg(HISTORY_READ);
        let reply: Value = self.run(WHAT, read.query_async(connection)).await?;
        let entries = crate::stream::entry_list(reply).map_err(|error| self.failed(WHAT, error))?;
        // The newest report of each instance (entries come newest first).
        let mut last: BTreeMap<(String, String), HealthReport> = BTreeMap::new();
        for fields in entries.into_iter().filter_map(|entry| entry.fields) {
            let Some(report) = fields
                .get("report")
                .and_then(|json| serde_json::from_str::<HealthReport>(json).ok())
            else {
                continue;
            };
            last.entry((report.service.clone(), report.instance.clone()))
                .or_insert(report);
        }
        if last.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = SlotPipeline::new();
        for (service, instance) in last.keys() {
            let key = self.keys.health_instance(service, instance);
            pipe.cmd(&key, "GET").arg(&key);
        }
        let current = self.run(WHAT, pipe.query(connection)).await?;
        let current: Vec<Option<String>> = current
            .into_iter()
            .map(|value| redis::from_redis_value(value).ok().flatten())
            .collect();
        Ok(last
            .into_values()
            .zip(current)
            .map(
                |(history, current)| match current.and_then(|json| serde_json::from_str(&json).ok()) {
                    Some(report) => InstanceHealth {
                        state: InstanceState::Up,
                        report,
                    },
                    None => InstanceHealth {
                        state: if history.status == Status::Stopped {
                            InstanceState::Stopped
                        } else {
                            InstanceState::Stale
                        },
                        report: history,
                    },
                },
            )
            .collect())
    }

    /// Every stream key of the namespace, sorted.
    async fn stream_keys(&self, connection: &mut Connection) -> Result<Vec<String>, Error> {
        let pattern = format!("{}:*", glob_escape(self.keys.namespace()));
        connection::scan_keys(connection, &pattern, "stream", self.limit)
            .await
            .map_err(|error| self.failed("listing streams", error))
    }

    async fn read_groups(
        &self,
        connection: &mut Connection,
        all: &[String],
        now: u64,
    ) -> Result<Vec<GroupHealth>, Error> {
        const WHAT: &str = "reading consumer groups";
        let dlq_prefix = self.keys.dead_letters("");
        let health = self.keys.health_stream();
        let streams: Vec<&String> = all
            .iter()
            .filter(|key| !key.starts_with(&dlq_prefix) && **key != health)
            .collect();
        if streams.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = SlotPipeline::new();
        for stream in &streams {
            pipe.cmd(stream, "XINFO").arg("GROUPS").arg(*stream);
        }
        let replies = self.run(WHAT, pipe.query(connection)).await?;
        let mut groups = Vec::new();
        for (stream, reply) in streams.iter().zip(replies) {
            for group in reply::list(reply, "XINFO GROUPS").map_err(|e| self.failed(WHAT, e))? {
                let group = Fields::parse(group, "XINFO GROUPS").map_err(|e| self.failed(WHAT, e))?;
                groups.push(GroupHealth {
                    stream: (*stream).clone(),
                    group: group.text("name"),
                    lag: group.int("lag"),
                    pending: group.int("pending").unwrap_or(0),
                    entries_read: group.int("entries-read"),
                    last_delivered_id: group.text("last-delivered-id"),
                    oldest_pending: None,
                    consumers: Vec::new(),
                });
            }
        }
        if groups.is_empty() {
            return Ok(groups);
        }
        let mut pipe = SlotPipeline::new();
        for group in &groups {
            pipe.cmd(&group.stream, "XINFO")
                .arg("CONSUMERS")
                .arg(&group.stream)
                .arg(&group.group);
            pipe.cmd(&group.stream, "XPENDING")
                .arg(&group.stream)
                .arg(&group.group)
                .arg("-")
                .arg("+")
                .arg(1);
        }
        let replies = self.run(WHAT, pipe.query(connection)).await?;
        let mut replies = replies.into_iter();
        for group in &mut groups {
            let (Some(consumers), Some(pending)) = (replies.next(), replies.next()) else {
                break;
            };
            group.consumers = reply::list(consumers, "XINFO CONSUMERS")
                .and_then(|list| list.into_iter().map(consumer_info).collect())
                .map_err(|e| self.failed(WHAT, e))?;
            group.oldest_pending = reply::list(pending, "XPENDING")
                .map_err(|e| self.failed(WHAT, e))?
                .into_iter()
                .next()
                .and_then(|row| pending_entry(row, now));
        }
        Ok(groups)
    }

    async fn count_dead_letters(
        &self,
        connection: &mut Connection,
        all: &[String],
    ) -> Result<Vec<DeadLetterCount>, Error> {
        let prefix = self.keys.dead_letters("");
        let keys: Vec<&String> = all.iter().filter(|key| key.starts_with(&prefix)).collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = SlotPipeline::new();
        for key in &keys {
            pipe.cmd(key, "XLEN").arg(*key);
        }
        let counts = self.run("counting dead letters", pipe.query(connection)).await?;
        let counts = counts
            .into_iter()
            .map(|count| redis::from_redis_value::<u64>(count).unwrap_or(0));
        Ok(keys
            .iter()
            .zip(counts)
            .map(|(key, count)| DeadLetterCount {
                group: key.strip_prefix(&prefix).unwrap_or(key).to_owned(),
                stream: (*key).clone(),
                count,
            })
            .collect())
    }

    /// Awaits `call`, bounded in time; an error says what failed and where.
    async fn run<T>(&self, what: &str, call: impl Future<Output = Result<T, RedisError>>) -> Result<T, Error> {
        bounded(self.limit, call)
            .await
            .map_err(|error| self.failed(what, error))
    }

    fn failed(&self, what: &str, source: RedisError) -> Error {
        Error::Redis {
            context: format!("{what} from Redis at {}", self.url),
            source,
        }
    }
}

/// `[id, [fields…]]` as the entry's id and time; `None` for nil.
fn entry_info(value: &Value) -> Option<EntryInfo> {
    let Value::Array(pair) = value else {
        return None;
    };
    let id = reply::text(pair.first()?)?;
    let millis = reply::id_millis(&id)?;
    Some(EntryInfo {
        time: DateTime::from_timestamp_millis(i64::try_from(millis).ok()?)?,
        id,
    })
}

fn consumer_info(value: Value) -> Result<ConsumerInfo, RedisError> {
    let fields = Fields::parse(value, "XINFO CONSUMERS")?;
    Ok(ConsumerInfo {
        name: fields.text("name"),
        pending: fields.int("pending").unwrap_or(0),
        idle: Duration::from_millis(fields.int("idle").unwrap_or(0)),
    })
}

/// One `[id, consumer, idle, deliveries]` row of an extended `XPENDING`.
fn pending_entry(row: Value, now: u64) -> Option<PendingEntry> {
    let row = reply::list(row, "XPENDING row").ok()?;
    let [id, consumer, idle, deliveries] = row.as_slice() else {
        return None;
    };
    let id = reply::text(id)?;
    let added = reply::id_millis(&id)?;
    Some(PendingEntry {
        age: Duration::from_millis(now.saturating_sub(added)),
        consumer: reply::text(consumer)?,
        idle: Duration::from_millis(reply::int(idle)?),
        deliveries: reply::int(deliveries)?,
        id,
    })
}

/// `text` with the characters that `SCAN MATCH` treats specially escaped.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape("prod"), "prod");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
