//! Runtime configuration: from the environment ([`Config::from_env`]) or
//! built in code ([`Config::builder`]), the same settings either way.
//!
//! Durations are written as `250ms`, `30s`, `5m`, `24h` (or combined,
//! `1h 30m`). A value that cannot be read is an error naming the variable
//! and the value; nothing falls back silently.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `XERPIUM_REDIS_URL` | `redis://127.0.0.1:6379` | the Redis server to connect to (`redis://[user:password@]host:port[/db]`) |
//! | `XERPIUM_REDIS_CLUSTER_NODES` | *(unset)* | a Redis Cluster instead: some of its nodes, comma-separated (`redis://[user:password@]host:port` or `host:port`); the others are found from them. Set this or `XERPIUM_REDIS_URL`, not both |
//! | `XERPIUM_NAMESPACE` | `xerpium` | prefix of every key; give each environment its own (`prod`, `staging`) so their keys never collide |
//! | `XERPIUM_SERVICE` | *(required)* | name of this service: the `source` of what it publishes, the default consumer group |
//! | `XERPIUM_GROUP` | the service name | consumer group this service reads events in; every group gets every event |
//! | `XERPIUM_INSTANCE_ID` | `0` | identifies this instance on its host; give each instance on one host its own |
//! | `XERPIUM_CONSUMER` | `<host name>-<instance id>` | consumer name in the group; stable across restarts, so a restarted instance works off what it held |
//! | `XERPIUM_START` | `$` | where a *new* group starts: `$` only events published from now on, `0` everything still in the stream |
//! | `XERPIUM_RETENTION` | `24h` | default retention: entries older than this are trimmed on write |
//! | `XERPIUM_MAX_LEN` | `1000000` | default cap on a stream's length, applied on write (approximately) |
//! | `XERPIUM_MAX_ATTEMPTS` | `5` | default deliveries before an entry that keeps failing is dead-lettered |
//! | `XERPIUM_BACKOFF_FIRST` | `1s` | default delay before the first retry; doubles with each delivery |
//! | `XERPIUM_BACKOFF_MAX` | `5m` | default longest delay between two retries |
//! | `XERPIUM_BATCH_SIZE` | `100` | entries read (and acked) per round trip at most |
//! | `XERPIUM_BLOCK` | `5s` | how long one read waits for new entries |
//! | `XERPIUM_CONCURRENCY` | `16` | handlers running at once (entries of one subject always run one after another) |
//! | `XERPIUM_MAX_IN_FLIGHT` | 2 × max(batch size, concurrency) | entries held at once with their payloads, read but not yet settled; a read starts only while there is room (see Delivery: Window) |
//! | `XERPIUM_CLAIM_IDLE` | `60s` | an entry pending this long on a consumer that stopped is claimed by another |
//! | `XERPIUM_CONSUMER_EXPIRY` | `24h` | a consumer idle this long, holding nothing, is removed from its group |
//! | `XERPIUM_IDEMPOTENCY_TTL` | *(off)* | when set, the group records handled event ids for this long and runs a handler once per event id |
//! | `XERPIUM_PUBLISH_TIMEOUT` | `5s` | a publish not answered within this fails with a timeout; also bounds each Redis call of a consumer |
//! | `XERPIUM_PUBLISH_REPLICAS` | `0` | a publish succeeds only once this many replicas of the stream's master have the entry (`WAIT`), within the publish timeout; `0`: once the master has it (see Running on a Redis Cluster: what failover can lose) |
//! | `XERPIUM_SHUTDOWN_TIMEOUT` | `30s` | how long shutdown waits for running handlers |
//! | `XERPIUM_PARTITION_LEASE` | `10s` | an instance's lease on a partition of an ordered category, renewed every third of it (at most every second); after a crash its partitions move to the other instances within this |
//!
//! The delivery-policy settings (`XERPIUM_RETENTION`, `XERPIUM_MAX_LEN`,
//! `XERPIUM_MAX_ATTEMPTS`, `XERPIUM_BACKOFF_FIRST`, `XERPIUM_BACKOFF_MAX`)
//! are the *defaults*: they apply to event types for which the catalog gives
//! no policy (see [`Dispatch::policy`](crate::Dispatch::policy)). A type's
//! own [`Event::POLICY`](crate::Event::POLICY) wins.

use std::fmt;
use std::time::Duration;

use crate::event::DeliveryPolicy;

/// Environment variable names, one constant per setting.
pub mod var {
    /// Redis URL (one server).
    pub const REDIS_URL: &str = "XERPIUM_REDIS_URL";
    /// Seed nodes of a Redis Cluster (instead of a URL).
    pub const REDIS_CLUSTER_NODES: &str = "XERPIUM_REDIS_CLUSTER_NODES";
    /// Key namespace.
    pub const NAMESPACE: &str = "XERPIUM_NAMESPACE";
    /// Service name.
    pub const SERVICE: &str = "XERPIUM_SERVICE";
    /// Consumer group.
    pub const GROUP: &str = "XERPIUM_GROUP";
    /// Instance id, part of the default consumer name.
    pub const INSTANCE_ID: &str = "XERPIUM_INSTANCE_ID";
    /// Consumer name (overrides host name + instance id).
    pub const CONSUMER: &str = "XERPIUM_CONSUMER";
    /// Start position of a new group.
    pub const START: &str = "XERPIUM_START";
    /// Default retention.
    pub const RETENTION: &str = "XERPIUM_RETENTION";
    /// Default stream length cap.
    pub const MAX_LEN: &str = "XERPIUM_MAX_LEN";
    /// Default maximum deliveries.
    pub const MAX_ATTEMPTS: &str = "XERPIUM_MAX_ATTEMPTS";
    /// Default first retry delay.
    pub const BACKOFF_FIRST: &str = "XERPIUM_BACKOFF_FIRST";
    /// Default largest retry delay.
    pub const BACKOFF_MAX: &str = "XERPIUM_BACKOFF_MAX";
    /// Read batch size.
    pub const BATCH_SIZE: &str = "XERPIUM_BATCH_SIZE";
    /// Read block time.
    pub const BLOCK: &str = "XERPIUM_BLOCK";
    /// Handler concurrency.
    pub const CONCURRENCY: &str = "XERPIUM_CONCURRENCY";
    /// Entries held at once.
    pub const MAX_IN_FLIGHT: &str = "XERPIUM_MAX_IN_FLIGHT";
    /// Claim idle time.
    pub const CLAIM_IDLE: &str = "XERPIUM_CLAIM_IDLE";
    /// Idle time after which an empty consumer is removed.
    pub const CONSUMER_EXPIRY: &str = "XERPIUM_CONSUMER_EXPIRY";
    /// Idempotency record lifetime (unset: no idempotency store).
    pub const IDEMPOTENCY_TTL: &str = "XERPIUM_IDEMPOTENCY_TTL";
    /// Publish timeout.
    pub const PUBLISH_TIMEOUT: &str = "XERPIUM_PUBLISH_TIMEOUT";
    /// Replicas that must have a published entry before the publish succeeds.
    pub const PUBLISH_REPLICAS: &str = "XERPIUM_PUBLISH_REPLICAS";
    /// Shutdown timeout.
    pub const SHUTDOWN_TIMEOUT: &str = "XERPIUM_SHUTDOWN_TIMEOUT";
    /// How long an instance's lease on a partition of an ordered category
    /// lasts unless renewed (renewed every third of it); a crashed
    /// instance's partitions move to the others after it.
    pub const PARTITION_LEASE: &str = "XERPIUM_PARTITION_LEASE";
}

/// Why a configuration was refused. Each variant names the variable (the
/// same name is used for settings made through the builder).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required setting is absent.
    #[error("{variable} is not set: {hint}")]
    Missing {
        /// The environment variable.
        variable: &'static str,
        /// What to set it to.
        hint: &'static str,
    },
    /// A setting has a value that cannot be used.
    #[error("{variable}={value:?} is invalid: {reason}")]
    Invalid {
        /// The environment variable.
        variable: &'static str,
        /// The value found (credentials in a URL are masked).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Where a consumer group created by the runtime starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartPosition {
    /// `$`: only entries added after the group was created.
    #[default]
    New,
    /// `0`: every entry still in the stream.
    Beginning,
}

impl StartPosition {
    /// The id Redis takes for this position in `XGROUP CREATE`.
    pub fn as_id(self) -> &'static str {
        match self {
            StartPosition::New => "$",
            StartPosition::Beginning => "0",
        }
    }
}

impl fmt::Display for StartPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_id())
    }
}

/// Which Redis the runtime talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisServers {
    /// One server (or a primary with replicas it replicates to), at this URL.
    Standalone(String),
    /// A Redis Cluster, found from these seed nodes' URLs: every command
    /// goes to the master of its key's slot.
    Cluster(Vec<String>),
}

impl RedisServers {
    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisServers::Cluster(_))
    }

    /// The URLs configured: the server's, or every seed node's.
    pub fn urls(&self) -> &[String] {
        match self {
            RedisServers::Standalone(url) => std::slice::from_ref(url),
            RedisServers::Cluster(nodes) => nodes,
        }
    }
}

impl fmt::Display for RedisServers {
    /// The URL (or `cluster <url>,<url>…`), passwords masked, for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisServers::Standalone(url) => f.write_str(&mask_url(url)),
            RedisServers::Cluster(nodes) => {
                let nodes: Vec<String> = nodes.iter().map(|node| mask_url(node)).collect();
                write!(f, "cluster {}", nodes.join(","))
            }
        }
    }
}

/// The validated settings of a service's messaging runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    redis: RedisServers,
    namespace: String,
    service: String,
    group: String,
    consumer: String,
    start: StartPosition,
    default_policy: DeliveryPolicy,
    batch_size: usize,
    block: Duration,
    concurrency: usize,
    max_in_flight: Option<usize>,
    claim_idle: Duration,
    consumer_expiry: Duration,
    idempotency_ttl: Option<Duration>,
    publish_timeout: Duration,
    publish_replicas: u32,
    shutdown_timeout: Duration,
    partition_lease: Duration,
}

impl Config {
    /// A builder with every default, for service `service`.
    pub fn builder(service: impl Into<String>) -> ConfigBuilder {
        ConfigBuilder::new(service.into())
    }

    /// Reads the settings from `XERPIUM_*` environment variables (see the
    /// module docs for the list and defaults).
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::read(env_var, None)
    }

    /// Reads the settings from variables looked up with `lookup` (named as
    /// in the environment); what [`Config::from_env`] does with the process
    /// environment.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Self::read(|variable| Ok(lookup(variable)), None)
    }

    /// Like [`Config::from_env`], for a tool that reads the services'
    /// settings without being a service (the operator CLI): when
    /// `XERPIUM_SERVICE` is not set, `tool` stands in for it.
    pub fn from_env_for_tool(tool: &str) -> Result<Config, ConfigError> {
        Self::read(env_var, Some(tool))
    }

    fn read(
        lookup: impl Fn(&'static str) -> Result<Option<String>, ConfigError>,
        default_service: Option<&str>,
    ) -> Result<Config, ConfigError> {
        let service = lookup(var::SERVICE)?
            .or_else(|| default_service.map(str::to_owned))
            .ok_or(ConfigError::Missing {
                variable: var::SERVICE,
                hint: "set it to this service's name, e.g. `audit`",
            })?;
        if let (Some(_), Some(nodes)) = (lookup(var::REDIS_URL)?, lookup(var::REDIS_CLUSTER_NODES)?) {
            return Err(invalid(
                var::REDIS_CLUSTER_NODES,
                &nodes.split(',').map(mask_url).collect::<Vec<_>>().join(","),
                format!(
                    "{} is set too: set {} for one server or {} for a cluster, not both",
                    var::REDIS_URL,
                    var::REDIS_URL,
                    var::REDIS_CLUSTER_NODES
                ),
            ));
        }
        let mut builder = Config::builder(service);
        for (variable, apply) in VARIABLES {
            if let Some(value) = lookup(variable)? {
                builder = apply(builder, &Setting { variable, value })?;
            }
        }
        builder.build()
    }

    /// The Redis server or cluster to talk to.
    pub fn redis(&self) -> &RedisServers {
        &self.redis
    }
    /// The Redis URL: the server's, or a cluster's first seed node's.
    pub fn redis_url(&self) -> &str {
        &self.redis.urls()[0]
    }
    /// The Redis server or cluster with passwords masked, for messages.
    pub fn redis_url_redacted(&self) -> String {
        self.redis.to_string()
    }
    /// The key namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    /// The keys of this namespace.
    pub fn keys(&self) -> crate::keys::Keys {
        crate::keys::Keys::new(&self.namespace)
    }
    /// This service's name.
    pub fn service(&self) -> &str {
        &self.service
    }
    /// The consumer group this service reads in.
    pub fn group(&self) -> &str {
        &self.group
    }
    /// This instance's consumer name, stable across restarts.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }
    /// Where a new consumer group starts.
    pub fn start(&self) -> StartPosition {
        self.start
    }
    /// The delivery policy of types the catalog gives none.
    pub fn default_policy(&self) -> DeliveryPolicy {
        self.default_policy
    }
    /// Entries read per round trip at most.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
    /// How long one read waits for new entries.
    pub fn block(&self) -> Duration {
        self.block
    }
    /// Handlers running at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }
    /// Entries held at once (read, not yet settled).
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.unwrap_or(2 * self.batch_size.max(self.concurrency))
    }

    /// Idle time after which another consumer claims a pending entry.
    pub fn claim_idle(&self) -> Duration {
        self.claim_idle
    }
    /// Idle time after which a consumer holding nothing is removed.
    pub fn consumer_expiry(&self) -> Duration {
        self.consumer_expiry
    }
    /// How long handled event ids are remembered; `None`: no idempotency store.
    pub fn idempotency_ttl(&self) -> Option<Duration> {
        self.idempotency_ttl
    }
    /// How long a publish may take.
    pub fn publish_timeout(&self) -> Duration {
        self.publish_timeout
    }
    /// How many replicas must have a published entry before the publish
    /// succeeds (0: the master alone).
    pub fn publish_replicas(&self) -> u32 {
        self.publish_replicas
    }
    /// How long shutdown waits for running handlers.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }
    /// How long a lease on a partition lasts unless renewed.
    pub fn partition_lease(&self) -> Duration {
        self.partition_lease
    }

    /// A builder holding these settings, to change some of them.
    pub fn into_builder(self) -> ConfigBuilder {
        ConfigBuilder {
            group: Some(self.group.clone()),
            consumer: Some(self.consumer.clone()),
            instance_id: "0".to_owned(),
            config: self,
        }
    }
}

/// Builder setters: `name(arg: Type) => field = value;`, each taking and
/// returning the builder.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $($field:ident).+ = $value:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $arg: $ty) -> Self {
                self.$($field).+ = $value;
                self
            }
        )*
    };
}

/// Builds a [`Config`]; every setting starts at its documented default.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    /// Every setting but the two below (whose places hold placeholders).
    config: Config,
    group: Option<String>,
    instance_id: String,
    consumer: Option<String>,
}

/// The default Redis URL.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The default namespace.
pub const DEFAULT_NAMESPACE: &str = "xerpium";

impl ConfigBuilder {
    fn new(service: String) -> Self {
        ConfigBuilder {
            config: Config {
                redis: RedisServers::Standalone(DEFAULT_REDIS_URL.to_owned()),
                namespace: DEFAULT_NAMESPACE.to_owned(),
                service,
                group: String::new(),
                consumer: String::new(),
                start: StartPosition::New,
                default_policy: DeliveryPolicy::DEFAULT,
                batch_size: 100,
                block: Duration::from_secs(5),
                concurrency: 16,
                max_in_flight: None,
                claim_idle: Duration::from_secs(60),
                consumer_expiry: Duration::from_secs(24 * 60 * 60),
                idempotency_ttl: None,
                publish_timeout: Duration::from_secs(5),
                publish_replicas: 0,
                shutdown_timeout: Duration::from_secs(30),
                partition_lease: Duration::from_secs(10),
            },
            group: None,
            instance_id: "0".to_owned(),
            consumer: None,
        }
    }

    setters! {
        /// Sets `XERPIUM_REDIS_URL`: one server (replacing cluster nodes set before).
        redis_url(url: impl Into<String>) => config.redis = RedisServers::Standalone(url.into());
        /// Sets `XERPIUM_REDIS_CLUSTER_NODES`: a Redis Cluster found from
        /// these nodes (`redis://host:port` or `host:port`), replacing a URL
        /// set before.
        redis_cluster_nodes(nodes: impl IntoIterator<Item = impl Into<String>>) =>
            config.redis = RedisServers::Cluster(nodes.into_iter().map(|node| cluster_node_url(node.into())).collect());
        /// Sets `XERPIUM_NAMESPACE`.
        namespace(namespace: impl Into<String>) => config.namespace = namespace.into();
        /// Sets `XERPIUM_GROUP` (default: the service name).
        group(group: impl Into<String>) => group = Some(group.into());
        /// Sets `XERPIUM_INSTANCE_ID`.
        instance_id(id: impl Into<String>) => instance_id = id.into();
        /// Sets `XERPIUM_CONSUMER` (default: host name + instance id).
        consumer(name: impl Into<String>) => consumer = Some(name.into());
        /// Sets `XERPIUM_START`.
        start(start: StartPosition) => config.start = start;
        /// Sets the whole default delivery policy at once.
        default_policy(policy: DeliveryPolicy) => config.default_policy = policy;
        /// Sets `XERPIUM_RETENTION`.
        retention(retention: Duration) => config.default_policy.retention = retention;
        /// Sets `XERPIUM_MAX_LEN`.
        max_len(max_len: u64) => config.default_policy.max_len = max_len;
        /// Sets `XERPIUM_MAX_ATTEMPTS`.
        max_attempts(max_attempts: u32) => config.default_policy.max_attempts = max_attempts;
        /// Sets `XERPIUM_BACKOFF_FIRST`.
        backoff_first(delay: Duration) => config.default_policy.backoff_first = delay;
        /// Sets `XERPIUM_BACKOFF_MAX`.
        backoff_max(delay: Duration) => config.default_policy.backoff_max = delay;
        /// Sets `XERPIUM_BATCH_SIZE`.
        batch_size(batch_size: usize) => config.batch_size = batch_size;
        /// Sets `XERPIUM_BLOCK`.
        block(block: Duration) => config.block = block;
        /// Sets `XERPIUM_CONCURRENCY`.
        concurrency(concurrency: usize) => config.concurrency = concurrency;
        /// Sets `XERPIUM_MAX_IN_FLIGHT` (default: 2 × max(batch size, concurrency)).
        max_in_flight(max_in_flight: usize) => config.max_in_flight = Some(max_in_flight);
        /// Sets `XERPIUM_CLAIM_IDLE`.
        claim_idle(claim_idle: Duration) => config.claim_idle = claim_idle;
        /// Sets `XERPIUM_CONSUMER_EXPIRY`.
        consumer_expiry(expiry: Duration) => config.consumer_expiry = expiry;
        /// Sets `XERPIUM_IDEMPOTENCY_TTL`; `None` turns the idempotency store off.
        idempotency_ttl(ttl: Option<Duration>) => config.idempotency_ttl = ttl;
        /// Sets `XERPIUM_PUBLISH_TIMEOUT`.
        publish_timeout(timeout: Duration) => config.publish_timeout = timeout;
        /// Sets `XERPIUM_PUBLISH_REPLICAS`.
        publish_replicas(replicas: u32) => config.publish_replicas = replicas;
        /// Sets `XERPIUM_SHUTDOWN_TIMEOUT`.
        shutdown_timeout(timeout: Duration) => config.shutdown_timeout = timeout;
        /// Sets `XERPIUM_PARTITION_LEASE`.
        partition_lease(lease: Duration) => config.partition_lease = lease;
    }

    /// Checks every setting and returns the configuration.
    pub fn build(self) -> Result<Config, ConfigError> {
        let mut config = self.config;
        name(var::SERVICE, &config.service)?;
        name(var::NAMESPACE, &config.namespace)?;
        config.group = self.group.unwrap_or_else(|| config.service.clone());
        name(var::GROUP, &config.group)?;
        config.consumer = match self.consumer {
            Some(consumer) => consumer,
            None => {
                name(var::INSTANCE_ID, &self.instance_id)?;
                format!("{}-{}", host_name(), self.instance_id)
            }
        };
        name(var::CONSUMER, &config.consumer)?;
        check_redis(&config.redis)?;
        let policy = config.default_policy;
        at_least(var::MAX_ATTEMPTS, policy.max_attempts.into(), 1)?;
        at_least(var::MAX_LEN, policy.max_len, 1)?;
        positive(var::RETENTION, policy.retention)?;
        if policy.backoff_first > policy.backoff_max {
            return Err(invalid(
                var::BACKOFF_FIRST,
                &humantime::format_duration(policy.backoff_first).to_string(),
                format!(
                    "longer than {} ({})",
                    var::BACKOFF_MAX,
                    humantime::format_duration(policy.backoff_max)
                ),
            ));
        }
        at_least(var::BATCH_SIZE, config.batch_size as u64, 1)?;
        at_least(var::CONCURRENCY, config.concurrency as u64, 1)?;
        if let Some(max_in_flight) = config.max_in_flight {
            at_least(var::MAX_IN_FLIGHT, max_in_flight as u64, 1)?;
        }
        positive(var::BLOCK, config.block)?;
        positive(var::CLAIM_IDLE, config.claim_idle)?;
        positive(var::CONSUMER_EXPIRY, config.consumer_expiry)?;
        positive(var::PUBLISH_TIMEOUT, config.publish_timeout)?;
        if config.partition_lease < Duration::from_millis(30) {
            return Err(invalid(
                var::PARTITION_LEASE,
                &humantime::format_duration(config.partition_lease).to_string(),
                "must be at least 30ms (it is renewed every third of it)",
            ));
        }
        if let Some(ttl) = config.idempotency_ttl {
            positive(var::IDEMPOTENCY_TTL, ttl)?;
        }
        Ok(config)
    }
}

/// How each variable (but `XERPIUM_SERVICE`, which starts the builder)
/// sets the builder.
type Apply = fn(ConfigBuilder, &Setting) -> Result<ConfigBuilder, ConfigError>;

const VARIABLES: [(&str, Apply); 23] = [
    (var::REDIS_URL, |b, s| Ok(b.redis_url(&s.value))),
    (var::REDIS_CLUSTER_NODES, |b, s| {
        Ok(b.redis_cluster_nodes(s.value.split(',').map(str::trim).filter(|node| !node.is_empty())))
    }),
    (var::NAMESPACE, |b, s| Ok(b.namespace(&s.value))),
    (var::GROUP, |b, s| Ok(b.group(&s.value))),
    (var::INSTANCE_ID, |b, s| Ok(b.instance_id(&s.value))),
    (var::CONSUMER, |b, s| Ok(b.consumer(&s.value))),
    (var::START, |b, s| Ok(b.start(s.start()?))),
    (var::RETENTION, |b, s| Ok(b.retention(s.duration()?))),
    (var::MAX_LEN, |b, s| Ok(b.max_len(s.number()?))),
    (var::MAX_ATTEMPTS, |b, s| Ok(b.max_attempts(s.number()?))),
    (var::BACKOFF_FIRST, |b, s| Ok(b.backoff_first(s.duration()?))),
    (var::BACKOFF_MAX, |b, s| Ok(b.backoff_max(s.duration()?))),
    (var::BATCH_SIZE, |b, s| Ok(b.batch_size(s.number()?))),
    (var::BLOCK, |b, s| Ok(b.block(s.duration()?))),
    (var::CONCURRENCY, |b, s| Ok(b.concurrency(s.number()?))),
    (var::MAX_IN_FLIGHT, |b, s| Ok(b.max_in_flight(s.number()?))),
    (var::CLAIM_IDLE, |b, s| Ok(b.claim_idle(s.duration()?))),
    (var::CONSUMER_EXPIRY, |b, s| Ok(b.consumer_expiry(s.duration()?))),
    (var::IDEMPOTENCY_TTL, |b, s| Ok(b.idempotency_ttl(Some(s.duration()?)))),
    (var::PUBLISH_TIMEOUT, |b, s| Ok(b.publish_timeout(s.duration()?))),
    (var::PUBLISH_REPLICAS, |b, s| Ok(b.publish_replicas(s.number()?))),
    (var::SHUTDOWN_TIMEOUT, |b, s| Ok(b.shutdown_timeout(s.duration()?))),
    (var::PARTITION_LEASE, |b, s| Ok(b.partition_lease(s.duration()?))),
];

/// One variable's raw value, read into a typed one.
struct Setting {
    variable: &'static str,
    value: String,
}

impl Setting {
    fn duration(&self) -> Result<Duration, ConfigError> {
        humantime::parse_duration(self.value.trim()).map_err(|error| {
            invalid(
                self.variable,
                &self.value,
                format!("{error} (write a duration like `250ms`, `30s`, `5m`, `24h`)"),
            )
        })
    }

    fn number<T: std::str::FromStr<Err = std::num::ParseIntError>>(&self) -> Result<T, ConfigError> {
        let digits: String = self.value.trim().chars().filter(|c| *c != '_').collect();
        digits
            .parse()
            .map_err(|error| invalid(self.variable, &self.value, error))
    }

    fn start(&self) -> Result<StartPosition, ConfigError> {
        match self.value.trim() {
            "$" => Ok(StartPosition::New),
            "0" => Ok(StartPosition::Beginning),
            _ => Err(invalid(
                self.variable,
                &self.value,
                "write `$` (new entries only) or `0` (everything in the stream)",
            )),
        }
    }
}

/// A cluster node as written (`host:port` or a URL) as a URL.
fn cluster_node_url(node: String) -> String {
    if node.contains("://") {
        node
    } else {
        format!("redis://{node}")
    }
}

/// Checks that every URL of `servers` can be used.
fn check_redis(servers: &RedisServers) -> Result<(), ConfigError> {
    let variable = match servers {
        RedisServers::Standalone(_) => var::REDIS_URL,
        RedisServers::Cluster(nodes) if nodes.is_empty() => {
            return Err(invalid(
                var::REDIS_CLUSTER_NODES,
                "",
                "name at least one node of the cluster, e.g. `redis://10.0.0.1:7000,redis://10.0.0.2:7000`",
            ));
        }
        RedisServers::Cluster(_) => var::REDIS_CLUSTER_NODES,
    };
    for url in servers.urls() {
        if let Err(error) = redis::Client::open(url.as_str()) {
            return Err(invalid(variable, &mask_url(url), error));
        }
    }
    Ok(())
}

/// The value of environment variable `variable`, if set.
fn env_var(variable: &'static str) -> Result<Option<String>, ConfigError> {
    match std::env::var(variable) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(value)) => Err(ConfigError::Invalid {
            variable,
            value: value.to_string_lossy().into_owned(),
            reason: "not valid UTF-8".into(),
        }),
    }
}

fn invalid(variable: &'static str, value: &str, reason: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        variable,
        value: value.to_owned(),
        reason: reason.to_string(),
    }
}

fn name(variable: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        Err(invalid(variable, value, "must not be empty"))
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(invalid(variable, value, "must not contain spaces"))
    } else {
        Ok(())
    }
}

fn at_least(variable: &'static str, value: u64, min: u64) -> Result<(), ConfigError> {
    if value < min {
        Err(invalid(variable, &value.to_string(), format!("must be at least {min}")))
    } else {
        Ok(())
    }
}

fn positive(variable: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        Err(invalid(variable, "0s", "must be longer than zero"))
    } else {
        Ok(())
    }
}

/// This machine's host name, or `localhost` when it cannot be read.
fn host_name() -> String {
    let host = gethostname::gethostname();
    let host = host.to_string_lossy();
    let host = host.trim();
    if host.is_empty() {
        "localhost".to_owned()
    } else {
        host.replace(|c: char| c.is_whitespace() || c.is_control(), "-")
    }
}

/// `url` with the password (if any) replaced by `***`, for error messages.
fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split_once(':').map_or("", |(user, _)| user);
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn a_cluster_is_named_by_its_nodes_and_excludes_a_url() {
        let config = from(&[
            (var::SERVICE, "audit"),
            (
                var::REDIS_CLUSTER_NODES,
                " 10.0.0.1:7000, redis://:secret@10.0.0.2:7000 ,",
            ),
        ])
        .expect("valid");
        assert_eq!(
            config.redis(),
            &RedisServers::Cluster(vec![
                "redis://10.0.0.1:7000".to_owned(),
                "redis://:secret@10.0.0.2:7000".to_owned()
            ])
        );
        assert_eq!(
            config.redis_url_redacted(),
            "cluster redis://10.0.0.1:7000,redis://:***@10.0.0.2:7000"
        );
        let both = from(&[
            (var::SERVICE, "audit"),
            (var::REDIS_URL, "redis://127.0.0.1:6379"),
            (var::REDIS_CLUSTER_NODES, "10.0.0.1:7000"),
        ])
        .expect_err("both refused");
        assert!(both.to_string().starts_with("XERPIUM_REDIS_CLUSTER_NODES="), "{both}");
        assert!(both.to_string().contains("not both"), "{both}");
        let none = from(&[(var::SERVICE, "audit"), (var::REDIS_CLUSTER_NODES, " , ")]).expect_err("no node");
        assert!(none.to_string().contains("name at least one node"), "{none}");
        let bad = from(&[(var::SERVICE, "audit"), (var::REDIS_CLUSTER_NODES, "redis://a:b:c:d")]);
        assert!(
            matches!(
                bad,
                Err(ConfigError::Invalid {
                    variable: var::REDIS_CLUSTER_NODES,
                    ..
                })
            ),
            "{bad:?}"
        );
        let replicas = from(&[(var::SERVICE, "audit"), (var::PUBLISH_REPLICAS, "1")]).expect("valid");
        assert_eq!(replicas.publish_replicas(), 1);
    }

    #[test]
    fn defaults_need_only_the_service() {
        let config = from(&[(var::SERVICE, "audit")]).expect("valid");
        assert_eq!(config.redis_url(), DEFAULT_REDIS_URL);
        assert_eq!(config.namespace(), "xerpium");
        assert_eq!(config.group(), "audit");
        assert!(config.consumer().ends_with("-0"), "{}", config.consumer());
        assert_eq!(config.default_policy(), DeliveryPolicy::DEFAULT);
        assert_eq!(config.batch_size(), 100);
        assert_eq!(config.block(), Duration::from_secs(5));
        assert_eq!(config.concurrency(), 16);
        assert_eq!(config.max_in_flight(), 200);
        assert_eq!(config.claim_idle(), Duration::from_secs(60));
        assert_eq!(config.idempotency_ttl(), None);
        assert_eq!(config.publish_timeout(), Duration::from_secs(5));
        assert_eq!(config.start(), StartPosition::New);
    }

    #[test]
    fn every_variable_is_read() {
        let config = from(&[
            (var::SERVICE, "audit"),
            (var::REDIS_URL, "redis://10.0.0.1:7000/2"),
            (var::NAMESPACE, "staging"),
            (var::GROUP, "audit-v2"),
            (var::INSTANCE_ID, "3"),
            (var::START, "0"),
            (var::RETENTION, "2h"),
            (var::MAX_LEN, "10_000"),
            (var::MAX_ATTEMPTS, "7"),
            (var::BACKOFF_FIRST, "250ms"),
            (var::BACKOFF_MAX, "1m"),
            (var::BATCH_SIZE, "50"),
            (var::BLOCK, "2s"),
            (var::CONCURRENCY, "8"),
            (var::MAX_IN_FLIGHT, "64"),
            (var::CLAIM_IDLE, "30s"),
            (var::CONSUMER_EXPIRY, "1h"),
            (var::IDEMPOTENCY_TTL, "7d"),
            (var::PUBLISH_TIMEOUT, "1s 500ms"),
            (var::SHUTDOWN_TIMEOUT, "10s"),
        ])
        .expect("valid");
        assert_eq!(config.redis_url(), "redis://10.0.0.1:7000/2");
        assert_eq!(config.keys().events("user"), "staging:events:user");
        assert_eq!(config.group(), "audit-v2");
        assert!(config.consumer().ends_with("-3"));
        assert_eq!(config.start(), StartPosition::Beginning);
        assert_eq!(
            config.default_policy(),
            DeliveryPolicy {
                max_attempts: 7,
                backoff_first: Duration::from_millis(250),
                backoff_max: Duration::from_secs(60),
                retention: Duration::from_secs(7200),
                max_len: 10_000,
            }
        );
        assert_eq!(config.batch_size(), 50);
        assert_eq!(config.block(), Duration::from_secs(2));
        assert_eq!(config.concurrency(), 8);
        assert_eq!(config.max_in_flight(), 64);
        assert_eq!(config.claim_idle(), Duration::from_secs(30));
        assert_eq!(config.consumer_expiry(), Duration::from_secs(3600));
        assert_eq!(config.idempotency_ttl(), Some(Duration::from_secs(7 * 86400)));
        assert_eq!(config.publish_timeout(), Duration::from_millis(1500));
        assert_eq!(config.shutdown_timeout(), Duration::from_secs(10));
    }

    #[test]
    fn the_consumer_name_is_stable_and_can_be_set() {
        let a = from(&[(var::SERVICE, "audit"), (var::INSTANCE_ID, "7")]).expect("valid");
        let b = from(&[(var::SERVICE, "audit"), (var::INSTANCE_ID, "7")]).expect("valid");
        assert_eq!(a.consumer(), b.consumer());
        let named = from(&[(var::SERVICE, "audit"), (var::CONSUMER, "audit-a")]).expect("valid");
        assert_eq!(named.consumer(), "audit-a");
    }

    #[test]
    fn a_missing_service_is_named() {
        let error = from(&[]).unwrap_err();
        assert!(matches!(
            error,
            ConfigError::Missing {
                variable: var::SERVICE,
                ..
            }
        ));
        assert!(error.to_string().contains("XERPIUM_SERVICE"));
    }

    #[test]
    fn a_tool_needs_no_service() {
        fn vars(service: Option<&'static str>) -> impl Fn(&'static str) -> Result<Option<String>, ConfigError> {
            move |variable| {
                Ok(match variable {
                    var::SERVICE => service.map(str::to_owned),
                    var::REDIS_URL => Some("redis://u:secret@h:1".to_owned()),
                    _ => None,
                })
            }
        }
        let tool = Config::read(vars(None), Some("xerpium-mq")).expect("valid");
        assert_eq!(tool.service(), "xerpium-mq");
        assert_eq!(tool.redis_url_redacted(), "redis://u:***@h:1");
        let service = Config::read(vars(Some("audit")), Some("xerpium-mq")).expect("valid");
        assert_eq!(service.service(), "audit");
        assert!(Config::read(vars(None), None).is_err());
    }

    #[test]
    fn bad_values_name_the_variable_and_the_value() {
        let cases = [
            (var::BLOCK, "5 parsecs"),
            (var::RETENTION, "forever"),
            (var::BATCH_SIZE, "-1"),
            (var::BATCH_SIZE, "0"),
            (var::CONCURRENCY, "many"),
            (var::MAX_ATTEMPTS, "0"),
            (var::START, "latest"),
            (var::REDIS_URL, "http://nope"),
            (var::NAMESPACE, "two words"),
            (var::CLAIM_IDLE, "0s"),
        ];
        for (variable, value) in cases {
            let error = from(&[(var::SERVICE, "audit"), (variable, value)]).unwrap_err();
            let text = error.to_string();
            assert!(text.contains(variable), "{text}");
            match error {
                ConfigError::Invalid { variable: v, .. } => assert_eq!(v, variable),
                other => panic!("{other:?}"),
            }
            if value != "0s" {
                assert!(text.contains(value), "{text}");
            }
        }
    }

    #[test]
    fn backoff_first_may_not_exceed_backoff_max() {
        let error = from(&[
            (var::SERVICE, "audit"),
            (var::BACKOFF_FIRST, "10m"),
            (var::BACKOFF_MAX, "1m"),
        ])
        .unwrap_err();
        assert!(error.to_string().contains("XERPIUM_BACKOFF_MAX"), "{error}");
    }

    #[test]
    fn passwords_are_masked_in_errors() {
        assert_eq!(mask_url("redis://u:secret@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(mask_url("redis://h:1"), "redis://h:1");
        let error = Config::builder("audit")
            .redis_url("foo://u:secret@h")
            .build()
            .unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
