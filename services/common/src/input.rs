//! Checks of free text callers send, shared by the services: names, optional
//! notes, and the `{"reason": "…"}` that goes with some actions. Each check
//! returns the value as stored, or a 422 naming the problem.

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
}
