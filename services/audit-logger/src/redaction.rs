//! Personal data out of the audit trail, as the catalog marks it: a field
//! with `pii: true` is replaced by `"[redacted]"` wherever it appears (also
//! inside shared types, lists and maps), and an event whose subject field
//! is personal (e.g. `user.login_failed`, keyed by e-mail) gets a redacted
//! subject too.
//!
//! Which fields are personal is read from the catalog itself
//! ([`xerpium_codegen::check_catalog`]), never from a hand-written list: a
//! field marked `pii` in `events.yaml` is redacted with no change here. And
//! it fails closed: a field the catalog does not list, a value of the wrong
//! shape, or a type or version the catalog does not know is redacted whole.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use xerpium_codegen::Catalog;
use xerpium_codegen::model::{Field, TypeRef};

/// What replaces a personal value.
pub const REDACTED: &str = "[redacted]";

/// The catalog this binary was built with, the default one.
pub const EMBEDDED_CATALOG: &str = include_str!("../../../events.yaml");

/// Deeper nesting than this is redacted whole (the catalog's shared types
/// could refer to each other in a loop).
const MAX_DEPTH: usize = 32;

/// How to redact one value.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// Not personal: kept.
    Keep,
    /// Personal: replaced.
    Redact,
    /// A struct: its known fields by their own shapes, others redacted.
    Object(HashMap<String, Shape>),
    /// A list of values of one shape.
    List(Box<Shape>),
    /// A map of values of one shape.
    Map(Box<Shape>),
}

/// An event's payload and subject, redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct Redacted {
    /// The subject, or [`REDACTED`] when the subject field is personal.
    pub subject: String,
    /// The payload with personal values replaced.
    pub data: Value,
}

/// Redacts events by the catalog's `pii` marks.
#[derive(Debug, Clone)]
pub struct Redactor {
    /// Per `(type, version)`: the payload's shape and whether the subject is personal.
    events: HashMap<(String, u32), (Shape, bool)>,
}

impl Redactor {
    /// A redactor for the catalog in file `path`; every problem of the
    /// catalog is in the error.
    pub fn from_file(path: &Path) -> Result<Redactor, xerpium_codegen::Diagnostics> {
        xerpium_codegen::check_catalog(path).map(|catalog| Redactor::new(&catalog))
    }

    /// A redactor for the catalog this binary was built with.
    pub fn embedded() -> Result<Redactor, xerpium_codegen::Diagnostics> {
        xerpium_codegen::check_catalog_text("events.yaml", EMBEDDED_CATALOG).map(|catalog| Redactor::new(&catalog))
    }

    /// A redactor for `catalog`.
    pub fn new(catalog: &Catalog) -> Redactor {
        let events = catalog
            .events()
            .map(|event| {
                let shape = object(catalog, &event.fields, 0);
                let subject_pii = event
                    .fields
                    .iter()
                    .any(|field| field.name == event.subject && field.pii);
                ((event.type_name(), event.version), (shape, subject_pii))
            })
            .collect();
        Redactor { events }
    }

    /// Redacts the payload `data` (JSON text) of an event of `event_type`
    /// `version` with `subject`. Unknown types and payloads that are not
    /// JSON are redacted whole.
    pub fn redact(&self, event_type: &str, version: u32, subject: &str, data: &str) -> Redacted {
        let Some((shape, subject_pii)) = self.events.get(&(event_type.to_owned(), version)) else {
            return Redacted {
                subject: REDACTED.to_owned(),
                data: Value::from(REDACTED),
            };
        };
        let data = serde_json::from_str(data).map_or_else(|_| Value::from(REDACTED), |data| apply(shape, data));
        Redacted {
            subject: if *subject_pii {
                REDACTED.to_owned()
            } else {
                subject.to_owned()
            },
            data,
        }
    }

    /// The personal fields of `event_type` `version`, as dotted paths
    /// (`client.ip_address`, `changes[]`): what [`redact`](Self::redact) hides.
    pub fn personal_fields(&self, event_type: &str, version: u32) -> Vec<String> {
        let mut paths = Vec::new();
        if let Some((shape, _)) = self.events.get(&(event_type.to_owned(), version)) {
            collect(shape, "", &mut paths);
        }
        paths.sort();
        paths
    }
}

fn object(catalog: &Catalog, fields: &[Field], depth: usize) -> Shape {
    Shape::Object(
        fields
            .iter()
            .map(|field| (field.name.clone(), shape(catalog, &field.ty, field.pii, depth)))
            .collect(),
    )
}

fn shape(catalog: &Catalog, ty: &TypeRef, pii: bool, depth: usize) -> Shape {
    if pii || depth > MAX_DEPTH {
        return Shape::Redact;
    }
    match ty {
        TypeRef::Scalar(_) | TypeRef::Enum(_) => Shape::Keep,
        TypeRef::Struct(name) => catalog
            .find_struct(name)
            .map_or(Shape::Redact, |item| object(catalog, &item.fields, depth + 1)),
        TypeRef::List(item) => Shape::List(Box::new(shape(catalog, item, false, depth + 1))),
        TypeRef::Map(item) => Shape::Map(Box::new(shape(catalog, item, false, depth + 1))),
        TypeRef::Optional(inner) => shape(catalog, inner, false, depth),
    }
}

fn apply(shape: &Shape, value: Value) -> Value {
    match (shape, value) {
        (_, Value::Null) => Value::Null,
        (Shape::Keep, value) => value,
        (Shape::Object(fields), Value::Object(map)) => Value::Object(
            map.into_iter()
                .map(|(name, value)| {
                    let value = match fields.get(&name) {
                        Some(field) => apply(field, value),
                        None => Value::from(REDACTED),
                    };
                    (name, value)
                })
                .collect(),
        ),
        (Shape::List(item), Value::Array(values)) => {
            Value::Array(values.into_iter().map(|value| apply(item, value)).collect())
        }
        (Shape::Map(item), Value::Object(map)) => Value::Object(
            map.into_iter()
                .map(|(name, value)| (name, apply(item, value)))
                .collect(),
        ),
        (Shape::Redact | Shape::Object(_) | Shape::List(_) | Shape::Map(_), _) => Value::from(REDACTED),
    }
}

fn collect(shape: &Shape, path: &str, paths: &mut Vec<String>) {
    match shape {
        Shape::Keep => {}
        Shape::Redact => paths.push(path.to_owned()),
        Shape::Object(fields) => {
            for (name, field) in fields {
                let path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                collect(field, &path, paths);
            }
        }
        Shape::List(item) => collect(item, &format!("{path}[]"), paths),
        Shape::Map(item) => collect(item, &format!("{path}{{}}"), paths),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redactor() -> Redactor {
        Redactor::embedded().expect("the embedded catalog is valid")
    }

    #[test]
    fn personal_fields_come_from_the_catalog() {
        let r = redactor();
        assert_eq!(r.personal_fields("user.created", 1), ["display_name", "email"]);
        assert_eq!(
            r.personal_fields("user.logged_in", 1),
            ["client.ip_address", "client.user_agent"]
        );
        assert_eq!(r.personal_fields("user.updated", 1), ["changes"]);
        assert_eq!(
            r.personal_fields("partner.created", 1),
            [
                "address.city",
                "address.postal_code",
                "address.region",
                "address.street",
                "email",
                "name",
                "phone",
                "vat_number"
            ]
        );
        assert!(r.personal_fields("currency.rate_updated", 1).is_empty());
    }

    #[test]
    fn nested_values_are_redacted_and_the_rest_kept() {
        let data = json!({
            "user_id": "u1", "company_id": "c1", "session_id": "s1",
            "client": {"ip_address": "10.0.0.1", "user_agent": null},
            "mfa_used": false, "session_expires_at": "t", "logged_in_at": "t"
        });
        let redacted = redactor().redact("user.logged_in", 1, "u1", &data.to_string());
        assert_eq!(redacted.subject, "u1");
        assert_eq!(
            redacted.data["client"],
            json!({"ip_address": REDACTED, "user_agent": null})
        );
        assert_eq!(redacted.data["user_id"], json!("u1"));
    }

    #[test]
    fn it_fails_closed() {
        let r = redactor();
        let login = json!({"email": "a@b.c", "failed_attempts": 1, "client": {"ip_address": "x"},
                           "attempted_at": "t", "surprise": "secret"});
        let redacted = r.redact("user.login_failed", 1, "a@b.c", &login.to_string());
        assert_eq!(redacted.subject, REDACTED, "the subject field is personal");
        assert_eq!(redacted.data["email"], json!(REDACTED));
        assert_eq!(
            redacted.data["surprise"],
            json!(REDACTED),
            "unknown fields are redacted"
        );
        assert_eq!(redacted.data["failed_attempts"], json!(1));

        let wrong_shape = json!({"client": "10.0.0.1"});
        assert_eq!(
            r.redact("user.logged_in", 1, "u", &wrong_shape.to_string()).data["client"],
            json!(REDACTED)
        );
        let unknown = r.redact("user.teleported", 1, "u1", r#"{"where": "moon"}"#);
        assert_eq!((unknown.subject.as_str(), unknown.data), (REDACTED, json!(REDACTED)));
        assert_eq!(r.redact("user.created", 1, "u1", "not json").data, json!(REDACTED));
    }

    #[test]
    fn lists_and_maps_are_walked() {
        let r = redactor();
        let update = json!({"company_id": "c", "updated_by": "u", "updated_at": "t",
                            "changes": [{"field": "name", "old_value": "A", "new_value": "B"}]});
        let company = r.redact("company.updated", 1, "c", &update.to_string());
        assert_eq!(
            company.data["changes"][0]["new_value"],
            json!("B"),
            "company changes are not personal"
        );
        let user = r.redact("user.updated", 1, "u", &update.to_string());
        assert_eq!(user.data["changes"], json!(REDACTED), "user changes are");
    }
}
