//! The Redis servers behind the namespace, as the overview shows them: each
//! master's version, memory and eviction policy (`INFO`), and on a cluster
//! every node with its role and link (`CLUSTER NODES`).

use std::time::Duration;

use serde::Serialize;
use xerpium_messaging::connection::{Connection, on_every_master};

/// How long one question to one server may take.
const LIMIT: Duration = Duration::from_secs(5);

/// One master (the server itself, on a standalone setup).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Node {
    /// `host:port`, or `None` for the single server (its URL is the session's).
    pub address: Option<String>,
    /// `redis_version`.
    pub version: Option<String>,
    /// `used_memory_human`.
    pub used_memory: Option<String>,
    /// `maxmemory_human` (`0B`: no limit).
    pub max_memory: Option<String>,
    /// `maxmemory_policy`.
    pub policy: Option<String>,
    /// Why it could not be asked, when it could not.
    pub error: Option<String>,
}

impl Node {
    /// Whether it may evict keys, which destroys streams and groups silently.
    pub fn may_evict(&self) -> bool {
        self.policy.as_deref().is_some_and(|policy| policy != "noeviction")
    }

    /// What is wrong with it, for the problem list.
    pub fn problem(&self) -> Option<String> {
        let name = self.address.as_deref().unwrap_or("the server");
        if let Some(error) = &self.error {
            return Some(format!("Redis {name} did not answer: {error}"));
        }
        self.may_evict().then(|| {
            format!(
                "Redis {name} may evict keys (maxmemory-policy {}): eviction silently destroys streams, \
                 groups and pending entries; set maxmemory-policy noeviction",
                self.policy.as_deref().unwrap_or_default()
            )
        })
    }
}

/// One node of a cluster, as `CLUSTER NODES` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterNode {
    /// `host:port`.
    pub address: String,
    /// Its flags (`master`, `slave`, `myself`, `fail?`, `fail`, …).
    pub flags: String,
    /// `connected` or `disconnected`.
    pub link: String,
    /// The slot ranges it serves (a master's).
    pub slots: String,
}

/// Every master's `INFO`.
pub async fn nodes(connection: &Connection) -> Result<Vec<Node>, redis::RedisError> {
    let mut connection = connection.clone();
    let mut info = redis::cmd("INFO");
    info.arg("server").arg("memory");
    let replies = on_every_master(&mut connection, &info, LIMIT).await?;
    Ok(replies
        .into_iter()
        .map(
            |(address, reply)| match reply.and_then(|reply| Ok(redis::from_redis_value::<String>(reply)?)) {
                Ok(text) => {
                    let field = |name: &str| {
                        text.lines()
                            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                            .map(|value| value.trim().to_owned())
                    };
                    Node {
                        address,
                        version: field("redis_version"),
                        used_memory: field("used_memory_human"),
                        max_memory: field("maxmemory_human"),
                        policy: field("maxmemory_policy"),
                        error: None,
                    }
                }
                Err(error) => Node {
                    address,
                    error: Some(error.to_string()),
                    ..Node::default()
                },
            },
        )
        .collect())
}

/// Every node of the cluster, by address; empty on a standalone server.
pub async fn cluster_nodes(connection: &Connection) -> Result<Vec<ClusterNode>, redis::RedisError> {
    if !connection.is_cluster() {
        return Ok(Vec::new());
    }
    let mut connection = connection.clone();
    let text: String = redis::cmd("CLUSTER").arg("NODES").query_async(&mut connection).await?;
    let mut nodes: Vec<ClusterNode> = text.lines().filter_map(cluster_node).collect();
    nodes.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(nodes)
}

/// One line of `CLUSTER NODES`: `<id> <ip:port@cport[,hostname]> <flags>
/// <master> <ping-sent> <pong-recv> <epoch> <link-state> <slot>…`.
fn cluster_node(line: &str) -> Option<ClusterNode> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    let address = parts.get(1)?.split(['@', ',']).next()?.to_owned();
    Some(ClusterNode {
        address,
        flags: (*parts.get(2)?).to_owned(),
        link: (*parts.get(7)?).to_owned(),
        slots: parts.get(8..).unwrap_or_default().join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_lines_read() {
        let line = "07c3 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460";
        let node = cluster_node(line).expect("a node");
        assert_eq!(node.address, "127.0.0.1:30001");
        assert_eq!(node.flags, "myself,master");
        assert_eq!(node.link, "connected");
        assert_eq!(node.slots, "0-5460");
        let replica = cluster_node("a 127.0.0.1:30004@40004,host slave 07c3 0 1 1 connected").expect("a node");
        assert_eq!(
            (replica.address.as_str(), replica.slots.as_str()),
            ("127.0.0.1:30004", "")
        );
        assert!(cluster_node("garbage").is_none());
    }

    #[test]
    fn eviction_is_a_problem() {
        let node = Node {
            policy: Some("allkeys-lru".into()),
            ..Node::default()
        };
        assert!(node.problem().is_some_and(|problem| problem.contains("allkeys-lru")));
        let fine = Node {
            policy: Some("noeviction".into()),
            ..Node::default()
        };
        assert!(fine.problem().is_none());
    }
}
