//! Golden tests: fixture catalogs and the exact files generated from them.
//! After an intended change of the output, refresh them with
//! `UPDATE_EXPECT=1 cargo test -p xerpium-codegen --test golden`.

use std::path::Path;

use expect_test::expect_file;

/// The checked fixture catalog `fixture`.
fn catalog(fixture: &str) -> xerpium_codegen::Catalog {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    xerpium_codegen::check_catalog(&path).unwrap_or_else(|diagnostics| panic!("{diagnostics}"))
}

fn generate(fixture: &str) -> String {
    xerpium_codegen::emit::rust::emit(&catalog(fixture))
}

#[test]
fn small_catalog_generates_the_expected_rust() {
    expect_file!["golden/small.rs"].assert_eq(&generate("small.yaml"));
}

#[test]
fn generation_is_deterministic() {
    let first = generate("everything.yaml");
    for _ in 0..3 {
        assert_eq!(generate("everything.yaml"), first);
    }
}

/// The documents of the small catalog: AsyncAPI, Markdown, Python and JSON Schemas.
#[cfg(feature = "docs")]
#[test]
fn small_catalog_generates_the_expected_documents() {
    let documents = xerpium_codegen::output::documents(&catalog("small.yaml"));
    let paths: Vec<&str> = documents.iter().map(|file| file.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "asyncapi.yaml",
            "EVENTS.md",
            "python/xerpium_events.py",
            "schemas/account.opened.v1.json",
            "schemas/account.get.request.v1.json",
            "schemas/account.get.response.v1.json",
            "schemas/notification.json",
        ]
    );
    for file in &documents {
        expect_file![format!("golden/small/{}", file.path)].assert_eq(&file.contents);
    }
}

/// Every document of the catalog that uses every feature is well-formed, and generation is deterministic.
#[cfg(feature = "docs")]
#[test]
fn documents_are_well_formed_and_deterministic() {
    let catalog = catalog("everything.yaml");
    let documents = xerpium_codegen::output::documents(&catalog);
    assert_eq!(documents, xerpium_codegen::output::documents(&catalog));
    for file in &documents {
        if file.path.ends_with(".json") {
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&file.contents);
            assert!(parsed.is_ok(), "{}: {parsed:?}", file.path);
        }
        if file.path.ends_with(".yaml") {
            let parsed: Result<serde_yaml::Value, _> = serde_yaml::from_str(&file.contents);
            assert!(parsed.is_ok(), "{}: {parsed:?}", file.path);
        }
        assert!(!file.contents.contains("\n\n\n\n"), "{}: stray blank lines", file.path);
    }
    let schemas = documents
        .iter()
        .filter(|file| file.path.starts_with("schemas/"))
        .count();
    // 8 event versions, 2 commands × request and response, the notification payload.
    assert_eq!(schemas, 8 + 4 + 1);
}
