//! The Python emitter: `python/xerpium_events.py`, pydantic v2 models of
//! the catalog for Python services, and helpers over redis-py that speak
//! every kind of message in the wire format and with the semantics of the
//! Rust runtime: events (`publish`, `decode`, a `Consumer`), commands (a
//! `CommandClient` with a typed method per command, a `<Service>Commands`
//! base class per target service for a `CommandServer`) and notifications
//! (a `Notifier`, subscriptions).
//!
//! The module is fixed text (`python/head.py`, `python/tail.py`,
//! `python/notifications.py`) around what the catalog gives: its models, the
//! tables of its events and streams, and the classes that name its commands
//! and notification targets.
//!
//! Every model class is named like its Rust type (`UserCreated`,
//! `UserCreatedV1`, `Money`, `CompanyGetRequest`). A field whose name is a
//! Python keyword or a `BaseModel` attribute (`class`, `json`) gets a
//! trailing underscore and keeps its wire name as alias. Module-level names
//! of the module itself start with `_` or are upper case, so that catalog
//! names (PascalCase types, snake_case fields) cannot shadow them.

use super::schema;
use super::text::Text;
use crate::model::{Catalog, Command, Field, Scalar, Target, TypeRef, Value};
use crate::names::{command_request_name, command_response_name, commands_trait_name, event_version_type_name, snake};
use crate::output::GeneratedFile;

/// The path of the Python module.
pub const PATH: &str = "python/xerpium_events.py";

/// Python's keywords (3.12): not usable as attribute names.
const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

/// Public attributes of pydantic's `BaseModel` and of its metaclass (besides `model_*`) that a field must not
/// shadow.
const MODEL_ATTRIBUTES: [&str; 14] = [
    "construct",
    "copy",
    "dict",
    "from_orm",
    "json",
    "mro",
    "parse_file",
    "parse_obj",
    "parse_raw",
    "register",
    "schema",
    "schema_json",
    "update_forward_refs",
    "validate",
];

/// The Python module of `catalog`.
pub fn emit(catalog: &Catalog) -> Vec<GeneratedFile> {
    vec![GeneratedFile {
        path: PATH.to_owned(),
        contents: Module::new(catalog).write(),
    }]
}

/// The attribute name of a field: its wire name, or with a trailing `_` when
/// that is a keyword or a `BaseModel` attribute.
pub fn attribute(name: &str) -> String {
    if KEYWORDS.contains(&name) || MODEL_ATTRIBUTES.contains(&name) || name.starts_with("model_") {
        format!("{name}_")
    } else {
        name.to_owned()
    }
}

/// The annotation of a value of `ty`; a value of an open enum is `_Open[Name]`: a member of the enum, or the
/// plain string of a value the module does not know.
fn annotation(ty: &TypeRef) -> String {
    match ty {
        TypeRef::Scalar(scalar) => match scalar {
            Scalar::String => "_str",
            Scalar::Bool => "_bool",
            Scalar::I32 => "_I32",
            Scalar::I64 => "_I64",
            Scalar::U32 => "_U32",
            Scalar::U64 => "_U64",
            Scalar::F64 => "_float",
            Scalar::Decimal => "_Decimal",
            Scalar::Uuid => "_uuid.UUID",
            Scalar::DateTime => "_pd.AwareDatetime",
            Scalar::Date => "_dt.date",
            Scalar::Json => "_t.Any",
        }
        .to_owned(),
        TypeRef::Enum(name) if schema::is_open_enum(name) => format!("_Open[{name}]"),
        TypeRef::Struct(name) | TypeRef::Enum(name) => name.clone(),
        TypeRef::List(item) => format!("_t.List[{}]", annotation(item)),
        TypeRef::Map(value) => format!("_t.Dict[_str, {}]", annotation(value)),
        TypeRef::Optional(inner) => format!("_t.Optional[{}]", annotation(inner)),
    }
}

/// The Python member name of an enum value: `read_only` → `READ_ONLY`.
fn member(value: &str) -> String {
    value.to_uppercase()
}

/// A default as a Python expression (`None` when there is no way to write it).
fn default_expression(value: &Value, ty: &TypeRef) -> String {
    let inner = match ty {
        TypeRef::Optional(inner) => inner,
        other => other,
    };
    match value {
        Value::String(text) => schema::quote(text).to_string(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Integer(number) => number.to_string(),
        Value::Float(number) if number.is_finite() => format!("{number:?}"),
        Value::Float(number) => format!("float({})", schema::quote(&number.to_string())),
        Value::Decimal(decimal) => format!("_decimal.Decimal({})", schema::quote(&decimal.to_string())),
        Value::EnumValue(text) => match inner {
            TypeRef::Enum(name) => format!("{name}.{}", member(text)),
            _ => schema::quote(text).to_string(),
        },
        Value::Empty => "None".to_owned(),
    }
}

/// One field's declaration line, e.g. `invited_by: _t.Optional[_uuid.UUID] = None`.
fn declaration(field: &Field) -> String {
    let name = attribute(&field.name);
    let ty = annotation(&field.ty);
    let mut arguments: Vec<String> = Vec::new();
    match (&field.default, &field.ty) {
        (Some(Value::Empty), TypeRef::List(_)) => arguments.push("default_factory=list".to_owned()),
        (Some(Value::Empty), TypeRef::Map(_)) => arguments.push("default_factory=dict".to_owned()),
        (Some(value), _) => arguments.push(format!("default={}", default_expression(value, &field.ty))),
        (None, TypeRef::Optional(_)) => arguments.push("default=None".to_owned()),
        (None, _) => {}
    }
    if name != field.name {
        arguments.push(format!("alias={}", schema::quote(&field.name)));
    }
    if let Some(description) = &field.description {
        arguments.push(format!("description={}", schema::quote(description.trim())));
    }
    if field.deprecated {
        arguments.push("deprecated=True".to_owned());
    }
    let pii = if field.pii { "  # pii: personal data" } else { "" };
    let value = match arguments.as_slice() {
        [] => String::new(),
        [only] if only.starts_with("default=") => format!(" = {}", &only["default=".len()..]),
        all => format!(" = _pd.Field({})", all.join(", ")),
    };
    format!("{name}: {ty}{value}{pii}")
}

#[derive(Debug)]
struct Module {
    source: String,
    title: String,
    enums: Vec<EnumClass>,
    structs: Vec<ModelClass>,
    events: Vec<ModelClass>,
    commands: Vec<ModelClass>,
    /// The methods of `CommandClient`, one per command.
    calls: Vec<CommandMethod>,
    /// The handler base class of each target service.
    services: Vec<Service>,
    notifications: Option<Notifications>,
    streams: Vec<Streams>,
}

/// A command as a method: of `CommandClient`, or of its target's handler class.
#[derive(Debug)]
struct CommandMethod {
    /// The method's name, e.g. `company_get`.
    method: String,
    request: String,
    response: String,
    /// The method's docstring, quoted.
    doc: String,
}

/// The base class of the handlers of one target service's commands, e.g. `CompanyPartnerCommands`.
#[derive(Debug)]
struct Service {
    class: String,
    /// The service's name, quoted.
    target: String,
    doc: String,
    /// The names of its commands, quoted.
    names: Vec<String>,
    handlers: Vec<CommandMethod>,
}

/// The stream layout of one category (an entry of `STREAMS`).
#[derive(Debug)]
struct Streams {
    /// The category's name, quoted.
    category: String,
    partitions: u32,
    retention_ms: u64,
    max_len: u64,
}

#[derive(Debug)]
struct EnumClass {
    name: String,
    doc: String,
    members: Vec<Member>,
}

#[derive(Debug)]
struct Member {
    name: String,
    value: String,
}

/// A model class: constants (`TYPE = "user.created"`), field declarations
/// and the wire and attribute names of its optional fields.
#[derive(Debug)]
struct ModelClass {
    name: String,
    base: &'static str,
    doc: String,
    constants: Vec<String>,
    fields: Vec<String>,
    optional: Vec<String>,
    /// Whether anything follows the docstring.
    has_body: bool,
    /// Whether a blank line separates constants from fields.
    has_separator: bool,
}

/// The notification message: its enums, its target and itself, and the methods of `Notifier`.
#[derive(Debug)]
struct Notifications {
    enums: Vec<EnumClass>,
    structs: Vec<ModelClass>,
    model: ModelClass,
    senders: Vec<NotifyMethod>,
}

/// A method of `Notifier` that sends to one kind of target.
#[derive(Debug)]
struct NotifyMethod {
    method: &'static str,
    /// The parameter that names the target, with its annotation.
    parameter: Option<&'static str>,
    /// The target, as a Python expression.
    target: &'static str,
    /// The docstring, quoted.
    doc: String,
}

fn enum_class(name: &str, doc: String, values: &[String]) -> EnumClass {
    EnumClass {
        name: name.to_owned(),
        doc,
        members: values
            .iter()
            .map(|value| Member {
                name: member(value),
                value: schema::quote(value).to_string(),
            })
            .collect(),
    }
}

fn model_class(name: &str, base: &'static str, doc: String, constants: Vec<String>, fields: &[Field]) -> ModelClass {
    let mut optional = Vec::new();
    for field in fields.iter().filter(|field| field.ty.is_optional()) {
        optional.push(schema::quote(&field.name).to_string());
        let name = attribute(&field.name);
        if name != field.name {
            optional.push(schema::quote(&name).to_string());
        }
    }
    let heading = !constants.is_empty() || !optional.is_empty();
    ModelClass {
        name: name.to_owned(),
        base,
        doc,
        has_body: heading || !fields.is_empty(),
        has_separator: heading && !fields.is_empty(),
        constants,
        fields: fields.iter().map(declaration).collect(),
        optional,
    }
}

impl Module {
    fn new(catalog: &Catalog) -> Self {
        let text = |description: &Option<String>, fallback: String| {
            schema::quote(description.as_deref().map_or(fallback.as_str(), str::trim)).to_string()
        };
        let events = catalog
            .categories
            .iter()
            .flat_map(|category| category.events.iter().map(move |event| (category, event)))
            .map(|(category, event)| {
                let type_name = event.type_name();
                let mut doc = event
                    .description
                    .as_deref()
                    .map_or_else(|| format!("The event `{type_name}`."), |d| d.trim().to_owned());
                doc.push_str(&format!(
                    "\n\n`{type_name}` v{} on {}; subject `{}`.",
                    event.version,
                    category.streams_summary(),
                    event.subject
                ));
                if !event.latest {
                    doc.push_str(" An older version, kept beside the newest.");
                }
                let millis = milliseconds(event.policy.retention);
                let constants = vec![
                    format!("TYPE: _t.ClassVar[_str] = {}", schema::quote(&type_name)),
                    format!("VERSION: _t.ClassVar[_int] = {}", event.version),
                    format!("CATEGORY: _t.ClassVar[_str] = {}", schema::quote(&event.category)),
                    format!(
                        "SUBJECT: _t.ClassVar[_str] = {}",
                        schema::quote(&attribute(&event.subject))
                    ),
                    format!("RETENTION_MS: _t.ClassVar[_int] = {millis}"),
                    format!("MAX_LEN: _t.ClassVar[_int] = {}", event.policy.max_len),
                    format!(
                        "POLICY: _t.ClassVar[DeliveryPolicy] = DeliveryPolicy(max_attempts={}, backoff_first_ms={}, \
                         backoff_max_ms={}, retention_ms={millis}, max_len={})",
                        event.policy.max_attempts,
                        milliseconds(event.policy.backoff_first),
                        milliseconds(event.policy.backoff_max),
                        event.policy.max_len
                    ),
                ];
                model_class(
                    &event_version_type_name(event),
                    "_Event",
                    schema::quote(&doc).to_string(),
                    constants,
                    &event.fields,
                )
            })
            .collect();
        let mut commands = Vec::new();
        for command in &catalog.commands {
            let millis = milliseconds(command.timeout);
            let constants = vec![
                format!("NAME: _t.ClassVar[_str] = {}", schema::quote(&command.name)),
                format!("TARGET: _t.ClassVar[_str] = {}", schema::quote(&command.target)),
                format!("VERSION: _t.ClassVar[_int] = {}", command.version),
                format!("TIMEOUT_MS: _t.ClassVar[_int] = {millis}"),
            ];
            let doc = text(&command.description, format!("The request of `{}`.", command.name));
            commands.push(model_class(
                &command_request_name(&command.name),
                "_Request",
                doc,
                constants,
                &command.request,
            ));
            let doc = schema::quote(&format!("The response of `{}`.", command.name)).to_string();
            commands.push(model_class(
                &command_response_name(&command.name),
                "_Model",
                doc,
                Vec::new(),
                &command.response,
            ));
        }
        let notifications = (!catalog.notifications.types.is_empty()).then(|| {
            let payload = schema::notification_payload(catalog);
            Notifications {
                enums: payload
                    .enums
                    .iter()
                    .map(|item| {
                        let doc = schema::quote(&format!("The `{}` values.", item.name)).to_string();
                        enum_class(&item.name, doc, &item.values)
                    })
                    .collect(),
                structs: payload
                    .structs
                    .iter()
                    .map(|item| {
                        let doc = text(&item.description, String::new());
                        model_class(&item.name, "_Model", doc, Vec::new(), &item.fields)
                    })
                    .collect(),
                model: model_class(
                    "Notification",
                    "_Model",
                    text(
                        &catalog.notifications.description,
                        "A real-time notification, sent on a Pub/Sub channel.".to_owned(),
                    ),
                    Vec::new(),
                    &payload.fields,
                ),
                senders: catalog
                    .notifications
                    .targets
                    .iter()
                    .map(|target| notify_method(*target))
                    .collect(),
            }
        });
        Module {
            source: catalog.source.clone(),
            title: docstring_text(&catalog.name),
            enums: catalog
                .enums
                .iter()
                .map(|item| {
                    enum_class(
                        &item.name,
                        schema::quote(&format!("The `{}` values of the catalog.", item.name)).to_string(),
                        &item.values,
                    )
                })
                .collect(),
            structs: catalog
                .structs
                .iter()
                .map(|item| {
                    let doc = text(&item.description, format!("The shared type `{}`.", item.name));
                    model_class(&item.name, "_Model", doc, Vec::new(), &item.fields)
                })
                .collect(),
            events,
            commands,
            calls: catalog.commands.iter().map(client_method).collect(),
            services: services(catalog),
            notifications,
            streams: catalog
                .categories
                .iter()
                .map(|category| Streams {
                    category: schema::quote(&category.name).to_string(),
                    partitions: category.layout.partitions,
                    retention_ms: milliseconds(category.layout.retention),
                    max_len: category.layout.max_len,
                })
                .collect(),
        }
    }
}

/// The module's text from its docstring's second line to the `Envelope` model: what does not depend on the catalog.
const HEAD: &str = include_str!("python/head.py");

/// The module's text from the rebuild of the models to the generated command classes: what does not depend on
/// the catalog.
const TAIL: &str = include_str!("python/tail.py");

/// The notification helpers, after the tail when the catalog has notifications (they use its `Notification`).
const NOTIFICATIONS: &str = include_str!("python/notifications.py");

/// The method of a command: `company.get` → `company_get`.
fn command_method(command: &Command) -> String {
    attribute(&snake(&command.name))
}

/// The method of `CommandClient` that calls `command`.
fn client_method(command: &Command) -> CommandMethod {
    let calls = format!(
        "Calls `{}` on `{}` and waits for the reply, at most {} (or ``timeout`` seconds).",
        command.name,
        command.target,
        humantime::format_duration(command.timeout)
    );
    CommandMethod {
        method: command_method(command),
        request: command_request_name(&command.name),
        response: command_response_name(&command.name),
        doc: method_doc(command.description.as_deref(), &calls),
    }
}

/// The handler base class of every target service, in catalog order.
fn services(catalog: &Catalog) -> Vec<Service> {
    let mut services: Vec<Service> = Vec::new();
    for command in &catalog.commands {
        let serves = format!(
            "Serves `{}`: an error is sent back to the caller as a failed reply.",
            command.name
        );
        let handler = CommandMethod {
            doc: method_doc(command.description.as_deref(), &serves),
            ..client_method(command)
        };
        let quoted = schema::quote(&command.target).to_string();
        if let Some(service) = services.iter_mut().find(|service| service.target == quoted) {
            service.names.push(schema::quote(&command.name).to_string());
            service.handlers.push(handler);
            continue;
        }
        let target = &command.target;
        services.push(Service {
            class: commands_trait_name(target),
            doc: schema::quote(&format!(
                "The commands served by `{target}` (stream `<ns>:commands:{target}`): subclass it with a method \
                 per command, and serve it with `CommandServer`."
            ))
            .to_string(),
            target: quoted,
            names: vec![schema::quote(&command.name).to_string()],
            handlers: vec![handler],
        });
    }
    services
}

/// A method's docstring: the catalog's description, if any, then `summary`.
fn method_doc(description: Option<&str>, summary: &str) -> String {
    match description {
        Some(description) => schema::quote(&format!("{}\n\n{summary}", description.trim())).to_string(),
        None => schema::quote(summary).to_string(),
    }
}

/// The method of `Notifier` that sends to `target`.
fn notify_method(target: Target) -> NotifyMethod {
    let (method, parameter, target, summary) = match target {
        Target::User => (
            "notify_user",
            Some("user_id: _str"),
            "NotificationTarget(kind=NotificationTargetKind.USER, id=user_id)",
            "Notifies one user, on every device where they listen.",
        ),
        Target::Role => (
            "notify_role",
            Some("role: _str"),
            "NotificationTarget(kind=NotificationTargetKind.ROLE, id=role)",
            "Notifies every user holding `role`.",
        ),
        Target::All => (
            "notify_all",
            None,
            "NotificationTarget(kind=NotificationTargetKind.ALL)",
            "Notifies everyone listening.",
        ),
    };
    let doc = format!(
        "{summary}\n\nFire and forget: who is not listening now misses it. Returns how many subscriptions received it."
    );
    NotifyMethod {
        method,
        parameter,
        target,
        doc: schema::quote(&doc).to_string(),
    }
}

impl Module {
    /// The module's text.
    fn write(&self) -> String {
        let mut text = Text::default();
        text.line(format_args!(
            "# @generated by xerpium-codegen from {} — do not edit",
            self.source
        ));
        text.line(format_args!(
            "\"\"\"Pydantic v2 models of the `{}` message catalog, and helpers that",
            self.title
        ));
        text.push(format_args!("{HEAD}"));
        for item in &self.enums {
            item.write(&mut text);
        }
        for model in self.structs.iter().chain(&self.events).chain(&self.commands) {
            model.write(&mut text);
        }
        let notifications = self.notifications.as_ref();
        if let Some(notifications) = notifications {
            for item in &notifications.enums {
                item.write(&mut text);
            }
            for model in notifications.structs.iter().chain([&notifications.model]) {
                model.write(&mut text);
            }
        }
        text.line(format_args!(""));
        text.line(format_args!(""));
        text.line(format_args!(
            "EVENTS: _t.Dict[_t.Tuple[_str, _int], _t.Type[_Event]] = {{"
        ));
        for event in &self.events {
            let name = &event.name;
            text.line(format_args!("    ({name}.TYPE, {name}.VERSION): {name},"));
        }
        text.line(format_args!("}}"));
        text.line(format_args!(
            "\"\"\"Every event model by wire type name and version.\"\"\""
        ));
        text.line(format_args!(""));
        text.line(format_args!("STREAMS: _t.Dict[_str, StreamLayout] = {{"));
        for streams in &self.streams {
            text.line(format_args!(
                "    {}: StreamLayout(partitions={}, retention_ms={}, max_len={}),",
                streams.category, streams.partitions, streams.retention_ms, streams.max_len
            ));
        }
        text.line(format_args!("}}"));
        text.line(format_args!(
            "\"\"\"The stream layout of every category, by name.\"\"\""
        ));
        text.line(format_args!(""));
        text.line(format_args!("for _model in ("));
        let notification_structs = notifications.into_iter().flat_map(|n| &n.structs);
        let rebuilt = self
            .structs
            .iter()
            .chain(&self.events)
            .chain(&self.commands)
            .chain(notification_structs);
        for model in rebuilt {
            text.line(format_args!("    {},", model.name));
        }
        if notifications.is_some() {
            text.line(format_args!("    Notification,"));
        }
        text.line(format_args!("):"));
        text.push(format_args!("{TAIL}"));
        if !self.calls.is_empty() {
            self.write_client(&mut text);
        }
        for service in &self.services {
            service.write(&mut text);
        }
        if let Some(notifications) = notifications {
            text.push(format_args!("{NOTIFICATIONS}"));
            notifications.write_notifier(&mut text);
        }
        text.finish()
    }

    /// Writes `CommandClient`, after two blank lines.
    fn write_client(&self, text: &mut Text) {
        text.line(format_args!(""));
        text.line(format_args!(""));
        text.line(format_args!("class CommandClient(_Caller):"));
        text.line(format_args!(
            "    \"\"\"A typed method per command of the catalog: each sends its request to the command's target and \
             waits for\n    the typed response, or raises :class:`CommandError`.\n\n    \
             ``async with CommandClient(redis, source=\"billing\") as commands:``\"\"\""
        ));
        for call in &self.calls {
            text.line(format_args!(""));
            text.line(format_args!(
                "    async def {}(self, request: {}, *, timeout: _t.Optional[_float] = None) -> {}:",
                call.method, call.request, call.response
            ));
            text.line(format_args!("        {}", call.doc));
            text.line(format_args!(
                "        return await self._call(request, {}, timeout)",
                call.response
            ));
        }
    }
}

impl Service {
    /// Writes the class, after two blank lines.
    fn write(&self, text: &mut Text) {
        text.line(format_args!(""));
        text.line(format_args!(""));
        text.line(format_args!("class {}(_CommandHandlers):", self.class));
        text.line(format_args!("    {}", self.doc));
        text.line(format_args!(""));
        text.line(format_args!("    TARGET: _t.ClassVar[_str] = {}", self.target));
        let single = if self.names.len() == 1 { "," } else { "" };
        text.line(format_args!(
            "    COMMANDS: _t.ClassVar[_t.Tuple[_str, ...]] = ({}{single})",
            self.names.join(", ")
        ));
        for handler in &self.handlers {
            text.line(format_args!(""));
            text.line(format_args!("    @_abc.abstractmethod"));
            text.line(format_args!(
                "    async def {}(self, request: {}, delivery: Delivery) -> {}:",
                handler.method, handler.request, handler.response
            ));
            text.line(format_args!("        {}", handler.doc));
        }
        text.line(format_args!(""));
        text.line(format_args!("    async def serve(self, delivery: Delivery) -> _str:"));
        text.line(format_args!(
            "        \"\"\"Decodes the request in ``delivery`` by its command name, calls its method and returns the \
             response as JSON.\"\"\""
        ));
        text.line(format_args!("        command = delivery.envelope.type"));
        text.line(format_args!("        response: _Model"));
        for handler in &self.handlers {
            text.line(format_args!("        if command == {}.NAME:", handler.request));
            text.line(format_args!(
                "            response = await self.{}(_payload({}, delivery.envelope), delivery)",
                handler.method, handler.request
            ));
            text.line(format_args!(
                "            return response.model_dump_json(by_alias=True)"
            ));
        }
        text.line(format_args!("        raise _unknown(delivery.envelope)"));
    }
}

impl Notifications {
    /// Writes `Notifier`, after two blank lines.
    fn write_notifier(&self, text: &mut Text) {
        text.line(format_args!(""));
        text.line(format_args!(""));
        text.line(format_args!("class Notifier(_Notify):"));
        text.line(format_args!(
            "    \"\"\"A typed method per target of the catalog's notifications (see :meth:`_Notify.send`).\"\"\""
        ));
        for sender in &self.senders {
            let target = sender
                .parameter
                .map_or(String::new(), |parameter| format!("{parameter}, "));
            text.line(format_args!(""));
            text.line(format_args!(
                "    async def {}(self, {target}kind: _Open[NotificationType], title: _str, message: _str, \
                 data: _t.Any = None) -> _int:",
                sender.method
            ));
            text.line(format_args!("        {}", sender.doc));
            text.line(format_args!(
                "        return await self.send({}, kind, title, message, data)",
                sender.target
            ));
        }
    }
}

impl EnumClass {
    /// Writes the class, after two blank lines.
    fn write(&self, text: &mut Text) {
        text.line(format_args!(""));
        text.line(format_args!(""));
        text.line(format_args!("class {}(_str, _enum.Enum):", self.name));
        text.line(format_args!("    {}", self.doc));
        text.line(format_args!(""));
        for member in &self.members {
            text.line(format_args!("    {} = {}", member.name, member.value));
        }
    }
}

impl ModelClass {
    /// Writes the class, after two blank lines.
    fn write(&self, text: &mut Text) {
        text.line(format_args!(""));
        text.line(format_args!(""));
        text.line(format_args!("class {}({}):", self.name, self.base));
        text.line(format_args!("    {}", self.doc));
        if self.has_body {
            text.line(format_args!(""));
        }
        for constant in &self.constants {
            text.line(format_args!("    {constant}"));
        }
        if !self.optional.is_empty() {
            text.line(format_args!(
                "    OPTIONAL_FIELDS: _t.ClassVar[_t.FrozenSet[_str]] = frozenset({{{}}})",
                self.optional.join(", ")
            ));
        }
        if self.has_separator {
            text.line(format_args!(""));
        }
        for field in &self.fields {
            text.line(format_args!("    {field}"));
        }
    }
}

/// `text` as it is written inside a `"""` docstring: backslashes and quotes escaped, so that it reads as written.
fn docstring_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A duration in whole milliseconds.
fn milliseconds(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declares_fields_with_aliases_and_defaults() {
        let field = |name: &str, ty: TypeRef, default: Option<Value>| Field {
            name: name.to_owned(),
            description: None,
            ty,
            pii: false,
            default,
            deprecated: false,
        };
        let optional_date = TypeRef::Optional(Box::new(TypeRef::Scalar(Scalar::Date)));
        assert_eq!(
            declaration(&field("from", optional_date, None)),
            r#"from_: _t.Optional[_dt.date] = _pd.Field(default=None, alias="from")"#
        );
        let list = TypeRef::List(Box::new(TypeRef::Enum("Role".into())));
        assert_eq!(
            declaration(&field("roles", list, Some(Value::Empty))),
            "roles: _t.List[_Open[Role]] = _pd.Field(default_factory=list)"
        );
        let role = TypeRef::Enum("Role".into());
        assert_eq!(
            declaration(&field("role", role, Some(Value::EnumValue("read_only".into())))),
            "role: _Open[Role] = Role.READ_ONLY"
        );
        assert_eq!(
            declaration(&field("rate", TypeRef::Scalar(Scalar::F64), Some(Value::Float(0.5)))),
            "rate: _float = 0.5"
        );
        assert_eq!(attribute("json"), "json_");
        assert_eq!(attribute("register"), "register_", "of pydantic's metaclass");
        assert_eq!(docstring_text(r#"a\b """"#), r#"a\\b \"\"\""#);
        assert_eq!(attribute("match"), "match");
    }
}
