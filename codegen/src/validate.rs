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
use crate::names::{Case, event_version_type_name, pascal, reserved_names};
use crate::type_expr::{self, TypeExpr};

/// Checks a loaded catalog and returns its model, or every problem found.
pub fn validate(loaded: &Loaded) -> Result<Catalog, Diagnostics> {
    let mut checker = Checker {
        loaded,
        diagnostics: Vec::new(),
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
            if raw_category.events.0.is_empty() {
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
        if raw.categories.0.is_empty() {
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
                .map_or_else(|| self.loaded.file.clone(), |name| name.to_string_lossy().into_owned()),
            description: raw.description.clone(),
            structs,
            enums,
            categories,
            commands,
            notifications,
        };
        self.check_rust_names(&catalog);
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
                let hint = first.map(|p| format!("the first `{name}` is at line {}; rename or remove one", p.line));
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
        if values.is_empty() {
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
                let hint = Some(format!("write `{}`", Case::Snake.convert(value)));
                self.error_at(
                    at,
                    &value_path,
                    format!("enum value `{value}` of `{name}` is not snake_case"),
                    hint,
                );
            } else if let Some(first) = seen.insert(pascal(value), value) {
                let message = if first == value {
                    format!("duplicate value `{value}` in enum `{name}`")
                } else {
                    format!(
                        "enum values `{first}` and `{value}` of `{name}` both become `{}` in Rust",
                        pascal(value)
                    )
                };
                self.error_at(at, &value_path, message, Some("remove or rename one".into()));
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
        match fields.iter().find(|f| f.name == subject) {
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
            self.error(path, format!("command `{name}` has no `{key}`"), Some(hint.to_owned()));
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
                Some(format!("write `{}`", Case::Kebab.convert(target))),
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
        let mut seen = HashSet::new();
        for (index, kind) in raw.types.iter().enumerate() {
            let path = format!("notifications.types.{index}");
            let at = self.loaded.positions.value_of(&path);
            if !Case::Snake.matches(kind) {
                self.error_at(
                    at,
                    &path,
                    format!("notification type `{kind}` is not snake_case"),
                    Some(format!("write `{}`", Case::Snake.convert(kind))),
                );
            } else if !seen.insert(kind) {
                self.error_at(at, &path, format!("duplicate notification type `{kind}`"), None);
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
        let type_path = if self.loaded.positions.occurrences(&format!("{path}.type")).is_empty() {
            path.to_owned()
        } else {
            format!("{path}.type")
        };
        let type_at = self.loaded.positions.value_of(&type_path);
        let ty = match type_expr::parse(&raw.ty) {
            Ok(expr) => self.resolve(&expr, type_at, &type_path)?,
            Err(error) => {
                self.error_at(
                    type_at,
                    &type_path,
                    format!("malformed type: {}", error.message),
                    Some(error.hint),
                );
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

    fn resolve(&mut self, expr: &TypeExpr, at: Option<Position>, path: &str) -> Option<TypeRef> {
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
                    self.error_at(at, path, format!("unknown type `{name}`"), hint);
                    return None;
                }
            }
            TypeExpr::List(item) => TypeRef::List(Box::new(self.resolve(item, at, path)?)),
            TypeExpr::Map(value) => TypeRef::Map(Box::new(self.resolve(value, at, path)?)),
            TypeExpr::Optional(inner) => TypeRef::Optional(Box::new(self.resolve(inner, at, path)?)),
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
            (TypeRef::Scalar(Scalar::F64), Yaml::Number(number)) => number.as_f64().map(Value::Float).ok_or_else(wrong),
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
            policy.max_len = max_len;
        }
        policy
    }

    fn duration(&mut self, path: &str, text: &str) -> Option<Duration> {
        match humantime::parse_duration(text) {
            Ok(duration) if !duration.is_zero() => Some(duration),
            Ok(_) => {
                self.error_at(
                    self.loaded.positions.value_of(path),
                    path,
                    format!("duration `{text}` must be longer than zero"),
                    None,
                );
                None
            }
            Err(error) => {
                self.error_at(
                    self.loaded.positions.value_of(path),
                    path,
                    format!("`{text}` is not a duration: {error}"),
                    Some("write a number and a unit: `500ms`, `30s`, `5m`, `24h`".into()),
                );
                None
            }
        }
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

    /// Names that become the same Rust type name collide: events
    /// (`UserCreated`), shared types, command request/response types and
    /// the generator's own names.
    fn check_rust_names(&mut self, catalog: &Catalog) {
        let mut owners: HashMap<String, String> = reserved_names()
            .map(|name| (name.to_owned(), "a type the generator emits".to_owned()))
            .collect();
        let mut claim = |checker: &mut Self, rust: String, path: String, what: String| {
            if let Some(previous) = owners.get(&rust) {
                checker.error(
                    &path,
                    format!("{what} becomes the Rust type `{rust}`, which is already {previous}"),
                    Some("rename one of them".into()),
                );
            } else {
                owners.insert(rust, what);
            }
        };
        for item in &catalog.structs {
            claim(
                self,
                item.name.clone(),
                format!("types.{}", item.name),
                format!("type `{}`", item.name),
            );
        }
        for item in &catalog.enums {
            claim(
                self,
                item.name.clone(),
                format!("enums.{}", item.name),
                format!("enum `{}`", item.name),
            );
        }
        for event in catalog.events() {
            let what = if event.latest {
                format!("event `{}`", event.type_name())
            } else {
                format!("version {} of event `{}`", event.version, event.type_name())
            };
            claim(self, event_version_type_name(event), event.path(), what);
        }
        for command in &catalog.commands {
            for part in ["Request", "Response"] {
                let rust = format!("{}{part}", pascal(&command.name));
                claim(
                    self,
                    rust,
                    format!("commands.{}", command.name),
                    format!("the {} of command `{}`", part.to_lowercase(), command.name),
                );
            }
        }
    }
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
