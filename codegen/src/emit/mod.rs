//! Emitters: each takes the checked [`Catalog`](crate::model::Catalog) and
//! returns generated files as strings.

pub mod rust;
