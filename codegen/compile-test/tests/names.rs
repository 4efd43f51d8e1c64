//! Exercises the code generated from `codegen/tests/fixtures/names.yaml`, a catalog of accepted names that look
//! like trouble: its types named `Option`, `Result`, `String`, `Vec`, `Box`, `Event` or `Message` are the
//! catalog's, its keywords keep their wire names, the defaults of `Shipping` and `ShippingAddress` stay apart, and
//! handler methods named like trait methods (`into`, `clone`, `unknown`) are the ones called.
//!
//! The module is used by path (`n::Option`): a glob import would shadow the prelude here too.

mod support;

use std::str::FromStr;
use std::sync::{Arc, Mutex};

use serde_json::json;
use support::message;
use uuid::Uuid;
use xerpium_codegen_compile_test::names as n;
use xerpium_messaging::{Dispatch, Event, HandlerError, HandlerResult, Message, ServeCommands};

#[test]
fn types_named_like_prelude_and_runtime_items_are_the_catalogs() {
    let result = n::Result {
        ok: Some(n::Option {
            value: None,
            some: true,
        }),
        err: "e".into(),
    };
    let value = serde_json::to_value(&result).expect("serializes");
    assert_eq!(value, json!({"ok": {"some": true}, "err": "e"}));
    let read: n::Result = serde_json::from_value(json!({})).expect("deserializes");
    assert_eq!((read.ok, read.err.as_str()), (None, "none"), "the default of `err`");

    let tree = n::Box {
        inner: vec![n::Box { inner: Vec::new() }],
    };
    assert_eq!(
        serde_json::to_value(&tree).expect("serializes"),
        json!({"inner": [{"inner": []}]})
    );
    let strings = n::Vec {
        items: vec![n::String { text: "t".into() }],
    };
    assert_eq!(
        serde_json::to_value(&strings).expect("serializes"),
        json!({"items": [{"text": "t"}]})
    );
    let event = n::Event {
        message: n::Message { body: "b".into() },
    };
    let read: n::Event = serde_json::from_value(json!({"message": {"body": "b"}})).expect("deserializes");
    assert_eq!(read, event);
}

#[test]
fn the_defaults_of_types_whose_helpers_would_share_a_name_stay_apart() {
    let shipping: n::Shipping = serde_json::from_value(json!({})).expect("deserializes");
    let address: n::ShippingAddress = serde_json::from_value(json!({})).expect("deserializes");
    assert_eq!(
        (shipping.address_city.as_str(), address.city.as_str()),
        ("Berlin", "Paris")
    );
}

#[test]
fn keywords_are_variants_and_fields_with_their_wire_names() {
    assert_eq!(
        serde_json::to_value(n::Keyword::Self_).expect("serializes"),
        json!("self")
    );
    assert_eq!(n::Keyword::from_str("self"), Ok(n::Keyword::Self_));
    let wire: Vec<&str> = n::Keyword::ALL.iter().map(n::Keyword::as_str).collect();
    assert_eq!(
        wire,
        [
            "self", "super", "crate", "type", "match", "async", "none", "some", "ok", "err"
        ]
    );
    assert_eq!(n::Keyword::Err.to_string(), "err");
    assert_eq!(n::Category::Self_.as_str(), "self");
    assert_eq!(n::Category::from_str("self"), Ok(n::Category::Self_));
    assert_eq!(n::NotificationType::Self_.as_str(), "self");

    let event = n::SelfType {
        keyword: n::Keyword::Crate,
        self_: "me".into(),
        super_: Some(n::Send { to: "you".into() }),
    };
    let value = serde_json::to_value(&event).expect("serializes");
    assert_eq!(value, json!({"keyword": "crate", "self": "me", "super": {"to": "you"}}));
    assert_eq!(event.subject(), "crate");
    assert_eq!(n::EventType::lookup("self.type", 1), Some(n::EventType::SelfType));
    let decoded = n::AnyEvent::decode("self.type", 1, &value.to_string()).expect("decodes");
    assert_eq!(decoded, n::AnyEvent::SelfType(event));

    let into: n::OrderInto =
        serde_json::from_value(json!({"id": Uuid::from_u128(1), "shipping": {}})).expect("deserializes");
    assert_eq!(into.keyword, n::Keyword::Self_, "the default `self`");
}

/// Records which handler method was called. It is `Clone` (so `clone` and `into` also name methods of `Clone` and
/// `Into` on it): the dispatchers call the catalog's methods all the same.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<&'static str>>>);

impl Recorder {
    fn record(&self, method: &'static str) -> HandlerResult {
        self.0.lock().expect("not poisoned").push(method);
        Ok(())
    }

    fn calls(&self) -> Vec<&'static str> {
        self.0.lock().expect("not poisoned").clone()
    }
}

impl n::OrderHandler for Recorder {
    async fn into(&self, _event: n::OrderInto, _message: &Message) -> HandlerResult {
        self.record("into")
    }

    async fn clone(&self, _event: n::OrderClone, _message: &Message) -> HandlerResult {
        self.record("clone")
    }

    async fn unknown(&self, _event: n::OrderUnknown, _message: &Message) -> HandlerResult {
        self.record("unknown")
    }
}

impl n::EventHandler for Recorder {
    async fn order_unknown(&self, _event: n::OrderUnknown, _message: &Message) -> HandlerResult {
        self.record("order_unknown")
    }
}

#[tokio::test]
async fn handler_methods_named_like_trait_methods_are_the_ones_called() {
    let id = Uuid::from_u128(2);
    let into = json!({"id": id, "shipping": {}}).to_string();
    let other = json!({"id": id}).to_string();
    let dispatch = n::OrderDispatch(Recorder::default());
    for (event_type, data) in [
        ("order.into", &into),
        ("order.clone", &other),
        ("order.unknown", &other),
    ] {
        assert_eq!(
            dispatch.dispatch(&message(event_type, 1, data)).await,
            Ok(()),
            "{event_type}"
        );
    }
    assert_eq!(dispatch.0.calls(), ["into", "clone", "unknown"]);

    let all = n::EventDispatch(Recorder::default());
    assert_eq!(all.dispatch(&message("order.unknown", 1, &other)).await, Ok(()));
    assert_eq!(
        all.dispatch(&message("order.into", 1, &into)).await,
        Ok(()),
        "not overridden"
    );
    let unknown = all.dispatch(&message("order.gone", 1, "{}")).await;
    assert!(matches!(unknown, Err(HandlerError::UnknownType { .. })), "{unknown:?}");
    assert_eq!(all.0.calls(), ["order_unknown"]);
}

/// Serves `order.into` of the service `self`.
struct SelfService;

impl n::SelfCommands for SelfService {
    async fn order_into(
        &self,
        request: n::OrderIntoRequest,
        _message: &Message,
    ) -> Result<n::OrderIntoResponse, HandlerError> {
        Ok(n::OrderIntoResponse {
            result: Some(n::Result {
                ok: request.option,
                err: "served".into(),
            }),
        })
    }
}

#[tokio::test]
async fn a_service_named_by_a_keyword_serves_its_commands() {
    let server = n::SelfCommandServer(SelfService);
    assert_eq!(
        (server.target(), server.commands()),
        ("self", ["order.into"].as_slice())
    );
    let reply = server
        .serve(&message("order.into", 1, r#"{"option": {"some": false}}"#))
        .await
        .expect("served");
    let reply: serde_json::Value = serde_json::from_str(&reply).expect("JSON");
    assert_eq!(reply, json!({"result": {"ok": {"some": false}, "err": "served"}}));
}
