//! What can go wrong, worded for the operator.

use xerpium_messaging::ConfigError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration (environment or flags) is invalid.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// Redis did not answer at all.
    #[error(
        "cannot reach Redis at {url}: {source} (is it running? set XERPIUM_REDIS_URL or --redis-url, or XERPIUM_REDIS_CLUSTER_NODES for a cluster)"
    )]
    Unreachable {
        /// The URL, password masked.
        url: String,
        /// What the client said.
        #[source]
        source: redis::RedisError,
    },
    /// Redis refused or failed a command.
    #[error("Redis at {url} failed while {doing}: {source}")]
    Redis {
        /// The URL, password masked.
        url: String,
        /// What the command was doing.
        doing: String,
        /// What Redis said.
        #[source]
        source: redis::RedisError,
    },
    /// The runtime failed: its health monitor, or a check of the server at
    /// start (its message names the URL).
    #[error("{0}")]
    Monitor(#[from] xerpium_messaging::Error),
    /// No dead letter with that id.
    #[error("no dead letter `{id}` in {stream}")]
    NoSuchDeadLetter {
        /// The dead-letter stream.
        stream: String,
        /// The id asked for.
        id: String,
    },
    /// Some dead letters could not be replayed (each was reported).
    #[error("{count} dead letter(s) could not be replayed")]
    NotReplayed {
        /// How many.
        count: usize,
    },
    /// A purge was not confirmed.
    #[error("no answer on standard input; nothing deleted (pass --yes to purge without asking)")]
    NotConfirmed,
    /// A setting of the environment is invalid.
    #[error("{name} {problem}")]
    Setting {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The dashboard cannot listen where it was told to.
    #[error("the dashboard cannot listen on {addr}: {source} (is another program using it? pass another --addr)")]
    Listen {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Output could not be written.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    /// A value could not be turned into JSON.
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
}
