//! Generates the fixture catalog's Rust module into `$OUT_DIR`, and beside it the module of the same catalog as it
//! was before the value `a1` was added to its enum `Role` (`xerpium_events_before.rs`), for the tests of consumers
//! built before a catalog change, and the module of the catalog of names that look like trouble (`names.rs`).

use std::path::Path;
use std::process::ExitCode;

use xerpium_codegen::build_script::{generate_into_out_dir, generate_module_into_out_dir, write_into_out_dir};

const FIXTURE: &str = "../tests/fixtures/everything.yaml";

/// The catalog of accepted names that look like trouble (prelude, std and runtime names, keywords), generated
/// into `names.rs`.
const NAMES: &str = "../tests/fixtures/names.yaml";

/// The enum and the value that the older catalog lacks.
const ADDED: (&str, &str) = ("Role", "a1");

fn main() -> ExitCode {
    let names = generate_module_into_out_dir(NAMES, "names.rs");
    if names != ExitCode::SUCCESS {
        return names;
    }
    let current = generate_into_out_dir(FIXTURE);
    if current != ExitCode::SUCCESS {
        return current;
    }
    let mut catalog = match xerpium_codegen::check_catalog(Path::new(FIXTURE)) {
        Ok(catalog) => catalog,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            return ExitCode::FAILURE;
        }
    };
    let (name, value) = ADDED;
    let Some(item) = catalog.enums.iter_mut().find(|item| item.name == name) else {
        eprintln!("error: {FIXTURE} has no enum `{name}`; the older catalog of the tests removes `{value}` from it");
        return ExitCode::FAILURE;
    };
    item.values.retain(|known| known != value);
    write_into_out_dir("xerpium_events_before.rs", &xerpium_codegen::emit::rust::emit(&catalog))
}
