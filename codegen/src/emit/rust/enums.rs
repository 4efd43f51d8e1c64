//! Open enums: the catalog's enums and the notification types, which keep a value this build does not know.
//!
//! Adding a value to an enum is not a breaking change (`xerpium-codegen breaking`), so a consumer built before
//! it must still read the events that carry it: each such enum has a variant [`UNRECOGNIZED_VARIANT`] that holds
//! the value as it came, serde reads it and writes it back unchanged, and `as_str`, `Display` and `FromStr`
//! handle it. `ALL` lists the known values only. Holding a `String`, the enum is `Clone` but not `Copy`.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::ident;
use crate::names::{UNRECOGNIZED_VARIANT, variant_name};

/// An open enum named `name` of the wire `values`, with `doc` (its doc comment; this adds a paragraph on values it
/// does not know).
pub(super) fn open_enum(name: &Ident, values: &[String], doc: &TokenStream) -> TokenStream {
    let variants: Vec<Ident> = values.iter().map(|value| ident(&variant_name(value))).collect();
    let declared = variants.iter().zip(values).map(|(variant, wire)| {
        let variant_doc = format!(" `{wire}`");
        quote! { #[doc = #variant_doc] #variant, }
    });
    let unrecognized = ident(UNRECOGNIZED_VARIANT);
    let open_doc = format!(
        " A value this build does not know (one added to the catalog after it) is kept as it came in [`{name}::{unrecognized}`] and written back unchanged; [`{name}::ALL`] lists the known values."
    );
    let unrecognized_doc = " A value this build does not know, as it came on the wire. Reading a known value never gives it: serde and [`FromStr`](core::str::FromStr) give the known variant.";
    quote! {
        #doc
        #[doc = ""]
        #[doc = #open_doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum #name {
            #(#declared)*
            #[doc = #unrecognized_doc]
            #unrecognized(::std::string::String),
        }

        impl #name {
            /// Every known value, in catalog order.
            pub const ALL: &'static [#name] = &[#(#name::#variants),*];

            /// The value's wire name; an unrecognized value's as it came.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#name::#variants => #values,)*
                    #name::#unrecognized(value) => value,
                }
            }

            /// The known value with this wire name.
            fn known(name: &str) -> ::core::option::Option<#name> {
                match name {
                    #(#values => ::core::option::Option::Some(#name::#variants),)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        impl ::core::fmt::Display for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::str::FromStr for #name {
            type Err = ::core::convert::Infallible;

            /// Reads any name: a known value, else an unrecognized one, kept as it is.
            fn from_str(name: &str) -> ::core::result::Result<Self, ::core::convert::Infallible> {
                ::core::result::Result::Ok(match #name::known(name) {
                    ::core::option::Option::Some(known) => known,
                    ::core::option::Option::None => #name::#unrecognized(::std::string::String::from(name)),
                })
            }
        }

        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<Self, D::Error> {
                let name = <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)?;
                ::core::result::Result::Ok(match #name::known(&name) {
                    ::core::option::Option::Some(known) => known,
                    ::core::option::Option::None => #name::#unrecognized(name),
                })
            }
        }
    }
}
