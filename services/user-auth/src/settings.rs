//! user-auth's own settings, from the environment (the runtime's come from
//! `XERPIUM_*`).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `USER_AUTH_ADDR` | `127.0.0.1:8081` | where the HTTP API (and the page) listens |
//! | `USER_AUTH_DATABASE` | `user-auth.sqlite3` | the SQLite file: users, sessions, outbox |
//! | `USER_AUTH_MAX_FAILED_LOGINS` | `5` | consecutive failed sign-ins that lock an account |
//! | `USER_AUTH_SESSION_TTL` | `8h` | how long a session lasts |
//! | `USER_AUTH_DEFAULT_COMPANY` | `00000000-0000-0000-0000-000000000001` | the company of users who register without naming one |

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use uuid::Uuid;
use xerpium_service::settings::{SettingError, Settings as Env};

/// The company of users who register without naming one.
pub const DEFAULT_COMPANY: Uuid = Uuid::from_u128(1);

/// user-auth's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where the HTTP API listens.
    pub addr: SocketAddr,
    /// The SQLite file.
    pub database: PathBuf,
    /// Consecutive failed sign-ins that lock an account.
    pub max_failed_logins: u32,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// The company of users who register without naming one.
    pub default_company: Uuid,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            addr: SocketAddr::from(([127, 0, 0, 1], 8081)),
            database: PathBuf::from("user-auth.sqlite3"),
            max_failed_logins: 5,
            session_ttl: Duration::from_secs(8 * 3600),
            default_company: DEFAULT_COMPANY,
        }
    }
}

impl Settings {
    /// How long a session lasts, as a time span.
    pub fn session_length(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::from_std(self.session_ttl).unwrap_or(chrono::TimeDelta::hours(8))
    }

    /// Reads the settings from `env`; what is unset keeps its default.
    pub fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Settings, SettingError> {
        let default = Settings::default();
        Ok(Settings {
            addr: env.parse("USER_AUTH_ADDR", default.addr)?,
            database: env.parse("USER_AUTH_DATABASE", default.database)?,
            max_failed_logins: env
                .parse("USER_AUTH_MAX_FAILED_LOGINS", default.max_failed_logins)?
                .max(1),
            session_ttl: session_ttl(env.duration("USER_AUTH_SESSION_TTL", default.session_ttl)?)?,
            default_company: env.parse("USER_AUTH_DEFAULT_COMPANY", default.default_company)?,
        })
    }
}

/// The longest session accepted: a year.
const MAX_SESSION: Duration = Duration::from_secs(365 * 24 * 3600);

fn session_ttl(ttl: Duration) -> Result<Duration, SettingError> {
    if (Duration::from_secs(60)..=MAX_SESSION).contains(&ttl) {
        Ok(ttl)
    } else {
        Err(SettingError::Invalid {
            variable: "USER_AUTH_SESSION_TTL".into(),
            value: format!("{}s", ttl.as_secs()),
            reason: "must be between 1 minute and 365 days".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(Settings::read(&Env::new(|_| None)), Ok(Settings::default()));
        let settings = Settings::read(&Env::new(|name| match name {
            "USER_AUTH_ADDR" => Some("0.0.0.0:9000".into()),
            "USER_AUTH_MAX_FAILED_LOGINS" => Some("3".into()),
            "USER_AUTH_SESSION_TTL" => Some("30m".into()),
            _ => None,
        }))
        .expect("valid");
        assert_eq!(settings.addr.port(), 9000);
        assert_eq!(settings.max_failed_logins, 3);
        assert_eq!(settings.session_length(), chrono::TimeDelta::minutes(30));
        let error = Settings::read(&Env::new(|name| (name == "USER_AUTH_SESSION_TTL").then(|| "1s".into())));
        assert!(error.is_err());
    }
}
