//! Payloads of the fixture catalog shared by the tests of this crate.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;
use xerpium_codegen_compile_test::*;

/// `amount` euros.
pub fn money(amount: &str) -> Money {
    Money {
        amount: Decimal::from_str(amount).expect("valid decimal"),
        currency: "EUR".into(),
    }
}

/// A `ledger.posted` that sets every field, the optional ones included.
#[allow(deprecated)]
pub fn posted() -> LedgerPosted {
    LedgerPosted {
        entry_id: Uuid::from_u128(7),
        amount: money("12.50"),
        nested: vec![BTreeMap::from([
            ("a".to_owned(), Some(money("1"))),
            ("b".to_owned(), None),
        ])],
        maybe_money: None,
        tags: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        roles: vec![Role::Admin, Role::V2Api],
        role: Role::A1,
        flag: Some(Flag::Off),
        raw: json!({"any": [1, "two", null]}),
        ratio: 0.25,
        big: u64::MAX,
        small: -1,
        count: 3,
        total: -9_000_000_000,
        posted_at: "2026-11-26T10:00:00.123456Z".parse().expect("valid time"),
        value_date: "2026-11-30".parse().expect("valid date"),
        note: Some("private".into()),
        rate: Decimal::from_str("0.333").expect("valid decimal"),
        enabled: false,
        weight: 2.0,
        labels: vec!["x".into()],
        legacy_code: Some("L1".into()),
    }
}

/// A `ledger.voided` with keyword field names and a tree.
pub fn voided() -> LedgerVoided {
    LedgerVoided {
        reference: "r-1".into(),
        keywords: Keywords {
            r#type: "t".into(),
            r#match: -3,
            r#async: true,
            self_: Some("me".into()),
            r#gen: 4,
            class: None,
            from: Some("2026-01-31".parse().expect("a date")),
        },
        tree: Some(Node {
            label: "root".into(),
            children: vec![Node {
                label: "leaf".into(),
                children: Vec::new(),
                by_name: BTreeMap::new(),
            }],
            by_name: BTreeMap::from([("none".to_owned(), None)]),
        }),
    }
}

/// The fixture catalog, checked.
pub fn catalog() -> xerpium_codegen::Catalog {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/everything.yaml");
    xerpium_codegen::check_catalog(&fixture).unwrap_or_else(|diagnostics| panic!("{diagnostics}"))
}

/// A stream entry of `event_type` v`version` carrying `data`, as a handler gets it.
pub fn message(event_type: &str, version: u32, data: &str) -> xerpium_messaging::Message {
    xerpium_messaging::Message {
        envelope: xerpium_messaging::Envelope {
            id: Uuid::now_v7(),
            event_type: event_type.to_owned(),
            version,
            source: "test".into(),
            time: chrono::Utc::now(),
            subject: "s".into(),
            correlation_id: "c".into(),
            causation_id: None,
            traceparent: None,
            data: data.to_owned(),
        },
        stream: "test:events:ledger".into(),
        entry_id: "1-0".into(),
        delivery_count: 1,
    }
}

/// The Python interpreter of `.venv/` (or `XERPIUM_PYTHON`); `None` when there is none outside CI.
pub fn python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("XERPIUM_PYTHON") {
        return Some(path.into());
    }
    let venv = workspace().join(".venv/bin/python");
    if venv.is_file() {
        return Some(venv);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing: run scripts/setup",
        venv.display()
    );
    eprintln!("skipped: {} is missing (scripts/setup makes it)", venv.display());
    None
}

/// The workspace's root directory.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The compiled schemas of the fixture catalog, by file name (`ledger.posted.v1.json`).
pub struct Validator {
    schemas: boon::Schemas,
    index: BTreeMap<String, boon::SchemaIndex>,
}

impl Validator {
    /// Compiles every schema of the fixture catalog.
    pub fn new() -> Self {
        let catalog = catalog();
        let mut compiler = boon::Compiler::new();
        compiler.enable_format_assertions();
        let mut schemas = boon::Schemas::new();
        let mut index = BTreeMap::new();
        for file in xerpium_codegen::emit::json_schema::emit(&catalog) {
            let name = file.path.trim_start_matches("schemas/").to_owned();
            let document: Value = serde_json::from_str(&file.contents).expect("a schema is JSON");
            let location = format!("urn:xerpium:{name}");
            compiler.add_resource(&location, document).expect("a new resource");
            let compiled = compiler
                .compile(&location, &mut schemas)
                .unwrap_or_else(|error| panic!("{name} does not compile: {error}"));
            index.insert(name, compiled);
        }
        Validator { schemas, index }
    }

    /// Validates `payload` against schema `name`; the error as text.
    pub fn check(&self, name: &str, payload: &Value) -> Result<(), String> {
        let schema = *self.index.get(name).unwrap_or_else(|| panic!("no schema {name}"));
        self.schemas
            .validate(payload, schema)
            .map_err(|error| format!("{error:#}"))
    }

    /// Panics unless schema `name` accepts `payload`.
    pub fn accepts(&self, name: &str, payload: &impl Serialize) {
        let value = serde_json::to_value(payload).expect("serializes");
        if let Err(error) = self.check(name, &value) {
            panic!("{name} rejects {value}:\n{error}");
        }
    }

    /// Panics unless schema `name` rejects `payload` with an error that mentions `because`.
    pub fn rejects(&self, name: &str, payload: &Value, because: &str) {
        match self.check(name, payload) {
            Ok(()) => panic!("{name} accepts {payload}, but should not: {because}"),
            Err(error) => assert!(error.contains(because), "{name}: expected {because:?} in:\n{error}"),
        }
    }
}
