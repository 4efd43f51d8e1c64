//! Catalogs built at random from a grammar of names that look like trouble: Rust keywords (also those no raw
//! identifier can spell), Python keywords, prelude, std and serde names, the runtime's names, the generator's own
//! items and methods, pydantic's attributes, YAML's special words and names whose generated forms collide; with
//! texts, defaults and delivery limits at their edges. The runs are seeded: every run draws the same catalogs.
//!
//! - Every catalog is accepted and generates its files, or is rejected with diagnostics that each name a
//!   line and column: `xerpium-codegen` never panics.
//! - What is accepted works: a batch of accepted catalogs (and `names.yaml`) is compiled, each in a module of one
//!   scratch crate built against the runtime (with clippy, warnings denied), into the workspace's target directory
//!   so that the dependencies built for the workspace are reused; and the documents of each load: the Python module
//!   imports (with `.venv/`, as for `tests/python.rs`), the JSON Schemas parse, and so does the AsyncAPI document,
//!   its keys all strings.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use xerpium_codegen::output::{self, GeneratedFile};

/// How many catalogs the never-panic property draws.
const CASES: u32 = 1500;

/// How many accepted catalogs are compiled together.
const BATCH: usize = 40;

/// The file name the catalogs are checked under.
const FILE: &str = "random.yaml";

/// snake_case names as authors write them.
#[rustfmt::skip]
const PLAIN_SNAKE: &[&str] = &[
    "user", "order", "created", "placed", "id", "amount", "note", "email", "total", "shipping", "address_city",
    "city", "country", "v2_api", "a1", "a_1", "b2",
];

/// snake_case names that look like trouble, and a few that are not snake_case.
#[rustfmt::skip]
const TRICKY_SNAKE: &[&str] = &[
    // Rust keywords: raw identifiers, and those that cannot be (`self_`).
    "self", "super", "crate", "type", "match", "async", "await", "dyn", "fn", "gen", "try", "yield", "macro_rules",
    "union", "box", "abstract", "static",
    // Python keywords and builtins.
    "class", "def", "from", "import", "lambda", "none", "true", "false", "print", "int", "str", "list", "date",
    // Methods of the prelude's and std's traits.
    "into", "clone", "from_str", "to_string", "to_owned", "default", "fmt", "eq", "hash", "drop", "iter", "next",
    // The runtime's and the generator's methods and name parts.
    "unknown", "dispatch", "dispatch_entry", "categories", "policy", "layout", "subject", "decode", "known",
    "redacted", "redact", "events", "lookup", "version", "category", "publish", "notify", "call", "serve", "target",
    "commands", "event_type", "to_json", "as_str", "notify_user", "all", "a_l_l", "unrecognized", "event",
    "handler", "request", "response", "command", "command_server", "any", "summary",
    // pydantic's attributes.
    "model_config", "model_dump", "model_dump_json", "model_validate_x", "schema", "json", "copy", "dict",
    "validate", "register", "mro", "fields", "construct",
    // YAML's special words.
    "null", "yes", "no", "on", "off", "y", "n",
    // Not snake_case.
    "loggedIn", "_x", "x_", "a__b", "",
];

/// PascalCase names as authors write them.
const PLAIN_PASCAL: &[&str] = &["Money", "Shipping", "ShippingAddress", "UserRole", "Level", "Node"];

/// PascalCase names that look like trouble, and a few that are not PascalCase.
#[rustfmt::skip]
const TRICKY_PASCAL: &[&str] = &[
    // The prelude, std, serde and the crates the generated code uses.
    "Option", "Result", "String", "Vec", "Box", "Some", "None", "Ok", "Err", "Default", "Clone", "Copy", "Send",
    "Sync", "Sized", "Debug", "Display", "PartialEq", "Eq", "Hash", "Ord", "Into", "From", "Iterator", "ToString",
    "ToOwned", "Drop", "Fn", "Future", "Duration", "FromStr", "Formatter", "Infallible", "BTreeMap", "Value", "Uuid",
    "Decimal", "DateTime", "Utc", "NaiveDate", "Serialize", "Deserialize", "Serializer", "Deserializer", "Visitor",
    "Error", "PhantomData",
    // Keywords, YAML's words and the constant of every value.
    "Self", "True", "False", "NULL", "Null", "TRUE", "Yes", "No", "ALL",
    // The runtime's names.
    "Event", "Message", "Dispatch", "Publish", "PublishContext", "PublishError", "HandlerError", "HandlerResult",
    "DecodeError", "DeliveryPolicy", "StreamLayout", "UnknownName", "Command", "CommandCaller", "CommandError",
    "ServeCommands", "Notification", "NotificationTarget", "Notify", "Envelope", "Keys", "Config",
    // The generator's names, and names like the ones it derives.
    "Category", "EventType", "AnyEvent", "EventHandler", "EventDispatch", "PublishEvents", "CommandClient",
    "NotificationType", "SendNotifications", "NotificationTargetKind", "EVENTS", "STREAMS", "TYPE", "VERSION", "NAME",
    "REDACTED", "COMMANDS", "Unrecognized", "OrderDispatch", "OrderHandler", "UserCreated", "OrderGetRequest",
    "BillingCommands", "SelfType",
    // Python's names.
    "BaseModel", "Enum", "Any", "List", "UnicodeDecodeError", "ValueError", "Exception",
    // Not PascalCase.
    "money", "User_Role",
];

/// Services (kebab-case), a few not.
const SERVICES: &[&str] = &[
    "billing",
    "company-partner",
    "self",
    "crate",
    "a-1",
    "a1",
    "event",
    "order",
    "Bad_Name",
];

/// Descriptions, with what doc comments, docstrings and YAML must escape.
const TEXTS: &[&str] = &[
    "An amount.",
    "back\\slash",
    "\"\"\" quotes \"",
    "a tab\there",
    "two\nlines",
    "LS \u{2028} PS \u{2029}",
    "BOM \u{FEFF}, U+FFFF \u{FFFF}",
    "*/ /* {{x}} # ` <b> \\u0041",
    "emoji 😀 日本語",
    " ",
];

/// Descriptions that are refused: control characters, a change of the direction of text.
const BAD_TEXTS: &[&str] = &["bell \u{7}", "NEL \u{85}", "DEL \u{7F}", "bidi \u{202E}", "crlf\r\nend"];

/// Names of the catalog; one is refused (a line break).
const CATALOG_NAMES: &[&str] = &["x", "back\\slash \"q\" \"\"\"", "", "two\nlines", "日本", "a'b"];

/// The field types the grammar builds from.
#[rustfmt::skip]
const SCALARS: &[&str] = &[
    "string", "bool", "i32", "i64", "u32", "u64", "f64", "decimal", "uuid", "datetime", "date", "json",
];

/// The scalars a subject can be.
const KEY_SCALARS: &[&str] = &["uuid", "string", "i64", "u32"];

/// Defaults, as YAML: of every type, and at the edges of each.
#[rustfmt::skip]
const DEFAULTS: &[&str] = &[
    "\"text\"", "\"\"", "0", "-5", "7", "1.5", "-0.0", ".inf", "-.inf", ".nan", "1e400", "true", "[]", "{}", "null",
    "18446744073709551615", "-9223372036854775808", "\"1.25\"", "\"self\"", "\"none\"", "\"a1\"", "\"\\u0007\"",
];

/// Durations.
const DURATIONS: &[&str] = &["1ms", "100ms", "1s", "5m", "24h", "1000000h"];

/// Durations that are refused: zero, shorter than a millisecond, not durations.
const BAD_DURATIONS: &[&str] = &["0s", "500us", "soon"];

/// Counts (attempts, caps, partitions).
const COUNTS: &[&str] = &["1", "3", "8", "1000", "1024", "4294967295"];

/// Counts that are refused everywhere, or as partitions.
const BAD_COUNTS: &[&str] = &["0", "-1", "1025", "18446744073709551616"];

/// A name: `plain` `odds` times as often as `tricky`.
fn name(plain: &'static [&'static str], tricky: &'static [&'static str], odds: u32) -> BoxedStrategy<String> {
    prop_oneof![odds => select(plain), 1 => select(tricky)]
        .prop_map(String::from)
        .boxed()
}

fn snake() -> BoxedStrategy<String> {
    name(PLAIN_SNAKE, TRICKY_SNAKE, 3)
}

/// A type's name: there are few in a catalog, so as often tricky as not.
fn pascal() -> BoxedStrategy<String> {
    name(PLAIN_PASCAL, TRICKY_PASCAL, 1)
}

fn text() -> BoxedStrategy<Option<String>> {
    option::weighted(0.3, name(TEXTS, BAD_TEXTS, 5)).boxed()
}

/// A duration, rarely a refused one.
fn duration() -> BoxedStrategy<&'static str> {
    prop_oneof![8 => select(DURATIONS), 1 => select(BAD_DURATIONS)].boxed()
}

/// A count, rarely a refused one.
fn count() -> BoxedStrategy<&'static str> {
    prop_oneof![8 => select(COUNTS), 1 => select(BAD_COUNTS)].boxed()
}

/// A node of a catalog's YAML: maps are written in block style, the rest in flow style; keys and texts quoted.
#[derive(Debug, Clone)]
enum Yaml {
    Map(Vec<(String, Yaml)>),
    List(Vec<Yaml>),
    Text(String),
    /// YAML written as it is (`1.5`, `.inf`, `[]`).
    Raw(String),
}

impl Yaml {
    /// A map of the entries that are there.
    fn map(entries: impl IntoIterator<Item = (&'static str, Option<Yaml>)>) -> Yaml {
        Yaml::Map(
            entries
                .into_iter()
                .filter_map(|(key, value)| Some((key.to_owned(), value?)))
                .collect(),
        )
    }

    fn text(text: &Option<String>) -> Option<Yaml> {
        text.clone().map(Yaml::Text)
    }

    fn raw(raw: &Option<&str>) -> Option<Yaml> {
        raw.map(|raw| Yaml::Raw(raw.to_owned()))
    }

    /// The document: a map at the top level.
    fn document(&self) -> String {
        let mut out = String::new();
        self.block(0, &mut out);
        out.trim_start().to_owned() + "\n"
    }

    fn block(&self, indent: usize, out: &mut String) {
        let Yaml::Map(entries) = self else {
            return self.flow(out);
        };
        for (key, value) in entries {
            let _ = write!(out, "\n{}{}:", " ".repeat(indent), quoted(key));
            match value {
                Yaml::Map(inner) if !inner.is_empty() => value.block(indent + 2, out),
                _ => {
                    out.push(' ');
                    value.flow(out);
                }
            }
        }
    }

    fn flow(&self, out: &mut String) {
        match self {
            Yaml::Map(entries) => {
                out.push('{');
                for (index, (key, value)) in entries.iter().enumerate() {
                    let _ = write!(out, "{}{}: ", if index == 0 { "" } else { ", " }, quoted(key));
                    value.flow(out);
                }
                out.push('}');
            }
            Yaml::List(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    out.push_str(if index == 0 { "" } else { ", " });
                    item.flow(out);
                }
                out.push(']');
            }
            Yaml::Text(text) => out.push_str(&quoted(text)),
            Yaml::Raw(raw) => out.push_str(raw),
        }
    }
}

/// `text` as a double-quoted YAML scalar (JSON's escapes are YAML's).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// A field type: a scalar or the `n`th shared type or enum of the catalog, wrapped in `list<…>`, `map<…>` and `?`.
#[derive(Debug, Clone)]
struct FieldType {
    scalar: &'static str,
    /// Which shared type or enum, instead of the scalar.
    named: Option<usize>,
    /// Wrappers from the inside out: `l` list, `m` map, `o` optional.
    wrappers: Vec<char>,
}

impl FieldType {
    fn strategy() -> impl Strategy<Value = FieldType> {
        (
            select(SCALARS),
            option::weighted(0.4, 0..8usize),
            vec(select(vec!['l', 'm', 'o']), 0..3),
        )
            .prop_map(|(scalar, named, wrappers)| FieldType {
                scalar,
                named,
                wrappers,
            })
    }

    fn render(&self, named: &[String]) -> String {
        let base = match self.named {
            Some(index) if !named.is_empty() => named[index % named.len()].clone(),
            _ => self.scalar.to_owned(),
        };
        self.wrappers.iter().fold(base, |inner, wrapper| match wrapper {
            'l' => format!("list<{inner}>"),
            'm' => format!("map<{inner}>"),
            _ => format!("{inner}?"),
        })
    }
}

/// A field: short (`name: type`) or long, with description, `pii`, default and `deprecated`.
#[derive(Debug, Clone)]
struct FieldGen {
    name: String,
    ty: FieldType,
    description: Option<String>,
    default: Option<&'static str>,
    pii: bool,
    deprecated: bool,
}

impl FieldGen {
    fn strategy() -> impl Strategy<Value = FieldGen> {
        (
            snake(),
            FieldType::strategy(),
            text(),
            option::weighted(0.1, select(DEFAULTS)),
            any::<bool>(),
            prop::bool::weighted(0.1),
        )
            .prop_map(|(name, ty, description, default, pii, deprecated)| FieldGen {
                name,
                ty,
                description,
                default,
                pii,
                deprecated,
            })
    }

    fn entry(&self, named: &[String]) -> (String, Yaml) {
        let ty = self.ty.render(named);
        let value = if self.description.is_none() && self.default.is_none() && !self.pii && !self.deprecated {
            Yaml::Text(ty)
        } else {
            Yaml::map([
                ("type", Some(Yaml::Text(ty))),
                ("description", Yaml::text(&self.description)),
                ("default", Yaml::raw(&self.default)),
                ("pii", self.pii.then(|| Yaml::Raw("true".into()))),
                ("deprecated", self.deprecated.then(|| Yaml::Raw("true".into()))),
            ])
        };
        (self.name.clone(), value)
    }
}

fn fields(fields: &[FieldGen], named: &[String]) -> Vec<(String, Yaml)> {
    fields.iter().map(|field| field.entry(named)).collect()
}

/// A delivery policy, each part maybe there.
#[derive(Debug, Clone)]
struct PolicyGen {
    max_attempts: Option<&'static str>,
    first: Option<&'static str>,
    max: Option<&'static str>,
    retention: Option<&'static str>,
    max_len: Option<&'static str>,
}

impl PolicyGen {
    fn strategy() -> impl Strategy<Value = Option<PolicyGen>> {
        let part = |values: BoxedStrategy<&'static str>| option::weighted(0.4, values);
        option::weighted(
            0.2,
            (
                part(count()),
                part(duration()),
                part(duration()),
                part(duration()),
                part(count()),
            )
                .prop_map(|(max_attempts, first, max, retention, max_len)| PolicyGen {
                    max_attempts,
                    first,
                    max,
                    retention,
                    max_len,
                }),
        )
    }

    fn yaml(policy: &Option<PolicyGen>) -> Option<Yaml> {
        let policy = policy.as_ref()?;
        let backoff = (policy.first.is_some() || policy.max.is_some())
            .then(|| Yaml::map([("first", Yaml::raw(&policy.first)), ("max", Yaml::raw(&policy.max))]));
        Some(Yaml::map([
            ("max_attempts", Yaml::raw(&policy.max_attempts)),
            ("backoff", backoff),
            ("retention", Yaml::raw(&policy.retention)),
            ("max_len", Yaml::raw(&policy.max_len)),
        ]))
    }
}

/// An event: its subject field first (usually of a key type), its other fields, maybe an older version 1.
#[derive(Debug, Clone)]
struct EventGen {
    name: String,
    description: Option<String>,
    subject: String,
    subject_type: FieldType,
    fields: Vec<FieldGen>,
    previous: Option<Vec<FieldGen>>,
    delivery: Option<PolicyGen>,
}

impl EventGen {
    fn strategy() -> impl Strategy<Value = EventGen> {
        let key_type = prop_oneof![
            9 => select(KEY_SCALARS).prop_map(|scalar| FieldType {
                scalar,
                named: None,
                wrappers: Vec::new(),
            }),
            1 => FieldType::strategy(),
        ];
        (
            snake(),
            text(),
            prop_oneof![4 => Just("id".to_owned()), 1 => snake()],
            key_type,
            vec(FieldGen::strategy(), 0..3),
            option::weighted(0.2, vec(FieldGen::strategy(), 0..2)),
            PolicyGen::strategy(),
        )
            .prop_map(
                |(name, description, subject, subject_type, fields, previous, delivery)| EventGen {
                    name,
                    description,
                    subject,
                    subject_type,
                    fields,
                    previous,
                    delivery,
                },
            )
    }

    fn entry(&self, named: &[String]) -> (String, Yaml) {
        let with_subject = |others: &[FieldGen]| {
            let mut entries = fields(others, named);
            entries.insert(0, (self.subject.clone(), Yaml::Text(self.subject_type.render(named))));
            Yaml::Map(entries)
        };
        let previous = self.previous.as_ref().map(|older| {
            Yaml::Map(vec![(
                "1".to_owned(),
                Yaml::map([("fields", Some(with_subject(older)))]),
            )])
        });
        let value = Yaml::map([
            ("description", Yaml::text(&self.description)),
            ("version", previous.as_ref().map(|_| Yaml::Raw("2".into()))),
            ("subject", Some(Yaml::Text(self.subject.clone()))),
            ("delivery", PolicyGen::yaml(&self.delivery)),
            ("fields", Some(with_subject(&self.fields))),
            ("previous_versions", previous),
        ]);
        (self.name.clone(), value)
    }
}

#[derive(Debug, Clone)]
struct CategoryGen {
    name: String,
    description: Option<String>,
    partitions: Option<&'static str>,
    delivery: Option<PolicyGen>,
    events: Vec<EventGen>,
}

#[derive(Debug, Clone)]
struct CommandGen {
    name: (String, String),
    description: Option<String>,
    target: &'static str,
    timeout: Option<&'static str>,
    request: Vec<FieldGen>,
    response: Vec<FieldGen>,
}

/// A whole catalog.
#[derive(Debug, Clone)]
struct CatalogGen {
    name: Option<&'static str>,
    description: Option<String>,
    delivery: Option<PolicyGen>,
    types: Vec<(String, Option<String>, Vec<FieldGen>)>,
    enums: Vec<(String, Vec<String>)>,
    categories: Vec<CategoryGen>,
    commands: Vec<CommandGen>,
    notifications: Option<Vec<String>>,
}

fn catalog() -> impl Strategy<Value = CatalogGen> {
    let category = (
        snake(),
        text(),
        option::weighted(0.2, count()),
        PolicyGen::strategy(),
        vec(EventGen::strategy(), 1..4),
    )
        .prop_map(|(name, description, partitions, delivery, events)| CategoryGen {
            name,
            description,
            partitions,
            delivery,
            events,
        });
    let command = (
        (snake(), snake()),
        text(),
        select(SERVICES),
        option::weighted(0.3, duration()),
        vec(FieldGen::strategy(), 0..3),
        vec(FieldGen::strategy(), 0..2),
    )
        .prop_map(|(name, description, target, timeout, request, response)| CommandGen {
            name,
            description,
            target,
            timeout,
            request,
            response,
        });
    (
        option::weighted(0.9, select(CATALOG_NAMES)),
        text(),
        PolicyGen::strategy(),
        vec((pascal(), text(), vec(FieldGen::strategy(), 1..3)), 0..3),
        vec((pascal(), vec(snake(), 1..4)), 0..3),
        vec(category, 1..4),
        vec(command, 0..3),
        option::weighted(0.3, vec(snake(), 1..3)),
    )
        .prop_map(
            |(name, description, delivery, types, enums, categories, commands, notifications)| CatalogGen {
                name,
                description,
                delivery,
                types,
                enums,
                categories,
                commands,
                notifications,
            },
        )
}

impl CatalogGen {
    /// The catalog as YAML text.
    fn render(&self) -> String {
        let named: Vec<String> = self
            .types
            .iter()
            .map(|(name, _, _)| name.clone())
            .chain(self.enums.iter().map(|(name, _)| name.clone()))
            .collect();
        let types = self
            .types
            .iter()
            .map(|(name, description, members)| {
                let value = Yaml::map([
                    ("description", Yaml::text(description)),
                    ("fields", Some(Yaml::Map(fields(members, &named)))),
                ]);
                (name.clone(), value)
            })
            .collect();
        let enums = self
            .enums
            .iter()
            .map(|(name, values)| {
                (
                    name.clone(),
                    Yaml::List(values.iter().cloned().map(Yaml::Text).collect()),
                )
            })
            .collect();
        let categories = self
            .categories
            .iter()
            .map(|category| {
                let events = category.events.iter().map(|event| event.entry(&named)).collect();
                let value = Yaml::map([
                    ("description", Yaml::text(&category.description)),
                    ("partitions", Yaml::raw(&category.partitions)),
                    ("delivery", PolicyGen::yaml(&category.delivery)),
                    ("events", Some(Yaml::Map(events))),
                ]);
                (category.name.clone(), value)
            })
            .collect();
        let commands = self
            .commands
            .iter()
            .map(|command| {
                let value = Yaml::map([
                    ("description", Yaml::text(&command.description)),
                    ("target", Some(Yaml::Text(command.target.to_owned()))),
                    ("timeout", Yaml::raw(&command.timeout)),
                    ("request", Some(Yaml::Map(fields(&command.request, &named)))),
                    ("response", Some(Yaml::Map(fields(&command.response, &named)))),
                ]);
                (format!("{}.{}", command.name.0, command.name.1), value)
            })
            .collect();
        let notifications = self.notifications.as_ref().map(|types| {
            Yaml::map([(
                "types",
                Some(Yaml::List(types.iter().cloned().map(Yaml::Text).collect())),
            )])
        });
        Yaml::map([
            ("catalog", self.name.map(|name| Yaml::Text(name.to_owned()))),
            ("description", Yaml::text(&self.description)),
            ("delivery", PolicyGen::yaml(&self.delivery)),
            ("types", Some(Yaml::Map(types))),
            ("enums", Some(Yaml::Map(enums))),
            ("categories", Some(Yaml::Map(categories))),
            ("commands", Some(Yaml::Map(commands))),
            ("notifications", notifications),
        ])
        .document()
    }
}

/// A runner that draws the same catalogs on every run.
fn seeded(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

#[test]
fn every_random_catalog_is_generated_or_rejected_with_located_diagnostics() {
    let accepted = AtomicUsize::new(0);
    let result = seeded(CASES).run(&catalog(), |catalog| {
        let text = catalog.render();
        match xerpium_codegen::check_catalog_text(FILE, &text) {
            Ok(checked) => {
                let files = output::files(&checked);
                prop_assert!(files.len() > 3, "{text}");
                accepted.fetch_add(1, Ordering::Relaxed);
            }
            Err(diagnostics) => {
                prop_assert!(!diagnostics.0.is_empty(), "{text}");
                for diagnostic in &diagnostics.0 {
                    prop_assert!(
                        diagnostic.position.is_some(),
                        "no line and column: {diagnostic}\n{text}"
                    );
                }
            }
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    assert!(accepted.into_inner() > 0, "the grammar yields no accepted catalog");
}

/// The accepted catalogs the seeded runner draws first, `count` of them, with their texts.
fn accepted_catalogs(count: usize) -> Vec<(String, xerpium_codegen::Catalog)> {
    let mut runner = seeded(1);
    let strategy = catalog();
    let mut accepted = Vec::new();
    let mut drawn = 0;
    while accepted.len() < count && drawn < 100 * count {
        drawn += 1;
        let text = strategy.new_tree(&mut runner).expect("a catalog").current().render();
        if let Ok(checked) = xerpium_codegen::check_catalog_text(FILE, &text) {
            accepted.push((text, checked));
        }
    }
    assert_eq!(
        accepted.len(),
        count,
        "the grammar yields too few accepted catalogs ({drawn} drawn)"
    );
    accepted
}

/// The scratch crate: one module per catalog (`src/c00.rs` …, its catalog beside it as `src/c00.yaml`), the
/// documents of each under `docs/c00/`.
struct Scratch {
    dir: tempfile::TempDir,
    modules: Vec<String>,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("xerpium-random-catalogs-")
            .tempdir()
            .expect("a temporary directory");
        let runtime = support::workspace().join("runtime");
        let manifest = format!(
            r#"[package]
name = "xerpium-random-catalogs"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[lib]
path = "src/lib.rs"

[dependencies]
xerpium-messaging = {{ path = {runtime:?} }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"
chrono = {{ version = "0.4", default-features = false, features = ["std", "clock", "serde"] }}
uuid = {{ version = "1", features = ["v7", "serde"] }}
rust_decimal = {{ version = "1", default-features = false, features = ["std", "serde"] }}

# The workspace's dev profile, so that the dependencies it built are reused.
[profile.dev]
debug = "line-tables-only"

[profile.dev.package."*"]
debug = false
"#
        );
        std::fs::create_dir_all(dir.path().join("src")).expect("src/");
        std::fs::write(dir.path().join("Cargo.toml"), manifest).expect("manifest written");
        std::fs::copy(support::workspace().join("Cargo.lock"), dir.path().join("Cargo.lock")).expect("lock copied");
        Scratch {
            dir,
            modules: Vec::new(),
        }
    }

    /// Adds a catalog's module and documents.
    fn add(&mut self, text: &str, files: &[GeneratedFile]) {
        let module = format!("c{:02}", self.modules.len());
        let src = self.dir.path().join("src");
        std::fs::write(src.join(format!("{module}.yaml")), text).expect("catalog written");
        for file in files {
            let path = if file.path == xerpium_codegen::RUST_MODULE {
                src.join(format!("{module}.rs"))
            } else {
                self.dir.path().join("docs").join(&module).join(&file.path)
            };
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("directory made");
            std::fs::write(path, &file.contents).expect("file written");
        }
        self.modules.push(module);
    }

    /// Builds the crate into the workspace's target directory, warnings denied: with `cargo clippy` where clippy
    /// is installed (as in CI), since users lint the code they include, else with `cargo build`. On failure keeps
    /// the directory and panics with cargo's errors.
    fn build(self) -> PathBuf {
        let lib: String = self
            .modules
            .iter()
            .map(|module| format!("pub mod {module} {{\n    include!(\"{module}.rs\");\n}}\n"))
            .collect();
        std::fs::write(
            self.dir.path().join("src/lib.rs"),
            format!("//! Random catalogs, one module each (`cNN.yaml` beside).\n#![deny(warnings)]\n\n{lib}"),
        )
        .expect("lib.rs written");
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the target directory");
        let clippy = Command::new(env!("CARGO"))
            .args(["clippy", "--version"])
            .output()
            .is_ok_and(|output| output.status.success());
        let output = Command::new(env!("CARGO"))
            .arg(if clippy { "clippy" } else { "build" })
            .args(["--offline", "--quiet", "--message-format=short", "--manifest-path"])
            .arg(self.dir.path().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", target)
            .output()
            .expect("cargo runs");
        let dir = self.dir.keep();
        assert!(
            output.status.success(),
            "the generated code of accepted catalogs does not compile (the crate is kept in {}):\n{}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        dir
    }
}

/// Every mapping key of `value`, at any depth, is a string.
fn string_keys(value: &serde_yaml::Value) -> bool {
    match value {
        serde_yaml::Value::Mapping(map) => map.iter().all(|(key, value)| key.is_string() && string_keys(value)),
        serde_yaml::Value::Sequence(items) => items.iter().all(string_keys),
        _ => true,
    }
}

/// Imports each module of `modules` (`(name, file, event models)`) with `python`, warnings as errors, and checks
/// how many event models each has.
fn import_python(python: &Path, modules: &[(String, PathBuf, usize)]) {
    let script = "import importlib.util, sys\n\
        for name, path, events in zip(*[iter(sys.argv[1:])] * 3):\n    \
            spec = importlib.util.spec_from_file_location(name, path)\n    \
            module = importlib.util.module_from_spec(spec)\n    \
            sys.modules[name] = module\n    \
            spec.loader.exec_module(module)\n    \
            assert len(module.EVENTS) == int(events), (path, len(module.EVENTS), events)\n";
    let mut command = Command::new(python);
    command
        .args(["-W", "error", "-c", script])
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (name, path, events) in modules {
        command.arg(name).arg(path).arg(events.to_string());
    }
    let output = command.output().expect("python runs");
    assert!(
        output.status.success(),
        "a generated Python module does not import:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn accepted_random_catalogs_compile_and_their_documents_load() {
    let mut catalogs = accepted_catalogs(BATCH);
    let names = support::workspace().join("codegen/tests/fixtures/names.yaml");
    let text = std::fs::read_to_string(&names).expect("names.yaml");
    let checked = xerpium_codegen::check_catalog_text(FILE, &text).unwrap_or_else(|d| panic!("{d}"));
    catalogs.push((text, checked));

    let mut scratch = Scratch::new();
    let mut python_modules = Vec::new();
    for (text, catalog) in &catalogs {
        let files = output::files(catalog);
        let module = format!("c{:02}", scratch.modules.len());
        for file in &files {
            let at = format!("{module}/{} of\n{text}", file.path);
            if file.path.ends_with(".json") {
                let parsed: Result<serde_json::Value, _> = serde_json::from_str(&file.contents);
                assert!(parsed.is_ok(), "{at}: {parsed:?}");
            } else if file.path.ends_with(".yaml") {
                let parsed: Result<serde_yaml::Value, _> = serde_yaml::from_str(&file.contents);
                assert!(parsed.as_ref().is_ok_and(string_keys), "{at}: {parsed:?}");
            } else if file.path.ends_with(".py") {
                let path = scratch.dir.path().join("docs").join(&module).join(&file.path);
                python_modules.push((format!("random_{module}"), path, catalog.events().count()));
            }
        }
        scratch.add(text, &files);
    }
    if let Some(python) = support::python() {
        import_python(&python, &python_modules);
    }
    let kept = scratch.build();
    std::fs::remove_dir_all(kept).expect("scratch crate removed");
}
