//! The checked catalog: plain data, the only thing emitters see.
//!
//! Every name here is valid, every type reference resolves, every `subject`
//! names a field, the delivery policy of every event is resolved, and so is
//! the stream layout of every category: its partitions, and the longest
//! retention and largest cap of its types, by which its streams are trimmed.

use std::time::Duration;

/// A checked catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// The catalog's name (`xerpium`).
    pub name: String,
    /// The file it was read from, as named in generated headers (`events.yaml`).
    pub source: String,
    /// What the catalog is for.
    pub description: Option<String>,
    /// Shared structs, in catalog order.
    pub structs: Vec<Struct>,
    /// Shared enums, in catalog order.
    pub enums: Vec<Enum>,
    /// Event categories, in catalog order.
    pub categories: Vec<Category>,
    /// Commands, in catalog order.
    pub commands: Vec<Command>,
    /// Notification types and targets.
    pub notifications: Notifications,
}

impl Catalog {
    /// Every event of every category, in catalog order; an event with
    /// previous versions comes newest first, then the older ones.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.categories.iter().flat_map(|category| &category.events)
    }

    /// The shared struct named `name`.
    pub fn find_struct(&self, name: &str) -> Option<&Struct> {
        self.structs.iter().find(|item| item.name == name)
    }

    /// The shared enum named `name`.
    pub fn find_enum(&self, name: &str) -> Option<&Enum> {
        self.enums.iter().find(|item| item.name == name)
    }
}

/// A shared struct (`Money`).
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    /// PascalCase name.
    pub name: String,
    /// What it is.
    pub description: Option<String>,
    /// Its fields, in catalog order.
    pub fields: Vec<Field>,
}

/// A shared enum (`UserRole`) of snake_case values.
#[derive(Debug, Clone, PartialEq)]
pub struct Enum {
    /// PascalCase name.
    pub name: String,
    /// Its values as they appear on the wire, in catalog order.
    pub values: Vec<String>,
}

/// An event category: one stream, or one per partition.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    /// snake_case name (`user`).
    pub name: String,
    /// What its events are about.
    pub description: Option<String>,
    /// How its events are laid out in streams and trimmed.
    pub layout: StreamLayout,
    /// Its events, in catalog order; each version of an event is one
    /// [`Event`], the newest first.
    pub events: Vec<Event>,
}

impl Category {
    /// The key of its streams as the documents write it: `<ns>:events:<category>`, or
    /// `<ns>:events:<category>:<p>` when it is partitioned.
    pub fn stream_key(&self) -> String {
        if self.layout.is_partitioned() {
            format!("<ns>:events:{}:<p>", self.name)
        } else {
            format!("<ns>:events:{}", self.name)
        }
    }

    /// Where its events travel, in a few words for doc comments: ``stream `<ns>:events:user` `` or
    /// ``streams `<ns>:events:user:<p>` (8 partitions by subject, ordered across instances)``.
    pub fn streams_summary(&self) -> String {
        if self.layout.is_partitioned() {
            format!(
                "streams `{}` ({} partitions by subject, ordered across instances)",
                self.stream_key(),
                self.layout.partitions
            )
        } else {
            format!("stream `{}`", self.stream_key())
        }
    }
}

/// How a category's events are laid out in Redis streams and trimmed, the same for every type
/// of the category (the runtime's `StreamLayout`).
///
/// A partitioned category (more than one partition) is *ordered across instances*: an entry goes to
/// the partition of its subject, and each partition is read by one instance of a group at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLayout {
    /// How many streams: 1, or from 2 to [`StreamLayout::MAX_PARTITIONS`] for an ordered category.
    pub partitions: u32,
    /// Entries older than this are trimmed: the longest retention of the category's types.
    pub retention: Duration,
    /// Approximate cap on each stream's length: the largest of the category's types.
    pub max_len: u64,
}

impl StreamLayout {
    /// The most partitions a category may have.
    pub const MAX_PARTITIONS: u32 = 1024;

    /// The layout of `partitions` streams carrying `events`: one stream carries every type of its
    /// category (older versions too), so it is trimmed by the longest retention and the largest cap
    /// among them, and no type loses entries it still keeps. Without events, `policy`'s.
    pub fn carrying(partitions: u32, events: &[Event], policy: Policy) -> StreamLayout {
        let policies = || events.iter().map(|event| event.policy);
        StreamLayout {
            partitions,
            retention: policies().map(|p| p.retention).max().unwrap_or(policy.retention),
            max_len: policies().map(|p| p.max_len).max().unwrap_or(policy.max_len),
        }
    }

    /// Whether the category is split into several streams (ordered across instances).
    pub fn is_partitioned(&self) -> bool {
        self.partitions > 1
    }
}

/// One version of an event (`user.created` v2).
///
/// An event whose older versions are kept beside the newest (its
/// `previous_versions`) is one `Event` per version, sharing category, name
/// and delivery policy; only the newest has `latest` set.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The category's name (`user`).
    pub category: String,
    /// The event's snake_case name within its category (`created`).
    pub name: String,
    /// What happened.
    pub description: Option<String>,
    /// Schema version, from 1.
    pub version: u32,
    /// The name of the field that is the entity key.
    pub subject: String,
    /// How the runtime delivers it.
    pub policy: Policy,
    /// Its payload fields, in catalog order.
    pub fields: Vec<Field>,
    /// Whether this is the newest version; older ones are kept for consumers that have not moved yet.
    pub latest: bool,
    /// Whether an older version is marked on its way out (never the newest).
    pub deprecated: bool,
}

impl Event {
    /// The wire type name, `<category>.<event>`.
    pub fn type_name(&self) -> String {
        format!("{}.{}", self.category, self.name)
    }

    /// The catalog path of this version's node: the event's, or its entry under `previous_versions`.
    pub fn path(&self) -> String {
        let event = format!("categories.{}.events.{}", self.category, self.name);
        if self.latest {
            event
        } else {
            format!("{event}.previous_versions.{}", self.version)
        }
    }
}

/// A resolved delivery policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Deliveries before dead-lettering.
    pub max_attempts: u32,
    /// The delay before the first retry.
    pub backoff_first: Duration,
    /// The largest delay between retries.
    pub backoff_max: Duration,
    /// How long entries stay in the stream.
    pub retention: Duration,
    /// Approximate cap on the stream's length.
    pub max_len: u64,
}

impl Default for Policy {
    /// The runtime's defaults: 5 attempts, backoff 1 s to 5 min, 24 h, 1,000,000 entries.
    fn default() -> Self {
        Policy {
            max_attempts: 5,
            backoff_first: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            retention: Duration::from_secs(24 * 60 * 60),
            max_len: 1_000_000,
        }
    }
}

/// A command with a reply (`company.get`).
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Dotted snake_case name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// The service that serves it (kebab-case).
    pub target: String,
    /// How long callers wait by default.
    pub timeout: Duration,
    /// Schema version of request and response.
    pub version: u32,
    /// The request's fields.
    pub request: Vec<Field>,
    /// The response's fields.
    pub response: Vec<Field>,
}

/// Who can be notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One user.
    User,
    /// Every holder of a role.
    Role,
    /// Everyone.
    All,
}

impl Target {
    /// Its catalog name, as `notifications.targets` writes it: `user`, `role` or `all`.
    pub fn name(self) -> &'static str {
        match self {
            Target::User => "user",
            Target::Role => "role",
            Target::All => "all",
        }
    }
}

/// The notifications section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Notifications {
    /// What notifications are for.
    pub description: Option<String>,
    /// snake_case notification types, in catalog order.
    pub types: Vec<String>,
    /// Who can be notified.
    pub targets: Vec<Target>,
}

/// A field of an event, struct, request or response.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The wire name (snake_case; may be a Rust or Python keyword).
    pub name: String,
    /// What it holds.
    pub description: Option<String>,
    /// Its type.
    pub ty: TypeRef,
    /// Whether it holds personal data.
    pub pii: bool,
    /// The value assumed when it is absent.
    pub default: Option<Value>,
    /// Whether it is on its way out.
    pub deprecated: bool,
}

impl Field {
    /// Whether every payload carries it: it is neither optional nor has a default.
    pub fn is_required(&self) -> bool {
        !self.ty.is_optional() && self.default.is_none()
    }
}

/// A built-in scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// UTF-8 text.
    String,
    /// `true` or `false`.
    Bool,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 32-bit integer.
    U32,
    /// Unsigned 64-bit integer.
    U64,
    /// 64-bit float (never for money).
    F64,
    /// Exact decimal, as a JSON string (`"12.50"`).
    Decimal,
    /// UUID, as a string.
    Uuid,
    /// RFC 3339 timestamp.
    DateTime,
    /// ISO 8601 calendar date.
    Date,
    /// Any JSON value.
    Json,
}

impl Scalar {
    /// Every scalar with its catalog name.
    pub const ALL: [(&'static str, Scalar); 12] = [
        ("string", Scalar::String),
        ("bool", Scalar::Bool),
        ("i32", Scalar::I32),
        ("i64", Scalar::I64),
        ("u32", Scalar::U32),
        ("u64", Scalar::U64),
        ("f64", Scalar::F64),
        ("decimal", Scalar::Decimal),
        ("uuid", Scalar::Uuid),
        ("datetime", Scalar::DateTime),
        ("date", Scalar::Date),
        ("json", Scalar::Json),
    ];

    /// The scalar with this catalog name.
    pub fn from_name(name: &str) -> Option<Scalar> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// Its catalog name.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, s)| *s == self).map_or("", |(n, _)| n)
    }
}

/// A resolved field type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TypeRef {
    /// A built-in scalar.
    Scalar(Scalar),
    /// A shared struct, by name.
    Struct(String),
    /// A shared enum, by name.
    Enum(String),
    /// `list<T>`.
    List(Box<TypeRef>),
    /// `map<T>` with string keys.
    Map(Box<TypeRef>),
    /// `T?`.
    Optional(Box<TypeRef>),
}

impl TypeRef {
    /// Whether a value may be absent.
    pub fn is_optional(&self) -> bool {
        matches!(self, TypeRef::Optional(_))
    }
}

impl std::fmt::Display for TypeRef {
    /// The catalog spelling of the type (`list<Money?>`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TypeRef::Scalar(scalar) => f.write_str(scalar.name()),
            TypeRef::Struct(name) | TypeRef::Enum(name) => f.write_str(name),
            TypeRef::List(item) => write!(f, "list<{item}>"),
            TypeRef::Map(value) => write!(f, "map<{value}>"),
            TypeRef::Optional(inner) => write!(f, "{inner}?"),
        }
    }
}

/// A checked default value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Integer(i128),
    /// A float.
    Float(f64),
    /// An exact decimal, as written.
    Decimal(rust_decimal::Decimal),
    /// A value of an enum.
    EnumValue(String),
    /// An empty list or map, or `null` for an optional field.
    Empty,
}
