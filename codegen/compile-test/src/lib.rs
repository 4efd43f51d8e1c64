//! The code generated from `codegen/tests/fixtures/everything.yaml`, a
//! catalog that uses every type and edge case, compiled against the runtime.

include!(concat!(env!("OUT_DIR"), "/xerpium_events.rs"));

/// The code generated from the same catalog as it was before the value `a1` was added to its enum `Role`: what a
/// consumer built then runs, for the tests of catalogs that evolve (see `build.rs`).
pub mod before {
    include!(concat!(env!("OUT_DIR"), "/xerpium_events_before.rs"));
}

/// The code generated from `codegen/tests/fixtures/names.yaml`: accepted names that look like trouble (types named
/// `Option`, `Result`, `String` or `Message`, events named `into` or `clone`, keywords such as `self` and `crate`),
/// in a module of its own so that its `Option` and `String` shadow nothing of the crate.
pub mod names {
    include!(concat!(env!("OUT_DIR"), "/names.rs"));
}
