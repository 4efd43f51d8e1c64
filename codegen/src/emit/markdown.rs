//! The Markdown emitter: `EVENTS.md`, the catalog for people.
//!
//! Categories with their streams (partitions, trimming), every event version with its fields
//! (type, required, pii, description), subject and delivery policy,
//! commands, notifications and shared types; type names link to the shared
//! types, and each shared type lists what uses it.

use std::fmt::Write;

use super::json_schema;
use super::prose;
use super::schema::{self, ENVELOPE};
use super::text::{Text, join, present};
use crate::model::{Catalog, Command, Event, Field, Target, TypeRef, Value};
use crate::names::{event_method_name, event_version_type_name, pascal, rust_ident, snake};
use crate::output::GeneratedFile;

/// The path of the Markdown catalog.
pub const PATH: &str = "EVENTS.md";

/// The Markdown catalog of `catalog`.
pub fn emit(catalog: &Catalog) -> Vec<GeneratedFile> {
    vec![GeneratedFile {
        path: PATH.to_owned(),
        contents: Document::new(catalog).write(),
    }]
}

#[derive(Debug)]
struct Document {
    source: String,
    title: String,
    description: Option<String>,
    summary: String,
    /// Whether a category is partitioned (then the wire format says how a partition is chosen).
    partitioned: bool,
    envelope: Vec<EnvelopeRow>,
    categories: Vec<CategoryView>,
    commands: Vec<CommandView>,
    notifications: Option<NotificationsView>,
    structs: Vec<SharedView>,
    enums: Vec<SharedView>,
}

#[derive(Debug)]
struct EnvelopeRow {
    name: &'static str,
    required: &'static str,
    meaning: &'static str,
}

#[derive(Debug)]
struct Link {
    text: String,
    anchor: String,
}

#[derive(Debug)]
struct CategoryView {
    name: String,
    anchor: String,
    description: Option<String>,
    /// The stream key (`<ns>:events:user`, `<ns>:events:user:<p>`).
    stream: String,
    partitions: u32,
    retention: String,
    max_len: u64,
    /// Its streams, in a sentence.
    streams: String,
    /// How they are trimmed, in a sentence.
    trimming: String,
    handler: String,
    events: Vec<EventView>,
}

#[derive(Debug)]
struct EventView {
    anchor: String,
    type_name: String,
    version: u32,
    summary: String,
    description: Option<String>,
    status: Option<String>,
    subject: String,
    rust: String,
    handler: String,
    schema: String,
    policy: String,
    other_versions: Vec<Link>,
    fields: Vec<FieldRow>,
}

#[derive(Debug)]
struct FieldRow {
    name: String,
    ty: String,
    required: String,
    pii: &'static str,
    description: String,
}

#[derive(Debug)]
struct CommandView {
    anchor: String,
    name: String,
    version: u32,
    description: Option<String>,
    target: String,
    timeout: String,
    client_method: String,
    handler: String,
    request_schema: String,
    response_schema: String,
    request: Vec<FieldRow>,
    response: Vec<FieldRow>,
}

#[derive(Debug)]
struct NotificationsView {
    description: Option<String>,
    types: Vec<String>,
    channels: Vec<ChannelRow>,
    schema: &'static str,
    payload: Vec<FieldRow>,
}

#[derive(Debug)]
struct ChannelRow {
    target: &'static str,
    channel: &'static str,
    method: &'static str,
}

/// A shared struct (with fields) or enum (with values), and what uses it.
#[derive(Debug)]
struct SharedView {
    name: String,
    anchor: String,
    description: Option<String>,
    fields: Vec<FieldRow>,
    values: Vec<String>,
    used_by: Vec<Link>,
}

impl SharedView {
    fn new(catalog: &Catalog, name: &str, description: Option<&str>, fields: &[Field], values: &[String]) -> Self {
        SharedView {
            name: name.to_owned(),
            anchor: type_anchor(name),
            description: description.map(|d| d.trim().to_owned()),
            fields: field_rows(fields),
            values: values.iter().map(|value| format!("`{value}`")).collect(),
            used_by: used_by(catalog, name),
        }
    }
}

fn type_anchor(name: &str) -> String {
    format!("type-{}", name.to_lowercase())
}

fn event_anchor(event: &Event) -> String {
    format!("event-{}-v{}", event.type_name().replace('.', "-"), event.version)
}

fn command_anchor(command: &Command) -> String {
    format!("command-{}", command.name.replace('.', "-"))
}

/// Text for a Markdown table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.trim().replace('|', "\\|").lines().collect::<Vec<_>>().join("<br>")
}

/// The catalog spelling of `ty` in code spans, shared type names linked to their section.
fn type_cell(ty: &TypeRef) -> String {
    /// The cell as it is written: its text, and whether a code span is open at its end.
    #[derive(Default)]
    struct Cell {
        text: String,
        in_code: bool,
    }
    impl Cell {
        /// Writes `text` in a code span, the one open if any.
        fn code(&mut self, text: &str) {
            if !std::mem::replace(&mut self.in_code, true) {
                self.text.push('`');
            }
            self.text.push_str(text);
        }

        /// Writes `ty`.
        fn ty(&mut self, ty: &TypeRef) {
            match ty {
                TypeRef::Scalar(scalar) => self.code(scalar.name()),
                TypeRef::Struct(name) | TypeRef::Enum(name) => {
                    if std::mem::take(&mut self.in_code) {
                        self.text.push('`');
                    }
                    // Writing to a `String` cannot fail.
                    let _ = write!(self.text, "[`{name}`](#{})", type_anchor(name));
                }
                TypeRef::List(item) | TypeRef::Map(item) => {
                    let open = if matches!(ty, TypeRef::List(_)) {
                        "list<"
                    } else {
                        "map<"
                    };
                    self.code(open);
                    self.ty(item);
                    self.code(">");
                }
                TypeRef::Optional(inner) => {
                    self.ty(inner);
                    self.code("?");
                }
            }
        }
    }
    let mut cell = Cell::default();
    cell.ty(ty);
    if cell.in_code {
        cell.text.push('`');
    }
    cell.text
}

fn default_text(value: &Value, ty: &TypeRef) -> String {
    schema::default_json(value, ty).map_or_else(String::new, |json| json.to_string())
}

fn field_rows(fields: &[Field]) -> Vec<FieldRow> {
    fields
        .iter()
        .map(|field| {
            let required = match &field.default {
                Some(value) => format!("no (default `{}`)", default_text(value, &field.ty)),
                None if field.ty.is_optional() => "no".to_owned(),
                None => "yes".to_owned(),
            };
            let mut description = field.description.as_deref().map(cell).unwrap_or_default();
            if field.deprecated {
                description = format!("**Deprecated**: to be removed. {description}")
                    .trim_end()
                    .to_owned();
            }
            FieldRow {
                name: format!("`{}`", field.name),
                ty: type_cell(&field.ty),
                required,
                pii: if field.pii { "yes" } else { "" },
                description,
            }
        })
        .collect()
}

/// Whether `ty` mentions the shared type `name`.
fn mentions(ty: &TypeRef, name: &str) -> bool {
    match ty {
        TypeRef::Scalar(_) => false,
        TypeRef::Struct(other) | TypeRef::Enum(other) => other == name,
        TypeRef::List(inner) | TypeRef::Map(inner) | TypeRef::Optional(inner) => mentions(inner, name),
    }
}

/// Links to what has a field of the shared type `name`: events, commands and other shared types.
fn used_by(catalog: &Catalog, name: &str) -> Vec<Link> {
    let uses = |fields: &[Field]| fields.iter().any(|field| mentions(&field.ty, name));
    let events = catalog.events().filter(|event| uses(&event.fields)).map(|event| Link {
        text: format!("`{}` v{}", event.type_name(), event.version),
        anchor: event_anchor(event),
    });
    let commands = catalog
        .commands
        .iter()
        .filter(|command| uses(&command.request) || uses(&command.response))
        .map(|command| Link {
            text: format!("`{}`", command.name),
            anchor: command_anchor(command),
        });
    let structs = catalog
        .structs
        .iter()
        .filter(|item| uses(&item.fields))
        .map(|item| Link {
            text: format!("`{}`", item.name),
            anchor: type_anchor(&item.name),
        });
    events.chain(commands).chain(structs).collect()
}

fn event_view(category_events: &[Event], event: &Event) -> EventView {
    let type_name = event.type_name();
    let status = match (event.latest, event.deprecated) {
        (true, _) => None,
        (false, false) => Some(
            "An older version, kept beside the newest for producers and consumers that have not moved yet.".to_owned(),
        ),
        (false, true) => Some("An older version, deprecated: it will be removed in a later release.".to_owned()),
    };
    EventView {
        anchor: event_anchor(event),
        summary: prose::first_line(event.description.as_deref()).map_or_else(String::new, |line| cell(&line)),
        description: event.description.as_deref().map(|d| d.trim().to_owned()),
        status,
        subject: event.subject.clone(),
        rust: event_version_type_name(event),
        handler: format!(
            "{}Handler::{}",
            pascal(&event.category),
            rust_ident(&event_method_name(event)).0
        ),
        schema: json_schema::event_path(&type_name, event.version),
        policy: prose::policy(&event.policy),
        other_versions: category_events
            .iter()
            .filter(|other| other.name == event.name && other.version != event.version)
            .map(|other| Link {
                text: format!("v{}", other.version),
                anchor: event_anchor(other),
            })
            .collect(),
        fields: field_rows(&event.fields),
        version: event.version,
        type_name,
    }
}

fn command_view(command: &Command) -> CommandView {
    CommandView {
        anchor: command_anchor(command),
        name: command.name.clone(),
        version: command.version,
        description: command.description.as_deref().map(|d| d.trim().to_owned()),
        target: command.target.clone(),
        timeout: prose::duration(command.timeout),
        client_method: snake(&command.name),
        handler: format!("{}Commands", pascal(&command.target)),
        request_schema: json_schema::command_path(&command.name, "request", command.version),
        response_schema: json_schema::command_path(&command.name, "response", command.version),
        request: field_rows(&command.request),
        response: field_rows(&command.response),
    }
}

fn notifications_view(catalog: &Catalog) -> Option<NotificationsView> {
    let notifications = &catalog.notifications;
    if notifications.types.is_empty() {
        return None;
    }
    let channels = notifications
        .targets
        .iter()
        .map(|target| match target {
            Target::User => ChannelRow {
                target: "one user",
                channel: "<ns>:notify:user:<user id>",
                method: "notify_user",
            },
            Target::Role => ChannelRow {
                target: "every holder of a role",
                channel: "<ns>:notify:role:<role>",
                method: "notify_role",
            },
            Target::All => ChannelRow {
                target: "everyone",
                channel: "<ns>:notify:all",
                method: "notify_all",
            },
        })
        .collect();
    let mut payload = field_rows(&schema::notification_payload(catalog).fields);
    for row in &mut payload {
        match row.name.as_str() {
            "`type`" => row.ty = "`string`: one of the types above".to_owned(),
            "`target`" => row.ty = "`{kind, id?}`: `kind` is `user`, `role` or `all`".to_owned(),
            _ => {}
        }
    }
    Some(NotificationsView {
        description: notifications.description.as_deref().map(|d| d.trim().to_owned()),
        types: notifications.types.clone(),
        channels,
        schema: json_schema::NOTIFICATION_PATH,
        payload,
    })
}

impl Document {
    fn new(catalog: &Catalog) -> Self {
        let summary = format!(
            "{}, {} (counting each version), {}, {}.",
            prose::count(catalog.categories.len(), "category", "categories"),
            prose::count(catalog.events().count(), "event type", "event types"),
            prose::count(catalog.commands.len(), "command", "commands"),
            prose::count(
                catalog.notifications.types.len(),
                "notification type",
                "notification types"
            ),
        );
        Document {
            source: catalog.source.clone(),
            title: catalog.name.clone(),
            description: catalog.description.as_deref().map(|d| d.trim().to_owned()),
            summary,
            partitioned: catalog.categories.iter().any(|c| c.layout.is_partitioned()),
            envelope: ENVELOPE
                .iter()
                .map(|field| EnvelopeRow {
                    name: field.name,
                    required: if field.required { "yes" } else { "no" },
                    meaning: field.description,
                })
                .collect(),
            categories: catalog
                .categories
                .iter()
                .map(|category| CategoryView {
                    name: category.name.clone(),
                    anchor: format!("category-{}", category.name),
                    description: category.description.as_deref().map(|d| d.trim().to_owned()),
                    stream: category.stream_key(),
                    partitions: category.layout.partitions,
                    retention: prose::duration(category.layout.retention),
                    max_len: category.layout.max_len,
                    streams: prose::capitalize(&prose::streams(category)),
                    trimming: prose::capitalize(&prose::trimming(&category.layout)),
                    handler: format!("{}Handler", pascal(&category.name)),
                    events: category
                        .events
                        .iter()
                        .map(|event| event_view(&category.events, event))
                        .collect(),
                })
                .collect(),
            commands: catalog.commands.iter().map(command_view).collect(),
            notifications: notifications_view(catalog),
            structs: catalog
                .structs
                .iter()
                .map(|item| SharedView::new(catalog, &item.name, item.description.as_deref(), &item.fields, &[]))
                .collect(),
            enums: catalog
                .enums
                .iter()
                .map(|item| SharedView::new(catalog, &item.name, None, &[], &item.values))
                .collect(),
        }
    }
}

/// The names and anchors of shared types.
fn names(items: &[SharedView]) -> Vec<(&str, &str)> {
    items
        .iter()
        .map(|item| (item.name.as_str(), item.anchor.as_str()))
        .collect()
}

/// Links, separated by commas.
fn links(links: &[Link]) -> String {
    join(links, ", ", |link| format!("[{}](#{})", link.text, link.anchor))
}

/// Writes a description and a blank line, when there is one.
fn description(text: &mut Text, description: Option<&str>) {
    if let Some(description) = present(description) {
        text.line(format_args!("{description}"));
        text.line(format_args!(""));
    }
}

/// Writes the table of `rows`, or that there are no fields.
fn fields(text: &mut Text, rows: &[FieldRow]) {
    if rows.is_empty() {
        text.line(format_args!("No fields."));
        return;
    }
    text.line(format_args!("| field | type | required | pii | description |"));
    text.line(format_args!("|---|---|---|---|---|"));
    for row in rows {
        text.line(format_args!(
            "| {} | {} | {} | {} | {} |",
            row.name, row.ty, row.required, row.pii, row.description
        ));
    }
}

/// Writes the section of an event version.
fn event(text: &mut Text, event: &EventView) {
    text.line(format_args!(""));
    text.line(format_args!("<a id=\"{}\"></a>", event.anchor));
    text.line(format_args!("#### `{}` v{}", event.type_name, event.version));
    text.line(format_args!(""));
    description(text, event.description.as_deref());
    if let Some(status) = present(event.status.as_deref()) {
        text.line(format_args!("*{status}*"));
        text.line(format_args!(""));
    }
    text.line(format_args!(
        "- Subject (the entity key, ordering per subject): `{}`",
        event.subject
    ));
    text.line(format_args!("- Delivery: {}", event.policy));
    text.line(format_args!(
        "- Rust: `{}`, handled by `{}`; Python: `{}`; schema: [`{}`]({})",
        event.rust, event.handler, event.rust, event.schema, event.schema
    ));
    if !event.other_versions.is_empty() {
        text.line(format_args!(
            "- Other versions side by side: {}",
            links(&event.other_versions)
        ));
    }
    text.line(format_args!(""));
    fields(text, &event.fields);
}

/// Writes the section of a command.
fn command(text: &mut Text, command: &CommandView) {
    text.line(format_args!(""));
    text.line(format_args!("<a id=\"{}\"></a>", command.anchor));
    text.line(format_args!("### `{}` v{}", command.name, command.version));
    text.line(format_args!(""));
    description(text, command.description.as_deref());
    text.line(format_args!(
        "- Served by `{}` on `<ns>:commands:{}`; callers wait {} by default",
        command.target, command.target, command.timeout
    ));
    text.line(format_args!(
        "- Rust: `CommandClient::{}` to call, `{}` to serve; schemas: [request]({}), [response]({})",
        command.client_method, command.handler, command.request_schema, command.response_schema
    ));
    text.line(format_args!(""));
    text.line(format_args!("Request:"));
    text.line(format_args!(""));
    fields(text, &command.request);
    text.line(format_args!(""));
    text.line(format_args!("Response:"));
    text.line(format_args!(""));
    fields(text, &command.response);
}

/// Writes the section of a shared struct or enum: its anchor and title, what `body` writes, and what uses it.
fn shared(text: &mut Text, item: &SharedView, body: impl FnOnce(&mut Text)) {
    text.line(format_args!(""));
    text.line(format_args!("<a id=\"{}\"></a>", item.anchor));
    text.line(format_args!("### `{}`", item.name));
    text.line(format_args!(""));
    body(text);
    if !item.used_by.is_empty() {
        text.line(format_args!(""));
        text.line(format_args!("Used by {}.", links(&item.used_by)));
    }
}

impl Document {
    /// The document's text.
    fn write(&self) -> String {
        let mut text = Text::default();
        self.head(&mut text);
        self.wire_format(&mut text);
        self.events(&mut text);
        if !self.commands.is_empty() {
            text.line(format_args!(""));
            text.line(format_args!("## Commands"));
            text.line(format_args!(""));
            text.push(format_args!("{COMMANDS}"));
            for view in &self.commands {
                command(&mut text, view);
            }
        }
        if let Some(notifications) = &self.notifications {
            notifications.write(&mut text);
        }
        if !self.structs.is_empty() {
            text.line(format_args!(""));
            text.line(format_args!("## Shared types"));
            for item in &self.structs {
                shared(&mut text, item, |text| {
                    description(text, item.description.as_deref());
                    fields(text, &item.fields);
                });
            }
        }
        if !self.enums.is_empty() {
            text.line(format_args!(""));
            text.line(format_args!("## Enums"));
            text.line(format_args!(""));
            text.push(format_args!("{ENUMS}"));
            for item in &self.enums {
                shared(&mut text, item, |text| {
                    text.line(format_args!("Values: {}.", item.values.join(", ")));
                });
            }
        }
        text.finish()
    }

    /// Writes the title, the summary and the contents.
    fn head(&self, text: &mut Text) {
        text.line(format_args!(
            "<!-- @generated by xerpium-codegen from {} — do not edit -->",
            self.source
        ));
        text.line(format_args!("# The `{}` message catalog", self.title));
        text.line(format_args!(""));
        description(text, self.description.as_deref());
        text.line(format_args!(
            "{} Generated from `{}`; the same catalog is in",
            self.summary, self.source
        ));
        text.push(format_args!("{LINKS}"));
        text.line(format_args!(""));
        text.line(format_args!("## Contents"));
        text.line(format_args!(""));
        text.line(format_args!("- [Wire format](#wire-format)"));
        text.line(format_args!("- [Events](#events)"));
        for category in &self.categories {
            let events = join(&category.events, ", ", |event| {
                format!("[`{}` v{}](#{})", event.type_name, event.version, event.anchor)
            });
            text.line(format_args!(
                "  - [`{}`](#{}): {events}",
                category.name, category.anchor
            ));
        }
        let contents = |text: &mut Text, title: &str, anchor: &str, items: Vec<(&str, &str)>| {
            if !items.is_empty() {
                let items = join(items, ", ", |(name, anchor)| format!("[`{name}`](#{anchor})"));
                text.line(format_args!("- [{title}](#{anchor}): {items}"));
            }
        };
        let commands = self
            .commands
            .iter()
            .map(|c| (c.name.as_str(), c.anchor.as_str()))
            .collect();
        contents(text, "Commands", "commands", commands);
        if self.notifications.is_some() {
            text.line(format_args!("- [Notifications](#notifications)"));
        }
        contents(text, "Shared types", "shared-types", names(&self.structs));
        contents(text, "Enums", "enums", names(&self.enums));
        text.line(format_args!(""));
    }

    /// Writes the section on the wire format.
    fn wire_format(&self, text: &mut Text) {
        text.line(format_args!("## Wire format"));
        text.line(format_args!(""));
        text.line(format_args!(
            "An event is one entry of its category's Redis stream, `<ns>:events:<category>` (`<ns>`: the namespace of the"
        ));
        text.push(format_args!("environment, `XERPIUM_NAMESPACE`)"));
        if self.partitioned {
            text.line(format_args!(
                ", or in a partitioned category of the stream of its subject's"
            ));
            text.push(format_args!("partition, `<ns>:events:<category>:<p>`"));
        }
        text.line(format_args!(
            ". The entry is a flat map of string fields named after CloudEvents 1.0"
        ));
        text.line(format_args!("attributes:"));
        text.line(format_args!(""));
        text.line(format_args!("| field | required | value |"));
        text.line(format_args!("|---|---|---|"));
        for row in &self.envelope {
            text.line(format_args!("| `{}` | {} | {} |", row.name, row.required, row.meaning));
        }
        text.line(format_args!(
            "| `data` | yes | The payload, JSON: the fields listed for its type and version. Decimals are strings; optional fields are left out when absent. |"
        ));
        text.line(format_args!(""));
        text.line(format_args!(
            "Delivery is at least once: a consumer group acknowledges an entry when its handler succeeds, retries a failure after"
        ));
        text.line(format_args!(
            "a backoff that doubles with each delivery, and moves it to the dead-letter stream `<ns>:dlq:<group>` after the last"
        ));
        text.push(format_args!("attempt. Entries of one subject are handled in order"));
        if self.partitioned {
            text.line(format_args!(": by one consumer at a time, and in a"));
            text.push(format_args!(
                "partitioned category by one instance of the group at a time"
            ));
        }
        text.line(format_args!(". A payload may carry fields its reader does not know"));
        text.line(format_args!(
            "(they are ignored); a field that is not required may be absent."
        ));
        if self.partitioned {
            text.push(format_args!("{PARTITION_HASH}"));
        }
        text.line(format_args!(""));
    }

    /// Writes the section on events: the table of categories, and each category with its events.
    fn events(&self, text: &mut Text) {
        text.line(format_args!("## Events"));
        text.line(format_args!(""));
        text.line(format_args!(
            "A stream carries every type of its category and is trimmed on write by the longest retention and the largest cap of"
        ));
        text.line(format_args!("those types, so no type loses entries it still keeps."));
        text.line(format_args!(""));
        text.line(format_args!(
            "| category | partitions | streams | retention | cap per stream |"
        ));
        text.line(format_args!("|---|---|---|---|---|"));
        for category in &self.categories {
            text.line(format_args!(
                "| [`{}`](#{}) | {} | `{}` | {} | {} |",
                category.name,
                category.anchor,
                category.partitions,
                category.stream,
                category.retention,
                category.max_len
            ));
        }
        for category in &self.categories {
            text.line(format_args!(""));
            text.line(format_args!("<a id=\"{}\"></a>", category.anchor));
            text.line(format_args!("### Category `{}`", category.name));
            text.line(format_args!(""));
            description(text, category.description.as_deref());
            text.line(format_args!(
                "{}. {}. Rust handler trait `{}`.",
                category.streams, category.trimming, category.handler
            ));
            text.line(format_args!(""));
            text.line(format_args!("| event | version | summary |"));
            text.line(format_args!("|---|---|---|"));
            for event in &category.events {
                text.line(format_args!(
                    "| [`{}`](#{}) | {} | {} |",
                    event.type_name, event.anchor, event.version, event.summary
                ));
            }
            for view in &category.events {
                event(text, view);
            }
        }
    }
}

impl NotificationsView {
    /// Writes the section on notifications.
    fn write(&self, text: &mut Text) {
        text.line(format_args!(""));
        text.line(format_args!("## Notifications"));
        text.line(format_args!(""));
        description(text, self.description.as_deref());
        text.line(format_args!(
            "Real-time, fire and forget, on Redis Pub/Sub (the message is the JSON below, no envelope): who is not listening"
        ));
        text.line(format_args!("misses it. Types:"));
        let types = join(&self.types, ", ", |name| format!("`{name}`"));
        text.line(format_args!("{types}; a subscriber built before a type was added"));
        text.line(format_args!("gets it too (Rust `NotificationType::Unrecognized`)."));
        text.line(format_args!(""));
        text.line(format_args!("| to | channel | Rust method |"));
        text.line(format_args!("|---|---|---|"));
        for row in &self.channels {
            text.line(format_args!(
                "| {} | `{}` | `{}` |",
                row.target, row.channel, row.method
            ));
        }
        text.line(format_args!(""));
        text.line(format_args!("Payload (schema [`{}`]({})):", self.schema, self.schema));
        text.line(format_args!(""));
        fields(text, &self.payload);
    }
}

/// The lines after the summary: where else the catalog is.
const LINKS: &str = "\
[`asyncapi.yaml`](asyncapi.yaml) (AsyncAPI 3.0), [`schemas/`](schemas) (JSON Schema 2020-12 per payload)
and [`python/xerpium_events.py`](python/xerpium_events.py) (pydantic models).
";

/// How a partition is chosen, after the wire format of a catalog with a partitioned category.
const PARTITION_HASH: &str = "
The partition `p` of an entry of a partitioned category is the 32-bit FNV-1a hash of its `subject`'s UTF-8 bytes
modulo the category's number of partitions, so that every language picks the same stream:

```text
h = 0x811c9dc5
for each byte b of subject: h = ((h ^ b) * 0x01000193) mod 2^32
p = h mod partitions
```
";

/// What the section on commands says first.
const COMMANDS: &str = "\
A command is sent to the stream of the service that serves it, `<ns>:commands:<service>`, in the same envelope as an
event (`type` is the command's name, `subject` the request's id) plus `replyto`, the caller's reply stream
`<ns>:replies:<client>`, and `deadline`, when the caller stops waiting. The reply comes back on that stream in an
envelope whose `causationid` is the request's id, with `status` `ok` (`data` is the response) or `error` (`error`
says why).
";

/// What the section on enums says first.
const ENUMS: &str = "\
Other values than those listed may appear: a reader built before a value was added keeps it as it is (Rust, in
the enum's `Unrecognized` variant; Python, as a plain `str`) and writes it back unchanged, so adding a value
breaks no one (`xerpium-codegen breaking`).
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_shared_types_inside_code_spans() {
        let ty = TypeRef::Optional(Box::new(TypeRef::List(Box::new(TypeRef::Struct("Money".into())))));
        assert_eq!(type_cell(&ty), "`list<`[`Money`](#type-money)`>?`");
        assert_eq!(
            type_cell(&TypeRef::Map(Box::new(TypeRef::Scalar(crate::model::Scalar::Uuid)))),
            "`map<uuid>`"
        );
        assert_eq!(cell("a | b\nc"), "a \\| b<br>c");
    }
}
