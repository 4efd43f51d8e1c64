//! JSON Schema of catalog types, shared by the JSON Schema and AsyncAPI
//! emitters: one compact fragment per field type, objects as views for the
//! documents, and the shared types a set of fields reaches.
//!
//! Fragments keep their keys in a fixed, readable order (`type` first), so
//! they are written here rather than through `serde_json::Value`, whose maps
//! sort their keys.

use std::borrow::Cow;
use std::fmt::{self, Write};

use crate::model::{Catalog, Enum, Field, Scalar, Struct, TypeRef, Value};

/// The pattern of a decimal on the wire: a JSON string of digits with an optional sign and fraction.
pub const DECIMAL_PATTERN: &str = r"^-?[0-9]+(\.[0-9]+)?$";

/// A JSON value whose objects keep their keys in the order written; its texts are borrowed where they can be.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// JSON text written as is (a number, `true` …).
    Raw(Cow<'a, str>),
    /// A string, quoted where it is written.
    String(Cow<'a, str>),
    /// An object, keys in order.
    Object(Vec<(&'static str, Json<'a>)>),
    /// An array.
    Array(Vec<Json<'a>>),
}

impl<'a> Json<'a> {
    /// A JSON string.
    pub fn string(text: impl Into<Cow<'a, str>>) -> Json<'a> {
        Json::String(text.into())
    }

    /// JSON text written as is.
    pub fn raw(text: impl Into<Cow<'a, str>>) -> Json<'a> {
        Json::Raw(text.into())
    }

    /// An object of `pairs`.
    pub fn object(pairs: impl IntoIterator<Item = (&'static str, Json<'a>)>) -> Json<'a> {
        Json::Object(pairs.into_iter().collect())
    }
}

impl fmt::Display for Json<'_> {
    /// Compact, on one line, with a space after `:` and `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Raw(text) => f.write_str(text),
            Json::String(text) => quote(text).fmt(f),
            Json::Object(pairs) => {
                f.write_str("{")?;
                for (index, (key, value)) in pairs.iter().enumerate() {
                    let separator = if index == 0 { "" } else { ", " };
                    write!(f, "{separator}{}: {value}", quote(key))?;
                }
                f.write_str("}")
            }
            Json::Array(items) => {
                f.write_str("[")?;
                for (index, item) in items.iter().enumerate() {
                    let separator = if index == 0 { "" } else { ", " };
                    write!(f, "{separator}{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// `text` as a JSON string literal, also a valid YAML double-quoted scalar and Python string literal: besides
/// what JSON escapes, the characters YAML refuses or reads as line breaks (DEL, the C1 controls, the line and
/// paragraph separators, the byte-order mark, U+FFFE and U+FFFF) are written as `\uXXXX`. Written where it is
/// displayed, without a string of its own.
pub fn quote(text: &str) -> Quoted<'_> {
    Quoted(text)
}

/// A text displayed as a quoted string literal: see [`quote`].
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        let bytes = text.as_bytes();
        f.write_char('"')?;
        // The start of the text not written yet, and of the rest to look through.
        let (mut pending, mut at) = (0, 0);
        // Only an ASCII control, `"`, `\`, DEL or a non-ASCII character may need an escape.
        while let Some(offset) = bytes[at..]
            .iter()
            .position(|&b| b < 0x20 || b == b'"' || b == b'\\' || b >= 0x7f)
        {
            at += offset;
            let c = text[at..].chars().next().unwrap_or_default();
            let next = at + c.len_utf8();
            // JSON's short escape, or `None` for a `\uXXXX` one.
            let escape = match c {
                '"' => Some("\\\""),
                '\\' => Some("\\\\"),
                '\u{8}' => Some("\\b"),
                '\u{c}' => Some("\\f"),
                '\n' => Some("\\n"),
                '\r' => Some("\\r"),
                '\t' => Some("\\t"),
                c if escaped_as_unicode(c) => None,
                _ => {
                    at = next;
                    continue;
                }
            };
            f.write_str(&text[pending..at])?;
            match escape {
                Some(escape) => f.write_str(escape)?,
                None => write!(f, "\\u{:04x}", u32::from(c))?,
            }
            (pending, at) = (next, next);
        }
        f.write_str(&text[pending..])?;
        f.write_char('"')
    }
}

/// Whether [`quote`] writes `c` as `\uXXXX`: a control character without a short escape, or one that YAML refuses
/// or reads as a line break.
fn escaped_as_unicode(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}')
}

/// `name` as a key of a YAML mapping: as it is, or quoted when YAML would read it as something else than a
/// string (`Null`, `TRUE`, `No`: a type may be named so).
pub fn yaml_key(name: &str) -> String {
    const WORDS: [&str; 10] = ["null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"];
    let plain = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !WORDS.contains(&name.to_ascii_lowercase().as_str());
    if plain {
        name.to_owned()
    } else {
        quote(name).to_string()
    }
}

/// The schema of a value of `ty`; references to shared types start with `refs`
/// (`#/$defs/` or `#/components/schemas/`).
pub fn type_schema<'a>(ty: &'a TypeRef, refs: &str) -> Vec<(&'static str, Json<'a>)> {
    let text = |value: &'static str| Json::string(value);
    let integer = |min: i128, max: i128| {
        vec![
            ("type", text("integer")),
            ("minimum", Json::raw(min.to_string())),
            ("maximum", Json::raw(max.to_string())),
        ]
    };
    match ty {
        TypeRef::Scalar(scalar) => match scalar {
            Scalar::String => vec![("type", text("string"))],
            Scalar::Bool => vec![("type", text("boolean"))],
            Scalar::I32 => integer(i32::MIN.into(), i32::MAX.into()),
            Scalar::I64 => integer(i64::MIN.into(), i64::MAX.into()),
            Scalar::U32 => integer(0, u32::MAX.into()),
            Scalar::U64 => integer(0, u64::MAX.into()),
            Scalar::F64 => vec![("type", text("number"))],
            Scalar::Decimal => vec![("type", text("string")), ("pattern", text(DECIMAL_PATTERN))],
            Scalar::Uuid => vec![("type", text("string")), ("format", text("uuid"))],
            Scalar::DateTime => vec![("type", text("string")), ("format", text("date-time"))],
            Scalar::Date => vec![("type", text("string")), ("format", text("date"))],
            Scalar::Json => Vec::new(),
        },
        TypeRef::Struct(name) | TypeRef::Enum(name) => vec![("$ref", Json::string(format!("{refs}{name}")))],
        TypeRef::List(item) => vec![
            ("type", text("array")),
            ("items", Json::Object(type_schema(item, refs))),
        ],
        TypeRef::Map(value) => vec![
            ("type", text("object")),
            ("additionalProperties", Json::Object(type_schema(value, refs))),
        ],
        TypeRef::Optional(inner) => nullable(type_schema(inner, refs)),
    }
}

/// `schema` that also accepts `null`: `"type": [T, "null"]` where it has one
/// type, else `anyOf`. Any value (`{}`) accepts `null` already.
fn nullable<'a>(mut schema: Vec<(&'static str, Json<'a>)>) -> Vec<(&'static str, Json<'a>)> {
    if schema.is_empty() {
        return schema;
    }
    if let Some((_, ty @ (Json::Raw(_) | Json::String(_)))) = schema.iter_mut().find(|(key, _)| *key == "type") {
        *ty = Json::raw(format!("[{ty}, \"null\"]"));
        return schema;
    }
    let null = Json::object([("type", Json::string("null"))]);
    vec![("anyOf", Json::Array(vec![Json::Object(schema), null]))]
}

/// The schema of `field`: its type's, with its description, default,
/// `deprecated` and `x-pii` as annotations.
pub fn field_schema<'a>(field: &'a Field, refs: &str) -> Json<'a> {
    let mut pairs = type_schema(&field.ty, refs);
    if let Some(description) = &field.description {
        pairs.push(("description", Json::string(description.trim())));
    }
    if let Some(default) = field.default.as_ref().and_then(|value| default_json(value, &field.ty)) {
        pairs.push(("default", default));
    }
    if field.deprecated {
        pairs.push(("deprecated", Json::raw("true")));
    }
    if field.pii {
        pairs.push(("x-pii", Json::raw("true")));
    }
    Json::Object(pairs)
}

/// A default value as JSON, as the Rust types write it (decimals as strings).
pub fn default_json<'a>(value: &'a Value, ty: &TypeRef) -> Option<Json<'a>> {
    Some(match value {
        Value::String(text) | Value::EnumValue(text) => Json::string(text),
        Value::Bool(flag) => Json::raw(flag.to_string()),
        Value::Integer(number) => Json::raw(number.to_string()),
        Value::Float(number) => Json::raw(serde_json::Number::from_f64(*number)?.to_string()),
        Value::Decimal(decimal) => Json::string(decimal.to_string()),
        Value::Empty => Json::raw(match ty {
            TypeRef::Optional(_) => "null",
            TypeRef::Map(_) => "{}",
            _ => "[]",
        }),
    })
}

/// An object schema for a document: its properties and the names it requires.
#[derive(Debug, Clone)]
pub struct ObjectView {
    /// The properties in catalog order.
    pub properties: Vec<PropertyView>,
    /// The wire names of the required properties, in catalog order.
    pub required: Vec<String>,
}

/// One property of an [`ObjectView`].
#[derive(Debug, Clone)]
pub struct PropertyView {
    /// The wire name.
    pub name: String,
    /// Its schema, one line of JSON (also valid YAML).
    pub schema: String,
}

impl ObjectView {
    /// The object of `fields`, with references starting with `refs`.
    pub fn new(fields: &[Field], refs: &str) -> Self {
        ObjectView {
            properties: fields
                .iter()
                .map(|field| {
                    // Room for most schemas, so that writing one rarely grows its string.
                    let mut schema = String::with_capacity(128);
                    // Writing to a `String` cannot fail.
                    let _ = write!(schema, "{}", field_schema(field, refs));
                    PropertyView {
                        name: field.name.clone(),
                        schema,
                    }
                })
                .collect(),
            required: fields
                .iter()
                .filter(|field| field.is_required())
                .map(|field| field.name.clone())
                .collect(),
        }
    }
}

/// A shared type for a document: an object (struct) or a string enum.
#[derive(Debug, Clone)]
pub struct DefinitionView {
    /// The shared type's name.
    pub name: String,
    /// What it is.
    pub description: Option<String>,
    /// Its properties, for a struct.
    pub object: Option<ObjectView>,
    /// Its values, for an enum.
    pub values: Option<Vec<String>>,
    /// For an open enum (see [`is_open_enum`]), what the documents say of the values beyond the known ones.
    pub other_values: Option<&'static str>,
}

impl DefinitionView {
    /// The definition of a shared struct.
    pub fn of_struct(item: &Struct, refs: &str) -> Self {
        Self::of_fields(&item.name, item.description.as_deref(), &item.fields, refs)
    }

    /// The definition of an object named `name` with `fields`.
    pub fn of_fields(name: &str, description: Option<&str>, fields: &[Field], refs: &str) -> Self {
        DefinitionView {
            name: name.to_owned(),
            description: description.map(|d| d.trim().to_owned()),
            object: Some(ObjectView::new(fields, refs)),
            values: None,
            other_values: None,
        }
    }

    /// The definition of a shared enum: its known values, and for an open one (see [`is_open_enum`]) that others
    /// may appear.
    pub fn of_enum(item: &Enum) -> Self {
        DefinitionView {
            name: item.name.clone(),
            description: Some(format!("The `{}` values of the catalog.", item.name)),
            object: None,
            values: Some(item.values.clone()),
            other_values: is_open_enum(&item.name).then_some(OTHER_VALUES),
        }
    }
}

/// Whether readers keep values of the enum `name` that they do not know: every enum of the catalog and the
/// notification types are open, because adding a value is not a breaking change (`xerpium-codegen breaking`) and
/// a reader built before it still gets it (Rust keeps it in the enum's `Unrecognized` variant, Python as a plain
/// `str`); so the documents list the known values and say that others may appear. Only the kinds of
/// notification target ([`NOTIFICATION_TARGET_KIND`]), fixed by the runtime, are closed.
pub fn is_open_enum(name: &str) -> bool {
    name != NOTIFICATION_TARGET_KIND
}

/// What the documents say of the values of an open enum beyond the known ones.
pub const OTHER_VALUES: &str =
    "A value added to the catalog after this was generated: readers built before it keep it as it is.";

/// The names of the shared structs and enums that `fields` reach, directly or through other shared structs, each
/// once.
pub fn reached_types<'a>(catalog: &'a Catalog, fields: &'a [Field]) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    let mut pending: Vec<&TypeRef> = fields.iter().map(|field| &field.ty).collect();
    while let Some(ty) = pending.pop() {
        match ty {
            TypeRef::Scalar(_) => {}
            TypeRef::List(inner) | TypeRef::Map(inner) | TypeRef::Optional(inner) => pending.push(inner),
            TypeRef::Enum(name) => {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
            TypeRef::Struct(name) => {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                    if let Some(item) = catalog.find_struct(name) {
                        pending.extend(item.fields.iter().map(|field| &field.ty));
                    }
                }
            }
        }
    }
    names
}

/// The name of the notification types' enum in the documents.
pub const NOTIFICATION_TYPE: &str = "NotificationType";

/// The name of the notification's target in the documents (the runtime's `NotificationTarget`).
pub const NOTIFICATION_TARGET: &str = "NotificationTarget";

/// The name of the enum of target kinds in the documents.
pub const NOTIFICATION_TARGET_KIND: &str = "NotificationTargetKind";

/// What a notification message carries on its Pub/Sub channel (the
/// runtime's `NotificationMessage`), with the types it needs beyond the catalog's.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationPayload {
    /// The catalog's notification types, then the kinds of target.
    pub enums: Vec<Enum>,
    /// The target: a kind, and the user id or role it names.
    pub structs: Vec<Struct>,
    /// The message's fields.
    pub fields: Vec<Field>,
}

/// The notification message of `catalog`: `id`, `time`, `target` and the
/// notification's `type`, `title`, `message` and `data`.
pub fn notification_payload(catalog: &Catalog) -> NotificationPayload {
    let field = |name: &str, ty: TypeRef, description: &str| Field {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        ty,
        pii: false,
        default: None,
        deprecated: false,
    };
    let scalar = TypeRef::Scalar;
    let optional = |ty: TypeRef| TypeRef::Optional(Box::new(ty));
    let enums = vec![
        Enum {
            name: NOTIFICATION_TYPE.to_owned(),
            values: catalog.notifications.types.clone(),
        },
        Enum {
            name: NOTIFICATION_TARGET_KIND.to_owned(),
            values: ["user", "role", "all"].map(String::from).to_vec(),
        },
    ];
    let target = Struct {
        name: NOTIFICATION_TARGET.to_owned(),
        description: Some("Who a notification was sent to.".to_owned()),
        fields: vec![
            field(
                "kind",
                TypeRef::Enum(NOTIFICATION_TARGET_KIND.to_owned()),
                "One user, the holders of a role, or everyone.",
            ),
            field(
                "id",
                optional(scalar(Scalar::String)),
                "The user's id or the role; absent for everyone.",
            ),
        ],
    };
    let fields = vec![
        field("id", scalar(Scalar::Uuid), "UUIDv7 of the notification."),
        field("time", scalar(Scalar::DateTime), "When it was sent (UTC)."),
        field(
            "target",
            TypeRef::Struct(NOTIFICATION_TARGET.to_owned()),
            "Who it was sent to: personal, for a role, or for everyone.",
        ),
        field(
            "type",
            TypeRef::Enum(NOTIFICATION_TYPE.to_owned()),
            "The notification type, e.g. `success`.",
        ),
        field("title", scalar(Scalar::String), "A short title."),
        field("message", scalar(Scalar::String), "The message shown to the user."),
        field(
            "data",
            optional(scalar(Scalar::Json)),
            "Optional structured data for the client.",
        ),
    ];
    NotificationPayload {
        enums,
        structs: vec![target],
        fields,
    }
}

impl NotificationPayload {
    /// Definitions of the types the payload needs: the target, then the enums.
    pub fn definitions(&self, refs: &str) -> Vec<DefinitionView> {
        self.structs
            .iter()
            .map(|item| DefinitionView::of_struct(item, refs))
            .chain(self.enums.iter().map(DefinitionView::of_enum))
            .collect()
    }
}

/// One field of the envelope: the stream entry fields beside `data`.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeField {
    /// The stream entry field's name.
    pub name: &'static str,
    /// Its schema (every stream entry value is a string).
    pub schema: &'static str,
    /// Whether every entry has it.
    pub required: bool,
    /// What it holds.
    pub description: &'static str,
}

/// An [`EnvelopeField`], for the table below.
const fn envelope_field(
    name: &'static str,
    schema: &'static str,
    required: bool,
    description: &'static str,
) -> EnvelopeField {
    EnvelopeField {
        name,
        schema,
        required,
        description,
    }
}

/// The envelope of a stream entry (the README's wire format), in wire order; `data` holds the payload.
#[rustfmt::skip]
pub const ENVELOPE: [EnvelopeField; 12] = [
    envelope_field("specversion", r#"{"type": "string", "const": "1.0"}"#, true,
        "CloudEvents spec version, always `1.0`."),
    envelope_field("id", r#"{"type": "string", "format": "uuid"}"#, true,
        "UUIDv7 of the message (time-ordered; the deduplication key)."),
    envelope_field("type", r#"{"type": "string"}"#, true,
        "`<category>.<event>`, e.g. `user.created`; for commands, the command's name."),
    envelope_field("version", r#"{"type": "string", "pattern": "^[0-9]+$"}"#, true,
        "Schema version of that type, an integer."),
    envelope_field("source", r#"{"type": "string"}"#, true, "Name of the publishing service."),
    envelope_field("time", r#"{"type": "string", "format": "date-time"}"#, true,
        "When it was published: RFC 3339 UTC, microseconds."),
    envelope_field("subject", r#"{"type": "string"}"#, true, "The entity key named by the catalog (e.g. the user id)."),
    envelope_field("correlationid", r#"{"type": "string"}"#, true, "Carried from the request that caused it; a message that starts a chain carries its own id."),
    envelope_field("causationid", r#"{"type": "string"}"#, false,
        "Id of the message that caused this one (absent when none)."),
    envelope_field("traceparent", r#"{"type": "string"}"#, false, "W3C trace context (absent when none)."),
    envelope_field("tracestate", r#"{"type": "string"}"#, false,
        "W3C trace state, vendor data of the trace (absent when none)."),
    envelope_field("datacontenttype", r#"{"type": "string", "const": "application/json"}"#, true,
        "Always `application/json`."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_is_json_yaml_and_python() {
        let quoted = |text: &str| quote(text).to_string();
        assert_eq!(quoted("a \"b\" \\ \n"), r#""a \"b\" \\ \n""#);
        assert_eq!(
            quoted("DEL \u{7f} NEL \u{85} LS \u{2028}"),
            r#""DEL \u007f NEL \u0085 LS \u2028""#
        );
        assert_eq!(quoted("日本 😀"), "\"日本 😀\"");
        assert_eq!(quoted("\u{1}\u{8}\u{c}\r\t\u{1f}"), r#""\u0001\b\f\r\t\u001f""#);
    }

    #[test]
    fn yaml_keys_are_quoted_only_when_yaml_would_read_another_type() {
        assert_eq!(yaml_key("UserCreated"), "UserCreated");
        assert_eq!(yaml_key("Null"), "\"Null\"");
        assert_eq!(yaml_key("TRUE"), "\"TRUE\"");
        assert_eq!(yaml_key("No"), "\"No\"");
    }

    fn field(name: &str, ty: TypeRef) -> Field {
        Field {
            name: name.to_owned(),
            description: None,
            ty,
            pii: false,
            default: None,
            deprecated: false,
        }
    }

    #[test]
    fn writes_types_as_compact_schemas() {
        let optional_money = TypeRef::Optional(Box::new(TypeRef::Struct("Money".into())));
        let schema = |ty: &TypeRef| Json::Object(type_schema(ty, "#/$defs/")).to_string();
        assert_eq!(
            schema(&TypeRef::List(Box::new(optional_money.clone()))),
            r##"{"type": "array", "items": {"anyOf": [{"$ref": "#/$defs/Money"}, {"type": "null"}]}}"##
        );
        assert_eq!(
            schema(&TypeRef::Optional(Box::new(TypeRef::Scalar(Scalar::Uuid)))),
            r#"{"type": ["string", "null"], "format": "uuid"}"#
        );
        assert_eq!(
            schema(&TypeRef::Scalar(Scalar::Decimal)),
            r#"{"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$"}"#
        );
        assert_eq!(
            schema(&TypeRef::Optional(Box::new(TypeRef::Scalar(Scalar::Json)))),
            "{}"
        );
        let mut email = field("email", TypeRef::Scalar(Scalar::String));
        email.pii = true;
        email.description = Some("Login e-mail. ".into());
        email.default = Some(Value::String("a\"b".into()));
        assert_eq!(
            field_schema(&email, "#/$defs/").to_string(),
            r#"{"type": "string", "description": "Login e-mail.", "default": "a\"b", "x-pii": true}"#
        );
        assert!(!email.is_required());
        assert!(field("id", TypeRef::Scalar(Scalar::Uuid)).is_required());
    }
}
