//! The code generated from `codegen/tests/fixtures/everything.yaml`, a
//! catalog that uses every type and edge case, compiled against the runtime.

include!(concat!(env!("OUT_DIR"), "/xerpium_events.rs"));
