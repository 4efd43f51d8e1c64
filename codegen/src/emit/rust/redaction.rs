//! Personal data in the generated code: every struct (event, shared type, command request and response) can
//! produce a copy of itself with the fields the catalog marks `pii` redacted, and the `Debug` of a struct with such
//! fields prints them redacted, so that no service reads the catalog at run time to know what is personal.
//!
//! Each struct gets a public `redacted(&self) -> Self`; a shared type also a private `redact(&mut self, whole: bool)`
//! that does the work in place for the structs that hold it: its `pii` fields always, and with `whole` (when a `pii`
//! field holds it) every field. How a personal value is replaced is told once, by [`REDACTED_DOC`], the doc comment
//! of the module's `REDACTED`.

use super::code::{Code, string};
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

/// The text that replaces a personal string.
const TEXT: &str = "::std::string::String::from(REDACTED)";

/// The module's `REDACTED` constant, documented with the rules of redaction.
pub(super) fn marker() -> Code {
    let mut code = Code::default();
    for line in REDACTED_DOC.lines() {
        code.doc(format!(" {line}").trim_end());
    }
    code.line(format_args!("pub const REDACTED: &str = \"[redacted]\";"));
    code
}

/// What a struct is, for its redaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A shared type: a field of another struct may hold it, also a `pii` field, which makes it personal as a whole.
    Shared,
    /// An event, or a command's request or response: never held by a field.
    Message,
}

/// Writes the redaction methods of the struct `type_name` of `fields`: `redacted`, and for a shared type the
/// `redact` that it and the structs holding it call.
pub(super) fn methods(code: &mut Code, type_name: &str, kind: Kind, fields: &[Field]) {
    let allow_deprecated = fields.iter().any(|field| field.deprecated);
    let root = match kind {
        Kind::Shared => "self",
        Kind::Message => "copy",
    };
    let place = |field: &Field| Place::Field(format!("{root}.{}", rust_ident(&field.name).0));
    let personal_fields: Vec<&Field> = fields.iter().filter(|field| field.pii).collect();
    let others: Vec<&Field> = fields.iter().filter(|field| !field.pii).collect();
    let inside: Vec<&Field> = others.iter().copied().filter(|field| holds_struct(&field.ty)).collect();
    let redact_fields = |code: &mut Code| {
        for field in &personal_fields {
            personal(code, &place(field), &field.ty);
        }
    };
    let redact_inside = |code: &mut Code| {
        for field in &inside {
            nested(code, &place(field), &field.ty);
        }
    };
    code.doc(" A copy with its personal data (`pii`) replaced, for logs and audit trails: see [`REDACTED`].");
    match kind {
        Kind::Message if personal_fields.is_empty() && inside.is_empty() => {
            code.block(format_args!("pub fn redacted(&self) -> Self"), |code| {
                code.line(format_args!("::core::clone::Clone::clone(self)"));
            });
        }
        Kind::Message => {
            allow(code, allow_deprecated);
            code.block(format_args!("pub fn redacted(&self) -> Self"), |code| {
                code.line(format_args!("let mut copy = ::core::clone::Clone::clone(self);"));
                redact_fields(code);
                redact_inside(code);
                code.line(format_args!("copy"));
            });
        }
        Kind::Shared => {
            code.block(format_args!("pub fn redacted(&self) -> Self"), |code| {
                code.line(format_args!("let mut copy = ::core::clone::Clone::clone(self);"));
                code.line(format_args!("{type_name}::redact(&mut copy, false);"));
                code.line(format_args!("copy"));
            });
            code.doc(" Replaces its personal data in place; with `whole` (held by a `pii` field), all of it.");
            allow(code, allow_deprecated);
            // With a single optional field, `if whole { if let … }` is one clippy would collapse.
            code.line(format_args!("#[allow(clippy::collapsible_if)]"));
            let whole = if others.is_empty() { "_whole" } else { "whole" };
            code.block(format_args!("fn redact(&mut self, {whole}: bool)"), |code| {
                redact_fields(code);
                if !others.is_empty() {
                    code.block(format_args!("if whole"), |code| {
                        for field in &others {
                            personal(code, &place(field), &field.ty);
                        }
                        if !inside.is_empty() {
                            code.line(format_args!("return;"));
                        }
                    });
                }
                redact_inside(code);
            });
        }
    }
}

/// Writes `#[allow(deprecated)]` where the struct has deprecated fields.
fn allow(code: &mut Code, deprecated: bool) {
    if deprecated {
        code.line(format_args!("#[allow(deprecated)]"));
    }
}

/// A `Debug` for the struct `type_name` of `fields` that prints the fields of the redacted copy, under their Rust
/// names as a derived one would.
pub(super) fn debug(type_name: &str, fields: &[Field]) -> Code {
    let mut code = Code::default();
    code.block(format_args!("impl ::core::fmt::Debug for {type_name}"), |code| {
        code.doc(" Prints [`Self::redacted`].");
        allow(code, fields.iter().any(|field| field.deprecated));
        code.block(
            format_args!("fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result"),
            |code| {
                code.line(format_args!("let redacted = self.redacted();"));
                let receiver = format!("f.debug_struct({})", string(type_name));
                let calls: Vec<String> = fields
                    .iter()
                    .map(|field| {
                        let field_ident = rust_ident(&field.name).0;
                        let label = string(field_ident.trim_start_matches("r#"));
                        format!(".field({label}, &redacted.{field_ident})")
                    })
                    .chain([".finish()".to_owned()])
                    .collect();
                let width = receiver.len() + calls.iter().map(String::len).sum::<usize>();
                if code.fits(width) {
                    code.line(format_args!("{receiver}{}", calls.concat()));
                } else {
                    code.line(format_args!("{receiver}"));
                    code.depth_in();
                    for call in &calls {
                        code.line(format_args!("{call}"));
                    }
                    code.depth_out();
                }
            },
        );
    });
    code
}

/// Where a value to redact is.
enum Place {
    /// A place expression of the value's type (`self.email`).
    Field(String),
    /// A binding of type `&mut T` to it (`item`).
    Binding(&'static str),
}

impl Place {
    /// The place, to assign to (`self.email`, `*item`).
    fn target(&self) -> String {
        match self {
            Place::Field(place) => place.clone(),
            Place::Binding(binding) => format!("*{binding}"),
        }
    }

    /// A `&mut` to the value (`&mut self.email`, `item`).
    fn borrow(&self) -> String {
        match self {
            Place::Field(place) => format!("&mut {place}"),
            Place::Binding(binding) => (*binding).to_owned(),
        }
    }
}

/// Whether a value of `ty` holds a shared struct, through options, lists and maps.
fn holds_struct(ty: &TypeRef) -> bool {
    match ty {
        TypeRef::Scalar(_) | TypeRef::Enum(_) => false,
        TypeRef::Struct(_) => true,
        TypeRef::Optional(inner) | TypeRef::List(inner) | TypeRef::Map(inner) => holds_struct(inner),
    }
}

/// Writes the statements that replace the personal value at `place`, of type `ty`, entirely.
fn personal(code: &mut Code, place: &Place, ty: &TypeRef) {
    let target = place.target();
    match ty {
        TypeRef::Scalar(Scalar::String) => code.line(format_args!("{target} = {TEXT};")),
        TypeRef::Scalar(Scalar::Json) => {
            code.list(
                format_args!("{target} = ::serde_json::Value::String("),
                &[TEXT.to_owned()],
                ");",
                true,
            );
        }
        TypeRef::Scalar(_) => code.line(format_args!("{target} = ::core::default::Default::default();")),
        TypeRef::Enum(name) => {
            code.list(
                format_args!("{target} = {name}::{UNRECOGNIZED_VARIANT}("),
                &[TEXT.to_owned()],
                ");",
                true,
            );
        }
        TypeRef::Struct(name) => code.line(format_args!("{name}::redact({}, true);", place.borrow())),
        TypeRef::Optional(inner) => if_present(code, place, inner, personal),
        TypeRef::List(_) => for_each(code, place, ty, personal),
        TypeRef::Map(_) => {
            // The values, then the keys, which are personal too: they become `[redacted] 1`, `[redacted] 2`, … in
            // order.
            for_each(code, place, ty, personal);
            code.open(format_args!("{{"));
            code.line(format_args!("let map = {};", place.borrow()));
            code.line(format_args!("let values = ::core::mem::take(map);"));
            code.list(
                format_args!("for (index, value) in ::core::iter::Iterator::enumerate("),
                &["values.into_values()".to_owned()],
                ") {",
                true,
            );
            code.depth_in();
            code.list(
                format_args!("::std::collections::BTreeMap::insert("),
                &[
                    "map".to_owned(),
                    "::std::format!(\"{REDACTED} {}\", index + 1)".to_owned(),
                    "value".to_owned(),
                ],
                ");",
                true,
            );
            code.close("}");
            code.close("}");
        }
    }
}

/// Writes the statements that redact the personal data inside the value at `place`, of type `ty`, which is not
/// personal as a whole but [holds a struct](holds_struct): that of the shared structs it holds, through options,
/// lists and maps.
fn nested(code: &mut Code, place: &Place, ty: &TypeRef) {
    match ty {
        TypeRef::Scalar(_) | TypeRef::Enum(_) => {}
        TypeRef::Struct(name) => code.line(format_args!("{name}::redact({}, false);", place.borrow())),
        TypeRef::Optional(inner) => if_present(code, place, inner, nested),
        TypeRef::List(_) | TypeRef::Map(_) => for_each(code, place, ty, nested),
    }
}

/// Writes `if let Some(value) = <place> { … }` around what `body` writes of `value`, of type `inner`.
fn if_present(code: &mut Code, place: &Place, inner: &TypeRef, body: fn(&mut Code, &Place, &TypeRef)) {
    code.block(
        format_args!("if let ::core::option::Option::Some(value) = {}", place.borrow()),
        |code| body(code, &Place::Binding("value"), inner),
    );
}

/// Writes a loop over the values of the list or map `ty` at `place` (an optional value only when present), bound
/// to `item` (a list's) or `value` (a map's), around what `body` writes of each.
fn for_each(code: &mut Code, place: &Place, ty: &TypeRef, body: fn(&mut Code, &Place, &TypeRef)) {
    let borrow = place.borrow();
    let (binding, values, item) = match ty {
        TypeRef::List(item) => ("item", Values::Plain(borrow), item.as_ref()),
        TypeRef::Map(value) => (
            "value",
            Values::Call("::std::collections::BTreeMap::values_mut", borrow),
            value.as_ref(),
        ),
        _ => return,
    };
    let (values, item) = match (ty, item) {
        (TypeRef::List(_), TypeRef::Optional(inner)) => (
            Values::Call(
                "::core::iter::Iterator::flatten",
                format!("::core::iter::IntoIterator::into_iter({})", values.text()),
            ),
            inner.as_ref(),
        ),
        (_, TypeRef::Optional(inner)) => (
            Values::Call("::core::iter::Iterator::flatten", values.text()),
            inner.as_ref(),
        ),
        _ => (values, item),
    };
    match values {
        Values::Plain(values) => code.open(format_args!("for {binding} in {values} {{")),
        Values::Call(function, argument) => {
            code.list(format_args!("for {binding} in {function}("), &[argument], ") {", true);
            code.depth_in();
        }
    }
    body(code, &Place::Binding(binding), item);
    code.close("}");
}

/// What a loop goes over: a place, or a call of one argument (which prettyplease breaks where it is long).
enum Values {
    /// A place expression or binding.
    Plain(String),
    /// A function and its argument.
    Call(&'static str, String),
}

impl Values {
    /// The expression.
    fn text(&self) -> String {
        match self {
            Values::Plain(values) => values.clone(),
            Values::Call(function, argument) => format!("{function}({argument})"),
        }
    }
}
