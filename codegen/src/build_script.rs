//! What a `build.rs` calls: generate a catalog's Rust module into `$OUT_DIR`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Generates the Rust module of the catalog at `catalog` (relative to the
/// package) into `$OUT_DIR/xerpium_events.rs` and tells cargo to rerun only
/// when the catalog changes. A bad catalog fails the build with the same
/// diagnostics as `xerpium-codegen validate`.
pub fn generate_into_out_dir(catalog: &str) -> ExitCode {
    generate_module_into_out_dir(catalog, crate::RUST_MODULE)
}

/// Like [`generate_into_out_dir`], into `$OUT_DIR/<file>`: for a build script that generates several catalogs.
pub fn generate_module_into_out_dir(catalog: &str, file: &str) -> ExitCode {
    println!("cargo::rerun-if-changed={catalog}");
    match crate::generate_rust(Path::new(catalog)) {
        Ok(code) => write_into_out_dir(file, &code),
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `code` to `$OUT_DIR/<file>` unless it is there already (so that what includes it is not rebuilt for
/// nothing); for a build script that generates a module of its own making (a catalog it changed in memory).
pub fn write_into_out_dir(file: &str, code: &str) -> ExitCode {
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        eprintln!("error: OUT_DIR is not set; call this from a build script run by cargo");
        return ExitCode::FAILURE;
    };
    let target = out_dir.join(file);
    if std::fs::read_to_string(&target).is_ok_and(|existing| existing == code) {
        return ExitCode::SUCCESS;
    }
    match std::fs::write(&target, code) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot write {}: {error}", target.display());
            ExitCode::FAILURE
        }
    }
}
