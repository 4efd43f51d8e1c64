//! Stage 2: check the raw catalog and build the [`Catalog`] model.
//!
//! Every problem is collected, with the position and catalog path of the
//! node at fault, so that one run reports all of them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::diagnostic::{Diagnostic, Diagnostics, Position, did_you_mean};
use crate::load::{Loaded, Ordered, RawCommand, RawEvent, RawField, RawPolicy};
use crate::model::{
    Catalog, Category, Command, Enum, Event, Field, Notifications, Policy, Scalar, StreamLayout, Struct, Target,
    TypeRef, Value,
};
use crate::names::{
    Case, DOCUMENT_NAMES, RUST_ITEM_NAMES, UNRECOGNIZED_VARIANT, VALUES_CONSTANT, category_dispatch_name,
    category_handler_name, command_request_name, command_response_name, command_server_name, commands_trait_name,
    event_version_type_name, keyword_language, variant_name,
};
use crate::type_expr::{self, TypeExpr};

/// Checks a loaded catalog and returns its model, or every problem found.
pub fn validate(loaded: &Loaded) -> Result<Catalog, Diagnostics> {
    let mut checker = Checker {
        loaded,
        diagnostics: loaded.problems.clone(),
        structs: HashSet::new(),
        enums: HashSet::new(),
    };
    let catalog = checker.catalog();
    let mut diagnostics = checker.diagnostics;
    if diagnostics.is_empty() {
        Ok(catalog)
    } else {
        diagnostics.sort_by_key(|d| d.position);
        diagnostics.dedup();
        Err(Diagnostics(diagnostics))
    }
}

struct Checker<'a> {
    loaded: &'a Loaded,
    diagnostics: Vec<Diagnostic>,
    structs: HashSet<&'a str>,
    enums: HashSet<&'a str>,
}

impl<'a> Checker<'a> {
    fn at(&self, path: &str) -> Option<Position> {
        self.loaded.positions.of(path)
    }

    fn error(&mut self, path: &str, message: impl Into<String>, hint: Option<String>) {
        let position = self.at(path);
        self.error_at(position, path, message, hint);
    }

    fn error_at(&mut self, position: Option<Position>, path: &str, message: impl Into<String>, hint: Option<String>) {
        self.diagnostics
            .push(Diagnostic::new(&self.loaded.file, position, path, message).with_optional_hint(hint));
    }

    fn catalog(&mut self) -> Catalog {
        let raw = &self.loaded.catalog;
        self.structs = raw.types.0.iter().map(|(name, _)| name.as_str()).collect();
        self.enums = raw.enums.0.iter().map(|(name, _)| name.as_str()).collect();
        let default_policy = self.policy("delivery", raw.delivery.as_ref(), Policy::default());

        let enums = self
            .named_entries("enums", &raw.enums, Case::Pascal, "enum")
            .map(|(path, name, values)| self.enum_type(&path, name, values))
            .collect();
        let structs: Vec<Struct> = self
            .named_entries("types", &raw.types, Case::Pascal, "type")
            .map(|(path, name, raw)| Struct {
                name: name.to_owned(),
                description: raw.description.clone(),
                fields: self.fields(&format!("{path}.fields"), &raw.fields),
            })
            .collect();
        self.check_containment(&structs);

        let mut categories = Vec::new();
        for (path, name, raw_category) in self.named_entries("categories", &raw.categories, Case::Snake, "category") {
            let policy = self.policy(
                &format!("{path}.delivery"),
                raw_category.delivery.as_ref(),
                default_policy,
            );
            if raw_category.events.0.is_empty() && !self.loaded.is_unread(&format!("{path}.events")) {
                self.error(
                    &path,
                    format!("category `{name}` has no events"),
                    Some("add events under `events:`, or remove the category".into()),
                );
            }
            let partitions = self.partitions(&format!("{path}.partitions"), name, raw_category.partitions.as_ref());
            let events: Vec<Event> = self
                .named_entries(&format!("{path}.events"), &raw_category.events, Case::Snake, "event")
                .flat_map(|(event_path, event_name, raw_event)| {
                    self.event(&event_path, name, event_name, raw_event, policy)
                })
                .collect();
            categories.push(Category {
                name: name.to_owned(),
                description: raw_category.description.clone(),
                layout: StreamLayout::carrying(partitions, &events, policy),
                events,
            });
        }
        if raw.categories.0.is_empty() && !self.loaded.is_unread("categories") {
            self.error_at(
                Some(self.at("categories").unwrap_or(Position { line: 1, column: 1 })),
                "categories",
                "the catalog defines no events",
                Some("add a category with events under `categories:`; see the README's catalog reference".into()),
            );
        }
        let commands = self
            .named_entries("commands", &raw.commands, Case::Dotted, "command")
            .filter_map(|(path, name, raw)| self.command(&path, name, raw))
            .collect();
        let notifications = self.notifications();

        let catalog = Catalog {
            name: raw.catalog.clone().unwrap_or_else(|| "catalog".to_owned()),
            source: std::path::Path::new(&self.loaded.file)
                .file_name()
                .map_or_else(|| self.loaded.file.clone(), |name| name.to_string_lossy().into_owned())
                .chars()
                // It ends up in one-line comments of the generated files.
                .flat_map(|c| {
                    if c.is_control() {
                        c.escape_default().collect()
                    } else {
                        vec![c]
                    }
                })
                .collect(),
            description: raw.description.clone(),
            structs,
            enums,
            categories,
            commands,
            notifications,
        };
        self.check_generated_names(&catalog);
        self.check_texts();
        catalog
    }

    /// The entries of a named map whose names follow `case`, reporting bad
    /// names and duplicates; duplicates are skipped after the first.
    fn named_entries<'r, T>(
        &mut self,
        parent: &str,
        entries: &'r Ordered<T>,
        case: Case,
        what: &str,
    ) -> impl Iterator<Item = (String, &'r str, &'r T)> + use<'r, T> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut kept = Vec::new();
        for (name, value) in &entries.0 {
            let path = format!("{parent}.{name}");
            let occurrence = seen.entry(name.as_str()).or_insert(0);
            *occurrence += 1;
            if *occurrence > 1 {
                let nodes = self.loaded.positions.occurrences(&path);
                let first = nodes.first().and_then(|n| n.key);
                let here = nodes.get(*occurrence - 1).and_then(|n| n.key).or(first);
                let hint = first.map(|p| format!("the first `{name}` is at {p}; rename or remove one"));
                self.error_at(here, &path, format!("duplicate {what} `{name}`"), hint);
                continue;
            }
            if !case.matches(name) {
                let fixed = case.convert(name);
                let hint = (case.matches(&fixed) && !fixed.is_empty()).then(|| format!("write `{fixed}`"));
                self.error(&path, format!("{what} name `{name}` is not {}", case.describe()), hint);
            }
            kept.push((path, name.as_str(), value));
        }
        kept.into_iter()
    }

    fn enum_type(&mut self, path: &str, name: &str, values: &[String]) -> Enum {
        if values.is_empty() && !self.loaded.is_unread(path) {
            self.error(
                path,
                format!("enum `{name}` has no values"),
                Some("list its values: `[a, b]`".into()),
            );
        }
        let mut seen = HashMap::new();
        for (index, value) in values.iter().enumerate() {
            let value_path = format!("{path}.{index}");
            let at = self.loaded.positions.value_of(&value_path);
            if !Case::Snake.matches(value) {
                self.error_at(
                    at,
                    &value_path,
                    format!("enum value `{value}` of `{name}` is not snake_case"),
                    Case::Snake.hint(value),
                );
            } else {
                self.check_variant(&mut seen, at, &value_path, value, Some(name));
            }
        }
        Enum {
            name: name.to_owned(),
            values: values.to_vec(),
        }
    }

    /// The versions of one event: the newest, then those under `previous_versions`, highest first.
    fn event(&mut self, path: &str, category: &str, name: &str, raw: &RawEvent, inherited: Policy) -> Vec<Event> {
        let fields = self.fields(&format!("{path}.fields"), &raw.fields);
        let version = self.version(&format!("{path}.version"), raw.version);
        let type_name = format!("{category}.{name}");
        let subject = match &raw.subject {
            None if self.loaded.is_unread(&format!("{path}.subject")) => String::new(),
            None => {
                let hint = fields
                    .iter()
                    .find(|f| is_key_type(&f.ty))
                    .map(|f| format!("add `subject: {}`", f.name));
                self.error(
                    path,
                    format!("event `{type_name}` has no `subject`"),
                    hint.or_else(|| Some("add `subject: <field>` naming the field that identifies the entity".into())),
                );
                String::new()
            }
            Some(subject) => {
                self.check_subject(&format!("{path}.subject"), subject, &format!("`{type_name}`"), &fields);
                subject.clone()
            }
        };
        let policy = self.policy(&format!("{path}.delivery"), raw.delivery.as_ref(), inherited);
        let newest = Event {
            category: category.to_owned(),
            name: name.to_owned(),
            description: raw.description.clone(),
            version,
            subject,
            policy,
            fields,
            latest: true,
            deprecated: false,
        };
        let mut versions = self.previous_versions(path, raw, &newest);
        versions.insert(0, newest);
        versions
    }

    /// The older versions of `newest` kept under `previous_versions`, highest first. Each
    /// must be a positive integer below the newest version; description and subject
    /// default to the newest version's.
    fn previous_versions(&mut self, path: &str, raw: &RawEvent, newest: &Event) -> Vec<Event> {
        let mut versions: Vec<Event> = Vec::new();
        let type_name = newest.type_name();
        for (key, previous) in &raw.previous_versions.0 {
            let version_path = format!("{path}.previous_versions.{key}");
            let Some(version) = key.parse::<u32>().ok().filter(|v| (1..newest.version).contains(v)) else {
                if key.parse::<u32>().is_ok() && self.loaded.is_unread(&format!("{path}.version")) {
                    continue; // the newest version is unreadable (and reported): which ones are older is unknown
                }
                let (message, hint) = if key.parse::<u32>().is_ok_and(|v| v >= newest.version) {
                    (
                        format!(
                            "previous version {key} of `{type_name}` is not below its version {}",
                            newest.version
                        ),
                        format!(
                            "`version` is the newest version: raise it above {key}, or list only older versions here"
                        ),
                    )
                } else {
                    (
                        format!("previous version `{key}` of `{type_name}` is not a positive integer"),
                        "list older versions by number: `previous_versions: { 1: { fields: … } }`".to_owned(),
                    )
                };
                self.error(&version_path, message, Some(hint));
                continue;
            };
            if versions.iter().any(|known| known.version == version) {
                self.error(
                    &version_path,
                    format!("duplicate previous version {version} of `{type_name}`"),
                    None,
                );
                continue;
            }
            let fields = self.fields(&format!("{version_path}.fields"), &previous.fields);
            let subject = previous.subject.clone().unwrap_or_else(|| newest.subject.clone());
            let subject_path = if previous.subject.is_some() {
                format!("{version_path}.subject")
            } else {
                version_path.clone()
            };
            if !subject.is_empty() {
                self.check_subject(&subject_path, &subject, &format!("`{type_name}` v{version}"), &fields);
            }
            versions.push(Event {
                description: previous.description.clone().or_else(|| newest.description.clone()),
                version,
                subject,
                fields,
                latest: false,
                deprecated: previous.deprecated,
                ..newest.clone()
            });
        }
        versions.sort_by_key(|event| std::cmp::Reverse(event.version));
        versions
    }

    /// Reports a `subject` that names no field of `fields`, or a field that cannot be a key;
    /// `owner` names the event (version) in messages.
    fn check_subject(&mut self, subject_path: &str, subject: &str, owner: &str, fields: &[Field]) {
        let at = self.loaded.positions.value_of(subject_path);
        let owner_path = subject_path.strip_suffix(".subject").unwrap_or(subject_path);
        let field_path = format!("{owner_path}.fields.{subject}");
        match fields.iter().find(|f| f.name == subject) {
            // The field is written but could not be read, or was left out for a problem reported already.
            None if self.loaded.is_unread(&field_path)
                || !self.loaded.positions.occurrences(&field_path).is_empty() => {}
            None => {
                let hint = did_you_mean(subject, fields.iter().map(|f| f.name.as_str()));
                self.error_at(
                    at,
                    subject_path,
                    format!("subject `{subject}` names no field of {owner}"),
                    hint,
                );
            }
            Some(field) if !is_key_type(&field.ty) => {
                self.error_at(
                    at,
                    subject_path,
                    format!(
                        "subject `{subject}` is a `{}`; a subject must be a required string, uuid, integer or enum",
                        field.ty
                    ),
                    None,
                );
            }
            Some(_) => {}
        }
    }

    /// The number of partitions of category `category`: 1 when absent; a whole number from 1 to
    /// [`StreamLayout::MAX_PARTITIONS`], else an error (and 1).
    fn partitions(&mut self, path: &str, category: &str, raw: Option<&serde_yaml::Value>) -> u32 {
        let Some(raw) = raw else { return 1 };
        let max = StreamLayout::MAX_PARTITIONS;
        let whole = raw.as_i64().map(i128::from).or_else(|| raw.as_u64().map(i128::from));
        let (message, hint) = match whole {
            Some(count) => {
                if let Some(partitions) = u32::try_from(count).ok().filter(|n| (1..=max).contains(n)) {
                    return partitions;
                }
                let hint = if count < 1 {
                    "leave `partitions` out (or write 1) for one stream; 2 or more order the category per subject across instances".to_owned()
                } else {
                    format!(
                        "each partition is a stream of its own and {max} is the most; a few per instance of the busiest group is plenty"
                    )
                };
                (
                    format!(
                        "`partitions: {count}` of category `{category}` is out of range: a category has 1 to {max} partitions"
                    ),
                    hint,
                )
            }
            None => {
                let written = match raw {
                    serde_yaml::Value::Sequence(_) => "a list".to_owned(),
                    serde_yaml::Value::Mapping(_) => "a map".to_owned(),
                    serde_yaml::Value::String(text) => format!("the text `\"{text}\"`"),
                    other => format!("`{}`", render_yaml(other)),
                };
                let hint = match raw.as_str().map(|text| (text, text.trim().parse::<u32>())) {
                    Some((text, Ok(_))) => format!("write the number without quotes: `partitions: {}`", text.trim()),
                    _ => format!("write how many streams the category has, from 1 to {max}: e.g. `partitions: 8`"),
                };
                (
                    format!("`partitions` of category `{category}` must be a whole number, not {written}"),
                    hint,
                )
            }
        };
        self.error_at(self.loaded.positions.value_of(path), path, message, Some(hint));
        1
    }

    fn version(&mut self, path: &str, raw: Option<i64>) -> u32 {
        match raw {
            None => 1,
            Some(version) => u32::try_from(version).ok().filter(|v| *v > 0).unwrap_or_else(|| {
                let at = self.loaded.positions.value_of(path);
                self.error_at(
                    at,
                    path,
                    format!("version {version} is not a positive integer"),
                    Some("versions start at 1".into()),
                );
                1
            }),
        }
    }

    fn command(&mut self, path: &str, name: &str, raw: &RawCommand) -> Option<Command> {
        let mut missing = |key: &str, hint: &str| {
            if !self.loaded.is_unread(&format!("{path}.{key}")) {
                self.error(path, format!("command `{name}` has no `{key}`"), Some(hint.to_owned()));
            }
        };
        if raw.target.is_none() {
            missing(
                "target",
                "name the service that serves it, e.g. `target: company-partner`",
            );
        }
        if raw.request.is_none() {
            missing(
                "request",
                "list the request's fields, e.g. `request: { company_id: uuid }` (or `request: {}`)",
            );
        }
        if raw.response.is_none() {
            missing(
                "response",
                "list the response's fields, e.g. `response: { company: Company? }` (or `response: {}`)",
            );
        }
        let target = raw.target.as_ref()?;
        if !Case::Kebab.matches(target) {
            let target_path = format!("{path}.target");
            let at = self.loaded.positions.value_of(&target_path);
            self.error_at(
                at,
                &target_path,
                format!("service name `{target}` is not kebab-case"),
                Case::Kebab.hint(target),
            );
        }
        let timeout = match &raw.timeout {
            None => Duration::from_secs(5),
            Some(text) => self.duration(&format!("{path}.timeout"), text).unwrap_or_default(),
        };
        Some(Command {
            name: name.to_owned(),
            description: raw.description.clone(),
            target: target.clone(),
            timeout,
            version: self.version(&format!("{path}.version"), raw.version),
            request: self.fields(&format!("{path}.request"), raw.request.as_ref()?),
            response: self.fields(&format!("{path}.response"), raw.response.as_ref()?),
        })
    }

    fn notifications(&mut self) -> Notifications {
        let Some(raw) = &self.loaded.catalog.notifications else {
            return Notifications::default();
        };
        let mut seen = HashMap::new();
        for (index, kind) in raw.types.iter().enumerate() {
            let path = format!("notifications.types.{index}");
            let at = self.loaded.positions.value_of(&path);
            if !Case::Snake.matches(kind) {
                self.error_at(
                    at,
                    &path,
                    format!("notification type `{kind}` is not snake_case"),
                    Case::Snake.hint(kind),
                );
            } else {
                self.check_variant(&mut seen, at, &path, kind, None);
            }
        }
        let mut targets = Vec::new();
        let names = ["user", "role", "all"];
        for (index, target) in raw
            .targets
            .clone()
            .unwrap_or_else(|| names.map(String::from).to_vec())
            .iter()
            .enumerate()
        {
            let found = match target.as_str() {
                "user" => Target::User,
                "role" => Target::Role,
                "all" => Target::All,
                other => {
                    let path = format!("notifications.targets.{index}");
                    let hint =
                        did_you_mean(other, names).or_else(|| Some("the targets are `user`, `role` and `all`".into()));
                    self.error_at(
                        self.loaded.positions.value_of(&path),
                        &path,
                        format!("unknown notification target `{other}`"),
                        hint,
                    );
                    continue;
                }
            };
            if !targets.contains(&found) {
                targets.push(found);
            }
        }
        Notifications {
            description: raw.description.clone(),
            types: raw.types.clone(),
            targets,
        }
    }

    fn fields(&mut self, parent: &str, raw: &Ordered<RawField>) -> Vec<Field> {
        self.named_entries(parent, raw, Case::Snake, "field")
            .filter_map(|(path, name, raw)| self.field(&path, name, raw))
            .collect()
    }

    fn field(&mut self, path: &str, name: &str, raw: &RawField) -> Option<Field> {
        let ty = match type_expr::parse(&raw.ty) {
            Ok(expr) => self.resolve(&expr, path)?,
            Err(error) => {
                self.type_error(path, format!("malformed type: {}", error.message), Some(error.hint));
                return None;
            }
        };
        let default = match &raw.default {
            None => None,
            Some(value) => {
                let default_path = format!("{path}.default");
                match self.default_value(&ty, value) {
                    Ok(value) => Some(value),
                    Err(message) => {
                        let at = self.loaded.positions.value_of(&default_path);
                        self.error_at(at, &default_path, message, None);
                        None
                    }
                }
            }
        };
        Some(Field {
            name: name.to_owned(),
            description: raw.description.clone(),
            ty,
            pii: raw.pii,
            default,
            deprecated: raw.deprecated,
        })
    }

    /// Reports a problem with the type of the field at `path`, where the type is written: the value of its `type`
    /// key, or the field's value (`name: type`).
    fn type_error(&mut self, path: &str, message: String, hint: Option<String>) {
        let type_path = if self.loaded.positions.occurrences(&format!("{path}.type")).is_empty() {
            path.to_owned()
        } else {
            format!("{path}.type")
        };
        let at = self.loaded.positions.value_of(&type_path);
        self.error_at(at, &type_path, message, hint);
    }

    /// The type `expr` of the field at `path`.
    fn resolve(&mut self, expr: &TypeExpr, path: &str) -> Option<TypeRef> {
        Some(match expr {
            TypeExpr::Name(name) => {
                if let Some(scalar) = Scalar::from_name(name) {
                    TypeRef::Scalar(scalar)
                } else if self.structs.contains(name.as_str()) {
                    TypeRef::Struct(name.clone())
                } else if self.enums.contains(name.as_str()) {
                    TypeRef::Enum(name.clone())
                } else {
                    let known: Vec<&str> = Scalar::ALL
                        .iter()
                        .map(|(n, _)| *n)
                        .chain(self.structs.iter().copied())
                        .chain(self.enums.iter().copied())
                        .collect();
                    let hint = did_you_mean(name, known.iter().copied()).or_else(|| {
                        Some("use a built-in type (string bool i32 i64 u32 u64 f64 decimal uuid datetime date json) or a name under `types:` or `enums:`".into())
                    });
                    self.type_error(path, format!("unknown type `{name}`"), hint);
                    return None;
                }
            }
            TypeExpr::List(item) => TypeRef::List(Box::new(self.resolve(item, path)?)),
            TypeExpr::Map(value) => TypeRef::Map(Box::new(self.resolve(value, path)?)),
            TypeExpr::Optional(inner) => TypeRef::Optional(Box::new(self.resolve(inner, path)?)),
        })
    }

    fn default_value(&self, ty: &TypeRef, value: &serde_yaml::Value) -> Result<Value, String> {
        use serde_yaml::Value as Yaml;
        let wrong = || format!("default `{}` is not of type `{ty}`", render_yaml(value));
        match (ty, value) {
            (TypeRef::Optional(_), Yaml::Null) => Ok(Value::Empty),
            (TypeRef::Optional(inner), _) => self.default_value(inner, value),
            (TypeRef::List(_), Yaml::Sequence(items)) if items.is_empty() => Ok(Value::Empty),
            (TypeRef::Map(_), Yaml::Mapping(entries)) if entries.is_empty() => Ok(Value::Empty),
            (TypeRef::List(_) | TypeRef::Map(_), _) => Err(format!(
                "{}; a list or map default can only be empty (`[]` or `{{}}`)",
                wrong()
            )),
            (TypeRef::Scalar(Scalar::String), Yaml::String(text)) => Ok(Value::String(text.clone())),
            (TypeRef::Scalar(Scalar::Bool), Yaml::Bool(flag)) => Ok(Value::Bool(*flag)),
            (
                TypeRef::Scalar(scalar @ (Scalar::I32 | Scalar::I64 | Scalar::U32 | Scalar::U64)),
                Yaml::Number(number),
            ) => {
                let integer = number
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| number.as_u64().map(i128::from))
                    .ok_or_else(wrong)?;
                let (min, max) = match scalar {
                    Scalar::I32 => (i128::from(i32::MIN), i128::from(i32::MAX)),
                    Scalar::I64 => (i128::from(i64::MIN), i128::from(i64::MAX)),
                    Scalar::U32 => (0, i128::from(u32::MAX)),
                    _ => (0, i128::from(u64::MAX)),
                };
                if (min..=max).contains(&integer) {
                    Ok(Value::Integer(integer))
                } else {
                    Err(format!("default {integer} is out of range for `{ty}`"))
                }
            }
            (TypeRef::Scalar(Scalar::F64), Yaml::Number(number)) => match number.as_f64() {
                Some(float) if float.is_finite() => Ok(Value::Float(float)),
                Some(_) => Err(format!(
                    "default `{}` is not a finite number; JSON has no infinity or NaN (and a number beyond ±1.8e308 is infinite)",
                    render_yaml(value)
                )),
                None => Err(wrong()),
            },
            (TypeRef::Scalar(Scalar::Decimal), Yaml::String(text)) => text
                .parse::<rust_decimal::Decimal>()
                .map(Value::Decimal)
                .map_err(|_| wrong()),
            (TypeRef::Scalar(Scalar::Decimal), Yaml::Number(_)) => Err(format!(
                "{}; write a decimal default as a string (`\"{}\"`) so it stays exact",
                wrong(),
                render_yaml(value)
            )),
            (TypeRef::Enum(name), Yaml::String(text)) => {
                let values = self
                    .loaded
                    .catalog
                    .enums
                    .0
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_slice())
                    .unwrap_or_default();
                if values.contains(text) {
                    Ok(Value::EnumValue(text.clone()))
                } else {
                    let close = did_you_mean(text, values.iter().map(String::as_str))
                        .map_or_else(String::new, |hint| format!("; {hint}"));
                    Err(format!("default `{text}` is not a value of `{name}`{close}"))
                }
            }
            (
                TypeRef::Scalar(Scalar::Uuid | Scalar::DateTime | Scalar::Date | Scalar::Json) | TypeRef::Struct(_),
                _,
            ) => Err(format!(
                "a `{ty}` field cannot have a default; make it optional (`{ty}?`) instead"
            )),
            _ => Err(wrong()),
        }
    }

    fn policy(&mut self, path: &str, raw: Option<&RawPolicy>, inherited: Policy) -> Policy {
        let Some(raw) = raw else { return inherited };
        let mut policy = inherited;
        if let Some(attempts) = raw.max_attempts {
            if attempts == 0 {
                let attempts_path = format!("{path}.max_attempts");
                self.error_at(
                    self.loaded.positions.value_of(&attempts_path),
                    &attempts_path,
                    "max_attempts must be at least 1",
                    None,
                );
            }
            policy.max_attempts = attempts.max(1);
        }
        if let Some(backoff) = &raw.backoff {
            if let Some(first) = &backoff.first {
                policy.backoff_first = self
                    .duration(&format!("{path}.backoff.first"), first)
                    .unwrap_or(policy.backoff_first);
            }
            if let Some(max) = &backoff.max {
                policy.backoff_max = self
                    .duration(&format!("{path}.backoff.max"), max)
                    .unwrap_or(policy.backoff_max);
            }
            if policy.backoff_first > policy.backoff_max {
                self.error(
                    &format!("{path}.backoff"),
                    "backoff `first` is longer than `max`",
                    Some("the first delay must not exceed the largest".into()),
                );
            }
        }
        if let Some(retention) = &raw.retention {
            policy.retention = self
                .duration(&format!("{path}.retention"), retention)
                .unwrap_or(policy.retention);
        }
        if let Some(max_len) = raw.max_len {
            if max_len == 0 {
                let max_len_path = format!("{path}.max_len");
                self.error_at(
                    self.loaded.positions.value_of(&max_len_path),
                    &max_len_path,
                    "max_len must be at least 1",
                    Some("a stream capped at 0 entries keeps nothing; the runtime refuses it".into()),
                );
            }
            policy.max_len = max_len.max(1);
        }
        policy
    }

    fn duration(&mut self, path: &str, text: &str) -> Option<Duration> {
        let (message, hint) = match humantime::parse_duration(text) {
            Ok(duration) if duration >= Duration::from_millis(1) => return Some(duration),
            Ok(duration) if !duration.is_zero() => (
                format!("duration `{text}` is shorter than a millisecond"),
                Some("the generated code counts in milliseconds: write at least `1ms`".into()),
            ),
            Ok(_) => (format!("duration `{text}` must be longer than zero"), None),
            Err(error) => (
                format!("`{text}` is not a duration: {error}"),
                Some("write a number and a unit: `500ms`, `30s`, `5m`, `24h`".into()),
            ),
        };
        self.error_at(self.loaded.positions.value_of(path), path, message, hint);
        None
    }

    /// A struct must not contain itself unless a list or map stands between
    /// (an `Option` does not help: the type would still be infinite).
    fn check_containment(&mut self, structs: &[Struct]) {
        let direct = |ty: &TypeRef| -> Option<String> {
            let mut ty = ty;
            while let TypeRef::Optional(inner) = ty {
                ty = inner;
            }
            match ty {
                TypeRef::Struct(name) => Some(name.clone()),
                _ => None,
            }
        };
        let by_name: HashMap<&str, &Struct> = structs.iter().map(|s| (s.name.as_str(), s)).collect();
        for start in structs {
            // Depth-first over direct containment, looking for a way back to `start`.
            let mut stack: Vec<(String, Vec<String>)> = vec![(start.name.clone(), Vec::new())];
            let mut visited = HashSet::new();
            while let Some((name, trail)) = stack.pop() {
                let Some(current) = by_name.get(name.as_str()) else {
                    continue;
                };
                for field in &current.fields {
                    let Some(target) = direct(&field.ty) else { continue };
                    let mut trail = trail.clone();
                    trail.push(format!("{}.{}", current.name, field.name));
                    if target == start.name {
                        let path = format!(
                            "types.{}.fields.{}",
                            start.name,
                            trail[0].split_once('.').map_or("", |(_, f)| f)
                        );
                        self.error(
                            &path,
                            format!("type `{}` contains itself through {}", start.name, trail.join(" → ")),
                            Some("put a `list<…>` or `map<…>` between; `?` alone does not end the recursion".into()),
                        );
                        stack.clear();
                        break;
                    }
                    if visited.insert(target.clone()) {
                        stack.push((target, trail));
                    }
                }
            }
        }
    }

    /// Checks the Rust variant of `value`, one of the values of enum `owner` or, without one, a notification type:
    /// no two values may become the same variant (`a_1`, `a1`), nor any the constant of every value (`ALL`).
    fn check_variant(
        &mut self,
        seen: &mut HashMap<String, String>,
        at: Option<Position>,
        path: &str,
        value: &str,
        owner: Option<&str>,
    ) {
        let variant = variant_name(value);
        let taken = match variant.as_str() {
            VALUES_CONSTANT => Some("the constant of every value"),
            UNRECOGNIZED_VARIANT => Some("the variant that keeps a value this build does not know"),
            _ => None,
        };
        let (message, hint) = if let Some(taken) = taken {
            let what = owner.map_or_else(
                || format!("notification type `{value}`"),
                |name| format!("enum value `{value}` of `{name}`"),
            );
            (
                format!("{what} becomes the Rust variant `{variant}`, which is already {taken}"),
                "rename it",
            )
        } else if let Some(first) = seen.get(&variant) {
            let message = match owner {
                Some(name) if first == value => format!("duplicate value `{value}` in enum `{name}`"),
                Some(name) => {
                    format!("enum values `{first}` and `{value}` of `{name}` both become `{variant}` in Rust")
                }
                None if first == value => format!("duplicate notification type `{value}`"),
                None => format!("notification types `{first}` and `{value}` both become `{variant}` in Rust"),
            };
            (message, "remove or rename one")
        } else {
            seen.insert(variant, value.to_owned());
            return;
        };
        self.error_at(at, path, message, Some(hint.into()));
    }

    /// The names the generated code gives the catalog's items must be its own: distinct (the event
    /// `user.created` and a type `UserCreated`; a type `OrderDispatch` and the dispatcher of category
    /// `order`), none of the generator's ([`RUST_ITEM_NAMES`], [`DOCUMENT_NAMES`]: a category `event` would
    /// define a second `EventHandler`), no keyword that no identifier can spell (`Self`, `None`), and no variant
    /// `ALL`, which is the constant of every category and event type.
    fn check_generated_names(&mut self, catalog: &Catalog) {
        let mut owners: HashMap<String, String> = RUST_ITEM_NAMES
            .iter()
            .map(|(name, what)| ((*name).to_owned(), (*what).to_owned()))
            .collect();
        /// An item of the catalog: its path, what it is, and the names it takes with what each is.
        struct Item {
            path: String,
            what: String,
            names: Vec<(String, String)>,
        }
        let mut items: Vec<Item> = Vec::new();
        let single = |path: String, what: String, name: &str| Item {
            path,
            what: what.clone(),
            names: vec![(name.to_owned(), what)],
        };
        for item in &catalog.structs {
            items.push(single(
                format!("types.{}", item.name),
                format!("type `{}`", item.name),
                &item.name,
            ));
        }
        for item in &catalog.enums {
            items.push(single(
                format!("enums.{}", item.name),
                format!("enum `{}`", item.name),
                &item.name,
            ));
        }
        for category in &catalog.categories {
            let (name, path) = (&category.name, format!("categories.{}", category.name));
            if variant_name(name) == VALUES_CONSTANT {
                self.error(
                    &path,
                    format!("category `{name}` becomes the Rust variant `Category::{VALUES_CONSTANT}`, which is already the constant of every category"),
                    Some("rename it".into()),
                );
            }
            let names = vec![
                (
                    category_handler_name(name),
                    format!("the handler trait of category `{name}`"),
                ),
                (
                    category_dispatch_name(name),
                    format!("the dispatcher of category `{name}`"),
                ),
            ];
            items.push(Item {
                path,
                what: format!("category `{name}`"),
                names,
            });
            for event in &category.events {
                let what = if event.latest {
                    format!("event `{}`", event.type_name())
                } else {
                    format!("version {} of event `{}`", event.version, event.type_name())
                };
                let rust = event_version_type_name(event);
                if rust == VALUES_CONSTANT {
                    self.error(
                        &event.path(),
                        format!("{what} becomes the Rust variant `EventType::{rust}`, which is already the constant of every event type"),
                        Some("rename it".into()),
                    );
                }
                items.push(single(event.path(), what, &rust));
            }
        }
        let mut targets: Vec<&str> = Vec::new();
        for command in &catalog.commands {
            let name = &command.name;
            let names = vec![
                (command_request_name(name), format!("the request of command `{name}`")),
                (command_response_name(name), format!("the response of command `{name}`")),
            ];
            items.push(Item {
                path: format!("commands.{name}"),
                what: format!("command `{name}`"),
                names,
            });
            if !targets.contains(&command.target.as_str()) {
                targets.push(&command.target);
                let target = &command.target;
                let names = vec![
                    (
                        commands_trait_name(target),
                        format!("the handler trait of the commands of `{target}`"),
                    ),
                    (command_server_name(target), format!("the command server of `{target}`")),
                ];
                items.push(Item {
                    path: format!("commands.{name}.target"),
                    what: format!("service `{target}`"),
                    names,
                });
            }
        }
        for Item { path, what, names } in items {
            for (name, owner) in names {
                let reserved = DOCUMENT_NAMES.iter().find(|(reserved, _)| *reserved == name);
                let (message, hint) = if let Some(language) = keyword_language(&name) {
                    (
                        format!("the name `{name}` of {what} is a keyword in {language}"),
                        format!("rename it: no {language} identifier can spell `{name}`"),
                    )
                } else if let Some((_, document)) = reserved {
                    (
                        format!("{what} becomes the Python class `{name}`, which is already {document}"),
                        "rename it".to_owned(),
                    )
                } else if let Some(previous) = owners.get(&name) {
                    let reserved = RUST_ITEM_NAMES.iter().any(|(reserved, _)| *reserved == name);
                    let hint = if reserved { "rename it" } else { "rename one of them" };
                    (
                        format!("{what} becomes the Rust type `{name}`, which is already {previous}"),
                        hint.to_owned(),
                    )
                } else {
                    owners.insert(name, owner);
                    continue;
                };
                let at = self.at(&path).or_else(|| self.loaded.positions.value_of(&path));
                self.error_at(at, &path, message, Some(hint));
                break;
            }
        }
    }

    /// The catalog's name and descriptions end up in doc comments, docstrings and document strings: no control
    /// character but line breaks and tabs in descriptions (none in the name), and no character that changes the
    /// direction of text (Rust refuses them, since they can make code read other than it runs).
    fn check_texts(&mut self) {
        let raw = &self.loaded.catalog;
        let mut texts: Vec<(String, &str)> = Vec::new();
        let fields = |texts: &mut Vec<(String, &'a str)>, parent: String, fields: &'a Ordered<RawField>| {
            for (name, field) in &fields.0 {
                if let Some(text) = &field.description {
                    texts.push((format!("{parent}.{name}.description"), text));
                }
            }
        };
        let described = |texts: &mut Vec<(String, &'a str)>, path: String, text: &'a Option<String>| {
            if let Some(text) = text {
                texts.push((path, text));
            }
        };
        described(&mut texts, "description".to_owned(), &raw.description);
        for (name, item) in &raw.types.0 {
            described(&mut texts, format!("types.{name}.description"), &item.description);
            fields(&mut texts, format!("types.{name}.fields"), &item.fields);
        }
        for (name, category) in &raw.categories.0 {
            let path = format!("categories.{name}");
            described(&mut texts, format!("{path}.description"), &category.description);
            for (name, event) in &category.events.0 {
                let path = format!("{path}.events.{name}");
                described(&mut texts, format!("{path}.description"), &event.description);
                fields(&mut texts, format!("{path}.fields"), &event.fields);
                for (version, previous) in &event.previous_versions.0 {
                    let path = format!("{path}.previous_versions.{version}");
                    described(&mut texts, format!("{path}.description"), &previous.description);
                    fields(&mut texts, format!("{path}.fields"), &previous.fields);
                }
            }
        }
        for (name, command) in &raw.commands.0 {
            let path = format!("commands.{name}");
            described(&mut texts, format!("{path}.description"), &command.description);
            for (part, parts) in [("request", &command.request), ("response", &command.response)] {
                if let Some(parts) = parts {
                    fields(&mut texts, format!("{path}.{part}"), parts);
                }
            }
        }
        if let Some(notifications) = &raw.notifications {
            described(
                &mut texts,
                "notifications.description".to_owned(),
                &notifications.description,
            );
        }
        let name = raw.catalog.as_deref().and_then(|name| text_problem(name, false));
        let problems = texts
            .into_iter()
            .filter_map(|(path, text)| Some((path, "the description", text_problem(text, true)?)));
        let problems: Vec<_> = name
            .map(|found| ("catalog".to_owned(), "the catalog name", found))
            .into_iter()
            .chain(problems)
            .collect();
        for (path, what, (character, fix)) in problems {
            let at = self.loaded.positions.value_of(&path);
            self.error_at(at, &path, format!("{what} contains {character}"), Some(fix.to_owned()));
        }
    }
}

/// What is wrong with `text` as a name (`multiline` false) or a description: the first character it may not hold,
/// described, and what to do.
fn text_problem(text: &str, multiline: bool) -> Option<(String, &'static str)> {
    let allowed = |c: char| multiline && matches!(c, '\n' | '\t');
    let found = text
        .chars()
        .find(|&c| (c.is_control() && !allowed(c)) || is_direction_mark(c))?;
    let code = format!("U+{:04X}", u32::from(found));
    Some(if found.is_control() {
        let fix = if multiline {
            "write plain text: line breaks and tabs are the only control characters a description may hold"
        } else {
            "write the name as one line of plain text"
        };
        (format!("the control character {code}"), fix)
    } else {
        (
            format!("{code}, which changes the direction of text"),
            "remove it: Rust refuses text-direction characters in generated code",
        )
    })
}

/// Whether `c` changes the direction of text (the bidirectional marks, embeddings, overrides and isolates).
fn is_direction_mark(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether a field of this type can be a subject: a required string, uuid, integer or enum.
fn is_key_type(ty: &TypeRef) -> bool {
    matches!(
        ty,
        TypeRef::Enum(_)
            | TypeRef::Scalar(Scalar::String | Scalar::Uuid | Scalar::I32 | Scalar::I64 | Scalar::U32 | Scalar::U64)
    )
}

fn render_yaml(value: &serde_yaml::Value) -> String {
    serde_yaml::to_string(value).map_or_else(|_| "?".to_owned(), |text| text.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::model::StreamLayout;

    #[test]
    fn a_stream_is_trimmed_by_the_longest_retention_and_largest_cap_of_its_types() {
        let text = "catalog: x
delivery: { retention: 2h, max_len: 10 }
categories:
  user:
    partitions: 8
    delivery: { max_len: 50 }
    events:
      created: { subject: id, fields: { id: uuid } }
      deleted:
        version: 2
        subject: id
        delivery: { retention: 168h, max_len: 20 }
        fields: { id: uuid }
        previous_versions: { 1: { fields: { id: uuid } } }
  audit:
    events:
      logged: { subject: id, fields: { id: uuid } }
";
        let catalog = crate::check_catalog_text("c.yaml", text).unwrap_or_else(|d| panic!("{d}"));
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let user = &catalog.categories[0];
        assert_eq!(
            user.layout,
            StreamLayout {
                partitions: 8,
                retention: hours(168),
                max_len: 50
            }
        );
        assert_eq!(
            user.events[0].policy.retention,
            hours(2),
            "a type keeps its own retention"
        );
        assert_eq!(user.stream_key(), "<ns>:events:user:<p>");
        let audit = &catalog.categories[1];
        assert_eq!(
            audit.layout,
            StreamLayout {
                partitions: 1,
                retention: hours(2),
                max_len: 10
            }
        );
        assert_eq!(audit.stream_key(), "<ns>:events:audit");
    }
}
