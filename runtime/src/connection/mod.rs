//! Connections to Redis, a single server or a Redis Cluster behind one
//! type: opening self-healing connections, bounding every call in time,
//! sending pipelines grouped by slot, reaching every master, checking the
//! server at start, and reporting an outage once rather than once per retry.
//!
//! Blocking stream reads hold connections of their own ([`ReadConnection`]),
//! so that nothing else queues behind them.

mod grouped;
mod nodes;
mod outage;
mod reads;
mod resp;
mod socket;
mod writes;

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, Value};

use crate::config::{Config, RedisServers, var};
use crate::error::Error;

pub use grouped::SlotPipeline;
pub(crate) use grouped::{check_replicas, wait_millis};
pub use nodes::{on_every_master, scan_keys};
pub(crate) use outage::Outage;
pub(crate) use reads::ReadConnection;
pub(crate) use writes::{Commands, WriteConnection, Writer};

/// What the commands of a publish are added to: a [`SlotPipeline`] of the
/// redis crate's commands, or [`Commands`] in RESP for a [`WriteConnection`].
pub(crate) trait AddCommands {
    /// Starts command `name` on `key` (which the caller still passes as an
    /// argument where the command takes it).
    fn command(&mut self, key: &str, name: &str) -> &mut Self;

    /// Adds `arg` to the command started last.
    fn arg(&mut self, arg: &[u8]) -> &mut Self;

    /// Adds `number`, in decimal, to the command started last.
    fn number(&mut self, number: u64) -> &mut Self {
        self.arg(itoa::Buffer::new().format(number).as_bytes())
    }
}

/// How long opening a connection to one node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection to the configured Redis, a single server or a cluster, that
/// reconnects by itself after Redis went away (and, on a cluster, follows
/// slots that moved and masters that failed over). Cheap to clone: clones
/// share the connection.
///
/// It is a [`ConnectionLike`], so `redis::cmd(…).query_async(&mut
/// connection)` works on both. On a cluster each command goes to the master
/// of its key's slot; a pipeline must keep to one slot, or be sent with
/// [`query_grouped`].
#[derive(Clone)]
pub struct Connection {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Standalone(ConnectionManager),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.inner {
            Inner::Standalone(_) => "Connection(standalone)",
            Inner::Cluster(_) => "Connection(cluster)",
        })
    }
}

impl Connection {
    /// Opens a connection to `config`'s Redis without waiting for it (the
    /// first command connects), for calls that never block: each reply is
    /// bounded by the publish timeout.
    pub fn open(config: &Config) -> Result<Connection, Error> {
        open(config, config.publish_timeout())
    }

    /// Opens a connection as [`open`](Self::open) does and checks it at
    /// once, for a tool that needs Redis now: fails when Redis does not
    /// answer `PING` within the publish timeout, or is of the other kind than
    /// configured (a cluster node configured as a single server, say).
    pub async fn connect(config: &Config) -> Result<Connection, Error> {
        let mut connection = Connection::open(config)?;
        let limit = config.publish_timeout();
        check_server(&mut connection, config, limit).await?;
        let ping: Result<Value, RedisError> = bounded(limit, redis::cmd("PING").query_async(&mut connection)).await;
        ping.map_err(|source| Error::Unreachable {
            url: config.redis_url_redacted(),
            doing: "connect",
            source,
        })?;
        Ok(connection)
    }

    /// Whether this is a connection to a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.inner, Inner::Cluster(_))
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.inner {
            Inner::Standalone(connection) => connection.req_packed_command(cmd),
            Inner::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.inner {
            Inner::Standalone(connection) => connection.req_packed_commands(pipeline, offset, count),
            Inner::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.inner {
            Inner::Standalone(connection) => connection.get_db(),
            Inner::Cluster(connection) => connection.get_db(),
        }
    }
}

/// Opens a connection to the configured Redis without waiting for it: the
/// first command connects. `response_timeout` bounds each reply, so no
/// blocking read may be sent on it (those have a [`ReadConnection`]).
pub(crate) fn open(config: &Config, response_timeout: Duration) -> Result<Connection, Error> {
    let url_error = |source| Error::RedisUrl {
        url: config.redis_url_redacted(),
        source,
    };
    let inner = match config.redis() {
        RedisServers::Standalone(url) => {
            let client = redis::Client::open(url.as_str()).map_err(url_error)?;
            let settings = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(response_timeout))
                .set_number_of_retries(1)
                .set_min_delay(Duration::from_millis(50))
                .set_max_delay(Duration::from_secs(1));
            Inner::Standalone(ConnectionManager::new_lazy_with_config(client, settings).map_err(url_error)?)
        }
        RedisServers::Cluster(nodes) => {
            // Few, quick retries: a command that fails (a master being
            // failed over) comes back to the runtime, which waits for the
            // cluster with its own backoff and reports the outage.
            let client = ClusterClientBuilder::new(nodes.iter().map(String::as_str))
                .connection_timeout(CONNECT_TIMEOUT)
                .retries(3)
                .min_retry_wait(50)
                .max_retry_wait(1_000)
                .build()
                .map_err(url_error)?;
            let settings = redis::cluster::ClusterConfig::new()
                .set_connection_timeout(CONNECT_TIMEOUT)
                .set_response_timeout(response_timeout);
            Inner::Cluster(client.get_pending_async_connection_with_config(settings))
        }
    };
    Ok(Connection { inner })
}

/// Runs `call`, failing with a timeout error when it takes longer than `limit`.
pub(crate) async fn bounded<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, RedisError> {
    tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
        Err(RedisError::from((
            ErrorKind::Io,
            "no reply from Redis in time",
            format!("{limit:?}"),
        )))
    })
}

/// Whether Redis answered `error` with the error code `code` (e.g. `NOGROUP`).
pub(crate) fn has_code(error: &RedisError, code: &str) -> bool {
    error.code() == Some(code)
}

/// Checks, at start, the Redis that `config` names: fails at once when it is
/// a cluster node but the configuration names a single server, or the other
/// way round (either would only ever fail, or half work, later); warns when
/// a server may evict keys. A Redis that cannot be reached is only noted:
/// the runtime waits for it.
pub(crate) async fn check_server(connection: &mut Connection, config: &Config, limit: Duration) -> Result<(), Error> {
    let mismatch = |found: &str, set: &str, instead_of: &str| Error::RedisMode {
        servers: config.redis_url_redacted(),
        found: found.to_owned(),
        hint: format!("set {set} (e.g. to `{}`) instead of {instead_of}", config.redis_url()),
    };
    if connection.is_cluster() {
        // A server with cluster support disabled refuses `CLUSTER INFO`.
        let info: Result<Value, RedisError> =
            bounded(limit, redis::cmd("CLUSTER").arg("INFO").query_async(connection)).await;
        match info {
            Err(error) if error.to_string().contains("cluster support disabled") => {
                return Err(mismatch(
                    "a server with cluster support disabled",
                    var::REDIS_URL,
                    var::REDIS_CLUSTER_NODES,
                ));
            }
            Err(error) => tracing::debug!(%error, "could not reach the Redis Cluster at start"),
            Ok(_) => {}
        }
    } else {
        let info: Result<String, RedisError> =
            bounded(limit, redis::cmd("INFO").arg("cluster").query_async(connection)).await;
        match info {
            Ok(info) if info.contains("cluster_enabled:1") => {
                return Err(mismatch(
                    "a Redis Cluster node",
                    var::REDIS_CLUSTER_NODES,
                    var::REDIS_URL,
                ));
            }
            Err(error) => tracing::debug!(%error, "could not ask Redis whether it is a cluster node"),
            Ok(_) => {}
        }
    }
    nodes::warn_if_evicting(connection, limit).await;
    Ok(())
}
