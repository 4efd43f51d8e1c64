//! Observability: metrics counters move as messages flow, spans carry the
//! message's identity and trace context.
//!
//! These tests run on a current-thread runtime so that the thread-local
//! recorder and subscriber they install see every task of the consumer.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use xerpium_messaging::telemetry::name;
use xerpium_messaging::{Publish, PublishContext, StartPosition};

use super::support::*;

/// Metric values by name and sorted labels (`name{k=v,…}`).
fn snapshot(recorder: &DebuggingRecorder) -> HashMap<String, DebugValue> {
    recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
            labels.sort();
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

fn counter(values: &HashMap<String, DebugValue>, key: &str) -> u64 {
    match values.get(key) {
        Some(DebugValue::Counter(count)) => *count,
        None => 0,
        other => panic!("{key} is no counter: {other:?}"),
    }
}

fn samples(values: &HashMap<String, DebugValue>, key: &str) -> usize {
    match values.get(key) {
        Some(DebugValue::Histogram(samples)) => samples.len(),
        None => 0,
        other => panic!("{key} is no histogram: {other:?}"),
    }
}

#[tokio::test]
async fn metrics_counters_move_as_messages_flow() {
    let recorder = DebuggingRecorder::new();
    let _local = metrics::set_default_local_recorder(&recorder);
    let f = fixture().await;
    f.create_group().await;
    // Two entries held by a consumer that died: the running one reclaims them.
    f.send("dead", 10).await;
    f.send("dead", 11).await;
    read_as(&f, "gone", 2).await;
    let script = Recorder::new(|ping, delivery| match (ping.n, delivery) {
        (1, 1) => Step::Retry,
        (2, _) => Step::Permanent,
        _ => Step::Done,
    });
    let log = script.log.clone();
    let consumer = spawn(&f.config, script, |b| b.start(StartPosition::Beginning));
    for n in 0..3 {
        f.send(&format!("s{n}"), n).await;
    }
    eventually("every event is settled", || async {
        log.done().len() == 4 && f.dead_letters().await.len() == 1 && f.pending().await == 0
    })
    .await;
    consumer.stop().await;

    let values = snapshot(&recorder);
    let ping = "group=svc,type=test.ping";
    assert_eq!(counter(&values, &format!("{}{{type=test.ping}}", name::PUBLISHED)), 5);
    assert_eq!(
        counter(&values, &format!("{}{{{ping}}}", name::CONSUMED)),
        6,
        "{values:?}"
    );
    assert_eq!(counter(&values, &format!("{}{{{ping}}}", name::ACKED)), 4);
    assert_eq!(counter(&values, &format!("{}{{{ping}}}", name::RETRIED)), 1);
    let dead = format!("{}{{group=svc,reason=permanent,type=test.ping}}", name::DEAD_LETTERED);
    assert_eq!(counter(&values, &dead), 1);
    let reclaimed = format!("{}{{category=test,group=svc}}", name::RECLAIMED);
    assert_eq!(counter(&values, &reclaimed), 2);
    assert_eq!(samples(&values, &format!("{}{{{ping}}}", name::HANDLER_DURATION)), 6);
    // Latency counts first deliveries only: not the retry, nor the reclaimed entries.
    assert_eq!(samples(&values, &format!("{}{{{ping}}}", name::PUBLISH_TO_HANDLE)), 3);
    for key in values.keys() {
        let labels = key
            .split_once('{')
            .map_or("", |(_, labels)| labels.trim_end_matches('}'));
        for label in labels.split(',') {
            let name = label.split_once('=').map_or(label, |(name, _)| name);
            assert!(
                ["type", "group", "reason", "category"].contains(&name),
                "bounded labels only: {key}"
            );
        }
    }
}

#[tokio::test]
async fn types_the_dispatcher_does_not_know_are_labelled_unknown() {
    let recorder = DebuggingRecorder::new();
    let _local = metrics::set_default_local_recorder(&recorder);
    let f = fixture().await;
    let mut fields: Vec<(String, String)> = xerpium_messaging::Envelope {
        event_type: "test.never_heard_of".into(),
        ..sample_envelope()
    }
    .to_fields()
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    fields.push(("extra".into(), "x".into()));
    f.create_group().await;
    let _: String = redis::cmd("XADD")
        .arg(&f.stream)
        .arg("*")
        .arg(fields)
        .query_async(&mut f.redis.clone())
        .await
        .expect("XADD");
    let consumer = spawn(&f.config, Recorder::ok(), |b| b);
    f.dead_lettered(1).await;
    consumer.stop().await;
    let values = snapshot(&recorder);
    let dead = format!("{}{{group=svc,reason=unknown-type,type=unknown}}", name::DEAD_LETTERED);
    assert_eq!(counter(&values, &dead), 1, "{values:?}");
}

fn sample_envelope() -> xerpium_messaging::Envelope {
    xerpium_messaging::Envelope {
        id: uuid::Uuid::now_v7(),
        event_type: "test.ping".into(),
        version: 1,
        source: "elsewhere".into(),
        time: chrono::Utc::now(),
        subject: "s".into(),
        correlation_id: "c".into(),
        causation_id: None,
        traceparent: None,
        tracestate: None,
        data: r#"{"subject":"s","n":1}"#.into(),
    }
}

/// A span's name and its fields as text.
type SpanFields = (&'static str, BTreeMap<String, String>);

/// Every span opened, by id.
#[derive(Clone, Default)]
pub(super) struct Spans(Arc<Mutex<HashMap<u64, SpanFields>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut spans = self.0.lock().expect("spans");
        spans.insert(id.into_u64(), (attrs.metadata().name(), fields));
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some((_, fields)) = self.0.lock().expect("spans").get_mut(&id.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }
}

impl Spans {
    pub(super) fn named(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        let spans = self.0.lock().expect("spans");
        spans
            .values()
            .filter(|(span, _)| *span == name)
            .map(|(_, fields)| fields.clone())
            .collect()
    }
}

#[tokio::test]
async fn spans_carry_the_message_and_its_trace_context() {
    let spans = Spans::default();
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
    let f = fixture().await;
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.start(StartPosition::Beginning));
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let context = PublishContext::new()
        .with_correlation_id("corr-7")
        .with_traceparent(traceparent);
    let entry_id = f
        .publisher
        .publish(&Ping::new("s1", 1), &context)
        .await
        .expect("published");
    eventually("the event is handled", || async { log.done().len() == 1 }).await;
    consumer.stop().await;
    tokio::time::sleep(Duration::from_millis(10)).await;

    let published = spans.named("publish");
    assert_eq!(published.len(), 1, "{published:?}");
    let publish = &published[0];
    assert_eq!(publish["event_type"], "test.ping");
    assert_eq!(publish["stream"], f.stream);
    assert_eq!(publish["correlation_id"], "corr-7");
    assert_eq!(publish["traceparent"], traceparent);
    assert_eq!(publish["entry_id"], entry_id);
    let handled = spans.named("handle");
    assert_eq!(handled.len(), 1, "{handled:?}");
    let handle = &handled[0];
    assert_eq!(handle["event_type"], "test.ping");
    assert_eq!(handle["stream"], f.stream);
    assert_eq!(handle["entry_id"], entry_id);
    assert_eq!(handle["message_id"], publish["message_id"]);
    assert_eq!(handle["correlation_id"], "corr-7");
    assert_eq!(handle["traceparent"], traceparent);
    assert_eq!(handle["group"], "svc");
    assert_eq!(handle["outcome"], "ok");
}

#[cfg(feature = "prometheus")]
#[tokio::test]
async fn the_prometheus_exporter_serves_the_metrics() {
    use std::io::{Read, Write};

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let (recorder, exporter) = xerpium_messaging::telemetry::prometheus_builder()
        .expect("builder")
        .with_http_listener(([127, 0, 0, 1], port))
        .build()
        .expect("exporter");
    tokio::spawn(exporter);
    let _local = metrics::set_default_local_recorder(&recorder);
    xerpium_messaging::telemetry::describe();
    let f = fixture().await;
    f.send("s", 1).await;
    let body = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .expect("request");
        let mut body = String::new();
        stream.read_to_string(&mut body).expect("response");
        body
    })
    .await
    .expect("fetched");
    assert!(body.contains("# HELP xerpium_messages_published_total"), "{body}");
    assert!(
        body.contains("xerpium_messages_published_total{type=\"test.ping\"} 1"),
        "{body}"
    );
}
