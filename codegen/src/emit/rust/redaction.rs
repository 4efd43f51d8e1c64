//! Personal data in the generated code: every struct (event, shared type, command request and response) can
//! produce a copy of itself with the fields the catalog marks `pii` redacted, and the `Debug` of a struct with such
//! fields prints them redacted, so that no service reads the catalog at run time to know what is personal.
//!
//! Each struct gets a public `redacted(&self) -> Self`; a shared type also a private `redact(&mut self, whole: bool)`
//! that does the work in place for the structs that hold it: its `pii` fields always, and with `whole` (when a `pii`
//! field holds it) every field. How a personal value is replaced is told once, by [`REDACTED_DOC`], the doc comment
//! of the module's `REDACTED`.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::ident;
use crate::model::{Field, Scalar, TypeRef};
use crate::names::{UNRECOGNIZED_VARIANT, rust_ident};

/// The doc comment of the generated `REDACTED`: the rules of redaction, stated once.
const REDACTED_DOC: &str = "\
What replaces personal data (the fields marked `pii` in the catalog) in the redacted copy of an event, a shared
type or a command's request or response (`redacted()`, also `AnyEvent::redacted`), and in their `Debug` output.

A personal value is replaced where it is text: a string becomes `REDACTED`, a JSON value the JSON string
`REDACTED`, an enum value the enum's unrecognized value `REDACTED`. A number, a flag, a uuid, a time or a date
becomes the zero value of its type (`0`, `false`, the nil uuid, the Unix epoch, 1970-01-01). A shared type, a
list or a map is personal as a whole: every value in it is replaced so, and a map's keys become `[redacted] 1`,
`[redacted] 2`, … in order. An absent optional value stays absent. Personal data inside shared types, lists,
maps and options of fields that are not personal is redacted the same way; the rest is kept. The copy is of the
same type, so its JSON still matches the type's schema.";

/// The module's `REDACTED` constant, documented with the rules of redaction.
pub(super) fn marker() -> TokenStream {
    let lines = REDACTED_DOC
        .lines()
        .map(|line| format!(" {line}").trim_end().to_owned());
    quote! {
        #(#[doc = #lines])*
        pub const REDACTED: &str = "[redacted]";
    }
}

/// What a struct is, for its redaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A shared type: a field of another struct may hold it, also a `pii` field, which makes it personal as a whole.
    Shared,
    /// An event, or a command's request or response: never held by a field.
    Message,
}

/// The redaction of one struct.
pub(super) struct Redaction {
    /// Its methods: `redacted`, and for a shared type the `redact` that it and the structs holding it call.
    pub(super) methods: TokenStream,
    /// A `Debug` that prints the redacted copy, when it has `pii` fields (else it derives one).
    pub(super) debug: Option<TokenStream>,
}

/// The redaction of the struct `type_name` of `fields`.
pub(super) fn items(type_name: &Ident, kind: Kind, fields: &[Field]) -> Redaction {
    let allow_deprecated = fields
        .iter()
        .any(|field| field.deprecated)
        .then(|| quote!(#[allow(deprecated)]));
    let root = match kind {
        Kind::Shared => quote!(self),
        Kind::Message => quote!(copy),
    };
    let place = |field: &Field| {
        let field_ident = rust_ident(&field.name).0;
        Place::Field(quote!(#root.#field_ident))
    };
    let personal_fields: Vec<TokenStream> = fields
        .iter()
        .filter(|field| field.pii)
        .map(|field| personal(&place(field), &field.ty))
        .collect();
    let others: Vec<&Field> = fields.iter().filter(|field| !field.pii).collect();
    let inside: Vec<TokenStream> = others
        .iter()
        .filter_map(|field| nested(&place(field), &field.ty))
        .collect();
    let debug = fields
        .iter()
        .any(|field| field.pii)
        .then(|| debug(type_name, fields, allow_deprecated.as_ref()));
    let redacted_doc = quote! {
        /// A copy with its personal data (`pii`) replaced, for logs and audit trails: see [`REDACTED`].
    };
    let methods = match kind {
        Kind::Message if personal_fields.is_empty() && inside.is_empty() => quote! {
            #redacted_doc
            pub fn redacted(&self) -> Self {
                ::core::clone::Clone::clone(self)
            }
        },
        Kind::Message => quote! {
            #redacted_doc
            #allow_deprecated
            pub fn redacted(&self) -> Self {
                let mut copy = ::core::clone::Clone::clone(self);
                #(#personal_fields)*
                #(#inside)*
                copy
            }
        },
        Kind::Shared => {
            let wholly = others.iter().map(|field| personal(&place(field), &field.ty));
            let early_return = (!inside.is_empty()).then(|| quote!(return;));
            let (whole, whole_branch) = if others.is_empty() {
                (quote!(_whole), None)
            } else {
                let branch = quote! {
                    if whole {
                        #(#wholly)*
                        #early_return
                    }
                };
                (quote!(whole), Some(branch))
            };
            quote! {
                #redacted_doc
                pub fn redacted(&self) -> Self {
                    let mut copy = ::core::clone::Clone::clone(self);
                    #type_name::redact(&mut copy, false);
                    copy
                }

                /// Replaces its personal data in place; with `whole` (held by a `pii` field), all of it.
                #allow_deprecated
                // With a single optional field, `if whole { if let … }` is one clippy would collapse.
                #[allow(clippy::collapsible_if)]
                fn redact(&mut self, #whole: bool) {
                    #(#personal_fields)*
                    #whole_branch
                    #(#inside)*
                }
            }
        }
    };
    Redaction { methods, debug }
}

/// A `Debug` that prints the fields of the redacted copy, under their Rust names as a derived one would.
fn debug(type_name: &Ident, fields: &[Field], allow_deprecated: Option<&TokenStream>) -> TokenStream {
    let name = type_name.to_string();
    let entries = fields.iter().map(|field| {
        let field_ident = rust_ident(&field.name).0;
        let label = field_ident.to_string().trim_start_matches("r#").to_owned();
        quote!(.field(#label, &redacted.#field_ident))
    });
    quote! {
        impl ::core::fmt::Debug for #type_name {
            /// Prints [`Self::redacted`].
            #allow_deprecated
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let redacted = self.redacted();
                f.debug_struct(#name) #(#entries)* .finish()
            }
        }
    }
}

/// Where a value to redact is.
enum Place {
    /// A place expression of the value's type (`self.email`).
    Field(TokenStream),
    /// A binding of type `&mut T` to it (`item`).
    Binding(Ident),
}

impl Place {
    /// The place, to assign to (`self.email`, `*item`).
    fn target(&self) -> TokenStream {
        match self {
            Place::Field(place) => place.clone(),
            Place::Binding(binding) => quote!(*#binding),
        }
    }

    /// A `&mut` to the value (`&mut self.email`, `item`).
    fn borrow(&self) -> TokenStream {
        match self {
            Place::Field(place) => quote!(&mut #place),
            Place::Binding(binding) => quote!(#binding),
        }
    }
}

/// The statements that replace the personal value at `place`, of type `ty`, entirely.
fn personal(place: &Place, ty: &TypeRef) -> TokenStream {
    let target = place.target();
    let text = quote!(::std::string::String::from(REDACTED));
    match ty {
        TypeRef::Scalar(Scalar::String) => quote!(#target = #text;),
        TypeRef::Scalar(Scalar::Json) => quote!(#target = ::serde_json::Value::String(#text);),
        TypeRef::Scalar(_) => quote!(#target = ::core::default::Default::default();),
        TypeRef::Enum(name) => {
            let (name, unrecognized) = (ident(name), ident(UNRECOGNIZED_VARIANT));
            quote!(#target = #name::#unrecognized(#text);)
        }
        TypeRef::Struct(name) => {
            let (name, borrow) = (ident(name), place.borrow());
            quote!(#name::redact(#borrow, true);)
        }
        TypeRef::Optional(inner) => if_present(place, inner, |value, ty| Some(personal(value, ty))).unwrap_or_default(),
        TypeRef::List(_) => for_each(place, ty, |item, ty| Some(personal(item, ty))).unwrap_or_default(),
        TypeRef::Map(_) => {
            // The values, then the keys, which are personal too: they become `[redacted] 1`, `[redacted] 2`, … in
            // order.
            let values = for_each(place, ty, |value, ty| Some(personal(value, ty)));
            let borrow = place.borrow();
            quote! {
                #values
                {
                    let map = #borrow;
                    let values = ::core::mem::take(map);
                    for (index, value) in ::core::iter::Iterator::enumerate(values.into_values()) {
                        ::std::collections::BTreeMap::insert(map, ::std::format!("{REDACTED} {}", index + 1), value);
                    }
                }
            }
        }
    }
}

/// The statements that redact the personal data inside the value at `place`, of type `ty`, which is not personal
/// as a whole: that of the shared structs it holds, through options, lists and maps. `None` when it holds no struct.
fn nested(place: &Place, ty: &TypeRef) -> Option<TokenStream> {
    match ty {
        TypeRef::Scalar(_) | TypeRef::Enum(_) => None,
        TypeRef::Struct(name) => {
            let (name, borrow) = (ident(name), place.borrow());
            Some(quote!(#name::redact(#borrow, false);))
        }
        TypeRef::Optional(inner) => if_present(place, inner, nested),
        TypeRef::List(_) | TypeRef::Map(_) => for_each(place, ty, nested),
    }
}

/// `if let Some(value) = <place> { … }` around what `body` makes of `value`, of type `inner`; `None` when it makes
/// nothing.
fn if_present(
    place: &Place,
    inner: &TypeRef,
    body: impl FnOnce(&Place, &TypeRef) -> Option<TokenStream>,
) -> Option<TokenStream> {
    let value = ident("value");
    let body = body(&Place::Binding(value.clone()), inner)?;
    let borrow = place.borrow();
    Some(quote! {
        if let ::core::option::Option::Some(#value) = #borrow {
            #body
        }
    })
}

/// A loop over the values of the list or map `ty` at `place` (an optional value only when present), bound to `item`
/// (a list's) or `value` (a map's), around what `body` makes of each; `None` when it makes nothing.
fn for_each(
    place: &Place,
    ty: &TypeRef,
    body: impl FnOnce(&Place, &TypeRef) -> Option<TokenStream>,
) -> Option<TokenStream> {
    let borrow = place.borrow();
    let (binding, values, item) = match ty {
        TypeRef::List(item) => (ident("item"), borrow, item.as_ref()),
        TypeRef::Map(value) => (
            ident("value"),
            quote!(::std::collections::BTreeMap::values_mut(#borrow)),
            value.as_ref(),
        ),
        _ => return None,
    };
    let (values, item) = match (ty, item) {
        (TypeRef::List(_), TypeRef::Optional(inner)) => (
            quote!(::core::iter::Iterator::flatten(::core::iter::IntoIterator::into_iter(#values))),
            inner.as_ref(),
        ),
        (_, TypeRef::Optional(inner)) => (quote!(::core::iter::Iterator::flatten(#values)), inner.as_ref()),
        _ => (values, item),
    };
    let body = body(&Place::Binding(binding.clone()), item)?;
    Some(quote! {
        for #binding in #values {
            #body
        }
    })
}
