//! The [`CommandServer`]: serves the commands of one target service from
//! its command stream, `<ns>:commands:<target>`, and sends each reply to the
//! caller's reply stream.
//!
//! It runs a [`ServeCommands`] (generated, e.g.
//! `CompanyPartnerCommandServer(handlers)`) through the [`Consumer`], so
//! commands get everything events get: a consumer group (instances of the
//! service that share the group share the commands), at-least-once
//! delivery, retries with backoff, dead letters, reclaim of what a crashed
//! instance held, graceful shutdown, metrics and spans.
//!
//! # What happens to a command
//! - **Success**: the response goes back as an `ok` reply, then the entry
//!   is acked. If the reply cannot be written, the command is retried like
//!   a failed one (handlers may run twice: make them idempotent).
//! - **Retryable error** (`?` in a handler): retried after the backoff,
//!   with no reply; after the last attempt the error goes back as an
//!   `error` reply and the entry is dead-lettered (`retries-exhausted`).
//! - **Permanent error, undecodable request, unknown command**: an `error`
//!   reply at once, and a dead letter.
//! - **Past its deadline** (the caller has given up): acked without running
//!   the handler, so a backlog left by an outage does not run commands
//!   nobody waits for. The deadline is the caller's clock, compared with
//!   the server's: keep the machines' clocks in sync (NTP).
//! - A request whose `replyto` is not a reply stream of this namespace is
//!   dead-lettered (`permanent`) without running: a server writes replies
//!   nowhere else. A request without `replyto` is served, not answered.
//! - Entries the consumer itself dead-letters (not an envelope, delivered
//!   too often) get no reply: their caller times out.
//!
//! Every command's policy (attempts, backoff, retention) is the consumer's
//! default policy (`XERPIUM_MAX_ATTEMPTS`, …, or
//! [`ConsumerBuilder::default_policy`]). A new group starts at the
//! beginning of the stream, so commands sent before the first server
//! started are served while their callers still wait; older ones are past
//! their deadline.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::RedisError;
use tracing::Instrument;

use crate::command::{ServeCommands, field};
use crate::config::{Config, StartPosition};
use crate::connection::{self, Connection, bounded};
use crate::consumer::{Consumer, ConsumerBuilder, ConsumerProgress};
use crate::envelope::Envelope;
use crate::error::Error;
use crate::event::DeliveryPolicy;
use crate::handler::{Dispatch, HandlerError, HandlerResult};
use crate::message::Message;
use crate::reply;
use crate::stream::Fields;

/// How long a reply stream lives after the last reply written to it, by default.
pub const DEFAULT_REPLY_TTL: Duration = Duration::from_secs(60);

/// Approximate cap on a reply stream's length (its reader consumes replies
/// as they come; this only bounds a caller that stopped reading).
const REPLY_CAP: u64 = 10_000;

/// Serves a target service's commands; see the [module docs](self).
///
/// ```no_run
/// # async fn example<S: xerpium_messaging::ServeCommands>(
/// #     config: &xerpium_messaging::Config,
/// #     server: S,
/// #     shutdown: impl std::future::Future<Output = ()> + Send,
/// # ) -> Result<(), xerpium_messaging::Error> {
/// use xerpium_messaging::CommandServer;
/// let commands = CommandServer::builder(config)
///     .consumer_settings(|consumer| consumer.concurrency(32))
///     .build()?;
/// commands.run(server, shutdown).await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CommandServer {
    consumer: Consumer,
    reply_ttl: Duration,
}

impl CommandServer {
    /// A builder starting from `config`'s settings: the configured consumer
    /// group and consumer name, new groups starting at the beginning of the
    /// stream.
    pub fn builder(config: &Config) -> CommandServerBuilder {
        CommandServerBuilder {
            consumer: Consumer::builder(config).start(StartPosition::Beginning),
            reply_ttl: DEFAULT_REPLY_TTL,
        }
    }

    /// The settings this server runs with.
    pub fn config(&self) -> &Config {
        self.consumer.config()
    }

    /// A handle on this server's progress, for a heartbeat (see
    /// [`Consumer::progress`]).
    pub fn progress(&self) -> ConsumerProgress {
        self.consumer.progress()
    }

    /// Serves `serve`'s commands until `shutdown` completes, then drains
    /// and returns; errors as [`Consumer::run`].
    pub async fn run<S: ServeCommands>(self, serve: S, shutdown: impl Future<Output = ()> + Send) -> Result<(), Error> {
        let config = self.consumer.config();
        let keys = config.keys();
        let stream = keys.commands(serve.target());
        let dispatch = Serve {
            connection: connection::open(config, config.publish_timeout())?,
            reply_prefix: keys.replies(""),
            source: config.service().to_owned(),
            policy: config.default_policy(),
            reply_ttl: self.reply_ttl,
            limit: config.publish_timeout(),
            serve,
        };
        self.consumer.reading(vec![stream]).run(dispatch, shutdown).await
    }
}

/// Builds a [`CommandServer`].
#[derive(Debug, Clone)]
#[must_use]
pub struct CommandServerBuilder {
    consumer: ConsumerBuilder,
    reply_ttl: Duration,
}

impl CommandServerBuilder {
    /// Changes consumer settings: group, consumer name, concurrency, block
    /// time, claim idle time, the policy of every command, ….
    pub fn consumer_settings(mut self, change: impl FnOnce(ConsumerBuilder) -> ConsumerBuilder) -> Self {
        self.consumer = change(self.consumer);
        self
    }

    /// How long a reply stream lives after the last reply written to it
    /// (default [`DEFAULT_REPLY_TTL`]); keep it well above the time a
    /// caller takes to read a reply.
    pub fn reply_ttl(mut self, ttl: Duration) -> Self {
        self.reply_ttl = ttl;
        self
    }

    /// Checks the settings and returns the server.
    pub fn build(self) -> Result<CommandServer, Error> {
        Ok(CommandServer {
            consumer: self.consumer.build()?,
            reply_ttl: self.reply_ttl.max(Duration::from_millis(1)),
        })
    }
}

/// A [`ServeCommands`] as the consumer's dispatcher: serves each request
/// and writes its reply.
struct Serve<S> {
    serve: S,
    /// For writing replies.
    connection: Connection,
    /// `<ns>:replies:`: every reply stream starts with it.
    reply_prefix: String,
    source: String,
    policy: DeliveryPolicy,
    reply_ttl: Duration,
    limit: Duration,
}

impl<S: ServeCommands> Dispatch for Serve<S> {
    fn categories(&self) -> &'static [&'static str] {
        &[]
    }

    async fn dispatch(&self, message: &Message) -> HandlerResult {
        self.handle(message, &Fields::default()).await
    }

    async fn dispatch_entry(&self, message: &Message, fields: &Fields) -> HandlerResult {
        self.handle(message, fields).await
    }

    fn policy(&self, command: &str) -> Option<DeliveryPolicy> {
        self.serve.commands().contains(&command).then_some(self.policy)
    }
}

impl<S: ServeCommands> Serve<S> {
    async fn handle(&self, message: &Message, fields: &Fields) -> HandlerResult {
        let reply_to = fields.get(field::REPLY_TO);
        let span = tracing::info_span!(
            "command",
            command = %message.envelope.event_type,
            stream = %message.stream,
            entry_id = %message.entry_id,
            request_id = %message.envelope.id,
            correlation_id = %message.envelope.correlation_id,
            reply_to,
            delivery = message.delivery_count,
            outcome = tracing::field::Empty,
        );
        let (outcome, result) = self.answer(message, fields, reply_to).instrument(span.clone()).await;
        span.record("outcome", outcome);
        result
    }

    /// Serves the request and replies when its outcome is final; returns
    /// the outcome's name and what the consumer should do.
    async fn answer(
        &self,
        message: &Message,
        fields: &Fields,
        reply_to: Option<&str>,
    ) -> (&'static str, HandlerResult) {
        if let Some(to) = reply_to
            && !self.is_reply_stream(to)
        {
            let error = format!(
                "`{}` is `{to}`, not a reply stream of this namespace (`{}…`): not served",
                field::REPLY_TO,
                self.reply_prefix
            );
            return ("refused", Err(HandlerError::permanent(error)));
        }
        let result = match past_deadline(fields) {
            Ok(true) => {
                tracing::info!("command past its deadline, its caller no longer waits: dropped without running");
                return ("expired", Ok(()));
            }
            Ok(false) => self.serve.serve(message).await,
            Err(error) => Err(error),
        };
        let last = match &result {
            Ok(_) => true,
            Err(error) => !error.is_retryable() || message.delivery_count >= self.policy.max_attempts,
        };
        if let (true, Some(to)) = (last, reply_to) {
            let replied = self.reply(to, &message.envelope, result.as_deref()).await;
            match (&result, replied) {
                (_, Ok(())) => {}
                (Ok(_), Err(error)) => {
                    let error = HandlerError::retry(format!("cannot send the reply to `{to}`: {error}"));
                    return ("retry", Err(error));
                }
                (Err(_), Err(error)) => {
                    tracing::warn!(%error, reply_to = to, "cannot send the error reply; the caller will time out");
                }
            }
        }
        match result {
            Ok(_) => ("ok", Ok(())),
            Err(error) if last => ("failed", Err(error)),
            Err(error) => ("retry", Err(error)),
        }
    }

    fn is_reply_stream(&self, key: &str) -> bool {
        key.len() > self.reply_prefix.len() && key.starts_with(&self.reply_prefix)
    }

    /// Adds the reply to stream `to` and renews the stream's expiry, in one
    /// round trip.
    async fn reply(&self, to: &str, request: &Envelope, result: Result<&str, &HandlerError>) -> Result<(), RedisError> {
        let mut pipe = redis::pipe();
        let add = pipe.cmd("XADD").arg(to).arg("MAXLEN").arg("~").arg(REPLY_CAP).arg("*");
        for (name, value) in reply::fields(request, &self.source, result) {
            add.arg(name).arg(value);
        }
        add.ignore();
        let ttl = u64::try_from(self.reply_ttl.as_millis()).unwrap_or(u64::MAX);
        pipe.cmd("PEXPIRE").arg(to).arg(ttl).ignore();
        let mut connection = self.connection.clone();
        bounded(self.limit, pipe.query_async(&mut connection)).await
    }
}

/// Whether the request's `deadline` has passed; a malformed one is a
/// permanent error (its sender has a bug that retrying cannot fix).
fn past_deadline(fields: &Fields) -> Result<bool, HandlerError> {
    let Some(deadline) = fields.get(field::DEADLINE) else {
        return Ok(false);
    };
    let deadline = DateTime::parse_from_rfc3339(deadline).map_err(|error| {
        HandlerError::permanent(format!(
            "`{}` is not an RFC 3339 time ({deadline:?}): {error}",
            field::DEADLINE
        ))
    })?;
    Ok(deadline < Utc::now())
}
