//! The publisher: entries, batches, trimming, timeouts.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use xerpium_messaging::envelope::field;
use xerpium_messaging::testing::TestRedis;
use xerpium_messaging::{Config, Publish, PublishContext, PublishError, Publisher};

use super::support::*;

// On a single server and on a cluster, the same code.
on_both!(
    publish_writes_the_wire_format,
    a_batch_is_published_in_order,
    streams_are_trimmed_by_length,
    publishes_from_many_tasks_keep_each_tasks_order,
    a_batch_caps_a_stream_by_the_largest_cap_it_is_written_with,
);

async fn publish_writes_the_wire_format(f: Fixture) {
    let (config, publisher, mut redis) = (&f.config, &f.publisher, f.redis.clone());
    let context = PublishContext::new()
        .with_correlation_id("req-1")
        .with_causation_id("cause-1")
        .with_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    let id = publisher
        .publish(&Ping::new("s1", 7), &context)
        .await
        .expect("published");

    let entries = entries(&mut redis, &config.keys().events("test")).await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry[field::SPEC_VERSION], "1.0");
    assert_eq!(entry[field::TYPE], "test.ping");
    assert_eq!(entry[field::VERSION], "1");
    assert_eq!(entry[field::SOURCE], "svc");
    assert_eq!(entry[field::SUBJECT], "s1");
    assert_eq!(entry[field::CORRELATION_ID], "req-1");
    assert_eq!(entry[field::CAUSATION_ID], "cause-1");
    assert!(entry[field::TRACEPARENT].starts_with("00-4bf9"));
    assert_eq!(entry[field::DATA_CONTENT_TYPE], "application/json");
    assert_eq!(entry[field::DATA], r#"{"subject":"s1","n":7}"#);
    let uuid = uuid::Uuid::parse_str(&entry[field::ID]).expect("uuid");
    assert_eq!(uuid.get_version_num(), 7);
    let event = assert_cloudevent(entry);
    assert_eq!(cloudevents::AttributesReader::ty(&event), "test.ping");
    assert!(id.contains('-'), "{id}");

    // Without a correlation id, a message starts a chain: its id is the chain's.
    for n in [8, 9] {
        publisher
            .publish(&Ping::new("s1", n), &PublishContext::new())
            .await
            .expect("published");
    }
    let entries = super::support::entries(&mut redis, &config.keys().events("test")).await;
    for started in &entries[1..] {
        assert_eq!(started[field::CORRELATION_ID], started[field::ID]);
        assert!(!started.contains_key(field::CAUSATION_ID));
    }
    assert_ne!(entries[1][field::ID], entries[2][field::ID]);
    // The time to the microsecond, in UTC.
    let time = &entries[1][field::TIME];
    assert_eq!((time.len(), &time[19..20], &time[26..]), (27, ".", "Z"), "{time}");
}

async fn a_batch_is_published_in_order(f: Fixture) {
    let (config, publisher, mut redis) = (&f.config, &f.publisher, f.redis.clone());
    let pings: Vec<Ping> = (0..250).map(|n| Ping::new(format!("s{}", n % 7), n)).collect();
    let ids = publisher
        .publish_batch(&pings, &PublishContext::new().with_correlation_id("batch"))
        .await
        .expect("published");
    assert_eq!(ids.len(), 250);
    let mut sorted = ids.clone();
    sorted.sort_by_key(|id| {
        let (ms, seq) = id.split_once('-').expect("entry id");
        (ms.parse::<u64>().expect("ms"), seq.parse::<u64>().expect("seq"))
    });
    assert_eq!(ids, sorted);

    let entries = entries(&mut redis, &config.keys().events("test")).await;
    let ns: Vec<String> = entries.iter().map(|e| e[field::DATA].clone()).collect();
    let expected: Vec<String> = pings.iter().map(|p| serde_json::to_string(p).expect("json")).collect();
    assert_eq!(ns, expected);
    assert!(publisher.batch().is_empty());
    assert_eq!(
        publisher.batch().send().await.expect("empty batch"),
        Vec::<String>::new()
    );
}

async fn streams_are_trimmed_by_length(f: Fixture) {
    let (config, publisher, mut redis) = (&f.config, &f.publisher, f.redis.clone());
    let policy = xerpium_messaging::StreamLayout {
        max_len: 1000,
        ..xerpium_messaging::StreamLayout::DEFAULT
    };
    for round in 0..50u64 {
        let mut batch = publisher.batch();
        for n in 0..100 {
            let envelope = publisher
                .envelope(&Ping::new("s", round * 100 + n), &PublishContext::new())
                .expect("envelope");
            batch.add_envelope("test", envelope, &policy);
        }
        batch.send().await.expect("published");
    }
    let len = len(&mut redis, &config.keys().events("test")).await;
    // `MAXLEN ~` trims whole nodes (100 entries each by default).
    assert!((1000..1300).contains(&len), "stream holds {len} entries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_trimmed_by_age() {
    let f = fixture().await;
    let (config, publisher, mut redis) = (&f.config, &f.publisher, f.redis.clone());
    let layout = |retention| xerpium_messaging::StreamLayout {
        retention,
        ..xerpium_messaging::StreamLayout::DEFAULT
    };
    let publish = |n: u64, retention: Duration| {
        let envelope = publisher
            .envelope(&Ping::new("s", n), &PublishContext::new())
            .expect("envelope");
        let publisher = &publisher;
        async move {
            let mut batch = publisher.batch();
            batch.add_envelope("test", envelope, &layout(retention));
            batch.send().await.expect("published");
        }
    };
    // Written with a long retention, however slowly this machine runs.
    for n in 0..500 {
        publish(n, Duration::from_secs(3600)).await;
    }
    let key = config.keys().events("test");
    assert_eq!(len(&mut redis, &key).await, 500, "entries are young yet");
    // Let every entry grow older than a short retention, then write with it.
    let old = Instant::now();
    while old.elapsed() < Duration::from_millis(400) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    publish(500, Duration::from_millis(300)).await;
    let len = len(&mut redis, &key).await;
    assert!(len <= 100, "old entries were not trimmed: {len} left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_never_hangs() {
    let server = server();
    // A port that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let config: Config = server
        .config("svc")
        .redis_url(format!("redis://127.0.0.1:{port}"))
        .publish_timeout(Duration::from_millis(300))
        .build()
        .expect("config");
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let started = Instant::now();
    let error = publisher
        .publish(&Ping::new("s", 1), &PublishContext::new())
        .await
        .expect_err("no answer");
    assert!(matches!(error, PublishError::Timeout { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(error.to_string().contains("test"), "{error}");
    drop(silent);

    // Redis down: an error within the timeout, and publishing resumes when it is back.
    let mut server = server;
    let config = server
        .config("svc")
        .publish_timeout(Duration::from_millis(500))
        .build()
        .expect("config");
    let publisher = Publisher::connect(&config).await.expect("publisher");
    publisher
        .publish(&Ping::new("s", 1), &PublishContext::new())
        .await
        .expect("up");
    server.stop().expect("stops");
    let started = Instant::now();
    assert!(
        publisher
            .publish(&Ping::new("s", 2), &PublishContext::new())
            .await
            .is_err()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    server.start_again().expect("starts");
    eventually("publishing works again", || async {
        publisher
            .publish(&Ping::new("s", 3), &PublishContext::new())
            .await
            .is_ok()
    })
    .await;
}

/// Each task's `n`s as the stream holds them (the first copy of each).
fn ns_per_subject(
    entries: &[std::collections::HashMap<String, String>],
) -> std::collections::HashMap<String, Vec<u64>> {
    let mut seen = std::collections::HashSet::new();
    let mut per_subject: std::collections::HashMap<String, Vec<u64>> = std::collections::HashMap::new();
    for entry in entries {
        if seen.insert(entry[field::ID].clone()) {
            let ping: Ping = serde_json::from_str(&entry[field::DATA]).expect("a ping");
            per_subject.entry(ping.subject).or_default().push(ping.n);
        }
    }
    per_subject
}

async fn publishes_from_many_tasks_keep_each_tasks_order(f: Fixture) {
    const TASKS: u64 = 16;
    const EACH: u64 = 60;
    let publisher = std::sync::Arc::new(f.publisher.clone());
    // Each task publishes one by one and in batches, all at once with the
    // others: on a single server they take turns on the publisher's own
    // connection, sharing round trips; on a cluster they go through the
    // redis crate's.
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let publisher = publisher.clone();
            tokio::spawn(async move {
                let subject = format!("task{task}");
                let mut n = 0;
                while n < EACH {
                    if n % 20 < 10 {
                        publisher
                            .publish(&Ping::new(&subject, n), &PublishContext::new())
                            .await
                            .expect("published");
                        n += 1;
                    } else {
                        let batch: Vec<Ping> = (n..n + 10).map(|n| Ping::new(&subject, n)).collect();
                        let ids = publisher
                            .publish_batch(&batch, &PublishContext::new())
                            .await
                            .expect("published");
                        assert_eq!(ids.len(), 10);
                        n += 10;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("the task publishes");
    }
    let mut redis = f.redis.clone();
    let entries = entries(&mut redis, &f.stream).await;
    assert_eq!(entries.len() as u64, TASKS * EACH, "each publish once");
    let per_subject = ns_per_subject(&entries);
    for task in 0..TASKS {
        let expected: Vec<u64> = (0..EACH).collect();
        assert_eq!(per_subject[&format!("task{task}")], expected, "task {task} in order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_that_timed_out_stays_ahead_of_the_next() {
    let f = fixture().await;
    let TestRedis::Standalone(server) = &f.server else {
        unreachable!("a single server")
    };
    let config = server
        .config("svc")
        .publish_timeout(Duration::from_millis(200))
        .build()
        .expect("config");
    let publisher = publisher(&config).await;
    publisher
        .publish(&Ping::new("s", 0), &PublishContext::new())
        .await
        .expect("published");
    // The server busy for a second: the next publish is written, but not
    // answered in time.
    let held = server.hold(Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let error = publisher
        .publish(&Ping::new("s", 1), &PublishContext::new())
        .await
        .expect_err("no answer in time");
    assert!(matches!(error, PublishError::Timeout { .. }), "{error}");
    held.join().expect("the script ran").expect("the script ran");
    publisher
        .publish(&Ping::new("s", 2), &PublishContext::new())
        .await
        .expect("published");
    let mut redis = f.redis.clone();
    let per_subject = ns_per_subject(&entries(&mut redis, &f.stream).await);
    assert_eq!(
        per_subject["s"],
        [0, 1, 2],
        "the one that timed out was written, ahead of the next"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_written_ahead_is_written_whole_after_redis_restarted() {
    let mut f = fixture().await;
    let publish_batch = |subject: &'static str, count: u64| {
        let pings: Vec<Ping> = (0..count).map(|n| Ping::new(subject, n)).collect();
        let publisher = f.publisher.clone();
        async move { publisher.publish_batch(&pings, &PublishContext::new()).await }
    };
    publish_batch("before", 10).await.expect("published");
    let TestRedis::Standalone(server) = &mut f.server else {
        unreachable!("a single server")
    };
    server.restart().expect("redis-server restarts");
    // Far more than one write ahead: the first parts go to the dead
    // connection, then everything again on a new one.
    let ids = publish_batch("after", 2_000)
        .await
        .expect("published after the restart");
    assert_eq!(ids.len(), 2_000);
    let mut redis = f.redis.clone();
    let entries = entries(&mut redis, &f.stream).await;
    let per_subject = ns_per_subject(&entries);
    assert_eq!(
        per_subject["after"],
        (0..2_000).collect::<Vec<u64>>(),
        "all of it, in order"
    );
    let after = entries.iter().filter(|entry| entry[field::SUBJECT] == "after").count();
    assert_eq!(after, 2_000, "once: nothing reached the server that stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_cannot_be_encoded_publishes_nothing_of_its_batch() {
    /// An event whose JSON cannot be written: a map with keys that are not strings.
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Unwritable {
        subject: String,
        by_pair: std::collections::BTreeMap<(u8, u8), u8>,
    }
    impl xerpium_messaging::Event for Unwritable {
        const TYPE: &'static str = "test.unwritable";
        const CATEGORY: &'static str = "test";
        const VERSION: u32 = 1;
        const POLICY: xerpium_messaging::DeliveryPolicy = xerpium_messaging::DeliveryPolicy::DEFAULT;
        fn subject(&self) -> String {
            self.subject.clone()
        }
    }
    let f = fixture().await;
    let mut events: Vec<Unwritable> = (0..1_000)
        .map(|n| Unwritable {
            subject: format!("s{n}"),
            by_pair: std::collections::BTreeMap::new(),
        })
        .collect();
    events[999].by_pair.insert((1, 2), 3);
    let error = f
        .publisher
        .publish_batch(&events, &PublishContext::new())
        .await
        .expect_err("the last cannot be encoded");
    assert!(matches!(error, PublishError::Encode { .. }), "{error}");
    let mut redis = f.redis.clone();
    assert_eq!(len(&mut redis, &f.stream).await, 0, "none of the batch was written");
}

async fn a_batch_caps_a_stream_by_the_largest_cap_it_is_written_with(f: Fixture) {
    let layout = |max_len| xerpium_messaging::StreamLayout {
        max_len,
        ..xerpium_messaging::StreamLayout::DEFAULT
    };
    let mut batch = f.publisher.batch();
    for n in 0..1_000 {
        let envelope = f
            .publisher
            .envelope(&Ping::new("s", n), &PublishContext::new())
            .expect("envelope");
        let max_len = if n % 2 == 0 { 100 } else { 100_000 };
        batch.add_envelope("test", envelope, &layout(max_len));
    }
    batch.send().await.expect("published");
    let mut redis = f.redis.clone();
    assert_eq!(len(&mut redis, &f.stream).await, 1_000, "trimmed by the smaller cap");
}
