//! Catalogs that evolve, and personal data in the generated code:
//!
//! - an enum keeps a value this build does not know (`Role::Unrecognized`) and writes it back unchanged;
//! - a consumer built before a value was added (the module `before`, generated from the fixture without the
//!   value `a1` of `Role`) handles an event published with it, through its generated dispatch and through a real
//!   redis-server;
//! - `redacted()` replaces the fields marked `pii` through shared types, lists, maps and options, and `Debug`
//!   never prints their values.

mod support;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Validator, message, posted};
use tokio::sync::{mpsc, oneshot};
use xerpium_codegen_compile_test::*;
use xerpium_messaging::testing::RedisServer;
use xerpium_messaging::{Consumer, Dispatch, HandlerResult, Message, PublishContext, Publisher, StartPosition};

const PATIENCE: Duration = Duration::from_secs(20);

/// A `ledger.posted` carrying `a1`, the value of `Role` that the older catalog lacks, in a field and a list.
fn posted_with_a1() -> LedgerPosted {
    LedgerPosted {
        role: Role::A1,
        roles: vec![Role::Admin, Role::A1],
        ..posted()
    }
}

#[test]
fn a_value_this_build_does_not_know_is_kept_and_written_back_unchanged() {
    let mut payload = serde_json::to_value(posted()).expect("serializes");
    payload["role"] = json!("auditor");
    payload["roles"] = json!(["admin", "auditor"]);
    payload["flag"] = json!("maybe");
    let event: LedgerPosted = serde_json::from_value(payload.clone()).expect("decodes");
    assert_eq!(event.role, Role::Unrecognized("auditor".into()));
    assert_eq!(event.roles, [Role::Admin, Role::Unrecognized("auditor".into())]);
    assert_eq!(event.flag, Some(Flag::Unrecognized("maybe".into())));
    assert_eq!(serde_json::to_value(&event).expect("serializes"), payload, "unchanged");

    let decoded = AnyEvent::decode("ledger.posted", 1, &payload.to_string()).expect("decodes");
    assert_eq!(decoded.to_json().expect("serializes"), payload);
    assert!(
        serde_json::from_value::<Role>(json!(3)).is_err(),
        "a value is still a string"
    );
}

#[test]
fn an_open_enum_parses_and_prints_any_value_and_lists_the_known_ones() {
    let auditor = Role::Unrecognized("auditor".into());
    assert_eq!(Role::from_str("auditor"), Ok(auditor.clone()));
    assert_eq!(
        (auditor.as_str(), auditor.to_string()),
        ("auditor", "auditor".to_owned())
    );
    assert_eq!(
        Role::from_str("a1"),
        Ok(Role::A1),
        "a known value is never unrecognized"
    );
    assert_eq!(
        serde_json::from_value::<Role>(json!("v2_api")).expect("decodes"),
        Role::V2Api
    );
    assert_eq!(Role::ALL, [Role::Admin, Role::ReadOnly, Role::V2Api, Role::A1]);
    assert_eq!(
        NotificationType::from_str("urgent"),
        Ok(NotificationType::Unrecognized("urgent".into()))
    );
    assert_eq!(NotificationType::ALL.len(), 4);
}

#[test]
fn a_consumer_built_before_a_value_was_added_decodes_it() {
    assert_eq!(
        before::Role::ALL,
        [before::Role::Admin, before::Role::ReadOnly, before::Role::V2Api]
    );
    let event = posted_with_a1();
    let data = serde_json::to_string(&event).expect("serializes");
    let decoded = before::AnyEvent::decode("ledger.posted", 1, &data).expect("the old consumer decodes it");
    let before::AnyEvent::LedgerPosted(old) = &decoded else {
        panic!("decoded as {decoded:?}");
    };
    assert_eq!(old.role, before::Role::Unrecognized("a1".into()));
    assert_eq!(
        old.roles,
        [before::Role::Admin, before::Role::Unrecognized("a1".into())]
    );
    assert_eq!(
        serde_json::to_string(old).expect("serializes"),
        data,
        "written back unchanged"
    );
}

/// A consumer built from the older catalog: forwards the `ledger.posted` it handles.
struct OldConsumer(mpsc::UnboundedSender<before::LedgerPosted>);

impl before::LedgerHandler for OldConsumer {
    async fn posted(&self, event: before::LedgerPosted, _message: &Message) -> HandlerResult {
        let _ = self.0.send(event);
        Ok(())
    }
}

#[tokio::test]
async fn an_old_consumer_handles_the_new_value_through_its_dispatch() {
    let (sender, mut received) = mpsc::unbounded_channel();
    let dispatch = before::LedgerDispatch(OldConsumer(sender));
    let event = posted_with_a1();
    let data = serde_json::to_string(&event).expect("serializes");
    assert_eq!(
        dispatch.dispatch(&message("ledger.posted", 1, &data)).await,
        Ok(()),
        "handled, not dead-lettered"
    );
    let old = received.try_recv().expect("handled");
    assert_eq!(old.role, before::Role::Unrecognized("a1".into()));
    assert_eq!(
        serde_json::to_value(&old).expect("serializes"),
        serde_json::to_value(&event).expect("serializes")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_consumer_handles_an_event_published_with_the_new_value() {
    let server = RedisServer::start().expect("redis-server starts");
    let config = server
        .config("ledger-service")
        .start(StartPosition::Beginning)
        .build()
        .expect("valid config");
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let event = posted_with_a1();
    publisher
        .ledger_posted(&event, &PublishContext::new())
        .await
        .expect("published by a producer built after the value was added");

    let (sender, mut received) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let consumer = Consumer::builder(&config)
        .group("built-before")
        .build()
        .expect("consumer");
    let running = tokio::spawn(consumer.run(before::LedgerDispatch(OldConsumer(sender)), async {
        let _ = stopped.await;
    }));
    let old = tokio::time::timeout(PATIENCE, received.recv())
        .await
        .expect("handled in time")
        .expect("handled");
    let _ = stop.send(());
    running.await.expect("consumer task").expect("consumer ends cleanly");
    assert_eq!(old.role, before::Role::Unrecognized("a1".into()));
    assert_eq!(
        serde_json::to_value(&old).expect("serializes"),
        serde_json::to_value(&event).expect("serializes"),
        "the old consumer sees every value as it was published"
    );
}

/// Someone with personal data in every kind of field.
fn contact(name: &str) -> Contact {
    Contact {
        name: name.into(),
        phones: vec!["+33 1 23 45 67 89".into(), "+33 6 00 00 00 00".into()],
        age: Some(42),
        notes: BTreeMap::from([("ada@example.com".to_owned(), "secret".to_owned())]),
        role: Some(Role::A1),
        verified: true,
    }
}

/// A `shipment.delivered` with personal data in options, lists and maps of shared types, and in `pii` fields of
/// every kind (a string, a shared type, JSON, an enum).
fn delivered() -> ShipmentDelivered {
    ShipmentDelivered {
        shipment_id: "S-1".into(),
        signed_by: Some("Ada Lovelace".into()),
        recipient: Some(contact("Ada Lovelace")),
        witnesses: vec![contact("Charles Babbage")],
        by_depot: BTreeMap::from([("lyon".to_owned(), contact("Mary Somerville"))]),
        route: Some(Node {
            label: "Rue de Rivoli".into(),
            children: vec![Node {
                label: "Paris".into(),
                children: Vec::new(),
                by_name: BTreeMap::from([("home".to_owned(), None)]),
            }],
            by_name: BTreeMap::new(),
        }),
        proof: Some(json!({"signature": "Ada"})),
        grade: Some(Flag::On),
    }
}

/// What a redacted `contact`: its personal fields replaced, the others kept.
fn redacted_contact() -> Contact {
    Contact {
        name: REDACTED.into(),
        phones: vec![REDACTED.into(), REDACTED.into()],
        age: Some(0),
        notes: BTreeMap::from([(format!("{REDACTED} 1"), REDACTED.to_owned())]),
        role: Some(Role::A1),
        verified: true,
    }
}

#[test]
fn redacted_replaces_personal_data_through_shared_types_lists_maps_and_options() {
    let redacted = delivered().redacted();
    let expected = ShipmentDelivered {
        shipment_id: "S-1".into(),
        signed_by: Some(REDACTED.into()),
        recipient: Some(redacted_contact()),
        witnesses: vec![redacted_contact()],
        by_depot: BTreeMap::from([("lyon".to_owned(), redacted_contact())]),
        // Held by a `pii` field: personal as a whole, down the tree, keys of its maps included.
        route: Some(Node {
            label: REDACTED.into(),
            children: vec![Node {
                label: REDACTED.into(),
                children: Vec::new(),
                by_name: BTreeMap::from([(format!("{REDACTED} 1"), None)]),
            }],
            by_name: BTreeMap::new(),
        }),
        proof: Some(Value::from(REDACTED)),
        grade: Some(Flag::Unrecognized(REDACTED.into())),
    };
    assert_eq!(redacted, expected);
    let absent = ShipmentDelivered {
        signed_by: None,
        recipient: None,
        route: None,
        ..delivered()
    };
    assert_eq!(
        (absent.redacted().signed_by, absent.redacted().recipient),
        (None, None),
        "absent stays absent"
    );
    // The copy still matches the schema, and events without personal data are copied as they are.
    Validator::new().accepts("shipment.delivered.v1.json", &redacted);
    assert_eq!(posted().redacted().note.as_deref(), Some(REDACTED));
    let sent = ShipmentSent {
        shipment_id: "S-1".into(),
        carrier: "Ada Post".into(),
    };
    assert_eq!(sent.redacted(), sent);
}

#[test]
fn any_event_redacts_whatever_it_holds() {
    let event = AnyEvent::ShipmentDelivered(delivered());
    assert_eq!(event.redacted(), AnyEvent::ShipmentDelivered(delivered().redacted()));
    assert_eq!(event.redacted().subject(), "S-1");
}

#[test]
fn debug_never_prints_personal_values() {
    let printed = format!("{:?} {:#?}", delivered(), AnyEvent::ShipmentDelivered(delivered()));
    for personal in [
        "Ada",
        "Charles",
        "Mary",
        "+33",
        "secret",
        "ada@example.com",
        "Rivoli",
        "Paris",
        "42",
    ] {
        assert!(!printed.contains(personal), "{personal} in {printed}");
    }
    assert!(printed.contains("[redacted]") && printed.contains("S-1") && printed.contains("lyon"));
    let contact = format!("{:?}", contact("Ada"));
    assert!(
        !contact.contains("Ada") && contact.contains("verified: true"),
        "{contact}"
    );
}
