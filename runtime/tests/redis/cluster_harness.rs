//! The test cluster itself (`testing::RedisCluster`): every slot served
//! from the start, keys where Redis puts them, failovers that keep
//! replicated writes, a slot moved with its keys while a client writes, and
//! a cluster of one master that the runtime publishes to and consumes from
//! and that fails over to its replica.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use redis::{Connection, ErrorKind, RedisError, ServerErrorKind};
use xerpium_messaging::StartPosition;
use xerpium_messaging::testing::{NodeRole, RedisCluster, TestRedis};

use super::support::{Recorder, eventually, fixture_on, init_tracing, spawn, waiting_for_a_replica};

fn start() -> RedisCluster {
    let started = Instant::now();
    let cluster = RedisCluster::start().expect("the cluster starts");
    eprintln!("RedisCluster::start took {:?}", started.elapsed());
    cluster
}

fn connect(port: u16) -> Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .and_then(|client| client.get_connection())
        .unwrap_or_else(|error| panic!("connecting to {port}: {error}"))
}

fn set(port: u16, key: &str, value: &str) -> Result<(), RedisError> {
    redis::cmd("SET").arg(key).arg(value).query(&mut connect(port))
}

fn get(port: u16, key: &str) -> Result<Option<String>, RedisError> {
    redis::cmd("GET").arg(key).query(&mut connect(port))
}

/// The port a `MOVED` error sends the client to.
fn moved_to(error: RedisError) -> u16 {
    assert_eq!(error.kind(), ErrorKind::Server(ServerErrorKind::Moved), "{error}");
    redirect_port(&error).unwrap_or_else(|| panic!("MOVED names no node: {error}"))
}

/// The port of the node a `MOVED` or `ASK` error names (`MOVED <slot> <host>:<port>`).
fn redirect_port(error: &RedisError) -> Option<u16> {
    let (address, _slot) = error.redirect_node()?;
    address.rsplit_once(':')?.1.parse().ok()
}

#[test]
fn starts_with_three_masters_serving_every_slot_each_with_a_replica() {
    let cluster = start();
    let nodes = cluster.nodes().unwrap();
    assert_eq!(nodes.len(), 6, "{nodes:#?}");
    assert!(
        nodes
            .iter()
            .all(|node| node.running && node.dir.join("nodes.conf").exists())
    );
    assert_eq!(cluster.seed_urls().len(), 6);

    let masters = cluster.masters().unwrap();
    assert_eq!(masters.len(), 3, "{nodes:#?}");
    let mut served = 0;
    let mut replicated = Vec::new();
    for node in &nodes {
        match &node.role {
            NodeRole::Master { slots } => {
                let count: usize = slots
                    .iter()
                    .map(|range| usize::from(range.end() - range.start()) + 1)
                    .sum();
                assert!(count > 5000, "{nodes:#?}");
                served += count;
            }
            NodeRole::Replica { master } => replicated.push(*master),
        }
    }
    assert_eq!(served, 16384);
    replicated.sort_unstable();
    assert_eq!(replicated, masters, "one replica for each master: {nodes:#?}");
    for master in masters {
        let replica = cluster.replica_of(master).unwrap().expect("a replica");
        assert_eq!(
            nodes.iter().find(|node| node.port == replica).map(|node| &node.role),
            Some(&NodeRole::Replica { master })
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_master_cluster_serves_every_slot_carries_events_and_fails_over() {
    init_tracing();
    let started = Instant::now();
    let cluster = RedisCluster::start_with(1, 1).expect("the cluster starts");
    eprintln!("RedisCluster::start_with(1, 1) took {:?}", started.elapsed());
    let nodes = cluster.nodes().unwrap();
    assert_eq!(nodes.len(), 2, "{nodes:#?}");
    assert!(nodes.iter().all(|node| node.running), "{nodes:#?}");
    let [master] = cluster.masters().unwrap()[..] else {
        panic!("not one master: {nodes:#?}")
    };
    let replica = cluster.replica_of(master).unwrap().expect("a replica");
    let role = |port| {
        nodes
            .iter()
            .find(|node| node.port == port)
            .map(|node| node.role.clone())
    };
    assert_eq!(role(master), Some(NodeRole::Master { slots: vec![0..=16383] }));
    assert_eq!(role(replica), Some(NodeRole::Replica { master }));
    for slot in [0, 12182, 16383] {
        assert_eq!(cluster.master_for_slot(slot).unwrap(), master);
    }
    set(master, "foo", "bar").unwrap();
    assert_eq!(moved_to(get(replica, "foo").unwrap_err()), master);

    // Publishes that wait for the replica, and a consumer that handles them.
    let mut f = waiting_for_a_replica(fixture_on(TestRedis::Cluster(cluster)).await).await;
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.start(StartPosition::Beginning));
    f.send_many(20, 4).await;
    eventually("every event is handled", || async { log.done().len() == 20 }).await;
    f.all_acked().await;
    consumer.stop().await;
    let mut handled: Vec<u64> = log.done().iter().map(|call| call.n).collect();
    handled.sort_unstable();
    assert_eq!(handled, (0..20).collect::<Vec<_>>());

    // No other master to elect it: the harness has the replica take over.
    assert_eq!(f.server.cluster_mut().fail_over(master).unwrap(), replica);
    // Replicated before the publishes that waited for the replica.
    assert_eq!(get(replica, "foo").unwrap().as_deref(), Some("bar"));
}

#[test]
fn a_key_lives_on_the_master_of_its_slot() {
    let cluster = start();
    // The examples of the Redis Cluster specification.
    assert_eq!(cluster.slot_for_key("foo").unwrap(), 12182);
    assert_eq!(
        cluster.slot_for_key("{user1000}.following").unwrap(),
        cluster.slot_for_key("{user1000}.followers").unwrap()
    );

    let masters = cluster.masters().unwrap();
    cluster.reset_stats().unwrap();
    for key in ["foo", "bar", "xerpium:events:user", "{user1000}.following"] {
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut connect(masters[0]))
            .unwrap();
        let master = cluster.master_for_key(key).unwrap();
        assert_eq!(master, cluster.master_for_slot(slot).unwrap());
        set(master, key, "value").unwrap();
        for other in masters.iter().filter(|&&port| port != master) {
            assert_eq!(
                moved_to(set(*other, key, "value").unwrap_err()),
                master,
                "{key} from {other}"
            );
        }
    }
    let sets = |port| {
        let stats = cluster.command_stats(port).unwrap();
        stats
            .into_iter()
            .find(|(name, _)| name == "set")
            .map_or(0, |(_, calls)| calls)
    };
    // Each key once, on its master: a SET answered with MOVED is a rejected call, not a call.
    assert_eq!(masters.iter().copied().map(sets).sum::<u64>(), 4);
}

#[test]
fn a_failover_keeps_replicated_writes_and_the_old_master_rejoins_as_replica() {
    let mut cluster = start();
    let key = "failing-over";
    let master = cluster.master_for_key(key).unwrap();
    let replica = cluster.replica_of(master).unwrap().expect("a replica");
    // WAIT on the connection that wrote: it waits for the replica to acknowledge that client's
    // last write (on a connection that wrote nothing it returns at once, whatever was replicated).
    let mut connection = connect(master);
    redis::cmd("SET")
        .arg(key)
        .arg("kept")
        .query::<()>(&mut connection)
        .unwrap();
    let acknowledged: u64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut connection).unwrap();
    assert_eq!(acknowledged, 1, "the replica acknowledges the write");
    drop(connection);

    let started = Instant::now();
    let promoted = cluster.fail_over(master).unwrap();
    eprintln!("fail_over took {:?}", started.elapsed());
    assert_eq!(promoted, replica);
    let masters = cluster.masters().unwrap();
    assert!(masters.contains(&promoted) && !masters.contains(&master), "{masters:?}");
    assert_eq!(cluster.master_for_key(key).unwrap(), promoted);
    assert_eq!(get(promoted, key).unwrap().as_deref(), Some("kept"));

    let started = Instant::now();
    cluster.start_node_again(master).unwrap();
    eprintln!("start_node_again took {:?}", started.elapsed());
    // Every node agrees on it soon after, not necessarily at once on a busy machine.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.replica_of(promoted).unwrap() != Some(master) {
        assert!(
            Instant::now() < deadline,
            "{master} did not rejoin as the replica of {promoted}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(moved_to(get(master, key).unwrap_err()), promoted);
}

#[test]
fn a_manual_failover_swaps_master_and_replica() {
    let cluster = start();
    let master = cluster.masters().unwrap()[0];
    let replica = cluster.replica_of(master).unwrap().expect("a replica");
    let started = Instant::now();
    cluster.manual_failover(replica).unwrap();
    eprintln!("manual_failover took {:?}", started.elapsed());
    let masters = cluster.masters().unwrap();
    assert!(masters.contains(&replica) && !masters.contains(&master), "{masters:?}");
    assert_eq!(cluster.replica_of(replica).unwrap(), Some(master));
}

#[test]
fn a_moved_slot_takes_its_keys_while_a_client_writes() {
    let cluster = start();
    let keys: Vec<String> = (0..250).map(|n| format!("{{moving}}:{n}")).collect();
    let counter = "{moving}:counter";
    let from = cluster.master_for_key(counter).unwrap();
    let to = cluster
        .masters()
        .unwrap()
        .into_iter()
        .find(|&port| port != from)
        .unwrap();
    for key in &keys {
        set(from, key, key).unwrap();
    }

    let stop = AtomicBool::new(false);
    let (increments, redirects) = thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let (mut port, mut increments, mut redirects) = (from, 0, 0);
            while !stop.load(Ordering::Relaxed) {
                redirects += incr_following_redirects(&mut port, counter);
                increments += 1;
            }
            (increments, redirects)
        });
        let started = Instant::now();
        cluster.move_slot_of_key(counter, to).unwrap();
        eprintln!("move_slot took {:?}", started.elapsed());
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap()
    });
    eprintln!("{increments} increments, {redirects} redirects followed");

    assert_eq!(cluster.master_for_key(counter).unwrap(), to);
    assert_eq!(moved_to(get(from, counter).unwrap_err()), to);
    assert_eq!(get(to, counter).unwrap(), Some(increments.to_string()));
    for key in &keys {
        assert_eq!(get(to, key).unwrap().as_ref(), Some(key));
    }
}

/// `INCR key`, following `MOVED` (for good) and `ASK` (for this command) as
/// a cluster client does; returns how many redirects it followed.
fn incr_following_redirects(port: &mut u16, key: &str) -> u32 {
    let mut asked = None;
    for redirects in 0..10 {
        let mut connection = connect(asked.unwrap_or(*port));
        if asked.is_some() {
            redis::cmd("ASKING").query::<()>(&mut connection).unwrap();
        }
        let error = match redis::cmd("INCR").arg(key).query::<i64>(&mut connection) {
            Ok(_) => return redirects,
            Err(error) => error,
        };
        match (error.kind(), redirect_port(&error)) {
            (ErrorKind::Server(ServerErrorKind::Moved), Some(target)) => (*port, asked) = (target, None),
            (ErrorKind::Server(ServerErrorKind::Ask), Some(target)) => asked = Some(target),
            _ => panic!("INCR {key}: {error}"),
        }
    }
    panic!("INCR {key}: redirected ten times")
}
