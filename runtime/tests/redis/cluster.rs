//! What only a cluster does: a configuration of the wrong kind refused at
//! start, a master failed over and a slot moved while publishers and
//! consumers run, streams spread over the masters. (The delivery tests run
//! on a cluster too: see `on_both!` in the other modules.)

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use xerpium_messaging::testing::{RedisCluster, RedisServer};
use xerpium_messaging::{Config, Consumer, Error, Publish, PublishContext, Publisher, StartPosition, StreamLayout};

use super::support::*;

fn cluster() -> RedisCluster {
    init_tracing();
    RedisCluster::start().expect("the cluster starts")
}

/// What starting a publisher and a consumer with `config` says.
async fn start_errors(config: &Config) -> (String, String) {
    let publisher = Publisher::connect(config)
        .await
        .expect_err("the publisher refuses to start");
    let consumer = Consumer::builder(config)
        .build()
        .expect("valid consumer")
        .run(Recorder::ok(), std::future::pending())
        .await
        .expect_err("the consumer refuses to start");
    for error in [&publisher, &consumer] {
        assert!(matches!(error, Error::RedisMode { .. }), "{error:?}");
    }
    (publisher.to_string(), consumer.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_server_configuration_pointed_at_a_cluster_node_fails_at_once() {
    let cluster = cluster();
    let node = cluster.seed_urls().remove(0);
    let config = Config::builder("svc").redis_url(&node).build().expect("config");
    let (publisher, consumer) = tokio::time::timeout(Duration::from_secs(10), start_errors(&config))
        .await
        .expect("at once, not after retrying");
    assert_eq!(publisher, consumer);
    assert!(publisher.contains("is a Redis Cluster node"), "{publisher}");
    assert!(publisher.contains("set XERPIUM_REDIS_CLUSTER_NODES"), "{publisher}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_configuration_pointed_at_a_single_server_fails_at_once() {
    let server = RedisServer::start().expect("redis-server starts");
    let config = Config::builder("svc")
        .redis_cluster_nodes([server.url()])
        .build()
        .expect("config");
    let (publisher, consumer) = tokio::time::timeout(Duration::from_secs(10), start_errors(&config))
        .await
        .expect("at once, not after retrying");
    assert_eq!(publisher, consumer);
    assert!(publisher.contains("cluster support disabled"), "{publisher}");
    assert!(publisher.contains("set XERPIUM_REDIS_URL"), "{publisher}");
}

/// Publishes pings `offset..offset + count` one by one (subjects `s<n % 16>`)
/// to the 8 partitions of `test`, retrying each until Redis takes it, as a
/// producer that must not lose an event would; returns the acknowledged ones.
async fn publish_steadily(publisher: &Publisher, offset: u64, count: u64, pause: Duration) -> Vec<u64> {
    let mut acknowledged = Vec::new();
    for n in offset..offset + count {
        let ping = Ping::new(format!("s{}", n % 16), n);
        let envelope = publisher.envelope(&ping, &PublishContext::new()).expect("envelope");
        loop {
            match publisher.publish_envelope("test", &envelope, &eight()).await {
                Ok(_) => break,
                Err(error) => {
                    tracing::info!(%error, n, "publish failed; publishing again");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        acknowledged.push(n);
        tokio::time::sleep(pause).await;
    }
    acknowledged
}

fn eight() -> StreamLayout {
    StreamLayout {
        partitions: 8,
        ..StreamLayout::DEFAULT
    }
}

/// Runs two consumers of a partitioned category while `fault` runs on the
/// cluster and a producer publishes 600 events (waiting for a replica on
/// each); checks that every acknowledged event was handled, in order per
/// subject, and nothing is left pending or dead-lettered.
/// `fault` gets the cluster and the keys of the partition streams.
async fn survives(fault: impl FnOnce(&mut RedisCluster, &[String]) + Send + 'static) {
    let f = waiting_for_a_replica(cluster_fixture().await).await;
    let (config, publisher) = (f.config.clone(), f.publisher.clone());
    let recorder = Recorder::new(|_, _| Step::Sleep(Duration::from_millis(1))).partitioned(8);
    let log = recorder.log.clone();
    let a = spawn(&config, recorder.clone(), |b| {
        b.consumer("a").start(StartPosition::Beginning)
    });
    let b = spawn(&config, recorder, |b| b.consumer("b").start(StartPosition::Beginning));
    let first = publish_steadily(&publisher, 0, 200, Duration::from_millis(2)).await;
    let faulted = Arc::new(AtomicBool::new(false));
    let Fixture { server, config: _, .. } = f;
    let mut cluster = match server {
        xerpium_messaging::testing::TestRedis::Cluster(cluster) => cluster,
        xerpium_messaging::testing::TestRedis::Standalone(_) => unreachable!("a cluster fixture"),
    };
    let done = faulted.clone();
    let streams = config.keys().event_streams("test", &eight());
    let keys = streams.clone();
    let chaos = std::thread::spawn(move || {
        fault(&mut cluster, &keys);
        done.store(true, Ordering::SeqCst);
        cluster
    });
    let during = publish_steadily(&publisher, 200, 200, Duration::from_millis(5)).await;
    let cluster = chaos.join().expect("the fault ran");
    assert!(faulted.load(Ordering::SeqCst));
    let after = publish_steadily(&publisher, 400, 200, Duration::from_millis(1)).await;
    let acknowledged: HashSet<u64> = first.into_iter().chain(during).chain(after).collect();
    let redis = xerpium_messaging::connection::Connection::open(&config).expect("connection");
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let handled: HashSet<u64> = log.done_counts().into_keys().collect();
        let missing: Vec<u64> = acknowledged.difference(&handled).copied().collect();
        if missing.is_empty() {
            break;
        }
        if std::time::Instant::now() >= deadline {
            // Where the missing events are: in their streams (pending, or
            // not read), or gone.
            let mut found = Vec::new();
            for stream in &streams {
                for entry in entries(&mut redis.clone(), stream).await {
                    let data = entry.get("data").cloned().unwrap_or_default();
                    if let Ok(ping) = serde_json::from_str::<Ping>(&data)
                        && missing.contains(&ping.n)
                    {
                        found.push((stream.clone(), ping.n));
                    }
                }
            }
            let mut pending_now = Vec::new();
            for stream in &streams {
                let rows: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
                    .arg(stream)
                    .arg("svc")
                    .arg("-")
                    .arg("+")
                    .arg(100)
                    .query_async(&mut redis.clone())
                    .await
                    .expect("XPENDING");
                pending_now.extend(rows.into_iter().map(|row| (stream.clone(), row)));
            }
            panic!("not handled: {missing:?}; in the streams: {found:?}; pending: {pending_now:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eventually("nothing is left pending", || async {
        let mut pending_now = 0;
        for stream in &streams {
            pending_now += pending(&mut redis.clone(), stream, "svc").await;
        }
        pending_now == 0
    })
    .await;
    a.stop().await;
    b.stop().await;
    let duplicates = log.done().len() - log.done_counts().len();
    tracing::info!(duplicates, "handled twice (at-least-once)");
    assert_eq!(log.done_counts().len(), 600, "only what was published is handled");
    // Order per subject, by first handling (a redelivered duplicate may
    // come later: at-least-once).
    for (subject, order) in log.done_in_order() {
        let mut seen = HashSet::new();
        let firsts: Vec<u64> = order.iter().copied().filter(|n| seen.insert(*n)).collect();
        assert!(firsts.windows(2).all(|w| w[0] < w[1]), "subject {subject}: {order:?}");
    }
    let letters = entries(&mut redis.clone(), &config.keys().dead_letters("svc")).await;
    assert!(letters.is_empty(), "{letters:?}");
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_mid_stream_fails_over_and_nothing_acknowledged_is_lost() {
    survives(|cluster, _| {
        let master = cluster.masters().expect("masters")[0];
        cluster.fail_over(master).expect("the replica takes over");
        cluster.start_node_again(master).expect("the old master rejoins");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_moved_under_running_consumers_loses_nothing() {
    survives(|cluster, streams| {
        // Every partition stream that does not live on the first master
        // moves there, one slot at a time.
        let target = cluster.masters().expect("masters")[0];
        let mut moved = 0;
        for stream in streams {
            if cluster.master_for_key(stream).expect("its master") != target {
                cluster.move_slot_of_key(stream, target).expect("the slot moves");
                moved += 1;
            }
        }
        assert!(moved > 0, "the partitions all lived on one master");
    })
    .await;
}

/// A subscription holds a connection to the first configured node; when
/// that node dies (a master failed over), it moves to another node and
/// receives again (what is sent while it moves is missed: fire and forget).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_moves_to_another_node_when_its_node_dies() {
    use xerpium_messaging::{Notification, NotificationTarget, Notifier, Subscriber};
    let mut f = cluster_fixture().await;
    let notifier = Notifier::new(&f.config).expect("notifier");
    let mut ada = Subscriber::new(&f.config)
        .expect("subscriber")
        .subscribe_user("ada", ["admin"])
        .await
        .expect("subscribed");
    let note = |title: &str| Notification {
        kind: "info".into(),
        title: title.into(),
        message: title.into(),
        data: None,
    };
    let target = NotificationTarget::User("ada".into());
    notifier.send(&target, &note("before")).await.expect("sent");
    let first = tokio::time::timeout(PATIENCE, ada.recv())
        .await
        .expect("in time")
        .expect("a notification");
    assert_eq!(first.notification.title, "before");

    // The first seed node, the one the subscription is on, dies.
    let seed_port: u16 = f.config.redis().urls()[0]
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    let cluster = f.server.cluster_mut();
    tokio::task::block_in_place(|| {
        if cluster.masters().expect("masters").contains(&seed_port) {
            cluster.fail_over(seed_port).map(drop)
        } else {
            cluster.kill_node(seed_port)
        }
    })
    .expect("the node is gone");

    // Sent again and again until the moved subscription gets one.
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let _ = notifier.send(&target, &note("after")).await;
        match tokio::time::timeout(Duration::from_millis(200), ada.recv()).await {
            Ok(Some(message)) => {
                assert_eq!(message.notification.title, "after");
                break;
            }
            Ok(None) => panic!("the subscription ended"),
            Err(_) => assert!(
                std::time::Instant::now() < deadline,
                "no notification after the node died"
            ),
        }
    }
}

/// A consumer configured with one node only, the master of the stream it
/// reads: that master dies and its replica takes over. Its reads cannot
/// come back through the configured node, nor the one that served them:
/// they find the new master from the cluster's slot map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_on_when_the_only_configured_node_fails_over() {
    let mut cluster = cluster();
    let stream = cluster
        .config("svc")
        .build()
        .expect("valid config")
        .keys()
        .events("test");
    let master = cluster.master_for_key(&stream).expect("its master");
    let config = cluster
        .config("svc")
        .redis_cluster_nodes(vec![format!("redis://127.0.0.1:{master}")])
        .build()
        .expect("valid config");
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let consumer = spawn(&config, recorder, |b| b.start(StartPosition::Beginning));
    let publisher = publisher(&config).await;
    publisher
        .publish(&Ping::new("s1", 1), &PublishContext::new())
        .await
        .expect("published");
    eventually("the first event is handled", || async { log.done().len() == 1 }).await;
    tokio::task::block_in_place(|| cluster.fail_over(master)).expect("the replica takes over");
    eventually("a publish lands on the new master", || async {
        publisher
            .publish(&Ping::new("s1", 2), &PublishContext::new())
            .await
            .is_ok()
    })
    .await;
    eventually("the event published after the failover is handled", || async {
        log.done().iter().any(|call| call.n == 2)
    })
    .await;
    consumer.stop().await;
}
