//! A service's own settings from the environment (next to the runtime's
//! `XERPIUM_*`): each read names its variable, and a value that cannot be
//! used is an error naming the variable and the value, never a silent
//! fallback.

use std::str::FromStr;
use std::time::Duration;

use xerpium_events::messaging::{Config, ConfigError, config::var};

/// Why a setting cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// The runtime's `XERPIUM_*` settings are invalid.
    #[error(transparent)]
    Messaging(#[from] ConfigError),
    /// A service setting has a value that cannot be used.
    #[error("{variable}={value:?} is invalid: {reason}")]
    Invalid {
        /// The environment variable.
        variable: String,
        /// The value found.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads settings from a lookup function (the process environment in
/// production, a map in tests).
pub struct Settings<F> {
    lookup: F,
}

impl Settings<fn(&str) -> Option<String>> {
    /// Settings from the process environment.
    pub fn from_env() -> Self {
        Settings {
            lookup: |name| std::env::var(name).ok(),
        }
    }
}

impl<F: Fn(&str) -> Option<String>> Settings<F> {
    /// Settings looked up with `lookup`.
    pub fn new(lookup: F) -> Self {
        Settings { lookup }
    }

    /// The raw value of `variable`, if set and not blank.
    pub fn raw(&self, variable: &str) -> Option<String> {
        (self.lookup)(variable).filter(|value| !value.trim().is_empty())
    }

    /// `variable` parsed with [`FromStr`], or `default` when unset.
    pub fn parse<T>(&self, variable: &str, default: T) -> Result<T, SettingError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.raw(variable) {
            None => Ok(default),
            Some(value) => value.trim().parse().map_err(|error: T::Err| SettingError::Invalid {
                variable: variable.to_owned(),
                reason: error.to_string(),
                value,
            }),
        }
    }

    /// `variable` as a string, or `default` when unset.
    pub fn string(&self, variable: &str, default: &str) -> String {
        self.raw(variable).unwrap_or_else(|| default.to_owned())
    }

    /// `variable` as a duration (`250ms`, `30s`, `8h`), or `default` when unset.
    pub fn duration(&self, variable: &str, default: Duration) -> Result<Duration, SettingError> {
        match self.raw(variable) {
            None => Ok(default),
            Some(value) => humantime::parse_duration(value.trim()).map_err(|error| SettingError::Invalid {
                variable: variable.to_owned(),
                reason: format!("{error} (write a duration like `250ms`, `30s`, `8h`)"),
                value,
            }),
        }
    }

    /// The runtime's configuration (`XERPIUM_*`), with `service` as the
    /// service name unless `XERPIUM_SERVICE` says otherwise.
    pub fn messaging(&self, service: &str) -> Result<Config, SettingError> {
        Ok(Config::from_vars(|variable| {
            self.raw(variable)
                .or_else(|| (variable == var::SERVICE).then(|| service.to_owned()))
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &'static [(&'static str, &'static str)]) -> Settings<impl Fn(&str) -> Option<String>> {
        Settings::new(move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn values_defaults_and_errors() {
        let s = settings(&[("PORT", "8080"), ("BAD", "eighty"), ("TTL", "90s"), ("BLANK", " ")]);
        assert_eq!(s.parse("PORT", 1u16), Ok(8080));
        assert_eq!(s.parse("UNSET", 1u16), Ok(1));
        assert_eq!(s.parse("BLANK", 1u16), Ok(1));
        let error = s.parse("BAD", 1u16).unwrap_err().to_string();
        assert!(error.contains("BAD") && error.contains("eighty"), "{error}");
        assert_eq!(s.duration("TTL", Duration::ZERO), Ok(Duration::from_secs(90)));
        assert!(s.duration("BAD", Duration::ZERO).is_err());
    }

    #[test]
    fn the_service_name_defaults_to_the_service() {
        let config = settings(&[]).messaging("user-auth").expect("valid");
        assert_eq!(config.service(), "user-auth");
        let config = settings(&[("XERPIUM_SERVICE", "other")])
            .messaging("user-auth")
            .expect("valid");
        assert_eq!(config.service(), "other");
    }
}
