//! One trace across the services, seen by an in-memory OpenTelemetry
//! exporter that the services, running in this process, share:
//! - a sign-up's HTTP request in user-auth (continuing its caller's
//!   `traceparent`), the `publish` of its `user.created` by the outbox
//!   relay, and audit-logger's `handle` of it from the stream;
//! - a command's round trip: the caller's `command` span, user-auth's
//!   `handle` of the request and its own `command` span, whose context the
//!   reply brings back to the caller's span.

mod support;

use std::time::Instant;

use serde_json::json;
use support::{PATIENCE, Stack};
use tracing::Instrument;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use uuid::Uuid;
use xerpium_events::messaging::testing::traces::{self, SpanData, Traces, is_child, traceparent};
use xerpium_events::{CommandClient, UserGetProfileRequest};

/// The trace context of the sign-up's caller.
const CALLER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// The attribute `key` of `span`, or `""`.
fn attribute(span: &SpanData, key: &str) -> String {
    traces::attribute(span, key).unwrap_or_default()
}

/// Waits until a span `name` whose attributes include every one of
/// `attributes` has ended.
async fn ended(traces: &Traces, name: &str, attributes: &[(&str, &str)]) -> SpanData {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found = traces
            .named(name)
            .into_iter()
            .find(|span| attributes.iter().all(|(key, value)| attribute(span, key) == *value));
        if let Some(span) = found {
            return span;
        }
        assert!(Instant::now() < deadline, "no `{name}` span with {attributes:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_and_a_command_are_each_one_trace_across_the_services() {
    let traces = Traces::new();
    tracing_subscriber::registry()
        .with(LevelFilter::INFO)
        .with(tracing_opentelemetry::layer().with_tracer(traces.tracer()))
        .init();
    let stack = Stack::start().await;
    let services = stack.services();

    let body = json!({ "email": "tracy@example.com", "password": "long enough", "display_name": "Tracy" });
    let reply = services
        .user_auth
        .post("/users")
        .header("traceparent", CALLER)
        .json(body)
        .send()
        .await
        .expect("user-auth answers");
    assert_eq!(reply.status, 201, "{reply:?}");
    let request_id = reply.request_id.clone().expect("a request id");
    let user_id: Uuid = reply.text("user_id").parse().expect("a user id");

    let http = ended(&traces, "http_request", &[("request_id", &request_id)]).await;
    assert_eq!(
        format!("00-{}-{}-01", http.span_context.trace_id(), http.parent_span_id),
        CALLER,
        "the request continues its caller's trace"
    );
    let audited = ended(
        &traces,
        "handle",
        &[
            ("correlation_id", &request_id),
            ("group", "audit-logger"),
            ("event_type", "user.created"),
        ],
    )
    .await;
    assert!(
        is_child(&audited, &http),
        "audit-logger handles it in the request's trace: {audited:#?}"
    );
    let relayed = ended(&traces, "publish", &[("correlation_id", &request_id)]).await;
    assert!(
        is_child(&relayed, &http),
        "the relay publishes it in the request's trace: {relayed:#?}"
    );
    assert_eq!(attribute(&relayed, "traceparent"), traceparent(&http));

    let caller = stack.caller().await;
    let found = caller
        .user_get_profile(&UserGetProfileRequest { user_id })
        .instrument(tracing::info_span!("client"))
        .await
        .expect("user-auth answers the command");
    assert!(found.profile.is_some());
    let client = traces.one("client");
    let call = traces
        .named("command")
        .into_iter()
        .find(|span| is_child(span, &client))
        .expect("the caller's command span");
    let served = ended(
        &traces,
        "handle",
        &[("event_type", "user.get_profile"), ("group", "user-auth")],
    )
    .await;
    assert!(
        is_child(&served, &call),
        "user-auth handles the command in the caller's trace: {served:#?}"
    );
    let server = traces
        .named("command")
        .into_iter()
        .find(|span| is_child(span, &served))
        .expect("the server's command span");
    assert_eq!(attribute(&call, "reply_traceparent"), traceparent(&server));
    assert_eq!(attribute(&call, "outcome"), "ok");
}
