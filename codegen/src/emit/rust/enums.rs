//! Open enums: the catalog's enums and the notification types, which keep a value this build does not know.
//!
//! Adding a value to an enum is not a breaking change (`xerpium-codegen breaking`), so a consumer built before
//! it must still read the events that carry it: each such enum has a variant [`UNRECOGNIZED_VARIANT`] that holds
//! the value as it came, serde reads it and writes it back unchanged, and `as_str`, `Display` and `FromStr`
//! handle it. `ALL` lists the known values only. Holding a `String`, the enum is `Clone` but not `Copy`.

use super::code::{Code, string};
use super::display;
use crate::names::{UNRECOGNIZED_VARIANT, variant_name};

/// The items of an open enum named `name` of the wire `values`; `code` holds its doc comment, to which this adds a
/// paragraph on values it does not know.
pub(super) fn open_enum(mut code: Code, name: &str, values: &[String]) -> Vec<Code> {
    let variants: Vec<String> = values.iter().map(|value| variant_name(value)).collect();
    let unrecognized = UNRECOGNIZED_VARIANT;
    code.doc("");
    code.doc(&format!(
        " A value this build does not know (one added to the catalog after it) is kept as it came in [`{name}::{unrecognized}`] and written back unchanged; [`{name}::ALL`] lists the known values."
    ));
    code.line(format_args!(
        "#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]"
    ));
    code.line(format_args!("#[non_exhaustive]"));
    code.block(format_args!("pub enum {name}"), |code| {
        for (variant, wire) in variants.iter().zip(values) {
            code.doc(&format!(" `{wire}`"));
            code.line(format_args!("{variant},"));
        }
        code.doc(" A value this build does not know, as it came on the wire. Reading a known value never gives it: serde and [`FromStr`](core::str::FromStr) give the known variant.");
        code.line(format_args!("{unrecognized}(::std::string::String),"));
    });
    let mut items = vec![code];
    let mut code = Code::default();
    code.block(format_args!("impl {name}"), |code| {
        code.doc(" Every known value, in catalog order.");
        let all: Vec<String> = variants.iter().map(|variant| format!("{name}::{variant}")).collect();
        code.list(format_args!("pub const ALL: &'static [{name}] = &["), &all, "];", true);
        code.doc(" The value's wire name; an unrecognized value's as it came.");
        code.block(format_args!("pub fn as_str(&self) -> &str"), |code| {
            code.block(format_args!("match self"), |code| {
                for (variant, wire) in variants.iter().zip(values) {
                    code.arm(&format!("{name}::{variant}"), &string(wire));
                }
                code.arm(&format!("{name}::{unrecognized}(value)"), "value");
            });
        });
        code.doc(" The known value with this wire name.");
        code.block(
            format_args!("fn known(name: &str) -> ::core::option::Option<{name}>"),
            |code| {
                code.block(format_args!("match name"), |code| {
                    for (variant, wire) in variants.iter().zip(values) {
                        code.arm(
                            &string(wire),
                            &format!("::core::option::Option::Some({name}::{variant})"),
                        );
                    }
                    code.line(format_args!("_ => ::core::option::Option::None,"));
                });
            },
        );
    });
    items.push(code);
    items.push(display(name));
    let mut code = Code::default();
    code.block(format_args!("impl ::core::str::FromStr for {name}"), |code| {
        code.line(format_args!("type Err = ::core::convert::Infallible;"));
        code.doc(" Reads any name: a known value, else an unrecognized one, kept as it is.");
        code.open(format_args!("fn from_str("));
        code.line(format_args!("name: &str,"));
        code.reopen(") -> ::core::result::Result<Self, ::core::convert::Infallible> {");
        known_or_unrecognized(
            code,
            "name",
            &format!("{name}::{unrecognized}(::std::string::String::from(name))"),
            name,
        );
        code.close("}");
    });
    items.push(code);
    let mut code = Code::default();
    code.block(format_args!("impl ::serde::Serialize for {name}"), |code| {
        code.open(format_args!("fn serialize<S: ::serde::Serializer>("));
        code.line(format_args!("&self,"));
        code.line(format_args!("serializer: S,"));
        code.reopen(") -> ::core::result::Result<S::Ok, S::Error> {");
        code.line(format_args!("serializer.serialize_str(self.as_str())"));
        code.close("}");
    });
    items.push(code);
    let mut code = Code::default();
    code.block(format_args!("impl<'de> ::serde::Deserialize<'de> for {name}"), |code| {
        code.open(format_args!("fn deserialize<D: ::serde::Deserializer<'de>>("));
        code.line(format_args!("deserializer: D,"));
        code.reopen(") -> ::core::result::Result<Self, D::Error> {");
        code.open(format_args!(
            "let name = <::std::string::String as ::serde::Deserialize>::deserialize("
        ));
        code.line(format_args!("deserializer,"));
        code.close(")?;");
        known_or_unrecognized(code, "&name", &format!("{name}::{unrecognized}(name)"), name);
        code.close("}");
    });
    items.push(code);
    items
}

/// Writes `Ok(match <name>::known(<argument>) { Some(known) => known, None => <unrecognized> })`.
fn known_or_unrecognized(code: &mut Code, argument: &str, unrecognized: &str, name: &str) {
    code.open(format_args!("::core::result::Result::Ok("));
    code.open(format_args!("match {name}::known({argument}) {{"));
    code.line(format_args!("::core::option::Option::Some(known) => known,"));
    code.arm("::core::option::Option::None", unrecognized);
    // The match is an argument: prettyplease follows it with a comma.
    code.close("},");
    code.close(")");
}
