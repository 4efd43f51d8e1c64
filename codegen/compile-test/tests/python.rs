//! The Python module generated from the fixture catalog, with the pinned
//! pydantic and redis-py of `.venv/` (made by `scripts/setup`):
//!
//! - its unit tests (`tests/python/test_models.py`), which also check its partition function and stream
//!   keys against the runtime's, for the subjects of [`rust_vectors`], and its delivery policies;
//! - Rust publishes through the runtime, Python decodes the entries into its models;
//! - Python publishes with its `publish` helper, the Rust consumer handles the entries;
//!
//! both through a real redis-server, and every payload on the wire checked
//! against the generated JSON Schemas. Without `.venv/` the tests are
//! skipped, except in CI (`CI` set), where they fail.

mod support;

use std::process::Output;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use support::{Python, Validator, money, posted, voided};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;
use xerpium_codegen_compile_test::*;
use xerpium_messaging::testing::RedisServer;
use xerpium_messaging::{
    Consumer, Event, HandlerResult, Keys, Message, PublishContext, Publisher, StartPosition, StreamLayout,
};

const PATIENCE: Duration = Duration::from_secs(20);

/// The file beside the generated module where [`fixture_python`] writes [`rust_vectors`].
const RUST_VECTORS: &str = "rust_vectors.json";

/// Subjects of every kind: empty, ASCII, numbers, UUIDs and non-ASCII text (accents, combining marks,
/// CJK, emoji, a NUL, the last code point), a few hundred in all.
fn subjects() -> Vec<String> {
    let words = [
        "ü",
        "Müller",
        "naïve café",
        "e\u{301}",
        "日本語",
        "配送",
        "😀",
        "Ωμέγα",
        "\u{0}",
        "\u{10FFFF}",
    ];
    let mut subjects: Vec<String> = ["", "a", "foobar", "EUR/USD"].map(String::from).to_vec();
    subjects.extend((-20..100).map(|n: i64| n.to_string()));
    subjects.extend(
        (1..=80).map(|n: u128| Uuid::from_u128(n.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)).to_string()),
    );
    subjects.extend(
        words
            .iter()
            .flat_map(|word| (0..10).map(move |n| format!("{word}-{n}"))),
    );
    subjects.extend(words.map(String::from));
    subjects
}

/// What the Python module must agree on with the runtime: the partition of each subject for several
/// numbers of partitions, the stream an event of `shipment` (partitioned) or `ledger` goes to, and the
/// delivery policy of every event type with its backoff after each of its attempts.
fn rust_vectors() -> Value {
    let keys = Keys::new("test");
    let mut partitions = Vec::new();
    let mut streams = Vec::new();
    for subject in subjects() {
        for count in [1, 2, 3, 4, 8, 1024] {
            let layout = StreamLayout {
                partitions: count,
                ..StreamLayout::DEFAULT
            };
            let partition = layout.partition_of(&subject);
            partitions.push(json!({"subject": subject, "partitions": count, "partition": partition}));
        }
        for (category, layout) in [("shipment", ShipmentSent::STREAM), ("ledger", LedgerPosted::STREAM)] {
            let stream = keys.event_stream(category, &layout, &subject);
            streams.push(json!({"category": category, "subject": subject, "namespace": "test", "stream": stream}));
        }
    }
    let millis = |duration: Duration| u64::try_from(duration.as_millis()).expect("a short duration");
    let policies: Vec<Value> = EventType::ALL
        .iter()
        .map(|event_type| {
            let policy = event_type.policy();
            let backoff: Vec<u64> = (1..=policy.max_attempts + 2)
                .map(|n| millis(policy.backoff(n)))
                .collect();
            json!({
                "type": event_type.as_str(),
                "max_attempts": policy.max_attempts,
                "backoff_first_ms": millis(policy.backoff_first),
                "backoff_max_ms": millis(policy.backoff_max),
                "retention_ms": millis(policy.retention),
                "max_len": policy.max_len,
                "backoff_ms": backoff,
            })
        })
        .collect();
    json!({"partitions": partitions, "streams": streams, "policies": policies})
}

/// Python with the module generated from the fixture catalog, and [`rust_vectors`] beside it.
fn fixture_python() -> Option<Python> {
    let python = Python::fixture()?;
    std::fs::write(python.path().join(RUST_VECTORS), rust_vectors().to_string()).expect("vectors written");
    Some(python)
}

#[test]
fn the_python_module_passes_its_unit_tests() {
    let Some(python) = fixture_python() else { return };
    let output = python.run(&["-W", "error", "-m", "unittest", "-v", "test_models"], "");
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(report.contains("\nOK"), "{report}");
}

/// The events both sides send: each with its wire type, version and JSON payload.
fn events() -> Vec<(&'static str, u32, Value)> {
    fn entry<E: xerpium_messaging::Event + Serialize>(event: &E) -> (&'static str, u32, Value) {
        (E::TYPE, E::VERSION, serde_json::to_value(event).expect("serializes"))
    }
    vec![
        entry(&posted()),
        entry(&voided()),
        entry(&LedgerClosedV1 {
            period_id: Uuid::from_u128(11),
            balance: -2.5,
        }),
        entry(&LedgerClosed {
            period_id: Uuid::from_u128(12),
            closed_by: Uuid::from_u128(13),
            balance: money("0.10"),
        }),
        entry(&MatchType {
            id: -4,
            self_: "me".into(),
        }),
    ]
}

/// The schema file of an event version.
fn schema_of(event_type: &str, version: u32) -> String {
    format!("{event_type}.v{version}.json")
}

/// `json` read as `E` and written again, to compare payloads as the Rust types see them.
fn through<E: DeserializeOwned + Serialize>(json: &Value) -> Value {
    let typed: E = serde_json::from_value(json.clone()).unwrap_or_else(|error| panic!("{error}: {json}"));
    serde_json::to_value(typed).expect("serializes")
}

/// A payload as the Rust type of its wire type and version reads it.
fn as_rust_reads(event_type: &str, version: u32, json: &Value) -> Value {
    match (event_type, version) {
        ("ledger.posted", 1) => through::<LedgerPosted>(json),
        ("ledger.voided", 2) => through::<LedgerVoided>(json),
        ("ledger.closed", 1) => through::<LedgerClosedV1>(json),
        ("ledger.closed", 3) => through::<LedgerClosed>(json),
        ("match.type", 1) => through::<MatchType>(json),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_decodes_what_rust_published() {
    let Some(python) = fixture_python() else { return };
    let validator = Validator::new();
    let server = RedisServer::start().expect("redis-server starts");
    let config = server.config("rust-producer").build().expect("valid config");
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let context = PublishContext::new().with_correlation_id("from-rust");
    use xerpium_codegen_compile_test::PublishEvents;
    publisher.ledger_posted(&posted(), &context).await.expect("published");
    publisher.ledger_voided(&voided(), &context).await.expect("published");
    let old = LedgerClosedV1 {
        period_id: Uuid::from_u128(11),
        balance: -2.5,
    };
    publisher.ledger_closed_v1(&old, &context).await.expect("published");
    let new = LedgerClosed {
        period_id: Uuid::from_u128(12),
        closed_by: Uuid::from_u128(13),
        balance: money("0.10"),
    };
    publisher.ledger_closed(&new, &context).await.expect("published");
    let keyword = MatchType {
        id: -4,
        self_: "me".into(),
    };
    publisher.match_type(&keyword, &context).await.expect("published");

    let namespace = config.namespace();
    let streams = [
        format!("{namespace}:events:ledger"),
        format!("{namespace}:events:match"),
    ];
    let mut arguments = vec!["interop.py", "decode", config.redis_url()];
    arguments.extend(streams.iter().map(String::as_str));
    let lines = decoded_lines(&python.run(&arguments, ""));

    let expected = events();
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    let models = [
        "LedgerPosted",
        "LedgerVoided",
        "LedgerClosedV1",
        "LedgerClosed",
        "MatchType",
    ];
    for ((line, (event_type, version, payload)), model) in lines.iter().zip(&expected).zip(models) {
        let fields = &line["fields"];
        assert_eq!(fields["type"], *event_type);
        assert_eq!(fields["version"], version.to_string());
        assert_eq!(fields["source"], "rust-producer");
        assert_eq!(fields["correlationid"], "from-rust");
        assert_eq!(line["model"], model, "decoded into the model of its version");
        let data: Value = serde_json::from_str(fields["data"].as_str().expect("data")).expect("JSON data");
        assert_eq!(
            validator.check(&schema_of(event_type, *version), &data),
            Ok(()),
            "{data}"
        );
        let decoded: Value = serde_json::from_str(line["payload"].as_str().expect("payload")).expect("JSON");
        assert_eq!(
            as_rust_reads(event_type, *version, &decoded),
            *payload,
            "Python kept {model}"
        );
    }
    assert_eq!(lines[0]["subject"], Uuid::from_u128(7).to_string());
    assert_eq!(lines[4]["subject"], "-4");
}

/// The lines `interop.py decode` printed, each an entry as JSON.
fn decoded_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_python_write_a_partitioned_category_to_the_same_streams() {
    let Some(python) = fixture_python() else { return };
    let server = RedisServer::start().expect("redis-server starts");
    let config = server.config("rust-producer").build().expect("valid config");
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let subjects: Vec<String> = (0..12)
        .flat_map(|n| [format!("s-{n}"), format!("Sendung-{n}-ü")])
        .collect();
    let mut input = String::new();
    for subject in &subjects {
        let sent = |carrier: &str| ShipmentSent {
            shipment_id: subject.clone(),
            carrier: carrier.to_owned(),
        };
        publisher
            .shipment_sent(&sent("rust"), &PublishContext::new())
            .await
            .expect("published");
        let payload = serde_json::to_string(&sent("python")).expect("serializes");
        let request = json!({"type": "shipment.sent", "version": 1, "payload": payload, "correlation_id": "p"});
        input.push_str(&format!("{request}\n"));
    }
    let namespace = config.namespace();
    python.run(
        &[
            "interop.py",
            "publish",
            config.redis_url(),
            namespace,
            "python-producer",
        ],
        &input,
    );

    let keys = config.keys();
    let layout = ShipmentSent::STREAM;
    let streams = keys.event_streams(ShipmentSent::CATEGORY, &layout);
    let mut arguments = vec!["interop.py", "decode", config.redis_url()];
    arguments.extend(streams.iter().map(String::as_str));
    let lines = decoded_lines(&python.run(&arguments, ""));
    assert_eq!(lines.len(), 2 * subjects.len(), "{lines:#?}");
    let mut used = std::collections::BTreeSet::new();
    for line in &lines {
        let subject = line["subject"].as_str().expect("a subject");
        let expected = keys.event_stream(ShipmentSent::CATEGORY, &layout, subject);
        assert_eq!(
            line["stream"], expected,
            "{} put {subject:?} there",
            line["fields"]["source"]
        );
        used.insert(expected);
    }
    for subject in &subjects {
        let mut sources: Vec<&Value> = lines
            .iter()
            .filter(|line| line["subject"] == subject.as_str())
            .map(|line| &line["fields"]["source"])
            .collect();
        sources.sort_by_key(|source| source.to_string());
        assert_eq!(
            sources,
            [&json!("python-producer"), &json!("rust-producer")],
            "{subject}"
        );
    }
    assert!(used.len() > 1, "the subjects spread over the partitions: {used:?}");
}

/// Forwards every event it handles, as the JSON of its Rust type, with its envelope.
struct Forward(mpsc::UnboundedSender<(Value, Message)>);

impl Forward {
    fn send(&self, event: &impl Serialize, message: &Message) -> HandlerResult {
        let _ = self.0.send((serde_json::to_value(event)?, message.clone()));
        Ok(())
    }
}

impl EventHandler for Forward {
    async fn ledger_posted(&self, event: LedgerPosted, message: &Message) -> HandlerResult {
        self.send(&event, message)
    }

    async fn ledger_voided(&self, event: LedgerVoided, message: &Message) -> HandlerResult {
        self.send(&event, message)
    }

    async fn ledger_closed(&self, event: LedgerClosed, message: &Message) -> HandlerResult {
        self.send(&event, message)
    }

    async fn ledger_closed_v1(&self, event: LedgerClosedV1, message: &Message) -> HandlerResult {
        self.send(&event, message)
    }

    async fn match_type(&self, event: MatchType, message: &Message) -> HandlerResult {
        self.send(&event, message)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_handles_what_python_published() {
    let Some(python) = fixture_python() else { return };
    let validator = Validator::new();
    let server = RedisServer::start().expect("redis-server starts");
    let config = server
        .config("rust-consumer")
        .start(StartPosition::Beginning)
        .build()
        .expect("valid config");

    let input: String = events()
        .iter()
        .map(|(event_type, version, payload)| {
            let request = json!({
                "type": event_type,
                "version": version,
                "payload": payload.to_string(),
                "correlation_id": "from-python",
            });
            format!("{request}\n")
        })
        .collect();
    let output = python.run(
        &[
            "interop.py",
            "publish",
            config.redis_url(),
            config.namespace(),
            "python-producer",
        ],
        &input,
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), events().len());

    let (sender, mut received) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let consumer = Consumer::builder(&config).group("rust").build().expect("consumer");
    let running = tokio::spawn(consumer.run(EventDispatch(Forward(sender)), async {
        let _ = stopped.await;
    }));
    let mut handled = Vec::new();
    for _ in events() {
        let next = tokio::time::timeout(PATIENCE, received.recv()).await;
        handled.push(next.expect("handled in time").expect("a handled event"));
    }
    let _ = stop.send(());
    running.await.expect("consumer task").expect("consumer ends cleanly");

    // One stream per category: the ledger's events in order, then or before the match stream's.
    handled.sort_by_key(|(_, message)| (message.stream.clone(), message.entry_id.clone()));
    let mut expected = events();
    expected.sort_by_key(|(event_type, _, _)| !event_type.starts_with("ledger"));
    for ((event, message), (event_type, version, payload)) in handled.iter().zip(&expected) {
        let envelope = &message.envelope;
        assert_eq!(
            (envelope.event_type.as_str(), envelope.version),
            (*event_type, *version)
        );
        assert_eq!(envelope.source, "python-producer");
        assert_eq!(envelope.correlation_id, "from-python");
        assert_eq!(envelope.id.get_version_num(), 7, "a UUIDv7");
        let data: Value = serde_json::from_str(&envelope.data).expect("JSON data");
        assert_eq!(
            validator.check(&schema_of(event_type, *version), &data),
            Ok(()),
            "{data}"
        );
        assert_eq!(event, payload, "{event_type} v{version}");
    }
    assert_eq!(handled[0].1.envelope.subject, Uuid::from_u128(7).to_string());
}
