//! The configuration and the Redis connection of one command.

use std::future::Future;
use std::time::Duration;

use redis::RedisError;
use xerpium_messaging::connection::Connection;
use xerpium_messaging::{Config, HealthMonitor, Keys};

use crate::entry::{self, Entry};
use crate::error::Error;

/// How long `tail` waits in one blocking read.
pub const TAIL_BLOCK: Duration = Duration::from_secs(1);

/// What every command works with.
pub struct Session {
    /// The configuration, as the services read it (plus the flags).
    pub config: Config,
    /// The namespace's keys.
    pub keys: Keys,
    /// The Redis URL (or cluster nodes), passwords masked.
    pub url: String,
    /// A connection (to one server or a cluster) that answered `PING`.
    pub redis: Connection,
}

impl Session {
    /// Reads the configuration (environment, then `redis_url` and
    /// `namespace` when given) and connects; fails, naming the URL, when
    /// Redis does not answer.
    pub async fn open(redis_url: Option<&str>, namespace: Option<&str>) -> Result<Session, Error> {
        let mut config = Config::from_env_for_tool("xerpium-mq")?;
        if redis_url.is_some() || namespace.is_some() {
            let mut builder = config.into_builder();
            if let Some(url) = redis_url {
                builder = builder.redis_url(url);
            }
            if let Some(namespace) = namespace {
                builder = builder.namespace(namespace);
            }
            config = builder.build()?;
        }
        let url = config.redis_url_redacted();
        let redis = Connection::connect(&config).await.map_err(|error| match error {
            xerpium_messaging::Error::Unreachable { source, .. } => Error::Unreachable {
                url: url.clone(),
                source,
            },
            other => Error::Monitor(other),
        })?;
        Ok(Session {
            keys: config.keys(),
            url,
            config,
            redis,
        })
    }

    /// A health monitor of the namespace.
    pub fn monitor(&self) -> Result<HealthMonitor, Error> {
        Ok(HealthMonitor::new(&self.config)?)
    }

    /// The entries a range command (`XRANGE`, `XREVRANGE`) answers.
    pub async fn entries(&self, doing: &str, command: &redis::Cmd) -> Result<Vec<Entry>, Error> {
        let mut redis = self.redis.clone();
        let reply = self.run(doing, command.query_async(&mut redis)).await?;
        self.run(doing, async { entry::range(reply) }).await
    }

    /// The newest entry of `stream`, if it has any.
    pub async fn newest(&self, stream: &str) -> Result<Option<Entry>, Error> {
        let read = redis::cmd("XREVRANGE")
            .arg(stream)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .to_owned();
        Ok(self
            .entries("reading the newest entry", &read)
            .await?
            .into_iter()
            .next())
    }

    /// Awaits `call`; a failure says what was being done, and where.
    pub async fn run<T>(&self, doing: &str, call: impl Future<Output = Result<T, RedisError>>) -> Result<T, Error> {
        call.await.map_err(|source| Error::Redis {
            url: self.url.clone(),
            doing: doing.to_owned(),
            source,
        })
    }
}
