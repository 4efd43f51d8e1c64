//! The committed `generated/` matches what the generator makes of
//! `events.yaml` now (the same comparison as `xerpium-codegen check`).

use std::path::Path;

use xerpium_codegen::output::{self, Status};

#[test]
fn committed_generated_files_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalog = xerpium_codegen::check_catalog(&root.join("events.yaml")).unwrap_or_else(|d| panic!("{d}"));
    let out = root.join("generated");
    let files = output::files(&catalog);
    let paths = files.iter().map(|file| file.path.as_str());
    let leftovers = output::leftovers(&out, paths).unwrap_or_else(|e| panic!("cannot list generated/: {e}"));
    assert!(
        leftovers.is_empty(),
        "no longer generated: {leftovers:?}: run `cargo run -p xerpium-codegen -- generate`"
    );
    for file in files {
        let status = output::status(&out, &file).unwrap_or_else(|e| panic!("cannot read generated/{}: {e}", file.path));
        assert!(
            status == Status::Current,
            "generated/{} is not current: run `cargo run -p xerpium-codegen -- generate`",
            file.path
        );
    }
}
