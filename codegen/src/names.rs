//! Naming rules of the catalog and the Rust names derived from catalog names.

use std::borrow::Cow;
use std::fmt::Write;

use heck::{ToKebabCase, ToPascalCase, ToSnakeCase};

use crate::model::Event;

/// The naming convention a catalog name must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// `logged_in`: events, categories, fields, enum values, notification types.
    Snake,
    /// `UserRole`: shared types and enums.
    Pascal,
    /// `company-partner`: services.
    Kebab,
    /// `company.get`: commands, dot-separated snake_case parts.
    Dotted,
}

impl Case {
    /// Whether `name` follows this convention.
    pub fn matches(self, name: &str) -> bool {
        match self {
            Case::Snake => is_snake(name),
            Case::Pascal => {
                name.starts_with(|c: char| c.is_ascii_uppercase()) && name.chars().all(|c| c.is_ascii_alphanumeric())
            }
            Case::Kebab => name.split('-').all(|part| {
                part.starts_with(|c: char| c.is_ascii_lowercase())
                    && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            }),
            Case::Dotted => name.contains('.') && name.split('.').all(is_snake),
        }
    }

    /// `name` converted to this convention, for hints.
    pub fn convert(self, name: &str) -> String {
        match self {
            Case::Snake => name.to_snake_case(),
            Case::Pascal => name.to_pascal_case(),
            Case::Kebab => name.to_kebab_case(),
            Case::Dotted => name
                .split('.')
                .map(|part| part.to_snake_case())
                .collect::<Vec<_>>()
                .join("."),
        }
    }

    /// The hint for a `name` that does not follow this convention: the converted name, when it does.
    pub fn hint(self, name: &str) -> Option<String> {
        let fixed = self.convert(name);
        self.matches(&fixed).then(|| format!("write `{fixed}`"))
    }

    /// How the convention is called in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Case::Snake => "snake_case",
            Case::Pascal => "PascalCase",
            Case::Kebab => "kebab-case",
            Case::Dotted => "dot-separated snake_case (`company.get`)",
        }
    }
}

fn is_snake(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('_')
        && !name.contains("__")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The PascalCase form of a snake_case, kebab-case or dotted name.
pub fn pascal(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    push_pascal(&mut out, name);
    out
}

/// Appends the PascalCase form of `name` (see [`pascal`]) to `out`.
fn push_pascal(out: &mut String, name: &str) {
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
    {
        out.extend(name.split(['.', '-']).map(ToPascalCase::to_pascal_case));
        return;
    }
    // Written in the catalog's conventions: each word capitalized, as heck would, without its general rules.
    for word in name.split(['.', '-', '_']).filter(|word| !word.is_empty()) {
        out.push(char::from(word.as_bytes()[0].to_ascii_uppercase()));
        out.push_str(&word[1..]);
    }
}

/// The snake_case form of a dotted or kebab-case name (`company.get` → `company_get`).
pub fn snake(name: &str) -> String {
    name.split(['.', '-'])
        .map(ToSnakeCase::to_snake_case)
        .collect::<Vec<_>>()
        .join("_")
}

/// The Rust type name of an event: category and event in PascalCase (`UserCreated`).
pub fn event_type_name(category: &str, event: &str) -> String {
    let mut out = String::with_capacity(category.len() + event.len());
    push_pascal(&mut out, category);
    push_pascal(&mut out, event);
    out
}

/// The Rust variant of a snake_case value (an enum value, a category, a notification type): its PascalCase form
/// (`read_only` → `ReadOnly`), or `Self_` for `self`, whose PascalCase form is a keyword.
pub fn variant_name(value: &str) -> String {
    match pascal(value) {
        keyword if keyword == "Self" => "Self_".to_owned(),
        variant => variant,
    }
}

/// The associated constant of every generated enum that lists its values (`Role::ALL`); no variant may take it.
pub const VALUES_CONSTANT: &str = "ALL";

/// The variant of every generated enum of the catalog (and of the notification types) that keeps a value this
/// build does not know (`Role::Unrecognized("auditor")`); no value may take it.
pub const UNRECOGNIZED_VARIANT: &str = "Unrecognized";

/// The handler trait of a category (`UserHandler`).
pub fn category_handler_name(category: &str) -> String {
    format!("{}Handler", pascal(category))
}

/// The dispatcher of a category (`UserDispatch`).
pub fn category_dispatch_name(category: &str) -> String {
    format!("{}Dispatch", pascal(category))
}

/// The request type of a command (`CompanyGetRequest`).
pub fn command_request_name(command: &str) -> String {
    format!("{}Request", pascal(command))
}

/// The response type of a command (`CompanyGetResponse`).
pub fn command_response_name(command: &str) -> String {
    format!("{}Response", pascal(command))
}

/// The handler trait of the commands a service serves (`CompanyPartnerCommands`).
pub fn commands_trait_name(target: &str) -> String {
    format!("{}Commands", pascal(target))
}

/// The server of the commands a service serves (`CompanyPartnerCommandServer`).
pub fn command_server_name(target: &str) -> String {
    format!("{}CommandServer", pascal(target))
}

/// The Rust module's own items, whatever the catalog, with what each is; no type of the catalog, and no name
/// derived from one (`{Category}Handler`), may take one. The module names everything else (`core`, `std`,
/// serde, the runtime) by absolute path, so `Option`, `String`, `Event` or `Message` are free.
pub const RUST_ITEM_NAMES: [(&str, &str); 9] = [
    ("Category", "the generated enum of the categories"),
    ("EventType", "the generated enum of the event types"),
    ("AnyEvent", "the generated enum of any event"),
    ("EventHandler", "the generated trait that handles every event"),
    ("EventDispatch", "the generated dispatcher of every event"),
    ("PublishEvents", "the generated trait of the publisher methods"),
    ("CommandClient", "the generated trait of the command methods"),
    ("NotificationType", "the generated enum of the notification types"),
    ("SendNotifications", "the generated trait of the notification methods"),
];

/// Names the Python module and the documents define beside the catalog's, whose classes and schemas are named
/// like the Rust types, with what each is: a type of the catalog named so would shadow it.
pub const DOCUMENT_NAMES: [(&str, &str); 25] = [
    (
        "Notification",
        "the notification message of the Python module and the documents",
    ),
    (
        "NotificationTarget",
        "the notification target of the Python module and the documents",
    ),
    (
        "NotificationTargetKind",
        "the kind of notification target of the Python module and the documents",
    ),
    (
        "Envelope",
        "the envelope of the Python module and the AsyncAPI document",
    ),
    ("DecodeError", "the decoding error of the Python module"),
    ("StreamLayout", "the stream layout class of the Python module"),
    ("DeliveryPolicy", "the delivery policy class of the Python module"),
    ("Delivery", "the delivered entry of the Python module"),
    ("HandlerError", "the handler error of the Python module"),
    ("Consumer", "the consumer of the Python module"),
    ("CommandServer", "the command server of the Python module"),
    ("CommandError", "the command error of the Python module"),
    ("CommandTimeout", "a command error of the Python module"),
    ("CommandFailed", "a command error of the Python module"),
    ("CommandTransportError", "a command error of the Python module"),
    ("Notifier", "the notifier of the Python module"),
    (
        "NotificationSubscription",
        "the notification subscription of the Python module",
    ),
    ("EVENTS", "the table of event models of the Python module"),
    ("STREAMS", "the table of stream layouts of the Python module"),
    ("TYPE", "a class constant of the Python event models"),
    ("VERSION", "a class constant of the Python event and command models"),
    ("CATEGORY", "a class constant of the Python event models"),
    ("SUBJECT", "a class constant of the Python event models"),
    ("NAME", "a class constant of the Python command models"),
    ("TARGET", "a class constant of the Python command models"),
];

/// The language in which a PascalCase name is a keyword that no identifier can spell: `Self` in Rust (not even
/// as a raw identifier), `None`, `True` and `False` in Python.
pub fn keyword_language(name: &str) -> Option<&'static str> {
    match name {
        "Self" => Some("Rust"),
        "None" | "True" | "False" => Some("Python"),
        _ => None,
    }
}

/// The generated type name of one version of an event: `UserCreated` for
/// the newest, `UserCreatedV1` for version 1 kept beside it. Every emitter
/// names types this way (Rust, Python, AsyncAPI).
pub fn event_version_type_name(event: &Event) -> String {
    let mut name = event_type_name(&event.category, &event.name);
    if !event.latest {
        // Writing to a `String` cannot fail.
        let _ = write!(name, "V{}", event.version);
    }
    name
}

/// The snake_case handler method of one version of an event within its
/// category: `created` for the newest, `created_v1` for version 1.
pub fn event_method_name(event: &Event) -> Cow<'_, str> {
    if event.latest {
        Cow::Borrowed(&event.name)
    } else {
        Cow::Owned(format!("{}_v{}", event.name, event.version))
    }
}

/// Rust keywords that cannot be raw identifiers (`r#self` is not allowed).
const NOT_RAW: [&str; 4] = ["self", "Self", "super", "crate"];

/// The other words that are not identifiers (those syn rejects as such, and `gen`, reserved since edition 2024), in
/// alphabetical order (they are looked up by binary search).
const KEYWORDS: [&str; 48] = [
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn", "else", "enum",
    "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod", "move",
    "mut", "override", "priv", "pub", "ref", "return", "static", "struct", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// The Rust identifier for a snake_case catalog name and whether it differs
/// from the name (then serde needs a rename): keywords become raw
/// identifiers (`r#type`, also `r#gen`, reserved since edition 2024), and the four that cannot be raw get a trailing
/// underscore (`self_`).
pub fn rust_ident(name: &str) -> (Cow<'_, str>, bool) {
    if NOT_RAW.contains(&name) {
        (Cow::Owned(format!("{name}_")), true)
    } else if KEYWORDS.binary_search(&name).is_ok() {
        (Cow::Owned(format!("r#{name}")), false)
    } else {
        (Cow::Borrowed(name), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_conventions() {
        assert!(Case::Snake.matches("logged_in2"));
        assert!(!Case::Snake.matches("loggedIn"));
        assert!(!Case::Snake.matches("_x"));
        assert!(Case::Pascal.matches("UserRole"));
        assert!(!Case::Pascal.matches("user_role"));
        assert!(Case::Kebab.matches("company-partner"));
        assert!(Case::Dotted.matches("company.get_by_id"));
        assert_eq!(Case::Snake.convert("LoggedIn"), "logged_in");
    }

    #[test]
    fn keywords_become_valid_identifiers() {
        assert!(KEYWORDS.is_sorted(), "sorted for binary search");
        let render = rust_ident;
        assert_eq!(render("type"), ("r#type".into(), false));
        assert_eq!(render("async"), ("r#async".into(), false));
        assert_eq!(render("self"), ("self_".into(), true));
        assert_eq!(render("email"), ("email".into(), false));
        assert_eq!(render("gen"), ("r#gen".into(), false));
        assert_eq!(event_type_name("user", "logged_in"), "UserLoggedIn");
        assert_eq!(pascal("company-partner"), "CompanyPartner");
        for name in [
            "v2_api",
            "a1",
            "user.logged_in",
            "x__y",
            "_a",
            "b_",
            "2fa",
            "ab-c.d_e",
            "Mixed_case",
        ] {
            let heck: String = name.split(['.', '-']).map(ToPascalCase::to_pascal_case).collect();
            assert_eq!(pascal(name), heck, "{name}");
        }
        assert_eq!(snake("company.get"), "company_get");
        assert_eq!(variant_name("read_only"), "ReadOnly");
        assert_eq!(variant_name("self"), "Self_", "`Self` is a keyword");
        assert_eq!(variant_name("crate"), "Crate");
    }

    #[test]
    fn hints_are_names_that_follow_the_convention() {
        assert_eq!(Case::Snake.hint("loggedIn").as_deref(), Some("write `logged_in`"));
        assert_eq!(
            Case::Kebab.hint("Billing_Service").as_deref(),
            Some("write `billing-service`")
        );
        assert_eq!(Case::Kebab.hint("a-1"), None, "no kebab-case spelling of it");
        assert_eq!(Case::Snake.hint(""), None);
    }
}
