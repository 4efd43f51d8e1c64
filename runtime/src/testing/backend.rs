//! [`TestRedis`]: a single server or a cluster behind one type, so that one
//! test's code runs on both.

use std::io;
use std::path::PathBuf;

use super::cluster::query;
use super::{RedisCluster, RedisServer};
use crate::config::ConfigBuilder;

const NOT_A_SERVER: &str = "this test needs a single server, not a cluster";

/// The Redis a test runs on: a single server or a cluster, for tests that
/// must hold on both alike.
#[derive(Debug)]
pub enum TestRedis {
    /// One `redis-server`.
    Standalone(RedisServer),
    /// A cluster of three masters and three replicas.
    Cluster(RedisCluster),
}

impl TestRedis {
    /// Starts a single server.
    pub fn start_standalone() -> io::Result<TestRedis> {
        RedisServer::start().map(TestRedis::Standalone)
    }

    /// Starts a cluster.
    pub fn start_cluster() -> io::Result<TestRedis> {
        RedisCluster::start().map(TestRedis::Cluster)
    }

    /// Whether it is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, TestRedis::Cluster(_))
    }

    /// A configuration for `service` at the production defaults (see
    /// [`RedisServer::config_with_defaults`]).
    pub fn config_with_defaults(&self, service: &str) -> ConfigBuilder {
        match self {
            TestRedis::Standalone(server) => server.config_with_defaults(service),
            TestRedis::Cluster(cluster) => cluster.config_with_defaults(service),
        }
    }

    /// A configuration for `service` with short test timings (see
    /// [`RedisServer::config`]).
    pub fn config(&self, service: &str) -> ConfigBuilder {
        match self {
            TestRedis::Standalone(server) => server.config(service),
            TestRedis::Cluster(cluster) => cluster.config(service),
        }
    }

    /// The single server, for a test of what only a single server does
    /// (its port, its log). Panics on a cluster: such a test does not run
    /// on one.
    pub fn server(&self) -> &RedisServer {
        match self {
            TestRedis::Standalone(server) => server,
            TestRedis::Cluster(_) => panic!("{NOT_A_SERVER}"),
        }
    }

    /// The single server, to restart or kill it; see [`server`](Self::server).
    pub fn server_mut(&mut self) -> &mut RedisServer {
        match self {
            TestRedis::Standalone(server) => server,
            TestRedis::Cluster(_) => panic!("{NOT_A_SERVER}"),
        }
    }

    /// The cluster, for a test of what only a cluster does (failing a
    /// master over, say). Panics on a single server.
    pub fn cluster_mut(&mut self) -> &mut RedisCluster {
        match self {
            TestRedis::Cluster(cluster) => cluster,
            TestRedis::Standalone(_) => panic!("this test needs a cluster, not a single server"),
        }
    }

    /// A directory that lives as long as this Redis, for logs of a test's
    /// own processes: the server's, or the first cluster node's.
    pub fn dir(&self) -> io::Result<PathBuf> {
        match self {
            TestRedis::Standalone(server) => Ok(server.dir().to_owned()),
            TestRedis::Cluster(cluster) => cluster
                .nodes()?
                .into_iter()
                .next()
                .map(|node| node.dir)
                .ok_or_else(|| io::Error::other("the cluster has no node")),
        }
    }

    /// How many clients wait in a blocking command, over every master.
    pub fn blocked_clients(&self) -> io::Result<usize> {
        let ports = match self {
            TestRedis::Standalone(server) => vec![server.port()],
            TestRedis::Cluster(cluster) => cluster.masters()?,
        };
        let mut blocked = 0;
        for port in ports {
            let info: String = query(port, redis::cmd("INFO").arg("clients"))?;
            blocked += info
                .lines()
                .find_map(|line| line.strip_prefix("blocked_clients:"))
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(0);
        }
        Ok(blocked)
    }
}
