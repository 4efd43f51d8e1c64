//! The breaking-change check: compares an older catalog with a newer one
//! and names every change that would break a deployed producer or consumer.
//!
//! Producers and consumers of one type are deployed one after the other,
//! so every change must be readable both ways: what a new producer writes
//! must decode in an old consumer and the other way round. The rules:
//!
//! | rule | breaks |
//! |---|---|
//! | `event-removed` | a consumer still subscribed to it, a producer still publishing it |
//! | `command-removed` | callers still sending it |
//! | `field-removed` | a required field (not optional, no default) left out: old readers fail to decode |
//! | `field-type-changed` | any change of a field's type, `T` ⇄ `T?` included |
//! | `required-field-added` | a new field without `?` or `default`, or a default taken away: old writers do not send it |
//! | `enum-value-removed` | a value old writers still send (also notification types): new readers no longer know it (it reaches them as `Unrecognized`), so the code that handled it stops |
//! | `subject-changed` | the entity key that orders and partitions an event's entries |
//! | `stream-changed` | an event moved to another category, a command to another target service |
//! | `partitions-changed` | a category's `partitions` (absent counts as 1): its subjects move to other streams, so groups on the old streams stop seeing new entries and order across the change is lost |
//! | `version-changed` | an event's version raised or lowered without keeping the old one, a command's version changed |
//! | `wire-name-changed` | a field, enum value, event or command renamed: a removal for readers of the old name |
//!
//! Allowed: adding an optional field, a field with a default, an event, a
//! command; adding an enum value or notification type, by rule: generated enums
//! are open (Rust keeps a value it does not know in the enum's `Unrecognized`
//! variant, Python as a plain `str`, the schemas say that other values may
//! appear), so a consumer built before the value handles the event and writes
//! the value back unchanged; descriptions, `pii` and delivery policies;
//! removing an optional field, or one marked `deprecated` in the older
//! catalog; raising an event's version while keeping the old one under
//! `previous_versions`, and removing an older version marked `deprecated`.
//!
//! Each change names the file and line where it shows: in the newer catalog
//! for what changed or was added, in the older one for what was removed.

use std::fmt;

use crate::diagnostic::Diagnostics;
use crate::model::{Catalog, Category, Command, Event, Field};
use crate::positions::Positions;

/// One catalog of the comparison, with the positions of its nodes.
#[derive(Debug, Clone)]
pub struct Side {
    /// How the catalog is named in reports (`events.yaml`, `origin/main:events.yaml`).
    pub file: String,
    /// The checked catalog.
    pub catalog: Catalog,
    /// Where its nodes stand.
    pub positions: Positions,
}

impl Side {
    /// Loads and checks catalog `text`, named `file` in reports.
    pub fn read(file: &str, text: &str) -> Result<Side, Diagnostics> {
        let loaded = crate::load::parse(file, text)?;
        let catalog = crate::validate::validate(&loaded)?;
        Ok(Side {
            file: file.to_owned(),
            catalog,
            positions: loaded.positions,
        })
    }

    /// The line of the node at `path` (or of its nearest ancestor), 0 when unknown.
    fn line(&self, path: &str) -> usize {
        self.positions.of(path).map_or(0, |position| position.line)
    }

    /// The line of a field's type: its `type:` key in the long form, else the field itself.
    fn type_line(&self, field_path: &str) -> usize {
        let long = format!("{field_path}.type");
        if self.positions.occurrences(&long).is_empty() {
            self.line(field_path)
        } else {
            self.line(&long)
        }
    }
}

/// A rule of the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// An event type or version is gone.
    EventRemoved,
    /// A command is gone.
    CommandRemoved,
    /// A required field is gone.
    FieldRemoved,
    /// A field's type changed.
    FieldTypeChanged,
    /// A required field appeared (or lost its default).
    RequiredFieldAdded,
    /// An enum value (or notification type) is gone.
    EnumValueRemoved,
    /// An event's subject changed.
    SubjectChanged,
    /// An event moved to another stream, a command to another service.
    StreamChanged,
    /// A category's number of partitions changed.
    PartitionsChanged,
    /// A version changed without keeping the old one.
    VersionChanged,
    /// Something was renamed.
    WireNameChanged,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 11] = [
        Rule::EventRemoved,
        Rule::CommandRemoved,
        Rule::FieldRemoved,
        Rule::FieldTypeChanged,
        Rule::RequiredFieldAdded,
        Rule::EnumValueRemoved,
        Rule::SubjectChanged,
        Rule::StreamChanged,
        Rule::PartitionsChanged,
        Rule::VersionChanged,
        Rule::WireNameChanged,
    ];

    /// The rule's name in reports (`field-removed`).
    pub fn name(self) -> &'static str {
        match self {
            Rule::EventRemoved => "event-removed",
            Rule::CommandRemoved => "command-removed",
            Rule::FieldRemoved => "field-removed",
            Rule::FieldTypeChanged => "field-type-changed",
            Rule::RequiredFieldAdded => "required-field-added",
            Rule::EnumValueRemoved => "enum-value-removed",
            Rule::SubjectChanged => "subject-changed",
            Rule::StreamChanged => "stream-changed",
            Rule::PartitionsChanged => "partitions-changed",
            Rule::VersionChanged => "version-changed",
            Rule::WireNameChanged => "wire-name-changed",
        }
    }

    /// How to make the change without breaking anyone.
    pub fn hint(self) -> &'static str {
        match self {
            Rule::EventRemoved => {
                "keep the event until no service publishes or consumes it; to retire an older version, mark it `deprecated: true` under `previous_versions` for a release first"
            }
            Rule::CommandRemoved => "keep the command until no service calls it",
            Rule::FieldRemoved => {
                "make the field optional (`T?`) or mark it `deprecated: true` for a release before removing it"
            }
            Rule::FieldTypeChanged => {
                "add a new optional field with the new type; an event may instead raise its `version` and keep the old one under `previous_versions`"
            }
            Rule::RequiredFieldAdded => {
                "make the field optional (`T?`) or give it a `default`; an event may instead raise its `version` and keep the old one under `previous_versions`"
            }
            Rule::EnumValueRemoved => {
                "keep the value until no producer sends it, or raise the version of the events that carry it"
            }
            Rule::SubjectChanged => {
                "the subject orders and partitions the entries; raise the event's `version` and keep the old one under `previous_versions`"
            }
            Rule::StreamChanged => {
                "consumers read the old stream and servers the old command stream; add the new one beside the old and retire the old later"
            }
            Rule::PartitionsChanged => {
                "drain the old streams before publishers switch: stop the category's publishers, let every group read and ack all of the old streams (`xerpium-mq groups`: lag 0, nothing pending), deploy the consumers with the new layout, then the publishers; or give the new layout to a new category and retire the old one later"
            }
            Rule::VersionChanged => {
                "keep the old version under `previous_versions` until every consumer handles the new one (commands: add a new command instead)"
            }
            Rule::WireNameChanged => {
                "readers know only the old name: add the new name beside the old one, and deprecate the old one for a release"
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One breaking change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The rule it breaks.
    pub rule: Rule,
    /// The catalog file where it shows.
    pub file: String,
    /// The line there (0 when unknown).
    pub line: usize,
    /// The catalog path of the node.
    pub path: String,
    /// What changed.
    pub message: String,
}

impl fmt::Display for Change {
    /// `FILE:LINE: rule: message`, then the catalog path and a hint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}\n  at: {}\n  hint: {}",
            self.file,
            self.line,
            self.rule,
            self.message,
            self.path,
            self.rule.hint()
        )
    }
}

/// Every breaking change from `old` to `new`, in rule order, then by file and line.
pub fn compare(old: &Side, new: &Side) -> Vec<Change> {
    let mut comparison = Comparison {
        old,
        new,
        changes: Vec::new(),
    };
    comparison.categories();
    comparison.events();
    comparison.commands();
    comparison.shared_types();
    let mut changes = comparison.changes;
    changes.sort_by(|a, b| (a.rule, &a.file, a.line, &a.path).cmp(&(b.rule, &b.file, b.line, &b.path)));
    changes
}

/// A category's streams in a message: `` `<ns>:events:user` (1 stream) `` or
/// `` `<ns>:events:user:<p>` (8 partitions) ``.
fn streams(category: &Category) -> String {
    match category.layout.partitions {
        1 => format!("`{}` (1 stream)", category.stream_key()),
        partitions => format!("`{}` ({partitions} partitions)", category.stream_key()),
    }
}

/// The key of the streams of category `name` of `catalog` (`<ns>:events:user`, `<ns>:events:user:<p>`).
fn stream_key(catalog: &Catalog, name: &str) -> String {
    catalog
        .categories
        .iter()
        .find(|category| category.name == name)
        .map_or_else(|| format!("<ns>:events:{name}"), Category::stream_key)
}

/// Which catalog a change shows in.
#[derive(Debug, Clone, Copy)]
enum In {
    Old,
    New,
}

struct Comparison<'a> {
    old: &'a Side,
    new: &'a Side,
    changes: Vec<Change>,
}

/// What owns a list of fields, for messages and paths.
struct Owner<'a> {
    /// `` `user.created` v1 ``, `` type `Money` ``.
    what: &'a str,
    /// The catalog path of the fields' parent in each catalog (`….fields`, `….request`).
    old_path: &'a str,
    new_path: &'a str,
}

impl Comparison<'_> {
    /// Reports a change of the node at `path` of one catalog.
    fn report(&mut self, rule: Rule, side: In, path: String, message: String) {
        let line = match side {
            In::Old => self.old.line(&path),
            In::New => self.new.line(&path),
        };
        self.report_at(rule, side, line, path, message);
    }

    /// Reports a change shown at `line` of one catalog.
    fn report_at(&mut self, rule: Rule, side: In, line: usize, path: String, message: String) {
        let file = match side {
            In::Old => &self.old.file,
            In::New => &self.new.file,
        };
        self.changes.push(Change {
            rule,
            file: file.clone(),
            line,
            path,
            message,
        });
    }

    /// Categories in both catalogs: how many streams they have.
    fn categories(&mut self) {
        let (old, new) = (&self.old.catalog, &self.new.catalog);
        for before in &old.categories {
            let Some(after) = new.categories.iter().find(|after| after.name == before.name) else {
                continue;
            };
            if before.layout.partitions == after.layout.partitions {
                continue;
            }
            let path = format!("categories.{}.partitions", before.name);
            // Where the count is written: in the newer catalog, else (back to one stream) in the older one.
            let side = if self.new.positions.occurrences(&path).is_empty() {
                In::Old
            } else {
                In::New
            };
            self.report(
                Rule::PartitionsChanged,
                side,
                path,
                format!(
                    "category `{}` goes from {} to {}: subjects move to other streams, so groups on the old streams stop seeing new entries and a subject's order across the change is lost",
                    before.name,
                    streams(before),
                    streams(after)
                ),
            );
        }
    }

    fn events(&mut self) {
        let (old, new) = (&self.old.catalog, &self.new.catalog);
        let same = |a: &Event, b: &Event| a.category == b.category && a.name == b.name;
        for before in old.events() {
            let label = format!("`{}` v{}", before.type_name(), before.version);
            if let Some(after) = new
                .events()
                .find(|after| same(before, after) && after.version == before.version)
            {
                self.event_version(&label, before, after);
            } else if let Some(newest) = new.events().find(|after| same(before, after) && after.latest) {
                if before.deprecated {
                    continue;
                }
                let path = format!("{}.version", newest.path());
                self.report(
                    Rule::VersionChanged,
                    In::New,
                    path,
                    format!(
                        "{label} is gone: `{}` is now v{} and does not keep v{} under `previous_versions`",
                        newest.type_name(),
                        newest.version,
                        before.version
                    ),
                );
            } else if let Some(moved) = new.events().find(|after| {
                after.name == before.name && after.category != before.category && after.version == before.version
            }) {
                self.report(
                    Rule::StreamChanged,
                    In::New,
                    moved.path(),
                    format!(
                        "{label} moved from stream `{}` to `{}` (now `{}`)",
                        stream_key(old, &before.category),
                        stream_key(new, &moved.category),
                        moved.type_name()
                    ),
                );
            } else if let Some(renamed) = new.events().find(|after| {
                after.category == before.category
                    && after.version == before.version
                    && after.fields == before.fields
                    && !old.events().any(|known| same(known, after))
            }) {
                self.report(
                    Rule::WireNameChanged,
                    In::New,
                    renamed.path(),
                    format!("{label} was renamed to `{}`", renamed.type_name()),
                );
            } else if !before.deprecated {
                self.report(
                    Rule::EventRemoved,
                    In::Old,
                    before.path(),
                    format!("{label} was removed"),
                );
            }
        }
    }

    /// The same type and version in both catalogs: its subject and fields.
    fn event_version(&mut self, label: &str, before: &Event, after: &Event) {
        if before.subject != after.subject {
            let path = format!("{}.subject", after.path());
            self.report(
                Rule::SubjectChanged,
                In::New,
                path,
                format!(
                    "the subject of {label} changed from `{}` to `{}`",
                    before.subject, after.subject
                ),
            );
        }
        let (old_path, new_path) = (format!("{}.fields", before.path()), format!("{}.fields", after.path()));
        let owner = Owner {
            what: label,
            old_path: &old_path,
            new_path: &new_path,
        };
        self.fields(&owner, &before.fields, &after.fields);
    }

    fn commands(&mut self) {
        let (old, new) = (&self.old.catalog, &self.new.catalog);
        for before in &old.commands {
            let path = format!("commands.{}", before.name);
            let Some(after) = new.commands.iter().find(|after| after.name == before.name) else {
                self.command_gone(before);
                continue;
            };
            let label = format!("command `{}`", before.name);
            if before.target != after.target {
                let target = format!("{path}.target");
                self.report(
                    Rule::StreamChanged,
                    In::New,
                    target,
                    format!(
                        "{label} moved from `<ns>:commands:{}` to `<ns>:commands:{}`",
                        before.target, after.target
                    ),
                );
            }
            if before.version != after.version {
                let version = format!("{path}.version");
                self.report(
                    Rule::VersionChanged,
                    In::New,
                    version,
                    format!(
                        "the version of {label} changed from {} to {}",
                        before.version, after.version
                    ),
                );
            }
            for (part, old_fields, new_fields) in [
                ("request", &before.request, &after.request),
                ("response", &before.response, &after.response),
            ] {
                let what = format!("the {part} of {label}");
                let fields_path = format!("{path}.{part}");
                let owner = Owner {
                    what: &what,
                    old_path: &fields_path,
                    new_path: &fields_path,
                };
                self.fields(&owner, old_fields, new_fields);
            }
        }
    }

    /// A command of the old catalog that the new one does not have: renamed or removed.
    fn command_gone(&mut self, before: &Command) {
        let old = &self.old.catalog;
        let renamed = self.new.catalog.commands.iter().find(|after| {
            after.target == before.target
                && after.request == before.request
                && after.response == before.response
                && !old.commands.iter().any(|known| known.name == after.name)
        });
        match renamed {
            Some(after) => {
                let path = format!("commands.{}", after.name);
                self.report(
                    Rule::WireNameChanged,
                    In::New,
                    path,
                    format!("command `{}` was renamed to `{}`", before.name, after.name),
                );
            }
            None => {
                let path = format!("commands.{}", before.name);
                self.report(
                    Rule::CommandRemoved,
                    In::Old,
                    path,
                    format!("command `{}` was removed", before.name),
                );
            }
        }
    }

    /// Shared structs, enums and notification types present in both catalogs.
    fn shared_types(&mut self) {
        let (old, new) = (&self.old.catalog, &self.new.catalog);
        for before in &old.structs {
            let Some(after) = new.find_struct(&before.name) else {
                continue;
            };
            let what = format!("type `{}`", before.name);
            let path = format!("types.{}.fields", before.name);
            let owner = Owner {
                what: &what,
                old_path: &path,
                new_path: &path,
            };
            self.fields(&owner, &before.fields, &after.fields);
        }
        for before in &old.enums {
            let Some(after) = new.find_enum(&before.name) else {
                continue;
            };
            let what = format!("enum `{}`", before.name);
            self.values(&what, &format!("enums.{}", before.name), &before.values, &after.values);
        }
        if !new.notifications.types.is_empty() || !old.notifications.types.is_empty() {
            self.values(
                "the notification types",
                "notifications.types",
                &old.notifications.types,
                &new.notifications.types,
            );
        }
    }

    /// Values of an enum (or notification types) at `path` (`enums.Role`), listed by index: a value gone is
    /// removed or renamed; a value added is allowed by rule, since readers built before it keep it (generated
    /// enums are open), so only the values of `before` are looked at.
    fn values(&mut self, what: &str, path: &str, before: &[String], after: &[String]) {
        for (index, value) in before.iter().enumerate() {
            if after.contains(value) {
                continue;
            }
            let replacement = after.get(index).filter(|other| !before.contains(other));
            match replacement {
                Some(other) => {
                    let at = format!("{path}.{index}");
                    self.report(
                        Rule::WireNameChanged,
                        In::New,
                        at,
                        format!("value `{value}` of {what} was renamed to `{other}`"),
                    );
                }
                None => {
                    let at = format!("{path}.{index}");
                    self.report(
                        Rule::EnumValueRemoved,
                        In::Old,
                        at,
                        format!("value `{value}` of {what} was removed"),
                    );
                }
            }
        }
    }

    /// The fields of one payload (event version, command part, shared struct) in both catalogs.
    fn fields(&mut self, owner: &Owner<'_>, before: &[Field], after: &[Field]) {
        let mut renamed_to: Vec<&str> = Vec::new();
        for (index, field) in before.iter().enumerate() {
            let old_path = format!("{}.{}", owner.old_path, field.name);
            let Some(now) = after.iter().find(|now| now.name == field.name) else {
                // A field at the same place, of the same type, that is new: a rename.
                let renamed = after.get(index).filter(|candidate| {
                    candidate.ty == field.ty && !before.iter().any(|known| known.name == candidate.name)
                });
                if let Some(candidate) = renamed {
                    renamed_to.push(&candidate.name);
                    let new_path = format!("{}.{}", owner.new_path, candidate.name);
                    self.report(
                        Rule::WireNameChanged,
                        In::New,
                        new_path,
                        format!(
                            "field `{}` of {} was renamed to `{}`",
                            field.name, owner.what, candidate.name
                        ),
                    );
                } else if field.is_required() && !field.deprecated {
                    self.report(
                        Rule::FieldRemoved,
                        In::Old,
                        old_path,
                        format!(
                            "required field `{}` of {} was removed (it was not marked `deprecated`)",
                            field.name, owner.what
                        ),
                    );
                }
                continue;
            };
            let new_path = format!("{}.{}", owner.new_path, field.name);
            if field.ty != now.ty {
                let line = self.new.type_line(&new_path);
                self.report_at(
                    Rule::FieldTypeChanged,
                    In::New,
                    line,
                    new_path,
                    format!(
                        "field `{}` of {} changed type from `{}` to `{}`",
                        field.name, owner.what, field.ty, now.ty
                    ),
                );
            } else if !field.is_required() && now.is_required() {
                self.report(
                    Rule::RequiredFieldAdded,
                    In::New,
                    new_path,
                    format!(
                        "field `{}` of {} lost its default: it is now required",
                        field.name, owner.what
                    ),
                );
            }
        }
        for field in after {
            let known = before.iter().any(|old| old.name == field.name) || renamed_to.contains(&field.name.as_str());
            if !known && field.is_required() {
                let path = format!("{}.{}", owner.new_path, field.name);
                self.report(
                    Rule::RequiredFieldAdded,
                    In::New,
                    path,
                    format!(
                        "required field `{}` (`{}`, no default) was added to {}",
                        field.name, field.ty, owner.what
                    ),
                );
            }
        }
    }
}
