//! Checks of what callers send, shared by the services: names, optional
//! notes, the `{"reason": "…"}` that goes with some actions, and values of
//! the catalog's enums. Each check returns the value as stored, or a 422
//! naming the problem.

use std::fmt::Display;

use serde::Deserialize;

use crate::http::ApiError;

/// The longest name accepted, in characters.
pub const MAX_NAME: usize = 200;
/// The longest optional text (a reason, a VAT number) accepted, in characters.
pub const MAX_TEXT: usize = 500;

/// A required name: trimmed, 1 to [`MAX_NAME`] characters; `field` names it in the error.
pub fn name(field: &str, text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_NAME {
        return Err(ApiError::unprocessable(format!(
            "{field} must have 1 to {MAX_NAME} characters"
        )));
    }
    Ok(text.to_owned())
}

/// Optional text: trimmed, blank as absent, at most [`MAX_TEXT`] characters.
pub fn optional_text(text: Option<String>) -> Result<Option<String>, ApiError> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) if text.chars().count() > MAX_TEXT => {
            Err(ApiError::unprocessable(format!("keep it under {MAX_TEXT} characters")))
        }
        Some(text) => Ok(Some(text.to_owned())),
    }
}

/// A value of one of the catalog's enums that this build knows, one of `known`
/// (the enum's `ALL`): the generated enums are open and read any value (an
/// event from a newer producer may carry one), but a caller may only send the
/// values this service knows. `field` names it in the error.
pub fn known<E: PartialEq + Display>(field: &str, value: E, known: &[E]) -> Result<E, ApiError> {
    if known.contains(&value) {
        return Ok(value);
    }
    let values: Vec<String> = known.iter().map(|value| format!("`{value}`")).collect();
    Err(ApiError::unprocessable(format!(
        "unknown {field} `{value}`: expected one of {}",
        values.join(", ")
    )))
}

/// Why an action is taken, as a request body or query: `{"reason": "…"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Free text; optional.
    #[serde(default)]
    pub reason: Option<String>,
}

impl Reason {
    /// The reason as stored (see [`optional_text`]).
    pub fn text(self) -> Result<Option<String>, ApiError> {
        optional_text(self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_texts() {
        assert_eq!(name("name", " Acme ").expect("valid"), "Acme");
        assert!(name("name", "  ").is_err());
        assert!(name("name", &"x".repeat(MAX_NAME + 1)).is_err());
        assert_eq!(optional_text(Some("  ".into())).expect("valid"), None);
        assert_eq!(optional_text(Some(" why ".into())).expect("valid"), Some("why".into()));
        assert!(optional_text(Some("x".repeat(MAX_TEXT + 1))).is_err());
        let reason: Reason = serde_json::from_str(r#"{"reason": " late "}"#).expect("valid");
        assert_eq!(reason.text().expect("valid"), Some("late".into()));
    }

    #[test]
    fn enum_values_must_be_known() {
        let all = ["admin", "viewer"];
        assert_eq!(known("role", "viewer", &all).expect("known"), "viewer");
        assert!(known("role", "root", &all).is_err());
    }
}
