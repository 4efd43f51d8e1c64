//! Reading stream entries from raw Redis replies (`XRANGE`, `XREVRANGE`,
//! `XREAD`, `XREADGROUP`, `XCLAIM`), as the consumer does, for tools that
//! read streams themselves (the operator CLI): fields in the order they were
//! written, text that is not UTF-8 kept with replacement characters (and
//! reported), odd reply shapes an error rather than a panic.

pub use crate::stream::{Entry, Fields, entry_list, read_reply};
