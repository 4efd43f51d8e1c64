//! A soak under faults, with exact accounting, on a single server and on a
//! cluster, the same code: a producer publishes at a steady rate to a
//! partitioned category read by two groups of two consumer processes each,
//! while a chaos loop SIGKILLs consumers (restarting them under their
//! names), brings Redis down (a server killed and started again; on a
//! cluster a master failed over, or a replica killed and restarted) and
//! injects poison entries (bad JSON, an unknown type, missing envelope
//! fields, a payload missing a field).
//!
//! At the end, in every group: every published event was handled (some
//! more than once: at-least-once), in order per subject; every poison entry
//! is a dead letter with its reason; no valid event is a dead letter;
//! nothing is pending; the consumers that ran throughout kept their memory
//! flat. It prints the accounting table.
//!
//! `XERPIUM_SOAK_SECONDS` (default 20) sets how long the chaos runs.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use xerpium_messaging::connection::SlotPipeline;
use xerpium_messaging::consumer::dead_letter::field as dlq;
use xerpium_messaging::envelope::field;
use xerpium_messaging::{Envelope, PublishContext, Publisher, StreamLayout};

use super::child::{ChildConsumer, Mode, Spec, recorded_in, recorded_order};
use super::support::*;

on_both!(a_soak_under_faults_accounts_for_every_event_in_every_group);

const GROUPS: [&str; 2] = ["svc", "audit"];
/// Per group: `a` is killed and restarted by the chaos, `b` runs throughout.
const INSTANCES: [&str; 2] = ["a", "b"];
const PARTITIONS: u32 = 8;
const SUBJECTS: u64 = 40;

fn layout() -> StreamLayout {
    StreamLayout {
        partitions: PARTITIONS,
        ..StreamLayout::DEFAULT
    }
}

/// How long the chaos runs: `XERPIUM_SOAK_SECONDS`, 20 s by default.
fn soak_time() -> Duration {
    let seconds = std::env::var("XERPIUM_SOAK_SECONDS").ok().and_then(|s| s.parse().ok());
    Duration::from_secs(seconds.unwrap_or(20))
}

/// The poison the chaos injects, each with the reason it must be
/// dead-lettered with.
#[derive(Debug, Clone, Copy)]
enum Poison {
    BadJson,
    UnknownType,
    MissingEnvelopeFields,
    PayloadMissingAField,
}

impl Poison {
    const ALL: [Poison; 4] = [
        Poison::BadJson,
        Poison::UnknownType,
        Poison::MissingEnvelopeFields,
        Poison::PayloadMissingAField,
    ];

    fn reason(self) -> &'static str {
        match self {
            Poison::BadJson | Poison::PayloadMissingAField => "undecodable",
            Poison::UnknownType => "unknown-type",
            Poison::MissingEnvelopeFields => "bad-envelope",
        }
    }

    /// The entry's fields: a valid envelope of subject `subject`, spoilt.
    fn fields(self, envelope: &Envelope, subject: &str) -> Vec<(&'static str, String)> {
        let mut fields = envelope.to_fields();
        let set = |fields: &mut Vec<(&'static str, String)>, name: &str, value: String| {
            if let Some(slot) = fields.iter_mut().find(|(field, _)| *field == name) {
                slot.1 = value;
            }
        };
        match self {
            Poison::BadJson => set(&mut fields, field::DATA, "{not json".to_owned()),
            Poison::UnknownType => set(&mut fields, field::TYPE, "test.nope".to_owned()),
            Poison::MissingEnvelopeFields => fields.retain(|(name, _)| ![field::ID, field::SOURCE].contains(name)),
            Poison::PayloadMissingAField => set(&mut fields, field::DATA, format!(r#"{{"subject":"{subject}"}}"#)),
        }
        fields
    }
}

/// Writes one poison entry of `kind` (retrying while Redis is down; on a
/// cluster, waiting for a replica so that a failover cannot lose it);
/// returns its entry id.
async fn inject(f: &Fixture, kind: Poison, k: u64) -> String {
    let subject = format!("s{}", k % SUBJECTS);
    let stream = f.config.keys().event_stream("test", &layout(), &subject);
    let envelope = f
        .publisher
        .envelope(&Ping::new(&subject, 0), &PublishContext::new())
        .expect("envelope");
    let fields = kind.fields(&envelope, &subject);
    let replicas = u32::from(f.server.is_cluster());
    loop {
        let mut pipe = SlotPipeline::new();
        let add = pipe.cmd(&stream, "XADD").arg(&stream).arg("*");
        for (name, value) in &fields {
            add.arg(*name).arg(value);
        }
        pipe.wait_for_replicas(replicas, Duration::from_secs(1));
        match pipe.query(&mut f.redis.clone()).await {
            Ok(mut replies) => return redis::from_redis_value(replies.remove(0)).expect("an entry id"),
            Err(error) => {
                tracing::info!(%error, "poison not written; again");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Publishes pings in batches of 5 every 20 ms (250/s) until `stop`,
/// sending a batch again until Redis takes it; returns the acknowledged ones.
async fn produce(publisher: Publisher, stop: Arc<AtomicBool>, acknowledged: Arc<Mutex<Vec<u64>>>) {
    let mut next = 1;
    while !stop.load(Ordering::SeqCst) {
        let batch: Vec<u64> = (next..next + 5).collect();
        let envelopes: Vec<Envelope> = batch
            .iter()
            .map(|n| {
                let ping = Ping::new(format!("s{}", n % SUBJECTS), *n);
                publisher.envelope(&ping, &PublishContext::new()).expect("envelope")
            })
            .collect();
        loop {
            let mut send = publisher.batch();
            for envelope in &envelopes {
                send.add_envelope("test", envelope.clone(), &layout());
            }
            match send.send().await {
                Ok(_) => break,
                Err(error) => {
                    tracing::info!(%error, "batch not published; again");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        acknowledged.lock().expect("lock").extend(&batch);
        next += 5;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The children, by group and instance.
struct Children {
    running: HashMap<(&'static str, &'static str), ChildConsumer>,
}

impl Children {
    fn spec(group: &str, instance: &str) -> Spec {
        Spec {
            name: instance.to_owned(),
            group: group.to_owned(),
            partitions: PARTITIONS,
            ..Spec::new(Mode::Record)
        }
    }

    fn start(f: &Fixture) -> Self {
        let mut running = HashMap::new();
        for group in GROUPS {
            for instance in INSTANCES {
                running.insert(
                    (group, instance),
                    ChildConsumer::start_as(f, &Self::spec(group, instance)),
                );
            }
        }
        Children { running }
    }

    /// SIGKILLs instance `a` of `group` and starts it again under its name.
    fn kill_and_restart(&mut self, f: &Fixture, group: &'static str) {
        if let Some(child) = self.running.remove(&(group, "a")) {
            child.kill();
        }
        let child = ChildConsumer::start_as(f, &Self::spec(group, "a"));
        self.running.insert((group, "a"), child);
    }

    /// The memory of the instances that run throughout, by group.
    fn steady_rss(&self) -> Vec<(&'static str, u64)> {
        GROUPS
            .iter()
            .filter_map(|group| Some((*group, self.running.get(&(*group, "b"))?.rss_kib()?)))
            .collect()
    }

    fn assert_alive(&mut self) {
        for ((group, instance), child) in &mut self.running {
            if let Some(status) = child.exited() {
                panic!("consumer {group}/{instance} ended by itself ({status})");
            }
        }
    }

    fn kill_all(self) {
        for child in self.running.into_values() {
            child.kill();
        }
    }
}

/// Brings Redis down once, as the chaos's turn `turn` says: the server
/// killed and started again; on a cluster a master failed over (its old
/// self rejoining as a replica) or a replica killed and started again.
fn redis_fault(f: &mut Fixture, turn: u64) -> &'static str {
    if !f.server.is_cluster() {
        f.server.server_mut().kill().expect("redis killed");
        std::thread::sleep(Duration::from_millis(300));
        f.server.server_mut().start_again().expect("redis is back");
        return "redis-server killed and restarted";
    }
    let cluster = f.server.cluster_mut();
    let masters = cluster.masters().expect("masters");
    let master = masters[(turn as usize) % masters.len()];
    if turn.is_multiple_of(2) {
        cluster.fail_over(master).expect("the replica takes over");
        cluster.start_node_again(master).expect("the old master rejoins");
        "a master failed over"
    } else {
        let replica = cluster.replica_of(master).expect("replicas").expect("a replica");
        cluster.kill_node(replica).expect("replica killed");
        cluster.start_node_again(replica).expect("the replica rejoins");
        "a replica killed and restarted"
    }
}

/// Entries pending in `group` over the partition streams.
async fn pending_in(f: &Fixture, group: &str) -> usize {
    let mut total = 0;
    for stream in f.config.keys().event_streams("test", &layout()) {
        total += pending(&mut f.redis.clone(), &stream, group).await;
    }
    total
}

async fn a_soak_under_faults_accounts_for_every_event_in_every_group(f: Fixture) {
    let mut f = if f.server.is_cluster() {
        waiting_for_a_replica(f).await
    } else {
        f
    };
    let mut children = Children::start(&f);
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let producer = tokio::spawn(produce(f.publisher.clone(), stop.clone(), acknowledged.clone()));

    let started = Instant::now();
    let mut poison: Vec<(Poison, String)> = Vec::new();
    let mut faults: Vec<String> = Vec::new();
    let mut memory: Vec<Vec<(&'static str, u64)>> = Vec::new();
    let mut turn = 0u64;
    while started.elapsed() < soak_time() {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        children.assert_alive();
        turn += 1;
        match turn % 4 {
            0 => {
                let group = GROUPS[(turn / 4) as usize % GROUPS.len()];
                children.kill_and_restart(&f, group);
                faults.push(format!("{group}/a SIGKILLed and restarted"));
            }
            1 => {
                for kind in Poison::ALL {
                    poison.push((kind, inject(&f, kind, turn).await));
                }
                faults.push("4 poison entries".to_owned());
            }
            2 => {
                let fault = tokio::task::block_in_place(|| redis_fault(&mut f, turn / 4));
                f.redis = redis(&f.config);
                faults.push(fault.to_owned());
            }
            _ => memory.push(children.steady_rss()),
        }
    }
    memory.push(children.steady_rss());
    stop.store(true, Ordering::SeqCst);
    producer.await.expect("the producer ran");
    let published: HashSet<u64> = acknowledged.lock().expect("lock").iter().copied().collect();

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        children.assert_alive();
        let mut state = Vec::new();
        for group in GROUPS {
            let handled = recorded_in(&f, group).await;
            let missing = published.difference(&handled).count();
            let letters = len(&mut f.redis.clone(), &f.config.keys().dead_letters(group)).await;
            let pending_now = pending_in(&f, group).await;
            if missing > 0 || letters < poison.len() || pending_now > 0 {
                state.push(format!(
                    "{group}: {missing} not handled, {letters} of {} dead letters, {pending_now} pending",
                    poison.len()
                ));
            }
        }
        if state.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled 120 s after the chaos: {state:?}; faults: {faults:?}; logs in {:?}",
            f.server.dir()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    children.kill_all();

    println!(
        "soak on {}: {:?} of chaos, {} published, {} poison entries; faults: {faults:?}",
        if f.server.is_cluster() { "a cluster" } else { "a server" },
        soak_time(),
        published.len(),
        poison.len()
    );
    println!(
        "| group | published | handled | handled again | dead letters (poison) | valid events dead-lettered | pending |"
    );
    println!("|---|---|---|---|---|---|---|");
    for group in GROUPS {
        let handled = recorded_in(&f, group).await;
        let mut again = 0;
        for subject in 0..SUBJECTS {
            let order = recorded_order(&f, group, &format!("s{subject}")).await;
            let mut seen = HashSet::new();
            let firsts: Vec<u64> = order.iter().copied().filter(|n| seen.insert(*n)).collect();
            again += order.len() - firsts.len();
            assert!(
                firsts.windows(2).all(|w| w[0] < w[1]),
                "{group}: subject s{subject} out of order: {order:?}"
            );
        }
        let letters = entries(&mut f.redis.clone(), &f.config.keys().dead_letters(group)).await;
        let by_entry: HashMap<&str, &HashMap<String, String>> = letters
            .iter()
            .map(|letter| (letter[dlq::ENTRY_ID].as_str(), letter))
            .collect();
        for (kind, id) in &poison {
            let letter = by_entry
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{group}: poison {kind:?} ({id}) is not a dead letter"));
            assert_eq!(letter[dlq::REASON], kind.reason(), "{group}: {kind:?}: {letter:?}");
        }
        let valid: Vec<&HashMap<String, String>> = letters
            .iter()
            .filter(|letter| {
                letter.get(field::TYPE).map(String::as_str) == Some("test.ping")
                    && letter.contains_key(field::ID)
                    && letter
                        .get(field::DATA)
                        .is_some_and(|data| serde_json::from_str::<Ping>(data).is_ok())
            })
            .collect();
        let pending_now = pending_in(&f, group).await;
        println!(
            "| {group} | {} | {} | {again} | {} ({}) | {} | {pending_now} |",
            published.len(),
            handled.intersection(&published).count(),
            letters.len(),
            poison.len(),
            valid.len()
        );
        assert!(published.is_subset(&handled), "{group}: published events not handled");
        assert!(valid.is_empty(), "{group}: valid events dead-lettered: {valid:?}");
        assert_eq!(pending_now, 0, "{group}: entries left pending");
    }
    // The consumers that ran throughout kept their memory flat: from the
    // first sample to the last, at most half again plus 8 MiB.
    println!("memory of the steady consumers (KiB), per sample: {memory:?}");
    let (Some(first), Some(last)) = (memory.first(), memory.last()) else {
        panic!("no memory sample");
    };
    for ((group, before), (_, after)) in first.iter().zip(last) {
        assert!(
            *after <= before + before / 2 + 8 * 1024,
            "{group}/b grew from {before} KiB to {after} KiB"
        );
    }
}
