//! `xerpium-codegen`: reads a message catalog (`events.yaml`), checks it and
//! generates the typed Rust API and documents for it.
//!
//! # Layout
//! One pipeline, one module per stage, data flowing one way:
//! - [`load`]: read the YAML ([`yaml`]: a tree in which every node knows where it stands) into raw structures,
//!   reporting every value of the wrong type, unknown or repeated key at once ([`positions`] keeps where each
//!   node stands, by catalog path);
//! - [`validate`]: check names, types, references, versions and partitions, and build the [`model`] (with each
//!   category's stream layout);
//! - [`emit`]: turn the model into files (the Rust module; documents with the `docs` feature);
//! - [`output`]: the set of generated files, written to disk or compared with it.
//!
//! [`breaking`] compares two catalogs and names the changes that would break a deployed producer or consumer.
//!
//! [`build_script`] is what a `build.rs` calls; [`diagnostic`] is how problems are reported, [`names`] the naming rules
//! and [`type_expr`] the syntax of field types.

pub mod breaking;
pub mod build_script;
pub mod diagnostic;
pub mod emit;
pub mod load;
pub mod model;
pub mod names;
pub mod output;
pub mod positions;
pub mod type_expr;
pub mod validate;
pub mod yaml;

use std::path::Path;

pub use diagnostic::{Diagnostic, Diagnostics};
pub use model::Catalog;

/// Loads and checks the catalog at `path`.
pub fn check_catalog(path: &Path) -> Result<Catalog, Diagnostics> {
    validate::validate(&load::load_file(path)?)
}

/// Loads and checks catalog `text`; `file` names it in diagnostics.
pub fn check_catalog_text(file: &str, text: &str) -> Result<Catalog, Diagnostics> {
    validate::validate(&load::parse(file, text)?)
}

/// The file name of the generated Rust module, in `generated/` and `$OUT_DIR`.
pub const RUST_MODULE: &str = "xerpium_events.rs";

/// Generates the Rust module for the catalog at `path` (what `build.rs` calls).
pub fn generate_rust(path: &Path) -> Result<String, Diagnostics> {
    check_catalog(path).map(|catalog| emit::rust::emit(&catalog))
}
