//! Stage 1: read the catalog file into raw structures, keeping source positions.
//!
//! The YAML is parsed once, into the span-aware tree of [`crate::yaml`], and the raw structures are read from that
//! tree through a table of the keys each accepts. A bad value costs one diagnostic, where it stands, and reading
//! goes on: a value of the wrong type, an unknown or repeated key, a YAML tag or merge key is reported and the rest
//! of the file is still read, so that [`crate::validate`] reports these problems together with its own (names,
//! types, references), all in one run. Only a file that is not YAML at all stops here.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::diagnostic::{Diagnostic, Diagnostics, Position, closest, did_you_mean};
use crate::positions::Positions;
use crate::yaml::{self, Kind, Node, Scalar};

/// A parsed catalog with the positions of its nodes.
#[derive(Debug)]
pub struct Loaded {
    /// The file name used in diagnostics.
    pub file: String,
    /// The catalog as written (without what could not be read).
    pub catalog: RawCatalog,
    /// Where each node stands.
    pub positions: Positions,
    /// The problems found while reading, in file order; [`crate::validate::validate`] reports them with its own.
    pub problems: Vec<Diagnostic>,
    /// Paths whose value could not be read, or whose key seems misspelt (see [`Loaded::is_unread`]).
    unread: HashSet<String>,
}

impl Loaded {
    /// Whether the node at `path`, or one of its ancestors, could not be read (or was written under a misspelt
    /// key): that is reported in [`Loaded::problems`] already, so what seems missing or empty there is a
    /// consequence, not a problem of its own.
    pub fn is_unread(&self, path: &str) -> bool {
        let mut path = path;
        loop {
            if self.unread.contains(path) {
                return true;
            }
            if path.is_empty() {
                return false;
            }
            path = path.rfind('.').map_or("", |at| &path[..at]);
        }
    }
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

/// Parses catalog `text`; `file` names it in diagnostics. Fails only when `text` is not YAML or holds nothing;
/// every other problem is in [`Loaded::problems`].
pub fn parse(file: &str, text: &str) -> Result<Loaded, Diagnostics> {
    let fail = |at, message: String, hint: Option<String>| {
        Diagnostics(vec![
            Diagnostic::new(file, Some(at), "", message).with_optional_hint(hint),
        ])
    };
    let root = yaml::parse(text).map_err(|error| fail(error.at, error.message, error.hint))?;
    let Some(root) = root.filter(|root| !root.is_null()) else {
        return Err(fail(
            Position { line: 1, column: 1 },
            "the catalog is empty".into(),
            Some("start with `catalog: <name>` and a `categories:` map; see the README's catalog reference".into()),
        ));
    };
    let mut reader = Reader {
        file,
        path: String::new(),
        problems: Vec::new(),
        unread: HashSet::new(),
    };
    let catalog = reader.structure(&root).unwrap_or_default();
    Ok(Loaded {
        file: file.to_owned(),
        catalog,
        positions: Positions::new(&root),
        problems: reader.problems,
        unread: reader.unread,
    })
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

/// How the value of one key is read into a raw structure.
type Read<T> = fn(&mut T, &mut Reader<'_>, &Node);

/// A raw structure read from a YAML map: every key it accepts, with how its value is read.
trait Keys: Default + 'static {
    /// The keys, in the order the catalog reference lists them.
    const KEYS: &'static [(&'static str, Read<Self>)];
}

/// The whole catalog as written.
#[derive(Debug, Default)]
pub struct RawCatalog {
    /// The catalog's name.
    pub catalog: Option<String>,
    /// What the catalog is for.
    pub description: Option<String>,
    /// The catalog-wide delivery policy.
    pub delivery: Option<RawPolicy>,
    /// Shared structs, by PascalCase name.
    pub types: Ordered<RawStruct>,
    /// Shared enums, by PascalCase name, each a list of snake_case values.
    pub enums: Ordered<Vec<String>>,
    /// Event categories, by snake_case name.
    pub categories: Ordered<RawCategory>,
    /// Commands, by dotted name (`company.get`).
    pub commands: Ordered<RawCommand>,
    /// Real-time notifications.
    pub notifications: Option<RawNotifications>,
}

impl Keys for RawCatalog {
    const KEYS: &'static [(&'static str, Read<Self>)] = &[
        ("catalog", |raw, r, node| raw.catalog = r.text(node)),
        ("description", |raw, r, node| raw.description = r.text(node)),
        ("delivery", |raw, r, node| raw.delivery = r.structure(node)),
        ("types", |raw, r, node| {
            raw.types = r.each(
                node,
                "type names to types",
                "types: { Money: { fields: { amount: decimal } } }",
            );
        }),
        ("enums", |raw, r, node| {
            let what = "enum names to lists of values";
            raw.enums = r.entries(node, what, "enums: { Role: [admin, viewer] }", |r, _, values| {
                Some(r.strings(values))
            });
        }),
        ("categories", |raw, r, node| {
            raw.categories = r.each(
                node,
                "category names to categories",
                "categories: { user: { events: … } }",
            );
        }),
        ("commands", |raw, r, node| {
            raw.commands = r.each(
                node,
                "command names to commands",
                "commands: { company.get: { target: … } }",
            );
        }),
        ("notifications", |raw, r, node| raw.notifications = r.structure(node)),
    ];
}

/// A delivery policy as written; absent parts are inherited.
#[derive(Debug, Default)]
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

impl Keys for RawPolicy {
    const KEYS: &'static [(&'static str, Read<Self>)] = &[
        ("max_attempts", |raw, r, node| {
            raw.max_attempts = r.whole(node, 0, u32::MAX)
        }),
        ("backoff", |raw, r, node| raw.backoff = r.structure(node)),
        ("retention", |raw, r, node| raw.retention = r.text(node)),
        ("max_len", |raw, r, node| raw.max_len = r.whole(node, 0, u64::MAX)),
    ];
}

/// Retry delays as written (`1s`, `5m`).
#[derive(Debug, Default)]
pub struct RawBackoff {
    /// The delay before the first retry.
    pub first: Option<String>,
    /// The largest delay.
    pub max: Option<String>,
}

impl Keys for RawBackoff {
    const KEYS: &'static [(&'static str, Read<Self>)] = &[
        ("first", |raw, r, node| raw.first = r.text(node)),
        ("max", |raw, r, node| raw.max = r.text(node)),
    ];
}

/// A shared struct as written.
#[derive(Debug, Default)]
pub struct RawStruct {
    /// What it is.
    pub description: Option<String>,
    /// Its fields.
    pub fields: Ordered<RawField>,
}

impl Keys for RawStruct {
    const KEYS: &'static [(&'static str, Read<Self>)] = &[
        ("description", |raw, r, node| raw.description = r.text(node)),
        ("fields", |raw, r, node| raw.fields = r.fields(node)),
    ];
}

/// A category as written.
#[derive(Debug, Default)]
pub struct RawCategory {
    /// What its events are about.
    pub description: Option<String>,
    /// How many streams the category is split into, by subject (1 to 1024, default 1); more than one
    /// orders it across instances. Kept as written so that [`crate::validate`] can say what is wrong with it.
    pub partitions: Option<serde_yaml::Value>,
    /// Overrides of the delivery policy for its events.
    pub delivery: Option<RawPolicy>,
    /// Its events, by snake_case name.
    pub events: Ordered<RawEvent>,
}

impl Keys for RawCategory {
    const KEYS: &'static [(&'static str, Read<Self>)] = &[
        ("description", |raw, r, node| raw.description = r.text(node)),
        ("partitions", |raw, r, node| raw.partitions = r.value(node)),
        ("delivery", |raw, r, node| raw.delivery = r.structure(node)),
        ("events", |raw, r, node| {
            raw.events = r.each(
                node,
                "event names to events",
                "events: { created: { subject: id, fields: … } }",
            );
        }),
    ];
}

/// An event as written.
#[derive(Debug, Default)]
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
    pub fields: Ordered<RawField>,
    /// Older versions kept beside this one (the newest), by version number.
    pub previous_versions: Ordered<RawPreviousVersion>,
}

impl Keys for RawEvent {
    const KEYS: &'static [(&'static str, Read<Self>)] = &[
        ("description", |raw, r, node| raw.description = r.text(node)),
        ("version", |raw, r, node| {
            raw.version = r.whole(node, i64::MIN, i64::MAX)
        }),
        ("subject", |raw, r, node| raw.subject = r.text(node)),
        ("delivery", |raw, r, node| raw.delivery = r.structure(node)),
        ("fields", |raw, r, node| raw.fields = r.fields(node)),
        ("previous_versions", |raw, r, node| {
            let what = "version numbers to older versions";
            raw.previous_versions = r.each(node, what, "previous_versions: { 1: { fields: … } }");
        }),
    ];
}

/// An older version of an event as written: it shares the event's stream,
/// type name and delivery policy, and has a payload of its own.
#[derive(Debug, Default)]
pub struct RawPreviousVersion {
    /// What happened (default: the newest version's description).
    pub description: Option<String>,
    /// The field that is the entity key (default: the newest version's subject).
    pub subject: Option<String>,
    /// Whether it is on its way out: it may be removed in a later release.
    pub deprecated: bool,
    /// Its payload fields.
    pub fields: Ordered<RawField>,
}

impl Keys for RawPreviousVersion {
    const KEYS: &'static [(&'static str, Read<Self>)] = &[
        ("description", |raw, r, node| raw.description = r.text(node)),
        ("subject", |raw, r, node| raw.subject = r.text(node)),
        ("deprecated", |raw, r, node| raw.deprecated = r.flag(node)),
        ("fields", |raw, r, node| raw.fields = r.fields(node)),
    ];
}

/// A command as written.
#[derive(Debug, Default)]
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

impl Keys for RawCommand {
    const KEYS: &'static [(&'static str, Read<Self>)] = &[
        ("description", |raw, r, node| raw.description = r.text(node)),
        ("target", |raw, r, node| raw.target = r.text(node)),
        ("timeout", |raw, r, node| raw.timeout = r.text(node)),
        ("version", |raw, r, node| {
            raw.version = r.whole(node, i64::MIN, i64::MAX)
        }),
        ("request", |raw, r, node| {
            raw.request = (!node.is_null()).then(|| r.fields(node))
        }),
        ("response", |raw, r, node| {
            raw.response = (!node.is_null()).then(|| r.fields(node))
        }),
    ];
}

/// The notifications section as written.
#[derive(Debug, Default)]
pub struct RawNotifications {
    /// What notifications are for.
    pub description: Option<String>,
    /// The notification types (`info`, `success`, …).
    pub types: Vec<String>,
    /// Who can be notified: any of `user`, `role`, `all` (default: all three).
    pub targets: Option<Vec<String>>,
}

impl Keys for RawNotifications {
    const KEYS: &'static [(&'static str, Read<Self>)] = &[
        ("description", |raw, r, node| raw.description = r.text(node)),
        ("types", |raw, r, node| raw.types = r.strings(node)),
        ("targets", |raw, r, node| {
            raw.targets = (!node.is_null()).then(|| r.strings(node))
        }),
    ];
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

/// The long form of a field.
impl Keys for RawField {
    const KEYS: &'static [(&'static str, Read<Self>)] = &[
        ("type", |raw, r, node| raw.ty = r.text(node).unwrap_or_default()),
        ("description", |raw, r, node| raw.description = r.text(node)),
        ("pii", |raw, r, node| raw.pii = r.flag(node)),
        ("default", |raw, r, node| raw.default = r.value(node)),
        ("deprecated", |raw, r, node| raw.deprecated = r.flag(node)),
    ];
}

/// Reads raw structures from the tree, collecting every problem.
struct Reader<'a> {
    file: &'a str,
    /// The catalog path of the node being read.
    path: String,
    problems: Vec<Diagnostic>,
    unread: HashSet<String>,
}

impl Reader<'_> {
    /// Runs `read` with `segment` appended to the current path.
    fn within<T>(&mut self, segment: &str, read: impl FnOnce(&mut Self) -> T) -> T {
        let length = self.path.len();
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(segment);
        let value = read(self);
        self.path.truncate(length);
        value
    }

    fn report(&mut self, at: Position, message: impl Into<String>, hint: Option<String>) {
        self.problems
            .push(Diagnostic::new(self.file, Some(at), &self.path, message).with_optional_hint(hint));
    }

    /// Reports that the value at the current path cannot be read: it is left out.
    fn unreadable<T>(&mut self, at: Position, message: impl Into<String>, hint: Option<String>) -> Option<T> {
        self.report(at, message, hint);
        self.unread.insert(self.path.clone());
        None
    }

    /// Reports a value of the wrong kind: `expected` says what belongs here.
    fn wrong<T>(&mut self, node: &Node, expected: &str, hint: impl Into<String>) -> Option<T> {
        let message = format!("expected {expected}, found {}", node.describe());
        self.unreadable(node.at, message, Some(hint.into()))
    }

    /// The node, unless it carries a YAML tag, which the catalog language does not have (reported).
    fn untagged<'n>(&mut self, node: &'n Node) -> Option<&'n Node> {
        let Some(tag) = &node.tag else {
            return Some(node);
        };
        let hint = if tag.contains("include") {
            "a catalog is one file: write the included part here"
        } else if tag == "!!str" {
            "remove the tag; to have YAML read a value as text, put it in quotes"
        } else {
            "remove the tag: the catalog reads plain YAML values"
        };
        self.unreadable(
            node.at,
            format!("YAML tags are not supported: `{tag}`"),
            Some(hint.into()),
        )
    }

    /// The name of a mapping key, unless it is not a plain name (reported): a collection, a tag or a merge key.
    fn key<'n>(&mut self, key: &'n Node) -> Option<&'n str> {
        let Some(name) = key.text() else {
            self.report(
                key.at,
                format!("expected a name as the key, found {}", key.describe()),
                Some("write keys as plain names: `name: value`".into()),
            );
            return None;
        };
        if name == "<<" && matches!(key.kind, Kind::Scalar { plain: true, .. }) {
            // What the merge would have brought is unknown: nothing is missing here.
            self.unread.insert(self.path.clone());
            self.within(name, |r| {
                let hint = "write the keys out here; an alias (`*name`) can repeat a whole value, not part of a map";
                r.report(key.at, "YAML merge keys (`<<`) are not supported", Some(hint.into()));
            });
            return None;
        }
        self.within(name, |r| r.untagged(key)).map(|_| name)
    }

    /// Whether `name` was seen before in this map (reported at this, the later key); records it otherwise.
    fn repeated<'n>(&mut self, seen: &mut HashMap<&'n str, Position>, name: &'n str, at: Position) -> bool {
        match seen.get(name) {
            Some(first) => {
                let hint = format!("the first `{name}` is at {first}; keep one of them");
                self.report(at, format!("duplicate key `{name}`"), Some(hint));
                true
            }
            None => {
                seen.insert(name, at);
                false
            }
        }
    }

    /// A raw structure from a map (a null value reads as an empty map).
    fn structure<T: Keys>(&mut self, node: &Node) -> Option<T> {
        let node = self.untagged(node)?;
        let entries = match &node.kind {
            Kind::Mapping(entries) => entries,
            _ if node.is_null() => return Some(T::default()),
            _ => {
                let keys: Vec<&str> = T::KEYS.iter().map(|(key, _)| *key).collect();
                let expected = format!("a map with the keys {}", keys.join(", "));
                let hint = node
                    .text()
                    .and_then(|text| glued_key(text, &keys))
                    .unwrap_or_else(|| format!("write `{{ {}: … }}`, or one key per line below, indented", keys[0]));
                return self.wrong(node, &expected, hint);
            }
        };
        let mut raw = T::default();
        let mut seen = HashMap::new();
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            self.within(name, |r| {
                if r.repeated(&mut seen, name, key.at) {
                    return;
                }
                match T::KEYS.iter().find(|(known, _)| *known == name) {
                    Some((_, read)) => read(&mut raw, r, value),
                    None => r.unknown_key(name, key.at, entries, T::KEYS),
                }
            });
        }
        Some(raw)
    }

    /// Reports the key `name` (the current path) that a map accepting `keys` does not know. When it looks like a
    /// misspelt key that is absent, that key counts as unread, so that it is not reported missing as well.
    fn unknown_key<T>(&mut self, name: &str, at: Position, entries: &[(Node, Node)], keys: &[(&str, Read<T>)]) {
        let accepted: Vec<&str> = keys.iter().map(|(key, _)| *key).collect();
        let hint = glued_key(name, &accepted)
            .or_else(|| did_you_mean(name, accepted.iter().copied()))
            .unwrap_or_else(|| format!("the keys here are: {}", accepted.join(", ")));
        self.report(at, format!("unknown key `{name}`"), Some(hint));
        if let Some(close) = closest(name, accepted.iter().copied())
            .filter(|close| !entries.iter().any(|(key, _)| key.text() == Some(close)))
        {
            let parent = self.path.strip_suffix(name).unwrap_or_default();
            self.unread.insert(format!("{parent}{close}"));
        }
    }

    /// The entries of a map of names (`what`: "field names to types") read by `read`, which is given the key
    /// and the value and may leave an entry out; `example` shows the form.
    fn entries<T>(
        &mut self,
        node: &Node,
        what: &str,
        example: &str,
        mut read: impl FnMut(&mut Self, &Node, &Node) -> Option<T>,
    ) -> Ordered<T> {
        let Some(node) = self.untagged(node) else {
            return Ordered::default();
        };
        let entries = match &node.kind {
            Kind::Mapping(entries) => entries,
            _ if node.is_null() => return Ordered::default(),
            _ => {
                self.wrong::<()>(node, &format!("a map of {what}"), format!("write `{example}`"));
                return Ordered::default();
            }
        };
        let mut kept = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            if let Some(item) = self.within(name, |r| read(r, key, value)) {
                kept.push((name.to_owned(), item));
            }
        }
        Ordered(kept)
    }

    /// A map of names to raw structures; an entry that cannot be read is kept empty, so that its name is known.
    fn each<T: Keys>(&mut self, node: &Node, what: &str, example: &str) -> Ordered<T> {
        self.entries(node, what, example, |r, _, value| {
            Some(r.structure(value).unwrap_or_default())
        })
    }

    /// A map of field names to fields; a field that cannot be read is left out.
    fn fields(&mut self, node: &Node) -> Ordered<RawField> {
        self.entries(
            node,
            "field names to types",
            "fields: { id: uuid, name: string }",
            |r, key, value| r.field(key, value),
        )
    }

    /// One field: `name: type`, or a map with `type` and details.
    fn field(&mut self, key: &Node, node: &Node) -> Option<RawField> {
        let name = key.text().unwrap_or_default();
        let node = self.untagged(node)?;
        let (field, hint) = match &node.kind {
            Kind::Sequence(_) => {
                return self.wrong(node, "a type", "write a list type as `list<T>`, e.g. `list<string>`");
            }
            Kind::Mapping(_) => (
                self.structure::<RawField>(node)?,
                format!("add its type to the map: `{name}: {{ type: string, … }}`"),
            ),
            Kind::Scalar { text, .. } => {
                let ty = if node.is_null() { String::new() } else { text.clone() };
                let field = RawField {
                    ty,
                    ..RawField::default()
                };
                (field, format!("write its type after the colon: `{name}: string`"))
            }
        };
        // A bad or misspelt `type` is reported already (nothing is unread in a catalog without problems).
        if !self.unread.is_empty() && self.unread.contains(&format!("{}.type", self.path)) {
            self.unread.insert(self.path.clone());
            return None;
        }
        if field.ty.trim().is_empty() {
            return self.unreadable(key.at, format!("field `{name}` has no type"), Some(hint));
        }
        Some(field)
    }

    /// A list of names (enum values, notification types and targets).
    fn strings(&mut self, node: &Node) -> Vec<String> {
        let Some(node) = self.untagged(node) else {
            return Vec::new();
        };
        match &node.kind {
            Kind::Sequence(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(index, item)| self.within(&index.to_string(), |r| r.name(item)))
                    .collect(),
            ),
            _ if node.is_null() => None,
            Kind::Scalar { text, .. } => self.wrong(node, "a list", format!("write a list: `[{text}]`")),
            Kind::Mapping(_) => self.wrong(node, "a list", "write a list: `[a, b]`"),
        }
        .unwrap_or_default()
    }

    /// An item of a list of names, as written: [`crate::validate`] checks the name.
    fn name(&mut self, node: &Node) -> Option<String> {
        let node = self.untagged(node)?;
        match node.text() {
            Some(text) => Some(text.to_owned()),
            None => self.wrong(node, "a name", "write one name per item: `[a, b]`"),
        }
    }

    /// Text: any scalar, as written; `None` for a null.
    fn text(&mut self, node: &Node) -> Option<String> {
        let node = self.untagged(node)?;
        match &node.kind {
            Kind::Scalar { text, .. } => (!node.is_null()).then(|| text.clone()),
            Kind::Sequence(_) => self.wrong(node, "text", "put text that starts with `[` or `-` in quotes"),
            Kind::Mapping(_) => self.wrong(node, "text", "put text that contains `: ` or starts with `{` in quotes"),
        }
    }

    /// `true` or `false`; `false` when the value cannot be read.
    fn flag(&mut self, node: &Node) -> bool {
        let Some(node) = self.untagged(node) else {
            return false;
        };
        if let Some(Scalar::Bool(flag)) = node.scalar() {
            return flag;
        }
        let written = node.text().unwrap_or_default();
        let hint = match (node.scalar(), written.to_ascii_lowercase().as_str()) {
            (Some(Scalar::Text(_)), "true" | "false") => format!("write `{}` without quotes", written.to_lowercase()),
            (_, word @ ("yes" | "y" | "on" | "no" | "n" | "off")) => {
                let flag = matches!(word, "yes" | "y" | "on");
                format!("write `{flag}`: YAML 1.2 reads `{written}` as text, not as a boolean")
            }
            _ => "write `true` or `false`".to_owned(),
        };
        self.wrong::<()>(node, "`true` or `false`", hint);
        false
    }

    /// A whole number from `min` to `max`; `None` for a null.
    fn whole<T>(&mut self, node: &Node, min: T, max: T) -> Option<T>
    where
        T: TryFrom<i128> + Into<i128> + Copy + std::fmt::Display,
    {
        let node = self.untagged(node)?;
        let written = node.text().unwrap_or_default();
        let hint = match node.scalar() {
            None => "write one number, e.g. `1`".to_owned(),
            Some(Scalar::Null) => return None,
            Some(Scalar::Integer(number)) => {
                let in_range = (min.into()..=max.into()).contains(&number);
                if let Some(value) = T::try_from(number).ok().filter(|_| in_range) {
                    return Some(value);
                }
                let hint = if number < min.into() {
                    "write a positive number".to_owned()
                } else {
                    format!("write {max} or less")
                };
                let message = format!("expected a whole number from {min} to {max}, found the number `{written}`");
                return self.unreadable(node.at, message, Some(hint));
            }
            Some(Scalar::Float(_)) => "write a whole number, e.g. `3`".to_owned(),
            Some(Scalar::Text(text)) if text.trim().parse::<i128>().is_ok() => {
                format!("write the number without quotes: `{}`", text.trim())
            }
            Some(_) => "write the number in digits, e.g. `1`".to_owned(),
        };
        self.wrong(node, "a whole number", hint)
    }

    /// Any YAML value, as written (a `default` or `partitions`, checked by [`crate::validate`]); `None` for a null.
    fn value(&mut self, node: &Node) -> Option<serde_yaml::Value> {
        use serde_yaml::Value;
        let node = self.untagged(node)?;
        match &node.kind {
            Kind::Scalar { .. } => node.scalar().filter(|scalar| *scalar != Scalar::Null).map(scalar_value),
            Kind::Sequence(items) => Some(Value::Sequence(
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(index, item)| self.within(&index.to_string(), |r| r.value(item)))
                    .collect(),
            )),
            Kind::Mapping(entries) => {
                let mut mapping = serde_yaml::Mapping::new();
                let mut seen = HashMap::new();
                for (key, value) in entries {
                    let Some(name) = self.key(key) else { continue };
                    self.within(name, |r| {
                        if !r.repeated(&mut seen, name, key.at) {
                            let key = key.scalar().map_or(Value::Null, scalar_value);
                            mapping.insert(key, r.value(value).unwrap_or(Value::Null));
                        }
                    });
                }
                Some(Value::Mapping(mapping))
            }
        }
    }
}

/// For text such as `subject:id`, that starts with one of the `keys` and a colon: a hint to put a space after it.
fn glued_key(text: &str, keys: &[&str]) -> Option<String> {
    let (key, _) = text.split_once(':').filter(|(key, _)| keys.contains(key))?;
    Some(format!(
        "put a space after `{key}:`; without one, YAML reads `{text}` as one piece of text"
    ))
}

/// A scalar as a `serde_yaml` value.
fn scalar_value(scalar: Scalar<'_>) -> serde_yaml::Value {
    use serde_yaml::Value;
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Bool(flag) => Value::Bool(flag),
        Scalar::Integer(number) => i64::try_from(number)
            .map(Value::from)
            .or_else(|_| u64::try_from(number).map(Value::from))
            .unwrap_or_else(|_| Value::from(number as f64)),
        Scalar::Float(number) => Value::from(number),
        Scalar::Text(text) => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<T: Keys>() -> Vec<&'static str> {
        T::KEYS.iter().map(|(key, _)| *key).collect()
    }

    #[test]
    fn every_key_of_the_reference_is_read() {
        assert_eq!(
            keys::<RawCatalog>(),
            [
                "catalog",
                "description",
                "delivery",
                "types",
                "enums",
                "categories",
                "commands",
                "notifications"
            ]
        );
        assert_eq!(keys::<RawBackoff>(), ["first", "max"]);
        assert_eq!(
            keys::<RawField>(),
            ["type", "description", "pii", "default", "deprecated"]
        );
    }

    #[test]
    fn reads_a_catalog_as_written() {
        let text = "catalog: x\ncategories:\n  user:\n    partitions: 4\n    events:\n      created:\n        version: 2\n        subject: id\n        fields:\n          id: uuid\n          email: { type: string, pii: true, default: \"a@b\" }\n";
        let loaded = parse("c.yaml", text).expect("YAML");
        assert_eq!(loaded.problems, []);
        let (name, user) = &loaded.catalog.categories.0[0];
        assert_eq!(name, "user");
        assert_eq!(user.partitions, Some(serde_yaml::Value::from(4)));
        let (_, created) = &user.events.0[0];
        assert_eq!((created.version, created.subject.as_deref()), (Some(2), Some("id")));
        let email = &created.fields.0[1].1;
        assert!(email.pii);
        assert_eq!(email.default, Some(serde_yaml::Value::from("a@b")));
    }

    #[test]
    fn marks_what_could_not_be_read() {
        let text =
            "catalog: x\ncategories:\n  user:\n    events:\n      created:\n        subjct: id\n        fields: [id]\n";
        let loaded = parse("c.yaml", text).expect("YAML");
        assert_eq!(loaded.problems.len(), 2, "{:?}", loaded.problems);
        let event = "categories.user.events.created";
        assert!(loaded.is_unread(&format!("{event}.subject")), "a misspelt key");
        assert!(
            loaded.is_unread(&format!("{event}.fields.id")),
            "under a value of the wrong type"
        );
        assert!(!loaded.is_unread(&format!("{event}.description")));
    }
}
