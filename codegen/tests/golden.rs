//! Golden tests: fixture catalogs and the exact files generated from them.
//! After an intended change of the output, refresh them with
//! `UPDATE_EXPECT=1 cargo test -p xerpium-codegen --test golden`.

use std::path::Path;

use expect_test::expect_file;

fn generate(fixture: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    match xerpium_codegen::generate_rust(&path) {
        Ok(code) => code,
        Err(diagnostics) => panic!("{diagnostics}"),
    }
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
