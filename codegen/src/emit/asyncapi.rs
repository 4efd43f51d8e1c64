//! The AsyncAPI emitter: `asyncapi.yaml`, an AsyncAPI 3.0.0 document of
//! the catalog for other languages and tools.
//!
//! - a channel per category stream (`{namespace}:events:<category>`; for a
//!   partitioned category one channel for its partitions,
//!   `{namespace}:events:<category>:{partition}`), per command target
//!   (`{namespace}:commands:<service>`), for command replies
//!   (`{namespace}:replies:{client}`) and per notification target
//!   (`{namespace}:notify:user:{user_id}`, `…:role:{role}`, `…:all`);
//!   `namespace` is a channel parameter with the runtime's default, `partition`
//!   one whose description gives the hash that picks it;
//! - a message per event version and command request and response, its
//!   payload a schema under `components.schemas` and its headers the
//!   envelope's stream entry fields, with `type` and `version` fixed;
//! - `send` and `receive` operations per channel, and per command a
//!   `send` (call) and a `receive` (serve) operation with its `reply`.
//!
//! Schemas use AsyncAPI's default schema format (a superset of JSON Schema
//! draft 07), so they reference each other under `#/components/schemas/`.

use super::prose;
use super::schema::{self, DefinitionView, ENVELOPE, Json, ObjectView, PropertyView, quote, yaml_key};
use super::text::{Text, join, present};
use crate::model::{Catalog, Category, Command, Event, Target};
use crate::names::{event_version_type_name, pascal};
use crate::output::GeneratedFile;

/// Where `$ref`s to schemas point in this document.
const REFS: &str = "#/components/schemas/";

/// The id of the command reply channel.
const REPLIES: &str = "commandReplies";

/// The id of the notification message and its payload schema.
const NOTIFICATION: &str = "Notification";

/// The path of the AsyncAPI document.
pub const PATH: &str = "asyncapi.yaml";

/// The AsyncAPI document of `catalog`.
pub fn emit(catalog: &Catalog) -> Vec<GeneratedFile> {
    vec![GeneratedFile {
        path: PATH.to_owned(),
        contents: Document::new(catalog).write(),
    }]
}

/// The document's parts.
#[derive(Debug)]
struct Document {
    source: String,
    title: String,
    description: String,
    /// Which channel parameters are used (each is defined once under `components.parameters`).
    uses_client: bool,
    uses_user: bool,
    uses_role: bool,
    /// The `partition` parameter of each partitioned category (its range differs).
    partitions: Vec<PartitionParameter>,
    channels: Vec<Channel>,
    operations: Vec<Operation>,
    messages: Vec<Message>,
    /// The envelope's stream entry fields, the schema of every message's headers.
    envelope: ObjectView,
    schemas: Vec<DefinitionView>,
}

#[derive(Debug)]
struct Channel {
    id: String,
    address: String,
    title: String,
    description: String,
    parameters: Vec<Parameter>,
    messages: Vec<String>,
}

/// A parameter of a channel's address: its name there and the one it has under `components.parameters`.
#[derive(Debug)]
struct Parameter {
    name: &'static str,
    component: String,
}

impl Parameter {
    /// The parameters named as under `components.parameters`.
    fn shared(names: &[&'static str]) -> Vec<Parameter> {
        names
            .iter()
            .map(|name| Parameter {
                name,
                component: (*name).to_owned(),
            })
            .collect()
    }
}

/// The `partition` parameter of one partitioned category.
#[derive(Debug)]
struct PartitionParameter {
    id: String,
    description: String,
    /// The first and the last partition.
    examples: [String; 2],
}

#[derive(Debug)]
struct Operation {
    id: String,
    action: &'static str,
    title: String,
    channel: String,
    messages: Vec<String>,
    reply: Option<Reply>,
}

#[derive(Debug)]
struct Reply {
    channel: String,
    messages: Vec<String>,
}

#[derive(Debug)]
struct Message {
    id: String,
    name: String,
    title: String,
    summary: Option<String>,
    description: String,
    /// The headers fixed for this message (`type`, `version`), one line of JSON; none for notifications.
    headers: Option<String>,
    payload: String,
}

/// `user` → `userEvents`-style identifiers: lower camel case.
fn camel(name: &str, suffix: &str) -> String {
    let pascal = pascal(name);
    let mut chars = pascal.chars();
    let first = chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string())
        .unwrap_or_default();
    format!("{first}{}{suffix}", chars.as_str())
}

/// The headers of a stream message beyond the envelope: its fixed `type`
/// and `version`, and `extra` headers of its own (`required` among them).
fn fixed_headers(type_name: &str, version: u32, extra: &[(&'static str, Json<'_>)], required: &[&str]) -> String {
    let constant = |value| Json::object([("const", value)]);
    let mut properties = vec![
        ("type", constant(Json::string(type_name))),
        ("version", constant(Json::string(version.to_string()))),
    ];
    properties.extend(extra.iter().cloned());
    let mut headers = vec![("properties", Json::object(properties))];
    if !required.is_empty() {
        let names = required.iter().map(|name| Json::string(*name)).collect();
        headers.push(("required", Json::Array(names)));
    }
    Json::object(headers).to_string()
}

/// A header's schema: a string, maybe of a `format`, with a description.
fn header<'a>(format: Option<&'a str>, description: &'a str) -> Json<'a> {
    let mut pairs = vec![("type", Json::string("string"))];
    if let Some(format) = format {
        pairs.push(("format", Json::string(format)));
    }
    pairs.push(("description", Json::string(description)));
    Json::object(pairs)
}

fn event_message(category: &Category, event: &Event) -> Message {
    let type_name = event.type_name();
    let mut description = format!(
        "`{type_name}` v{} on {}; subject: the `{}` field. Delivery: {}.",
        event.version,
        category.streams_summary(),
        event.subject,
        prose::policy(&event.policy),
    );
    if !event.latest {
        description.push_str(" An older version, kept beside the newest while producers and consumers move.");
        if event.deprecated {
            description.push_str(" Deprecated: it will be removed in a later release.");
        }
    }
    let id = event_version_type_name(event);
    Message {
        name: type_name.clone(),
        title: format!("{type_name} v{}", event.version),
        summary: prose::first_line(event.description.as_deref()),
        description,
        headers: Some(fixed_headers(&type_name, event.version, &[], &[])),
        payload: id.clone(),
        id,
    }
}

impl Document {
    fn new(catalog: &Catalog) -> Self {
        let mut parts = Parts::default();
        for category in &catalog.categories {
            parts.category(category);
        }
        parts.commands(&catalog.commands);
        parts.notifications(catalog);
        parts
            .schemas
            .extend(catalog.structs.iter().map(|item| DefinitionView::of_struct(item, REFS)));
        parts.schemas.extend(catalog.enums.iter().map(DefinitionView::of_enum));
        let notifying = !catalog.notifications.types.is_empty();
        let targets = &catalog.notifications.targets;
        Document {
            source: catalog.source.clone(),
            title: catalog.name.clone(),
            description: catalog.description.as_deref().map_or_else(
                || format!("The messages of the `{}` catalog.", catalog.name),
                |d| d.trim().to_owned(),
            ),
            uses_client: !catalog.commands.is_empty(),
            uses_user: notifying && targets.contains(&Target::User),
            uses_role: notifying && targets.contains(&Target::Role),
            partitions: parts.partitions,
            channels: parts.channels,
            operations: parts.operations,
            messages: parts.messages,
            envelope: envelope(),
            schemas: parts.schemas,
        }
    }
}

/// The channels, operations, messages and schemas of the document, as they are added.
#[derive(Debug, Default)]
struct Parts {
    partitions: Vec<PartitionParameter>,
    channels: Vec<Channel>,
    operations: Vec<Operation>,
    messages: Vec<Message>,
    schemas: Vec<DefinitionView>,
}

impl Parts {
    /// A `send` and a `receive` operation on `channel` for `messages`, each with its id and title.
    fn send_and_receive(&mut self, channel: &str, messages: &[String], operations: [(String, String); 2]) {
        for ((id, title), action) in operations.into_iter().zip(["send", "receive"]) {
            self.operations.push(Operation {
                id,
                action,
                title,
                channel: channel.to_owned(),
                messages: messages.to_vec(),
                reply: None,
            });
        }
    }

    /// A category's stream: its channel, operations, and a message and payload schema per event version.
    /// A partitioned category's streams are one channel with a `partition` parameter of its own.
    fn category(&mut self, category: &Category) {
        let channel = camel(&category.name, "Events");
        let ids: Vec<String> = category.events.iter().map(event_version_type_name).collect();
        let mut parameters = Parameter::shared(&["namespace"]);
        let mut address = format!("{{namespace}}:events:{}", category.name);
        if category.layout.is_partitioned() {
            let component = camel(&category.name, "Partition");
            let last = category.layout.partitions - 1;
            self.partitions.push(PartitionParameter {
                id: component.clone(),
                description: format!(
                    "The partition of the entry's subject, 0 to {last}: {}.",
                    prose::partition_hash(&category.layout.partitions.to_string())
                ),
                examples: ["0".to_owned(), last.to_string()],
            });
            parameters.push(Parameter {
                name: "partition",
                component,
            });
            address.push_str(":{partition}");
        }
        let layout = format!(
            "{}; {}.",
            prose::capitalize(&prose::streams(category)),
            prose::trimming(&category.layout)
        );
        let description = match category.description.as_deref() {
            Some(text) => format!("{} {layout}", text.trim()),
            None => layout,
        };
        self.channels.push(Channel {
            id: channel.clone(),
            address,
            title: format!("{} events", category.name),
            description,
            parameters,
            messages: ids.clone(),
        });
        let stream = pascal(&format!("{}-events", category.name));
        self.send_and_receive(
            &channel,
            &ids,
            [
                (camel("publish", &stream), format!("Publish {} events", category.name)),
                (camel("consume", &stream), format!("Consume {} events", category.name)),
            ],
        );
        for event in &category.events {
            self.messages.push(event_message(category, event));
            let name = event_version_type_name(event);
            let fallback = format!("The payload of `{}`.", event.type_name());
            let description = event.description.as_deref().unwrap_or(&fallback);
            self.schemas
                .push(DefinitionView::of_fields(&name, Some(description), &event.fields, REFS));
        }
    }

    /// A channel per target service, the reply channel, and per command its messages,
    /// schemas and its call and serve operations with their reply.
    fn commands(&mut self, commands: &[Command]) {
        let mut targets: Vec<&str> = Vec::new();
        for command in commands {
            if !targets.contains(&command.target.as_str()) {
                targets.push(&command.target);
            }
        }
        for target in targets {
            self.channels.push(Channel {
                id: camel(target, "Commands"),
                address: format!("{{namespace}}:commands:{target}"),
                title: format!("{target} commands"),
                description: format!("The command stream served by `{target}`."),
                parameters: Parameter::shared(&["namespace"]),
                messages: commands
                    .iter()
                    .filter(|c| c.target == target)
                    .map(|c| format!("{}Request", pascal(&c.name)))
                    .collect(),
            });
        }
        if commands.is_empty() {
            return;
        }
        self.channels.push(Channel {
            id: REPLIES.to_owned(),
            address: "{namespace}:replies:{client}".to_owned(),
            title: "command replies".to_owned(),
            description: "The reply stream of one command client.".to_owned(),
            parameters: Parameter::shared(&["namespace", "client"]),
            messages: commands
                .iter()
                .map(|c| format!("{}Response", pascal(&c.name)))
                .collect(),
        });
        for command in commands {
            self.command(command);
        }
    }

    fn command(&mut self, command: &Command) {
        let base = pascal(&command.name);
        let (request, response) = (format!("{base}Request"), format!("{base}Response"));
        self.messages.push(Message {
            id: request.clone(),
            name: command.name.clone(),
            title: format!("{} request v{}", command.name, command.version),
            summary: prose::first_line(command.description.as_deref()),
            description: format!(
                "The request of `{}`, served by `{}`; callers wait {} for the reply by default.",
                command.name,
                command.target,
                prose::duration(command.timeout)
            ),
            headers: Some(fixed_headers(
                &command.name,
                command.version,
                &[
                    (
                        "replyto",
                        header(
                            None,
                            "The caller's reply stream, `<ns>:replies:<client>`; absent: not answered.",
                        ),
                    ),
                    (
                        "deadline",
                        header(Some("date-time"), "When the caller stops waiting (RFC 3339 UTC)."),
                    ),
                ],
                &[],
            )),
            payload: request.clone(),
        });
        self.messages.push(Message {
            id: response.clone(),
            name: format!("{}.response", command.name),
            title: format!("{} response v{}", command.name, command.version),
            summary: None,
            description: format!(
                "The reply to `{}` on the caller's reply stream: its `subject` and `causationid` are the request's id; with `status: error`, `data` is `null` and `error` says why.",
                command.name
            ),
            headers: Some(fixed_headers(
                &command.name,
                command.version,
                &[
                    (
                        "status",
                        Json::object([
                            ("type", Json::string("string")),
                            ("enum", Json::Array(vec![Json::string("ok"), Json::string("error")])),
                            ("description", Json::string("`ok`: `data` is the response; `error`: the handler failed.")),
                        ]),
                    ),
                    ("error", header(None, "Why the handler failed (with `status: error`).")),
                ],
                &["status"],
            )),
            payload: response.clone(),
        });
        for (action, verb) in [("send", "call"), ("receive", "serve")] {
            self.operations.push(Operation {
                id: camel(verb, &base),
                action,
                title: format!("{} `{}`", prose::capitalize(verb), command.name),
                channel: camel(&command.target, "Commands"),
                messages: vec![request.clone()],
                reply: Some(Reply {
                    channel: REPLIES.to_owned(),
                    messages: vec![response.clone()],
                }),
            });
        }
        let description = command.description.as_deref();
        self.schemas
            .push(DefinitionView::of_fields(&request, description, &command.request, REFS));
        let description = format!("The response of `{}`.", command.name);
        self.schemas.push(DefinitionView::of_fields(
            &response,
            Some(&description),
            &command.response,
            REFS,
        ));
    }

    /// A channel per notification target with its operations, the message and its schemas.
    fn notifications(&mut self, catalog: &Catalog) {
        if catalog.notifications.types.is_empty() {
            return;
        }
        let message = vec![NOTIFICATION.to_owned()];
        for target in &catalog.notifications.targets {
            let (name, address, parameters, who) = match target {
                Target::User => (
                    "user",
                    "{namespace}:notify:user:{user_id}",
                    vec!["namespace", "user_id"],
                    "one user, on every device where they listen",
                ),
                Target::Role => (
                    "role",
                    "{namespace}:notify:role:{role}",
                    vec!["namespace", "role"],
                    "every user holding a role",
                ),
                Target::All => ("all", "{namespace}:notify:all", vec!["namespace"], "everyone listening"),
            };
            let channel = camel(name, "Notifications");
            self.channels.push(Channel {
                id: channel.clone(),
                address: address.to_owned(),
                title: format!("{name} notifications"),
                description: format!("Notifications for {who} (Pub/Sub)."),
                parameters: Parameter::shared(&parameters),
                messages: message.clone(),
            });
            self.send_and_receive(
                &channel,
                &message,
                [
                    (camel("notify", &pascal(name)), format!("Notify {who}")),
                    (
                        camel("listen", &pascal(name)),
                        format!("Listen to the notifications for {who}"),
                    ),
                ],
            );
        }
        self.messages.push(Message {
            id: NOTIFICATION.to_owned(),
            name: "notification".to_owned(),
            title: "notification".to_owned(),
            summary: prose::first_line(catalog.notifications.description.as_deref()),
            description: "A real-time notification: fire and forget, who is not listening misses it.".to_owned(),
            headers: None,
            payload: NOTIFICATION.to_owned(),
        });
        let payload = schema::notification_payload(catalog);
        let description = Some("A real-time notification.");
        self.schemas.push(DefinitionView::of_fields(
            NOTIFICATION,
            description,
            &payload.fields,
            REFS,
        ));
        self.schemas.extend(payload.definitions(REFS));
    }
}

/// The envelope's stream entry fields as an object schema.
fn envelope() -> ObjectView {
    ObjectView {
        properties: ENVELOPE
            .iter()
            .map(|field| PropertyView {
                name: field.name.to_owned(),
                schema: with_description(field.schema, field.description),
            })
            .collect(),
        required: ENVELOPE
            .iter()
            .filter(|field| field.required)
            .map(|field| field.name.to_owned())
            .collect(),
    }
}

/// A one-line JSON schema with `"description"` added at its end.
fn with_description(schema: &str, description: &str) -> String {
    let body = schema.trim_end().trim_end_matches('}');
    format!("{body}, \"description\": {}}}", schema::quote(description))
}

impl Document {
    /// The document's text.
    fn write(&self) -> String {
        let mut text = Text::default();
        text.line(format_args!(
            "# @generated by xerpium-codegen from {} — do not edit",
            self.source
        ));
        text.line(format_args!("asyncapi: 3.0.0"));
        text.line(format_args!("info:"));
        text.line(format_args!("  title: {}", quote(&self.title)));
        text.line(format_args!(
            "  # Each message carries its own schema version (the `version` header)."
        ));
        text.line(format_args!("  version: \"1.0.0\""));
        text.line(format_args!("  description: {}", quote(&self.description)));
        text.line(format_args!("defaultContentType: application/json"));
        text.line(format_args!("servers:"));
        text.line(format_args!("  redis:"));
        text.line(format_args!("    host: \"localhost:6379\""));
        text.line(format_args!("    protocol: redis"));
        text.line(format_args!(
            "    description: \"The Redis server of the deployment (XERPIUM_REDIS_URL); every key starts with its namespace.\""
        ));
        text.line(format_args!("channels:"));
        for channel in &self.channels {
            text.line(format_args!("  {}:", yaml_key(&channel.id)));
            text.line(format_args!("    address: {}", quote(&channel.address)));
            text.line(format_args!("    title: {}", quote(&channel.title)));
            if let Some(description) = present(Some(channel.description.as_str())) {
                text.line(format_args!("    description: {}", quote(description)));
            }
            text.line(format_args!("    parameters:"));
            for parameter in &channel.parameters {
                text.line(format_args!("      {}:", parameter.name));
                text.line(format_args!(
                    "        $ref: \"#/components/parameters/{}\"",
                    parameter.component
                ));
            }
            text.line(format_args!("    messages:"));
            for message in &channel.messages {
                text.line(format_args!("      {}:", yaml_key(message)));
                text.line(format_args!("        $ref: \"#/components/messages/{message}\""));
            }
        }
        text.line(format_args!("operations:"));
        for operation in &self.operations {
            text.line(format_args!("  {}:", yaml_key(&operation.id)));
            text.line(format_args!("    action: {}", operation.action));
            text.line(format_args!("    title: {}", quote(&operation.title)));
            text.line(format_args!("    channel:"));
            text.line(format_args!("      $ref: \"#/channels/{}\"", operation.channel));
            text.line(format_args!("    messages:"));
            for message in &operation.messages {
                text.line(format_args!(
                    "      - $ref: \"#/channels/{}/messages/{message}\"",
                    operation.channel
                ));
            }
            if let Some(reply) = &operation.reply {
                text.line(format_args!("    reply:"));
                text.line(format_args!("      channel:"));
                text.line(format_args!("        $ref: \"#/channels/{}\"", reply.channel));
                text.line(format_args!("      messages:"));
                for message in &reply.messages {
                    text.line(format_args!(
                        "        - $ref: \"#/channels/{}/messages/{message}\"",
                        reply.channel
                    ));
                }
            }
        }
        text.line(format_args!("components:"));
        text.line(format_args!("  parameters:"));
        text.line(format_args!("    namespace:"));
        text.line(format_args!(
            "      description: \"The namespace every key starts with (XERPIUM_NAMESPACE), one per environment.\""
        ));
        text.line(format_args!("      default: xerpium"));
        if self.uses_client {
            text.line(format_args!("    client:"));
            text.line(format_args!(
                "      description: \"The command client that waits for the reply.\""
            ));
        }
        if self.uses_user {
            text.line(format_args!("    user_id:"));
            text.line(format_args!("      description: \"The id of the user notified.\""));
        }
        if self.uses_role {
            text.line(format_args!("    role:"));
            text.line(format_args!(
                "      description: \"The role whose holders are notified.\""
            ));
        }
        for partition in &self.partitions {
            text.line(format_args!("    {}:", yaml_key(&partition.id)));
            text.line(format_args!("      description: {}", quote(&partition.description)));
            let examples = join(&partition.examples, ", ", |example| quote(example));
            text.line(format_args!("      examples: [{examples}]"));
        }
        text.line(format_args!("  messages:"));
        for message in &self.messages {
            text.line(format_args!("    {}:", yaml_key(&message.id)));
            text.line(format_args!("      name: {}", quote(&message.name)));
            text.line(format_args!("      title: {}", quote(&message.title)));
            if let Some(summary) = present(message.summary.as_deref()) {
                text.line(format_args!("      summary: {}", quote(summary)));
            }
            text.line(format_args!("      description: {}", quote(&message.description)));
            text.line(format_args!("      contentType: application/json"));
            if let Some(headers) = present(message.headers.as_deref()) {
                text.line(format_args!("      correlationId:"));
                text.line(format_args!("        location: \"$message.header#/correlationid\""));
                text.line(format_args!("      headers:"));
                text.line(format_args!("        type: object"));
                text.line(format_args!("        allOf:"));
                text.line(format_args!("          - $ref: \"#/components/schemas/Envelope\""));
                text.line(format_args!("          - {headers}"));
            }
            text.line(format_args!("      payload:"));
            text.line(format_args!(
                "        $ref: \"#/components/schemas/{}\"",
                message.payload
            ));
        }
        text.line(format_args!("  schemas:"));
        text.line(format_args!("    Envelope:"));
        text.line(format_args!(
            "      description: \"The stream entry fields beside `data` (CloudEvents 1.0 attribute names); every value is a string. `data` holds the payload, JSON.\""
        ));
        object(&mut text, &self.envelope);
        for definition in &self.schemas {
            text.line(format_args!("    {}:", yaml_key(&definition.name)));
            if let Some(description) = present(definition.description.as_deref()) {
                text.line(format_args!("      description: {}", quote(description)));
            }
            if let Some(properties) = &definition.object {
                object(&mut text, properties);
            } else {
                text.line(format_args!("      type: string"));
                let values = join(definition.values.iter().flatten(), ", ", |value| quote(value));
                match definition.other_values {
                    Some(other_values) => {
                        text.line(format_args!("      anyOf:"));
                        text.line(format_args!("        - enum: [{values}]"));
                        text.line(format_args!("        - description: {}", quote(other_values)));
                    }
                    None => text.line(format_args!("      enum: [{values}]")),
                }
            }
        }
        text.finish()
    }
}

/// Writes the members of an object schema.
fn object(text: &mut Text, object: &ObjectView) {
    text.line(format_args!("      type: object"));
    if object.properties.is_empty() {
        text.line(format_args!("      properties: {{}}"));
    } else {
        text.line(format_args!("      properties:"));
        for property in &object.properties {
            text.line(format_args!("        {}: {}", quote(&property.name), property.schema));
        }
    }
    if !object.required.is_empty() {
        let required = join(&object.required, ", ", |name| quote(name));
        text.line(format_args!("      required: [{required}]"));
    }
    text.line(format_args!("      additionalProperties: true"));
}
