//! Every unknown key of a catalog at once.
//!
//! serde's `deny_unknown_fields` stops at the first misspelt key; an author
//! with three typos would fix them one run at a time. This pass walks the
//! YAML before serde does and reports each key that the raw structures of
//! [`crate::load`] do not accept. The accepted keys are read from those
//! structures themselves, so the two cannot drift apart.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_yaml::{Mapping, Value};

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::load::{
    DetailedField, RawBackoff, RawCatalog, RawCategory, RawCommand, RawEvent, RawNotifications, RawPolicy,
    RawPreviousVersion, RawStruct,
};
use crate::positions::Positions;

/// What a YAML node is in the catalog language.
#[derive(Debug, Clone, Copy)]
enum Node {
    Catalog,
    Policy,
    Backoff,
    Struct,
    Category,
    Event,
    /// An older version of an event, under `previous_versions`.
    PreviousVersion,
    Command,
    Notifications,
    /// A map of field names to fields (short or long form).
    Fields,
    /// The long form of one field.
    Field,
}

impl Node {
    /// The keys this node accepts.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Node::Catalog => struct_keys::<RawCatalog>(),
            Node::Policy => struct_keys::<RawPolicy>(),
            Node::Backoff => struct_keys::<RawBackoff>(),
            Node::Struct => struct_keys::<RawStruct>(),
            Node::Category => struct_keys::<RawCategory>(),
            Node::Event => struct_keys::<RawEvent>(),
            Node::PreviousVersion => struct_keys::<RawPreviousVersion>(),
            Node::Command => struct_keys::<RawCommand>(),
            Node::Notifications => struct_keys::<RawNotifications>(),
            Node::Field => struct_keys::<DetailedField>(),
            Node::Fields => &[],
        }
    }

    /// What the value under `key` is, for keys whose values have keys of their own.
    fn child(self, key: &str) -> Option<Child> {
        Some(match (self, key) {
            (Node::Catalog | Node::Category | Node::Event, "delivery") => Child::One(Node::Policy),
            (Node::Catalog, "types") => Child::EachValue(Node::Struct),
            (Node::Catalog, "categories") => Child::EachValue(Node::Category),
            (Node::Catalog, "commands") => Child::EachValue(Node::Command),
            (Node::Catalog, "notifications") => Child::One(Node::Notifications),
            (Node::Policy, "backoff") => Child::One(Node::Backoff),
            (Node::Category, "events") => Child::EachValue(Node::Event),
            (Node::Event, "previous_versions") => Child::EachValue(Node::PreviousVersion),
            (Node::Struct | Node::Event | Node::PreviousVersion, "fields")
            | (Node::Command, "request" | "response") => Child::One(Node::Fields),
            _ => return None,
        })
    }
}

/// How a node's value relates to the nodes below it.
#[derive(Debug, Clone, Copy)]
enum Child {
    /// The value is one node of this kind.
    One(Node),
    /// The value maps names to nodes of this kind.
    EachValue(Node),
}

/// Every key of `text` that the catalog language does not accept, with its
/// position and a hint. YAML that does not parse is left to the caller.
pub fn unknown_keys(file: &str, text: &str, positions: &Positions) -> Vec<Diagnostic> {
    let Ok(Value::Mapping(root)) = serde_yaml::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    walk(&root, Node::Catalog, "", &mut |path, key, accepted| {
        let full = if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        };
        let hint = did_you_mean(key, accepted.iter().copied())
            .unwrap_or_else(|| format!("the keys here are: {}", accepted.join(", ")));
        found.push(Diagnostic::new(file, positions.of(&full), &full, format!("unknown key `{key}`")).with_hint(hint));
    });
    found
}

fn walk(mapping: &Mapping, node: Node, path: &str, report: &mut impl FnMut(&str, &str, &[&str])) {
    for (key, value) in mapping {
        let Some(key) = key.as_str() else { continue };
        let accepted = node.keys();
        if !matches!(node, Node::Fields) && !accepted.contains(&key) {
            report(path, key, accepted);
            continue;
        }
        let here = if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        };
        let child = match node {
            Node::Fields => Some(Child::One(Node::Field)),
            _ => node.child(key),
        };
        match (child, value) {
            (Some(Child::One(inner)), Value::Mapping(map)) => walk(map, inner, &here, report),
            (Some(Child::EachValue(inner)), Value::Mapping(map)) => {
                for (name, item) in map {
                    // Names are strings, except the version numbers under `previous_versions`.
                    let name = match name {
                        Value::String(name) => name.clone(),
                        Value::Number(number) => number.to_string(),
                        _ => continue,
                    };
                    if let Value::Mapping(item) = item {
                        walk(item, inner, &format!("{here}.{name}"), report);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The field names of a struct deriving `Deserialize`, read by asking it
/// to deserialize from a deserializer that only records what it is asked for.
fn struct_keys<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut keys: &'static [&'static str] = &[];
    let _ = T::deserialize(KeyRecorder(&mut keys));
    keys
}

struct KeyRecorder<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for KeyRecorder<'_> {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("keys recorded"))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_keys_of_the_raw_structures() {
        assert_eq!(Node::Backoff.keys(), ["first", "max"]);
        assert!(Node::Event.keys().contains(&"subject"));
        assert_eq!(
            Node::Field.keys(),
            ["type", "description", "pii", "default", "deprecated"]
        );
    }

    #[test]
    fn reports_every_unknown_key_with_a_hint() {
        let text = "catalog: x\ncategoris: {}\ncategories:\n  user:\n    events:\n      created:\n        feilds: {}\n        subject: id\n        fields:\n          id: { type: uuid, pi: true }\n          name: string\n";
        let positions = Positions::read(text).expect("valid YAML");
        let found: Vec<String> = unknown_keys("c.yaml", text, &positions)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "c.yaml:2:1: error: unknown key `categoris`\n  at: categoris\n  hint: did you mean `categories`?",
                "c.yaml:7:9: error: unknown key `feilds`\n  at: categories.user.events.created.feilds\n  hint: did you mean `fields`?",
                "c.yaml:10:29: error: unknown key `pi`\n  at: categories.user.events.created.fields.id.pi\n  hint: did you mean `pii`?",
            ]
        );
    }
}
