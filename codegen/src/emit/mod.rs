//! Emitters: each takes the checked [`Catalog`](crate::model::Catalog) and
//! returns generated files as strings.
//!
//! [`rust`] is always there (build scripts use it), and so is [`prose`], the
//! wording it shares with the documents; the documents for other languages and
//! for people come with the `docs` feature.

pub mod prose;
pub mod rust;

#[cfg(feature = "docs")]
pub mod asyncapi;

#[cfg(feature = "docs")]
pub mod json_schema;
#[cfg(feature = "docs")]
pub mod markdown;
#[cfg(feature = "docs")]
pub mod python;
#[cfg(feature = "docs")]
pub mod schema;
#[cfg(feature = "docs")]
pub mod text;
