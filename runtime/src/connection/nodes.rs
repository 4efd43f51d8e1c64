//! Reaching every master: the server itself, or each master of a cluster
//! (from its slot map), for what one node cannot answer for all, such as
//! `SCAN` and the eviction policy.

use std::time::Duration;

use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, RedisError, Value};

use super::{Connection, Inner, bounded};

/// One master: `None` stands for the single server of a standalone setup.
pub(super) type Master = Option<(String, u16)>;

/// The masters to ask: the server, or every master of the cluster's slot map.
pub(super) async fn masters(connection: &mut Connection, limit: Duration) -> Result<Vec<Master>, RedisError> {
    if !connection.is_cluster() {
        return Ok(vec![None]);
    }
    let slots: Value = bounded(limit, redis::cmd("CLUSTER").arg("SLOTS").query_async(connection)).await?;
    let mut masters = Vec::new();
    for range in as_array(&slots) {
        // [start, end, [host, port, id, …], replicas…]
        let Some(node) = as_array(range).get(2) else {
            continue;
        };
        if let [host, port, ..] = as_array(node)
            && let (Some(host), Value::Int(port)) = (text(host), port)
            && let Ok(port) = u16::try_from(*port)
        {
            let master = Some((host, port));
            if !masters.contains(&master) {
                masters.push(master);
            }
        }
    }
    masters.sort();
    Ok(masters)
}

/// Sends `command` to `master`.
async fn query_on(connection: &mut Connection, master: &Master, command: &Cmd) -> Result<Value, RedisError> {
    match (&mut connection.inner, master) {
        (Inner::Cluster(cluster), Some((host, port))) => {
            let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                host: host.clone(),
                port: *port,
            });
            cluster.route_command(command.clone(), route).await
        }
        _ => command.query_async(connection).await,
    }
}

/// Every key matching `pattern` (a `SCAN MATCH` glob) of type `kind` (e.g.
/// `stream`) on every master, sorted; each call bounded by `limit`.
pub async fn scan_keys(
    connection: &mut Connection,
    pattern: &str,
    kind: &str,
    limit: Duration,
) -> Result<Vec<String>, RedisError> {
    let mut keys = Vec::new();
    for master in masters(connection, limit).await? {
        let mut cursor = 0u64;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .arg("TYPE")
                .arg(kind);
            let reply = bounded(limit, query_on(connection, &master, &scan)).await?;
            let (next, found): (u64, Vec<String>) = redis::from_redis_value(reply)?;
            keys.extend(found);
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// `command`'s reply from every master, each with the master's address
/// (`host:port`; `None` for the single server of a standalone setup), in
/// address order; each call bounded by `limit`. A master that fails gives
/// its error in its place.
pub async fn on_every_master(
    connection: &mut Connection,
    command: &Cmd,
    limit: Duration,
) -> Result<Vec<(Option<String>, Result<Value, RedisError>)>, RedisError> {
    let mut replies = Vec::new();
    for master in masters(connection, limit).await? {
        let reply = bounded(limit, query_on(connection, &master, command)).await;
        replies.push((master.map(|(host, port)| format!("{host}:{port}")), reply));
    }
    Ok(replies)
}

/// Logs a loud warning when a master may evict keys: eviction silently
/// destroys streams, groups and pending lists. A server that does not allow
/// `CONFIG GET` (managed offerings) or cannot be reached is only noted.
pub(super) async fn warn_if_evicting(connection: &mut Connection, limit: Duration) {
    let mut get = redis::cmd("CONFIG");
    get.arg("GET").arg("maxmemory-policy");
    let replies = match on_every_master(connection, &get, limit).await {
        Ok(replies) => replies,
        Err(error) => return tracing::debug!(%error, "could not list Redis's masters"),
    };
    for (master, reply) in replies {
        let reply = reply.and_then(|reply| Ok(redis::from_redis_value::<Vec<String>>(reply)?));
        let node = master.map_or_else(String::new, |address| format!(" {address}"));
        match reply.as_deref() {
            Ok([_, policy]) if policy != "noeviction" => tracing::warn!(
                maxmemory_policy = %policy,
                "Redis{node} may evict keys under memory pressure (maxmemory-policy is `{policy}`): \
                 eviction silently destroys streams, consumer groups and pending entries; \
                 set `maxmemory-policy noeviction` on this server"
            ),
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "could not read Redis{node}'s maxmemory-policy"),
        }
    }
}

fn as_array(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        _ => &[],
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}
