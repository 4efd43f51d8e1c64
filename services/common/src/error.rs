//! [`Error`]: why a service could not start, or stopped on its own.

use crate::db::DbError;
use crate::settings::SettingError;

/// Why a service could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is invalid.
    #[error(transparent)]
    Settings(#[from] SettingError),
    /// The database cannot be used.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The messaging runtime cannot be set up, or a consumer stopped.
    #[error(transparent)]
    Messaging(#[from] xerpium_events::messaging::Error),
    /// Listening or serving failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A task the service cannot work without (its consumer, its command
    /// server) ended before the shutdown was asked for; see
    /// [`Essential`](crate::essential::Essential).
    #[error("{task} stopped unexpectedly: {source}")]
    Stopped {
        /// Which task, e.g. `the consumer`.
        task: &'static str,
        /// Why it ended: its error, `it returned`, or its panic.
        source: Box<Error>,
    },
    /// Anything else, said in words.
    #[error("{0}")]
    Other(String),
}
