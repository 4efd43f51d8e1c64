//! A throw-away Redis Cluster: by default three masters, each with one
//! replica.
//!
//! [`RedisCluster::start`] runs six [`RedisServer`]s in cluster mode, each on
//! a free loopback port whose cluster bus port (10000 above it) is free too
//! and in its own temporary directory, creates the cluster with `redis-cli
//! --cluster create … --cluster-replicas 1`, and returns once it has
//! converged: every running node reports `cluster_state:ok`, they all see the
//! same nodes with the same ids, roles, config epochs and slots, no slot is
//! half moved, and every running replica is linked to its master, done
//! syncing and caught up with it (it has processed everything its master had
//! sent when asked). [`RedisCluster::start_with`] starts any number of
//! masters with any number of replicas each; `redis-cli` creates a cluster
//! of three masters or more only, so the harness assembles a smaller one
//! itself (`CLUSTER ADDSLOTSRANGE`, `MEET`, `REPLICATE`). Killing and
//! restarting nodes, failing a master over (killed, or gracefully) and moving
//! a slot with its keys to another master each wait until the cluster has
//! converged again, or fail after a deadline with what did not converge and
//! the tail of every node's log. Every node is killed when the cluster is
//! dropped.

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use redis::{ConnectionAddr, FromRedisValue, IntoConnectionInfo, RedisConnectionInfo};

use super::{RedisServer, free_port, log_tail};
use crate::Config;
use crate::config::ConfigBuilder;

/// How many slots a cluster has: 0 to 16383.
const SLOTS: usize = 16_384;
/// The fewest masters `redis-cli --cluster create` accepts.
const CLI_MIN_MASTERS: usize = 3;
/// How far above a node's port its cluster bus listens.
const BUS_PORT_OFFSET: u16 = 10_000;
/// How long the cluster may take to converge after a change.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a wait asks the nodes again.
const POLL: Duration = Duration::from_millis(20);
/// How long connecting to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a node may take to answer (longer than a `MIGRATE`).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many keys one `MIGRATE` moves, and how long it may take in milliseconds.
const MIGRATE_BATCH: usize = 100;
const MIGRATE_TIMEOUT_MS: u64 = 5_000;

/// The `redis-server` arguments of a cluster node, on top of [`RedisServer`]'s.
const NODE_ARGS: &[&str] = &[
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    // A node that does not answer for a second is failing; a master's replica then takes over.
    "--cluster-node-timeout",
    "1000",
    // A replica may take over however long it has been cut off from its master.
    "--cluster-replica-validity-factor",
    "0",
    // A full sync goes through an RDB file on disk, not straight to the replica's socket. After a
    // diskless sync the master holds back the command stream until the replica's next
    // `REPLCONF ACK`, and when the replica's first ACK comes before the master has reaped its RDB
    // child (common on a busy machine) that is the once-a-second one: for up to a second the
    // replica then reports `master_link_status:up` and counts for `WAIT` (it acknowledged offset
    // 0), yet receives none of the writes, and a master killed then takes them with it. After a
    // disk-based sync the master streams at once. (Disk-based syncs start without delay, unlike
    // diskless ones, which wait `repl-diskless-sync-delay` for more replicas.)
    "--repl-diskless-sync",
    "no",
];

/// A throw-away Redis Cluster on free loopback ports (three masters and
/// three replicas, unless started with [`start_with`](Self::start_with)),
/// killed when dropped.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

/// One node of a [`RedisCluster`], as [`RedisCluster::nodes`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    /// The node's port on 127.0.0.1.
    pub port: u16,
    /// Its role, as the cluster sees it.
    pub role: NodeRole,
    /// Whether its process runs: it was not killed, or was started again.
    pub running: bool,
    /// Its data directory: `nodes.conf`, the append-only file, `redis.log`.
    pub dir: PathBuf,
}

/// The role of a node in a [`RedisCluster`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRole {
    /// A master serving these slot ranges: none for a master whose replica
    /// took over its slots.
    Master {
        /// The slot ranges it serves, inclusive.
        slots: Vec<RangeInclusive<u16>>,
    },
    /// A replica of the master on this port.
    Replica {
        /// The port of its master.
        master: u16,
    },
}

impl RedisCluster {
    /// Starts three masters with one replica each (six nodes), creates the
    /// cluster and waits until it has converged: [`start_with(3,
    /// 1)`](Self::start_with). Takes about two seconds: a new master keeps
    /// its cluster state `fail` for two seconds after it started.
    pub fn start() -> io::Result<RedisCluster> {
        Self::start_with(3, 1)
    }

    /// Starts `masters` masters with `replicas_per_master` replicas each,
    /// creates the cluster (the nodes started first are the masters, the
    /// slots split evenly over them) and waits until it has converged, as
    /// [`start`](Self::start) does. Three masters or more are created with
    /// `redis-cli --cluster create`; fewer, which it refuses, by the harness:
    /// each master takes its slots (`CLUSTER ADDSLOTSRANGE`) under a config
    /// epoch of its own, every other node meets the first (`CLUSTER MEET`)
    /// and each replica then follows its master (`CLUSTER REPLICATE`). Fails
    /// at once for no master.
    pub fn start_with(masters: usize, replicas_per_master: usize) -> io::Result<RedisCluster> {
        if masters == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a cluster needs at least one master",
            ));
        }
        let count = masters * (1 + replicas_per_master);
        let nodes = (0..count)
            .map(|_| RedisServer::start_on(free_cluster_port, NODE_ARGS))
            .collect::<io::Result<_>>()?;
        let cluster = RedisCluster { nodes };
        if masters >= CLI_MIN_MASTERS {
            cluster.create(replicas_per_master)?;
        } else {
            cluster.assemble(masters)?;
        }
        cluster.wait_for("the new cluster", || cluster.converged())?;
        Ok(cluster)
    }

    /// `redis://127.0.0.1:<port>` of every node, masters and replicas: the
    /// seed URLs of a cluster client.
    pub fn seed_urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// A configuration for `service` on this cluster (every node as a
    /// seed), in a namespace of its own, with every other setting at its
    /// production default.
    pub fn config_with_defaults(&self, service: &str) -> ConfigBuilder {
        Config::builder(service)
            .redis_cluster_nodes(self.seed_urls())
            .namespace(format!("test{}", self.nodes[0].port()))
    }

    /// A configuration for `service` on this cluster, in a namespace of its
    /// own, with the short test timings of [`RedisServer::config`].
    pub fn config(&self, service: &str) -> ConfigBuilder {
        super::quick(self.config_with_defaults(service))
    }

    /// Every node with its role, whether it runs and its directory, as the
    /// first running node that answers sees the cluster.
    pub fn nodes(&self) -> io::Result<Vec<ClusterNode>> {
        let topology = self.topology()?;
        self.nodes
            .iter()
            .map(|server| {
                Ok(ClusterNode {
                    port: server.port(),
                    role: topology.role(topology.node(server.port())?)?,
                    running: server.is_started(),
                    dir: server.dir().to_owned(),
                })
            })
            .collect()
    }

    /// The ports of the masters that serve slots, lowest first. Asks the
    /// cluster: a failover changes them (a killed master counts until its
    /// replica has taken over).
    pub fn masters(&self) -> io::Result<Vec<u16>> {
        Ok(self.topology()?.masters().map(NodeEntry::port).collect())
    }

    /// The port of a running replica of the master on `master_port`, if it
    /// has one.
    pub fn replica_of(&self, master_port: u16) -> io::Result<Option<u16>> {
        let topology = self.topology()?;
        let master_id = &topology.node(master_port)?.config.id;
        Ok(topology
            .nodes
            .iter()
            .filter(|node| node.config.master_id.as_ref() == Some(master_id))
            .map(NodeEntry::port)
            .find(|&port| self.server(port).is_ok_and(RedisServer::is_started)))
    }

    /// The slot of `key`, as the cluster computes it (`CLUSTER KEYSLOT`: the
    /// CRC16 of the key, or of its `{hash tag}`, modulo 16384).
    pub fn slot_for_key(&self, key: &str) -> io::Result<u16> {
        self.ask(redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))
    }

    /// The port of the master that serves `slot`.
    pub fn master_for_slot(&self, slot: u16) -> io::Result<u16> {
        Ok(self.topology()?.master_for_slot(slot)?.port())
    }

    /// The port of the master that serves the slot of `key`.
    pub fn master_for_key(&self, key: &str) -> io::Result<u16> {
        self.master_for_slot(self.slot_for_key(key)?)
    }

    /// Kills the node on `port` at once (`SIGKILL`), as a crash would. The
    /// others notice within the node timeout (1 s); the replica of a killed
    /// master takes over soon after, unless it is started again first.
    pub fn kill_node(&mut self, port: u16) -> io::Result<()> {
        self.server_mut(port)?.kill()
    }

    /// Starts the node on `port` again, on the same port and data, after
    /// [`kill_node`](Self::kill_node) or [`fail_over`](Self::fail_over),
    /// and waits until it has rejoined and the cluster converged. A master
    /// whose replica took over rejoins as the replica of its old replica.
    pub fn start_node_again(&mut self, port: u16) -> io::Result<()> {
        self.server_mut(port)?.start_again()?;
        self.wait_for(&format!("node {port} rejoining"), || self.converged())
            .map(drop)
    }

    /// Kills the master on `master_port` (`SIGKILL`) and waits until its
    /// replica has taken over and the cluster is ok again everywhere;
    /// returns the port of the new master. The killed node stays down until
    /// [`start_node_again`](Self::start_node_again). As in a crash, a write
    /// the replica had not received yet is lost: a test that needs a write
    /// to survive sends `WAIT` after it on the same connection (on another,
    /// which wrote nothing, `WAIT` waits for nothing). In a cluster of
    /// fewer than three masters the others cannot elect the replica (they
    /// are no majority of the masters): it is told to take over without a
    /// vote (`CLUSTER FAILOVER TAKEOVER`), as an operator would.
    pub fn fail_over(&mut self, master_port: u16) -> io::Result<u16> {
        let replica = self
            .replica_of(master_port)?
            .ok_or_else(|| io::Error::other(format!("node {master_port} has no running replica to fail over to")))?;
        let masters = self.masters()?.len();
        self.kill_node(master_port)?;
        if masters - 1 <= masters / 2 {
            let () = query(replica, redis::cmd("CLUSTER").arg("FAILOVER").arg("TAKEOVER"))?;
        }
        self.wait_for(
            &format!("replica {replica} taking over from the killed master {master_port}"),
            || self.converged()?.check_serving_master(replica),
        )?;
        Ok(replica)
    }

    /// Hands the slots of the master of the replica on `replica_port` over
    /// to that replica gracefully (`CLUSTER FAILOVER`: the master stops
    /// writes until its replica has caught up), and waits until the replica
    /// is the master, the old master its replica, and the cluster converged.
    pub fn manual_failover(&self, replica_port: u16) -> io::Result<()> {
        let topology = self.topology()?;
        let master = topology.master_of(topology.node(replica_port)?)?.port();
        let () = query(replica_port, redis::cmd("CLUSTER").arg("FAILOVER"))?;
        self.wait_for(
            &format!("replica {replica_port} taking over from master {master}"),
            || {
                let topology = self.converged()?;
                topology.check_serving_master(replica_port)?;
                if topology.master_of(topology.node(master)?)?.port() == replica_port {
                    Ok(())
                } else {
                    Err(io::Error::other(format!(
                        "node {master} is not yet a replica of {replica_port}"
                    )))
                }
            },
        )
    }

    /// Moves `slot` with its keys to the master on `to_master_port` while
    /// clients run, as `redis-cli --cluster reshard` does: the target
    /// imports the slot, its master migrates it, `MIGRATE` moves the keys in
    /// batches (meanwhile clients get `ASK` for keys already moved, `MOVED`
    /// once it is done) and every master learns the new owner. Waits until
    /// every node agrees. Nothing to do when the target serves it already.
    pub fn move_slot(&self, slot: u16, to_master_port: u16) -> io::Result<()> {
        let topology = self.wait_for(&format!("the cluster before moving slot {slot}"), || self.converged())?;
        let source = topology.master_for_slot(slot)?;
        let target = topology.node(to_master_port)?;
        if target.config.master_id.is_some() {
            return Err(io::Error::other(format!("node {to_master_port} is not a master")));
        }
        if source.port() == target.port() {
            return Ok(());
        }
        let set_slot = |port: u16, state: &str, id: &str| -> io::Result<()> {
            query(port, redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg(state).arg(id))
        };
        set_slot(target.port(), "IMPORTING", &source.config.id)?;
        set_slot(source.port(), "MIGRATING", &target.config.id)?;
        loop {
            let keys: Vec<Vec<u8>> = query(
                source.port(),
                redis::cmd("CLUSTER").arg("GETKEYSINSLOT").arg(slot).arg(MIGRATE_BATCH),
            )?;
            if keys.is_empty() {
                break;
            }
            let _: String = query(
                source.port(),
                redis::cmd("MIGRATE")
                    .arg("127.0.0.1")
                    .arg(target.port())
                    .arg("")
                    .arg(0)
                    .arg(MIGRATE_TIMEOUT_MS)
                    .arg("KEYS")
                    .arg(&keys),
            )?;
        }
        // The new owner first: told first, the old one would send clients
        // with MOVED to a node that does not serve the slot yet, and that one
        // back. The replicas learn the owner from their masters.
        let others = topology.masters().map(NodeEntry::port);
        let masters = [target.port(), source.port()]
            .into_iter()
            .chain(others.filter(|&port| port != target.port() && port != source.port()));
        for port in masters {
            set_slot(port, "NODE", &target.config.id)?;
        }
        self.wait_for(&format!("slot {slot} moving to {to_master_port}"), || {
            let owner = self.converged()?.master_for_slot(slot)?.port();
            if owner == to_master_port {
                Ok(())
            } else {
                Err(io::Error::other(format!("slot {slot} is still served by {owner}")))
            }
        })
    }

    /// Moves the slot of `key` with its keys to the master on
    /// `to_master_port`: see [`move_slot`](Self::move_slot).
    pub fn move_slot_of_key(&self, key: &str, to_master_port: u16) -> io::Result<()> {
        self.move_slot(self.slot_for_key(key)?, to_master_port)
    }

    /// The calls per command on the node on `port` since it started or since
    /// [`reset_stats`](Self::reset_stats), from `INFO commandstats`, by
    /// command name (lower case, subcommands as in `cluster|nodes`). The
    /// harness's own `INFO` and `CLUSTER` calls count too.
    pub fn command_stats(&self, port: u16) -> io::Result<Vec<(String, u64)>> {
        let info: String = query(port, redis::cmd("INFO").arg("commandstats"))?;
        Ok(info
            .lines()
            .filter_map(|line| {
                let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls = stats.split(',').find_map(|stat| stat.strip_prefix("calls="))?;
                Some((name.to_owned(), calls.parse().ok()?))
            })
            .collect())
    }

    /// Resets the statistics of every running node (`CONFIG RESETSTAT`),
    /// masters and replicas.
    pub fn reset_stats(&self) -> io::Result<()> {
        self.running()
            .try_for_each(|server| query(server.port(), redis::cmd("CONFIG").arg("RESETSTAT")))
    }

    /// `redis-cli --cluster create` over all nodes, `replicas` for each
    /// master: the first `nodes / (replicas + 1)` become masters with an
    /// equal share of the slots, the others their replicas. Its output goes
    /// to `cluster-create.log` in the first node's directory.
    fn create(&self, replicas: usize) -> io::Result<()> {
        let log_path = self.nodes[0].dir().join("cluster-create.log");
        let log = File::create(&log_path)?;
        let mut child = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(self.nodes.iter().map(|server| format!("127.0.0.1:{}", server.port())))
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|error| io::Error::new(error.kind(), format!("cannot run redis-cli: {error}")))?;
        let deadline = Instant::now() + CONVERGE_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("redis-cli --cluster create did not finish: {}", log_tail(&log_path)),
                ));
            }
            thread::sleep(POLL);
        };
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "redis-cli --cluster create failed ({status}): {}",
                log_tail(&log_path)
            )))
        }
    }

    /// Makes a cluster of the first `masters` nodes as masters and the
    /// others as their replicas, in turn (the first replica follows the first
    /// master, the next the next), without `redis-cli`: each master takes its
    /// share of the slots under config epoch 1, 2, … (as `redis-cli` sets
    /// them: the masters must not share one), every other node meets the
    /// first, and each replica follows its master once it has learned of it.
    fn assemble(&self, masters: usize) -> io::Result<()> {
        let (leaders, followers) = self.nodes.split_at(masters);
        for (at, master) in leaders.iter().enumerate() {
            let (first, last) = (at * SLOTS / masters, (at + 1) * SLOTS / masters - 1);
            let () = query(master.port(), redis::cmd("CLUSTER").arg("SET-CONFIG-EPOCH").arg(at + 1))?;
            let () = query(
                master.port(),
                redis::cmd("CLUSTER").arg("ADDSLOTSRANGE").arg(first).arg(last),
            )?;
        }
        let first = self.nodes[0].port();
        for node in &self.nodes[1..] {
            let () = query(
                node.port(),
                redis::cmd("CLUSTER")
                    .arg("MEET")
                    .arg(Ipv4Addr::LOCALHOST.to_string())
                    .arg(first),
            )?;
        }
        for (replica, master) in followers.iter().zip(leaders.iter().cycle()) {
            let id: String = query(master.port(), redis::cmd("CLUSTER").arg("MYID"))?;
            // Once only: told again, a replica drops its link and syncs anew.
            self.wait_for(
                &format!("node {} learning of its master {}", replica.port(), master.port()),
                || query::<()>(replica.port(), redis::cmd("CLUSTER").arg("REPLICATE").arg(&id)),
            )?;
        }
        Ok(())
    }

    /// The topology every running node agrees on, once the cluster has
    /// converged (see the module's documentation); otherwise an error that
    /// says what has not.
    fn converged(&self) -> io::Result<Topology> {
        let mut ports: Vec<u16> = self.nodes.iter().map(RedisServer::port).collect();
        ports.sort_unstable();
        let mut agreed: Option<(u16, Topology)> = None;
        for server in self.running() {
            let port = server.port();
            let info: String = query(port, redis::cmd("CLUSTER").arg("INFO"))?;
            let state = info_field(&info, "cluster_state").unwrap_or("?");
            if state != "ok" {
                return Err(io::Error::other(format!("node {port} reports cluster_state:{state}")));
            }
            let view = Topology::parse(&query::<String>(port, redis::cmd("CLUSTER").arg("NODES"))?)?;
            let seen: Vec<u16> = view.nodes.iter().map(NodeEntry::port).collect();
            if seen != ports {
                return Err(io::Error::other(format!(
                    "node {port} knows the nodes {seen:?}, not {ports:?}"
                )));
            }
            for node in &view.nodes {
                if node.failing && self.server(node.port()).is_ok_and(RedisServer::is_started) {
                    return Err(io::Error::other(format!(
                        "node {port} sees the running node {} failing",
                        node.port()
                    )));
                }
                if node.moving_slot {
                    return Err(io::Error::other(format!("node {} has a slot half moved", node.port())));
                }
            }
            if view.myself()?.config.master_id.is_some() {
                let replication: String = query(port, redis::cmd("INFO").arg("replication"))?;
                for (field, expected) in [("master_link_status", "up"), ("master_sync_in_progress", "0")] {
                    let value = info_field(&replication, field).unwrap_or("?");
                    if value != expected {
                        return Err(io::Error::other(format!("replica {port} has {field}:{value}")));
                    }
                }
            }
            match &agreed {
                None => agreed = Some((port, view)),
                Some((first, topology)) => {
                    let differ = topology
                        .nodes
                        .iter()
                        .zip(&view.nodes)
                        .find(|(a, b)| a.config != b.config);
                    if let Some((a, b)) = differ {
                        return Err(io::Error::other(format!(
                            "nodes {first} and {port} disagree: {:?} against {:?}",
                            a.config, b.config
                        )));
                    }
                }
            }
        }
        let (_, topology) = agreed.ok_or_else(|| io::Error::other("no node of the cluster is running"))?;
        for replica in &topology.nodes {
            if replica.config.master_id.is_some() && self.server(replica.port()).is_ok_and(RedisServer::is_started) {
                check_caught_up(topology.master_of(replica)?.port(), replica.port())?;
            }
        }
        Ok(topology)
    }

    /// Calls `probe` until it succeeds; after [`CONVERGE_TIMEOUT`], fails
    /// with `what` was awaited, why the last probe failed, and the state and
    /// log tail of every node.
    fn wait_for<T>(&self, what: &str, mut probe: impl FnMut() -> io::Result<T>) -> io::Result<T> {
        let deadline = Instant::now() + CONVERGE_TIMEOUT;
        loop {
            match probe() {
                Ok(value) => return Ok(value),
                Err(error) if Instant::now() >= deadline => {
                    let nodes: String = self
                        .nodes
                        .iter()
                        .map(|server| {
                            let state = if server.is_started() { "running" } else { "killed" };
                            let log = log_tail(&server.dir().join("redis.log"));
                            format!(
                                "\n  node {} ({state}, {}): {log}",
                                server.port(),
                                server.dir().display()
                            )
                        })
                        .collect();
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{what}: not converged after {CONVERGE_TIMEOUT:?}: {error}{nodes}"),
                    ));
                }
                Err(_) => thread::sleep(POLL),
            }
        }
    }

    /// The cluster as the first running node that answers sees it.
    fn topology(&self) -> io::Result<Topology> {
        Topology::parse(&self.ask::<String>(redis::cmd("CLUSTER").arg("NODES"))?)
    }

    /// Sends `command` to the running nodes in turn until one answers.
    fn ask<T: FromRedisValue>(&self, command: &redis::Cmd) -> io::Result<T> {
        let mut last_error = io::Error::other("no node of the cluster is running");
        for server in self.running() {
            match query(server.port(), command) {
                Ok(reply) => return Ok(reply),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    fn running(&self) -> impl Iterator<Item = &RedisServer> {
        self.nodes.iter().filter(|server| server.is_started())
    }

    fn server(&self, port: u16) -> io::Result<&RedisServer> {
        self.nodes
            .iter()
            .find(|server| server.port() == port)
            .ok_or_else(|| no_such_node(port))
    }

    fn server_mut(&mut self, port: u16) -> io::Result<&mut RedisServer> {
        self.nodes
            .iter_mut()
            .find(|server| server.port() == port)
            .ok_or_else(|| no_such_node(port))
    }
}

/// The cluster as one node sees it (`CLUSTER NODES`), its nodes by port.
#[derive(Debug)]
struct Topology {
    nodes: Vec<NodeEntry>,
}

/// One line of `CLUSTER NODES`.
#[derive(Debug)]
struct NodeEntry {
    /// What every node must agree on.
    config: NodeConfig,
    /// Flagged `fail` or `fail?` (possibly failing, in this node's view).
    failing: bool,
    /// The line of the node that answered.
    myself: bool,
    /// One of its slots is being imported or migrated.
    moving_slot: bool,
}

/// What the nodes of a converged cluster agree on about one node.
#[derive(Debug, PartialEq)]
struct NodeConfig {
    port: u16,
    id: String,
    /// The id of its master, for a replica.
    master_id: Option<String>,
    /// Its config epoch (its master's, for a replica).
    epoch: u64,
    slots: Vec<RangeInclusive<u16>>,
}

impl Topology {
    fn parse(cluster_nodes: &str) -> io::Result<Topology> {
        let mut nodes = cluster_nodes
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(NodeEntry::parse)
            .collect::<io::Result<Vec<_>>>()?;
        nodes.sort_unstable_by_key(NodeEntry::port);
        Ok(Topology { nodes })
    }

    fn node(&self, port: u16) -> io::Result<&NodeEntry> {
        self.nodes
            .iter()
            .find(|node| node.port() == port)
            .ok_or_else(|| no_such_node(port))
    }

    fn myself(&self) -> io::Result<&NodeEntry> {
        self.nodes
            .iter()
            .find(|node| node.myself)
            .ok_or_else(|| io::Error::other("CLUSTER NODES has no line flagged myself"))
    }

    /// The masters that serve slots.
    fn masters(&self) -> impl Iterator<Item = &NodeEntry> {
        self.nodes
            .iter()
            .filter(|node| node.config.master_id.is_none() && !node.config.slots.is_empty())
    }

    fn master_for_slot(&self, slot: u16) -> io::Result<&NodeEntry> {
        self.masters()
            .find(|node| node.config.slots.iter().any(|range| range.contains(&slot)))
            .ok_or_else(|| io::Error::other(format!("no master serves slot {slot}")))
    }

    fn master_of(&self, replica: &NodeEntry) -> io::Result<&NodeEntry> {
        let master_id = replica
            .config
            .master_id
            .as_ref()
            .ok_or_else(|| io::Error::other(format!("node {} is not a replica", replica.port())))?;
        self.nodes
            .iter()
            .find(|node| &node.config.id == master_id)
            .ok_or_else(|| io::Error::other(format!("no node has the id {master_id}")))
    }

    fn role(&self, node: &NodeEntry) -> io::Result<NodeRole> {
        Ok(match node.config.master_id {
            None => NodeRole::Master {
                slots: node.config.slots.clone(),
            },
            Some(_) => NodeRole::Replica {
                master: self.master_of(node)?.port(),
            },
        })
    }

    fn check_serving_master(&self, port: u16) -> io::Result<()> {
        if self.masters().any(|node| node.port() == port) {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "node {port} is not yet a master serving slots"
            )))
        }
    }
}

impl NodeEntry {
    /// Parses `<id> <ip:port@bus-port[,hostname]> <flags> <master> <ping-sent>
    /// <pong-received> <config-epoch> <link-state> <slot>…`, where a slot is
    /// `first-last`, `slot`, or `[slot->-id]`/`[slot-<-id]` while it moves.
    fn parse(line: &str) -> io::Result<NodeEntry> {
        let unexpected = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected CLUSTER NODES line: {line}"),
            )
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [id, address, flags, master, _, _, epoch, _, slots @ ..] = fields.as_slice() else {
            return Err(unexpected());
        };
        let port = address
            .split('@')
            .next()
            .and_then(|host_port| host_port.rsplit_once(':'))
            .and_then(|(_, port)| port.parse().ok())
            .ok_or_else(unexpected)?;
        let mut ranges = Vec::new();
        let mut moving_slot = false;
        for slot in slots {
            if slot.starts_with('[') {
                moving_slot = true;
                continue;
            }
            let (first, last) = slot.split_once('-').unwrap_or((slot, slot));
            let first = first.parse().map_err(|_| unexpected())?;
            let last = last.parse().map_err(|_| unexpected())?;
            ranges.push(first..=last);
        }
        let flags: Vec<&str> = flags.split(',').collect();
        Ok(NodeEntry {
            config: NodeConfig {
                port,
                id: (*id).to_owned(),
                master_id: (*master != "-").then(|| (*master).to_owned()),
                epoch: epoch.parse().map_err(|_| unexpected())?,
                slots: ranges,
            },
            failing: flags.contains(&"fail") || flags.contains(&"fail?"),
            myself: flags.contains(&"myself"),
            moving_slot,
        })
    }

    fn port(&self) -> u16 {
        self.config.port
    }
}

/// Sends `command` to the node on `port` on a connection of its own and
/// returns the reply.
pub(super) fn query<T: FromRedisValue>(port: u16, command: &redis::Cmd) -> io::Result<T> {
    let on_node = |error: redis::RedisError| io::Error::other(format!("node {port}: {error}"));
    // Without the client's `CLIENT SETINFO`, which would count in the command statistics.
    let info = ConnectionAddr::Tcp(Ipv4Addr::LOCALHOST.to_string(), port)
        .into_connection_info()
        .map_err(on_node)?
        .set_redis_settings(RedisConnectionInfo::default().set_skip_set_lib_name());
    let client = redis::Client::open(info).map_err(on_node)?;
    let mut connection = client.get_connection_with_timeout(CONNECT_TIMEOUT).map_err(on_node)?;
    connection.set_read_timeout(Some(REPLY_TIMEOUT)).map_err(on_node)?;
    command.query(&mut connection).map_err(on_node)
}

/// Whether the replica on `replica_port` has processed everything its master
/// on `master_port` had sent to it when asked (the master first). Offsets
/// cannot show a stream the master holds back while there is nothing to
/// send: the disk-based full sync of [`NODE_ARGS`] avoids that.
fn check_caught_up(master_port: u16, replica_port: u16) -> io::Result<()> {
    let offset = |port: u16, field: &str| -> io::Result<u64> {
        let replication: String = query(port, redis::cmd("INFO").arg("replication"))?;
        info_field(&replication, field)
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| io::Error::other(format!("node {port} reports no {field}")))
    };
    let sent = offset(master_port, "master_repl_offset")?;
    let processed = offset(replica_port, "slave_repl_offset")?;
    if processed >= sent {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "replica {replica_port} has processed its master {master_port}'s replication stream up to \
             offset {processed}, not {sent}"
        )))
    }
}

/// The value of `field` in an `INFO`-style reply of `field:value` lines.
fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .map(str::trim)
}

fn no_such_node(port: u16) -> io::Error {
    io::Error::other(format!("the cluster has no node on port {port}"))
}

/// A free loopback port whose cluster bus port is free too (so at most
/// 65535 - 10000).
fn free_cluster_port() -> io::Result<u16> {
    for _ in 0..100 {
        let port = free_port()?;
        let bus_free = port
            .checked_add(BUS_PORT_OFFSET)
            .is_some_and(|bus| TcpListener::bind((Ipv4Addr::LOCALHOST, bus)).is_ok());
        if bus_free {
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrNotAvailable,
        "no free loopback port with a free cluster bus port",
    ))
}
