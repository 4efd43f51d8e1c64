//! Commands with replies: round trip, load sharing between server
//! instances, typed error replies, timeouts, replies that come early or
//! late, deadlines, and the correlation and causation ids a command passes on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tracing_subscriber::layer::SubscriberExt;
use xerpium_messaging::consumer::dead_letter::field as dlq;
use xerpium_messaging::{
    Caller, Command, CommandCaller, CommandError, CommandServer, ConsumerBuilder, DeliveryPolicy, Error, HandlerError,
    Message, Publish, PublishContext, Publisher, ServeCommands, encode_response,
};

use super::observe::Spans;
use super::support::*;

// On a single server and on a cluster, the same code.
on_both!(
    a_command_makes_the_round_trip_with_its_correlation_id,
    two_server_instances_share_the_commands,
    a_handler_error_comes_back_as_a_typed_error_reply,
);

/// The test command `test.echo`, served by `echo-svc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Echo {
    n: u64,
    /// What the server does: see [`EchoServer::serve`].
    act: Act,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Act {
    Answer,
    Refuse,
    /// Fails (retryably) on the first `n` deliveries.
    Flaky(u32),
    AlwaysFail,
    /// Waits until its gate opens.
    Gate,
    /// Publishes a follow-up event, then answers.
    FollowUp,
    Sleep(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Echoed {
    n: u64,
    server: String,
    correlation_id: String,
    attempt: u32,
}

impl Command for Echo {
    const NAME: &'static str = "test.echo";
    const TARGET: &'static str = "echo-svc";
    const TIMEOUT: Duration = Duration::from_secs(20);
    const VERSION: u32 = 1;
    type Response = Echoed;
}

/// A command `echo-svc` does not serve.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Nope {}

impl Command for Nope {
    const NAME: &'static str = "test.nope";
    const TARGET: &'static str = "echo-svc";
    const TIMEOUT: Duration = Duration::from_secs(20);
    const VERSION: u32 = 1;
    type Response = Echoed;
}

/// One handler run: which request, which delivery, on which server.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Served {
    n: u64,
    attempt: u32,
    server: String,
    request_id: String,
}

/// Gates that `Act::Gate` requests wait on, by `n`.
#[derive(Default)]
struct Gates(Mutex<HashMap<u64, Arc<Notify>>>);

impl Gates {
    fn gate(&self, n: u64) -> Arc<Notify> {
        self.0.lock().expect("gates").entry(n).or_default().clone()
    }
    fn open(&self, n: u64) {
        self.gate(n).notify_one();
    }
}

#[derive(Clone)]
pub(super) struct EchoServer {
    name: String,
    served: Arc<Mutex<Vec<Served>>>,
    gates: Arc<Gates>,
    /// Where `Act::FollowUp` publishes.
    pub(super) publisher: Option<Publisher>,
}

impl EchoServer {
    pub(super) fn new(name: &str) -> Self {
        EchoServer {
            name: name.to_owned(),
            served: Arc::default(),
            gates: Arc::default(),
            publisher: None,
        }
    }

    fn served(&self) -> Vec<Served> {
        self.served.lock().expect("log").clone()
    }
}

impl ServeCommands for EchoServer {
    fn target(&self) -> &'static str {
        "echo-svc"
    }

    fn commands(&self) -> &'static [&'static str] {
        &["test.echo"]
    }

    async fn serve(&self, message: &Message) -> Result<String, HandlerError> {
        if message.envelope.event_type != Echo::NAME {
            return Err(HandlerError::unknown_type(message));
        }
        let echo: Echo = message.decode()?;
        let attempt = message.delivery_count;
        self.served.lock().expect("log").push(Served {
            n: echo.n,
            attempt,
            server: self.name.clone(),
            request_id: message.envelope.id.to_string(),
        });
        match echo.act {
            Act::Answer => {}
            Act::Refuse => return Err(HandlerError::permanent("no such thing")),
            Act::Flaky(failures) if attempt <= failures => return Err(HandlerError::retry("not yet")),
            Act::Flaky(_) => {}
            Act::AlwaysFail => return Err(HandlerError::retry("still down")),
            Act::Gate => self.gates.gate(echo.n).notified().await,
            Act::FollowUp => {
                let publisher = self
                    .publisher
                    .as_ref()
                    .ok_or_else(|| HandlerError::permanent("no publisher"))?;
                publisher
                    .publish(&Ping::new("followed", echo.n), &message.follow_up())
                    .await?;
            }
            Act::Sleep(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
        }
        encode_response(&Echoed {
            n: echo.n,
            server: self.name.clone(),
            correlation_id: message.envelope.correlation_id.clone(),
            attempt,
        })
    }
}

/// A command server running in a task.
pub(super) struct Serving {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), Error>>,
}

impl Serving {
    pub(super) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("server stops in time")
            .expect("server task")
            .expect("server ends cleanly");
    }
}

pub(super) fn serve(
    f: &Fixture,
    server: EchoServer,
    tweak: impl FnOnce(ConsumerBuilder) -> ConsumerBuilder,
) -> Serving {
    let commands = CommandServer::builder(&f.config)
        .consumer_settings(tweak)
        .build()
        .expect("valid server");
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(commands.run(server, async move {
        let _ = stopped.await;
    }));
    Serving { stop: Some(stop), task }
}

pub(super) async fn caller(f: &Fixture) -> Caller {
    Caller::connect(&f.config).await.expect("caller")
}

pub(super) fn echo(n: u64, act: Act) -> Echo {
    Echo { n, act }
}

/// The command stream of `echo-svc`.
pub(super) fn commands(f: &Fixture) -> String {
    f.config.keys().commands("echo-svc")
}

async fn pttl(f: &Fixture, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut f.redis.clone())
        .await
        .expect("PTTL")
}

async fn a_command_makes_the_round_trip_with_its_correlation_id(f: Fixture) {
    let server = EchoServer::new("a");
    let serving = serve(&f, server.clone(), |c| c);
    let caller = caller(&f).await;

    let plain = caller.call(&echo(1, Act::Answer), None).await.expect("answered");
    assert_eq!((plain.n, plain.server.as_str(), plain.attempt), (1, "a", 1));
    let request_id = &server.served()[0].request_id;
    assert_eq!(
        &plain.correlation_id, request_id,
        "a call without context starts its own correlation"
    );

    let traced = caller.with_context(PublishContext::new().with_correlation_id("req-7"));
    let pending = traced.send(&echo(2, Act::Answer), None).await.expect("sent");
    let request_id = pending.request_id().to_string();
    let response = pending.wait().await.expect("answered");
    assert_eq!(
        response.correlation_id, "req-7",
        "the handler sees the caller's correlation id"
    );
    assert_eq!(caller.waiting(), 0);

    // The reply: an envelope answering the request, on a reply stream that expires.
    let replies = entries(&mut f.redis.clone(), caller.reply_stream()).await;
    let reply = replies.last().expect("a reply");
    assert_eq!(reply["type"], "test.echo");
    assert_eq!(reply["correlationid"], "req-7");
    assert_eq!(reply["causationid"], request_id);
    assert_eq!(reply["subject"], request_id);
    assert_eq!(reply["source"], "svc");
    assert_eq!(reply["status"], "ok");
    assert_cloudevent(reply);
    let ttl = pttl(&f, caller.reply_stream()).await;
    assert!(
        ttl > 0 && ttl <= 60_000,
        "the reply stream expires when idle (PTTL {ttl})"
    );

    // The request as it sits in the command stream.
    let requests = entries(&mut f.redis.clone(), &commands(&f)).await;
    let request = requests.iter().find(|r| r["id"] == request_id).expect("the request");
    assert_eq!(request["subject"], request_id);
    assert_eq!(request["correlationid"], "req-7");
    assert_eq!(request["replyto"], caller.reply_stream());
    assert!(request.contains_key("deadline"));
    assert_cloudevent(request);
    serving.stop().await;
    assert_eq!(
        pending_entries(&mut f.redis.clone(), &commands(&f), "svc").await.len(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_a_handler_publishes_are_caused_by_the_command() {
    let f = fixture().await;
    let mut server = EchoServer::new("a");
    server.publisher = Some(f.publisher.clone());
    let serving = serve(&f, server, |c| c);
    let caller = caller(&f)
        .await
        .with_context(PublishContext::new().with_correlation_id("req-8"));

    let pending = caller.send(&echo(1, Act::FollowUp), None).await.expect("sent");
    let request_id = pending.request_id().to_string();
    pending.wait().await.expect("answered");
    let events = entries(&mut f.redis.clone(), &f.stream).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "test.ping");
    assert_eq!(events[0]["causationid"], request_id);
    assert_eq!(events[0]["correlationid"], "req-8");
    serving.stop().await;
}

async fn two_server_instances_share_the_commands(f: Fixture) {
    let (a, b) = (EchoServer::new("a"), EchoServer::new("b"));
    // One command at a time each, so that neither takes them all.
    let one_at_a_time =
        |name: &'static str| move |c: ConsumerBuilder| c.consumer(name).batch_size(1).concurrency(1).max_in_flight(1);
    let first = serve(&f, a.clone(), one_at_a_time("a"));
    let second = serve(&f, b.clone(), one_at_a_time("b"));
    let caller = caller(&f).await;

    let calls = (0..30).map(|n| {
        let caller = caller.clone();
        tokio::spawn(async move { caller.call(&echo(n, Act::Sleep(20)), None).await })
    });
    let mut answered = Vec::new();
    for call in calls {
        answered.push(call.await.expect("task").expect("answered").n);
    }
    answered.sort_unstable();
    assert_eq!(answered, (0..30).collect::<Vec<_>>());
    let (by_a, by_b) = (a.served().len(), b.served().len());
    assert_eq!(by_a + by_b, 30, "each command is served once");
    assert!(
        by_a > 0 && by_b > 0,
        "both instances served some (a: {by_a}, b: {by_b})"
    );
    first.stop().await;
    second.stop().await;
}

async fn a_handler_error_comes_back_as_a_typed_error_reply(f: Fixture) {
    let serving = serve(&f, EchoServer::new("a"), |c| c);
    let caller = caller(&f).await;

    let started = Instant::now();
    let error = caller.call(&echo(1, Act::Refuse), None).await.expect_err("refused");
    match &error {
        CommandError::Failed {
            command,
            target,
            reason,
        } => {
            assert_eq!((*command, *target), ("test.echo", "echo-svc"));
            assert_eq!(reason, "permanent: no such thing");
        }
        other => panic!("expected a failed reply, got {other:?}"),
    }
    assert!(started.elapsed() < Echo::TIMEOUT, "an error reply is no timeout");
    assert_eq!(
        error.to_string(),
        "`test.echo` failed in `echo-svc`: permanent: no such thing"
    );
    f.dead_lettered(1).await;
    assert_eq!(f.dead_letters().await[0][dlq::REASON], "permanent");

    let unknown = caller.call(&Nope {}, None).await.expect_err("not served");
    assert!(
        matches!(&unknown, CommandError::Failed { reason, .. } if reason.contains("unknown type: `test.nope`")),
        "{unknown:?}"
    );
    f.dead_lettered(2).await;
    serving.stop().await;
    // The error replies too are CloudEvents.
    let replies = entries(&mut f.redis.clone(), caller.reply_stream()).await;
    assert_eq!(replies.len(), 2);
    for reply in &replies {
        assert_eq!(reply["status"], "error");
        assert_cloudevent(reply);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retryable_error_is_retried_and_answered_only_after_the_last_attempt() {
    let f = fixture().await;
    let server = EchoServer::new("a");
    let policy = DeliveryPolicy {
        max_attempts: 3,
        backoff_first: Duration::from_millis(20),
        backoff_max: Duration::from_millis(50),
        ..DeliveryPolicy::DEFAULT
    };
    let serving = serve(&f, server.clone(), move |c| c.default_policy(policy));
    let caller = caller(&f).await;

    let recovered = caller
        .call(&echo(1, Act::Flaky(2)), None)
        .await
        .expect("answered in the end");
    assert_eq!(
        recovered.attempt, 3,
        "two failed deliveries, no reply until the third succeeded"
    );

    let error = caller.call(&echo(2, Act::AlwaysFail), None).await.expect_err("gave up");
    assert!(
        matches!(&error, CommandError::Failed { reason, .. } if reason == "retryable: still down"),
        "{error:?}"
    );
    let attempts: Vec<u32> = server.served().iter().filter(|s| s.n == 2).map(|s| s.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    f.dead_lettered(1).await;
    assert_eq!(f.dead_letters().await[0][dlq::REASON], "retries-exhausted");
    // One reply per command: the retries sent nothing.
    assert_eq!(len(&mut f.redis.clone(), caller.reply_stream()).await, 2);
    serving.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_is_a_clearly_worded_timeout() {
    let f = fixture().await;
    let caller = caller(&f).await;
    let started = Instant::now();
    let error = caller
        .call(&echo(1, Act::Answer), Some(Duration::from_millis(300)))
        .await
        .expect_err("nobody answers");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        error,
        CommandError::Timeout {
            command: "test.echo",
            target: "echo-svc",
            after: Duration::from_millis(300),
        }
    );
    assert_eq!(
        error.to_string(),
        "no reply to `test.echo` from `echo-svc` within 300ms: is `echo-svc` running?"
    );
    assert_eq!(caller.waiting(), 0, "a call that timed out is forgotten");

    let abandoned = caller.send(&echo(2, Act::Answer), None).await.expect("sent");
    assert_eq!(caller.waiting(), 1);
    drop(abandoned);
    assert_eq!(caller.waiting(), 0, "a dropped call is forgotten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_arrives_before_the_caller_waits_is_kept() {
    let f = fixture().await;
    let serving = serve(&f, EchoServer::new("a"), |c| c);
    let caller = caller(&f).await;
    let pending = caller.send(&echo(1, Act::Answer), None).await.expect("sent");
    eventually("the reply is in the reply stream", || async {
        len(&mut f.redis.clone(), caller.reply_stream()).await == 1
    })
    .await;
    // The reader hands it to the call before anyone waits for it.
    eventually("the reader has handed the reply to its call", || async {
        caller.waiting() == 0
    })
    .await;
    let response = pending.wait().await.expect("the early reply is kept");
    assert_eq!(response.n, 1);
    serving.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_reply_is_not_delivered_to_the_next_call() {
    let f = fixture().await;
    let server = EchoServer::new("a");
    let gates = server.gates.clone();
    let serving = serve(&f, server, |c| c);
    let caller = caller(&f).await;

    let late = caller.call(&echo(1, Act::Gate), Some(Duration::from_millis(300))).await;
    assert!(matches!(late, Err(CommandError::Timeout { .. })), "{late:?}");
    let next = caller.send(&echo(2, Act::Gate), None).await.expect("sent");
    // The first command's reply comes now, while the next call waits.
    gates.open(1);
    eventually("the late reply is in the reply stream", || async {
        len(&mut f.redis.clone(), caller.reply_stream()).await == 1
    })
    .await;
    gates.open(2);
    let response = next.wait().await.expect("answered");
    assert_eq!(response.n, 2, "the next call gets its own reply, not the late one");
    assert_eq!(len(&mut f.redis.clone(), caller.reply_stream()).await, 2);
    assert_eq!(caller.waiting(), 0);
    serving.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_past_its_deadline_is_not_run() {
    let f = fixture().await;
    let caller = caller(&f).await;
    let gave_up = caller
        .call(&echo(1, Act::Answer), Some(Duration::from_millis(200)))
        .await;
    assert!(matches!(gave_up, Err(CommandError::Timeout { .. })), "{gave_up:?}");

    // A server that starts afterwards reads the old request first, and skips it.
    let server = EchoServer::new("a");
    let serving = serve(&f, server.clone(), |c| c);
    let answered = caller.call(&echo(2, Act::Answer), None).await.expect("answered");
    assert_eq!(answered.n, 2);
    eventually("both requests are acked", || async {
        pending(&mut f.redis.clone(), &commands(&f), "svc").await == 0
    })
    .await;
    let ran: Vec<u64> = server.served().iter().map(|s| s.n).collect();
    assert_eq!(ran, [2], "the expired command never ran");
    assert!(f.dead_letters().await.is_empty());
    serving.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_naming_a_foreign_reply_stream_is_refused() {
    let f = fixture().await;
    let server = EchoServer::new("a");
    let serving = serve(&f, server.clone(), |c| c);
    // A hand-made request whose `replyto` points at an event stream.
    let victim = f.config.keys().events("user");
    let fields: Vec<(String, String)> = xerpium_messaging::Envelope {
        id: uuid::Uuid::now_v7(),
        event_type: "test.echo".into(),
        version: 1,
        source: "intruder".into(),
        time: chrono::Utc::now(),
        subject: "x".into(),
        correlation_id: "c".into(),
        causation_id: None,
        traceparent: None,
        tracestate: None,
        data: serde_json::to_string(&echo(1, Act::Answer)).expect("json"),
    }
    .to_fields()
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain([("replyto".to_owned(), victim.clone())])
    .collect();
    let _: String = redis::cmd("XADD")
        .arg(commands(&f))
        .arg("*")
        .arg(&fields)
        .query_async(&mut f.redis.clone())
        .await
        .expect("XADD");
    f.dead_lettered(1).await;
    let letter = &f.dead_letters().await[0];
    assert_eq!(letter[dlq::REASON], "permanent");
    assert!(
        letter[dlq::ERROR].contains("not a reply stream"),
        "{}",
        letter[dlq::ERROR]
    );
    let exists: bool = redis::cmd("EXISTS")
        .arg(&victim)
        .query_async(&mut f.redis.clone())
        .await
        .expect("EXISTS");
    assert!(!exists, "nothing was written to `{victim}`");
    assert!(server.served().is_empty(), "the handler did not run");
    serving.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_a_transport_error() {
    let mut f = fixture().await;
    let caller = caller(&f).await;
    tokio::task::block_in_place(|| f.server.server_mut().stop()).expect("stops");
    let error = caller.call(&echo(1, Act::Answer), None).await.expect_err("no Redis");
    assert!(
        matches!(&error, CommandError::Transport { reason, .. } if reason.contains("cannot send the request")),
        "{error:?}"
    );
    assert_eq!(caller.waiting(), 0);
}

/// On a current-thread runtime, so that the thread-local subscriber sees
/// the server's tasks too.
#[tokio::test]
async fn calls_and_their_handling_run_in_command_spans() {
    let spans = Spans::default();
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
    let f = fixture().await;
    let serving = serve(&f, EchoServer::new("a"), |c| c);
    let caller = caller(&f)
        .await
        .with_context(PublishContext::new().with_correlation_id("corr-9"));
    let pending = caller.send(&echo(1, Act::Answer), None).await.expect("sent");
    let request_id = pending.request_id().to_string();
    pending.wait().await.expect("answered");
    serving.stop().await;

    let found = spans.named("command");
    assert_eq!(found.len(), 2, "called and served: {found:?}");
    let (called, served) = if found[0].contains_key("target") {
        (&found[0], &found[1])
    } else {
        (&found[1], &found[0])
    };
    for span in [called, served] {
        assert_eq!(span["command"], "test.echo");
        assert_eq!(span["stream"], commands(&f));
        assert_eq!(span["request_id"], request_id);
        assert_eq!(span["correlation_id"], "corr-9");
        assert_eq!(span["outcome"], "ok");
    }
    assert_eq!(called["target"], "echo-svc");
    assert_eq!(called["entry_id"], served["entry_id"]);
    assert_eq!(served["reply_to"], caller.reply_stream());
    assert_eq!(served["delivery"], "1");
}
