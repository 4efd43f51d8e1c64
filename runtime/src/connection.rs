//! Connections to Redis: opening self-healing connections, bounding every
//! call in time, checking the server's eviction policy, and reporting an
//! outage once rather than once per retry.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError};

use crate::backoff::Backoff;
use crate::config::Config;
use crate::error::Error;

/// A connection that reconnects by itself after Redis went away.
pub(crate) type Connection = ConnectionManager;

/// Opens a connection to the configured Redis without waiting for it: the
/// first command connects. `response_timeout` bounds each reply (`None` for
/// a connection that sends blocking reads).
pub(crate) fn open(config: &Config, response_timeout: Option<Duration>) -> Result<Connection, Error> {
    let url_error = |source| Error::RedisUrl {
        url: config.redis_url().to_owned(),
        source,
    };
    let client = redis::Client::open(config.redis_url()).map_err(url_error)?;
    let settings = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(response_timeout)
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_secs(1));
    ConnectionManager::new_lazy_with_config(client, settings).map_err(url_error)
}

/// Runs `call`, failing with a timeout error when it takes longer than `limit`.
pub(crate) async fn bounded<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, RedisError> {
    tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
        Err(RedisError::from((
            ErrorKind::Io,
            "no reply from Redis in time",
            format!("{limit:?}"),
        )))
    })
}

/// Whether Redis answered `error` with the error code `code` (e.g. `NOGROUP`).
pub(crate) fn has_code(error: &RedisError, code: &str) -> bool {
    error.code() == Some(code)
}

/// Logs a loud warning when Redis may evict keys: eviction silently destroys
/// streams, groups and pending lists. A server that does not allow
/// `CONFIG GET` (managed offerings) or cannot be reached is only noted.
pub(crate) async fn warn_if_evicting(connection: &mut Connection, limit: Duration) {
    let reply: Result<Vec<String>, RedisError> = bounded(
        limit,
        redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory-policy")
            .query_async(connection),
    )
    .await;
    match reply.as_deref() {
        Ok([_, policy]) if policy != "noeviction" => tracing::warn!(
            maxmemory_policy = %policy,
            "Redis may evict keys under memory pressure (maxmemory-policy is `{policy}`): \
             eviction silently destroys streams, consumer groups and pending entries; \
             set `maxmemory-policy noeviction` on this server"
        ),
        Ok(_) => {}
        Err(error) => tracing::debug!(%error, "could not read Redis's maxmemory-policy"),
    }
}

/// Tracks one Redis outage as seen by one task, so that it is logged when
/// it starts and when it ends, not at every retry; also gives the delay
/// before the next retry (a [`Backoff`]).
#[derive(Debug)]
pub(crate) struct Outage {
    what: &'static str,
    backoff: Backoff,
    loud: bool,
}

impl Outage {
    /// An outage tracker for the task doing `what` (e.g. `reading`), which
    /// logs the start (warning) and end (info) of each outage.
    pub(crate) fn new(what: &'static str) -> Self {
        Outage {
            what,
            backoff: Backoff::DEFAULT,
            loud: true,
        }
    }

    /// A tracker that logs only at debug level, for tasks whose outage
    /// another task reports already.
    pub(crate) fn quiet(what: &'static str) -> Self {
        Outage {
            loud: false,
            ..Outage::new(what)
        }
    }

    /// Records a failure; returns how long to wait before retrying.
    pub(crate) fn failed(&mut self, error: &RedisError) -> Duration {
        if !self.backoff.is_failing() {
            if !self.loud {
                tracing::debug!(%error, "Redis is unavailable while {}", self.what);
            } else {
                tracing::warn!(%error, "Redis is unavailable while {}; retrying until it is back", self.what);
            }
        } else {
            tracing::debug!(%error, failures = self.backoff.failures(), "still no Redis while {}", self.what);
        }
        self.backoff.failed()
    }

    /// Records a success, logging the end of an outage if there was one.
    pub(crate) fn recovered(&mut self) {
        if let Some(recovered) = self.backoff.succeeded().filter(|_| self.loud) {
            tracing::info!(
                after = ?recovered.after,
                failures = recovered.failures,
                "Redis is back; {} resumes",
                self.what
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outage_delays_grow_and_reset() {
        let error = RedisError::from((ErrorKind::Io, "down"));
        let mut outage = Outage::new("testing");
        let first = outage.failed(&error);
        assert!(first <= Duration::from_millis(50));
        for _ in 0..30 {
            assert!(outage.failed(&error) <= Duration::from_secs(5));
        }
        assert!(outage.backoff.is_failing());
        outage.recovered();
        assert!(!outage.backoff.is_failing());
        assert!(outage.failed(&error) <= Duration::from_millis(50));
    }
}
