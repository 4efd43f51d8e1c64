//! audit-logger's own settings, from the environment (the runtime's come
//! from `XERPIUM_*`; its consumer group is `XERPIUM_GROUP`, by default the
//! service name, and a new group starts at the beginning of the streams
//! unless `XERPIUM_START` says otherwise).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `AUDIT_LOGGER_ADDR` | `127.0.0.1:8083` | where the query API listens |
//! | `AUDIT_LOGGER_DATABASE` | `audit-logger.sqlite3` | the SQLite file of the trail |

use std::net::SocketAddr;
use std::path::PathBuf;

use xerpium_service::settings::{SettingError, Settings as Env};

/// The variable naming the database, also read by `audit-logger query`.
pub const DATABASE: &str = "AUDIT_LOGGER_DATABASE";

/// audit-logger's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where the query API listens.
    pub addr: SocketAddr,
    /// The SQLite file.
    pub database: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            addr: SocketAddr::from(([127, 0, 0, 1], 8083)),
            database: PathBuf::from("audit-logger.sqlite3"),
        }
    }
}

impl Settings {
    /// Reads the settings from `env`; what is unset keeps its default.
    pub fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Settings, SettingError> {
        let default = Settings::default();
        Ok(Settings {
            addr: env.parse("AUDIT_LOGGER_ADDR", default.addr)?,
            database: env.parse(DATABASE, default.database)?,
        })
    }
}
