//! company-partner's own settings, from the environment (the runtime's come
//! from `XERPIUM_*`).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `COMPANY_PARTNER_ADDR` | `127.0.0.1:8082` | where the HTTP API listens |
//! | `COMPANY_PARTNER_DATABASE` | `company-partner.sqlite3` | the SQLite file: companies, partners, rates, outbox |

use std::net::SocketAddr;
use std::path::PathBuf;

use xerpium_service::settings::{SettingError, Settings as Env};

/// company-partner's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where the HTTP API listens.
    pub addr: SocketAddr,
    /// The SQLite file.
    pub database: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            addr: SocketAddr::from(([127, 0, 0, 1], 8082)),
            database: PathBuf::from("company-partner.sqlite3"),
        }
    }
}

impl Settings {
    /// Reads the settings from `env`; what is unset keeps its default.
    pub fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Settings, SettingError> {
        let default = Settings::default();
        Ok(Settings {
            addr: env.parse("COMPANY_PARTNER_ADDR", default.addr)?,
            database: env.parse("COMPANY_PARTNER_DATABASE", default.database)?,
        })
    }
}
