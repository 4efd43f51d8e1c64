//! Failures: consumers that die (dropped, or killed with SIGKILL), a poison
//! entry that kills them, pending entries trimmed away, Redis restarting.

use std::collections::HashSet;
use std::time::Duration;

use xerpium_messaging::consumer::dead_letter::field as dlq;
use xerpium_messaging::{PublishContext, StartPosition};

use super::child::{ChildConsumer, Mode, recorded};
use super::support::*;

// On a single server and on a cluster, the same code.
on_both!(
    a_dropped_consumers_entries_are_reclaimed,
    a_restarted_consumer_first_works_off_what_it_held,
);

const CLAIM_IDLE: Duration = Duration::from_millis(300);

async fn a_dropped_consumers_entries_are_reclaimed(f: Fixture) {
    let hanging = Recorder::new(|_, _| Step::Hang);
    let hung = hanging.log.clone();
    let first = spawn(&f.config, hanging, |b| {
        b.start(StartPosition::Beginning)
            .consumer("first")
            .claim_idle(CLAIM_IDLE)
    });
    f.send_many(20, 20).await;
    eventually("the first consumer is mid-batch", || async {
        hung.started().len() >= 10
    })
    .await;
    first.crash().await;

    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let second = spawn(&f.config, recorder, |b| b.consumer("second").claim_idle(CLAIM_IDLE));
    eventually("the second consumer handled everything", || async {
        log.done().len() >= 20
    })
    .await;
    second.stop().await;
    assert_eq!(log.done_counts().len(), 20);
    assert!(log.done().iter().all(|c| c.delivery_count == 2), "{:?}", log.done());
    assert_eq!(f.pending().await, 0);
}

async fn a_restarted_consumer_first_works_off_what_it_held(f: Fixture) {
    let hanging = Recorder::new(|_, _| Step::Hang);
    let hung = hanging.log.clone();
    let before = spawn(&f.config, hanging, |b| {
        b.start(StartPosition::Beginning).consumer("same")
    });
    f.send_many(10, 10).await;
    eventually("the consumer holds everything", || async { hung.started().len() >= 10 }).await;
    before.crash().await;

    // The same consumer name, with a claim idle time far away: only its own
    // pending list can bring the entries back.
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let after = spawn(&f.config, recorder, |b| {
        b.consumer("same").claim_idle(Duration::from_secs(3600))
    });
    eventually("the held entries are handled", || async { log.done().len() >= 10 }).await;
    after.stop().await;
    assert!(log.done().iter().all(|c| c.delivery_count == 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_keeps_crashing_consumers_is_dead_lettered() {
    let f = fixture().await;
    f.send("s", 1).await;
    let hanging = Recorder::new(|_, _| Step::Hang);
    let log = hanging.log.clone();
    // Each run takes the entry and "crashes" while handling it.
    for attempt in 1..=PING_POLICY.max_attempts as usize {
        let running = spawn(&f.config, hanging.clone(), |b| {
            b.start(StartPosition::Beginning).consumer("victim")
        });
        eventually("the poison is being handled", || async {
            log.started().len() >= attempt
        })
        .await;
        running.crash().await;
    }
    let last = spawn(&f.config, hanging, |b| b.consumer("victim"));
    f.dead_lettered(1).await;
    last.stop().await;
    let letter = &f.dead_letters().await[0];
    assert_eq!(letter[dlq::REASON], "too-many-deliveries");
    assert_eq!(letter[dlq::ATTEMPTS], "4");
    assert_eq!(log.started().len(), 3, "the handler is not called past max_attempts");
    assert_eq!(f.pending().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_trimmed_while_pending_are_recorded_as_lost() {
    let f = fixture().await;
    f.create_group().await;
    // `ghost` (gone for good) and `me` (about to restart) each hold 5 entries.
    for holder in ["ghost", "me"] {
        f.send_many(5, 1).await;
        read_as(&f, holder, 5).await;
    }
    let _: i64 = redis::cmd("XTRIM")
        .arg(&f.stream)
        .arg("MAXLEN")
        .arg(0)
        .query_async(&mut f.redis.clone())
        .await
        .expect("XTRIM");

    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.consumer("me").claim_idle(CLAIM_IDLE));
    f.dead_lettered(10).await;
    consumer.stop().await;
    let letters = f.dead_letters().await;
    assert!(
        letters.iter().all(|l| l[dlq::REASON] == "lost-to-retention"),
        "{letters:?}"
    );
    assert!(log.started().is_empty());
    assert_eq!(f.pending().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_when_redis_restarts_mid_stream() {
    let mut f = fixture().await;
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.start(StartPosition::Beginning));
    const TOTAL: u64 = 300;
    let publisher = f.publisher.clone();
    let producer = tokio::spawn(async move {
        for n in 0..TOTAL {
            let envelope = publisher
                .envelope(&Ping::new(format!("s{}", n % 5), n), &PublishContext::new())
                .expect("envelope");
            // A service's outbox: publish the same envelope until Redis takes it.
            while publisher
                .publish_envelope("test", &envelope, &<Ping as xerpium_messaging::Event>::STREAM)
                .await
                .is_err()
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    eventually("the stream is flowing", || async { log.done().len() >= 50 }).await;
    tokio::task::block_in_place(|| f.server.server_mut().restart()).expect("redis restarts");
    tokio::time::timeout(PATIENCE, producer)
        .await
        .expect("producer finishes")
        .expect("producer");
    eventually("every event is handled", || async {
        log.done_counts().len() as u64 >= TOTAL
    })
    .await;
    assert!(!consumer.task.is_finished(), "the consumer survived");
    consumer.stop().await;
    f.redis = redis(&f.config);
    assert!(f.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_when_a_consumer_is_killed() {
    let f = fixture().await;
    const TOTAL: u64 = 200;
    f.send_many(TOTAL, 20).await;
    let child = ChildConsumer::start(&f, Mode::Slow, false);
    child.recorded_at_least(&f, 20).await;
    child.kill();
    let by_child = recorded(&f).await;
    assert!(
        (by_child.len() as u64) < TOTAL,
        "the child finished before it was killed"
    );
    assert!(f.pending().await > 0, "the child held entries when killed");

    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let survivor = spawn(&f.config, recorder, |b| b.consumer("survivor").claim_idle(CLAIM_IDLE));
    eventually("everything is handled", || async {
        let mut all: HashSet<u64> = log.done().iter().map(|c| c.n).collect();
        all.extend(by_child.iter().copied());
        all.len() as u64 == TOTAL
    })
    .await;
    f.all_acked().await;
    survivor.stop().await;
    assert!(f.dead_letters().await.is_empty());
}
