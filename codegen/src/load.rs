//! Stage 1: read the catalog file and parse it into raw structures, keeping
//! source positions.
//!
//! The raw structures mirror the YAML one to one (`deny_unknown_fields`, so
//! a misspelt key is an error with its position); names, types and
//! references are checked later by [`crate::validate`].

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::diagnostic::{Diagnostic, Diagnostics, Position};
use crate::positions::Positions;

/// A parsed catalog with the positions of its nodes.
#[derive(Debug)]
pub struct Loaded {
    /// The file name used in diagnostics.
    pub file: String,
    /// The catalog as written.
    pub catalog: RawCatalog,
    /// Where each node stands.
    pub positions: Positions,
}

/// Reads and parses the catalog at `path`.
pub fn load_file(path: &Path) -> Result<Loaded, Diagnostics> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| {
        let hint = match error.kind() {
            std::io::ErrorKind::NotFound => {
                "pass the catalog with `--catalog FILE`; the default is `events.yaml` in the current directory"
            }
            _ => "check that the file is readable and is UTF-8 text",
        };
        Diagnostics(vec![
            Diagnostic::new(&file, None, "", format!("cannot read the catalog: {error}")).with_hint(hint),
        ])
    })?;
    parse(&file, &text)
}

/// Parses catalog `text`; `file` names it in diagnostics.
pub fn parse(file: &str, text: &str) -> Result<Loaded, Diagnostics> {
    let fail = |position, path: &str, message: String, hint: Option<String>| {
        Diagnostics(vec![
            Diagnostic::new(file, position, path, message).with_optional_hint(hint),
        ])
    };
    if text.trim().is_empty()
        || text
            .lines()
            .all(|line| line.trim_start().starts_with('#') || line.trim().is_empty())
    {
        return Err(fail(
            Some(Position { line: 1, column: 1 }),
            "",
            "the catalog is empty".into(),
            Some("start with `catalog: <name>` and a `categories:` map; see the README's catalog reference".into()),
        ));
    }
    let positions = Positions::read(text).map_err(|(mut position, message)| {
        let hint = syntax_hint(text, position, &message);
        if let Some(tab) = text
            .lines()
            .nth(position.line.saturating_sub(1))
            .and_then(|line| line.find('\t'))
        {
            position.column = tab + 1;
        }
        fail(Some(position), "", format!("invalid YAML: {message}"), hint)
    })?;
    let unknown = crate::known_keys::unknown_keys(file, text, &positions);
    if !unknown.is_empty() {
        return Err(Diagnostics(unknown));
    }
    let catalog = serde_yaml::from_str::<RawCatalog>(text).map_err(|error| {
        let position = error.location().map(|l| Position {
            line: l.line(),
            column: l.column(),
        });
        let (path, message) = split_serde_message(&error.to_string());
        let hint = wrong_type_hint(&message);
        fail(position, &path, strip_location(&message), hint)
    })?;
    Ok(Loaded {
        file: file.to_owned(),
        catalog,
        positions,
    })
}

/// A hint for a YAML syntax error: tabs, unclosed brackets and quotes.
fn syntax_hint(text: &str, at: Position, message: &str) -> Option<String> {
    let line = text.lines().nth(at.line.saturating_sub(1)).unwrap_or_default();
    if message.contains("tab") || line.starts_with('\t') || line.trim_start_matches(' ').starts_with('\t') {
        Some("YAML indents with spaces only; replace the tab with spaces".into())
    } else if message.contains("unexpected character") && line.contains('{') {
        Some("inside `{ … }` a comma ends a value: put text that contains commas in quotes".into())
    } else if message.contains("flow") || message.contains("',' or ']'") || message.contains("',' or '}'") {
        Some("a `[` or `{` is not closed, or its items are not separated by commas".into())
    } else if message.contains("quote") {
        Some("a quoted string is not closed".into())
    } else {
        None
    }
}

/// serde_yaml prefixes messages with the path of the node (`a.b: message`); split it off.
fn split_serde_message(message: &str) -> (String, String) {
    match message.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') && !path.contains('`') => (path.to_owned(), rest.to_owned()),
        _ => (String::new(), message.to_owned()),
    }
}

/// serde_yaml appends ` at line L column C`; the diagnostic shows it already.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// For `invalid type: string "maybe", expected a boolean`: how to write the value.
fn wrong_type_hint(message: &str) -> Option<String> {
    let expected = strip_location(message.split_once("expected ")?.1);
    let how = if expected == "a boolean" {
        "`true` or `false`".to_owned()
    } else {
        expected
    };
    message.starts_with("invalid type").then(|| format!("write {how} here"))
}

/// A map that keeps its entries in file order, duplicates included, so
/// that generation follows catalog order and duplicates can be reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OrderedVisitor<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of names to definitions")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Ordered::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, T>()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_any(OrderedVisitor(PhantomData))
    }
}

/// The whole catalog as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCatalog {
    /// The catalog's name.
    pub catalog: Option<String>,
    /// What the catalog is for.
    pub description: Option<String>,
    /// The catalog-wide delivery policy.
    pub delivery: Option<RawPolicy>,
    /// Shared structs, by PascalCase name.
    #[serde(default)]
    pub types: Ordered<RawStruct>,
    /// Shared enums, by PascalCase name, each a list of snake_case values.
    #[serde(default)]
    pub enums: Ordered<Vec<String>>,
    /// Event categories, by snake_case name.
    #[serde(default)]
    pub categories: Ordered<RawCategory>,
    /// Commands, by dotted name (`company.get`).
    #[serde(default)]
    pub commands: Ordered<RawCommand>,
    /// Real-time notifications.
    pub notifications: Option<RawNotifications>,
}

/// A delivery policy as written; absent parts are inherited.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Deliveries before dead-lettering.
    pub max_attempts: Option<u32>,
    /// Retry delays.
    pub backoff: Option<RawBackoff>,
    /// How long entries stay in the stream (`24h`).
    pub retention: Option<String>,
    /// Approximate cap on the stream's length.
    pub max_len: Option<u64>,
}

/// Retry delays as written (`1s`, `5m`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackoff {
    /// The delay before the first retry.
    pub first: Option<String>,
    /// The largest delay.
    pub max: Option<String>,
}

/// A shared struct as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStruct {
    /// What it is.
    pub description: Option<String>,
    /// Its fields.
    #[serde(default)]
    pub fields: Ordered<RawField>,
}

/// A category as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCategory {
    /// What its events are about.
    pub description: Option<String>,
    /// How many streams the category is split into, by subject (1 to 1024, default 1); more than one
    /// orders it across instances. Kept as written so that [`crate::validate`] can say what is wrong with it.
    pub partitions: Option<serde_yaml::Value>,
    /// Overrides of the delivery policy for its events.
    pub delivery: Option<RawPolicy>,
    /// Its events, by snake_case name.
    #[serde(default)]
    pub events: Ordered<RawEvent>,
}

/// An event as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    /// What happened.
    pub description: Option<String>,
    /// Schema version (default 1).
    pub version: Option<i64>,
    /// The field that is the entity key.
    pub subject: Option<String>,
    /// Overrides of the delivery policy for this event.
    pub delivery: Option<RawPolicy>,
    /// Its payload fields.
    #[serde(default)]
    pub fields: Ordered<RawField>,
    /// Older versions kept beside this one (the newest), by version number.
    #[serde(default)]
    pub previous_versions: Ordered<RawPreviousVersion>,
}

/// An older version of an event as written: it shares the event's stream,
/// type name and delivery policy, and has a payload of its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPreviousVersion {
    /// What happened (default: the newest version's description).
    pub description: Option<String>,
    /// The field that is the entity key (default: the newest version's subject).
    pub subject: Option<String>,
    /// Whether it is on its way out: it may be removed in a later release.
    #[serde(default)]
    pub deprecated: bool,
    /// Its payload fields.
    #[serde(default)]
    pub fields: Ordered<RawField>,
}

/// A command as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommand {
    /// What it does.
    pub description: Option<String>,
    /// The service that serves it.
    pub target: Option<String>,
    /// How long callers wait by default (`5s`).
    pub timeout: Option<String>,
    /// Schema version (default 1).
    pub version: Option<i64>,
    /// The request's fields.
    pub request: Option<Ordered<RawField>>,
    /// The response's fields.
    pub response: Option<Ordered<RawField>>,
}

/// The notifications section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifications {
    /// What notifications are for.
    pub description: Option<String>,
    /// The notification types (`info`, `success`, …).
    #[serde(default)]
    pub types: Vec<String>,
    /// Who can be notified: any of `user`, `role`, `all` (default: all three).
    pub targets: Option<Vec<String>>,
}

/// A field: `name: type`, or a map with `type` and details.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawField {
    /// The type expression (`list<UserRole>`, `uuid?`).
    pub ty: String,
    /// What the field holds.
    pub description: Option<String>,
    /// Whether it holds personal data.
    pub pii: bool,
    /// The value a reader assumes when the field is absent.
    pub default: Option<serde_yaml::Value>,
    /// Whether it is on its way out.
    pub deprecated: bool,
}

/// The long form of a field (what [`RawField`] reads from a map).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DetailedField {
    #[serde(rename = "type")]
    ty: String,
    description: Option<String>,
    #[serde(default)]
    pii: bool,
    default: Option<serde_yaml::Value>,
    #[serde(default)]
    deprecated: bool,
}

impl<'de> Deserialize<'de> for RawField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = RawField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a type (`string`, `list<uuid>`, …) or a map with `type` and details")
            }
            fn visit_str<E: de::Error>(self, ty: &str) -> Result<RawField, E> {
                Ok(RawField {
                    ty: ty.to_owned(),
                    ..RawField::default()
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawField, A::Error> {
                let detailed = DetailedField::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawField {
                    ty: detailed.ty,
                    description: detailed.description,
                    pii: detailed.pii,
                    default: detailed.default,
                    deprecated: detailed.deprecated,
                })
            }
        }
        deserializer.deserialize_any(FieldVisitor)
    }
}
