//! Checks of what callers send: each returns the value as stored, or a 422
//! naming the problem.

use xerpium_service::ApiError;

/// A login e-mail: trimmed, lower case, one `@` with text on both sides,
/// at most 254 characters.
pub fn email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if valid {
        Ok(email)
    } else {
        Err(ApiError::unprocessable("enter an e-mail address like name@example.com"))
    }
}

/// A display name: trimmed, 1 to 200 characters.
pub fn display_name(name: &str) -> Result<String, ApiError> {
    xerpium_service::input::name("the name", name)
}

/// A phone number in E.164 form: `+` and 8 to 15 digits (spaces dropped).
pub fn phone(phone: &str) -> Result<String, ApiError> {
    let phone: String = phone.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = phone.strip_prefix('+').unwrap_or_default();
    if (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(phone)
    } else {
        Err(ApiError::unprocessable(
            "enter the phone number in E.164 form, e.g. +4930123456",
        ))
    }
}

/// A BCP 47 language tag, roughly: letters, digits and hyphens, 2 to 35.
pub fn locale(locale: &str) -> Result<String, ApiError> {
    let locale = locale.trim();
    let valid = (2..=35).contains(&locale.len())
        && locale.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && locale.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if valid {
        Ok(locale.to_owned())
    } else {
        Err(ApiError::unprocessable(
            "the locale must be a language tag like `en` or `de-CH`",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email("  Alice@Example.COM ").expect("valid"), "alice@example.com");
        for bad in ["", "alice", "@example.com", "alice@", "a b@example.com", "a@b@c"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_names_and_locales() {
        assert_eq!(phone("+49 30 123456").expect("valid"), "+4930123456");
        assert!(phone("030 123456").is_err());
        assert!(display_name("  ").is_err());
        assert_eq!(display_name(" Bob ").expect("valid"), "Bob");
        assert!(locale("de-CH").is_ok());
        assert!(locale("x").is_err());
        assert!(locale("en_US").is_err());
    }
}
