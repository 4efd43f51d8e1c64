//! Naming rules of the catalog and the Rust names derived from catalog names.

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
    name.split(['.', '-']).map(ToPascalCase::to_pascal_case).collect()
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
    format!("{}{}", pascal(category), pascal(event))
}

/// Names of `xerpium-messaging` that the Rust module imports for events.
pub const RUNTIME_EVENT_NAMES: [&str; 12] = [
    "DecodeError",
    "DeliveryPolicy",
    "Dispatch",
    "Event",
    "HandlerError",
    "HandlerResult",
    "Message",
    "Publish",
    "PublishContext",
    "PublishError",
    "StreamLayout",
    "UnknownName",
];

/// Names of `xerpium-messaging` that the Rust module imports when the catalog has commands.
pub const RUNTIME_COMMAND_NAMES: [&str; 5] = [
    "Command",
    "CommandCaller",
    "CommandError",
    "ServeCommands",
    "encode_response",
];

/// Names of `xerpium-messaging` that the Rust module imports when the catalog has notifications.
pub const RUNTIME_NOTIFICATION_NAMES: [&str; 3] = ["Notification", "NotificationTarget", "Notify"];

/// Type names the generated code defines or brings into scope besides the
/// catalog's and the runtime's: the Rust module's own and its `std`/`serde`
/// imports; `Envelope` and `NotificationTargetKind` (the Python module and the AsyncAPI document).
pub const GENERATED_NAMES: [&str; 16] = [
    "Category",
    "EventType",
    "AnyEvent",
    "EventHandler",
    "EventDispatch",
    "PublishEvents",
    "CommandClient",
    "NotificationType",
    "SendNotifications",
    "Envelope",
    "NotificationTargetKind",
    "Duration",
    "Future",
    "FromStr",
    "Serialize",
    "Deserialize",
];

/// Every type name a catalog must not take: it would clash in the generated code.
pub fn reserved_names() -> impl Iterator<Item = &'static str> {
    GENERATED_NAMES
        .into_iter()
        .chain(RUNTIME_EVENT_NAMES)
        .chain(RUNTIME_COMMAND_NAMES)
        .chain(RUNTIME_NOTIFICATION_NAMES)
}

/// The generated type name of one version of an event: `UserCreated` for
/// the newest, `UserCreatedV1` for version 1 kept beside it. Every emitter
/// names types this way (Rust, Python, AsyncAPI).
pub fn event_version_type_name(event: &Event) -> String {
    let base = event_type_name(&event.category, &event.name);
    if event.latest {
        base
    } else {
        format!("{base}V{}", event.version)
    }
}

/// The snake_case handler method of one version of an event within its
/// category: `created` for the newest, `created_v1` for version 1.
pub fn event_method_name(event: &Event) -> String {
    if event.latest {
        event.name.clone()
    } else {
        format!("{}_v{}", event.name, event.version)
    }
}

/// Rust keywords that cannot be raw identifiers (`r#self` is not allowed).
const NOT_RAW: [&str; 4] = ["self", "Self", "super", "crate"];

/// The Rust identifier for a snake_case catalog name and whether it differs
/// from the name (then serde needs a rename): keywords become raw
/// identifiers (`r#type`, also `r#gen`, reserved since edition 2024), and the four that cannot be raw get a trailing
/// underscore (`self_`).
pub fn rust_ident(name: &str) -> (proc_macro2::Ident, bool) {
    if NOT_RAW.contains(&name) {
        (
            proc_macro2::Ident::new(&format!("{name}_"), proc_macro2::Span::call_site()),
            true,
        )
    } else if name != "gen" && syn::parse_str::<syn::Ident>(name).is_ok() {
        (proc_macro2::Ident::new(name, proc_macro2::Span::call_site()), false)
    } else {
        (proc_macro2::Ident::new_raw(name, proc_macro2::Span::call_site()), false)
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
        let render = |name| {
            let (ident, renamed) = rust_ident(name);
            (ident.to_string(), renamed)
        };
        assert_eq!(render("type"), ("r#type".into(), false));
        assert_eq!(render("async"), ("r#async".into(), false));
        assert_eq!(render("self"), ("self_".into(), true));
        assert_eq!(render("email"), ("email".into(), false));
        assert_eq!(event_type_name("user", "logged_in"), "UserLoggedIn");
        assert_eq!(pascal("company-partner"), "CompanyPartner");
        assert_eq!(snake("company.get"), "company_get");
    }
}
