//! The delivery engine as it is deployed: the default settings (block 5 s,
//! claim idle 60 s, publish timeout 5 s, lease 10 s) wherever behaviour
//! depends on timing, several instances of one group, consumers killed
//! with SIGKILL, backlogs spread over streams, handlers slower than the
//! timeouts, and duplicates of one event. Where a test shortens a setting,
//! it says why.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use xerpium_messaging::testing::TestRedis;
use xerpium_messaging::{ConfigBuilder, Consumer, DeliveryPolicy, Event, PublishContext, StartPosition, StreamLayout};

use super::child::{ChildConsumer, Mode};
use super::support::*;

// On a single server and on a cluster, the same code.
on_both!(
    two_instances_handle_one_subject_one_at_a_time_in_stream_order,
    order_per_subject_holds_over_three_instances_through_a_kill_a_join_and_a_leave,
    a_duplicate_waits_for_a_handler_slower_than_its_lease_and_runs_once,
    entries_read_under_a_consumers_name_whose_reply_it_never_got_are_handled,
    a_busy_partition_reader_stops_at_once_and_the_next_owner_finishes_in_order,
    an_instance_joining_a_busy_group_gets_its_partitions_within_a_second,
    an_idle_partition_reader_stops_in_about_a_second_and_loses_nothing_published_meanwhile,
);

/// A configuration for `svc` at the production defaults.
fn defaults(server: &TestRedis) -> ConfigBuilder {
    server.config_with_defaults("svc")
}

/// A fixture whose configuration has every production default.
async fn production() -> Fixture {
    at_defaults(fixture().await).await
}

/// `f` with every production default in its configuration.
async fn at_defaults(mut f: Fixture) -> Fixture {
    f.config = defaults(&f.server).build().expect("config");
    f.publisher = publisher(&f.config).await;
    f
}

/// Publishes pings `0..count` with subjects `s<n % subjects>` to the
/// streams of `category` laid out as `layout`.
async fn send_to(f: &Fixture, category: &str, layout: &StreamLayout, count: u64, subjects: u64, offset: u64) {
    for chunk in (0..count).collect::<Vec<_>>().chunks(50) {
        let mut batch = f.publisher.batch();
        for n in chunk {
            let ping = Ping::new(format!("s{}", n % subjects), n + offset);
            let envelope = f.publisher.envelope(&ping, &PublishContext::new()).expect("envelope");
            batch.add_envelope(category, envelope, layout);
        }
        batch.send().await.expect("published");
    }
}

/// Entries pending in group `svc` over `streams`.
async fn pending_over(f: &Fixture, streams: &[String]) -> usize {
    let mut total = 0;
    for stream in streams {
        total += pending(&mut f.redis.clone(), stream, "svc").await;
    }
    total
}

fn partitions(n: u32) -> StreamLayout {
    StreamLayout {
        partitions: n,
        ..StreamLayout::DEFAULT
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_in_two_streams_is_worked_off_by_a_consumer_started_after_it() {
    let f = production().await;
    let one = StreamLayout::DEFAULT;
    send_to(&f, "test", &one, 150, 10, 0).await;
    send_to(&f, "other", &one, 150, 10, 1000).await;
    let recorder = Recorder::ok().reading(&["test", "other"]);
    let log = recorder.log.clone();
    let consumer = Consumer::builder(&f.config)
        .start(StartPosition::Beginning)
        .build()
        .expect("consumer");
    let progress = consumer.progress();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(consumer.run(recorder, async move {
        let _ = stopped.await;
    }));
    eventually("all 300 are handled", || async { log.done_counts().len() == 300 }).await;
    let streams = [f.config.keys().events("test"), f.config.keys().events("other")];
    eventually("all 300 are acked", || async { pending_over(&f, &streams).await == 0 }).await;
    assert_eq!(progress.not_reading_for(), None);
    assert!(!task.is_finished(), "the consumer runs on");
    let _ = stop.send(());
    task.await.expect("task").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_resumes_after_a_redis_restart_with_work_waiting_in_two_streams() {
    let mut f = production().await;
    let one = StreamLayout::DEFAULT;
    let recorder = Recorder::ok().reading(&["test", "other"]);
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.start(StartPosition::Beginning));
    send_to(&f, "test", &one, 10, 5, 0).await;
    eventually("the first events are handled", || async {
        log.done_counts().len() == 10
    })
    .await;
    f.server.server_mut().restart().expect("redis restarts");
    f.redis = redis(&f.config);
    send_to(&f, "test", &one, 100, 5, 100).await;
    send_to(&f, "other", &one, 100, 5, 200).await;
    eventually("the backlog of both streams is handled", || async {
        log.done_counts().len() == 210
    })
    .await;
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_cannot_read_says_so() {
    let mut f = production().await;
    // Shortened so that the report comes within the test's patience: the
    // consumer may go quiet for (block + publish timeout) × 2 before it is
    // called not reading (20 s at the defaults).
    let config = defaults(&f.server)
        .block(Duration::from_secs(1))
        .publish_timeout(Duration::from_secs(1))
        .build()
        .expect("config");
    let consumer = Consumer::builder(&config).build().expect("consumer");
    let progress = consumer.progress();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(consumer.run(Recorder::ok(), async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        progress.not_reading_for(),
        None,
        "an idle consumer reads (and finds nothing)"
    );
    f.server.server_mut().stop().expect("redis stops");
    eventually("the consumer reports that it is not reading", || async {
        progress.not_reading_for().is_some()
    })
    .await;
    f.server.server_mut().start_again().expect("redis is back");
    eventually("reading again", || async { progress.not_reading_for().is_none() }).await;
    let _ = stop.send(());
    task.await.expect("task").expect("clean stop");
}

/// Starts a child consumer that hangs in its handlers; kills it with
/// SIGKILL once it has started `holding` of them.
async fn kill_child_holding(f: &Fixture, holding: usize, idempotent: bool) {
    let child = ChildConsumer::start(f, Mode::Hang, idempotent);
    child.recorded_at_least(f, holding).await;
    child.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_of_a_killed_consumer_are_handled_by_another_at_the_default_block_time() {
    let f = production().await;
    f.send_many(10, 10).await;
    kill_child_holding(&f, 10, false).await;
    assert_eq!(f.pending().await, 10, "the child held all 10 when killed");
    // Only the claim idle time is shortened (from 60 s), so the test need
    // not wait a minute; block and publish timeout keep their defaults.
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let survivor = spawn(&f.config, recorder, |b| {
        b.consumer("survivor").claim_idle(Duration::from_secs(2))
    });
    eventually("the survivor handled all 10", || async {
        log.done_counts().len() == 10
    })
    .await;
    f.all_acked().await;
    survivor.stop().await;
    assert!(f.dead_letters().await.is_empty(), "{:?}", f.dead_letters().await);
    assert!(
        log.done().iter().all(|call| call.delivery_count == 2),
        "{:?}",
        log.done()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_of_a_killed_consumer_are_reclaimed_at_the_full_defaults() {
    let f = production().await;
    f.send_many(3, 3).await;
    kill_child_holding(&f, 3, false).await;
    // Nothing shortened: the survivor claims them once they have been idle
    // for the default claim idle time (60 s).
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let killed = Instant::now();
    let survivor = spawn(&f.config, recorder, |b| b.consumer("survivor"));
    let deadline = Instant::now() + Duration::from_secs(120);
    while log.done_counts().len() < 3 {
        assert!(Instant::now() < deadline, "not reclaimed within 120 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        killed.elapsed() >= Duration::from_secs(55),
        "claimed before the claim idle time"
    );
    f.all_acked().await;
    survivor.stop().await;
    assert!(f.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_comes_after_the_default_backoff() {
    let f = production().await;
    let deliveries = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = deliveries.clone();
    let recorder = Recorder::new(move |_, delivery| {
        seen.lock().expect("times").push(Instant::now());
        if delivery == 1 { Step::Retry } else { Step::Done }
    })
    .with_default_policy();
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.start(StartPosition::Beginning));
    f.send("s", 1).await;
    eventually("handled on the second delivery", || async { log.done().len() == 1 }).await;
    consumer.stop().await;
    let times = deliveries.lock().expect("times").clone();
    assert_eq!(times.len(), 2);
    // The default first backoff is 1 s, plus up to 25 % jitter.
    let gap = times[1] - times[0];
    assert!(
        gap >= Duration::from_secs(1) && gap < Duration::from_secs(3),
        "retried after {gap:?}"
    );
    assert_eq!(log.done()[0].delivery_count, 2);
    f.all_acked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_slower_than_the_claim_idle_time_is_not_robbed_by_another_instance() {
    let f = production().await;
    // A 1 s claim idle time against 3 s handlers: the holder renews its
    // claims every third of it, so the other instance never takes them.
    let slow = Recorder::new(|_, _| Step::Sleep(Duration::from_secs(3)));
    let log = slow.log.clone();
    let tweak = |name: &'static str| {
        move |b: xerpium_messaging::ConsumerBuilder| {
            b.consumer(name)
                .start(StartPosition::Beginning)
                .claim_idle(Duration::from_secs(1))
        }
    };
    let a = spawn(&f.config, slow.clone(), tweak("a"));
    f.send_many(4, 4).await;
    eventually("a runs them", || async { log.started().len() == 4 }).await;
    let b = spawn(&f.config, slow, tweak("b"));
    f.all_acked().await;
    a.stop().await;
    b.stop().await;
    assert_eq!(log.started().len(), 4, "an entry ran twice: {:?}", log.started());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_mid_handler_and_restarted_under_its_name_handles_its_entries() {
    let f = production().await;
    f.send_many(5, 5).await;
    kill_child_holding(&f, 5, true).await;
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let started = Instant::now();
    let restarted = spawn(&f.config, recorder, |b| {
        b.consumer("child").idempotency_ttl(Some(Duration::from_secs(3600)))
    });
    eventually("the restarted consumer handled its 5 entries", || async {
        log.done_counts().len() == 5
    })
    .await;
    assert!(
        started.elapsed() < f.config.claim_idle(),
        "the dead run's leases were waited out ({:?})",
        started.elapsed()
    );
    f.all_acked().await;
    restarted.stop().await;
    assert!(f.dead_letters().await.is_empty(), "{:?}", f.dead_letters().await);
}

// --- Duplicates and idempotency ----------------------------------------------

async fn a_duplicate_waits_for_a_handler_slower_than_its_lease_and_runs_once(f: Fixture) {
    let f = at_defaults(f).await;
    // The lease lasts the claim idle time: shortened to 1 s so that a 3 s
    // handler outlives it three times over.
    let lease = Duration::from_secs(1);
    let envelope = f
        .publisher
        .envelope(&Ping::new("s", 1), &PublishContext::new())
        .expect("envelope");
    f.create_group().await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(
            f.publisher
                .publish_envelope("test", &envelope, &StreamLayout::DEFAULT)
                .await
                .expect("published"),
        );
    }
    // One delivery on each of two instances: `b` holds both, `a` takes the first.
    read_as(&f, "b", 2).await;
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg(&f.stream)
        .arg("svc")
        .arg("a")
        .arg(0)
        .arg(&ids[0])
        .query_async(&mut f.redis.clone())
        .await
        .expect("XCLAIM");
    let slow = Recorder::new(|_, _| Step::Sleep(Duration::from_secs(3)));
    let log = slow.log.clone();
    let idempotent = |name: &'static str| {
        move |b: xerpium_messaging::ConsumerBuilder| {
            b.consumer(name)
                .claim_idle(lease)
                .idempotency_ttl(Some(Duration::from_secs(3600)))
        }
    };
    let a = spawn(&f.config, slow.clone(), idempotent("a"));
    eventually("`a` runs the first delivery", || async { log.started().len() == 1 }).await;
    let b = spawn(&f.config, slow, idempotent("b"));
    f.all_acked().await;
    a.stop().await;
    b.stop().await;
    assert_eq!(
        log.started().len(),
        1,
        "the handler ran more than once: {:?}",
        log.started()
    );
    assert_eq!(log.max_running.load(Ordering::SeqCst), 1);
    assert!(f.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_at_its_timeout_keeps_the_acks_and_drops_abandoned_leases() {
    let f = production().await;
    let recorder = Recorder::new(|ping, _| if ping.n == 0 { Step::Hang } else { Step::Done });
    let log = recorder.log.clone();
    // The default shutdown timeout (30 s) is waited out in full.
    let consumer = spawn(&f.config, recorder, |b| {
        b.start(StartPosition::Beginning)
            .consumer("one")
            .idempotency_ttl(Some(Duration::from_secs(3600)))
    });
    f.send_many(20, 20).await;
    eventually("all but the hanging one are handled", || async {
        log.done().len() == 19
    })
    .await;
    let stopping = Instant::now();
    consumer.stop_within(Duration::from_secs(60)).await;
    assert!(
        stopping.elapsed() >= Duration::from_secs(29),
        "stopped before the timeout"
    );
    assert_eq!(f.pending().await, 1, "only the abandoned entry stays pending");
    let key_pattern = format!("{}:handled:svc:*", f.config.namespace());
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&key_pattern)
        .query_async(&mut f.redis.clone())
        .await
        .expect("KEYS");
    let mut values = Vec::new();
    for key in &keys {
        let value: String = redis::cmd("GET")
            .arg(key)
            .query_async(&mut f.redis.clone())
            .await
            .expect("GET");
        values.push(value);
    }
    assert!(
        values.iter().all(|v| v == "done"),
        "a lease outlived shutdown: {values:?}"
    );
    assert_eq!(values.len(), 19);

    // A new instance, even under another name, handles it without waiting for a lease.
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let other = spawn(&f.config, recorder, |b| {
        b.consumer("two")
            .claim_idle(Duration::from_secs(1))
            .idempotency_ttl(Some(Duration::from_secs(3600)))
    });
    eventually("the abandoned entry is handled", || async { log.done().len() == 1 }).await;
    other.stop().await;
}

// --- Dead letters ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_redis_refuses_leaves_the_entry_pending_until_it_can_be_written() {
    let f = production().await;
    f.create_group().await;
    // The dead-letter stream's key holds a string: XADD fails with WRONGTYPE.
    let _: () = redis::cmd("SET")
        .arg(&f.dlq)
        .arg("not a stream")
        .query_async(&mut f.redis.clone())
        .await
        .expect("SET");
    let _: String = redis::cmd("XADD")
        .arg(&f.stream)
        .arg("*")
        .arg("not")
        .arg("an envelope")
        .query_async(&mut f.redis.clone())
        .await
        .expect("XADD");
    f.send_many(5, 5).await;
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b);
    eventually("the good entries are handled", || async { log.done().len() == 5 }).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        f.pending().await,
        1,
        "the poison entry was acked without its dead letter"
    );
    let _: () = redis::cmd("DEL")
        .arg(&f.dlq)
        .query_async(&mut f.redis.clone())
        .await
        .expect("DEL");
    f.dead_lettered(1).await;
    f.all_acked().await;
    consumer.stop().await;
    assert_eq!(
        f.dead_letters().await[0][xerpium_messaging::consumer::dead_letter::field::REASON],
        "bad-envelope"
    );
}

// --- Window ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hot_subject_does_not_stall_the_others() {
    let f = production().await;
    // 1,000 entries of one slow subject first, then 50 of others.
    let hot: Vec<Ping> = (0..1000).map(|n| Ping::new("hot", n)).collect();
    for chunk in hot.chunks(100) {
        f.publisher
            .publish_batch(chunk, &PublishContext::new())
            .await
            .expect("published");
    }
    for n in 0..50 {
        f.send(&format!("cold{}", n % 10), 10_000 + n).await;
    }
    let recorder = Recorder::new(|ping, _| {
        if ping.subject == "hot" {
            Step::Sleep(Duration::from_millis(50))
        } else {
            Step::Done
        }
    });
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.start(StartPosition::Beginning));
    eventually("the other subjects are handled", || async {
        log.done().iter().filter(|call| call.subject != "hot").count() == 50
    })
    .await;
    let hot_done = log.done().iter().filter(|call| call.subject == "hot").count();
    assert!(
        hot_done < 500,
        "the others waited for the hot subject ({hot_done} hot entries first)"
    );
    consumer.stop().await;
    let order = log.done_in_order();
    let hot_order = &order["hot"];
    assert!(
        hot_order.windows(2).all(|w| w[0] < w[1]),
        "the hot subject ran out of order"
    );
}

// --- Retention ---------------------------------------------------------------

/// A type with a short retention of its own, in the stream of `test`
/// whose pings keep 24 h: the stream is trimmed by the longest.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Fleeting {
    subject: String,
}

impl Event for Fleeting {
    const TYPE: &'static str = "test.fleeting";
    const CATEGORY: &'static str = "test";
    const VERSION: u32 = 1;
    const POLICY: DeliveryPolicy = DeliveryPolicy {
        retention: Duration::from_millis(100),
        ..PING_POLICY
    };
    // What the generator derives for the category: its longest retention.
    const STREAM: StreamLayout = StreamLayout {
        retention: PING_POLICY.retention,
        ..StreamLayout::DEFAULT
    };

    fn subject(&self) -> String {
        self.subject.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_a_short_retention_type_never_trims_a_longer_one() {
    use xerpium_messaging::Publish;
    let f = production().await;
    f.send_many(300, 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in 0..10 {
        f.publisher
            .publish(&Fleeting { subject: n.to_string() }, &PublishContext::new())
            .await
            .expect("published");
    }
    assert_eq!(len(&mut f.redis.clone(), &f.stream).await, 310);
}

// --- Order across instances: partitioned streams ------------------------------

async fn two_instances_handle_one_subject_one_at_a_time_in_stream_order(f: Fixture) {
    let f = at_defaults(f).await;
    let layout = partitions(4);
    let recorder = Recorder::new(|_, _| Step::Sleep(Duration::from_millis(5))).partitioned(4);
    let log = recorder.log.clone();
    let a = spawn(&f.config, recorder.clone(), |b| {
        b.consumer("a").start(StartPosition::Beginning)
    });
    let b = spawn(&f.config, recorder, |b| b.consumer("b").start(StartPosition::Beginning));
    // One at a time, as they would be produced: each instance gets some.
    for n in 0..40 {
        send_to(&f, "test", &layout, 1, 1, n).await;
    }
    eventually("all 40 are handled", || async { log.done_counts().len() == 40 }).await;
    a.stop().await;
    b.stop().await;
    assert_eq!(log.max_running_per_subject.load(Ordering::SeqCst), 1);
    assert_eq!(log.done_in_order()["s0"], (0..40).collect::<Vec<_>>());
}

async fn order_per_subject_holds_over_three_instances_through_a_kill_a_join_and_a_leave(f: Fixture) {
    let f = at_defaults(f).await;
    let layout = partitions(8);
    let streams = f.config.keys().event_streams("test", &layout);
    let recorder = Recorder::new(|_, _| Step::Sleep(Duration::from_millis(2))).partitioned(8);
    let log = recorder.log.clone();
    let instance = |name: &'static str| {
        spawn(&f.config, recorder.clone(), move |b| {
            b.consumer(name).start(StartPosition::Beginning)
        })
    };
    let (a, b) = (instance("a"), instance("b"));
    send_to(&f, "test", &layout, 300, 16, 0).await;
    eventually("a and b share the work", || async { log.done_counts().len() >= 100 }).await;
    let c = instance("c");
    send_to(&f, "test", &layout, 300, 16, 300).await;
    eventually("c joined", || async { log.done().len() >= 400 }).await;
    b.crash().await;
    send_to(&f, "test", &layout, 300, 16, 600).await;
    a.stop().await;
    send_to(&f, "test", &layout, 300, 16, 900).await;
    eventually("every entry is handled", || async { log.done_counts().len() == 1200 }).await;
    acked_in_order(&f, &streams, &log, c).await;
}

/// An instance reading partitions with a backlog ahead of it shuts down in
/// about a round trip plus its running handlers: its reads in flight return
/// at once (with entries), so it need not wait out their block time (1 s)
/// before it hands its partitions over. What those last reads took stays
/// pending, and the instance that takes over handles it first, in order.
async fn a_busy_partition_reader_stops_at_once_and_the_next_owner_finishes_in_order(f: Fixture) {
    const TOTAL: u64 = 40_000;
    let f = at_defaults(f).await;
    let layout = partitions(4);
    let streams = f.config.keys().event_streams("test", &layout);
    // 16 subjects, a millisecond each: the backlog takes seconds, and a
    // reads ahead only as far as its window lets it.
    let recorder = Recorder::new(|_, _| Step::Sleep(Duration::from_millis(1))).partitioned(4);
    let log = recorder.log.clone();
    send_to(&f, "test", &layout, TOTAL, 16, 0).await;
    let a = spawn(&f.config, recorder.clone(), |b| {
        b.consumer("a").start(StartPosition::Beginning)
    });
    eventually("a is under way", || async { log.done().len() >= 500 }).await;
    let stopping = Instant::now();
    a.stop_within(Duration::from_millis(900)).await;
    let handled_by_a = log.done_counts().len() as u64;
    assert!(
        handled_by_a < TOTAL,
        "a finished the backlog before it was stopped; the test needs a longer one"
    );
    eprintln!(
        "a stopped in {:?}, having handled {handled_by_a} of {TOTAL}",
        stopping.elapsed()
    );
    let b = spawn(&f.config, recorder, |b| b.consumer("b").start(StartPosition::Beginning));
    eventually("b handles the rest", || async {
        log.done_counts().len() as u64 == TOTAL
    })
    .await;
    acked_in_order(&f, &streams, &log, b).await;
}

/// An instance whose partitions are idle (its reads wait in Redis) shuts
/// down in about 1.2 s: it waits 200 ms for the replies of its reads, then
/// closes their connection and gives Redis a second to drop them (not
/// less), instead of waiting out each read's block time in turn. Entries
/// published in that second, which a read Redis has yet to drop would
/// take, are all handled by the next owner, in order.
async fn an_idle_partition_reader_stops_in_about_a_second_and_loses_nothing_published_meanwhile(f: Fixture) {
    let f = at_defaults(f).await;
    let layout = partitions(4);
    let streams = f.config.keys().event_streams("test", &layout);
    let recorder = Recorder::new(|_, _| Step::Done).partitioned(4);
    let log = recorder.log.clone();
    let a = spawn(&f.config, recorder.clone(), |b| {
        b.consumer("a").start(StartPosition::Beginning)
    });
    send_to(&f, "test", &layout, 100, 16, 0).await;
    eventually("a handles the first 100", || async { log.done_counts().len() == 100 }).await;
    // Every partition read to its end: a's reads wait in Redis.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = Instant::now();
    let stopped = tokio::spawn(a.stop_within(Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(400)).await;
    send_to(&f, "test", &layout, 100, 16, 100).await;
    stopped.await.expect("a stopped");
    let took = stopping.elapsed();
    eprintln!("a stopped in {took:?}");
    assert!(
        (Duration::from_secs(1)..Duration::from_millis(1800)).contains(&took),
        "a took {took:?} to stop"
    );
    let b = spawn(&f.config, recorder, |b| b.consumer("b").start(StartPosition::Beginning));
    eventually("every entry is handled", || async { log.done_counts().len() == 200 }).await;
    acked_in_order(&f, &streams, &log, b).await;
}

/// Once every entry of `streams` is acked, stops `last` and checks what
/// `log` saw: one handler at a time per subject, each subject's entries in
/// stream order, and no dead letters.
async fn acked_in_order(f: &Fixture, streams: &[String], log: &Log, last: Running) {
    eventually("every entry is acked", || async { pending_over(f, streams).await == 0 }).await;
    last.stop().await;
    assert_eq!(
        log.max_running_per_subject.load(Ordering::SeqCst),
        1,
        "two at once for one subject"
    );
    for (subject, order) in log.done_in_order() {
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "subject {subject} out of order: {order:?}"
        );
    }
    assert!(f.dead_letters().await.is_empty());
}

/// An instance that joins while another works off a backlog of every
/// partition starts on its share within a second (the other sees the join
/// within a quarter of a second, and hands over busy partitions in a round
/// trip), and order per subject holds across the two.
async fn an_instance_joining_a_busy_group_gets_its_partitions_within_a_second(f: Fixture) {
    const TOTAL: u64 = 40_000;
    let f = at_defaults(f).await;
    let layout = partitions(4);
    let streams = f.config.keys().event_streams("test", &layout);
    let script = |_: &Ping, _| Step::Sleep(Duration::from_millis(1));
    let (first, second) = (
        Recorder::new(script).partitioned(4),
        Recorder::new(script).partitioned(4),
    );
    let (log_a, log_b) = (first.log.clone(), second.log.clone());
    send_to(&f, "test", &layout, TOTAL, 16, 0).await;
    let a = spawn(&f.config, first, |b| b.consumer("a").start(StartPosition::Beginning));
    eventually("a is under way", || async { log_a.done().len() >= 500 }).await;
    let joined = Instant::now();
    let b = spawn(&f.config, second, |b| b.consumer("b").start(StartPosition::Beginning));
    eventually("b handles entries", || async { !log_b.done().is_empty() }).await;
    let waited = joined.elapsed();
    eprintln!("b handled its first entry {waited:?} after it started");
    eventually("every entry is handled", || async {
        let mut handled: Vec<u64> = log_a.done().iter().chain(&log_b.done()).map(|call| call.n).collect();
        handled.sort_unstable();
        handled.dedup();
        handled.len() as u64 == TOTAL
    })
    .await;
    eventually("every entry is acked", || async {
        pending_over(&f, &streams).await == 0
    })
    .await;
    a.stop().await;
    b.stop().await;
    assert!(
        waited < Duration::from_secs(1),
        "b waited {waited:?} for its partitions"
    );
    let (order_a, order_b) = (log_a.done_in_order(), log_b.done_in_order());
    for subject in order_a.keys().chain(order_b.keys()) {
        let mut order: Vec<u64> = order_a.get(subject).cloned().unwrap_or_default();
        order.extend(order_b.get(subject).into_iter().flatten());
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "subject {subject} out of order across a and b"
        );
    }
    assert!(f.dead_letters().await.is_empty());
}

// --- Replies lost: entries pending on a consumer that never received them --

/// Entries taken under the consumer's name by a read whose reply it never
/// got (Redis ran the read, the reply was lost: here, the test reads as the
/// consumer while its reader waits for room) are found and handled, on a
/// partition by the reader's sweep of idle entries, after the claim idle
/// time (1 s here).
async fn entries_read_under_a_consumers_name_whose_reply_it_never_got_are_handled(f: Fixture) {
    let layout = partitions(4);
    let streams = f.config.keys().event_streams("test", &layout);
    let recorder = Recorder::new(|ping, _| {
        if ping.n == 0 {
            Step::Sleep(Duration::from_millis(1500))
        } else {
            Step::Done
        }
    })
    .partitioned(4);
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| {
        b.consumer("a")
            .start(StartPosition::Beginning)
            .max_in_flight(1)
            .concurrency(1)
    });
    send_to(&f, "test", &layout, 1, 1, 0).await;
    eventually("the slow handler runs, the window is full", || async {
        !log.started().is_empty()
    })
    .await;
    send_to(&f, "test", &layout, 8, 8, 1).await;
    for stream in &streams {
        let _: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("svc")
            .arg("a")
            .arg("COUNT")
            .arg(100)
            .arg("STREAMS")
            .arg(stream)
            .arg(">")
            .query_async(&mut f.redis.clone())
            .await
            .expect("XREADGROUP as the consumer");
    }
    eventually("every entry is handled", || async { log.done_counts().len() == 9 }).await;
    eventually("every entry is acked", || async {
        pending_over(&f, &streams).await == 0
    })
    .await;
    consumer.stop().await;
    assert!(f.dead_letters().await.is_empty());
}
