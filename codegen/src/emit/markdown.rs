//! The Markdown emitter: `EVENTS.md`, the catalog for people.
//!
//! Categories with their streams (partitions, trimming), every event version with its fields
//! (type, required, pii, description), subject and delivery policy,
//! commands, notifications and shared types; type names link to the shared
//! types, and each shared type lists what uses it.

use serde::Serialize;

use super::json_schema;
use super::prose;
use super::render::{MARKDOWN, Renderer};
use super::schema::{self, ENVELOPE};
use crate::model::{Catalog, Command, Event, Field, Target, TypeRef, Value};
use crate::names::{event_method_name, event_version_type_name, pascal, rust_ident, snake};
use crate::output::GeneratedFile;

/// The path of the Markdown catalog.
pub const PATH: &str = "EVENTS.md";

/// The Markdown catalog of `catalog`.
pub fn emit(catalog: &Catalog) -> Vec<GeneratedFile> {
    let renderer = Renderer::new(&[MARKDOWN]);
    vec![GeneratedFile {
        path: PATH.to_owned(),
        contents: renderer.render(&MARKDOWN, &Document::new(catalog)),
    }]
}

#[derive(Debug, Serialize)]
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

#[derive(Debug, Serialize)]
struct EnvelopeRow {
    name: &'static str,
    required: &'static str,
    meaning: &'static str,
}

#[derive(Debug, Serialize)]
struct Link {
    text: String,
    anchor: String,
}

#[derive(Debug, Serialize)]
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

#[derive(Debug, Serialize)]
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

#[derive(Debug, Serialize)]
struct FieldRow {
    name: String,
    ty: String,
    required: String,
    pii: &'static str,
    description: String,
}

#[derive(Debug, Serialize)]
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

#[derive(Debug, Serialize)]
struct NotificationsView {
    description: Option<String>,
    types: Vec<String>,
    channels: Vec<ChannelRow>,
    schema: &'static str,
    payload: Vec<FieldRow>,
}

#[derive(Debug, Serialize)]
struct ChannelRow {
    target: &'static str,
    channel: &'static str,
    method: &'static str,
}

/// A shared struct (with fields) or enum (with values), and what uses it.
#[derive(Debug, Serialize)]
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
    enum Part {
        Code(String),
        Name(String),
    }
    fn parts(ty: &TypeRef, out: &mut Vec<Part>) {
        let code = |text: &str, out: &mut Vec<Part>| match out.last_mut() {
            Some(Part::Code(previous)) => previous.push_str(text),
            _ => out.push(Part::Code(text.to_owned())),
        };
        match ty {
            TypeRef::Scalar(scalar) => code(scalar.name(), out),
            TypeRef::Struct(name) | TypeRef::Enum(name) => out.push(Part::Name(name.clone())),
            TypeRef::List(item) | TypeRef::Map(item) => {
                code(
                    if matches!(ty, TypeRef::List(_)) {
                        "list<"
                    } else {
                        "map<"
                    },
                    out,
                );
                parts(item, out);
                code(">", out);
            }
            TypeRef::Optional(inner) => {
                parts(inner, out);
                code("?", out);
            }
        }
    }
    let mut out = Vec::new();
    parts(ty, &mut out);
    out.iter()
        .map(|part| match part {
            Part::Code(text) => format!("`{text}`"),
            Part::Name(name) => format!("[`{name}`](#{})", type_anchor(name)),
        })
        .collect()
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
