//! Traces that follow a message (feature `otel`), seen by an in-memory
//! OpenTelemetry exporter: an event published in a span is handled in that
//! span's trace; a trace context the publish context gives wins, with its
//! `tracestate`; a malformed one is ignored; a command's server handles it
//! as a child of the caller's span, and the reply comes back with the
//! server's.
//!
//! Each test runs on a current-thread runtime, so the subscriber it sets
//! for its thread sees the runtime's tasks too.

use std::collections::HashMap;
use std::future::Future;

use opentelemetry::trace::SpanId;
use tracing::Instrument;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt;
use xerpium_messaging::testing::traces::{self, SpanData, Traces, is_child, traceparent};
use xerpium_messaging::{CommandCaller, Publish, PublishContext, StartPosition};

use super::commands::{Act, EchoServer, caller, commands, echo, serve};
use super::support::*;

/// The trace context the tests give explicitly, and its state.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACESTATE: &str = "congo=t61rcWkgMzE";

/// Spans kept in memory, from this thread's spans while the guard lives.
fn traced() -> (Traces, DefaultGuard) {
    let traces = Traces::new();
    let layer = tracing_opentelemetry::layer().with_tracer(traces.tracer());
    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    (traces, guard)
}

/// The attribute `key` of `span`, which it has.
fn attribute(span: &SpanData, key: &str) -> String {
    traces::attribute(span, key).unwrap_or_else(|| panic!("`{}` has no attribute `{key}`: {span:#?}", span.name))
}

/// Runs a consumer of `f`'s stream while `publish` runs, until it has
/// handled `count` events.
async fn consume_while(f: &Fixture, count: usize, publish: impl Future<Output = ()>) {
    let recorder = Recorder::ok();
    let log = recorder.log.clone();
    let consumer = spawn(&f.config, recorder, |b| b.start(StartPosition::Beginning));
    publish.await;
    eventually("the events are handled", || async { log.done().len() == count }).await;
    consumer.stop().await;
}

/// The stream's entries, by message id.
async fn by_id(f: &Fixture) -> HashMap<String, HashMap<String, String>> {
    let entries = entries(&mut f.redis.clone(), &f.stream).await;
    entries.into_iter().map(|entry| (entry["id"].clone(), entry)).collect()
}

#[tokio::test]
async fn an_event_published_in_a_span_is_handled_in_its_trace() {
    let (traces, _guard) = traced();
    let f = fixture().await;
    let publish = async {
        f.publisher
            .publish(&Ping::new("s1", 1), &PublishContext::new())
            .instrument(tracing::info_span!("request"))
            .await
            .expect("published");
    };
    consume_while(&f, 1, publish).await;

    let (request, publish, handle) = (traces.one("request"), traces.one("publish"), traces.one("handle"));
    assert!(is_child(&publish, &request), "{publish:#?}");
    assert!(is_child(&handle, &request), "{handle:#?}");
    let entries = by_id(&f).await;
    let entry = &entries[&attribute(&handle, "message_id")];
    assert_eq!(entry["traceparent"], traceparent(&request));
    assert!(!entry.contains_key("tracestate"), "no state, no field: {entry:?}");
    assert_cloudevent(entry);
}

#[tokio::test]
async fn a_trace_context_given_wins_and_a_malformed_one_is_ignored() {
    let (traces, _guard) = traced();
    let f = fixture().await;
    let publish = async {
        let given = PublishContext::new()
            .with_traceparent(TRACEPARENT)
            .with_tracestate(TRACESTATE);
        f.publisher
            .publish(&Ping::new("s1", 1), &given)
            .instrument(tracing::info_span!("request"))
            .await
            .expect("published");
        let malformed = PublishContext::new().with_traceparent("00-not-a-trace-01");
        f.publisher
            .publish(&Ping::new("s2", 2), &malformed)
            .await
            .expect("published");
    };
    consume_while(&f, 2, publish).await;

    let entries = by_id(&f).await;
    let handled = traces.named("handle");
    let by_subject = |subject: &str| {
        handled
            .iter()
            .find(|span| entries[&attribute(span, "message_id")]["subject"] == subject)
            .unwrap_or_else(|| panic!("no handle span of {subject}: {handled:#?}"))
    };
    let given = by_subject("s1");
    assert_eq!(
        format!("00-{}-{}-01", given.span_context.trace_id(), given.parent_span_id),
        TRACEPARENT
    );
    assert_eq!(given.span_context.trace_state().header(), TRACESTATE);
    let entry = &entries[&attribute(given, "message_id")];
    assert_eq!(
        (entry["traceparent"].as_str(), entry["tracestate"].as_str()),
        (TRACEPARENT, TRACESTATE)
    );
    assert_cloudevent(entry);
    let published = traces.named("publish");
    assert!(
        published
            .iter()
            .any(|span| span.span_context.trace_id() == given.span_context.trace_id()),
        "the publish span joins the given trace: {published:#?}"
    );

    let ignored = by_subject("s2");
    assert_eq!(
        ignored.parent_span_id,
        SpanId::INVALID,
        "a trace of its own: {ignored:#?}"
    );
    assert_eq!(
        entries[&attribute(ignored, "message_id")]["traceparent"],
        "00-not-a-trace-01"
    );
}

#[tokio::test]
async fn a_command_is_served_in_the_callers_trace_and_its_reply_comes_back() {
    let (traces, _guard) = traced();
    let f = fixture().await;
    let mut server = EchoServer::new("a");
    server.publisher = Some(f.publisher.clone());
    let serving = serve(&f, server, |c| c);
    let caller = caller(&f).await;
    caller
        .call(&echo(1, Act::FollowUp), None)
        .instrument(tracing::info_span!("request"))
        .await
        .expect("answered");
    serving.stop().await;

    let request = traces.one("request");
    let commands_spans = traces.named("command");
    let (client, server): (Vec<_>, Vec<_>) = commands_spans.iter().partition(|span| is_child(span, &request));
    let (client, server) = (client[0], server[0]);
    let handle = traces.one("handle");
    assert!(is_child(&handle, client), "the server's handling: {handle:#?}");
    assert!(is_child(server, &handle), "the server's command span: {server:#?}");
    assert_eq!(attribute(client, "reply_traceparent"), traceparent(server));
    assert_eq!(attribute(client, "outcome"), "ok");
    let sent = entries(&mut f.redis.clone(), &commands(&f)).await;
    assert_eq!(sent[0]["traceparent"], traceparent(client));

    // What the handler publishes with `message.follow_up()` continues the trace.
    let publish = traces.one("publish");
    assert!(is_child(&publish, server), "{publish:#?}");
    let followed = by_id(&f).await;
    let entry = followed.values().next().expect("the follow-up event");
    assert_eq!(entry["traceparent"], traceparent(server));
}
