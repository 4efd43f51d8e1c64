//! Exercises the code generated from the fixture catalog: serde wire names
//! and defaults, event metadata, decoding, dispatch, publishing, commands
//! and notifications, through the runtime's traits.

mod support;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::json;
use support::{message, money, posted};
use uuid::Uuid;
use xerpium_codegen_compile_test::*;
use xerpium_messaging::{
    Command, CommandCaller, CommandError, CommandInfo, DecodeError, Dispatch, Event, HandlerError, HandlerResult, Keys,
    Message, Notification, NotificationTarget, Notify, Publish, PublishContext, PublishError, ServeCommands,
    StreamLayout,
};

#[test]
fn events_round_trip_through_json_with_wire_names() {
    let event = posted();
    let value = serde_json::to_value(&event).expect("serializes");
    assert_eq!(
        value["amount"],
        json!({"amount": "12.50", "currency": "EUR"}),
        "decimals travel as strings"
    );
    assert_eq!(value["roles"], json!(["admin", "v2_api"]));
    assert_eq!(value["role"], json!("a1"));
    assert_eq!(value["big"], json!(u64::MAX));
    assert_eq!(value["posted_at"], json!("2026-11-26T10:00:00.123456Z"));
    assert_eq!(value["value_date"], json!("2026-11-30"));
    assert_eq!(
        value["nested"],
        json!([{"a": {"amount": "1", "currency": "EUR"}, "b": null}])
    );
    assert!(value.get("maybe_money").is_none(), "absent optionals are left out");
    let back: LedgerPosted = serde_json::from_value(value).expect("deserializes");
    assert_eq!(back, event);
}

#[test]
fn keyword_field_names_keep_their_wire_names() {
    let voided = LedgerVoided {
        reference: "R-1".into(),
        keywords: Keywords {
            r#type: "t".into(),
            r#match: 1,
            r#async: true,
            self_: Some("me".into()),
            r#gen: 2,
            class: None,
            from: Some("2026-01-02".parse().expect("valid date")),
        },
        tree: Some(Node {
            label: "root".into(),
            children: vec![Node {
                label: "leaf".into(),
                children: vec![],
                by_name: BTreeMap::new(),
            }],
            by_name: BTreeMap::from([("none".to_owned(), None)]),
        }),
    };
    let value = serde_json::to_value(&voided).expect("serializes");
    assert_eq!(
        value["keywords"],
        json!({"type": "t", "match": 1, "async": true, "self": "me", "gen": 2, "from": "2026-01-02"})
    );
    assert_eq!(
        serde_json::from_value::<LedgerVoided>(value).expect("deserializes"),
        voided
    );
    let keyword_event = MatchType {
        id: 5,
        self_: "x".into(),
    };
    assert_eq!(
        serde_json::to_value(&keyword_event).expect("serializes"),
        json!({"id": 5, "self": "x"})
    );
    assert_eq!(keyword_event.subject(), "5");
}

#[test]
fn defaults_fill_absent_fields_and_required_fields_are_required() {
    let mut value = serde_json::to_value(posted()).expect("serializes");
    let object = value.as_object_mut().expect("an object");
    for defaulted in ["role", "small", "count", "rate", "enabled", "weight", "labels"] {
        object.remove(defaulted);
    }
    object.insert("amount".into(), json!({"amount": "3"}));
    let decoded: LedgerPosted = serde_json::from_value(value.clone()).expect("defaults apply");
    assert_eq!(decoded.role, Role::ReadOnly);
    assert_eq!((decoded.small, decoded.count), (-5, 7));
    assert_eq!(decoded.rate, Decimal::from_str("1.25").expect("valid decimal"));
    assert!(decoded.enabled);
    assert_eq!(decoded.weight, 0.5);
    assert!(decoded.labels.is_empty());
    assert_eq!(decoded.amount.currency, "EUR");

    value.as_object_mut().expect("an object").remove("entry_id");
    let error = serde_json::from_value::<LedgerPosted>(value).expect_err("entry_id is required");
    assert!(error.to_string().contains("entry_id"), "{error}");
}

#[test]
fn events_carry_type_version_and_resolved_policy() {
    assert_eq!(
        (LedgerPosted::TYPE, LedgerPosted::CATEGORY, LedgerPosted::VERSION),
        ("ledger.posted", "ledger", 1)
    );
    assert_eq!(LedgerVoided::VERSION, 2);
    // catalog: 3 attempts, 100ms..2s, 1h, 5000; category `ledger`: 10 attempts.
    let policy = LedgerPosted::POLICY;
    assert_eq!(policy.max_attempts, 10);
    assert_eq!(
        (policy.backoff_first, policy.backoff_max),
        (Duration::from_millis(100), Duration::from_secs(2))
    );
    assert_eq!((policy.retention, policy.max_len), (Duration::from_secs(3600), 5000));
    // event `ledger.voided`: backoff 5s..1m and 48h on top of the category's.
    let voided = LedgerVoided::POLICY;
    assert_eq!(voided.max_attempts, 10);
    assert_eq!(
        (voided.backoff_first, voided.backoff_max),
        (Duration::from_secs(5), Duration::from_secs(60))
    );
    assert_eq!(voided.retention, Duration::from_secs(48 * 3600));
    assert_eq!(MatchType::POLICY.max_attempts, 3);
    assert_eq!(posted().subject(), Uuid::from_u128(7).to_string());
}

#[test]
fn names_parse_and_print() {
    assert_eq!(Category::ALL, [Category::Ledger, Category::Match, Category::Shipment]);
    assert_eq!(Category::from_str("match"), Ok(Category::Match));
    assert_eq!(
        Category::Ledger.events(),
        [
            EventType::LedgerPosted,
            EventType::LedgerVoided,
            EventType::LedgerClosed,
            EventType::LedgerClosedV2,
            EventType::LedgerClosedV1
        ]
    );
    assert!(Category::from_str("nope").is_err());
    assert_eq!(EventType::ALL.len(), 8);
    assert_eq!(EventType::from_str("ledger.voided"), Ok(EventType::LedgerVoided));
    assert_eq!(EventType::LedgerVoided.version(), 2);
    assert_eq!(EventType::MatchType.category(), Category::Match);
    assert_eq!(EventType::lookup("ledger.voided", 1), None);
    assert_eq!(EventType::LedgerPosted.to_string(), "ledger.posted");
    assert_eq!(Role::from_str("read_only"), Ok(Role::ReadOnly));
    assert_eq!(Role::V2Api.as_str(), "v2_api");
    assert_eq!(
        serde_json::to_string(&Role::ReadOnly).expect("serializes"),
        "\"read_only\""
    );
    assert_eq!(
        Role::from_str("root"),
        Ok(Role::Unrecognized("root".into())),
        "a value this build does not know is kept"
    );
}

#[test]
fn any_event_decodes_by_type_and_version_and_never_panics() {
    let data = serde_json::to_string(&posted()).expect("serializes");
    let decoded = AnyEvent::decode("ledger.posted", 1, &data).expect("decodes");
    assert_eq!(decoded.event_type(), EventType::LedgerPosted);
    assert_eq!(decoded, AnyEvent::LedgerPosted(posted()));
    assert_eq!(decoded.subject(), Uuid::from_u128(7).to_string());
    assert!(matches!(
        AnyEvent::decode("ledger.posted", 2, &data),
        Err(DecodeError::UnknownType { version: 2, .. })
    ));
    assert!(matches!(
        AnyEvent::decode("ledger.nope", 1, &data),
        Err(DecodeError::UnknownType { .. })
    ));
    for bad in ["", "{", "null", "[]", "{\"entry_id\": 5}", "\u{0}"] {
        assert!(
            matches!(
                AnyEvent::decode("ledger.posted", 1, bad),
                Err(DecodeError::Payload { .. })
            ),
            "{bad:?}"
        );
    }
}

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<String>>,
}

impl LedgerHandler for Recorder {
    async fn posted(&self, event: LedgerPosted, message: &Message) -> HandlerResult {
        self.seen
            .lock()
            .expect("not poisoned")
            .push(format!("posted {} {}", event.entry_id, message.entry_id));
        Ok(())
    }
}

impl EventHandler for Recorder {
    async fn match_type(&self, event: MatchType, _message: &Message) -> HandlerResult {
        if event.id < 0 {
            return Err(HandlerError::permanent("negative id"));
        }
        self.seen
            .lock()
            .expect("not poisoned")
            .push(format!("match.type {}", event.id));
        Ok(())
    }
}

#[tokio::test]
async fn category_dispatch_routes_by_type_and_version() {
    let dispatch = LedgerDispatch(Recorder::default());
    assert_eq!(dispatch.categories(), ["ledger"]);
    let data = serde_json::to_string(&posted()).expect("serializes");
    assert_eq!(dispatch.dispatch(&message("ledger.posted", 1, &data)).await, Ok(()));
    assert_eq!(
        *dispatch.0.seen.lock().expect("not poisoned"),
        [format!("posted {} 1-0", Uuid::from_u128(7))]
    );

    // Not overridden: acknowledged and ignored (the payload is still checked).
    let voided = json!({"reference": "r", "keywords": {"type": "t", "match": 1, "async": false, "gen": 0}});
    assert_eq!(
        dispatch
            .dispatch(&message("ledger.voided", 2, &voided.to_string()))
            .await,
        Ok(())
    );

    let bad = dispatch.dispatch(&message("ledger.posted", 1, "{not json")).await;
    assert!(matches!(bad, Err(HandlerError::Undecodable(_))), "{bad:?}");
    let unknown = dispatch.dispatch(&message("ledger.posted", 9, &data)).await;
    assert_eq!(
        unknown,
        Err(HandlerError::UnknownType {
            event_type: "ledger.posted".into(),
            version: 9
        })
    );
}

#[tokio::test]
async fn all_events_dispatch_reads_every_category() {
    let dispatch = EventDispatch(Recorder::default());
    assert_eq!(dispatch.categories(), ["ledger", "match", "shipment"]);
    assert_eq!(
        dispatch
            .dispatch(&message("match.type", 1, r#"{"id": 4, "self": "x"}"#))
            .await,
        Ok(())
    );
    assert_eq!(
        dispatch
            .dispatch(&message("match.type", 1, r#"{"id": -1, "self": "x"}"#))
            .await,
        Err(HandlerError::Permanent("negative id".into()))
    );
    assert!(matches!(
        dispatch.dispatch(&message("other.thing", 1, "{}")).await,
        Err(HandlerError::UnknownType { .. })
    ));
    assert_eq!(*dispatch.0.seen.lock().expect("not poisoned"), ["match.type 4"]);
}

/// What a publish carried: type, subject, JSON payload, correlation id.
type Published = (String, String, String, Option<String>);

/// Records what would be published.
#[derive(Default)]
struct MemoryPublisher {
    published: Mutex<Vec<Published>>,
}

impl Publish for MemoryPublisher {
    async fn publish<E: Event>(&self, event: &E, context: &PublishContext) -> Result<String, PublishError> {
        let data = serde_json::to_string(event).map_err(|source| PublishError::Encode {
            event_type: E::TYPE,
            source,
        })?;
        let mut published = self.published.lock().expect("not poisoned");
        published.push((
            E::TYPE.to_owned(),
            event.subject(),
            data,
            context.correlation_id.clone(),
        ));
        Ok(format!("{}-0", published.len()))
    }
}

#[tokio::test]
async fn typed_publisher_methods_publish_through_the_trait() {
    let publisher = MemoryPublisher::default();
    let context = PublishContext::new().with_correlation_id("req-1");
    let id = publisher.ledger_posted(&posted(), &context).await.expect("published");
    assert_eq!(id, "1-0");
    publisher
        .match_type(
            &MatchType {
                id: 9,
                self_: "s".into(),
            },
            &PublishContext::new(),
        )
        .await
        .expect("published");
    let published = publisher.published.lock().expect("not poisoned");
    assert_eq!(published[0].0, "ledger.posted");
    assert_eq!(published[0].1, Uuid::from_u128(7).to_string());
    assert_eq!(published[0].3.as_deref(), Some("req-1"));
    assert_eq!((published[1].0.as_str(), published[1].1.as_str()), ("match.type", "9"));
}

struct Ledger;

impl LedgerServiceCommands for Ledger {
    async fn ledger_get_entry(
        &self,
        request: LedgerGetEntryRequest,
        _message: &Message,
    ) -> Result<LedgerGetEntryResponse, HandlerError> {
        if request.entry_id.is_nil() {
            return Err(HandlerError::permanent("nil id"));
        }
        Ok(LedgerGetEntryResponse {
            amount: Some(money("5")),
            found: true,
        })
    }

    async fn ledger_ping(
        &self,
        _request: LedgerPingRequest,
        _message: &Message,
    ) -> Result<LedgerPingResponse, HandlerError> {
        Ok(LedgerPingResponse {})
    }
}

/// Carries commands straight to a server in the same process.
struct Loopback<S>(S);

impl<S: ServeCommands> CommandCaller for Loopback<S> {
    async fn call<C: Command>(&self, request: &C, _timeout: Option<Duration>) -> Result<C::Response, CommandError> {
        let data = serde_json::to_string(request).map_err(|e| CommandError::Transport {
            command: C::NAME,
            reason: e.to_string(),
        })?;
        let reply = self
            .0
            .serve(&message(C::NAME, C::VERSION, &data))
            .await
            .map_err(|error| CommandError::Failed {
                command: C::NAME,
                target: C::TARGET,
                reason: error.to_string(),
            })?;
        serde_json::from_str(&reply).map_err(|e| CommandError::Transport {
            command: C::NAME,
            reason: e.to_string(),
        })
    }
}

#[tokio::test]
async fn commands_round_trip_through_client_and_server() {
    assert_eq!(
        (LedgerGetEntryRequest::NAME, LedgerGetEntryRequest::TARGET),
        ("ledger.get_entry", "ledger-service")
    );
    assert_eq!(LedgerGetEntryRequest::TIMEOUT, Duration::from_secs(2));
    assert_eq!(
        LedgerPingRequest::TIMEOUT,
        Duration::from_secs(5),
        "the default timeout"
    );
    let client = Loopback(LedgerServiceCommandServer(Ledger));
    assert_eq!(client.0.target(), "ledger-service");
    assert_eq!(client.0.commands(), ["ledger.get_entry", "ledger.ping"]);
    let response = client
        .ledger_get_entry(&LedgerGetEntryRequest {
            entry_id: Uuid::from_u128(1),
        })
        .await;
    assert_eq!(
        response,
        Ok(LedgerGetEntryResponse {
            amount: Some(money("5")),
            found: true
        })
    );
    let failed = client
        .ledger_get_entry(&LedgerGetEntryRequest { entry_id: Uuid::nil() })
        .await;
    assert!(
        matches!(failed, Err(CommandError::Failed { ref reason, .. }) if reason.contains("nil id")),
        "{failed:?}"
    );
    assert_eq!(
        client.ledger_ping(&LedgerPingRequest {}).await,
        Ok(LedgerPingResponse {})
    );
    let unknown = client.0.serve(&message("ledger.unknown", 1, "{}")).await;
    assert!(matches!(unknown, Err(HandlerError::UnknownType { .. })));
}

#[test]
fn the_build_lists_its_commands_notification_targets_and_event_summaries() {
    assert_eq!(
        COMMANDS,
        [
            CommandInfo {
                name: "ledger.get_entry",
                service: "ledger-service",
                version: 1,
                timeout: Duration::from_secs(2),
                summary: "Reads one entry, e.g. a posted one.",
            },
            CommandInfo {
                name: "ledger.ping",
                service: "ledger-service",
                version: 1,
                timeout: Duration::from_secs(5),
                summary: "",
            },
        ],
        "in catalog order, the first sentence of each description"
    );
    // The same values as the request types' constants.
    let constants = |name, service, version, timeout| (name, service, version, timeout);
    assert_eq!(
        constants(
            COMMANDS[0].name,
            COMMANDS[0].service,
            COMMANDS[0].version,
            COMMANDS[0].timeout
        ),
        constants(
            LedgerGetEntryRequest::NAME,
            LedgerGetEntryRequest::TARGET,
            LedgerGetEntryRequest::VERSION,
            LedgerGetEntryRequest::TIMEOUT
        )
    );
    assert_eq!(
        LedgerServiceCommandServer(Ledger).commands(),
        COMMANDS.iter().map(|command| command.name).collect::<Vec<_>>()
    );
    // The catalog names no targets: every one.
    assert_eq!(NOTIFICATION_TARGETS, ["user", "role", "all"]);
    assert_eq!(EventType::LedgerPosted.summary(), "An entry was posted.");
    // A description of several lines and sentences: the first sentence.
    assert_eq!(EventType::LedgerVoided.summary(), "An entry was voided.");
    // A sentence of several clauses is whole; an older version without a description has the newest's.
    assert_eq!(
        EventType::LedgerClosedV1.summary(),
        "A ledger period was closed; the balance was a float."
    );
    assert_eq!(EventType::LedgerClosedV2.summary(), "A ledger period was closed.");
    const SUMMARY: &str = EventType::ShipmentSent.summary();
    assert_eq!(SUMMARY, "A shipment left the warehouse.", "a const fn");
    assert!(EventType::ALL.iter().all(|event| !event.summary().contains('\n')));
}

#[derive(Default)]
struct MemoryNotify {
    sent: Mutex<Vec<(NotificationTarget, Notification)>>,
}

impl Notify for MemoryNotify {
    async fn notify(&self, target: &NotificationTarget, notification: &Notification) -> Result<(), PublishError> {
        self.sent
            .lock()
            .expect("not poisoned")
            .push((target.clone(), notification.clone()));
        Ok(())
    }
}

#[tokio::test]
async fn notifications_reach_user_role_and_everyone() {
    let notify = MemoryNotify::default();
    notify
        .notify_user("u1", NotificationType::Success, "Welcome!", "Hello", None)
        .await
        .expect("sent");
    notify
        .notify_role(
            "admin",
            NotificationType::Warning,
            "Disk",
            "Low",
            Some(json!({"free": 1})),
        )
        .await
        .expect("sent");
    notify
        .notify_all(NotificationType::Info, "Maintenance", "Tonight", None)
        .await
        .expect("sent");
    let sent = notify.sent.lock().expect("not poisoned");
    let targets: Vec<_> = sent
        .iter()
        .map(|(target, n)| (target.clone(), n.kind.clone()))
        .collect();
    assert_eq!(
        targets,
        [
            (NotificationTarget::User("u1".into()), "success".into()),
            (NotificationTarget::Role("admin".into()), "warning".into()),
            (NotificationTarget::All, "info".into())
        ]
    );
    assert_eq!(sent[1].1.data, Some(json!({"free": 1})));
    assert_eq!(NotificationType::ALL.len(), 4);
}

#[test]
fn dispatchers_report_the_policy_of_their_types() {
    let ledger = LedgerDispatch(Recorder::default());
    assert_eq!(ledger.policy("ledger.voided"), Some(LedgerVoided::POLICY));
    assert_eq!(ledger.policy("match.type"), None, "not a type of this category");
    assert_eq!(ledger.policy("ledger.nope"), None);
    let all = EventDispatch(Recorder::default());
    assert_eq!(all.policy("match.type"), Some(MatchType::POLICY));
}

const HOUR: Duration = Duration::from_secs(3600);

impl ShipmentHandler for Recorder {}

#[test]
fn a_category_stream_is_trimmed_by_the_longest_retention_and_largest_cap_of_its_types() {
    // `shipment`: 4 partitions; the category caps at 200 and `delivered` at 100, `sent` keeps 1h (the
    // catalog's) and `delivered` 72h: the streams keep the longest and the largest.
    let shipment = StreamLayout {
        partitions: 4,
        retention: 72 * HOUR,
        max_len: 200,
    };
    assert_eq!(ShipmentSent::STREAM, shipment);
    assert_eq!(ShipmentDelivered::STREAM, shipment);
    assert!(ShipmentSent::STREAM.is_partitioned());
    assert_eq!(
        (ShipmentSent::POLICY.retention, ShipmentDelivered::POLICY.max_len),
        (HOUR, 100),
        "each type keeps its own policy"
    );
    assert_eq!(Category::Shipment.layout(), shipment);
    assert_eq!(EventType::ShipmentSent.layout(), shipment);
    // `ledger`: one stream; 48h from `voided`; every version of `closed` shares it.
    let ledger = StreamLayout {
        partitions: 1,
        retention: 48 * HOUR,
        max_len: 5000,
    };
    for layout in [
        LedgerPosted::STREAM,
        LedgerClosedV1::STREAM,
        Category::Ledger.layout(),
        EventType::LedgerClosedV2.layout(),
    ] {
        assert_eq!(layout, ledger);
    }
    assert_eq!(
        MatchType::STREAM,
        StreamLayout {
            partitions: 1,
            retention: HOUR,
            max_len: 5000
        }
    );
}

#[test]
fn dispatchers_report_the_layout_of_their_categories() {
    let shipment = ShipmentDispatch(Recorder::default());
    assert_eq!(shipment.categories(), ["shipment"]);
    assert_eq!(shipment.layout("shipment"), Category::Shipment.layout());
    assert_eq!(shipment.layout("ledger"), StreamLayout::DEFAULT, "not its category");
    let all = EventDispatch(Recorder::default());
    for category in Category::ALL {
        assert_eq!(all.layout(category.as_str()), category.layout());
    }
    assert_eq!(all.layout("nope"), StreamLayout::DEFAULT);
    assert_eq!(
        LedgerDispatch(Recorder::default()).layout("ledger"),
        LedgerPosted::STREAM
    );
}

#[test]
fn an_event_goes_to_the_stream_of_its_subjects_partition() {
    let keys = Keys::new("test");
    let layout = ShipmentSent::STREAM;
    let streams = keys.event_streams(ShipmentSent::CATEGORY, &layout);
    assert_eq!(
        streams,
        [
            "test:events:shipment:0",
            "test:events:shipment:1",
            "test:events:shipment:2",
            "test:events:shipment:3"
        ]
    );
    let mut used = [false; 4];
    for n in 0..200 {
        let subject = format!("shipment-{n}");
        let partition = layout.partition_of(&subject);
        let stream = keys.event_stream(ShipmentSent::CATEGORY, &layout, &subject);
        assert_eq!(stream, format!("test:events:shipment:{partition}"));
        assert_eq!(stream, streams[partition as usize]);
        used[partition as usize] = true;
    }
    assert_eq!(used, [true; 4], "subjects spread over every partition");
    // Reference values of 32-bit FNV-1a: "a" hashes to 0xe40c292c, "foobar" to 0xbf9cf968.
    assert_eq!(layout.partition_of("a"), 0xe40c_292c % 4);
    assert_eq!(layout.partition_of("foobar"), 0xbf9c_f968 % 4);
    assert_eq!(
        keys.event_stream(LedgerPosted::CATEGORY, &LedgerPosted::STREAM, "anything"),
        "test:events:ledger",
        "an unpartitioned category has one stream"
    );
}

/// Records which handler method each version of `ledger.closed` reached.
#[derive(Default)]
struct Versions {
    seen: Mutex<Vec<String>>,
}

impl LedgerHandler for Versions {
    async fn closed(&self, event: LedgerClosed, _message: &Message) -> HandlerResult {
        let line = format!("v3 {} by {}", event.balance.amount, event.closed_by);
        self.seen.lock().expect("not poisoned").push(line);
        Ok(())
    }

    async fn closed_v2(&self, event: LedgerClosedV2, _message: &Message) -> HandlerResult {
        let line = format!("v2 {}", event.balance.amount);
        self.seen.lock().expect("not poisoned").push(line);
        Ok(())
    }

    async fn closed_v1(&self, event: LedgerClosedV1, _message: &Message) -> HandlerResult {
        let line = format!("v1 {}", event.balance);
        self.seen.lock().expect("not poisoned").push(line);
        Ok(())
    }
}

#[tokio::test]
async fn versions_side_by_side_get_a_type_and_a_handler_method_each() {
    assert_eq!(
        (
            LedgerClosed::TYPE,
            LedgerClosed::VERSION,
            LedgerClosedV1::TYPE,
            LedgerClosedV1::VERSION
        ),
        ("ledger.closed", 3, "ledger.closed", 1)
    );
    assert_eq!(LedgerClosedV2::VERSION, 2);
    assert_eq!(LedgerClosedV1::POLICY, LedgerClosed::POLICY);
    // The wire name alone means the newest version; lookup finds each one.
    assert_eq!(EventType::from_str("ledger.closed"), Ok(EventType::LedgerClosed));
    assert_eq!(EventType::lookup("ledger.closed", 1), Some(EventType::LedgerClosedV1));
    assert_eq!(EventType::LedgerClosedV2.as_str(), "ledger.closed");

    let period = Uuid::from_u128(3);
    let v1 = json!({"period_id": period, "balance": 1.5}).to_string();
    let v2 = json!({"period_id": period, "balance": {"amount": "2.50", "currency": "EUR"}}).to_string();
    let v3 = serde_json::to_string(&LedgerClosed {
        period_id: period,
        closed_by: Uuid::from_u128(4),
        balance: money("3.75"),
    })
    .expect("serializes");
    let decoded = AnyEvent::decode("ledger.closed", 1, &v1).expect("v1 decodes");
    assert_eq!(
        decoded,
        AnyEvent::LedgerClosedV1(LedgerClosedV1 {
            period_id: period,
            balance: 1.5
        })
    );
    assert_eq!(decoded.subject(), period.to_string());
    assert!(
        AnyEvent::decode("ledger.closed", 3, &v1).is_err(),
        "v1 payload is not v3"
    );

    let dispatch = LedgerDispatch(Versions::default());
    for (version, data) in [(1, &v1), (3, &v3), (2, &v2)] {
        let handled = dispatch.dispatch(&message("ledger.closed", version, data)).await;
        assert_eq!(handled, Ok(()), "version {version}");
    }
    assert_eq!(
        *dispatch.0.seen.lock().expect("not poisoned"),
        [
            "v1 1.5",
            format!("v3 3.75 by {}", Uuid::from_u128(4)).as_str(),
            "v2 2.50"
        ]
    );

    let publisher = MemoryPublisher::default();
    let old = LedgerClosedV1 {
        period_id: period,
        balance: 1.5,
    };
    publisher
        .ledger_closed_v1(&old, &PublishContext::new())
        .await
        .expect("published");
    let published = publisher.published.lock().expect("not poisoned");
    assert_eq!(published[0].0, "ledger.closed");
    assert_eq!(published[0].1, period.to_string());
}
