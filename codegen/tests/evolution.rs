//! Catalogs that evolve: the names that open enums reserve, and what the documents say of enum values a
//! reader does not know. (The generated code itself is exercised by `codegen/compile-test/tests/evolution.rs`.)

use xerpium_codegen::check_catalog_text;

#[test]
fn a_value_that_would_become_the_unrecognized_variant_is_rejected() {
    let catalog = r#"catalog: x
enums:
  Status: [active, unrecognized]
categories:
  user:
    events:
      changed: { subject: id, fields: { id: uuid, status: Status } }
notifications:
  types: [info, unrecognized]
"#;
    let expected = r#"catalog.yaml:3:20: error: enum value `unrecognized` of `Status` becomes the Rust variant `Unrecognized`, which is already the variant that keeps a value this build does not know
  at: enums.Status.1
  hint: rename it
catalog.yaml:9:17: error: notification type `unrecognized` becomes the Rust variant `Unrecognized`, which is already the variant that keeps a value this build does not know
  at: notifications.types.1
  hint: rename it
2 errors"#;
    match check_catalog_text("catalog.yaml", catalog) {
        Ok(_) => panic!("`unrecognized` should be rejected"),
        Err(diagnostics) => assert_eq!(diagnostics.to_string(), expected),
    }
}

/// The documents of a catalog with an enum: every one says that other values than the known ones may appear,
/// except for the kinds of notification target, which the runtime fixes.
#[cfg(feature = "docs")]
#[test]
fn the_documents_say_that_other_enum_values_may_appear() {
    use xerpium_codegen::emit::schema::OTHER_VALUES;

    let catalog = check_catalog_text(
        "catalog.yaml",
        r#"catalog: x
enums:
  Status: [active, locked]
categories:
  user:
    events:
      changed: { subject: id, fields: { id: uuid, status: Status } }
notifications:
  types: [info]
"#,
    )
    .unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
    let documents = xerpium_codegen::output::documents(&catalog);
    let file = |path: &str| {
        documents
            .iter()
            .find(|file| file.path == path)
            .map(|file| file.contents.as_str())
            .unwrap_or_else(|| panic!("no {path}"))
    };
    let schema: serde_json::Value = serde_json::from_str(file("schemas/user.changed.v1.json")).expect("JSON");
    assert_eq!(
        schema["$defs"]["Status"]["anyOf"],
        serde_json::json!([{"enum": ["active", "locked"]}, {"description": OTHER_VALUES}])
    );
    let notification: serde_json::Value = serde_json::from_str(file("schemas/notification.json")).expect("JSON");
    let definitions = &notification["$defs"];
    assert_eq!(
        definitions["NotificationType"]["anyOf"][0]["enum"],
        serde_json::json!(["info"])
    );
    assert_eq!(
        definitions["NotificationTargetKind"]["enum"],
        serde_json::json!(["user", "role", "all"]),
        "closed"
    );
    let asyncapi = file("asyncapi.yaml");
    assert!(
        asyncapi.contains("anyOf:\n        - enum: [\"active\", \"locked\"]"),
        "{asyncapi}"
    );
    assert!(file("python/xerpium_events.py").contains("status: _Open[Status]"));
    assert!(file("EVENTS.md").contains("Other values than those listed may appear"));
}
