//! The [`Caller`]: sends commands to their target services and waits for
//! their replies; the generated `CommandClient` methods run on it.
//!
//! # How a call travels
//! 1. The request becomes an envelope (`type` = the command's name,
//!    `subject` = the request id, the correlation id of the caller's
//!    context) plus `replyto` (this caller's reply stream) and `deadline`
//!    (when the caller stops waiting), added with `XADD` to
//!    `<ns>:commands:<target>`.
//! 2. An instance of the target, running a [`CommandServer`](crate::CommandServer),
//!    handles it and adds the reply to the reply stream
//!    `<ns>:replies:<client>`, which is created by that write and expires a
//!    while after the last one (each reply renews its expiry).
//! 3. One background task per caller reads the reply stream and hands each
//!    reply to the call waiting for that request id.
//!
//! The call is registered before the request is sent, so a reply that
//! comes back before the caller waits is kept. After a timeout, the call is
//! forgotten: its late reply is dropped, never handed to another call.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, SubsecRound, TimeDelta, Utc};
use redis::Value;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

use crate::command::{Command, CommandCaller, CommandError, field};
use crate::config::Config;
use crate::connection::{self, Connection, ReadConnection, bounded};
use crate::envelope::Envelope;
use crate::error::Error;
use crate::event::DeliveryPolicy;
use crate::keys::Keys;
use crate::publish::PublishContext;
use crate::reply::{Answer, Reply};
use crate::reply_reader::{Reader, Waiting};
use crate::task::AbortOnDrop;
use crate::telemetry::trace;
use crate::trim::AgeTrims;

/// A deadline for calls whose timeout is too long to add to the clock.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// Sends commands and waits for their replies. Cheap to clone: clones share
/// one connection, one reply stream and its reader.
///
/// ```no_run
/// # async fn example(config: &xerpium_messaging::Config) -> Result<(), Box<dyn std::error::Error>> {
/// use xerpium_messaging::{Caller, PublishContext};
/// let caller = Caller::connect(config).await?;
/// // Calls made through `traced` carry this correlation id.
/// let traced = caller.with_context(PublishContext::new().with_correlation_id("req-42"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Caller {
    shared: Arc<Shared>,
    context: PublishContext,
}

struct Shared {
    connection: Connection,
    keys: Keys,
    source: String,
    reply_stream: String,
    /// Bound on sending a request.
    limit: Duration,
    /// Trimming of command streams.
    policy: DeliveryPolicy,
    /// The age bounds last sent for the command streams.
    age_trims: AgeTrims,
    waiting: Arc<Waiting>,
    _reader: AbortOnDrop,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("source", &self.shared.source)
            .field("reply_stream", &self.shared.reply_stream)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// A caller for `config`'s Redis, namespace and service, with a reply
    /// stream of its own (`<ns>:replies:<service>-<unique id>`) and its
    /// reader task. Does not fail when Redis is down: calls then fail until
    /// it is back. Call it inside a Tokio runtime.
    pub async fn connect(config: &Config) -> Result<Caller, Error> {
        let keys = config.keys();
        let reply_stream = keys.replies(&format!("{}-{}", config.service(), Uuid::now_v7().simple()));
        let waiting = Arc::new(Waiting::default());
        let connection = connection::open(config, config.publish_timeout())?;
        let reader = Reader {
            connection: ReadConnection::new(config, &reply_stream, &connection)?,
            stream: reply_stream.clone(),
            block: config.block(),
            limit: config.publish_timeout(),
            waiting: waiting.clone(),
        };
        Ok(Caller {
            shared: Arc::new(Shared {
                connection,
                keys,
                source: config.service().to_owned(),
                reply_stream,
                limit: config.publish_timeout(),
                policy: config.default_policy(),
                age_trims: AgeTrims::default(),
                waiting,
                _reader: AbortOnDrop::spawn(reader.run()),
            }),
            context: PublishContext::new(),
        })
    }

    /// A caller sharing this one's connection and reply stream whose calls
    /// carry `context`: its correlation id (otherwise each request is its
    /// own correlation id), causation id and trace. In a handler, pass
    /// `message.follow_up()`.
    pub fn with_context(&self, context: PublishContext) -> Caller {
        Caller {
            shared: self.shared.clone(),
            context,
        }
    }

    /// This caller's reply stream, `<ns>:replies:<client>`.
    pub fn reply_stream(&self) -> &str {
        &self.shared.reply_stream
    }

    /// How many calls (of this caller and its clones) wait for a reply that
    /// has not arrived yet.
    pub fn waiting(&self) -> usize {
        self.shared.waiting.len()
    }

    /// Sends `request` to its target and returns at once, before the reply:
    /// wait for it with [`PendingReply::wait`], which gives up `timeout`
    /// (the command's own when `None`) after this call started. A reply
    /// that arrives in between is kept.
    pub async fn send<C: Command>(
        &self,
        request: &C,
        timeout: Option<Duration>,
    ) -> Result<PendingReply<C::Response>, CommandError> {
        let after = timeout.unwrap_or(C::TIMEOUT);
        let now = Instant::now();
        let deadline = now.checked_add(after).unwrap_or_else(|| now + FAR_FUTURE);
        let id = Uuid::now_v7();
        let mut envelope = self.envelope::<C>(id, request)?;
        let stream = self.shared.keys.commands(C::TARGET);
        let span = tracing::info_span!(
            "command",
            command = C::NAME,
            target = C::TARGET,
            stream = %stream,
            request_id = %id,
            correlation_id = %envelope.correlation_id,
            traceparent = tracing::field::Empty,
            entry_id = tracing::field::Empty,
            outcome = tracing::field::Empty,
            reply_traceparent = tracing::field::Empty,
        );
        // The request carries this span (feature `otel`): the server's handling is its child.
        trace::continue_trace(&span, envelope.traceparent.as_deref(), envelope.tracestate.as_deref());
        (envelope.traceparent, envelope.tracestate) =
            trace::span_or(&span, (envelope.traceparent.take(), envelope.tracestate.take()));
        if let Some(traceparent) = &envelope.traceparent {
            span.record("traceparent", traceparent.as_str());
        }
        let pending = PendingReply {
            reply: self.shared.waiting.register(id),
            registered: Registered {
                caller: self.clone(),
                id,
            },
            deadline,
            after,
            command: C::NAME,
            target: C::TARGET,
            span: span.clone(),
            _response: PhantomData,
        };
        let sent = self.add(&stream, &envelope, after).instrument(span.clone()).await;
        match sent {
            Ok(entry_id) => {
                span.record("entry_id", entry_id.as_str());
                Ok(pending)
            }
            Err(reason) => {
                span.record("outcome", "transport");
                Err(CommandError::Transport {
                    command: C::NAME,
                    reason: format!("cannot send the request to `{stream}`: {reason}"),
                })
            }
        }
    }

    fn envelope<C: Command>(&self, id: Uuid, request: &C) -> Result<Envelope, CommandError> {
        let data = serde_json::to_string(request).map_err(|error| CommandError::Transport {
            command: C::NAME,
            reason: format!("cannot encode the request as JSON: {error}"),
        })?;
        let context = &self.context;
        Ok(Envelope {
            id,
            event_type: C::NAME.to_owned(),
            version: C::VERSION,
            source: self.shared.source.clone(),
            time: Utc::now().trunc_subsecs(6),
            subject: id.to_string(),
            correlation_id: context.correlation_id.clone().unwrap_or_else(|| id.to_string()),
            causation_id: context.causation_id.clone(),
            traceparent: context.traceparent.clone(),
            tracestate: context.tracestate.clone(),
            data,
        })
    }

    /// Adds the request to `stream` (trimmed by length and age as the
    /// publisher trims an event stream: see `crate::trim`) in one round
    /// trip; returns its entry id.
    async fn add(&self, stream: &str, envelope: &Envelope, after: Duration) -> Result<String, String> {
        let shared = &*self.shared;
        let mut pipe = redis::pipe();
        let add = pipe
            .cmd("XADD")
            .arg(stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(shared.policy.max_len)
            .arg("*");
        envelope.visit_fields(|name, value| {
            add.arg(name).arg(value);
        });
        add.arg(field::REPLY_TO).arg(&shared.reply_stream);
        let deadline = TimeDelta::from_std(after)
            .ok()
            .and_then(|after| Utc::now().checked_add_signed(after));
        if let Some(deadline) = deadline {
            add.arg(field::DEADLINE)
                .arg(deadline.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
        for (stream, min_id) in shared.age_trims.due([(stream, shared.policy.retention)]) {
            pipe.cmd("XTRIM").arg(stream).arg("MINID").arg("~").arg(min_id).ignore();
        }
        let mut connection = shared.connection.clone();
        let reply: Vec<Value> = bounded(shared.limit.min(after), pipe.query_async(&mut connection))
            .await
            .map_err(|error| error.to_string())?;
        match reply.into_iter().next() {
            Some(Value::BulkString(id)) => {
                String::from_utf8(id).map_err(|_| "Redis answered a non-UTF-8 entry id".into())
            }
            Some(Value::SimpleString(id)) => Ok(id),
            other => Err(format!("Redis answered {other:?} instead of an entry id")),
        }
    }
}

impl CommandCaller for Caller {
    async fn call<C: Command>(&self, request: &C, timeout: Option<Duration>) -> Result<C::Response, CommandError> {
        self.send(request, timeout).await?.wait().await
    }
}

/// A sent request whose reply has not been taken yet; see [`Caller::send`].
/// Dropping it abandons the call: its reply, if any comes, is dropped.
#[must_use = "the reply is only received by waiting for it"]
pub struct PendingReply<R> {
    reply: oneshot::Receiver<Reply>,
    registered: Registered,
    deadline: Instant,
    after: Duration,
    command: &'static str,
    target: &'static str,
    span: tracing::Span,
    _response: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for PendingReply<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingReply")
            .field("command", &self.command)
            .field("target", &self.target)
            .field("request_id", &self.registered.id)
            .finish_non_exhaustive()
    }
}

impl<R: DeserializeOwned> PendingReply<R> {
    /// The id of the request, as sent in its envelope's `id`.
    pub fn request_id(&self) -> Uuid {
        self.registered.id
    }

    /// Waits for the reply until the call's deadline: the response, the
    /// handler's error ([`CommandError::Failed`]) or, with no reply in
    /// time, [`CommandError::Timeout`]. The call's span records the
    /// reply's `traceparent` as `reply_traceparent`.
    pub async fn wait(mut self) -> Result<R, CommandError> {
        let span = self.span.clone();
        let (command, target) = (self.command, self.target);
        let received = tokio::time::timeout_at(self.deadline, &mut self.reply)
            .instrument(span.clone())
            .await;
        let (outcome, result) = match received {
            Err(_) => {
                span.in_scope(|| tracing::debug!(after = ?self.after, "no reply in time"));
                let timeout = CommandError::Timeout {
                    command,
                    target,
                    after: self.after,
                };
                ("timeout", Err(timeout))
            }
            Ok(Err(_)) => ("transport", Err(transport(command, "the reply reader stopped".into()))),
            Ok(Ok(reply)) => {
                if let Some(traceparent) = &reply.traceparent {
                    span.record("reply_traceparent", traceparent.as_str());
                }
                match reply.answer {
                    Answer::Response(data) => match serde_json::from_str(&data) {
                        Ok(response) => ("ok", Ok(response)),
                        Err(error) => (
                            "transport",
                            Err(transport(command, format!("cannot decode the response: {error}"))),
                        ),
                    },
                    Answer::Failed(reason) => (
                        "failed",
                        Err(CommandError::Failed {
                            command,
                            target,
                            reason,
                        }),
                    ),
                    Answer::Malformed(reason) => ("transport", Err(transport(command, reason))),
                }
            }
        };
        span.record("outcome", outcome);
        result
    }
}

fn transport(command: &'static str, reason: String) -> CommandError {
    CommandError::Transport { command, reason }
}

/// A call registered with its caller's reply reader; forgotten when dropped.
struct Registered {
    caller: Caller,
    id: Uuid,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.caller.shared.waiting.forget(&self.id);
    }
}
