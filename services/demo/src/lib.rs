//! `xerpium-demo`: the scripted scenario of XERPIUM's reference services,
//! played by `scripts/demo` (through the `xerpium-demo` binary) against
//! running services, and by the end-to-end tests against services they
//! start themselves.
//!
//! # Layout
//! - [`http`]: a small JSON client and a Server-Sent Events reader.
//! - [`scenario`]: the steps, and the audit trail they must leave.

pub mod http;
pub mod scenario;
