//! The consumer's normal life: delivery, groups, retries, dead letters,
//! ordering, shutdown, idempotency, group upkeep.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use xerpium_messaging::consumer::dead_letter::field as dlq;
use xerpium_messaging::envelope::field;
use xerpium_messaging::{Publish, PublishContext, StartPosition};

use super::support::*;

// On a single server and on a cluster, the same code.
on_both!(
    two_consumers_in_a_group_share_the_load,
    every_group_gets_every_event,
    a_retryable_failure_is_retried_until_it_succeeds,
    exhausted_retries_go_to_the_dead_letter_stream,
    poison_is_dead_lettered_and_the_consumer_goes_on,
    order_is_kept_per_subject_with_concurrency_8,
    shutdown_drains_what_runs_and_leaves_the_rest,
    idempotency_runs_a_handler_once_per_event_id,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_event_makes_the_round_trip() {
    let f = fixture().await;
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.start(StartPosition::Beginning));
    let entry_id = f
        .publisher
        .publish(&Ping::new("s1", 1), &PublishContext::new().with_correlation_id("c-9"))
        .await
        .expect("published");
    eventually("the event is handled", || async { log.done().len() == 1 }).await;
    let call = &log.done()[0];
    assert_eq!((call.subject.as_str(), call.n), ("s1", 1));
    assert_eq!(call.entry_id, entry_id);
    assert_eq!(call.delivery_count, 1);
    f.all_acked().await;
    consumer.stop().await;
}

/// Publishes one ping with `config` and waits for a consumer built from it
/// to handle it; the consumer's reads have a connection of their own, which
/// must log in and pick the database as the URL says.
async fn round_trip(config: &xerpium_messaging::Config) {
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let consumer = spawn(config, recorder, |b| b.start(StartPosition::Beginning));
    publisher(config)
        .await
        .publish(&Ping::new("s1", 1), &PublishContext::new())
        .await
        .expect("published");
    eventually("the event is handled", || async { log.done().len() == 1 }).await;
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_from_a_server_that_wants_a_login_in_another_database() {
    init_tracing();
    let server = server();
    let mut admin = redis(&config(&server));
    for command in [
        &["ACL", "SETUSER", "reader", "on", ">s3cret", "~*", "&*", "+@all"][..],
        &["CONFIG", "SET", "requirepass", "other-s3cret"],
    ] {
        let _: () = redis::cmd(command[0])
            .arg(&command[1..])
            .query_async(&mut admin)
            .await
            .expect("set up");
    }
    let url = format!("redis://reader:s3cret@127.0.0.1:{}/3", server.port());
    let config = server
        .config("svc")
        .redis_url(url.clone())
        .build()
        .expect("valid config");
    round_trip(&config).await;
    let mut reader = redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("logs in");
    let length: u64 = redis::cmd("XLEN")
        .arg(config.keys().events("test"))
        .query_async(&mut reader)
        .await
        .expect("XLEN");
    assert_eq!(length, 1, "the stream is in database 3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_over_a_unix_socket() {
    init_tracing();
    let dir = tempfile::tempdir().expect("a directory");
    let socket = dir.path().join("redis.sock");
    let server = xerpium_messaging::testing::RedisServer::start_with(&[
        "--unixsocket",
        socket.to_str().expect("a UTF-8 path"),
        "--unixsocketperm",
        "700",
    ])
    .expect("redis-server starts");
    let url = format!("redis+unix://{}?db=2", socket.display());
    round_trip(&server.config("svc").redis_url(url).build().expect("valid config")).await;
}

async fn two_consumers_in_a_group_share_the_load(f: Fixture) {
    let a = Recorder::new(|_, _| Step::Sleep(Duration::from_millis(1)));
    let b = Recorder::new(|_, _| Step::Sleep(Duration::from_millis(1)));
    let (log_a, log_b) = (a.log.clone(), b.log.clone());
    let first = spawn(&f.config, a, |c| c.consumer("a").batch_size(10));
    let second = spawn(&f.config, b, |c| c.consumer("b").batch_size(10));
    eventually("both consumers wait for entries", || async {
        f.server.blocked_clients().expect("INFO clients") == 2
    })
    .await;
    f.send_many(300, 300).await;
    eventually("every event is handled", || async {
        log_a.done().len() + log_b.done().len() >= 300
    })
    .await;
    first.stop().await;
    second.stop().await;
    let (by_a, by_b) = (log_a.done(), log_b.done());
    assert!(
        !by_a.is_empty() && !by_b.is_empty(),
        "a: {}, b: {}",
        by_a.len(),
        by_b.len()
    );
    let all: Vec<u64> = by_a.iter().chain(&by_b).map(|c| c.n).collect();
    let unique: HashSet<u64> = all.iter().copied().collect();
    assert_eq!(
        (all.len(), unique.len()),
        (300, 300),
        "every event handled exactly once"
    );
    assert_eq!(f.pending().await, 0);
}

async fn every_group_gets_every_event(f: Fixture) {
    let audit = Recorder::ok();
    let mail = Recorder::ok();
    let (audit_log, mail_log) = (audit.log.clone(), mail.log.clone());
    let a = spawn(&f.config, audit, |b| b.group("audit").start(StartPosition::Beginning));
    let m = spawn(&f.config, mail, |b| b.group("mail").start(StartPosition::Beginning));
    f.send_many(100, 10).await;
    eventually("both groups handled everything", || async {
        audit_log.done().len() >= 100 && mail_log.done().len() >= 100
    })
    .await;
    a.stop().await;
    m.stop().await;
    assert_eq!(audit_log.done_counts().len(), 100);
    assert_eq!(mail_log.done_counts().len(), 100);
}

async fn a_retryable_failure_is_retried_until_it_succeeds(f: Fixture) {
    let recorder = Recorder::new(|_, delivery| if delivery < 3 { Step::Retry } else { Step::Done });
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.start(StartPosition::Beginning));
    f.send("s", 1).await;
    eventually("the third delivery succeeds", || async { log.done().len() == 1 }).await;
    let counts: Vec<u32> = log.started().iter().map(|c| c.delivery_count).collect();
    assert_eq!(counts, [1, 2, 3]);
    f.all_acked().await;
    consumer.stop().await;
    assert!(f.dead_letters().await.is_empty());
}

async fn exhausted_retries_go_to_the_dead_letter_stream(f: Fixture) {
    let recorder = Recorder::new(|ping, _| if ping.n == 1 { Step::Retry } else { Step::Done });
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.start(StartPosition::Beginning));
    let failing = f.send("s", 1).await;
    f.dead_lettered(1).await;
    // The consumer goes on.
    f.send("s", 2).await;
    eventually("the next event is handled", || async {
        log.done().iter().any(|c| c.n == 2)
    })
    .await;
    consumer.stop().await;

    let letter = &f.dead_letters().await[0];
    assert_eq!(letter[dlq::REASON], "retries-exhausted");
    assert_eq!(letter[dlq::ATTEMPTS], "3");
    assert_eq!(letter[dlq::ENTRY_ID], failing);
    assert_eq!(letter[dlq::STREAM], f.stream);
    assert_eq!(letter[dlq::GROUP], "svc");
    assert!(letter[dlq::ERROR].contains("not yet"), "{letter:?}");
    assert!(letter[dlq::TIME].ends_with('Z'));
    assert_eq!(letter[field::DATA], r#"{"subject":"s","n":1}"#);
    assert_eq!(letter[field::TYPE], "test.ping");
    assert_cloudevent(letter);
    assert_eq!(log.started().iter().filter(|c| c.n == 1).count(), 3);
    assert_eq!(f.pending().await, 0);
}

async fn poison_is_dead_lettered_and_the_consumer_goes_on(f: Fixture) {
    let recorder = Recorder::new(|ping, _| match ping.n {
        13 => Step::Permanent,
        14 => Step::Panic,
        _ => Step::Done,
    });
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.start(StartPosition::Beginning));
    let good = f
        .publisher
        .envelope(&Ping::new("s", 1), &PublishContext::new())
        .expect("envelope");
    // Fields as a writer in another language might get them wrong.
    let with = |name: &str, value: &[u8]| -> Vec<(String, Vec<u8>)> {
        good.to_fields()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), if k == name { value.to_vec() } else { v.into_bytes() }))
            .collect()
    };
    let without = |name: &str| -> Vec<(String, Vec<u8>)> {
        good.to_fields()
            .into_iter()
            .filter(|(k, _)| *k != name)
            .map(|(k, v)| (k.to_owned(), v.into_bytes()))
            .collect()
    };
    let poison = [
        ("undecodable", with(field::DATA, b"{not json")),
        ("unknown-type", with(field::TYPE, b"test.unheard_of")),
        ("undecodable", with(field::DATA, br#"{"subject":"s"}"#)),
        ("undecodable", with(field::DATA, br#"{"subject":"s","n":"seven"}"#)),
        ("bad-envelope", without(field::ID)),
        ("bad-envelope", with(field::TIME, b"yesterday")),
        ("bad-envelope", with(field::SUBJECT, &[0xff, 0xfe])),
        ("bad-envelope", vec![("hello".to_owned(), b"world".to_vec())]),
    ];
    for (_, fields) in &poison {
        let mut add = redis::cmd("XADD");
        add.arg(&f.stream).arg("*");
        for (k, v) in fields {
            add.arg(k).arg(v);
        }
        let _: String = add.query_async(&mut f.redis.clone()).await.expect("XADD");
    }
    f.send("s", 13).await;
    f.send("s", 14).await;
    f.send("s", 2).await;

    f.dead_lettered(poison.len() + 2).await;
    eventually("the good event after it is handled", || async {
        log.done().iter().any(|c| c.n == 2)
    })
    .await;
    consumer.stop().await;
    let letters = f.dead_letters().await;
    let mut reasons: Vec<&str> = letters.iter().map(|l| l[dlq::REASON].as_str()).collect();
    let mut expected: Vec<&str> = poison.iter().map(|(reason, _)| *reason).collect();
    expected.extend(["permanent", "retries-exhausted"]);
    reasons.sort_unstable();
    expected.sort_unstable();
    assert_eq!(reasons, expected);
    let panicked = letters
        .iter()
        .find(|l| l[dlq::REASON] == "retries-exhausted")
        .expect("panic letter");
    assert!(panicked[dlq::ERROR].contains("handler panicked"), "{panicked:?}");
    assert!(
        letters.iter().any(|l| l[dlq::ERROR].contains("no `id` field")),
        "{letters:?}"
    );
    assert_eq!(f.pending().await, 0);
}

async fn order_is_kept_per_subject_with_concurrency_8(f: Fixture) {
    let recorder = Recorder::new(|ping, _| Step::Sleep(Duration::from_micros(200 + (ping.n * 7919) % 1500)));
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| {
        b.start(StartPosition::Beginning).concurrency(8)
    });
    f.send_many(600, 12).await;
    eventually("every event is handled", || async { log.done().len() >= 600 }).await;
    consumer.stop().await;
    for subject in 0..12 {
        let name = format!("s{subject}");
        let seen: Vec<u64> = log
            .started()
            .iter()
            .filter(|c| c.subject == name)
            .map(|c| c.n)
            .collect();
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        assert_eq!(seen, sorted, "subject {name} out of order");
        assert_eq!(seen.len(), 50);
    }
    let max_running = log.max_running.load(Ordering::SeqCst);
    assert!((2..=8).contains(&max_running), "ran {max_running} at once");
}

async fn shutdown_drains_what_runs_and_leaves_the_rest(f: Fixture) {
    let recorder = Recorder::new(|_, _| Step::Sleep(Duration::from_millis(30)));
    let log = recorder.log.clone();
    let claim_idle = Duration::from_millis(300);
    let first = spawn(&f.config, recorder.clone(), |b| {
        b.start(StartPosition::Beginning)
            .consumer("first")
            .concurrency(4)
            .claim_idle(claim_idle)
    });
    f.send_many(60, 60).await;
    eventually("some events are being handled", || async { log.started().len() >= 8 }).await;
    first.stop().await;
    // Everything that started finished and was acked; nothing was left half done.
    let started: HashSet<u64> = log.started().iter().map(|c| c.n).collect();
    let done: HashSet<u64> = log.done().iter().map(|c| c.n).collect();
    assert_eq!(started, done);
    assert!(done.len() < 60, "shutdown should not have waited for everything");
    let pending: HashSet<String> = pending_entries(&mut f.redis.clone(), &f.stream, "svc")
        .await
        .into_iter()
        .collect();
    for call in log.done() {
        assert!(
            !pending.contains(&call.entry_id),
            "handled entry {} left pending",
            call.entry_id
        );
    }

    // Another consumer takes over the rest; each event is handled exactly once overall.
    let second = spawn(&f.config, recorder, |b| b.consumer("second").claim_idle(claim_idle));
    eventually("the rest is handled", || async { log.done().len() >= 60 }).await;
    second.stop().await;
    let counts = log.done_counts();
    assert_eq!(counts.len(), 60);
    assert!(counts.values().all(|&c| c == 1), "handled twice: {counts:?}");
}

async fn idempotency_runs_a_handler_once_per_event_id(f: Fixture) {
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| {
        b.start(StartPosition::Beginning)
            .idempotency_ttl(Some(Duration::from_secs(60)))
    });
    let envelope = f
        .publisher
        .envelope(&Ping::new("s", 1), &PublishContext::new())
        .expect("envelope");
    for _ in 0..3 {
        f.publisher
            .publish_envelope("test", &envelope, &<Ping as xerpium_messaging::Event>::STREAM)
            .await
            .expect("published");
    }
    f.send("s", 2).await;
    eventually("the last event is handled", || async {
        log.done().iter().any(|c| c.n == 2)
    })
    .await;
    f.all_acked().await;
    consumer.stop().await;
    assert_eq!(log.done_counts()[&1], 1);
    let marker = f.config.keys().handled("svc", &envelope.id.to_string());
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&marker)
        .query_async(&mut f.redis.clone())
        .await
        .expect("PTTL");
    assert!(ttl > 50_000, "marker ttl {ttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_group_is_created_again() {
    let f = fixture().await;
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.start(StartPosition::Beginning));
    f.send("s", 1).await;
    eventually("the first event is handled", || async { log.done().len() == 1 }).await;
    let _: i64 = redis::cmd("XGROUP")
        .arg("DESTROY")
        .arg(&f.stream)
        .arg("svc")
        .query_async(&mut f.redis.clone())
        .await
        .expect("destroy");
    f.send("s", 2).await;
    eventually("the event after the loss is handled", || async {
        log.done().iter().any(|c| c.n == 2)
    })
    .await;
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn departed_consumers_are_removed_unless_they_hold_entries() {
    let f = fixture().await;
    f.create_group().await;
    f.send("s", 1).await;
    // `holder` reads the entry and dies with it; `ghost` never read anything.
    read_as(&f, "holder", 1).await;
    let _: i64 = redis::cmd("XGROUP")
        .arg("CREATECONSUMER")
        .arg(&f.stream)
        .arg("svc")
        .arg("ghost")
        .query_async(&mut f.redis.clone())
        .await
        .expect("consumer");
    let consumer = spawn(&f.config, Recorder::ok(), |b| {
        b.consumer("live")
            .consumer_expiry(Duration::from_millis(200))
            .claim_idle(Duration::from_secs(3600))
    });
    let names = || async {
        let value: redis::Value = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(&f.stream)
            .arg("svc")
            .query_async(&mut f.redis.clone())
            .await
            .expect("XINFO");
        format!("{value:?}")
    };
    eventually("the ghost is removed", || async { !names().await.contains("ghost") }).await;
    let left = names().await;
    assert!(
        left.contains("holder"),
        "a consumer holding entries was removed: {left}"
    );
    consumer.crash().await;
}
