//! The JSON Schemas generated from the fixture catalog accept the payloads
//! that the generated Rust types write (exactly what the runtime publishes:
//! `serde_json::to_string` of the event) and reject payloads that the Rust
//! types would not read. Validated with `boon` (draft 2020-12) with format
//! assertions on, so `uuid`, `date-time` and `date` are checked too.

mod support;

use serde::Serialize;
use serde_json::{Value, json};
use support::{Validator, money, posted, voided};
use uuid::Uuid;
use xerpium_codegen_compile_test::*;

/// `payload` as JSON with `change` applied to its object.
fn changed(payload: &impl Serialize, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut value = serde_json::to_value(payload).expect("serializes");
    change(value.as_object_mut().expect("an object"));
    value
}

#[test]
fn every_payload_the_rust_types_write_matches_its_schema() {
    let validator = Validator::new();
    validator.accepts("ledger.posted.v1.json", &posted());
    #[allow(deprecated)]
    let sparse = LedgerPosted {
        maybe_money: None,
        flag: None,
        note: None,
        legacy_code: None,
        nested: Vec::new(),
        ..posted()
    };
    validator.accepts("ledger.posted.v1.json", &sparse);
    validator.accepts("ledger.voided.v2.json", &voided());
    let closed = LedgerClosed {
        period_id: Uuid::from_u128(1),
        closed_by: Uuid::from_u128(2),
        balance: money("-0.01"),
    };
    validator.accepts("ledger.closed.v3.json", &closed);
    let v2 = LedgerClosedV2 {
        period_id: Uuid::from_u128(1),
        balance: money("100"),
    };
    validator.accepts("ledger.closed.v2.json", &v2);
    let v1 = LedgerClosedV1 {
        period_id: Uuid::from_u128(1),
        balance: 1.5,
    };
    validator.accepts("ledger.closed.v1.json", &v1);
    let keyword = MatchType {
        id: i64::MIN,
        self_: "s".into(),
    };
    validator.accepts("match.type.v1.json", &keyword);
    let request = LedgerGetEntryRequest {
        entry_id: Uuid::now_v7(),
    };
    validator.accepts("ledger.get_entry.request.v1.json", &request);
    let response = LedgerGetEntryResponse {
        amount: Some(money("3")),
        found: true,
    };
    validator.accepts("ledger.get_entry.response.v1.json", &response);
    validator.accepts("ledger.ping.request.v1.json", &LedgerPingRequest {});
    validator.accepts("ledger.ping.response.v1.json", &LedgerPingResponse {});
    let notification = xerpium_messaging::NotificationMessage {
        id: Uuid::now_v7(),
        time: chrono::Utc::now(),
        target: xerpium_messaging::NotificationTarget::Role("admin".into()),
        notification: xerpium_messaging::Notification {
            kind: NotificationType::Warning.as_str().to_owned(),
            title: "Disk".into(),
            message: "Almost full".into(),
            data: Some(json!({"free": "2%"})),
        },
    };
    validator.accepts("notification.json", &notification);
    let to_everyone = xerpium_messaging::NotificationMessage {
        target: xerpium_messaging::NotificationTarget::All,
        ..notification.clone()
    };
    validator.accepts("notification.json", &to_everyone);
}

#[test]
fn what_readers_may_see_but_rust_does_not_write_is_accepted_too() {
    let validator = Validator::new();
    // Optional fields given as null, defaulted fields left out, unknown fields added (forward compatible).
    let payload = changed(&posted(), |object| {
        object.insert("note".into(), Value::Null);
        object.insert("flag".into(), Value::Null);
        for defaulted in ["role", "small", "count", "rate", "enabled", "weight", "labels"] {
            object.remove(defaulted);
        }
        object.insert("added_later".into(), json!({"any": "thing"}));
        // Enum values added to the catalog later.
        object.insert("roles".into(), json!(["admin", "auditor"]));
        object.insert("flag".into(), json!("maybe"));
    });
    assert!(
        serde_json::from_value::<LedgerPosted>(payload.clone()).is_ok(),
        "Rust reads it"
    );
    assert_eq!(validator.check("ledger.posted.v1.json", &payload), Ok(()));
    let notification = json!({
        "id": Uuid::now_v7(), "time": "2026-11-26T10:00:00.123Z", "target": {"kind": "all"},
        "type": "fatal", "title": "t", "message": "m",
    });
    let read: xerpium_messaging::NotificationMessage =
        serde_json::from_value(notification.clone()).expect("Rust reads it");
    assert_eq!(
        read.kind::<NotificationType>(),
        Ok(NotificationType::Unrecognized("fatal".into()))
    );
    assert_eq!(validator.check("notification.json", &notification), Ok(()));
}

#[test]
fn payloads_that_rust_would_not_read_are_rejected() {
    let validator = Validator::new();
    let schema = "ledger.posted.v1.json";
    let cases: Vec<(Value, &str)> = vec![
        (
            changed(&posted(), |o| drop(o.remove("entry_id"))),
            "missing properties 'entry_id'",
        ),
        (
            changed(&posted(), |o| drop(o.insert("entry_id".into(), json!("42")))),
            "is not valid uuid",
        ),
        (
            changed(&posted(), |o| drop(o.insert("role".into(), json!(3)))),
            "want string",
        ),
        (
            changed(&posted(), |o| drop(o.insert("count".into(), json!(-1)))),
            "must be >=0",
        ),
        (
            changed(&posted(), |o| drop(o.insert("small".into(), json!(1_u64 << 40)))),
            "must be <=2147483647",
        ),
        (
            changed(&posted(), |o| drop(o.insert("posted_at".into(), json!("yesterday")))),
            "is not valid date-time",
        ),
        (
            changed(&posted(), |o| drop(o.insert("value_date".into(), json!("2026-13-45")))),
            "is not valid date",
        ),
        (
            changed(&posted(), |o| drop(o.insert("tags".into(), json!({"k": 1})))),
            "want string",
        ),
        (
            changed(&posted(), |o| {
                drop(o.insert("nested".into(), json!([{"a": {"currency": "EUR"}}])))
            }),
            "missing properties 'amount'",
        ),
        (
            changed(&posted(), |o| drop(o.insert("enabled".into(), json!("yes")))),
            "want boolean",
        ),
    ];
    for (payload, because) in &cases {
        assert!(
            serde_json::from_value::<LedgerPosted>(payload.clone()).is_err(),
            "Rust should not read {payload}"
        );
        validator.rejects(schema, payload, because);
    }
    // Stricter than Rust, which also reads a decimal from a JSON number or in exponent notation:
    // writers put decimals on the wire as plain digits in a string.
    let number = changed(&posted(), |o| drop(o.insert("rate".into(), json!(0.1))));
    validator.rejects(schema, &number, "want string");
    let exponent = changed(&posted(), |o| drop(o.insert("rate".into(), json!("1e3"))));
    validator.rejects(schema, &exponent, "does not match pattern");
    // An older version's payload is not the newest version's.
    let v1 = json!({"period_id": Uuid::from_u128(1), "balance": 1.5});
    validator.rejects("ledger.closed.v3.json", &v1, "missing properties 'closed_by'");
    let keywords = changed(&voided(), |o| drop(o.insert("keywords".into(), json!({"type": "t"}))));
    validator.rejects(
        "ledger.voided.v2.json",
        &keywords,
        "missing properties 'match', 'async', 'gen'",
    );
    let notification = json!({
        "id": Uuid::now_v7(), "time": "2026-11-26T10:00:00.123Z", "target": {"kind": "all"},
        "type": "fatal", "title": "t", "message": "m",
    });
    let to_nobody = changed(&notification, |o| {
        drop(o.insert("target".into(), json!({"kind": "nobody"})))
    });
    validator.rejects("notification.json", &to_nobody, "must be one of");
}
