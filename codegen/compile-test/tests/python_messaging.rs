//! Commands, notifications and consumers across languages: the committed Python module of XERPIUM's catalog
//! (`generated/python/xerpium_events.py`, driven by `tests/python/messaging.py` with the pinned packages of
//! `.venv/`) against the Rust runtime and the generated API of `xerpium-events`, through a real redis-server:
//!
//! - Python calls the commands a Rust `CompanyPartnerCommandServer` serves, and Rust calls those a Python
//!   `UserAuthCommands` serves: responses, failures and timeouts alike, replies as the Rust server writes them;
//! - a Python subscriber receives what Rust notifies (`SendNotifications`), and a Rust one what Python does;
//! - a Python consumer handles the events Rust publishes, retries one by delivery count, and dead-letters
//!   poison entries exactly as a Rust consumer of the same entries does.
//!
//! Without `.venv/` the tests are skipped, except in CI (`CI` set), where they fail.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Python, Running, entry_fields};
use tokio::sync::oneshot;
use uuid::Uuid;
use xerpium_events::messaging::testing::{RedisServer, read_as_cloudevent};
use xerpium_events::messaging::{
    Caller, CommandCaller, CommandServer, Consumer, Envelope, Keys, NotificationMessage, NotificationTarget, Notifier,
    Publisher, StartPosition, Subscriber,
};
use xerpium_events::{
    Address, CommandClient, CommandError, Company, CompanyGetRequest, CompanyGetResponse, CompanyPartnerCommandServer,
    CompanyPartnerCommands, CurrencyConvertRequest, CurrencyConvertResponse, Event, HandlerError, Message,
    NotificationType, PartnerValidateVatRequest, PartnerValidateVatResponse, PublishContext, PublishEvents,
    SendNotifications, SystemServiceStarted, UserCreated, UserDispatch, UserGetProfileRequest, UserHandler,
    UserProfile, UserRole,
};

const PATIENCE: Duration = Duration::from_secs(20);

/// A stream entry: its id and its fields, in order.
type Entry = (String, Vec<(String, String)>);

/// Where an entry is: its stream and its id there.
type Location = (String, String);

/// A plain connection to the test's server, for what the tests read and write beside the runtime.
fn redis(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url())
        .and_then(|client| client.get_connection())
        .expect("a connection")
}

/// Every entry of `stream`.
fn entries(connection: &mut redis::Connection, stream: &str) -> Vec<Entry> {
    let raw: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query(connection)
        .expect("XRANGE");
    raw.into_iter()
        .map(|(id, flat)| {
            let fields = flat.chunks(2).map(|pair| (pair[0].clone(), pair[1].clone())).collect();
            (id, fields)
        })
        .collect()
}

/// The value of field `name`.
fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The names of `fields`, in order.
fn names(fields: &[(String, String)]) -> Vec<&str> {
    fields.iter().map(|(name, _)| name.as_str()).collect()
}

/// A line a script printed, as JSON.
fn parsed(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"))
}

/// A company with an address in Germany and no VAT number.
fn muster(company_id: Uuid) -> Company {
    Company {
        company_id,
        name: "Muster".into(),
        legal_name: "Muster GmbH".into(),
        vat_number: None,
        currency: "EUR".into(),
        address: Some(Address {
            street: "Hauptstraße 1".into(),
            postal_code: "10115".into(),
            city: "Berlin".into(),
            region: None,
            country: "DE".into(),
        }),
        active: true,
    }
}

/// Holds one company, for callers that pass the correlation id `req-42`; validates no VAT number.
struct Registry(Company);

impl CompanyPartnerCommands for Registry {
    async fn company_get(
        &self,
        request: CompanyGetRequest,
        message: &Message,
    ) -> Result<CompanyGetResponse, HandlerError> {
        match message.envelope.correlation_id.as_str() {
            "req-42" => Ok(CompanyGetResponse {
                company: (request.company_id == self.0.company_id).then(|| self.0.clone()),
            }),
            other => Err(HandlerError::permanent(format!(
                "called with the correlation id {other:?}"
            ))),
        }
    }

    async fn partner_validate_vat(
        &self,
        _: PartnerValidateVatRequest,
        _: &Message,
    ) -> Result<PartnerValidateVatResponse, HandlerError> {
        Err(HandlerError::permanent("the VAT register is closed"))
    }

    async fn currency_convert(
        &self,
        _: CurrencyConvertRequest,
        _: &Message,
    ) -> Result<CurrencyConvertResponse, HandlerError> {
        Err(HandlerError::permanent("not called in these tests"))
    }
}

/// Runs `future` in a task until the returned sender fires (or is dropped), then waits for it to end.
struct Background {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), xerpium_events::messaging::Error>>,
}

impl Background {
    fn spawn<F>(run: impl FnOnce(oneshot::Receiver<()>) -> F) -> Background
    where
        F: std::future::Future<Output = Result<(), xerpium_events::messaging::Error>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        Background {
            stop,
            task: tokio::spawn(run(stopped)),
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("stops in time")
            .expect("its task")
            .expect("ends cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_calls_a_command_served_by_rust() {
    let Some(python) = Python::xerpium() else { return };
    let server = RedisServer::start().expect("redis-server starts");
    let config = server.config("company-partner").build().expect("valid config");
    let known = Uuid::now_v7();
    let commands = CommandServer::builder(&config).build().expect("valid server");
    let serving = Background::spawn(|stopped| {
        commands.run(CompanyPartnerCommandServer(Registry(muster(known))), async move {
            let _ = stopped.await;
        })
    });

    let namespace = config.namespace();
    let known_text = known.to_string();
    let output = python.run(
        &["messaging.py", "call", config.redis_url(), namespace, &known_text],
        "",
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout).lines().map(parsed).collect();
    serving.stop().await;

    let response = |company| serde_json::to_value(CompanyGetResponse { company }).expect("serializes");
    assert_eq!(lines[0]["found"], response(Some(muster(known))), "{lines:#?}");
    assert_eq!(lines[1]["missing"], response(None));
    let failed = CommandError::Failed {
        command: "partner.validate_vat",
        target: "company-partner",
        reason: "permanent: the VAT register is closed".into(),
    };
    assert_eq!(lines[2]["failed"], "permanent: the VAT register is closed");
    assert_eq!(lines[2]["message"], failed.to_string(), "the Rust text");
    let timeout = CommandError::Timeout {
        command: "user.get_profile",
        target: "user-auth",
        after: Duration::from_millis(300),
    };
    assert_eq!(lines[3]["timeout"], timeout.to_string(), "the Rust text");

    let reply_stream = lines[4]["reply_stream"].as_str().expect("the reply stream");
    assert!(reply_stream.starts_with(&format!("{namespace}:replies:python-caller-")));
    let mut connection = redis(&server);
    let requests = entries(&mut connection, &config.keys().commands("company-partner"));
    assert_eq!(requests.len(), 3, "{requests:#?}");
    for (_, fields) in &requests {
        read_as_cloudevent(fields).unwrap_or_else(|error| panic!("{error}: {fields:?}"));
        let envelope = Envelope::from_fields(|name| field(fields, name)).expect("an envelope");
        assert_eq!(envelope.source, "python-caller");
        assert_eq!(envelope.correlation_id, "req-42");
        assert_eq!(envelope.subject, envelope.id.to_string(), "the request id");
        let mut expected: Vec<&str> = envelope.to_fields().iter().map(|(name, _)| *name).collect();
        expected.extend(["replyto", "deadline"]);
        assert_eq!(names(fields), expected, "as the Rust caller writes a request");
        assert_eq!(field(fields, "replyto"), Some(reply_stream));
        let deadline = field(fields, "deadline").expect("a deadline");
        let deadline = chrono::DateTime::parse_from_rfc3339(deadline).expect("RFC 3339");
        assert!(deadline > envelope.time, "{deadline} after {}", envelope.time);
    }
    assert_eq!(field(&requests[0].1, "type"), Some("company.get"));
    assert_eq!(field(&requests[2].1, "type"), Some("partner.validate_vat"));
    let unanswered = entries(&mut connection, &config.keys().commands("user-auth"));
    assert_eq!(unanswered.len(), 1, "the call that timed out was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_calls_a_command_served_by_python() {
    let Some(python) = Python::xerpium() else { return };
    let server = RedisServer::start().expect("redis-server starts");
    let config = server.config("ui").build().expect("valid config");
    let known = Uuid::now_v7();
    let known_text = known.to_string();
    let serving = python.spawn(&[
        "messaging.py",
        "serve",
        config.redis_url(),
        config.namespace(),
        &known_text,
    ]);

    let caller = Caller::connect(&config)
        .await
        .expect("caller")
        .with_context(PublishContext::new().with_correlation_id("req-7"));
    // The first call waits for Python to start; the others have the catalog's timeout.
    let found = caller
        .call(&UserGetProfileRequest { user_id: known }, Some(PATIENCE))
        .await
        .expect("answered");
    let expected = UserProfile {
        user_id: known,
        company_id: Uuid::from_u128(1),
        email: "ada@example.com".into(),
        display_name: "Ada".into(),
        phone: None,
        roles: vec![UserRole::Admin],
        locale: "en".into(),
        locked: false,
        last_login_at: None,
    };
    assert_eq!(found.profile, Some(expected));
    let missing = caller
        .user_get_profile(&UserGetProfileRequest {
            user_id: Uuid::now_v7(),
        })
        .await
        .expect("answered");
    assert_eq!(missing.profile, None);
    let refused = caller
        .user_get_profile(&UserGetProfileRequest { user_id: Uuid::nil() })
        .await
        .expect_err("refused");
    assert_eq!(
        refused,
        CommandError::Failed {
            command: "user.get_profile",
            target: "user-auth",
            reason: "permanent: no such user".into(),
        }
    );
    serving.finish();

    let mut connection = redis(&server);
    let replies = entries(&mut connection, caller.reply_stream());
    assert_eq!(replies.len(), 3, "{replies:#?}");
    for (index, (_, fields)) in replies.iter().enumerate() {
        read_as_cloudevent(fields).unwrap_or_else(|error| panic!("{error}: {fields:?}"));
        let reply = Envelope::from_fields(|name| field(fields, name)).expect("an envelope");
        assert_eq!(
            (reply.source.as_str(), reply.event_type.as_str()),
            ("python-server", "user.get_profile")
        );
        assert_eq!(reply.correlation_id, "req-7");
        assert_eq!(
            reply.causation_id.as_deref(),
            Some(reply.subject.as_str()),
            "subject: the request id"
        );
        // As the Rust server writes a reply: the envelope's fields in wire order, `status`, and `error` if failed.
        let mut expected: Vec<&str> = reply.to_fields().iter().map(|(name, _)| *name).collect();
        expected.push("status");
        if index == 2 {
            expected.push("error");
            assert_eq!(field(fields, "data"), Some("null"));
        }
        assert_eq!(names(fields), expected);
    }
    let ttl: i64 = redis::cmd("PTTL")
        .arg(caller.reply_stream())
        .query(&mut connection)
        .expect("PTTL");
    assert!(
        (1..=30_000).contains(&ttl),
        "the reply stream expires after the server's reply TTL: {ttl}"
    );

    let keys = config.keys();
    let dead = entries(&mut connection, &keys.dead_letters("python-server"));
    assert_eq!(dead.len(), 1, "the refused request, dead-lettered");
    assert_eq!(field(&dead[0].1, "dlqreason"), Some("permanent"));
    assert_eq!(field(&dead[0].1, "dlqerror"), Some("permanent: no such user"));
    let pending: Vec<redis::Value> = redis::cmd("XPENDING")
        .arg(keys.commands("user-auth"))
        .arg("python-server")
        .arg("-")
        .arg("+")
        .arg(10)
        .query(&mut connection)
        .expect("XPENDING");
    assert!(pending.is_empty(), "every request acknowledged: {pending:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_cross_from_rust_to_python_and_back() {
    let Some(python) = Python::xerpium() else { return };
    let server = RedisServer::start().expect("redis-server starts");
    let config = server.config("user-auth").build().expect("valid config");
    let namespace = config.namespace();
    let mut inbox = python.spawn(&[
        "messaging.py",
        "subscribe",
        config.redis_url(),
        namespace,
        "42",
        "admin",
        "3",
    ]);
    assert_eq!(inbox.line(PATIENCE), r#""subscribed""#);

    let notifier = Notifier::new(&config).expect("notifier");
    let data = json!({ "hours": 3 });
    notifier
        .notify_user("43", NotificationType::Error, "Not yours", "For someone else.", None)
        .await
        .expect("sent");
    notifier
        .notify_user("42", NotificationType::Info, "Hello", "Welcome back.", None)
        .await
        .expect("sent");
    notifier
        .notify_role(
            "admin",
            NotificationType::Warning,
            "Backup",
            "The backup is late.",
            Some(data.clone()),
        )
        .await
        .expect("sent");
    notifier
        .notify_all(NotificationType::Success, "Deployed", "Version 2 is live.", None)
        .await
        .expect("sent");
    let received: Vec<Value> = (0..3).map(|_| parsed(&inbox.line(PATIENCE))).collect();
    inbox.finish();
    let expected = [
        (json!({"kind": "user", "id": "42"}), "info", "Hello", None),
        (json!({"kind": "role", "id": "admin"}), "warning", "Backup", Some(data)),
        (json!({"kind": "all"}), "success", "Deployed", None),
    ];
    for (note, (target, kind, title, data)) in received.iter().zip(expected) {
        // Read as the Rust subscriber reads it, too.
        let message: NotificationMessage = serde_json::from_value(note.clone()).expect("a Rust notification");
        assert_eq!(note["target"], target);
        assert_eq!(
            (note["type"].as_str(), note["title"].as_str()),
            (Some(kind), Some(title))
        );
        assert_eq!(message.notification.data, data);
        assert_eq!(message.id.get_version_num(), 7, "a UUIDv7");
    }

    let mut rust_inbox = Subscriber::new(&config)
        .expect("subscriber")
        .subscribe_user("7", ["ops"])
        .await
        .expect("subscribed");
    let output = python.run(&["messaging.py", "notify", config.redis_url(), namespace, "ops"], "");
    assert_eq!(
        parsed(String::from_utf8_lossy(&output.stdout).trim()),
        json!({"receivers": 1})
    );
    let note = tokio::time::timeout(PATIENCE, rust_inbox.recv())
        .await
        .expect("in time")
        .expect("a notification");
    assert_eq!(note.kind::<NotificationType>(), Ok(NotificationType::Success));
    assert_eq!(note.target, NotificationTarget::Role("ops".into()));
    assert_eq!(
        (note.notification.title.as_str(), note.notification.message.as_str()),
        ("Imported", "42 partners imported.")
    );
    assert_eq!(note.notification.data, Some(json!({ "count": 42 })));
}

/// Refuses the users whose e-mail starts with `refused`, as the Python consumer does.
struct Refuse;

impl UserHandler for Refuse {
    async fn created(&self, event: UserCreated, _: &Message) -> Result<(), HandlerError> {
        if event.email.starts_with("refused") {
            return Err(HandlerError::permanent("refused by the test"));
        }
        Ok(())
    }
}

fn user(email: &str) -> UserCreated {
    UserCreated {
        user_id: Uuid::now_v7(),
        company_id: Uuid::from_u128(1),
        email: email.into(),
        display_name: "Someone".into(),
        roles: vec![UserRole::Viewer],
        locale: "de".into(),
        invited_by: None,
        created_at: chrono::Utc::now(),
    }
}

/// Adds poison entries to the `user` streams: an undecodable `user.created`, a type nobody knows and an entry
/// that is no envelope; returns where each is with the dead-letter reason it must get.
fn add_poison(connection: &mut redis::Connection, keys: &Keys) -> BTreeMap<Location, &'static str> {
    let layout = UserCreated::STREAM;
    let entries = [
        (
            entry_fields("user.created", 1, "poison", r#"{"user_id":"not a uuid"}"#),
            "undecodable",
        ),
        (entry_fields("user.vanished", 1, "poison", "{}"), "unknown-type"),
        (vec![("hello", "world".to_owned())], "bad-envelope"),
    ];
    let mut added = BTreeMap::new();
    for (fields, reason) in entries {
        let stream = keys.event_stream("user", &layout, "poison");
        let mut add = redis::cmd("XADD");
        add.arg(&stream).arg("*");
        for (name, value) in &fields {
            add.arg(*name).arg(value);
        }
        let id: String = add.query(connection).expect("XADD");
        added.insert((stream, id), reason);
    }
    added
}

/// The dead letters of `group`, by where the entry they hold was, once there are `count` of them.
fn dead_letters(
    connection: &mut redis::Connection,
    keys: &Keys,
    group: &str,
    count: usize,
) -> BTreeMap<Location, Entry> {
    let started = Instant::now();
    loop {
        let letters = entries(connection, &keys.dead_letters(group));
        if letters.len() >= count {
            assert_eq!(letters.len(), count, "no duplicate dead letters: {letters:#?}");
            return letters
                .into_iter()
                .map(|letter| {
                    let from = |name| field(&letter.1, name).expect("where it was").to_owned();
                    ((from("dlqstream"), from("dlqentryid")), letter)
                })
                .collect();
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{group}: {} dead letters of {count}",
            letters.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_consumer_handles_rust_events_and_dead_letters_the_rust_way() {
    let Some(python) = Python::xerpium() else { return };
    let server = RedisServer::start().expect("redis-server starts");
    let config = server
        .config("user-auth")
        .start(StartPosition::Beginning)
        .build()
        .expect("valid config");
    let keys = config.keys();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let context = PublishContext::new().with_correlation_id("from-rust");
    let good = ["a@example.com", "b@example.com", "c@example.com", "flaky@example.com"].map(user);
    let refused = user("refused@example.com");
    let mut published = BTreeMap::new();
    for event in good.iter().chain([&refused]) {
        let entry_id = publisher.user_created(event, &context).await.expect("published");
        let stream = keys.event_stream("user", &UserCreated::STREAM, &event.user_id.to_string());
        published.insert((stream, entry_id), event.user_id.to_string());
    }
    let mut connection = redis(&server);
    let mut reasons = add_poison(&mut connection, &keys);
    let refused_entry = published
        .iter()
        .find(|(_, subject)| **subject == refused.user_id.to_string());
    reasons.insert(refused_entry.expect("published").0.clone(), "permanent");

    let rust = Consumer::builder(&config).group("rust").build().expect("consumer");
    let consuming = Background::spawn(|stopped| {
        rust.run(UserDispatch(Refuse), async move {
            let _ = stopped.await;
        })
    });
    let mut consumer = python.spawn(&[
        "messaging.py",
        "consume",
        config.redis_url(),
        config.namespace(),
        "python",
        "python-1",
    ]);
    let handled: Vec<Value> = good.iter().map(|_| parsed(&consumer.line(PATIENCE))).collect();
    let from_python = dead_letters(&mut connection, &keys, "python", reasons.len());
    let from_rust = dead_letters(&mut connection, &keys, "rust", reasons.len());
    finish_consumers(consumer, consuming).await;

    check_handled(&handled, &published, &good, &keys);
    let caused = entries(&mut connection, &keys.events("system"));
    assert_eq!(caused.len(), 1, "the event a handler published: {caused:#?}");
    let follow_up = Envelope::from_fields(|name| field(&caused[0].1, name)).expect("an envelope");
    let cause = handled
        .iter()
        .find(|line| line["subject"] == good[0].user_id.to_string());
    assert_eq!(
        follow_up.causation_id.as_deref(),
        cause.and_then(|line| line["id"].as_str())
    );
    assert_eq!(
        (follow_up.correlation_id.as_str(), follow_up.source.as_str()),
        ("from-rust", "python-consumer")
    );
    let started: SystemServiceStarted = serde_json::from_str(&follow_up.data).expect("a Rust event");
    assert_eq!(started.instance, "python-1");
    for (at, reason) in &reasons {
        let (_, python) = &from_python[at];
        let (_, rust) = &from_rust[at];
        assert_eq!(
            names(python),
            names(rust),
            "the fields of a dead letter, in the Rust order"
        );
        for (name, value) in python {
            let theirs = field(rust, name).expect("the same fields");
            match name.as_str() {
                "dlqgroup" => assert_eq!(value, "python"),
                "dlqconsumer" => assert_eq!(value, "python-1"),
                "dlqtime" => assert_eq!(value.len(), theirs.len(), "RFC 3339 with milliseconds: {value}"),
                // What the JSON or the envelope lacks, each language says in its own words.
                "dlqerror" if *reason == "undecodable" => {
                    let what = |text: &str| text.split(" does not match").next().unwrap_or_default().to_owned();
                    assert_eq!(what(value), what(theirs), "{value} / {theirs}");
                }
                "dlqerror" if *reason == "bad-envelope" => assert!(!value.is_empty() && !theirs.is_empty()),
                _ => assert_eq!(value, theirs, "{name} of the {reason} dead letter"),
            }
        }
        assert_eq!(field(python, "dlqreason"), Some(*reason));
        assert_eq!(field(python, "dlqattempts"), Some("1"));
        if *reason != "bad-envelope" {
            read_as_cloudevent(python).unwrap_or_else(|error| panic!("{error}: {python:?}"));
        }
    }
    for stream in keys.event_streams("user", &UserCreated::STREAM) {
        let pending: Vec<redis::Value> = redis::cmd("XPENDING")
            .arg(&stream)
            .arg("python")
            .arg("-")
            .arg("+")
            .arg(10)
            .query(&mut connection)
            .expect("XPENDING");
        assert!(pending.is_empty(), "{stream}: every entry settled: {pending:?}");
    }
}

/// Stops the Python consumer (it settles what it holds first) and the Rust one.
async fn finish_consumers(python: Running, rust: Background) {
    let rest = python.finish();
    assert!(rest.is_empty(), "nothing handled beyond the expected: {rest:?}");
    rust.stop().await;
}

/// The events the Python consumer handled: each good one once, from its subject's partition, in stream order
/// per partition, the flaky one on its second delivery.
fn check_handled(handled: &[Value], published: &BTreeMap<Location, String>, good: &[UserCreated], keys: &Keys) {
    let layout = UserCreated::STREAM;
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for line in handled {
        let entry_id = line["entry_id"].as_str().expect("an entry id");
        let subject = line["subject"].as_str().expect("a subject");
        let stream = line["stream"].as_str().expect("a stream");
        let at = (stream.to_owned(), entry_id.to_owned());
        assert_eq!(published.get(&at).map(String::as_str), Some(subject), "{line}");
        assert_eq!(
            stream,
            keys.event_stream("user", &layout, subject),
            "the subject's partition"
        );
        assert_eq!(
            (line["type"].as_str(), line["model"].as_str()),
            (Some("user.created"), Some("UserCreated"))
        );
        assert_eq!(line["correlation_id"], "from-rust");
        let flaky = good
            .iter()
            .any(|event| event.email.starts_with("flaky") && event.user_id.to_string() == subject);
        assert_eq!(line["delivery"], if flaky { 2 } else { 1 }, "{line}");
        if let Some(before) = last.insert(stream, entry_id) {
            assert!(
                stream_order(before) < stream_order(entry_id),
                "{stream}: {before} then {entry_id}"
            );
        }
    }
    let mut subjects: Vec<&str> = handled.iter().filter_map(|line| line["subject"].as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    assert_eq!(subjects.len(), good.len(), "each good event handled once: {handled:#?}");
}

/// An entry id as a pair of numbers, which order as the stream does.
fn stream_order(entry_id: &str) -> (u64, u64) {
    let (millis, sequence) = entry_id.split_once('-').expect("an entry id");
    (millis.parse().expect("ms"), sequence.parse().expect("sequence"))
}
