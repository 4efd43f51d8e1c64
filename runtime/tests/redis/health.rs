//! Heartbeats and the health monitor: instances up, stale and stopped; a
//! stuck consumer; lag, pending and dead-letter figures.

use std::time::Duration;

use xerpium_messaging::health::{GroupHealth, InstanceState, Status, SystemHealth};
use xerpium_messaging::{HealthMonitor, Heartbeat, StartPosition};

use super::support::*;

// On a single server and on a cluster, the same code.
on_both!(
    heartbeats_appear_and_go_stale_when_a_service_stops,
    lag_figures_match_what_was_published_and_acked,
    streams_are_described,
);

fn monitor(f: &Fixture) -> HealthMonitor {
    HealthMonitor::new(&f.config).expect("monitor")
}

/// A fast heartbeat for instance `instance` of the test service.
fn beat(f: &Fixture, instance: &str) -> xerpium_messaging::health::HeartbeatBuilder {
    Heartbeat::builder(&f.config)
        .instance(instance)
        .version("1.2.3")
        .interval(Duration::from_millis(100))
        .ttl(Duration::from_millis(400))
}

async fn check(monitor: &HealthMonitor) -> SystemHealth {
    monitor.check().await.expect("health check")
}

fn state_of(health: &SystemHealth, instance: &str) -> Option<(InstanceState, Status)> {
    health
        .instances
        .iter()
        .find(|i| i.report.instance == instance)
        .map(|i| (i.state, i.report.status))
}

fn group<'a>(health: &'a SystemHealth, group: &str) -> &'a GroupHealth {
    health
        .groups
        .iter()
        .find(|g| g.group == group)
        .unwrap_or_else(|| panic!("group {group} in {:?}", health.groups))
}

async fn heartbeats_appear_and_go_stale_when_a_service_stops(f: Fixture) {
    let monitor = monitor(&f);
    let crashing = beat(&f, "svc-a").start().expect("heartbeat a");
    let stopping = beat(&f, "svc-b").start().expect("heartbeat b");
    eventually("both instances are up and healthy", || async {
        let health = check(&monitor).await;
        state_of(&health, "svc-a") == Some((InstanceState::Up, Status::Healthy))
            && state_of(&health, "svc-b") == Some((InstanceState::Up, Status::Healthy))
    })
    .await;
    let health = check(&monitor).await;
    assert!(health.is_healthy(), "{:?}", health.problems());
    let report = &health.instances[0].report;
    assert_eq!((report.service.as_str(), report.version.as_str()), ("svc", "1.2.3"));
    assert_eq!(report.checks[0].name, "redis");
    assert!(report.checks[0].ok);
    let latest = crashing.latest().expect("a local report");
    assert_eq!(latest.status, Status::Healthy);

    let key = f.config.keys().health_instance("svc", "svc-a");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut f.redis.clone())
        .await
        .expect("PTTL");
    assert!((1..=400).contains(&ttl), "the key expires: {ttl}");
    assert!(len(&mut f.redis.clone(), &f.config.keys().health_stream()).await >= 2);

    drop(crashing);
    stopping.stop().await;
    let health = check(&monitor).await;
    assert_eq!(
        state_of(&health, "svc-b"),
        Some((InstanceState::Stopped, Status::Stopped))
    );
    eventually("the crashed instance goes stale", || async {
        state_of(&check(&monitor).await, "svc-a").map(|(state, _)| state) == Some(InstanceState::Stale)
    })
    .await;
    let health = check(&monitor).await;
    assert!(!health.is_healthy());
    let problems = health.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("svc/svc-a is stale: no heartbeat for"),
        "{problems:?}"
    );

    let forgetful = HealthMonitor::new(&f.config)
        .expect("monitor")
        .forget_after(Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        check(&forgetful).await.instances.is_empty(),
        "old instances are forgotten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_consumer_is_reported_unhealthy() {
    let f = fixture().await;
    let monitor = monitor(&f);
    let recorder = Recorder::new(|ping, _| if ping.n == 1 { Step::Hang } else { Step::Done });
    let log = recorder.log.clone();
    let consumer = xerpium_messaging::Consumer::builder(&f.config)
        .start(StartPosition::Beginning)
        .build()
        .expect("consumer");
    let heartbeat = beat(&f, "svc-a")
        .watch(consumer.progress())
        .stall_after(Duration::from_millis(300))
        .start()
        .expect("heartbeat");
    let progress = consumer.progress();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(consumer.run(recorder, async move {
        let _ = stopped.await;
    }));
    f.send("s0", 0).await;
    eventually("the first event is handled", || async { log.done().len() == 1 }).await;
    eventually("the instance reports a healthy consumer", || async {
        let health = check(&monitor).await;
        let up = state_of(&health, "svc-a") == Some((InstanceState::Up, Status::Healthy));
        up && health.instances[0]
            .report
            .checks
            .iter()
            .any(|c| c.detail.contains("settled 1"))
    })
    .await;

    f.send("s1", 1).await;
    eventually("the instance reports the stuck consumer", || async {
        state_of(&check(&monitor).await, "svc-a") == Some((InstanceState::Up, Status::Unhealthy))
    })
    .await;
    let health = check(&monitor).await;
    let failing: Vec<_> = health.instances[0].report.failing().cloned().collect();
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert_eq!(failing[0].name, format!("consumer svc/{}", f.config.consumer()));
    assert!(
        failing[0]
            .detail
            .starts_with("stuck: holds 1 entries and has settled none for"),
        "{}",
        failing[0].detail
    );
    assert_eq!(heartbeat.latest().map(|r| r.status), Some(Status::Unhealthy));
    assert_eq!(progress.held(), 1);
    let problems = health.problems();
    assert!(problems[0].starts_with("svc/svc-a: consumer svc/"), "{problems:?}");

    task.abort();
    let _ = task.await;
    drop(stop);
    eventually("a consumer that is gone is reported", || async {
        heartbeat
            .latest()
            .is_some_and(|r| r.checks.iter().any(|c| c.detail == "stopped"))
    })
    .await;
    heartbeat.stop().await;
}

async fn lag_figures_match_what_was_published_and_acked(f: Fixture) {
    let monitor = monitor(&f);
    f.create_group().await;
    f.send_many(10, 10).await;
    read_as(&f, "c1", 4).await;
    let held = pending_entries(&mut f.redis.clone(), &f.stream, "svc").await;
    let _: u64 = redis::cmd("XACK")
        .arg(&f.stream)
        .arg("svc")
        .arg(&held[0])
        .query_async(&mut f.redis.clone())
        .await
        .expect("XACK");
    let mail = Recorder::new(|ping, _| if ping.n % 5 == 0 { Step::Permanent } else { Step::Done });
    let mail_log = mail.log.clone();
    let consumer = spawn(&f.config, mail, |b| b.group("mail").start(StartPosition::Beginning));
    eventually("group mail handled everything", || async {
        mail_log.started().len() == 10
    })
    .await;
    eventually("group mail acked everything", || async {
        pending(&mut f.redis.clone(), &f.stream, "mail").await == 0
    })
    .await;
    consumer.stop().await;

    let health = check(&monitor).await;
    let svc = group(&health, "svc");
    assert_eq!(svc.stream, f.stream);
    assert_eq!((svc.lag, svc.pending, svc.entries_read), (Some(6), 3, Some(4)));
    let oldest = svc.oldest_pending.as_ref().expect("an oldest pending entry");
    assert_eq!((oldest.id.as_str(), oldest.consumer.as_str()), (held[1].as_str(), "c1"));
    assert_eq!(oldest.deliveries, 1);
    assert!(oldest.age < Duration::from_secs(60), "{oldest:?}");
    assert_eq!(svc.consumers.len(), 1);
    assert_eq!((svc.consumers[0].name.as_str(), svc.consumers[0].pending), ("c1", 3));
    let mail = group(&health, "mail");
    assert_eq!(
        (mail.lag, mail.pending, mail.oldest_pending.as_ref()),
        (Some(0), 0, None)
    );
    let dead: Vec<_> = health
        .dead_letters
        .iter()
        .map(|d| (d.group.as_str(), d.count))
        .collect();
    assert_eq!(dead, [("mail", 2)]);
    assert_eq!(health.dead_letters[0].stream, f.config.keys().dead_letters("mail"));

    // An entry deleted past a group's position: Redis can no longer tell the lag.
    let last = entries_ids(&f).await.pop().expect("entries");
    let _: u64 = redis::cmd("XDEL")
        .arg(&f.stream)
        .arg(&last)
        .query_async(&mut f.redis.clone())
        .await
        .expect("XDEL");
    let health = check(&monitor).await;
    assert_eq!(group(&health, "svc").lag, None);
    assert_eq!(group(&health, "svc").pending, 3);
}

async fn streams_are_described(f: Fixture) {
    let monitor = monitor(&f);
    assert!(monitor.streams().await.expect("streams").is_empty());
    f.send_many(5, 5).await;
    f.create_group().await;
    let ids = entries_ids(&f).await;
    let streams = monitor.streams().await.expect("streams");
    assert_eq!(streams.len(), 1);
    let stream = &streams[0];
    assert_eq!(
        (stream.key.as_str(), stream.length, stream.groups),
        (f.stream.as_str(), 5, 1)
    );
    assert_eq!(
        stream.first.as_ref().map(|e| e.id.as_str()),
        ids.first().map(String::as_str)
    );
    assert_eq!(
        stream.last.as_ref().map(|e| e.id.as_str()),
        ids.last().map(String::as_str)
    );
    assert!(stream.memory.is_some_and(|bytes| bytes > 0));
    assert_eq!(stream.entries_added, Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_is_named() {
    let mut server = server();
    let config = config(&server);
    server.kill().expect("killed");
    let error = HealthMonitor::new(&config)
        .expect("monitor")
        .check()
        .await
        .expect_err("no Redis");
    assert!(error.to_string().contains(&server.url()), "{error}");
}

async fn entries_ids(f: &Fixture) -> Vec<String> {
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(&f.stream)
        .arg("-")
        .arg("+")
        .query_async(&mut f.redis.clone())
        .await
        .expect("XRANGE");
    reply.ids.into_iter().map(|entry| entry.id).collect()
}
